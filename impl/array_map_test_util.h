// impl/array_map_test_util.h: the map factory the impl's tests share.
#ifndef AMC_IMPL_ARRAY_MAP_TEST_UTIL_H_
#define AMC_IMPL_ARRAY_MAP_TEST_UTIL_H_

#include <gtest/gtest.h>

#include <memory>

#include "amc/array_map.h"

namespace amc::impl::test_util {

// A map that must be created (a failed creation fails the test).
inline std::unique_ptr<ArrayMap> Make(MapType type, uint32_t value_size,
                                      uint32_t max_entries, uint32_t flags = 0,
                                      uint32_t cpus = 2) {
  MapAttr attr;
  attr.type = type;
  attr.value_size = value_size;
  attr.max_entries = max_entries;
  attr.map_flags = flags;
  Options options;
  options.possible_cpus = cpus;
  std::unique_ptr<ArrayMap> map;
  EXPECT_EQ(ArrayMap::Create(attr, options, &map), 0);
  return map;
}

}  // namespace amc::impl::test_util

#endif  // AMC_IMPL_ARRAY_MAP_TEST_UTIL_H_
