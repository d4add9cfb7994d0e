#include "core/kernel_profile.h"

#include <gtest/gtest.h>

#include <cstdlib>

namespace amc::core {
namespace {

TEST(KernelProfileTest, ReleasesBefore615MapExecutable) {
  EXPECT_FALSE(KernelProfileForRelease("6.1.0-56-cloud-amd64").exec_mappings_refused);
  EXPECT_FALSE(KernelProfileForRelease("6.12.117+deb12-cloud-amd64").exec_mappings_refused);
  EXPECT_FALSE(KernelProfileForRelease("6.14.9").exec_mappings_refused);
  EXPECT_EQ(KernelProfileForRelease("5.15.0").name, "6.1-6.11");
}

TEST(KernelProfileTest, FreezeNeedsWritePermissionFrom612) {
  EXPECT_FALSE(KernelProfileForRelease("6.1.0-56-cloud-amd64").freeze_needs_write_permission);
  EXPECT_TRUE(KernelProfileForRelease("6.12.117+deb12-cloud-amd64").freeze_needs_write_permission);
  EXPECT_EQ(KernelProfileForRelease("6.12.117+deb12-cloud-amd64").name, "6.12-6.14");
  EXPECT_TRUE(KernelProfileForRelease("6.18.44").freeze_needs_write_permission);
}

TEST(KernelProfileTest, Releases615AndLaterRefuseExecutableMappings) {
  EXPECT_TRUE(KernelProfileForRelease("6.15.0").exec_mappings_refused);
  EXPECT_TRUE(KernelProfileForRelease("6.18.44-fc-v595").exec_mappings_refused);
  EXPECT_TRUE(KernelProfileForRelease("7.0.1").exec_mappings_refused);
  EXPECT_EQ(KernelProfileForRelease("").name, "6.15+");
  EXPECT_EQ(KernelProfileForRelease("garbage").name, "6.15+");
}

TEST(KernelProfileTest, EnvironmentOverrideWinsAndUnknownNamesAreErrors) {
  setenv("AMC_KERNEL_PROFILE", "6.1-6.11", 1);
  EXPECT_EQ(SelectKernelProfile("6.18.0")->name, "6.1-6.11");
  setenv("AMC_KERNEL_PROFILE", "nonsense", 1);
  std::string error;
  EXPECT_FALSE(SelectKernelProfile("6.18.0", &error).has_value());
  EXPECT_EQ(error, "unknown kernel profile 'nonsense' (known: 6.1-6.11, 6.12-6.14, 6.15+)");
  unsetenv("AMC_KERNEL_PROFILE");
  EXPECT_EQ(SelectKernelProfile("6.12.1")->name, "6.12-6.14");
}

}  // namespace
}  // namespace amc::core
