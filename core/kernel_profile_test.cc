#include "core/kernel_profile.h"

#include <gtest/gtest.h>

#include <cerrno>
#include <cstdlib>

namespace amc::core {
namespace {

TEST(KernelProfileTest, ReleasesBefore615MapExecutable) {
  EXPECT_FALSE(KernelProfileForRelease("6.1.0-56-cloud-amd64").exec_mappings_refused);
  EXPECT_FALSE(KernelProfileForRelease("6.12.117+deb12-cloud-amd64").exec_mappings_refused);
  EXPECT_FALSE(KernelProfileForRelease("6.14.9").exec_mappings_refused);
  EXPECT_EQ(KernelProfileForRelease("5.15.0").name, "5.14-5.19");
}

TEST(KernelProfileTest, FreezeNeedsWritePermissionFrom65) {
  EXPECT_FALSE(KernelProfileForRelease("6.1.0-56-cloud-amd64").freeze_needs_write_permission);
  EXPECT_FALSE(KernelProfileForRelease("6.4.16").freeze_needs_write_permission);
  EXPECT_TRUE(KernelProfileForRelease("6.5.0").freeze_needs_write_permission);
  EXPECT_EQ(KernelProfileForRelease("6.5.13").name, "6.5");
  EXPECT_TRUE(KernelProfileForRelease("6.12.117+deb12-cloud-amd64").freeze_needs_write_permission);
  EXPECT_EQ(KernelProfileForRelease("6.12.117+deb12-cloud-amd64").name, "6.6-6.14");
  EXPECT_TRUE(KernelProfileForRelease("6.18.44").freeze_needs_write_permission);
}

TEST(KernelProfileTest, SpinLockRulesOf61EndWith62) {
  KernelProfile old = KernelProfileForRelease("6.1.0-56-cloud-amd64");
  EXPECT_EQ(old.name, "6.0-6.1");
  EXPECT_FALSE(old.misaligned_spin_lock_refused);
  EXPECT_FALSE(old.spin_lock_refuses_wronly_prog);
  EXPECT_EQ(old.spin_lock_wrong_map_type_errno, 524);
  EXPECT_FALSE(old.spin_lock_freeze_refused);
  for (const char* release : {"6.2.0", "6.5.13", "6.12.117+deb12-cloud-amd64", "6.18.44"}) {
    KernelProfile p = KernelProfileForRelease(release);
    EXPECT_TRUE(p.misaligned_spin_lock_refused) << release;
    EXPECT_TRUE(p.spin_lock_refuses_wronly_prog) << release;
    EXPECT_EQ(p.spin_lock_wrong_map_type_errno, EOPNOTSUPP) << release;
    EXPECT_TRUE(p.spin_lock_freeze_refused) << release;
  }
  EXPECT_EQ(KernelProfileForRelease("6.2.0").name, "6.2-6.4");
}

TEST(KernelProfileTest, SleepableProgramsMayUseLockMapsFrom66) {
  EXPECT_TRUE(KernelProfileForRelease("6.1.0-56-cloud-amd64").sleepable_programs_refuse_spin_lock);
  EXPECT_TRUE(KernelProfileForRelease("6.5.13").sleepable_programs_refuse_spin_lock);
  EXPECT_FALSE(KernelProfileForRelease("6.6.0").sleepable_programs_refuse_spin_lock);
  EXPECT_EQ(KernelProfileForRelease("6.6.0").name, "6.6-6.14");
  EXPECT_FALSE(KernelProfileForRelease("6.12.117+deb12-cloud-amd64").sleepable_programs_refuse_spin_lock);
}

TEST(KernelProfileTest, NeighbouringProfilesDifferAndNamesAreUnique) {
  const auto& all = AllKernelProfiles();
  for (size_t i = 0; i + 1 < all.size(); ++i) {
    EXPECT_FALSE(all[i] == all[i + 1]) << all[i].name << " vs " << all[i + 1].name;
    EXPECT_NE(all[i].name, all[i + 1].name);
  }
}

TEST(KernelProfileTest, Releases615AndLaterRefuseExecutableMappings) {
  EXPECT_TRUE(KernelProfileForRelease("6.15.0").exec_mappings_refused);
  EXPECT_TRUE(KernelProfileForRelease("6.18.44-fc-v595").exec_mappings_refused);
  EXPECT_TRUE(KernelProfileForRelease("7.0.1").exec_mappings_refused);
  EXPECT_EQ(KernelProfileForRelease("6.18.44-fc-v595").name, "6.15-6.18");
  EXPECT_EQ(KernelProfileForRelease("").name, "7.2+");
  EXPECT_EQ(KernelProfileForRelease("garbage").name, "7.2+");
}

TEST(KernelProfileTest, EnvironmentOverrideWinsAndUnknownNamesAreErrors) {
  setenv("AMC_KERNEL_PROFILE", "6.1", 1);
  EXPECT_EQ(SelectKernelProfile("6.18.0")->name, "6.0-6.1");
  setenv("AMC_KERNEL_PROFILE", "nonsense", 1);
  std::string error;
  EXPECT_FALSE(SelectKernelProfile("6.18.0", &error).has_value());
  EXPECT_EQ(error,
            "unknown kernel profile 'nonsense' (known: 5.10, 5.11, 5.12, 5.13, "
            "5.14-5.19, 6.0-6.1, 6.2-6.4, 6.5, 6.6-6.14, 6.15-6.18, 6.19, "
            "7.0-7.1, 7.2+, or a release such as 7.1)");
  unsetenv("AMC_KERNEL_PROFILE");
  EXPECT_EQ(SelectKernelProfile("6.12.1")->name, "6.6-6.14");
}

TEST(KernelProfileTest, LookupChecksReadPermissionFirstFrom619) {
  EXPECT_FALSE(KernelProfileForRelease("6.18.44").lookup_read_permission_first);
  EXPECT_TRUE(KernelProfileForRelease("6.19.14+deb13-cloud-amd64").lookup_read_permission_first);
  EXPECT_EQ(KernelProfileForRelease("6.19.14+deb13-cloud-amd64").name, "6.19");
  EXPECT_TRUE(KernelProfileForRelease("7.3.4+deb13-cloud-amd64").lookup_read_permission_first);
}

TEST(KernelProfileTest, PercpuCpuFlagsAndUnpaddedUpdatesFrom70) {
  KernelProfile old = KernelProfileForRelease("6.19.14+deb13-cloud-amd64");
  EXPECT_FALSE(old.percpu_cpu_flags);
  EXPECT_TRUE(old.percpu_update_writes_padding);
  for (const char* release : {"7.0.13+deb13-cloud-amd64", "7.1.13", "7.3.4"}) {
    KernelProfile p = KernelProfileForRelease(release);
    EXPECT_TRUE(p.percpu_cpu_flags) << release;
    EXPECT_FALSE(p.percpu_update_writes_padding) << release;
  }
  EXPECT_EQ(KernelProfileForRelease("7.1.13").name, "7.0-7.1");
}

TEST(KernelProfileTest, RdonlyWronlyCreationCheckedLastFrom72) {
  EXPECT_FALSE(KernelProfileForRelease("7.1.13").create_rdonly_wronly_checked_last);
  EXPECT_TRUE(KernelProfileForRelease("7.2.13+deb14-cloud-amd64").create_rdonly_wronly_checked_last);
  EXPECT_EQ(KernelProfileForRelease("7.3.4").name, "7.2+");
}

TEST(KernelProfileTest, EveryProfileIsItsOwnReleasesProfile) {
  for (const KernelProfile& p : AllKernelProfiles()) {
    std::string first = p.name.substr(0, p.name.find_first_of("-+"));
    EXPECT_EQ(KernelProfileForRelease(first + ".3").name, p.name);
    EXPECT_TRUE(KernelProfileByName(p.name).has_value());
  }
  EXPECT_EQ(KernelProfileByName("7.1")->name, "7.0-7.1");
  EXPECT_EQ(KernelProfileByName("6.12.117+deb13")->name, "6.6-6.14");
  EXPECT_FALSE(KernelProfileByName("7.x").has_value());
}

TEST(KernelProfileTest, Linux510HasItsOwnProfileWithTheOlderRules) {
  KernelProfile p = KernelProfileForRelease("5.10.0-46-cloud-amd64");
  EXPECT_EQ(p.name, "5.10");
  EXPECT_TRUE(p.map_cost_charged_to_memlock);
  EXPECT_FALSE(p.percpu_array_batch_ops);
  EXPECT_FALSE(p.lookup_and_delete_takes_flags);
  EXPECT_FALSE(p.value_size_bounded_by_int_max);
  // 5.10 also keeps every rule that 6.1 keeps.
  EXPECT_FALSE(p.misaligned_spin_lock_refused);
  EXPECT_FALSE(p.freeze_needs_write_permission);
  EXPECT_TRUE(p.sleepable_programs_refuse_spin_lock);
  EXPECT_EQ(KernelProfileForRelease("4.19.0").name, "5.10");
  EXPECT_FALSE(KernelProfileForRelease("5.11.0").map_cost_charged_to_memlock);
  EXPECT_TRUE(KernelProfileForRelease("5.13.0").percpu_array_batch_ops);
  EXPECT_FALSE(KernelProfileForRelease("5.13.0").lookup_and_delete_takes_flags);
  EXPECT_TRUE(KernelProfileForRelease("5.14.0").lookup_and_delete_takes_flags);
  EXPECT_FALSE(KernelProfileForRelease("5.19.0").value_size_bounded_by_int_max);
  EXPECT_FALSE(KernelProfileForRelease("5.10.0-46-cloud-amd64").batch_buffer_kvmalloced);
  EXPECT_FALSE(KernelProfileForRelease("5.11.0").batch_buffer_kvmalloced);
  EXPECT_TRUE(KernelProfileForRelease("5.12.0").batch_buffer_kvmalloced);
  EXPECT_TRUE(KernelProfileForRelease("6.1.0-56-cloud-amd64").value_size_bounded_by_int_max);
}

TEST(KernelProfileTest, TheNewestProfileIsTheDefaultProfile) {
  KernelProfile newest = AllKernelProfiles().back();
  newest.name = "";
  EXPECT_TRUE(newest == KernelProfile{});
}

}  // namespace
}  // namespace amc::core
