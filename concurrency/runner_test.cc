#include "concurrency/runner.h"

#include <gtest/gtest.h>
#include <sched.h>
#include <stdlib.h>

#include <atomic>
#include <vector>

namespace amc::concurrency {
namespace {

TEST(RunnerTest, EachBodyRunsOnlyOnTheCpuItWasGiven) {
  std::vector<uint32_t> cpus = UsableCpus();
  ASSERT_FALSE(cpus.empty());
  std::vector<int> seen(cpus.size(), -1);
  std::vector<int> allowed(cpus.size(), 0);
  ASSERT_EQ(RunPinned(cpus,
                      [&](size_t index, uint32_t cpu) {
                        EXPECT_EQ(cpus[index], cpu);
                        seen[index] = sched_getcpu();
                        cpu_set_t set;
                        CPU_ZERO(&set);
                        sched_getaffinity(0, sizeof set, &set);
                        allowed[index] = CPU_COUNT(&set);
                      }),
            0);
  for (size_t i = 0; i < cpus.size(); ++i) {
    EXPECT_EQ(seen[i], static_cast<int>(cpus[i]));
    EXPECT_EQ(allowed[i], 1);
  }
}

TEST(RunnerTest, AFailedPinRunsNoBodyAndReturnsItsErrno) {
  std::atomic<int> ran{0};
  EXPECT_EQ(RunPinned({0, CPU_SETSIZE - 1}, [&](size_t, uint32_t) { ++ran; }),
            EINVAL);
  EXPECT_EQ(ran.load(), 0);
}

TEST(RunnerTest, EnvCountReadsAPositiveNumberElseTheFallback) {
  setenv("AMC_RUNNER_TEST_COUNT", "123", 1);
  EXPECT_EQ(EnvCount("AMC_RUNNER_TEST_COUNT", 7), 123u);
  setenv("AMC_RUNNER_TEST_COUNT", "12x", 1);
  EXPECT_EQ(EnvCount("AMC_RUNNER_TEST_COUNT", 7), 7u);
  setenv("AMC_RUNNER_TEST_COUNT", "0", 1);
  EXPECT_EQ(EnvCount("AMC_RUNNER_TEST_COUNT", 7), 7u);
  unsetenv("AMC_RUNNER_TEST_COUNT");
  EXPECT_EQ(EnvCount("AMC_RUNNER_TEST_COUNT", 7), 7u);
}

TEST(RunnerTest, FencedStampsNeverGoBackwards) {
  uint64_t a = InvokeNs();
  uint64_t b = ReturnNs();
  uint64_t c = InvokeNs();
  EXPECT_LE(a, b);
  EXPECT_LE(b, c);
}

}  // namespace
}  // namespace amc::concurrency
