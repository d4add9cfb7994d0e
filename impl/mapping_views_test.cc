// Options::mapping_views: MapFd::Mmap answers as with real mappings, and the
// views it hands out share the map's bytes without a mapping of their own.
#include <sys/mman.h>

#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "amc/array_map.h"

namespace amc::impl {
namespace {

std::unique_ptr<ArrayMap> MakeMappable(uint32_t value_size, uint32_t entries,
                                       bool views, bool recycle = false,
                                       uint32_t extra_flags = 0) {
  MapAttr attr;
  attr.type = MapType::kArray;
  attr.value_size = value_size;
  attr.max_entries = entries;
  attr.map_flags = kFMmapable | extra_flags;
  Options options;
  options.possible_cpus = 2;
  options.mapping_views = views;
  options.recycle_memfd = recycle;
  std::unique_ptr<ArrayMap> map;
  EXPECT_EQ(ArrayMap::Create(attr, options, &map), 0);
  return map;
}

// The lines of /proc/self/maps that map an array map's memfd.
std::vector<std::string> MemfdMappings() {
  std::ifstream maps("/proc/self/maps");
  std::vector<std::string> out;
  for (std::string line; std::getline(maps, line);) {
    if (line.find("amc-array-map") != std::string::npos) out.push_back(line);
  }
  return out;
}

// The permissions ("r--s") of the mapping holding `addr`, or "".
std::string PermissionsAt(const void* addr) {
  const auto at = reinterpret_cast<uintptr_t>(addr);
  std::ifstream maps("/proc/self/maps");
  for (std::string line; std::getline(maps, line);) {
    uintptr_t lo = 0, hi = 0;
    char perms[5] = {};
    if (std::sscanf(line.c_str(), "%lx-%lx %4s", &lo, &hi, perms) == 3 &&
        at >= lo && at < hi) {
      return perms;
    }
  }
  return "";
}

TEST(MappingViewsTest, ViewsShareTheMapsBytesWithoutMappingsOfTheirOwn) {
  auto map = MakeMappable(8, 1024, true);  // two pages
  ASSERT_TRUE(map);
  MapFd fd = map->fd();
  const size_t before = MemfdMappings().size();

  Mapping rw;
  ASSERT_EQ(fd.Mmap(4096, 4096, kProtRead | kProtWrite, kMapShared, &rw), 0);
  EXPECT_TRUE(rw.view());
  EXPECT_TRUE(rw.writable());
  EXPECT_EQ(rw.addr(), map->data() + 4096);
  EXPECT_EQ(rw.length(), 4096u);
  const uint64_t written = 0x0102030405060708;
  std::memcpy(rw.addr() + 8, &written, 8);  // key 513
  uint64_t got = 0;
  ASSERT_EQ(fd.Lookup(513, &got), 0);
  EXPECT_EQ(got, written);
  EXPECT_EQ(MemfdMappings().size(), before);  // the writable view maps nothing

  // Read-only views share one read-only mapping of the whole region.
  Mapping ro1, ro2;
  ASSERT_EQ(fd.Mmap(0, 8192, kProtRead, kMapShared, &ro1), 0);
  ASSERT_EQ(fd.Mmap(4096, 100, kProtRead, kMapShared, &ro2), 0);
  EXPECT_TRUE(ro1.view() && ro2.view());
  EXPECT_FALSE(ro1.writable());
  EXPECT_EQ(ro2.addr(), ro1.addr() + 4096);
  EXPECT_EQ(ro2.length(), 4096u);
  EXPECT_EQ(MemfdMappings().size(), before + 1);
  EXPECT_EQ(PermissionsAt(ro1.addr()), "r--s");
  uint64_t seen = 0;
  std::memcpy(&seen, ro2.addr() + 8, 8);
  EXPECT_EQ(seen, written);
  const uint64_t updated = 77;
  ASSERT_EQ(fd.Update(513, &updated), 0);
  std::memcpy(&seen, ro1.addr() + 4096 + 8, 8);
  EXPECT_EQ(seen, updated);

  // Resetting a view unmaps nothing; the read-only mapping goes with the map.
  const uint8_t* ro_base = ro1.addr();
  ro1.Reset();
  ro2.Reset();
  rw.Reset();
  EXPECT_EQ(MemfdMappings().size(), before + 1);
  map.reset();
  EXPECT_EQ(MemfdMappings().size(), before - 1);  // its data mapping went too
  EXPECT_EQ(PermissionsAt(ro_base), "");
}

TEST(MappingViewsTest, WritableViewsCountForFreezeAsMappingsDo) {
  auto map = MakeMappable(8, 16, true);
  ASSERT_TRUE(map);
  MapFd fd = map->fd();
  Mapping rw;
  ASSERT_EQ(fd.Mmap(0, 4096, kProtRead | kProtWrite, kMapShared, &rw), 0);
  EXPECT_EQ(fd.Freeze(), EBUSY);
  Mapping moved = std::move(rw);  // the count moves with the view
  EXPECT_EQ(fd.Freeze(), EBUSY);
  moved.Reset();
  EXPECT_EQ(fd.Freeze(), 0);
  Mapping after;
  EXPECT_EQ(fd.Mmap(0, 4096, kProtRead | kProtWrite, kMapShared, &after), EPERM);
  EXPECT_EQ(fd.Mmap(0, 4096, kProtRead, kMapShared, &after), 0);
  EXPECT_TRUE(after.view());
}

TEST(MappingViewsTest, EveryMmapAnswersAsWithRealMappings) {
  struct Call {
    uint64_t offset, length;
    int prot, flags;
  };
  const std::vector<Call> calls = {
      {0, 8192, kProtRead, kMapShared},
      {0, 8192, kProtRead | kProtWrite, kMapShared},
      {4096, 4096, kProtRead | kProtWrite, kMapShared},
      {0, 1, kProtRead, kMapShared},
      {4096, 1, kProtWrite, kMapShared},
      {0, 8193, kProtRead, kMapShared},      // past the region
      {8192, 1, kProtRead, kMapShared},      // starts at its end
      {100, 4096, kProtRead, kMapShared},    // misaligned offset
      {0, 0, kProtRead, kMapShared},         // empty
      {0, 4096, kProtRead, kMapPrivate},     // private
      {0, 4096, kProtRead | kProtExec, kMapShared},
      {0, 4096, 0, kMapShared},              // PROT_NONE
      {uint64_t{1} << 40, 4096, kProtRead, kMapShared},
      {0, ~uint64_t{0}, kProtRead, kMapShared},
  };
  for (uint32_t extra : {0u, kFRdonlyProg, kFRdonly, kFWronly}) {
    auto viewed = MakeMappable(8, 1024, true, false, extra);
    auto mapped = MakeMappable(8, 1024, false, false, extra);
    ASSERT_TRUE(viewed && mapped);
    for (bool frozen : {false, true}) {
      if (frozen) {
        ASSERT_EQ(viewed->fd().Freeze(), mapped->fd().Freeze()) << extra;
      }
      for (const Call& c : calls) {
        Mapping v, m;
        const int err_v = viewed->fd().Mmap(c.offset, c.length, c.prot, c.flags, &v);
        const int err_m = mapped->fd().Mmap(c.offset, c.length, c.prot, c.flags, &m);
        SCOPED_TRACE(::testing::Message() << "flags " << extra << " frozen " << frozen
                                          << " offset " << c.offset << " length "
                                          << c.length << " prot " << c.prot);
        EXPECT_EQ(err_v, err_m);
        EXPECT_EQ(v.length(), m.length());
        EXPECT_EQ(v.writable(), m.writable());
        EXPECT_EQ(v.view(), err_v == 0);
        EXPECT_FALSE(m.view());
        if (err_v == 0 && err_m == 0 && (c.prot & kProtRead)) {
          EXPECT_EQ(std::memcmp(v.addr(), m.addr(), v.length()), 0);
        }
      }
    }
  }
}

TEST(MappingViewsTest, ARecycledMemfdKeepsItsReadOnlyMappingUntilReleased) {
  ReleaseRecycledMemfds();
  const size_t before = MemfdMappings().size();
  const uint8_t* ro_base = nullptr;
  {
    auto map = MakeMappable(16, 300, true, true);  // two pages
    ASSERT_TRUE(map);
    Mapping ro;
    ASSERT_EQ(map->fd().Mmap(0, 8192, kProtRead, kMapShared, &ro), 0);
    ro_base = ro.addr();
    EXPECT_EQ(MemfdMappings().size(), before + 2);  // data + read-only
  }
  EXPECT_EQ(MemfdMappings().size(), before + 2);  // cached with the memfd
  {
    auto map = MakeMappable(16, 300, true, true);
    ASSERT_TRUE(map);
    uint64_t v[2] = {5, 6};
    ASSERT_EQ(map->fd().Update(299, v), 0);
    Mapping ro;
    ASSERT_EQ(map->fd().Mmap(4096, 4096, kProtRead, kMapShared, &ro), 0);
    EXPECT_EQ(ro.addr(), ro_base + 4096);  // the same mapping, not a new one
    EXPECT_EQ(MemfdMappings().size(), before + 2);
    uint64_t seen[2] = {};
    std::memcpy(seen, ro.addr() + 299 * 16 - 4096, 16);
    EXPECT_EQ(seen[0], 5u);
    EXPECT_EQ(seen[1], 6u);
  }
  ReleaseRecycledMemfds();
  EXPECT_EQ(MemfdMappings().size(), before);
  EXPECT_EQ(PermissionsAt(ro_base), "");
}

}  // namespace
}  // namespace amc::impl
