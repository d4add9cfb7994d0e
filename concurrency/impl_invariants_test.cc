// The concurrent invariants on the impl (amc/array_map.h): threads pinned one
// per CPU run the helper face (what a BPF program calls) and the syscall
// face on one map at once. AMC_CONCURRENCY_OPS sets the ops per run (default
// 2^20). Meant for the TSan preset too: every access is also a race check.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <vector>

#include "amc/array_map.h"
#include "concurrency/runner.h"
#include "concurrency/values.h"

namespace amc::concurrency {
namespace {

using impl::ArrayMap;
using impl::MapType;

double Seconds(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() -
                                       since)
      .count();
}

std::unique_ptr<ArrayMap> Make(MapType type, uint32_t value_size,
                               uint32_t max_entries,
                               int64_t spin_lock_offset = -1) {
  impl::MapAttr attr;
  attr.type = type;
  attr.value_size = value_size;
  attr.max_entries = max_entries;
  attr.spin_lock_offset = spin_lock_offset;
  std::unique_ptr<ArrayMap> map;
  EXPECT_EQ(ArrayMap::Create(attr, impl::Options{}, &map), 0);
  return map;
}

class ImplInvariantsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    cpus_ = UsableCpus();
    ASSERT_FALSE(cpus_.empty());
    total_ops_ = EnvCount("AMC_CONCURRENCY_OPS", uint64_t{1} << 20);
    per_thread_ = total_ops_ / cpus_.size();
  }
  std::vector<uint32_t> cpus_;
  uint64_t total_ops_ = 0;
  uint64_t per_thread_ = 0;
};

TEST_F(ImplInvariantsTest,
       ConcurrentAtomicAddsOnOneArrayElementSumExactlyAndHandOutEachOldOnce) {
  auto map = Make(MapType::kArray, 16, 4);
  ASSERT_TRUE(map);
  std::vector<std::vector<uint64_t>> olds(cpus_.size());
  std::atomic<uint64_t> failures{0};
  auto start = std::chrono::steady_clock::now();
  ASSERT_EQ(RunPinned(cpus_,
                      [&](size_t index, uint32_t) {
                        auto& mine = olds[index];
                        mine.reserve(per_thread_);
                        for (uint64_t i = 0; i < per_thread_; ++i) {
                          uint64_t old = 0;
                          if (!map->AtomicAdd(1, 8, 1, &old)) {
                            failures.fetch_add(1, std::memory_order_relaxed);
                            continue;
                          }
                          mine.push_back(old);
                        }
                      }),
            0);
  double seconds = Seconds(start);
  ASSERT_EQ(failures.load(), 0u);
  const uint64_t total = per_thread_ * cpus_.size();
  std::vector<bool> seen(total, false);
  for (const auto& mine : olds) {
    for (size_t i = 0; i < mine.size(); ++i) {
      ASSERT_LT(mine[i], total);
      ASSERT_FALSE(seen[mine[i]]) << "old value " << mine[i] << " twice";
      seen[mine[i]] = true;
      if (i > 0) {
        ASSERT_LT(mine[i - 1], mine[i]);
      }
    }
  }
  for (uint32_t key = 0; key < 4; ++key) {
    uint64_t value[2] = {};
    ASSERT_EQ(map->fd().Lookup(key, value), 0);
    EXPECT_EQ(value[0], 0u) << "key " << key;
    EXPECT_EQ(value[1], key == 1 ? total : 0) << "key " << key;
  }
  std::printf("impl: %llu concurrent atomic adds on %zu CPUs in %.3f s\n",
              static_cast<unsigned long long>(total), cpus_.size(), seconds);
}

TEST_F(ImplInvariantsTest,
       EachCpusSlotOfAPercpuElementHoldsExactlyThatCpusAdds) {
  auto map = Make(MapType::kPercpuArray, 8, 2);
  ASSERT_TRUE(map);
  std::atomic<uint64_t> wrong{0};
  auto start = std::chrono::steady_clock::now();
  ASSERT_EQ(RunPinned(cpus_,
                      [&](size_t, uint32_t cpu) {
                        const uint64_t delta = cpu + 1;
                        for (uint64_t i = 0; i < per_thread_; ++i) {
                          uint64_t old = 0;
                          // The current-CPU add of a pinned thread: nobody
                          // else writes this slot, so old is exactly our own
                          // adds so far.
                          if (!map->AtomicAdd(1, 0, delta, &old) ||
                              old != i * delta) {
                            wrong.fetch_add(1, std::memory_order_relaxed);
                          }
                        }
                      }),
            0);
  double seconds = Seconds(start);
  EXPECT_EQ(wrong.load(), 0u);
  const uint32_t possible = map->possible_cpus();
  for (uint32_t key = 0; key < 2; ++key) {
    std::vector<uint64_t> slots(possible);
    ASSERT_EQ(map->fd().Lookup(key, slots.data()), 0);
    for (uint32_t cpu = 0; cpu < possible; ++cpu) {
      bool used = false;
      for (uint32_t c : cpus_) used |= c == cpu;
      EXPECT_EQ(slots[cpu], key == 1 && used ? per_thread_ * (cpu + 1) : 0)
          << "key " << key << " cpu " << cpu;
    }
  }
  std::printf("impl: %llu concurrent per-CPU adds on %zu CPUs in %.3f s\n",
              static_cast<unsigned long long>(per_thread_ * cpus_.size()),
              cpus_.size(), seconds);
}

// Value: a bpf_spin_lock in word 0, words 1..7 self-checking. Writers use
// the syscall face (MapFd::Update) and the helper face (UpdateElem, what a
// program's bpf_map_update_elem does) with BPF_F_LOCK; readers
// MapFd::Lookup with BPF_F_LOCK.
TEST_F(ImplInvariantsTest, LockedReadersNeverSeeATornValue) {
  constexpr uint32_t kWords = 8;
  auto map = Make(MapType::kArray, kWords * 8, 1, /*spin_lock_offset=*/0);
  ASSERT_TRUE(map);
  uint8_t initial[kWords * 8] = {};
  FillValue(initial, kWords, 1, 0);
  ASSERT_EQ(map->fd().Update(0, initial, impl::kFLock), 0);
  const size_t n = cpus_.size();
  std::atomic<uint64_t> failures{0}, torn{0}, reads{0};
  auto start = std::chrono::steady_clock::now();
  ASSERT_EQ(RunPinned(cpus_,
                      [&](size_t index, uint32_t) {
                        impl::MapFd fd = map->fd();
                        uint8_t value[kWords * 8] = {};
                        uint64_t my_reads = 0, my_torn = 0;
                        uint32_t gen = static_cast<uint32_t>(index) + 1;
                        for (uint64_t i = 0; i < per_thread_; ++i) {
                          if (i % 2 == 0) {
                            FillValue(value, kWords, 1, gen);
                            gen += static_cast<uint32_t>(n);
                            bool ok = i % 4 == 0
                                          ? map->UpdateElem(0, value,
                                                            impl::kFLock) == 0
                                          : fd.Update(0, value,
                                                      impl::kFLock) == 0;
                            if (!ok) {
                              failures.fetch_add(1,
                                                 std::memory_order_relaxed);
                            }
                            continue;
                          }
                          if (fd.Lookup(0, value, impl::kFLock) != 0) {
                            failures.fetch_add(1, std::memory_order_relaxed);
                            continue;
                          }
                          ++my_reads;
                          if (!CheckValue(value, kWords, 1).whole) ++my_torn;
                        }
                        reads.fetch_add(my_reads);
                        torn.fetch_add(my_torn);
                      }),
            0);
  double seconds = Seconds(start);
  EXPECT_EQ(failures.load(), 0u);
  EXPECT_EQ(torn.load(), 0u) << "of " << reads.load() << " locked reads";
  std::printf("impl: %llu locked ops (%llu locked reads), %llu torn, in %.3f s\n",
              static_cast<unsigned long long>(per_thread_ * n),
              static_cast<unsigned long long>(reads.load()),
              static_cast<unsigned long long>(torn.load()), seconds);
}

// The impl's documented guarantee without BPF_F_LOCK: a wide value may mix
// words of different updates, but every word is some writer's whole word.
// Thread 0 writes (syscall and helper face); the others read (syscall face,
// and through the helper's pointer with atomic word loads).
TEST_F(ImplInvariantsTest, UnlockedWideValuesTearOnlyAtWordBoundaries) {
  constexpr uint32_t kWords = 32;
  auto map = Make(MapType::kArray, kWords * 8, 1);
  ASSERT_TRUE(map);
  std::vector<uint8_t> initial(kWords * 8);
  FillValue(initial.data(), kWords, 0, 0);
  ASSERT_EQ(map->fd().Update(0, initial.data()), 0);
  const size_t n = cpus_.size();
  std::atomic<uint64_t> failures{0}, torn{0}, word_torn{0}, reads{0};
  auto start = std::chrono::steady_clock::now();
  ASSERT_EQ(
      RunPinned(cpus_,
                [&](size_t index, uint32_t) {
                  impl::MapFd fd = map->fd();
                  std::vector<uint8_t> value(kWords * 8);
                  const bool writer = index == 0;
                  const bool reader = n == 1 || index != 0;
                  uint32_t gen = 1;
                  uint64_t my_reads = 0, my_torn = 0, my_word_torn = 0;
                  for (uint64_t i = 0; i < per_thread_; ++i) {
                    if (writer && (!reader || i % 2 == 0)) {
                      FillValue(value.data(), kWords, 0, gen++);
                      bool ok = i % 4 == 0
                                    ? map->UpdateElem(0, value.data()) == 0
                                    : fd.Update(0, value.data()) == 0;
                      if (!ok) {
                        failures.fetch_add(1, std::memory_order_relaxed);
                      }
                      continue;
                    }
                    if (i % 2 == 0) {
                      impl::AtomicLoadBytes(value.data(), map->Lookup(0),
                                            value.size());
                    } else if (fd.Lookup(0, value.data()) != 0) {
                      failures.fetch_add(1, std::memory_order_relaxed);
                      continue;
                    }
                    ++my_reads;
                    ValueCheck c = CheckValue(value.data(), kWords, 0);
                    if (!c.whole) ++my_torn;
                    if (c.word_torn) ++my_word_torn;
                  }
                  reads.fetch_add(my_reads);
                  torn.fetch_add(my_torn);
                  word_torn.fetch_add(my_word_torn);
                }),
      0);
  double seconds = Seconds(start);
  EXPECT_EQ(failures.load(), 0u);
  EXPECT_GT(reads.load(), 0u);
  EXPECT_EQ(word_torn.load(), 0u) << "a word torn inside itself";
  std::vector<uint8_t> last(kWords * 8);
  ASSERT_EQ(map->fd().Lookup(0, last.data()), 0);
  EXPECT_TRUE(CheckValue(last.data(), kWords, 0).whole);
  std::printf(
      "impl: value_size %u without BPF_F_LOCK: %llu of %llu reads mixed "
      "whole words of several updates (%.4f%%), 0 torn words, %llu ops in "
      "%.3f s\n",
      kWords * 8, static_cast<unsigned long long>(torn.load()),
      static_cast<unsigned long long>(reads.load()),
      reads.load() ? 100.0 * torn.load() / reads.load() : 0.0,
      static_cast<unsigned long long>(per_thread_ * n), seconds);
}

}  // namespace
}  // namespace amc::concurrency
