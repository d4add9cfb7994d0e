// oracle_kernel/require_kernel_test_util.h: for the kernel backend's tests.
// REQUIRE_KERNEL(backend) skips the test when the kernel backend cannot run
// here, with the reason, and fails it instead where the kernel must run
// (AMC_REQUIRE_KERNEL=1, as in CI): a skipped kernel test is never a pass
// there.
#ifndef AMC_ORACLE_KERNEL_REQUIRE_KERNEL_TEST_UTIL_H_
#define AMC_ORACLE_KERNEL_REQUIRE_KERNEL_TEST_UTIL_H_

#include <gtest/gtest.h>

#include <string>

#include "backends/registry.h"
#include "core/backend.h"

#define REQUIRE_KERNEL(backend)                                       \
  do {                                                                \
    ::amc::core::Availability a = (backend).Probe();                  \
    if (!a.available) {                                               \
      ::amc::backends::Selection s;                                   \
      s.unavailable.emplace_back("kernel", a.reason);                 \
      std::string missing = ::amc::backends::MissingRequiredBackends(s); \
      if (!missing.empty()) FAIL() << missing;                        \
      GTEST_SKIP() << a.reason;                                       \
    }                                                                 \
  } while (0)

#endif  // AMC_ORACLE_KERNEL_REQUIRE_KERNEL_TEST_UTIL_H_
