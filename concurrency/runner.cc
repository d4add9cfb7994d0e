// concurrency/runner.cc: pinned threads behind one start barrier.
#include "concurrency/runner.h"

#include <sched.h>
#include <time.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <thread>

namespace amc::concurrency {

std::vector<uint32_t> UsableCpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  std::vector<uint32_t> cpus;
  if (sched_getaffinity(0, sizeof set, &set) != 0) return cpus;
  for (uint32_t cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
    if (CPU_ISSET(cpu, &set)) cpus.push_back(cpu);
  }
  return cpus;
}

int RunPinned(const std::vector<uint32_t>& cpus,
              const std::function<void(size_t, uint32_t)>& body) {
  const size_t n = cpus.size();
  // Each thread pins itself, reports, then waits for `go`. Acquire/release
  // on the counters orders the pin results before the go decision.
  std::atomic<size_t> pinned{0};
  std::atomic<int> first_err{0};
  std::atomic<int> go{0};  // 1: run the bodies, -1: a pin failed
  std::vector<std::thread> threads;
  threads.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    threads.emplace_back([&, i] {
      cpu_set_t set;
      CPU_ZERO(&set);
      CPU_SET(cpus[i], &set);
      if (sched_setaffinity(0, sizeof set, &set) != 0) {
        int expected = 0;
        first_err.compare_exchange_strong(expected, errno);
      }
      pinned.fetch_add(1, std::memory_order_acq_rel);
      int g;
      while ((g = go.load(std::memory_order_acquire)) == 0) {
        std::this_thread::yield();
      }
      if (g == 1) body(i, cpus[i]);
    });
  }
  while (pinned.load(std::memory_order_acquire) < n) std::this_thread::yield();
  int err = first_err.load(std::memory_order_acquire);
  go.store(err ? -1 : 1, std::memory_order_release);
  for (auto& t : threads) t.join();
  return err;
}

uint64_t EnvCount(const char* name, uint64_t fallback) {
  const char* text = std::getenv(name);
  if (!text || !*text) return fallback;
  char* end = nullptr;
  unsigned long long v = std::strtoull(text, &end, 10);
  if (*end != '\0' || v == 0) return fallback;
  return v;
}

uint64_t MonotonicNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000u + ts.tv_nsec;
}

uint64_t InvokeNs() {
  uint64_t t = MonotonicNs();
  std::atomic_thread_fence(std::memory_order_seq_cst);
#if defined(__x86_64__)
  __builtin_ia32_lfence();
#endif
  return t;
}

uint64_t ReturnNs() {
  std::atomic_thread_fence(std::memory_order_seq_cst);
#if defined(__x86_64__)
  __builtin_ia32_lfence();
#endif
  return MonotonicNs();
}

}  // namespace amc::concurrency
