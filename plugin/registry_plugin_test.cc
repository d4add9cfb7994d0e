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

}  // namespace
}  // namespace amc::backends
