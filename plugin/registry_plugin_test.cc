#include <gtest/gtest.h>

#include "backends/registry.h"
#include "backends/replay.h"
#include "core/kernel_profile.h"
#include "core/ops_text.h"

namespace amc::backends {
namespace {

TEST(RegistryPluginTest, PluginEntryBecomesAnAvailableBackendAfterTheModel) {
  Selection s =
      SelectBackends(std::string("model,plugin:") + AMC_TEST_PLUGIN_FULL_PATH);
  ASSERT_TRUE(s.error.empty()) << s.error;
  ASSERT_EQ(s.available.size(), 2u);
  EXPECT_EQ(s.available[0]->Name(), "model");
  EXPECT_EQ(s.available[1]->Name(), "plugin:libamc_test_plugin_full.so");
}

TEST(RegistryPluginTest, UnloadablePluginIsASelectionErrorWithTheReason) {
  Selection s = SelectBackends(std::string("model,plugin:") +
                               AMC_TEST_PLUGIN_BAD_ABI_PATH);
  EXPECT_NE(s.error.find("cannot load backend 'plugin:"), std::string::npos)
      << s.error;
  EXPECT_NE(s.error.find("ABI version 999"), std::string::npos) << s.error;
}

TEST(RegistryPluginTest, RecordedEnvironmentReachesThePlugin) {
  core::Environment env{5, 4096, ""};
  Selection s =
      SelectBackends(std::string("plugin:") + AMC_TEST_PLUGIN_FULL_PATH, env);
  ASSERT_EQ(s.available.size(), 1u) << s.error;
  EXPECT_EQ(s.available[0]->Env().possible_cpus, 5u);
}

TEST(RegistryPluginTest, CaseOfAReleaseWithAnotherProfileLeavesThePluginOut) {
  core::Environment host = core::HostEnvironment();
  std::string other = core::KernelProfileForRelease(host.kernel_release).name ==
                              core::KernelProfileForRelease("5.10.0").name
                          ? "7.3.4"
                          : "5.10.0";
  core::Environment env{2, 4096, other};
  Selection s =
      SelectBackends(std::string("model,plugin:") + AMC_TEST_PLUGIN_FULL_PATH, env);
  ASSERT_TRUE(s.error.empty()) << s.error;
  ASSERT_EQ(s.available.size(), 1u);
  EXPECT_EQ(s.available[0]->Name(), "model");
  ASSERT_EQ(s.not_applicable.size(), 1u);
  EXPECT_NE(s.not_applicable[0].second.find("recorded on Linux " + other),
            std::string::npos)
      << s.not_applicable[0].second;

  core::Environment same{2, 4096, host.kernel_release};
  Selection t =
      SelectBackends(std::string("model,plugin:") + AMC_TEST_PLUGIN_FULL_PATH, same);
  EXPECT_EQ(t.available.size(), 2u);
  EXPECT_TRUE(t.not_applicable.empty());
}

TEST(RegistryPluginTest, ReplayOfPercpuCaseRunsOnThePluginWithItsEnvironment) {
  auto parsed = core::ParseOps(
      "env possible_cpus=3 page_size=4096\n"
      "map type=PERCPU_ARRAY key_size=4 value_size=4 max_entries=2 flags=0 -> "
      "ok\n"
      "update key=1 value=01000000+00*4+02000000+00*4+03000000+00*4 "
      "flags=BPF_ANY -> ok\n"
      "prog_lookup cpu=2 key=1 -> ok value=03000000 aligned=1\n"
      "prog_lookup cpu=3 key=1 -> EINVAL\n",
      "inline");
  ASSERT_TRUE(std::holds_alternative<core::Sequence>(parsed))
      << std::get<core::ParseError>(parsed).ToString();
  Replayer replayer(std::string("model,plugin:") + AMC_TEST_PLUGIN_FULL_PATH);
  ReplayOutcome out =
      replayer.ReplaySequence(std::get<core::Sequence>(parsed), "inline");
  EXPECT_TRUE(out.ok()) << out.Line();
  ASSERT_EQ(out.backends_run.size(), 2u) << out.Line();
  EXPECT_EQ(out.backends_run[1], "plugin:libamc_test_plugin_full.so");
}

TEST(RegistryPluginTest, ReplayOfCaseWithUnsupportedKindNamesWhatWasLeftOut) {
  auto parsed = core::ParseOps(
      "map type=ARRAY key_size=4 value_size=8 max_entries=4 "
      "flags=BPF_F_MMAPABLE -> ok\n"
      "mmap slot=0 offset=0 length=4096 prot=PROT_READ shared=1 -> ok\n",
      "inline");
  ASSERT_TRUE(std::holds_alternative<core::Sequence>(parsed))
      << std::get<core::ParseError>(parsed).ToString();
  Replayer replayer(std::string("model,plugin:") +
                    AMC_TEST_PLUGIN_PARTIAL_PATH);
  ReplayOutcome out =
      replayer.ReplaySequence(std::get<core::Sequence>(parsed), "inline");
  ASSERT_EQ(out.run.left_out.size(), 1u) << out.Line();
  EXPECT_NE(out.Line().find("plugin:libamc_test_plugin_partial.so"),
            std::string::npos)
      << out.Line();
}

// ---- ABI 3 declarations: the release a plug-in targets, the map types and
// flags it leaves out.

core::Sequence Parse(const std::string& text) {
  auto parsed = core::ParseOps(text, "inline");
  EXPECT_TRUE(std::holds_alternative<core::Sequence>(parsed))
      << std::get<core::ParseError>(parsed).ToString();
  return std::get<core::Sequence>(parsed);
}

// A BPF_F_CPU lookup: EINVAL before Linux 7.0, a value since.
constexpr char kCpuFlagCase[] =
    "env possible_cpus=2 page_size=4096 kernel=7.3.4\n"
    "map type=PERCPU_ARRAY key_size=4 value_size=4 max_entries=2 flags=0 -> ok\n"
    "lookup key=0 flags=BPF_F_CPU|CPU(1) -> ok value=00000000\n";

TEST(RegistryPluginTargetTest, PluginTargetingAReleaseMakesTheModelAnswerAsIt) {
  unsetenv("AMC_KERNEL_PROFILE");  // (it would force every profile)
  Selection s = SelectBackends(std::string("model,impl,plugin:") +
                               AMC_TEST_PLUGIN_TARGET_7_3_PATH);
  ASSERT_TRUE(s.error.empty()) << s.error;
  ASSERT_EQ(s.available.size(), 3u);
  EXPECT_EQ(s.available[0]->Env().kernel_release, "7.3");
  EXPECT_EQ(s.available[1]->Env().kernel_release, "7.3");
  EXPECT_EQ(s.available[2]->Env().kernel_release, "7.3");
  EXPECT_TRUE(s.not_applicable.empty());
}

TEST(RegistryPluginTargetTest, CaseOfTheTargetedReleaseRunsOnThePlugin) {
  Replayer replayer(std::string("model,plugin:") + AMC_TEST_PLUGIN_TARGET_7_3_PATH);
  ReplayOutcome out = replayer.ReplaySequence(Parse(kCpuFlagCase), "inline");
  EXPECT_TRUE(out.ok()) << out.Line();
  EXPECT_FALSE(out.skipped()) << out.Line();
  ASSERT_EQ(out.backends_run.size(), 2u) << out.Line();
  EXPECT_EQ(out.backends_run[1], "plugin:libamc_test_plugin_target_7_3.so");
}

TEST(RegistryPluginTargetTest, CaseOfAnotherReleaseIsASkipForThePluginNotAPass) {
  Replayer replayer(std::string("model,plugin:") + AMC_TEST_PLUGIN_FULL_PATH);
  ReplayOutcome out = replayer.ReplaySequence(Parse(kCpuFlagCase), "inline");
  core::Environment host = core::HostEnvironment();
  if (core::KernelProfileForRelease(host.kernel_release) ==
      core::KernelProfileForRelease("7.3.4")) {
    GTEST_SKIP() << "this machine runs the case's profile";
  }
  EXPECT_TRUE(out.ok()) << out.Line();
  EXPECT_TRUE(out.skipped()) << out.Line();
  EXPECT_EQ(out.Line().rfind("SKIP inline: plugin:libamc_test_plugin_full.so: "
                             "the case was recorded on Linux 7.3.4",
                             0),
            0u)
      << out.Line();
  EXPECT_NE(out.Line().find("(checked on model)"), std::string::npos) << out.Line();
}

TEST(RegistryPluginTargetTest, RunWithTheKernelLeavesOutAPluginOfAnotherProfile) {
  core::Environment host = core::HostEnvironment();
  if (core::KernelProfileForRelease(host.kernel_release) ==
      core::KernelProfileForRelease("7.3")) {
    GTEST_SKIP() << "this machine runs the plug-in's profile";
  }
  Selection s = SelectBackends(std::string("model,kernel,plugin:") +
                               AMC_TEST_PLUGIN_TARGET_7_3_PATH);
  ASSERT_TRUE(s.error.empty()) << s.error;
  ASSERT_EQ(s.not_applicable.size(), 1u);
  EXPECT_EQ(s.not_applicable[0].first, "plugin:libamc_test_plugin_target_7_3.so");
  EXPECT_NE(s.not_applicable[0].second.find("answers as Linux 7.3 (kernel profile 7.2+)"),
            std::string::npos)
      << s.not_applicable[0].second;
}

TEST(RegistryPluginTargetTest, DeclaredMapTypeAndFlagLeaveThePluginOutWithTheReason) {
  Replayer replayer(std::string("model,plugin:") + AMC_TEST_PLUGIN_NO_PERCPU_PATH);
  ReplayOutcome percpu = replayer.ReplaySequence(
      Parse("env possible_cpus=2 page_size=4096\n"
            "map type=PERCPU_ARRAY key_size=4 value_size=4 max_entries=2 "
            "flags=0 -> ok\nlookup key=0 flags=BPF_ANY -> ok value=00*16\n"),
      "percpu");
  EXPECT_TRUE(percpu.skipped()) << percpu.Line();
  EXPECT_NE(percpu.Line().find("does not implement map type PERCPU_ARRAY: no "
                               "per-CPU storage in this runtime"),
            std::string::npos)
      << percpu.Line();
  ReplayOutcome mmapable = replayer.ReplaySequence(
      Parse("map type=ARRAY key_size=4 value_size=4 max_entries=2 "
            "flags=BPF_F_MMAPABLE -> ok\n"),
      "mmapable");
  EXPECT_TRUE(mmapable.skipped()) << mmapable.Line();
  EXPECT_NE(mmapable.Line().find("does not implement map_flags 0x400: maps are "
                                 "not mappable here"),
            std::string::npos)
      << mmapable.Line();
  ReplayOutcome plain = replayer.ReplaySequence(
      Parse("map type=ARRAY key_size=4 value_size=4 max_entries=2 flags=0 -> "
            "ok\nlookup key=0 flags=BPF_ANY -> ok value=00000000\n"),
      "plain");
  EXPECT_TRUE(plain.ok()) << plain.Line();
  EXPECT_FALSE(plain.skipped()) << plain.Line();
  EXPECT_EQ(plain.backends_run.size(), 2u) << plain.Line();
}

TEST(RegistryPluginTargetTest, TableOfAnOlderAbiLoadsWithoutDeclarations) {
  Selection s = SelectBackends(std::string("model,plugin:") +
                               AMC_TEST_PLUGIN_ABI_V2_PATH);
  ASSERT_TRUE(s.error.empty()) << s.error;
  ASSERT_EQ(s.available.size(), 2u);
  core::MapSpec percpu;
  percpu.type = core::MapType::kPercpuArray;
  percpu.map_flags = 1u << 10;
  EXPECT_EQ(s.available[1]->UnsupportedSpec(percpu), "");
  // The bytes past its table are not read as a target release.
  EXPECT_EQ(s.available[1]->Env().kernel_release, s.available[0]->Env().kernel_release);
}

}  // namespace
}  // namespace amc::backends
