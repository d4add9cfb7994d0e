#include "backends/registry.h"
#include "backends/replay.h"

#include <gtest/gtest.h>

#include <cstdlib>

namespace amc::backends {
namespace {

TEST(RegistryTest, ModelIsFirstAndAlwaysAvailable) {
  ASSERT_FALSE(AllBackends().empty());
  EXPECT_EQ(AllBackends()[0].name, "model");
  Selection s = SelectBackends("model");
  EXPECT_TRUE(s.error.empty());
  ASSERT_EQ(s.available.size(), 1u);
  EXPECT_EQ(s.available[0]->Name(), "model");
}

TEST(RegistryTest, EmptyListSelectsEveryDefaultBackend) {
  Selection s = SelectBackends("");
  size_t defaults = 0;
  for (const auto& e : AllBackends()) defaults += e.in_default_set;
  EXPECT_EQ(s.available.size() + s.unavailable.size(), defaults);
  for (const auto& b : s.available) EXPECT_NE(b->Name(), "faulty");
}

TEST(RegistryTest, FaultyBackendRunsOnlyWhenNamed) {
  Selection s = SelectBackends("model,faulty");
  ASSERT_EQ(s.available.size(), 2u);
  EXPECT_EQ(s.available[1]->Name(), "faulty");
}

TEST(RegistryTest, UnknownBackendIsAnErrorListingTheKnownOnes) {
  Selection s = SelectBackends("model,nosuch");
  EXPECT_NE(s.error.find("unknown backend 'nosuch' (known: model"),
            std::string::npos)
      << s.error;
}

TEST(RegistryTest, RequestedEnvironmentReachesTheModel) {
  core::Environment env{7, 16384, "x"};
  Selection s = SelectBackends("model", env);
  ASSERT_EQ(s.available.size(), 1u);
  EXPECT_EQ(s.available[0]->Env().possible_cpus, 7u);
  EXPECT_EQ(s.available[0]->Env().page_size, 16384u);
}

TEST(RegistryTest, RequiredKernelMissingIsReported) {
  Selection s;
  s.unavailable.emplace_back("kernel", "no CAP_BPF");
  setenv("AMC_REQUIRE_KERNEL", "1", 1);
  EXPECT_EQ(MissingRequiredBackends(s),
            "AMC_REQUIRE_KERNEL=1 but the kernel backend is unavailable: no CAP_BPF");
  setenv("AMC_REQUIRE_KERNEL", "0", 1);
  EXPECT_EQ(MissingRequiredBackends(s), "");
}

}  // namespace
}  // namespace amc::backends

namespace amc::backends {
namespace {

core::Sequence ExecMappingRecordedOn(const std::string& release, int expect) {
  core::Sequence seq;
  seq.env = core::Environment{2, 4096, release};
  seq.spec.map_flags = core::kBpfFMmapable;
  seq.expect_create = 0;
  seq.steps.push_back({core::Mmap{0, 0, 4096, core::kProtRead | core::kProtExec, true},
                       core::Result::Errno(expect)});
  return seq;
}

TEST(ReplayerTest, OneReplayerKeepsEachRecordedReleasesProfile) {
  Replayer replayer("model");
  EXPECT_TRUE(replayer.ReplaySequence(ExecMappingRecordedOn("6.18.0", EPERM), "a").ok());
  EXPECT_TRUE(replayer.ReplaySequence(ExecMappingRecordedOn("6.1.0", 0), "b").ok());
  EXPECT_TRUE(replayer.ReplaySequence(ExecMappingRecordedOn("6.18.1", EPERM), "c").ok());
}

}  // namespace
}  // namespace amc::backends
