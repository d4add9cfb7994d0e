// Options::recycle_memfd: a mappable map made from a recycled memfd is
// indistinguishable from a fresh one.
#include <fcntl.h>
#include <sys/mman.h>

#include <cstring>
#include <vector>

#include <gtest/gtest.h>

#include "amc/array_map.h"

namespace amc::impl {
namespace {

std::unique_ptr<ArrayMap> MakeMappable(uint32_t value_size, uint32_t entries,
                                       bool recycle) {
  MapAttr attr;
  attr.type = MapType::kArray;
  attr.value_size = value_size;
  attr.max_entries = entries;
  attr.map_flags = kFMmapable;
  Options options;
  options.possible_cpus = 2;
  options.recycle_memfd = recycle;
  std::unique_ptr<ArrayMap> map;
  EXPECT_EQ(ArrayMap::Create(attr, options, &map), 0);
  return map;
}

TEST(MemfdCacheTest, ARecycledMemfdComesBackZeroedAndUnfrozen) {
  int first_fd = -1;
  {
    auto map = MakeMappable(8, 700, true);  // two pages
    ASSERT_TRUE(map);
    first_fd = map->memfd();
    MapFd fd = map->fd();
    uint64_t v = 0x1122334455667788;
    ASSERT_EQ(fd.Update(699, &v), 0);
    {
      // A read-only mapping opens the read-only reopen, kept with the memfd.
      Mapping ro;
      ASSERT_EQ(fd.Mmap(0, 4096, kProtRead, kMapShared, &ro), 0);
      Mapping rw;
      ASSERT_EQ(fd.Mmap(4096, 4096, kProtRead | kProtWrite, kMapShared, &rw), 0);
      std::memset(rw.addr(), 0xab, 4096);
    }
    ASSERT_EQ(fd.Freeze(), 0);
  }
  auto map = MakeMappable(8, 700, true);
  ASSERT_TRUE(map);
  // Nothing else made a map of this size in between: the cached memfd.
  EXPECT_EQ(map->memfd(), first_fd);
  MapFd fd = map->fd();
  for (uint32_t key = 0; key < 700; ++key) {
    uint64_t v = 1;
    ASSERT_EQ(fd.Lookup(key, &v), 0);
    ASSERT_EQ(v, 0u) << key;
  }
  std::vector<uint8_t> region(map->mmap_region_size());
  std::memcpy(region.data(), map->data(), region.size());
  EXPECT_EQ(region, std::vector<uint8_t>(region.size(), 0));
  // Not frozen: a writable mapping is allowed, and writes through it show.
  Mapping rw;
  ASSERT_EQ(fd.Mmap(0, 8192, kProtRead | kProtWrite, kMapShared, &rw), 0);
  uint64_t v = 42;
  std::memcpy(rw.addr() + 8, &v, 8);
  uint64_t got = 0;
  ASSERT_EQ(fd.Lookup(1, &got), 0);
  EXPECT_EQ(got, 42u);
}

TEST(MemfdCacheTest, AMemfdIsRecycledOnlyForTheSameSize) {
  auto a = MakeMappable(16, 10, true);  // one page
  ASSERT_TRUE(a);
  const int fd_a = a->memfd();
  a.reset();  // cached, so fd_a stays open
  auto b = MakeMappable(16, 300, true);  // two pages
  ASSERT_TRUE(b);
  EXPECT_NE(b->memfd(), fd_a);
  EXPECT_EQ(b->mmap_region_size(), 8192u);
  auto c = MakeMappable(8, 512, true);  // one page again
  ASSERT_TRUE(c);
  EXPECT_EQ(c->memfd(), fd_a);
}

TEST(MemfdCacheTest, WithoutTheOptionNoMemfdIsKept) {
  auto a = MakeMappable(16, 10, false);
  ASSERT_TRUE(a);
  const int fd_a = a->memfd();
  a.reset();  // closed: the next memfd gets the lowest free number again
  auto b = MakeMappable(16, 10, false);
  ASSERT_TRUE(b);
  EXPECT_EQ(b->memfd(), fd_a);
  auto c = MakeMappable(16, 10, true);  // the cache holds no region of it
  ASSERT_TRUE(c);
  EXPECT_NE(c->memfd(), fd_a);
}

TEST(MemfdCacheTest, ReleaseRecycledMemfdsClosesEveryKeptMemfd) {
  auto a = MakeMappable(16, 10, true);
  auto b = MakeMappable(16, 300, true);
  ASSERT_TRUE(a && b);
  const int fd_a = a->memfd();
  const int fd_b = b->memfd();
  a.reset();
  b.reset();  // both kept, open
  EXPECT_NE(fcntl(fd_a, F_GETFD), -1);
  EXPECT_NE(fcntl(fd_b, F_GETFD), -1);
  ReleaseRecycledMemfds();
  EXPECT_EQ(fcntl(fd_a, F_GETFD), -1);
  EXPECT_EQ(fcntl(fd_b, F_GETFD), -1);
  // Nothing is handed out twice or lost: a new map makes a fresh memfd.
  auto c = MakeMappable(16, 10, true);
  ASSERT_TRUE(c);
  EXPECT_NE(fcntl(c->memfd(), F_GETFD), -1);
}

}  // namespace
}  // namespace amc::impl
