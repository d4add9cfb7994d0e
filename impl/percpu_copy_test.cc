// The PERCPU syscall-face copies (lookup, update, batch lookup and update)
// against slot-by-slot reads and writes through the helper face, at every
// CPU count and value size whose copies take a different path: one word per
// CPU (the 16-byte two-CPU, two-key path and its odd-key / odd-CPU edges),
// a few words, and wide values (16-byte blocks).
#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <random>
#include <vector>

#include "amc/array_map.h"

namespace amc::impl {
namespace {

std::unique_ptr<ArrayMap> MakePercpu(uint32_t value_size, uint32_t entries,
                                     uint32_t cpus, bool writes_padding) {
  MapAttr attr;
  attr.type = MapType::kPercpuArray;
  attr.value_size = value_size;
  attr.max_entries = entries;
  Options options;
  options.possible_cpus = cpus;
  options.percpu_update_writes_padding = writes_padding;
  std::unique_ptr<ArrayMap> map;
  EXPECT_EQ(ArrayMap::Create(attr, options, &map), 0);
  return map;
}

// What a syscall lookup of `key` must return: each CPU's slot, elem_size
// bytes (padding included), read through the helper face.
std::vector<uint8_t> Expected(const ArrayMap& map, uint32_t key) {
  std::vector<uint8_t> out(map.value_buffer_size());
  for (uint32_t cpu = 0; cpu < map.possible_cpus(); ++cpu) {
    AtomicLoadBytes(out.data() + cpu * map.elem_size(),
                    map.LookupOnCpu(key, cpu), map.elem_size());
  }
  return out;
}

void FillRandomly(const ArrayMap& map, std::mt19937_64* rng) {
  for (uint32_t key = 0; key < map.max_entries(); ++key) {
    for (uint32_t cpu = 0; cpu < map.possible_cpus(); ++cpu) {
      std::vector<uint8_t> bytes(map.elem_size());
      for (auto& b : bytes) b = static_cast<uint8_t>((*rng)());
      AtomicStoreBytes(map.LookupOnCpu(key, cpu), bytes.data(), bytes.size());
    }
  }
}

struct Shape {
  uint32_t value_size;
  uint32_t cpus;
};

class PercpuCopyTest : public ::testing::TestWithParam<Shape> {};

TEST_P(PercpuCopyTest, LookupsAndBatchLookupsCopyEverySlotFromAnyStart) {
  const Shape shape = GetParam();
  auto map = MakePercpu(shape.value_size, 37, shape.cpus, false);
  std::mt19937_64 rng(shape.value_size * 31 + shape.cpus);
  FillRandomly(*map, &rng);
  MapFd fd = map->fd();
  const uint64_t buffer = map->value_buffer_size();
  for (uint32_t key = 0; key < 37; ++key) {
    std::vector<uint8_t> got(buffer);
    ASSERT_EQ(fd.Lookup(key, got.data()), 0);
    EXPECT_EQ(got, Expected(*map, key)) << "key " << key;
  }
  // Batches from every start (odd and even first keys), of every length.
  for (int64_t in = -1; in < 37; ++in) {
    for (uint32_t count : {1u, 2u, 3u, 4u, 5u, 8u, 13u, 40u}) {
      const uint32_t start = in < 0 ? 0 : static_cast<uint32_t>(in) + 1;
      if (start >= 37) continue;
      std::vector<uint32_t> keys(count, 0xdead);
      std::vector<uint8_t> values(count * buffer + 8, 0xee);
      uint32_t n = count, out = 0, in_key = static_cast<uint32_t>(in);
      const int err = fd.LookupBatch(in < 0 ? nullptr : &in_key, &out,
                                     keys.data(), values.data(), &n);
      const uint32_t want = std::min(count, 37 - start);
      EXPECT_EQ(err, want < count ? ENOENT : 0);
      ASSERT_EQ(n, want);
      for (uint32_t i = 0; i < want; ++i) {
        ASSERT_EQ(keys[i], start + i);
        std::vector<uint8_t> got(values.begin() + i * buffer,
                                 values.begin() + (i + 1) * buffer);
        ASSERT_EQ(got, Expected(*map, start + i))
            << "start " << start << " count " << count << " i " << i;
      }
      // Nothing written past the copied values.
      EXPECT_EQ(values[want * buffer], 0xee);
    }
  }
}

TEST_P(PercpuCopyTest, UpdatesAndBatchUpdatesWriteEverySlotInKeyOrder) {
  const Shape shape = GetParam();
  for (bool padding : {false, true}) {
    auto map = MakePercpu(shape.value_size, 37, shape.cpus, padding);
    auto twin = MakePercpu(shape.value_size, 37, shape.cpus, padding);
    std::mt19937_64 rng(shape.value_size * 7 + shape.cpus + padding);
    MapFd fd = map->fd();
    const uint64_t buffer = map->value_buffer_size();
    // Runs of consecutive keys from odd and even starts, repeats, gaps,
    // descending keys, and a bad key in the middle of a run.
    const std::vector<std::vector<uint32_t>> lists = {
        {0, 1, 2, 3, 4, 5, 6, 7, 8},
        {3, 4, 5, 6, 7, 8, 9, 10},
        {30, 31, 32, 33, 34, 35, 36},
        {5, 5, 6, 7, 9, 10, 11, 12, 13, 2, 1, 0},
        {33, 34, 35, 36, 37, 1, 2},
        {10, 11, 12, 13, 14, 15, 99, 16},
    };
    for (const auto& keys : lists) {
      std::vector<uint8_t> values(keys.size() * buffer);
      for (auto& b : values) b = static_cast<uint8_t>(rng());
      uint32_t n = static_cast<uint32_t>(keys.size());
      const int err = fd.UpdateBatch(keys.data(), values.data(), &n);
      // The twin takes one key at a time, as the kernel's batch does, slot
      // by slot through the helper face: value_size bytes per CPU (7.0+),
      // elem_size before (bpf_percpu_array_update); E2BIG stops it.
      uint32_t want = 0;
      int want_err = 0;
      for (; want < keys.size(); ++want) {
        if (keys[want] >= 37) {
          want_err = E2BIG;
          break;
        }
        for (uint32_t cpu = 0; cpu < shape.cpus; ++cpu) {
          AtomicStoreBytes(twin->LookupOnCpu(keys[want], cpu),
                           values.data() + want * buffer +
                               cpu * map->elem_size(),
                           padding ? map->elem_size() : shape.value_size);
        }
      }
      EXPECT_EQ(err, want_err);
      EXPECT_EQ(n, want);
      for (uint32_t key = 0; key < 37; ++key) {
        ASSERT_EQ(Expected(*map, key), Expected(*twin, key))
            << "key " << key << " padding " << padding;
      }
    }
    // A single update writes each CPU's value (and padding before 7.0)
    // from its place in the buffer.
    std::vector<uint8_t> one(buffer);
    for (auto& b : one) b = static_cast<uint8_t>(rng());
    ASSERT_EQ(fd.Update(4, one.data()), 0);
    std::vector<uint8_t> got = Expected(*map, 4);
    for (uint32_t cpu = 0; cpu < shape.cpus; ++cpu) {
      const uint64_t at = cpu * map->elem_size();
      const uint64_t bytes = padding ? map->elem_size() : shape.value_size;
      EXPECT_EQ(std::memcmp(got.data() + at, one.data() + at, bytes), 0);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, PercpuCopyTest,
    ::testing::Values(Shape{8, 1}, Shape{8, 2}, Shape{8, 3}, Shape{8, 4},
                      Shape{8, 5}, Shape{4, 2}, Shape{12, 3}, Shape{16, 2},
                      Shape{24, 3}, Shape{64, 2}, Shape{100, 3},
                      Shape{4096, 2}),
    [](const auto& info) {
      return std::to_string(info.param.value_size) + "B_" +
             std::to_string(info.param.cpus) + "cpus";
    });

}  // namespace
}  // namespace amc::impl
