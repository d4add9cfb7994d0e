// The current-CPU add of a PERCPU_ARRAY on both of its paths (Options::
// percpu_add: the atomic RMW and the restartable sequence), under what can
// break a per-CPU add: threads migrating between CPUs while adding (moved by
// sched_setaffinity), preemption (more threads than CPUs) and signal
// handlers that add to the same slot in the middle of an add. Built into
// array_map_concurrency_test (label concurrency), so the TSan stage runs it
// too; TSan builds have no rseq add (the assembly is invisible to TSan) and
// check the atomic path under the kRseq parameter as well.
#include <gtest/gtest.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "amc/array_map.h"

namespace amc::impl {
namespace {

std::vector<int> AllowedCpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  std::vector<int> cpus;
  if (sched_getaffinity(0, sizeof(set), &set) != 0) return cpus;
  for (int c = 0; c < CPU_SETSIZE; ++c) {
    if (CPU_ISSET(c, &set)) cpus.push_back(c);
  }
  return cpus;
}

bool PinTo(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  return sched_setaffinity(0, sizeof(set), &set) == 0;
}

// A PERCPU map with this machine's possible CPUs (the rseq add needs a slot
// per CPU) and the given add path.
std::unique_ptr<ArrayMap> MakeCounter(PercpuAdd add, uint32_t value_size = 16,
                                      uint32_t cpus = 0) {
  MapAttr attr;
  attr.type = MapType::kPercpuArray;
  attr.value_size = value_size;
  attr.max_entries = 3;
  Options options;
  options.possible_cpus = cpus;
  options.percpu_add = add;
  std::unique_ptr<ArrayMap> map;
  EXPECT_EQ(ArrayMap::Create(attr, options, &map), 0);
  return map;
}

// Sum over every CPU's slot of the u64 at `offset` of `key`.
uint64_t SumOverCpus(ArrayMap& map, uint32_t key, uint32_t offset) {
  std::vector<uint64_t> buf(map.value_buffer_size() / 8);
  EXPECT_EQ(map.fd().Lookup(key, buf.data()), 0);
  uint64_t sum = 0;
  for (uint32_t cpu = 0; cpu < map.possible_cpus(); ++cpu) {
    sum += buf[(cpu * map.elem_size() + offset) / 8];
  }
  return sum;
}

bool RseqBuilt() {
#if defined(AMC_IMPL_RSEQ_ADD)
  return true;
#else
  return false;
#endif
}

class PercpuAddTest : public ::testing::TestWithParam<PercpuAdd> {
 protected:
  void SetUp() override {
    map_ = MakeCounter(GetParam());
    ASSERT_NE(map_, nullptr);
    // The path under test is the one taken: kRseq maps use the sequence
    // wherever this build has it, and this thread can register rseq here.
    const bool rseq = GetParam() == PercpuAdd::kRseq && RseqBuilt();
    EXPECT_EQ(map_->rseq_add(), rseq);
    std::printf("path: %s, rseq registration: %s\n",
                map_->rseq_add() ? "rseq" : "atomic", RseqRegistration());
    if (rseq) {
      ASSERT_STRNE(RseqRegistration(), "none")
          << "this kernel refused rseq(2): the rseq path cannot be tested";
    }
  }
  std::unique_ptr<ArrayMap> map_;
};

TEST_P(PercpuAddTest, AddsReturnTheOldValueOfThePinnedCpusSlot) {
  const std::vector<int> allowed = AllowedCpus();
  ASSERT_FALSE(allowed.empty());
  std::thread t([&] {
    for (int cpu : allowed) {
      if (static_cast<uint32_t>(cpu) >= map_->possible_cpus()) continue;
      ASSERT_TRUE(PinTo(cpu));
      uint64_t old = 99;
      ASSERT_TRUE(map_->AtomicAdd(1, 8, 5, &old));
      EXPECT_EQ(old, 0u);
      ASSERT_TRUE(map_->AtomicAdd(1, 8, 7, &old));
      EXPECT_EQ(old, 5u);
      uint64_t slot[2];
      AtomicLoadBytes(slot, map_->LookupOnCpu(1, static_cast<uint32_t>(cpu)),
                      16);
      EXPECT_EQ(slot[0], 0u);  // the neighbouring word is untouched
      EXPECT_EQ(slot[1], 12u);
    }
  });
  t.join();
  EXPECT_EQ(SumOverCpus(*map_, 1, 8), 12u * allowed.size());
  EXPECT_EQ(SumOverCpus(*map_, 0, 8) + SumOverCpus(*map_, 2, 8), 0u);
  // Bad offsets and keys are refused before any path.
  EXPECT_FALSE(map_->AtomicAdd(1, 4, 1));
  EXPECT_FALSE(map_->AtomicAdd(1, 16, 1));
  EXPECT_FALSE(map_->AtomicAdd(3, 0, 1));
}

TEST_P(PercpuAddTest, AddsSumExactlyWhileThreadsHopBetweenCpus) {
  // Every thread moves itself to the next allowed CPU every few adds, and
  // there are more threads than CPUs, so adds run across migrations and
  // preemptions. The CPUs each add ran on are recorded, to show the hops
  // happened.
  const std::vector<int> allowed = AllowedCpus();
  ASSERT_FALSE(allowed.empty());
  constexpr int kThreads = 4;
  constexpr int kAdds = 50000;
  std::atomic<uint64_t> seen_cpus{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      uint64_t seen = 0;
      for (int i = 0; i < kAdds; ++i) {
        if (i % 64 == 0) {
          PinTo(allowed[(static_cast<size_t>(t) + i / 64) % allowed.size()]);
        }
        ASSERT_TRUE(map_->AtomicAdd(2, 0, 1));
        seen |= uint64_t{1} << (RawCurrentCpu() % 64);
      }
      seen_cpus.fetch_or(seen);
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(SumOverCpus(*map_, 2, 0), uint64_t{kThreads} * kAdds);
  EXPECT_EQ(SumOverCpus(*map_, 2, 8), 0u);
  EXPECT_EQ(SumOverCpus(*map_, 1, 0), 0u);
  if (allowed.size() >= 2) {
    EXPECT_GE(__builtin_popcountll(seen_cpus.load()), 2)
        << "the threads never ran on two CPUs: no migration was tested";
  }
}

// The handler's map and count (a signal handler takes no context).
std::atomic<ArrayMap*> handler_map{nullptr};
std::atomic<uint64_t> handler_adds{0};

void AddFromHandler(int) {
  ArrayMap* map = handler_map.load(std::memory_order_relaxed);
  if (map != nullptr && map->AtomicAdd(0, 0, 1)) {
    handler_adds.fetch_add(1, std::memory_order_relaxed);
  }
}

TEST_P(PercpuAddTest, AddsSumExactlyWhenSignalHandlersAddInTheirMiddle) {
  // A handler interrupting an add on the same CPU's slot adds there too: an
  // add that went on after it with the value it loaded before would lose
  // the handler's add. The kernel must restart the interrupted sequence.
  struct sigaction action, previous;
  std::memset(&action, 0, sizeof(action));
  action.sa_handler = AddFromHandler;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;
  ASSERT_EQ(sigaction(SIGUSR1, &action, &previous), 0);
  handler_adds.store(0);
  handler_map.store(map_.get());
  // The workers add until the signaller has had 3000 handler adds land
  // (or 5 s passed), then stop; it signals them only before that, while
  // they surely run.
  constexpr int kWorkers = 2;
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> worker_adds{0};
  std::vector<pthread_t> ids(kWorkers);
  std::vector<std::thread> workers;
  std::atomic<int> started{0};
  for (int w = 0; w < kWorkers; ++w) {
    workers.emplace_back([&, w] {
      ids[w] = pthread_self();
      started.fetch_add(1);
      uint64_t adds = 0;
      while (!stop.load(std::memory_order_relaxed)) {
        for (int i = 0; i < 256; ++i, ++adds) {
          ASSERT_TRUE(map_->AtomicAdd(0, 0, 1));
        }
      }
      worker_adds.fetch_add(adds);
    });
  }
  while (started.load() < kWorkers) std::this_thread::yield();
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::seconds(5);
  for (uint64_t n = 0; handler_adds.load() < 3000 &&
                       std::chrono::steady_clock::now() < deadline;
       ++n) {
    pthread_kill(ids[n % kWorkers], SIGUSR1);
    std::this_thread::sleep_for(std::chrono::microseconds(20));
  }
  stop.store(true);
  for (auto& t : workers) t.join();
  handler_map.store(nullptr);
  ASSERT_EQ(sigaction(SIGUSR1, &previous, nullptr), 0);
  const uint64_t handled = handler_adds.load();
  std::printf("%llu adds from signal handlers\n",
              static_cast<unsigned long long>(handled));
  EXPECT_GT(handled, 0u) << "no signal arrived: nothing was interrupted";
  EXPECT_EQ(SumOverCpus(*map_, 0, 0), worker_adds.load() + handled);
}

INSTANTIATE_TEST_SUITE_P(Paths, PercpuAddTest,
                         ::testing::Values(PercpuAdd::kAtomic,
                                           PercpuAdd::kRseq),
                         [](const auto& info) {
                           return std::string(info.param == PercpuAdd::kRseq
                                                  ? "Rseq"
                                                  : "Atomic");
                         });

TEST(PercpuAddPathTest, RseqIsUsedOnlyWhereEverySlotHasOneCpu) {
  // Fewer possible CPUs than this machine's fold two CPUs onto one slot:
  // that map keeps the atomic add. ARRAY adds are always atomic.
  const uint32_t host = HostPossibleCpus();
  EXPECT_EQ(MakeCounter(PercpuAdd::kRseq, 8, host)->rseq_add(), RseqBuilt());
  EXPECT_EQ(MakeCounter(PercpuAdd::kRseq, 8, host + 3)->rseq_add(),
            RseqBuilt());
  if (host > 1) {
    EXPECT_FALSE(MakeCounter(PercpuAdd::kRseq, 8, host - 1)->rseq_add());
  }
  EXPECT_FALSE(MakeCounter(PercpuAdd::kAtomic, 8, host)->rseq_add());
  MapAttr attr;
  attr.value_size = 8;
  Options options;
  options.percpu_add = PercpuAdd::kRseq;
  std::unique_ptr<ArrayMap> array;
  ASSERT_EQ(ArrayMap::Create(attr, options, &array), 0);
  EXPECT_FALSE(array->rseq_add());
}

TEST(PercpuAddPathTest, FoldedSlotsStayExactOnTheAtomicFallback) {
  // One possible CPU: every CPU of this machine adds to slot 0.
  auto map = MakeCounter(PercpuAdd::kRseq, 8, 1);
  ASSERT_FALSE(map->rseq_add());
  std::vector<std::thread> threads;
  for (int t = 0; t < 3; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 20000; ++i) ASSERT_TRUE(map->AtomicAdd(0, 0, 2));
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(SumOverCpus(*map, 0, 0), 120000u);
}

TEST(PercpuAddPathTest, ThreadsRegisterTheirOwnRseqWhenGlibcDoesNot) {
  // glibc.pthread.rseq=0 makes glibc register no area: the rseq tests
  // above, run again in a child with it, must pass on areas the threads
  // register themselves ("own").
  if (!RseqBuilt()) GTEST_SKIP() << "this build has no rseq add (TSan)";
  if (getenv("AMC_RSEQ_CHILD") != nullptr) GTEST_SKIP() << "in the child";
  char exe[4096];
  const ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
  ASSERT_GT(n, 0);
  exe[n] = '\0';
  const std::string command =
      std::string("AMC_RSEQ_CHILD=1 GLIBC_TUNABLES=glibc.pthread.rseq=0 '") +
      exe + "' --gtest_filter='Paths/PercpuAddTest.*/Rseq' 2>&1";
  FILE* child = popen(command.c_str(), "r");
  ASSERT_NE(child, nullptr);
  std::string out;
  char buf[512];
  while (fgets(buf, sizeof(buf), child) != nullptr) out += buf;
  const int status = pclose(child);
  EXPECT_EQ(status, 0) << out;
  EXPECT_NE(out.find("path: rseq, rseq registration: own"), std::string::npos)
      << out;
  EXPECT_NE(out.find("[  PASSED  ] 3 tests"), std::string::npos) << out;
}

}  // namespace
}  // namespace amc::impl
