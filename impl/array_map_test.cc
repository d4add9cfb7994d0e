#include "amc/array_map.h"
#include "impl/array_map_test_util.h"

#include <gtest/gtest.h>
#include <sched.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <memory>
#include <vector>

namespace amc::impl {
namespace {

using test_util::Make;

int CreateErr(MapAttr attr, Options options = {}) {
  std::unique_ptr<ArrayMap> map;
  int err = ArrayMap::Create(attr, options, &map);
  EXPECT_EQ(err == 0, map != nullptr);
  return err;
}

std::vector<uint8_t> Pattern(size_t n, uint8_t seed) {
  std::vector<uint8_t> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<uint8_t>(seed + i * 7);
  return v;
}

const long kPage = sysconf(_SC_PAGESIZE);

// ---- creation ----

TEST(ArrayMapCreateTest, RejectsBadAttributesWithTheKernelsErrno) {
  MapAttr a;
  a.max_entries = 0;
  EXPECT_EQ(CreateErr(a), EINVAL);
  a = {};
  a.key_size = 8;
  EXPECT_EQ(CreateErr(a), EINVAL);
  a = {};
  a.value_size = 0;
  EXPECT_EQ(CreateErr(a), EINVAL);
  a = {};
  a.value_size = 0x80000000u;
  EXPECT_EQ(CreateErr(a), E2BIG);
  a = {};
  a.type = MapType::kPercpuArray;
  a.value_size = 32769;
  EXPECT_EQ(CreateErr(a), E2BIG);
  a = {};
  a.map_flags = kFRdonly | kFWronly;
  EXPECT_EQ(CreateErr(a), EINVAL);
  a = {};
  a.map_flags = kFRdonlyProg | kFWronlyProg;
  EXPECT_EQ(CreateErr(a), EINVAL);
  a = {};
  a.map_flags = kFNoPrealloc;
  EXPECT_EQ(CreateErr(a), EINVAL);
  a = {};
  a.type = MapType::kPercpuArray;
  a.map_flags = kFMmapable;
  EXPECT_EQ(CreateErr(a), EINVAL);
  a = {};
  a.map_flags = kFMmapable;
  EXPECT_EQ(CreateErr(a), 0);
}

TEST(ArrayMapCreateTest, TooMuchMemoryIsEnomemAndPowerOfTwoOverflowIsE2big) {
  MapAttr a;
  a.value_size = 8;
  a.max_entries = 1 << 20;
  Options o;
  o.memory_limit_bytes = (8u << 20) - 1;
  EXPECT_EQ(CreateErr(a, o), ENOMEM);
  o.memory_limit_bytes = 8u << 20;
  EXPECT_EQ(CreateErr(a, o), 0);
  a.max_entries = 0x80000001u;
  o = {};
  o.bypass_spec_v1 = false;
  EXPECT_EQ(CreateErr(a, o), E2BIG);
}

TEST(ArrayMapCreateTest, SpinLockRefusalsComeInTheKernelsOrder) {
  MapAttr a;
  a.value_size = 16;
  // Past the value end: EINVAL, before anything else (even key_size).
  a.spin_lock_offset = 13;
  a.key_size = 8;
  EXPECT_EQ(CreateErr(a), EINVAL);
  // Fits but misaligned: EFAULT, also before the map's own checks.
  a.spin_lock_offset = 6;
  EXPECT_EQ(CreateErr(a), EFAULT);
  a.type = MapType::kPercpuArray;
  a.key_size = 4;
  EXPECT_EQ(CreateErr(a), EFAULT);
  // Offsets beyond INT32_MAX are checked as given, not clamped.
  a = {};
  a.value_size = 0xfffffff0u;
  a.spin_lock_offset = 0x80000000u;
  EXPECT_EQ(CreateErr(a), E2BIG);
  a.spin_lock_offset = 0x80000002u;
  EXPECT_EQ(CreateErr(a), EFAULT);
  // Program restrictions: EACCES, before PERCPU's EOPNOTSUPP, after the
  // map's own checks.
  a = {};
  a.value_size = 8;
  a.spin_lock_offset = 4;
  a.map_flags = kFRdonlyProg;
  EXPECT_EQ(CreateErr(a), EACCES);
  a.map_flags = kFWronlyProg;
  EXPECT_EQ(CreateErr(a), EACCES);
  a.type = MapType::kPercpuArray;
  EXPECT_EQ(CreateErr(a), EACCES);
  a.map_flags = 0;
  EXPECT_EQ(CreateErr(a), EOPNOTSUPP);
  a.map_flags = kFRdonlyProg | kFNoPrealloc;
  EXPECT_EQ(CreateErr(a), EINVAL);
  // A lock in an mmapable ARRAY is created, with no mappable region.
  a = {};
  a.value_size = 8;
  a.spin_lock_offset = 0;
  a.map_flags = kFMmapable;
  std::unique_ptr<ArrayMap> map;
  ASSERT_EQ(ArrayMap::Create(a, {}, &map), 0);
  EXPECT_EQ(map->mmap_region_size(), 0u);
  Mapping m;
  EXPECT_EQ(map->fd().Mmap(0, kPage, kProtRead, kMapShared, &m), kEnotsupp);
  EXPECT_EQ(map->fd().Mmap(0, kPage, kProtRead, kMapPrivate, &m), kEnotsupp);
  EXPECT_EQ(m.addr(), nullptr);
}

// ---- layout ----

TEST(ArrayMapLayoutTest, ElementsAreEightByteAlignedWithRoundedStride) {
  for (uint32_t vs : {1u, 3u, 8u, 12u, 64u, 4095u}) {
    auto map = Make(MapType::kArray, vs, 5);
    EXPECT_EQ(map->elem_size(), (vs + 7) / 8 * 8);
    for (uint32_t k = 0; k < 5; ++k) {
      auto p = reinterpret_cast<uintptr_t>(map->LookupOnCpu(k, 0));
      EXPECT_EQ(p % 8, 0u);
      EXPECT_EQ(p - reinterpret_cast<uintptr_t>(map->data()),
                k * map->elem_size());
    }
    EXPECT_EQ(map->value_buffer_size(), vs);
  }
}

TEST(ArrayMapLayoutTest, PercpuArraysOfTwoCpusNeverShareACacheLine) {
  for (uint32_t vs : {4u, 8u, 24u, 64u}) {
    for (uint32_t n : {1u, 3u, 7u}) {
      auto map = Make(MapType::kPercpuArray, vs, n, 0, 4);
      EXPECT_EQ(map->cpu_stride() % 64, 0u);
      EXPECT_GE(map->cpu_stride(), map->elem_size() * n);
      EXPECT_EQ(map->value_buffer_size(), map->elem_size() * 4);
      for (uint32_t cpu = 0; cpu + 1 < 4; ++cpu) {
        auto last = reinterpret_cast<uintptr_t>(map->LookupOnCpu(n - 1, cpu)) +
                    map->elem_size() - 1;
        auto next = reinterpret_cast<uintptr_t>(map->LookupOnCpu(0, cpu + 1));
        EXPECT_LT(last / 64, next / 64);
      }
    }
  }
}

TEST(ArrayMapLayoutTest, DataTakesTheKernelLayoutPlusAtMostAPageAndPadding) {
  auto a = Make(MapType::kArray, 12, 1000);
  EXPECT_LE(a->storage_bytes(), 16u * 1000 + kPage);
  auto p = Make(MapType::kPercpuArray, 12, 1000, 0, 4);
  EXPECT_LE(p->storage_bytes(), 16u * 1000 * 4 + 56 * 4 + kPage);
}

TEST(ArrayMapLayoutTest, MmapableDataIsPageAlignedAndMapsAtOffsetZero) {
  auto map = Make(MapType::kArray, 12, 1000, kFMmapable);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(map->data()) % kPage, 0u);
  EXPECT_EQ(map->mmap_region_size(), (16u * 1000 + kPage - 1) / kPage * kPage);
  auto v = Pattern(12, 3);
  ASSERT_EQ(map->fd().Update(500, v.data()), 0);
  Mapping m;
  ASSERT_EQ(map->fd().Mmap(0, map->mmap_region_size(), kProtRead, kMapShared,
                           &m), 0);
  EXPECT_EQ(std::memcmp(m.addr() + 500 * 16, v.data(), 12), 0);
  Mapping second;
  ASSERT_EQ(map->fd().Mmap(kPage, kPage, kProtRead, kMapShared, &second), 0);
  EXPECT_EQ(std::memcmp(second.addr() + 500 * 16 - kPage, v.data(), 12), 0);
}

TEST(ArrayMapLayoutTest, ElementOffsetsPastFourGibibytesDoNotWrap) {
  MapAttr a;
  a.value_size = 8;
  a.max_entries = (1u << 29) + 2;  // 4 GiB + 16 bytes of lazily backed data
  Options o;
  o.memory_limit_bytes = uint64_t{8} << 30;
  std::unique_ptr<ArrayMap> map;
  ASSERT_EQ(ArrayMap::Create(a, o, &map), 0);
  const uint32_t far = 1u << 29;
  uint64_t v = 0x1234, got = 0;
  ASSERT_EQ(map->fd().Update(far, &v), 0);
  EXPECT_EQ(map->fd().Lookup(0, &got), 0);
  EXPECT_EQ(got, 0u);
  EXPECT_EQ(map->fd().Lookup(far, &got), 0);
  EXPECT_EQ(got, 0x1234u);
  EXPECT_EQ(static_cast<uint8_t*>(map->Lookup(far)) - map->data(),
            int64_t{8} << 29);
  EXPECT_EQ(map->UpdateElem(far + 1, &v), 0);
  EXPECT_EQ(map->fd().Lookup(1, &got), 0);
  EXPECT_EQ(got, 0u);
}

// ---- syscall face ----

TEST(ArrayMapSyscallTest, LookupOfAFreshMapIsZerosAndOutOfRangeIsEnoent) {
  auto map = Make(MapType::kArray, 12, 4);
  std::vector<uint8_t> out(16, 0xee);
  EXPECT_EQ(map->fd().Lookup(3, out.data()), 0);
  EXPECT_EQ(std::vector<uint8_t>(out.begin(), out.begin() + 12),
            std::vector<uint8_t>(12, 0));
  EXPECT_EQ(out[12], 0xee);  // exactly value_size bytes written
  EXPECT_EQ(map->fd().Lookup(4, out.data()), ENOENT);
  EXPECT_EQ(map->fd().Lookup(UINT32_MAX, out.data()), ENOENT);
  EXPECT_EQ(map->fd().Lookup(0, out.data(), 8), EINVAL);
  EXPECT_EQ(map->fd().Lookup(0, out.data(), kFLock), EINVAL);
}

TEST(ArrayMapSyscallTest, UpdateThenLookupRoundTripsAndLeavesPaddingAlone) {
  auto map = Make(MapType::kArray, 12, 4);
  auto* elem = static_cast<uint8_t*>(map->LookupOnCpu(1, 0));
  elem[13] = 0x5a;  // padding
  auto v = Pattern(12, 9);
  EXPECT_EQ(map->fd().Update(1, v.data(), kAny), 0);
  EXPECT_EQ(elem[13], 0x5a);
  std::vector<uint8_t> out(12);
  EXPECT_EQ(map->fd().Lookup(1, out.data()), 0);
  EXPECT_EQ(out, v);
  EXPECT_EQ(map->fd().Update(1, v.data(), kExist), 0);
  EXPECT_EQ(map->fd().Update(1, v.data(), kNoexist), EEXIST);
  EXPECT_EQ(map->fd().Update(4, v.data(), kAny), E2BIG);
  EXPECT_EQ(map->fd().Update(1, v.data(), 3), EINVAL);
  EXPECT_EQ(map->fd().Update(1, v.data(), kFLock), EINVAL);
}

TEST(ArrayMapSyscallTest, WholeWordValuesOfEverySizeRoundTripExactly) {
  // Lookup's fast path copies small values inline and hands large ones to
  // AtomicLoadBytes: sizes on both sides of the switch and of its blocks.
  for (uint32_t size : {8u, 16u, 56u, 64u, 72u, 120u, 128u, 136u, 256u, 4096u, 32760u}) {
    SCOPED_TRACE(size);
    auto map = Make(MapType::kArray, size, 3);
    auto v = Pattern(size, static_cast<uint8_t>(size));
    ASSERT_EQ(map->fd().Update(1, v.data(), kAny), 0);
    std::vector<uint8_t> out(size + 1, 0xee);  // one guard byte
    ASSERT_EQ(map->fd().Lookup(1, out.data()), 0);
    EXPECT_EQ(std::vector<uint8_t>(out.begin(), out.end() - 1), v);
    EXPECT_EQ(out.back(), 0xee);
    for (uint32_t neighbour : {0u, 2u}) {
      ASSERT_EQ(map->fd().Lookup(neighbour, out.data()), 0);
      EXPECT_EQ(std::vector<uint8_t>(out.begin(), out.end() - 1),
                std::vector<uint8_t>(size, 0));
    }
  }
}

std::unique_ptr<ArrayMap> MakePercpu(uint32_t value_size, uint32_t max_entries,
                                     uint32_t cpus, bool cpu_flags) {
  MapAttr attr;
  attr.type = MapType::kPercpuArray;
  attr.value_size = value_size;
  attr.max_entries = max_entries;
  Options options;
  options.possible_cpus = cpus;
  options.percpu_cpu_flags = cpu_flags;
  options.percpu_update_writes_padding = !cpu_flags;
  std::unique_ptr<ArrayMap> map;
  EXPECT_EQ(ArrayMap::Create(attr, options, &map), 0);
  return map;
}

constexpr uint64_t Cpu(uint64_t cpu) { return kFCpu | (cpu << 32); }

TEST(ArrayMapSyscallTest, PercpuUpdateLeavesPaddingAloneSince70) {
  auto map = MakePercpu(3, 3, 2, true);
  auto buf = Pattern(8 * 2, 1);
  EXPECT_EQ(map->fd().Update(2, buf.data()), 0);
  std::vector<uint8_t> out(16);
  EXPECT_EQ(map->fd().Lookup(2, out.data()), 0);
  std::vector<uint8_t> expect(16, 0);
  std::memcpy(expect.data(), buf.data(), 3);
  std::memcpy(expect.data() + 8, buf.data() + 8, 3);
  EXPECT_EQ(out, expect);
}

TEST(ArrayMapSyscallTest, CpuFlagsReadAndWriteOneCpuOrAllSince70) {
  auto map = MakePercpu(4, 2, 3, true);
  EXPECT_EQ(map->value_buffer_size(Cpu(1)), 4u);
  EXPECT_EQ(map->value_buffer_size(kFAllCpus), 4u);
  EXPECT_EQ(map->value_buffer_size(0), 24u);
  const uint8_t one[4] = {1, 2, 3, 4}, all[4] = {7, 7, 7, 7};
  EXPECT_EQ(map->fd().Update(0, one, Cpu(2)), 0);
  uint8_t out[4] = {};
  EXPECT_EQ(map->fd().Lookup(0, out, Cpu(2)), 0);
  EXPECT_EQ(std::memcmp(out, one, 4), 0);
  EXPECT_EQ(map->fd().Lookup(0, out, Cpu(1)), 0);
  EXPECT_EQ(out[0], 0);
  // (u32)flags past BPF_F_ALL_CPUS is EINVAL in bpf_percpu_array_update.
  EXPECT_EQ(map->fd().Update(1, all, kFAllCpus | kExist), EINVAL);
  EXPECT_EQ(map->fd().Update(1, all, kFAllCpus), 0);
  for (uint32_t cpu = 0; cpu < 3; ++cpu) {
    EXPECT_EQ(std::memcmp(map->LookupOnCpu(1, cpu), all, 4), 0);
  }
  uint32_t keys[2], out_batch = 0, count = 2;
  uint8_t values[8] = {};
  EXPECT_EQ(map->fd().LookupBatch(nullptr, &out_batch, keys, values, &count,
                                  Cpu(2)),
            0);
  EXPECT_EQ(count, 2u);
  EXPECT_EQ(std::memcmp(values, one, 4), 0);
  EXPECT_EQ(std::memcmp(values + 4, all, 4), 0);
  const uint32_t batch_keys[2] = {0, 1};
  const uint8_t batch_values[8] = {5, 5, 5, 5, 6, 6, 6, 6};
  count = 2;
  EXPECT_EQ(map->fd().UpdateBatch(batch_keys, batch_values, &count, Cpu(0)), 0);
  EXPECT_EQ(count, 2u);
  EXPECT_EQ(static_cast<uint8_t*>(map->LookupOnCpu(1, 0))[0], 6);
}

TEST(ArrayMapSyscallTest, CpuFlagChecksFollowTheKernelOrderSince70) {
  auto map = MakePercpu(4, 2, 2, true);
  auto array = Make(MapType::kArray, 4, 2);
  uint8_t v[16] = {};
  EXPECT_EQ(map->fd().Lookup(0, v, Cpu(2)), ERANGE);
  EXPECT_EQ(map->fd().Lookup(0, v, uint64_t{1} << 32), EINVAL);
  EXPECT_EQ(map->fd().Lookup(0, v, kFAllCpus), EINVAL);
  EXPECT_EQ(map->fd().Lookup(2, v, Cpu(1)), ENOENT);
  EXPECT_EQ(map->OpenFd(false, true).Lookup(0, v, Cpu(9)), EPERM);
  EXPECT_EQ(map->fd().Update(0, v, Cpu(0) | kFAllCpus), EINVAL);
  EXPECT_EQ(map->fd().Update(5, v, Cpu(7)), ERANGE);
  EXPECT_EQ(map->fd().Update(5, v, Cpu(1)), E2BIG);
  EXPECT_EQ(map->fd().Update(0, v, Cpu(1) | kNoexist), 0);
  EXPECT_EQ(map->fd().Update(0, v, kNoexist | kExist), 0);
  EXPECT_EQ(map->fd().Update(0, v, kNoexist), EEXIST);
  EXPECT_EQ(map->fd().Update(0, v, kFLock), EINVAL);
  EXPECT_EQ(map->fd().Update(0, v, 0x20), EINVAL);
  EXPECT_EQ(array->fd().Lookup(0, v, Cpu(0)), EINVAL);
  EXPECT_EQ(array->fd().Update(0, v, kFAllCpus), EINVAL);
  uint32_t keys[2], out_batch = 0, count = 2;
  EXPECT_EQ(map->fd().LookupBatch(nullptr, &out_batch, keys, v, &count,
                                  kFAllCpus),
            EINVAL);
  const uint32_t batch_keys[1] = {0};
  count = 1;
  EXPECT_EQ(map->fd().UpdateBatch(batch_keys, v, &count, kExist), EINVAL);
}

TEST(ArrayMapSyscallTest, CpuFlagsAreEinvalBefore70) {
  auto map = MakePercpu(4, 2, 2, false);
  uint8_t v[16] = {};
  EXPECT_EQ(map->value_buffer_size(Cpu(1)), 16u);
  EXPECT_EQ(map->fd().Lookup(0, v, Cpu(1)), EINVAL);
  EXPECT_EQ(map->fd().Update(0, v, Cpu(1)), EINVAL);
  EXPECT_EQ(map->fd().Update(0, v, kNoexist | kExist), EINVAL);
}

TEST(ArrayMapSyscallTest, PercpuUpdateWritesEveryCpuSlotWithPaddingBefore70) {
  auto map = MakePercpu(3, 3, 3, false);
  auto buf = Pattern(8 * 3, 1);
  EXPECT_EQ(map->fd().Update(2, buf.data()), 0);
  for (uint32_t cpu = 0; cpu < 3; ++cpu) {
    EXPECT_EQ(std::memcmp(map->LookupOnCpu(2, cpu), buf.data() + 8 * cpu, 8), 0);
  }
  std::vector<uint8_t> out(24);
  EXPECT_EQ(map->fd().Lookup(2, out.data()), 0);
  EXPECT_EQ(out, buf);
  EXPECT_EQ(map->fd().Update(2, buf.data(), kFLock), EINVAL);
  EXPECT_EQ(map->fd().Update(2, buf.data(), kNoexist), EEXIST);
  EXPECT_EQ(map->fd().Update(3, buf.data()), E2BIG);
}

TEST(ArrayMapSyscallTest, DeleteAndLookupAndDeleteNeverSucceed) {
  auto map = Make(MapType::kArray, 8, 2);
  uint64_t v = 0;
  EXPECT_EQ(map->fd().Delete(0), EINVAL);
  EXPECT_EQ(map->fd().LookupAndDelete(0, &v), kEnotsupp);
  EXPECT_EQ(map->fd().LookupAndDelete(0, &v, 1), EINVAL);
}

TEST(ArrayMapSyscallTest, GetNextKeyWalksAndRestartsOutOfRange) {
  auto map = Make(MapType::kArray, 8, 3);
  uint32_t next = 99, key = 0;
  EXPECT_EQ(map->fd().GetNextKey(nullptr, &next), 0);
  EXPECT_EQ(next, 0u);
  EXPECT_EQ(map->fd().GetNextKey(&key, &next), 0);
  EXPECT_EQ(next, 1u);
  key = 2;
  EXPECT_EQ(map->fd().GetNextKey(&key, &next), ENOENT);
  key = 7;
  EXPECT_EQ(map->fd().GetNextKey(&key, &next), 0);
  EXPECT_EQ(next, 0u);
}

TEST(ArrayMapSyscallTest, LookupBatchCopiesPackedValuesAndEndsWithEnoent) {
  auto map = Make(MapType::kArray, 4, 5);
  for (uint32_t k = 0; k < 5; ++k) {
    uint32_t v = 100 + k;
    ASSERT_EQ(map->fd().Update(k, &v), 0);
  }
  uint32_t keys[8], vals[8], out_batch = 0, count = 3;
  EXPECT_EQ(map->fd().LookupBatch(nullptr, &out_batch, keys, vals, &count), 0);
  EXPECT_EQ(count, 3u);
  EXPECT_EQ(out_batch, 2u);
  EXPECT_EQ(vals[2], 102u);
  count = 8;
  EXPECT_EQ(map->fd().LookupBatch(&out_batch, &out_batch, keys, vals, &count),
            ENOENT);
  EXPECT_EQ(count, 2u);
  EXPECT_EQ(keys[0], 3u);
  EXPECT_EQ(vals[1], 104u);
  EXPECT_EQ(out_batch, 4u);
  count = 8;
  EXPECT_EQ(map->fd().LookupBatch(&out_batch, &out_batch, keys, vals, &count),
            ENOENT);
  EXPECT_EQ(count, 0u);
  count = 2;
  EXPECT_EQ(map->fd().LookupBatch(nullptr, &out_batch, keys, vals, &count, 1),
            EINVAL);
  EXPECT_EQ(count, 2u);
}

TEST(ArrayMapSyscallTest, CopyValuesIsCopyValueForEachKeyInTurn) {
  struct Shape {
    MapType type;
    uint32_t value_size;
    int32_t lock;
  };
  const Shape shapes[] = {
      {MapType::kArray, 1, -1},       {MapType::kArray, 5, -1},
      {MapType::kArray, 12, -1},      {MapType::kArray, 16, -1},
      {MapType::kArray, 37, -1},      {MapType::kArray, 20, 8},
      {MapType::kPercpuArray, 3, -1}, {MapType::kPercpuArray, 24, -1}};
  for (const Shape& shape : shapes) {
    SCOPED_TRACE(testing::Message() << "value_size " << shape.value_size
                                    << " percpu " << (shape.type == MapType::kPercpuArray)
                                    << " lock " << shape.lock);
    MapAttr attr;
    attr.type = shape.type;
    attr.value_size = shape.value_size;
    attr.max_entries = 9;
    attr.spin_lock_offset = shape.lock;
    Options options;
    options.possible_cpus = 3;
    std::unique_ptr<ArrayMap> map;
    ASSERT_EQ(ArrayMap::Create(attr, options, &map), 0);
    const uint64_t buffer = map->value_buffer_size();
    for (uint32_t k = 0; k < 9; ++k) {
      ASSERT_EQ(map->fd().Update(k, Pattern(buffer, static_cast<uint8_t>(k * 31)).data()), 0);
    }
    for (uint32_t first = 0; first < 9; ++first) {
      for (uint32_t count = 0; first + count <= 9; ++count) {
        // One guard byte past the end must stay untouched.
        std::vector<uint8_t> got(count * buffer + 1, 0xa5), want(count * buffer + 1, 0xa5);
        map->CopyValues(first, count, got.data());
        for (uint32_t i = 0; i < count; ++i) map->CopyValue(first + i, want.data() + i * buffer);
        ASSERT_EQ(got, want) << "first " << first << " count " << count;
      }
    }
  }
}

TEST(ArrayMapSyscallTest, LookupBatchOfWholeWordValuesRestartsOutOfRange) {
  auto map = Make(MapType::kArray, 16, 3);
  for (uint64_t k = 0; k < 3; ++k) {
    uint64_t v[2] = {k, ~k};
    ASSERT_EQ(map->fd().Update(static_cast<uint32_t>(k), v), 0);
  }
  uint32_t keys[3], out_batch = 77, count = 3, in = 99;
  uint64_t vals[6];
  EXPECT_EQ(map->fd().LookupBatch(&in, &out_batch, keys, vals, &count), 0);
  EXPECT_EQ(count, 3u);
  EXPECT_EQ(out_batch, 2u);
  for (uint64_t k = 0; k < 3; ++k) {
    EXPECT_EQ(keys[k], k);
    EXPECT_EQ(vals[2 * k], k);
    EXPECT_EQ(vals[2 * k + 1], ~k);
  }
  in = 2;
  count = 3;
  out_batch = 77;
  EXPECT_EQ(map->fd().LookupBatch(&in, &out_batch, keys, vals, &count), ENOENT);
  EXPECT_EQ(count, 0u);
  EXPECT_EQ(out_batch, 77u);
}

TEST(ArrayMapSyscallTest, UpdateBatchStopsAtTheFirstFailureAndCountsApplied) {
  auto map = Make(MapType::kArray, 8, 4);
  uint32_t keys[] = {0, 1, 9, 2};
  uint64_t vals[] = {10, 11, 12, 13};
  uint32_t count = 4;
  EXPECT_EQ(map->fd().UpdateBatch(keys, vals, &count), E2BIG);
  EXPECT_EQ(count, 2u);
  uint64_t v = 0;
  EXPECT_EQ(map->fd().Lookup(1, &v), 0);
  EXPECT_EQ(v, 11u);
  EXPECT_EQ(map->fd().Lookup(2, &v), 0);
  EXPECT_EQ(v, 0u);
  count = 4;
  EXPECT_EQ(map->fd().DeleteBatch(keys, &count), kEnotsupp);
  EXPECT_EQ(map->fd().LookupAndDeleteBatch(nullptr, nullptr, nullptr, nullptr,
                                           &count),
            kEnotsupp);
}

TEST(ArrayMapSyscallTest, FdModesRestrictReadAndWrite) {
  auto map = Make(MapType::kArray, 8, 2, kFRdonly);
  uint64_t v = 1;
  uint32_t next;
  EXPECT_EQ(map->fd().Update(0, &v), EPERM);
  EXPECT_EQ(map->fd().Delete(0), EPERM);
  EXPECT_EQ(map->fd().Freeze(), EPERM);
  EXPECT_EQ(map->fd().Lookup(0, &v), 0);
  MapFd wo = map->OpenFd(false, true);
  EXPECT_EQ(wo.Lookup(0, &v), EPERM);
  EXPECT_EQ(wo.GetNextKey(nullptr, &next), EPERM);
  EXPECT_EQ(wo.Update(0, &v), 0);
}

TEST(ArrayMapSyscallTest, FreezeClosesTheSyscallWriteSideOnly) {
  auto map = Make(MapType::kArray, 8, 2);
  uint64_t v = 5;
  EXPECT_EQ(map->fd().Freeze(), 0);
  EXPECT_TRUE(map->frozen());
  EXPECT_EQ(map->fd().Update(0, &v), EPERM);
  EXPECT_EQ(map->fd().Delete(0), EPERM);
  uint32_t k = 0, count = 1;
  EXPECT_EQ(map->fd().UpdateBatch(&k, &v, &count), EPERM);
  EXPECT_EQ(map->fd().Freeze(), EPERM);
  EXPECT_EQ(map->fd().Lookup(0, &v), 0);
  EXPECT_EQ(v, 0u);
  v = 5;
  EXPECT_EQ(map->UpdateElem(0, &v), 0);  // programs still write
  v = 0;
  EXPECT_EQ(map->fd().Lookup(0, &v), 0);
  EXPECT_EQ(v, 5u);
}

// Options for Linux 6.1 (core/kernel_profile.h; recorded in
// corpus/releases/6.1/spin_lock_*.ops).
Options Linux61SpinLockRules() {
  Options o;
  o.misaligned_spin_lock_refused = false;
  o.spin_lock_refuses_wronly_prog = false;
  o.spin_lock_wrong_map_type_errno = kEnotsupp;
  o.spin_lock_freeze_refused = false;
  return o;
}

TEST(ArrayMapCreateTest, OnLinux61AMisalignedLockMakesAMapWithoutALock) {
  MapAttr a;
  a.value_size = 16;
  a.max_entries = 2;
  a.map_flags = kFMmapable | kFRdonlyProg;  // RDONLY_PROG: no lock to refuse it
  a.spin_lock_offset = 6;
  EXPECT_EQ(CreateErr(a), EFAULT);
  std::unique_ptr<ArrayMap> map;
  ASSERT_EQ(ArrayMap::Create(a, Linux61SpinLockRules(), &map), 0);
  EXPECT_LT(map->attr().spin_lock_offset, 0);
  auto v = Pattern(16, 1);
  EXPECT_EQ(map->fd().Update(0, v.data(), kFLock), EINVAL);
  EXPECT_EQ(map->fd().Update(0, v.data(), 0), 0);
  std::vector<uint8_t> out(16);
  EXPECT_EQ(map->fd().Lookup(0, out.data()), 0);
  EXPECT_EQ(out, v);  // no lock word is skipped
  EXPECT_GT(map->mmap_region_size(), 0u);
  // Past the value's end is still EINVAL.
  a.spin_lock_offset = 14;
  EXPECT_EQ(ArrayMap::Create(a, Linux61SpinLockRules(), &map), EINVAL);
}

TEST(ArrayMapCreateTest, OnLinux61OnlyRdonlyProgIsRefusedAndPercpuIsEnotsupp) {
  MapAttr a;
  a.value_size = 8;
  a.spin_lock_offset = 4;
  std::unique_ptr<ArrayMap> map;
  a.map_flags = kFRdonlyProg;
  EXPECT_EQ(ArrayMap::Create(a, Linux61SpinLockRules(), &map), EACCES);
  a.map_flags = kFWronlyProg;
  EXPECT_EQ(ArrayMap::Create(a, Linux61SpinLockRules(), &map), 0);
  a.type = MapType::kPercpuArray;
  EXPECT_EQ(ArrayMap::Create(a, Linux61SpinLockRules(), &map), kEnotsupp);
  a.map_flags = 0;
  EXPECT_EQ(ArrayMap::Create(a, Linux61SpinLockRules(), &map), kEnotsupp);
  EXPECT_EQ(CreateErr(a), EOPNOTSUPP);
}

TEST(ArrayMapSyscallTest, OnLinux61ALockMapFreezesAndThenRefusesWrites) {
  MapAttr a;
  a.value_size = 16;
  a.spin_lock_offset = 4;
  Options o = Linux61SpinLockRules();
  o.freeze_needs_write_permission = false;
  std::unique_ptr<ArrayMap> map;
  ASSERT_EQ(ArrayMap::Create(a, o, &map), 0);
  auto v = Pattern(16, 1);
  EXPECT_EQ(map->fd().Freeze(), 0);
  EXPECT_EQ(map->fd().Update(0, v.data(), kFLock), EPERM);
  EXPECT_EQ(map->fd().Freeze(), EBUSY);
}

TEST(ArrayMapSyscallTest, SpinLockWordReadsZeroAndBlocksFreeze) {
  MapAttr a;
  a.value_size = 16;
  a.max_entries = 2;
  a.spin_lock_offset = 4;
  std::unique_ptr<ArrayMap> map;
  ASSERT_EQ(ArrayMap::Create(a, {}, &map), 0);
  auto v = Pattern(16, 1);
  EXPECT_EQ(map->fd().Update(0, v.data(), kFLock), 0);
  std::vector<uint8_t> out(16);
  EXPECT_EQ(map->fd().Lookup(0, out.data(), kFLock), 0);
  std::vector<uint8_t> want = v;
  std::memset(want.data() + 4, 0, 4);
  EXPECT_EQ(out, want);
  EXPECT_EQ(map->fd().Freeze(), kEnotsupp);
}

// ---- mmap rules ----

TEST(ArrayMapMmapTest, FollowsTheKernelsMappingRules) {
  auto map = Make(MapType::kArray, 8, 10, kFMmapable);
  MapFd fd = map->fd();
  Mapping m;
  const uint64_t region = map->mmap_region_size();
  EXPECT_EQ(fd.Mmap(1, kPage, kProtRead, kMapShared, &m), EINVAL);
  EXPECT_EQ(fd.Mmap(0, 0, kProtRead, kMapShared, &m), EINVAL);
  EXPECT_EQ(fd.Mmap(0, region + 1, kProtRead, kMapShared, &m), EINVAL);
  EXPECT_EQ(fd.Mmap(region, kPage, kProtRead, kMapShared, &m), EINVAL);
  EXPECT_EQ(fd.Mmap(0, kPage, kProtRead, kMapPrivate, &m), EINVAL);
  EXPECT_EQ(fd.Mmap(0, kPage, kProtRead | kProtExec, kMapShared, &m), EPERM);
  // A map's file is not a regular file: its offset limit is ULONG_MAX, not
  // MAX_LFS_FILESIZE, so only an end that wraps past 2^64 is EOVERFLOW
  // (after TASK_SIZE's ENOMEM); an offset near 2^63 is the map's EINVAL.
  // Recorded on 6.18: offsets 2^63-4096 and 2^64-8192 EINVAL, 2^64-4096
  // EOVERFLOW, each with one page.
  const uint64_t last_page = UINT64_MAX / kPage * kPage;
  EXPECT_EQ(fd.Mmap(last_page, kPage, kProtRead, kMapShared, &m), EOVERFLOW);
  EXPECT_EQ(fd.Mmap(last_page - kPage, kPage, kProtRead, kMapShared, &m),
            EINVAL);
  EXPECT_EQ(fd.Mmap(uint64_t(INT64_MAX) / kPage * kPage, kPage, kProtRead,
                    kMapShared, &m),
            EINVAL);
  EXPECT_EQ(fd.Mmap(0, uint64_t{1} << 47, kProtRead, kMapShared, &m), ENOMEM);
  EXPECT_EQ(m.addr(), nullptr);
  auto plain = Make(MapType::kArray, 8, 10);
  EXPECT_EQ(plain->fd().Mmap(0, kPage, kProtRead, kMapShared, &m), EINVAL);
  auto percpu = Make(MapType::kPercpuArray, 8, 10);
  EXPECT_EQ(percpu->fd().Mmap(0, kPage, kProtRead, kMapShared, &m), kEnotsupp);
}

TEST(ArrayMapMmapTest, MappingWritesAndSyscallWritesSeeEachOther) {
  auto map = Make(MapType::kArray, 8, 10, kFMmapable);
  Mapping m;
  ASSERT_EQ(map->fd().Mmap(0, kPage, kProtRead | kProtWrite, kMapShared, &m),
            0);
  uint64_t v = 0x1122334455667788;
  AtomicStoreBytes(m.addr() + 3 * 8, &v, 8);
  uint64_t got = 0;
  EXPECT_EQ(map->fd().Lookup(3, &got), 0);
  EXPECT_EQ(got, v);
  v = 42;
  EXPECT_EQ(map->fd().Update(4, &v), 0);
  AtomicLoadBytes(&got, m.addr() + 4 * 8, 8);
  EXPECT_EQ(got, 42u);
}

TEST(ArrayMapMmapTest, WritableMappingBlocksFreezeAndFrozenMapsMapReadOnly) {
  auto map = Make(MapType::kArray, 8, 10, kFMmapable);
  MapFd fd = map->fd();
  Mapping w;
  ASSERT_EQ(fd.Mmap(0, kPage, kProtRead | kProtWrite, kMapShared, &w), 0);
  EXPECT_EQ(fd.Freeze(), EBUSY);
  w.Reset();
  EXPECT_EQ(fd.Freeze(), 0);
  EXPECT_EQ(fd.Mmap(0, kPage, kProtRead | kProtWrite, kMapShared, &w), EPERM);
  Mapping r;
  ASSERT_EQ(fd.Mmap(0, kPage, kProtRead, kMapShared, &r), 0);
  // A read-only mapping cannot be made writable later.
  EXPECT_NE(mprotect(r.addr(), kPage, PROT_READ | PROT_WRITE), 0);
}

TEST(ArrayMapMmapTest, FdModesGateMappings) {
  auto ro = Make(MapType::kArray, 8, 10, kFMmapable | kFRdonly);
  Mapping m;
  EXPECT_EQ(ro->fd().Mmap(0, kPage, kProtRead | kProtWrite, kMapShared, &m),
            EACCES);
  EXPECT_EQ(ro->fd().Mmap(0, kPage, kProtRead, kMapShared, &m), EINVAL);
  auto wo = Make(MapType::kArray, 8, 10, kFMmapable | kFWronly);
  EXPECT_EQ(wo->fd().Mmap(0, kPage, kProtRead, kMapShared, &m), EACCES);
  auto rdprog = Make(MapType::kArray, 8, 10, kFMmapable | kFRdonlyProg);
  EXPECT_EQ(rdprog->fd().Mmap(0, kPage, kProtRead | kProtWrite, kMapShared, &m),
            EACCES);
  EXPECT_EQ(rdprog->fd().Mmap(0, kPage, kProtRead, kMapShared, &m), 0);
}

// ---- helper face ----

TEST(ArrayMapHelperTest, LookupReturnsStoragePointersOrNull) {
  auto map = Make(MapType::kArray, 16, 4);
  EXPECT_EQ(map->Lookup(4), nullptr);
  EXPECT_EQ(map->Lookup(UINT32_MAX), nullptr);
  EXPECT_EQ(map->Lookup(2), map->data() + 32);
  EXPECT_EQ(map->LookupPercpu(2, 0), nullptr);  // ARRAY: not per-CPU
}

TEST(ArrayMapHelperTest, PercpuHelpersActOnOneCpusSlot) {
  auto map = Make(MapType::kPercpuArray, 12, 4, 0, 3);
  auto v = Pattern(12, 4);
  EXPECT_EQ(map->UpdateElemOnCpu(1, v.data(), kAny, 2), 0);
  EXPECT_EQ(std::memcmp(map->LookupPercpu(1, 2), v.data(), 12), 0);
  std::vector<uint8_t> zero(12, 0);
  EXPECT_EQ(std::memcmp(map->LookupPercpu(1, 0), zero.data(), 12), 0);
  EXPECT_EQ(map->LookupPercpu(1, 3), nullptr);
  EXPECT_EQ(map->UpdateElemOnCpu(4, v.data(), kAny, 0), -E2BIG);
  EXPECT_EQ(map->UpdateElemOnCpu(1, v.data(), kNoexist, 0), -EEXIST);
  EXPECT_EQ(map->UpdateElemOnCpu(1, v.data(), 3, 0), -EINVAL);
  EXPECT_EQ(map->DeleteElem(1), -EINVAL);
  uint32_t cpu = map->CurrentCpu();
  EXPECT_LT(cpu, 3u);
  EXPECT_NE(map->Lookup(0), nullptr);
}

TEST(ArrayMapHelperTest, AtomicAddReturnsTheOldValueAndChecksTheOffset) {
  auto map = Make(MapType::kPercpuArray, 16, 2, 0, 2);
  uint64_t old = 99;
  EXPECT_TRUE(map->AtomicAddOnCpu(1, 8, 5, 1, &old));
  EXPECT_EQ(old, 0u);
  EXPECT_TRUE(map->AtomicAddOnCpu(1, 8, 6, 1, &old));
  EXPECT_EQ(old, 5u);
  EXPECT_TRUE(map->AtomicAddOnCpu(1, 8, 1, 0, &old));
  EXPECT_EQ(old, 0u);
  EXPECT_FALSE(map->AtomicAddOnCpu(1, 4, 1, 0));
  EXPECT_FALSE(map->AtomicAddOnCpu(1, 16, 1, 0));
  EXPECT_FALSE(map->AtomicAddOnCpu(2, 0, 1, 0));
  EXPECT_FALSE(map->AtomicAddOnCpu(0, 0, 1, 2));
}

bool PinTo(uint32_t cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  return sched_setaffinity(0, sizeof(set), &set) == 0;
}

TEST(ArrayMapHelperTest, CurrentCpuHelpersLandInThePinnedCpusSlot) {
  const uint32_t host = HostPossibleCpus();
  cpu_set_t saved;
  ASSERT_EQ(sched_getaffinity(0, sizeof(saved), &saved), 0);
  auto map = Make(MapType::kPercpuArray, 8, 2, 0, host);
  for (uint32_t cpu = 0; cpu < host && cpu < 4; ++cpu) {
    if (!CPU_ISSET(cpu, &saved) || !PinTo(cpu)) continue;
    EXPECT_EQ(RawCurrentCpu(), cpu);
    EXPECT_EQ(map->CurrentCpu(), cpu);
    EXPECT_TRUE(map->AtomicAdd(1, 0, 10 + cpu));
    uint64_t v = 100 + cpu;
    EXPECT_EQ(map->UpdateElem(0, &v), 0);
    EXPECT_EQ(map->Lookup(1), map->LookupOnCpu(1, cpu));
  }
  sched_setaffinity(0, sizeof(saved), &saved);
  std::vector<uint64_t> buf(host);
  ASSERT_EQ(map->fd().Lookup(1, buf.data()), 0);
  std::vector<uint64_t> vals(host);
  ASSERT_EQ(map->fd().Lookup(0, vals.data()), 0);
  for (uint32_t cpu = 0; cpu < host && cpu < 4; ++cpu) {
    if (!CPU_ISSET(cpu, &saved)) continue;
    EXPECT_EQ(buf[cpu], 10u + cpu);
    EXPECT_EQ(vals[cpu], 100u + cpu);
  }
}

TEST(ArrayMapHelperTest, CurrentCpuFoldsOntoFewerPossibleCpus) {
  auto map = Make(MapType::kPercpuArray, 8, 2, 0, 1);
  EXPECT_EQ(map->CurrentCpu(), 0u);
  EXPECT_EQ(map->Lookup(0), map->LookupOnCpu(0, 0));
}

TEST(AtomicBytesTest, UnalignedCopiesTouchOnlyTheirBytes) {
  alignas(8) uint8_t buf[32];
  std::memset(buf, 0xaa, sizeof(buf));
  auto v = Pattern(13, 1);
  AtomicStoreBytes(buf + 3, v.data(), 13);
  EXPECT_EQ(buf[2], 0xaa);
  EXPECT_EQ(buf[16], 0xaa);
  EXPECT_EQ(std::memcmp(buf + 3, v.data(), 13), 0);
  uint8_t out[13];
  AtomicLoadBytes(out, buf + 3, 13);
  EXPECT_EQ(std::memcmp(out, v.data(), 13), 0);
}

// Stores n pattern bytes at offset `at` of a 16-aligned buffer and loads
// them back: exactly those bytes change, exactly they come back.
testing::AssertionResult CopiesExactly(size_t at, size_t n, uint8_t seed) {
  alignas(16) uint8_t buf[4200];
  uint8_t want[sizeof(buf)];
  std::memset(buf, 0x5c, sizeof(buf));
  std::memset(want, 0x5c, sizeof(want));
  auto v = Pattern(n, seed);
  AtomicStoreBytes(buf + at, v.data(), n);
  if (n > 0) std::memcpy(want + at, v.data(), n);
  if (std::memcmp(buf, want, sizeof(buf)) != 0) {
    return testing::AssertionFailure() << "store at " << at << " of " << n;
  }
  std::vector<uint8_t> out(n + 2, 0xee);
  AtomicLoadBytes(out.data() + 1, buf + at, n);
  if (out.front() != 0xee || out.back() != 0xee ||
      std::memcmp(out.data() + 1, want + at, n) != 0) {
    return testing::AssertionFailure() << "load at " << at << " of " << n;
  }
  return testing::AssertionSuccess();
}

TEST(AtomicBytesTest, EveryOffsetAndLengthCopiesExactlyItsBytes) {
  // Heads, whole words and tails of every shape, against a plain copy.
  for (size_t at = 0; at < 16; ++at) {
    for (size_t n = 0; n + at <= 40; ++n) {
      ASSERT_TRUE(CopiesExactly(at, n, static_cast<uint8_t>(at * 3 + n)));
    }
  }
}

TEST(AtomicBytesTest, LargeCopiesAtEveryAlignmentCopyExactlyTheirBytes) {
  // Ranges long enough for the 16-byte path, from every offset within two
  // 16-byte blocks, around its block sizes.
  for (size_t at = 0; at < 32; ++at) {
    for (size_t n : {127, 128, 129, 135, 136, 143, 144, 191, 192, 200, 255,
                     256, 257, 1000, 4093}) {
      ASSERT_TRUE(CopiesExactly(at, n, static_cast<uint8_t>(at * 5 + n)));
    }
  }
}

}  // namespace
}  // namespace amc::impl
