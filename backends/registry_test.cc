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

TEST(ReplayOutcomeTest, FileWithAKindABackendCannotRunIsSkippedNotPassed) {
  ReplayOutcome out;
  out.path = "f.ops";
  out.sequence = core::Sequence{};
  out.backends_run = {"model"};
  out.run.left_out.emplace_back(
      "kernel", "does not implement prog_lookup: needs Linux 5.14");
  EXPECT_TRUE(out.ok());
  EXPECT_TRUE(out.skipped());
  EXPECT_EQ(out.Line(),
            "SKIP f.ops: kernel does not implement prog_lookup: needs Linux "
            "5.14 (checked on model)");
  out.run.left_out.clear();
  EXPECT_FALSE(out.skipped());
  // A backend that could not check the case (recorded elsewhere) makes it a
  // SKIP too.
  out.not_applicable.emplace_back("plugin:x.so", "the case was recorded on Linux 7.3");
  EXPECT_TRUE(out.skipped());
  EXPECT_EQ(out.Line(),
            "SKIP f.ops: plugin:x.so: the case was recorded on Linux 7.3 "
            "(checked on model)");
  out.not_applicable.clear();
  EXPECT_EQ(out.Line().rfind("PASS f.ops", 0), 0u) << out.Line();
}

TEST(ReplayOutcomeTest, KernelKindGapFailsOnlyUnderRequireKernel) {
  std::vector<std::pair<std::string, std::string>> gaps = {
      {"plugin:x.so", "does not implement mmap"},
      {"kernel", "does not implement prog_update: needs Linux 5.14"}};
  const char* old = std::getenv("AMC_REQUIRE_KERNEL");
  std::string saved = old ? old : "";
  unsetenv("AMC_REQUIRE_KERNEL");
  EXPECT_EQ(MissingRequiredKinds(gaps), "");
  setenv("AMC_REQUIRE_KERNEL", "1", 1);
  std::string missing = MissingRequiredKinds(gaps);
  EXPECT_NE(missing.find("AMC_REQUIRE_KERNEL=1"), std::string::npos);
  EXPECT_NE(missing.find("prog_update: needs Linux 5.14"), std::string::npos)
      << missing;
  EXPECT_EQ(MissingRequiredKinds({gaps[0]}), "");
  if (old) {
    setenv("AMC_REQUIRE_KERNEL", saved.c_str(), 1);
  } else {
    unsetenv("AMC_REQUIRE_KERNEL");
  }
}

}  // namespace
}  // namespace amc::backends
