// The element's bpf_spin_lock: BPF_F_LOCK copies on the syscall face, the
// helper face's locked update and SpinLock / SpinUnlock. Built into
// array_map_concurrency_test (label `concurrency`), so the TSan stage runs
// the threaded ones: a data race is a TSan report, and self-checking values
// catch a BPF_F_LOCK copy that mixes two locked writes.
#include <gtest/gtest.h>

#include <atomic>
#include <cstring>
#include <memory>
#include <thread>
#include <vector>

#include "amc/array_map.h"

namespace amc::impl {
namespace {

std::unique_ptr<ArrayMap> MakeLocked(uint32_t value_size, uint32_t lock_offset,
                                     uint32_t max_entries = 2) {
  MapAttr a;
  a.value_size = value_size;
  a.max_entries = max_entries;
  a.spin_lock_offset = lock_offset;
  Options o;
  o.possible_cpus = 2;
  std::unique_ptr<ArrayMap> map;
  EXPECT_EQ(ArrayMap::Create(a, o, &map), 0);
  return map;
}

// The raw lock word of element `key` (what no copy out shows).
uint32_t RawLockWord(const ArrayMap& map, uint32_t key) {
  uint8_t bytes[4];
  AtomicLoadBytes(bytes, static_cast<uint8_t*>(map.LookupOnCpu(key, 0)) +
                             map.attr().spin_lock_offset,
                  4);
  uint32_t w;
  std::memcpy(&w, bytes, 4);
  return w;
}

std::vector<uint8_t> Filled(size_t n, uint8_t b) {
  return std::vector<uint8_t>(n, b);
}

// What a copy out shows for `v`: the lock word as zero.
std::vector<uint8_t> WithZeroLock(std::vector<uint8_t> v, uint32_t offset) {
  std::memset(v.data() + offset, 0, 4);
  return v;
}

TEST(ArrayMapLockTest, LockedCopiesLeaveTheLockFreeAndShowItAsZero) {
  auto map = MakeLocked(20, 12);
  MapFd fd = map->fd();
  auto v = Filled(20, 0xab);
  ASSERT_EQ(fd.Update(0, v.data(), kFLock), 0);
  EXPECT_EQ(RawLockWord(*map, 0), 0u);  // released, and the 0xab not stored
  std::vector<uint8_t> out(20, 0x55);
  ASSERT_EQ(fd.Lookup(0, out.data(), kFLock), 0);
  EXPECT_EQ(out, WithZeroLock(v, 12));
  EXPECT_EQ(RawLockWord(*map, 0), 0u);
  // BPF_F_LOCK with BPF_EXIST is a locked update too; BPF_NOEXIST is EEXIST.
  auto w = Filled(20, 0x11);
  ASSERT_EQ(fd.Update(0, w.data(), kFLock | kExist), 0);
  EXPECT_EQ(fd.Update(0, v.data(), kFLock | kNoexist), EEXIST);
  ASSERT_EQ(fd.Lookup(0, out.data(), kFLock), 0);
  EXPECT_EQ(out, WithZeroLock(w, 12));
  // The helper face's locked update.
  auto p = Filled(20, 0x22);
  ASSERT_EQ(map->UpdateElem(1, p.data(), kFLock), 0);
  EXPECT_EQ(RawLockWord(*map, 1), 0u);
  ASSERT_EQ(fd.Lookup(1, out.data(), 0), 0);
  EXPECT_EQ(out, WithZeroLock(p, 12));
}

TEST(ArrayMapLockTest, BatchesWithBpfFLockCopyEachElementUnderItsLock) {
  auto map = MakeLocked(12, 0, 3);
  MapFd fd = map->fd();
  uint32_t keys[3] = {0, 1, 2};
  std::vector<uint8_t> in(36);
  for (size_t i = 0; i < in.size(); ++i) in[i] = static_cast<uint8_t>(i + 1);
  uint32_t count = 3;
  ASSERT_EQ(fd.UpdateBatch(keys, in.data(), &count, kFLock), 0);
  EXPECT_EQ(count, 3u);
  std::vector<uint8_t> out(36, 0xee);
  uint32_t got[3] = {}, out_batch = 0;
  count = 3;
  ASSERT_EQ(fd.LookupBatch(nullptr, &out_batch, got, out.data(), &count,
                           kFLock),
            0);
  EXPECT_EQ(count, 3u);
  for (uint32_t k = 0; k < 3; ++k) {
    EXPECT_EQ(RawLockWord(*map, k), 0u);
    std::vector<uint8_t> want(in.begin() + 12 * k, in.begin() + 12 * k + 12);
    EXPECT_EQ(std::vector<uint8_t>(out.begin() + 12 * k,
                                   out.begin() + 12 * k + 12),
              WithZeroLock(want, 0));
  }
}

TEST(ArrayMapLockTest, SpinLockHoldsOffLockedCopiesUntilSpinUnlock) {
  auto map = MakeLocked(16, 4, 1);
  MapFd fd = map->fd();
  void* elem = map->Lookup(0);
  map->SpinLock(elem);
  EXPECT_NE(RawLockWord(*map, 0), 0u);
  // Unlocked writes still go through (the kernel's copy_map_value ignores
  // the lock) and keep the held lock word intact.
  auto u = Filled(16, 0x33);
  ASSERT_EQ(fd.Update(0, u.data(), 0), 0);
  EXPECT_NE(RawLockWord(*map, 0), 0u);
  std::atomic<bool> done{false};
  std::thread writer([&] {
    auto v = Filled(16, 0x44);
    EXPECT_EQ(fd.Update(0, v.data(), kFLock), 0);
    done.store(true);
  });
  // Whatever the writer got to, its locked copy cannot have landed yet.
  for (int i = 0; i < 1000; ++i) std::this_thread::yield();
  std::vector<uint8_t> out(16);
  ASSERT_EQ(fd.Lookup(0, out.data(), 0), 0);
  EXPECT_EQ(out, WithZeroLock(u, 4));
  EXPECT_FALSE(done.load());
  map->SpinUnlock(elem);
  writer.join();
  ASSERT_EQ(fd.Lookup(0, out.data(), kFLock), 0);
  EXPECT_EQ(out, WithZeroLock(Filled(16, 0x44), 4));
  EXPECT_EQ(RawLockWord(*map, 0), 0u);
}

// Two writers store values whose every word is the same stamp (their own
// id and a counter) under the element's lock, by each locked path; a
// BPF_F_LOCK reader (single lookups and batches) must see one stamp in
// every word of the value, never two.
enum class WritePath { kSyscall, kUpdateElem, kSpinLockHelper };

void RunLockedWritersAndCheckingReader(WritePath path) {
  constexpr uint32_t kValueSize = 72;  // 9 words; the lock in word 4
  constexpr uint32_t kLockOffset = 36;  // the high half of word 4
  constexpr int kWrites = 20000;
  auto map = MakeLocked(kValueSize, kLockOffset, 2);
  MapFd fd = map->fd();
  auto stamp_value = [](uint32_t stamp) {
    std::vector<uint8_t> v(kValueSize);
    for (uint32_t at = 0; at < kValueSize; at += 4) std::memcpy(&v[at], &stamp, 4);
    return v;
  };
  auto write = [&](uint32_t key, uint32_t stamp) {
    auto v = stamp_value(stamp);
    switch (path) {
      case WritePath::kSyscall:
        ASSERT_EQ(fd.Update(key, v.data(), kFLock), 0);
        break;
      case WritePath::kUpdateElem:
        ASSERT_EQ(map->UpdateElem(key, v.data(), kFLock), 0);
        break;
      case WritePath::kSpinLockHelper: {
        // A program's own critical section: the words around the lock
        // stored one by one while holding it.
        auto* elem = static_cast<uint8_t*>(map->Lookup(key));
        map->SpinLock(elem);
        AtomicStoreBytes(elem, v.data(), kLockOffset);
        AtomicStoreBytes(elem + kLockOffset + 4, v.data() + kLockOffset + 4,
                         kValueSize - kLockOffset - 4);
        map->SpinUnlock(elem);
        break;
      }
    }
  };
  auto whole = [&](const uint8_t* v) {
    uint32_t first;
    std::memcpy(&first, v, 4);
    for (uint32_t at = 0; at < kValueSize; at += 4) {
      uint32_t w;
      std::memcpy(&w, v + at, 4);
      if (at == kLockOffset) {
        if (w != 0) return false;  // the lock reads as zero
      } else if (w != first) {
        return false;
      }
    }
    return true;
  };
  for (uint32_t key = 0; key < 2; ++key) write(key, 0);
  std::atomic<int> writers_left{2};
  std::vector<std::thread> threads;
  for (uint32_t id = 1; id <= 2; ++id) {
    threads.emplace_back([&, id] {
      for (uint32_t i = 0; i < kWrites; ++i) write(i % 2, (id << 24) | i);
      writers_left.fetch_sub(1);
    });
  }
  int mixed = 0, reads = 0;
  std::vector<uint8_t> out(kValueSize), batch(2 * kValueSize);
  while (writers_left.load() > 0 || reads < 1000) {
    ASSERT_EQ(fd.Lookup(reads % 2, out.data(), kFLock), 0);
    if (!whole(out.data())) ++mixed;
    uint32_t keys[2], out_batch, count = 2;
    ASSERT_EQ(fd.LookupBatch(nullptr, &out_batch, keys, batch.data(), &count,
                             kFLock),
              0);
    if (!whole(batch.data()) || !whole(batch.data() + kValueSize)) ++mixed;
    ++reads;
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(mixed, 0) << "of " << reads << " locked reads";
  for (uint32_t key = 0; key < 2; ++key) EXPECT_EQ(RawLockWord(*map, key), 0u);
}

TEST(ArrayMapLockTest, LockedReaderNeverSeesAMixOfTwoLockedSyscallWriters) {
  RunLockedWritersAndCheckingReader(WritePath::kSyscall);
}

TEST(ArrayMapLockTest, LockedReaderNeverSeesAMixOfTwoLockedHelperUpdates) {
  RunLockedWritersAndCheckingReader(WritePath::kUpdateElem);
}

TEST(ArrayMapLockTest, LockedReaderNeverSeesAMixOfTwoSpinLockedPrograms) {
  RunLockedWritersAndCheckingReader(WritePath::kSpinLockHelper);
}

}  // namespace
}  // namespace amc::impl
