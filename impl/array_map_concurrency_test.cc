// Concurrency tests, meant for the TSan preset (ctest -L concurrency): any
// data race in the map is a TSan report, and self-checking values detect any
// tear the map claims cannot happen (a torn 8-byte word, or a word mixed
// from two writes).
#include <gtest/gtest.h>
#include <pthread.h>
#include <sched.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <memory>
#include <thread>
#include <vector>

#include "amc/array_map.h"
#include "impl/array_map_test_util.h"

namespace amc::impl {
namespace {

using test_util::Make;

// A word that checks itself: the high half is the low half's complement.
uint64_t SelfChecking(uint32_t n) {
  return (static_cast<uint64_t>(~n) << 32) | n;
}
bool IsSelfChecking(uint64_t w) {
  return static_cast<uint32_t>(w >> 32) == static_cast<uint32_t>(~w);
}

constexpr int kThreads = 4;
constexpr int kIterations = 20000;

TEST(ArrayMapConcurrencyTest, ConcurrentAtomicAddsOnOneSlotLoseNothing) {
  auto map = Make(MapType::kArray, 16, 1);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kIterations; ++i) ASSERT_TRUE(map->AtomicAdd(0, 8, 3));
    });
  }
  for (auto& t : threads) t.join();
  uint64_t v[2];
  ASSERT_EQ(map->fd().Lookup(0, v), 0);
  EXPECT_EQ(v[0], 0u);
  EXPECT_EQ(v[1], uint64_t{3} * kThreads * kIterations);
}

TEST(ArrayMapConcurrencyTest, PercpuCurrentCpuAddsSumExactlyDespiteMigration) {
  // More threads than CPUs, none pinned: they migrate and share CPUs, and
  // the sum over every CPU's slot must still be exact.
  auto map = Make(MapType::kPercpuArray, 8, 3, 0, 2);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kIterations; ++i) {
        ASSERT_TRUE(map->AtomicAdd(1, 0, 1));
        if (i % 1000 == 0) sched_yield();
      }
    });
  }
  for (auto& t : threads) t.join();
  uint64_t per_cpu[2];
  ASSERT_EQ(map->fd().Lookup(1, per_cpu), 0);
  EXPECT_EQ(per_cpu[0] + per_cpu[1], uint64_t{kThreads} * kIterations);
  uint64_t other[2];
  ASSERT_EQ(map->fd().Lookup(0, other), 0);
  EXPECT_EQ(other[0] + other[1], 0u);
}

TEST(ArrayMapConcurrencyTest, PercpuSlotsStayIsolatedUnderExplicitCpuWrites) {
  constexpr uint32_t kCpus = 4;
  auto map = Make(MapType::kPercpuArray, 24, 5, 0, kCpus);
  std::vector<std::thread> threads;
  for (uint32_t cpu = 0; cpu < kCpus; ++cpu) {
    threads.emplace_back([&, cpu] {
      for (int i = 0; i < kIterations; ++i) {
        uint64_t v[3] = {cpu, static_cast<uint64_t>(i), cpu * 1000u};
        ASSERT_EQ(map->UpdateElemOnCpu(static_cast<uint32_t>(i % 5), v, kAny, cpu),
                  0);
        ASSERT_TRUE(map->AtomicAddOnCpu(0, 16, 1, cpu));
      }
    });
  }
  for (auto& t : threads) t.join();
  for (uint32_t key = 0; key < 5; ++key) {
    uint64_t buf[3 * kCpus];
    ASSERT_EQ(map->fd().Lookup(key, buf), 0);
    for (uint32_t cpu = 0; cpu < kCpus; ++cpu) {
      EXPECT_EQ(buf[3 * cpu], cpu);
      if (key != 0) {
        EXPECT_EQ(buf[3 * cpu + 2], cpu * 1000u);
      }
    }
  }
  uint64_t buf[3 * kCpus];
  ASSERT_EQ(map->fd().Lookup(0, buf), 0);
}

TEST(ArrayMapConcurrencyTest, EightByteValuesNeverTearUnderRacingWriters) {
  auto map = Make(MapType::kArray, 8, 4);
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> bad{0};
  std::vector<std::thread> writers;
  for (int t = 0; t < 2; ++t) {
    writers.emplace_back([&, t] {
      uint32_t n = static_cast<uint32_t>(t) << 24;
      uint32_t keys[2] = {0, 1};
      while (!stop.load(std::memory_order_relaxed)) {
        uint64_t v = SelfChecking(++n);
        map->fd().Update(n % 4, &v);
        uint64_t two[2] = {SelfChecking(++n), SelfChecking(++n)};
        uint32_t count = 2;
        map->fd().UpdateBatch(keys, two, &count);
        map->UpdateElem(3, &v);
      }
    });
  }
  for (uint32_t k = 0; k < 4; ++k) {
    uint64_t v = SelfChecking(0);
    ASSERT_EQ(map->fd().Update(k, &v), 0);
  }
  std::thread reader([&] {
    for (int i = 0; i < kIterations; ++i) {
      uint64_t v = SelfChecking(0);
      map->fd().Lookup(static_cast<uint32_t>(i % 4), &v);
      if (!IsSelfChecking(v)) bad.fetch_add(1);
      uint32_t keys[4];
      uint64_t vals[4];
      uint32_t count = 4, out;
      map->fd().LookupBatch(nullptr, &out, keys, vals, &count);
      for (uint32_t j = 0; j < count; ++j) {
        if (!IsSelfChecking(vals[j])) bad.fetch_add(1);
      }
      uint64_t w = std::atomic_ref<uint64_t>(
                       *static_cast<uint64_t*>(map->Lookup(2)))
                       .load(std::memory_order_relaxed);
      if (!IsSelfChecking(w)) bad.fetch_add(1);
    }
    stop = true;
  });
  reader.join();
  for (auto& t : writers) t.join();
  EXPECT_EQ(bad.load(), 0u);
}

TEST(ArrayMapConcurrencyTest, WideValuesTearOnlyAtWordBoundaries) {
  // A 4092-byte value (partial last word): each word self-checks, so a torn
  // word is caught; words from different updates are allowed (documented).
  constexpr uint32_t kValueSize = 4092;
  auto map = Make(MapType::kArray, kValueSize, 2);
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> bad{0};
  // Both writers must have run for the check to mean anything (on a loaded
  // machine a thread may start late).
  std::atomic<uint32_t> updates{0}, pads{0};
  std::thread writer([&] {
    std::vector<uint8_t> value(kValueSize);
    uint32_t n = 0;
    while (!stop.load(std::memory_order_relaxed)) {
      uint64_t w = SelfChecking(++n);
      for (size_t at = 0; at + 8 <= kValueSize; at += 8) {
        std::memcpy(&value[at], &w, 8);
      }
      // The last 4 bytes: a value that is its own check (n's low half).
      std::memcpy(&value[kValueSize - 4], &n, 4);
      map->fd().Update(1, value.data());
      updates.fetch_add(1, std::memory_order_relaxed);
    }
  });
  std::thread padding_writer([&] {
    // Writes the padding bytes (4092..4095) through the pointer: the map's
    // CAS merge of the last word must never overwrite them.
    auto* last = static_cast<uint8_t*>(map->Lookup(1)) + 4088;
    auto word = std::atomic_ref<uint64_t>(*reinterpret_cast<uint64_t*>(last));
    uint32_t n = 0;
    while (!stop.load(std::memory_order_relaxed)) {
      uint64_t old = word.load(std::memory_order_relaxed);
      uint64_t desired;
      do {
        desired = (old & 0xffffffffu) | (uint64_t{++n % 255 + 1} << 32);
      } while (!word.compare_exchange_weak(old, desired,
                                           std::memory_order_relaxed));
      pads.fetch_add(1, std::memory_order_relaxed);
    }
  });
  std::vector<uint8_t> out(kValueSize);
  for (int i = 0; i < 2000 || pads.load() < 100 || updates.load() < 100;
       ++i) {
    ASSERT_EQ(map->fd().Lookup(1, out.data()), 0);
    for (size_t at = 0; at + 8 <= kValueSize; at += 8) {
      uint64_t w;
      std::memcpy(&w, &out[at], 8);
      if (w != 0 && !IsSelfChecking(w)) bad.fetch_add(1);
    }
  }
  stop = true;
  writer.join();
  padding_writer.join();
  EXPECT_EQ(bad.load(), 0u);
  // The padding writer's last byte survived every value update.
  auto* last = static_cast<uint8_t*>(map->Lookup(1)) + 4092;
  uint8_t pad;
  AtomicLoadBytes(&pad, last, 1);
  EXPECT_NE(pad, 0u);
}

TEST(ArrayMapConcurrencyTest, MappingWritersAndSyscallReadersDoNotRace) {
  auto map = Make(MapType::kArray, 8, 512, kFMmapable);
  Mapping m;
  ASSERT_EQ(map->fd().Mmap(0, map->mmap_region_size(), kProtRead | kProtWrite,
                           kMapShared, &m),
            0);
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> bad{0};
  std::thread writer([&] {
    uint32_t n = 0;
    while (!stop.load(std::memory_order_relaxed)) {
      uint64_t v = SelfChecking(++n);
      AtomicStoreBytes(m.addr() + (n % 512) * 8, &v, 8);
    }
  });
  for (int i = 0; i < kIterations; ++i) {
    uint64_t v;
    ASSERT_EQ(map->fd().Lookup(static_cast<uint32_t>(i % 512), &v), 0);
    if (v != 0 && !IsSelfChecking(v)) bad.fetch_add(1);
  }
  stop = true;
  writer.join();
  EXPECT_EQ(bad.load(), 0u);
}

TEST(ArrayMapConcurrencyTest, FreezeAndWritableMmapRacesLeaveOneWinner) {
  for (int round = 0; round < 200; ++round) {
    auto map = Make(MapType::kArray, 8, 16, kFMmapable);
    MapFd fd = map->fd();
    std::atomic<int> go{0};
    int freeze_err = -1, mmap_err = -1;
    Mapping mapping;
    std::thread a([&] {
      go.fetch_add(1);
      while (go.load() < 2) {}
      freeze_err = fd.Freeze();
    });
    std::thread b([&] {
      go.fetch_add(1);
      while (go.load() < 2) {}
      mmap_err = fd.Mmap(0, 4096, kProtRead | kProtWrite, kMapShared, &mapping);
    });
    a.join();
    b.join();
    // Never both: a frozen map with a writable mapping.
    EXPECT_TRUE((freeze_err == 0) != (mmap_err == 0))
        << freeze_err << " " << mmap_err;
    if (freeze_err == 0) {
      EXPECT_EQ(mmap_err, EPERM);
    }
    if (mmap_err == 0) {
      EXPECT_EQ(freeze_err, EBUSY);
    }
  }
}

}  // namespace
}  // namespace amc::impl
