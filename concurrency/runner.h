// concurrency/runner.h: runs one body per CPU at once, each thread pinned to
// its CPU, released together by a barrier; plus the knobs every concurrent
// test reads (how many ops, how many histories).
//
// Invariant: a body runs only on the CPU it was given (sched_setaffinity
// succeeded before it started), so "the current CPU" inside a body is that
// CPU for the kernel's BPF_PROG_TEST_RUN and for the impl's helper face.
#ifndef AMC_CONCURRENCY_RUNNER_H_
#define AMC_CONCURRENCY_RUNNER_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace amc::concurrency {

// The online CPUs this process may run on (sched_getaffinity), ascending.
std::vector<uint32_t> UsableCpus();

// Runs body(index, cpu) for every cpu of `cpus` on its own thread pinned to
// that CPU; all bodies start after every thread is pinned. Returns 0, or the
// errno of the first pin that failed (then no body runs).
int RunPinned(const std::vector<uint32_t>& cpus,
              const std::function<void(size_t index, uint32_t cpu)>& body);

// An unsigned count from the environment variable `name`, else `fallback`
// (invalid or zero values fall back too).
uint64_t EnvCount(const char* name, uint64_t fallback);

// Monotonic nanoseconds (CLOCK_MONOTONIC).
uint64_t MonotonicNs();

// The times that bracket one op of a history, fenced so that real-time order
// between them implies memory order. Without fences a clock read does not
// wait for the store buffer: an op's relaxed store could become visible to
// other CPUs after its return time, and an op's load could be served before
// its invoke time, and the checker would then see an effect outside its
// op's interval (it did: a PERCPU syscall update's store to CPU 1's slot
// landed after a later-stamped atomic add on CPU 1). A program that learns
// one op finished and then starts another synchronizes through memory,
// which is what these fences stand for.
//   InvokeNs: the clock, then a full fence (and LFENCE on x86-64, so no
//   later load starts before the clock is read).
//   ReturnNs: a full fence (every store of the op is globally visible),
//   then the clock.
uint64_t InvokeNs();
uint64_t ReturnNs();

}  // namespace amc::concurrency

#endif  // AMC_CONCURRENCY_RUNNER_H_
