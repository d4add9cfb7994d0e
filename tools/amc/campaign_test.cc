#include "tools/amc/campaign.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <set>

#include "backends/replay.h"
#include "core/ops_text.h"

namespace amc::cli {
namespace {

CampaignPlan ModelPlan(const std::string& list = "model") {
  backends::Selection selection = backends::SelectBackends(list);
  EXPECT_EQ(selection.error, "");
  return PlanCampaign(selection, 16);
}

// A backend without mmap ops that says why, like a plug-in's capability mask.
class NoMmapBackend : public core::Backend {
 public:
  std::string Name() const override { return "nommap"; }
  core::Availability Probe() override { return {}; }
  core::Environment Env() const override { return core::HostEnvironment(); }
  core::CreateResult Create(const core::MapSpec&) override { return {}; }
  bool Supports(core::OpKind kind) const override {
    return kind != core::OpKind::kMmap;
  }
  std::string UnsupportedReason(core::OpKind kind) const override {
    return kind == core::OpKind::kMmap ? "no shared memory here" : "";
  }
};

TEST(CampaignTest, PlanLeavesOutKindsABackendLacksWithItsReason) {
  backends::Selection selection = backends::SelectBackends("model");
  selection.available.push_back(std::make_unique<NoMmapBackend>());
  CampaignPlan plan = PlanCampaign(selection, 16);
  EXPECT_FALSE(plan.gen.kinds.test(static_cast<size_t>(core::OpKind::kMmap)));
  EXPECT_TRUE(plan.gen.kinds.test(static_cast<size_t>(core::OpKind::kLookup)));
  ASSERT_EQ(plan.left_out_kinds.size(), 1u);
  EXPECT_EQ(plan.left_out_kinds[0].first, "mmap");
  EXPECT_EQ(plan.left_out_kinds[0].second,
            "not run by nommap (no shared memory here)");
}

// A backend that cannot create PERCPU_ARRAY maps nor BPF_F_MMAPABLE ones,
// like a plug-in's ABI 3 declarations.
class ArrayOnlyBackend : public NoMmapBackend {
 public:
  std::string Name() const override { return "arrayonly"; }
  bool Supports(core::OpKind) const override { return true; }
  std::string UnsupportedSpec(const core::MapSpec& spec) const override {
    if (spec.type == core::MapType::kPercpuArray) return "no per-CPU maps";
    if (spec.map_flags & core::kBpfFMmapable) return "no mmap";
    return "";
  }
};

TEST(CampaignTest, PlanNeverGeneratesMapsABackendCannotCreateAndSaysSo) {
  backends::Selection selection = backends::SelectBackends("model");
  selection.available.push_back(std::make_unique<ArrayOnlyBackend>());
  CampaignPlan plan = PlanCampaign(selection, 16);
  EXPECT_EQ(plan.gen.excluded_map_types,
            1u << static_cast<uint32_t>(core::MapType::kPercpuArray));
  EXPECT_EQ(plan.gen.excluded_map_flags, core::kBpfFMmapable);
  ASSERT_EQ(plan.left_out_kinds.size(), 2u);
  EXPECT_EQ(plan.left_out_kinds[0].first, "PERCPU_ARRAY maps");
  EXPECT_EQ(plan.left_out_kinds[0].second, "not run by arrayonly (no per-CPU maps)");
  EXPECT_EQ(plan.left_out_kinds[1].first, "map_flags 0x400");
  size_t arrays = 0;
  for (uint64_t i = 0; i < 2000; ++i) {
    core::Sequence seq = CampaignSequence(plan, 5, i);
    ASSERT_EQ(seq.spec.type, core::MapType::kArray) << i;
    ASSERT_EQ(seq.spec.map_flags & core::kBpfFMmapable, 0u) << i;
    ++arrays;
  }
  EXPECT_EQ(arrays, 2000u);
}

TEST(CampaignTest, SequenceSeedsDifferPerIndexAndRepeatPerSeed) {
  std::set<uint64_t> seen;
  for (uint64_t i = 0; i < 1000; ++i) seen.insert(SequenceSeed(42, i));
  EXPECT_EQ(seen.size(), 1000u);
  EXPECT_EQ(SequenceSeed(42, 7), SequenceSeed(42, 7));
  EXPECT_NE(SequenceSeed(42, 7), SequenceSeed(43, 7));
}

TEST(CampaignTest, SameSeedGivesSameSequencesWhateverTheJobCount) {
  CampaignPlan plan = ModelPlan();
  CampaignOptions options;
  options.backend_list = "model";
  options.seed = 99;
  options.sequences = 40;
  options.collect_cases = true;
  options.jobs = 1;
  CampaignResult one = RunCampaign(plan, options);
  options.jobs = 2;
  CampaignResult two = RunCampaign(plan, options);
  ASSERT_EQ(one.sequences, 40u);
  ASSERT_EQ(two.sequences, 40u);
  EXPECT_EQ(one.ops, two.ops);
  EXPECT_EQ(one.ops_by_kind, two.ops_by_kind);
  EXPECT_EQ(one.backends[0].errnos, two.backends[0].errnos);
  ASSERT_EQ(one.case_blocks.size(), 1u);
  ASSERT_EQ(two.case_blocks.size(), 1u);
  EXPECT_EQ(one.case_blocks[0].sequences, 40u);
  EXPECT_EQ(one.case_blocks[0].agreed, 40u);
  EXPECT_EQ(one.case_blocks[0].ops, two.case_blocks[0].ops);
  EXPECT_EQ(CampaignSequence(plan, 99, 5), CampaignSequence(plan, 99, 5));
  EXPECT_NE(CampaignSequence(plan, 99, 5), CampaignSequence(plan, 99, 6));
}

TEST(CampaignTest, TalliesCountEveryOpOnEveryBackend) {
  CampaignPlan plan = ModelPlan();
  CampaignOptions options;
  options.backend_list = "model";
  options.seed = 3;
  options.sequences = 25;
  CampaignResult result = RunCampaign(plan, options);
  uint64_t by_kind = 0;
  for (uint64_t n : result.ops_by_kind) by_kind += n;
  EXPECT_EQ(by_kind, result.ops);
  ASSERT_EQ(result.backends.size(), 1u);
  uint64_t by_errno = 0;
  for (const auto& [name, n] : result.backends[0].errnos) by_errno += n;
  EXPECT_EQ(by_errno, result.backends[0].ops);
  EXPECT_EQ(result.backends[0].sequences, 25u);
  EXPECT_TRUE(result.divergences.empty());
}

TEST(CampaignTest, FaultyBackendDivergenceIsMinimizedIntoAFileThatReplayFails) {
  auto dir = std::filesystem::temp_directory_path() /
             ("amc_campaign_test_out_" + std::to_string(getpid()));
  std::filesystem::remove_all(dir);
  CampaignPlan plan = ModelPlan("model,faulty");
  CampaignOptions options;
  options.backend_list = "model,faulty";
  options.seed = 1;
  options.sequences = 200;
  options.jobs = 2;
  options.out_dir = dir.string();
  options.max_reproducers = 3;
  CampaignResult result = RunCampaign(plan, options);
  ASSERT_FALSE(result.divergences.empty());
  std::string file;
  for (const auto& d : result.divergences) {
    if (!d.file.empty()) file = d.file;
  }
  ASSERT_FALSE(file.empty());
  auto parsed = core::ReadOpsFile(file);
  ASSERT_TRUE(std::holds_alternative<core::Sequence>(parsed));
  EXPECT_LE(std::get<core::Sequence>(parsed).steps.size(), 3u);
  backends::Replayer replayer("model,faulty");
  EXPECT_FALSE(replayer.ReplayFile(file).ok());
  backends::Replayer model_only("model");
  EXPECT_TRUE(model_only.ReplayFile(file).ok());
  std::filesystem::remove_all(dir);
}

TEST(CampaignTest, LongRunsKeepBoundedRecordsButCountEveryDivergence) {
  auto dir = std::filesystem::temp_directory_path() /
             ("amc_campaign_test_bound_" + std::to_string(getpid()));
  std::filesystem::remove_all(dir);
  CampaignPlan plan = ModelPlan("model,faulty");
  CampaignOptions options;
  options.backend_list = "model,faulty";
  options.seed = 5;
  options.sequences = 2500;
  options.jobs = 2;
  options.out_dir = dir.string();
  options.max_reproducers = 1;
  options.max_divergence_records = 5;
  options.collect_cases = true;
  CampaignResult result = RunCampaign(plan, options);
  ASSERT_GT(result.divergent_sequences, 5u);
  // Every new kind keeps a record; repeats only up to the limit.
  size_t firsts = 0;
  for (const auto& d : result.divergences) firsts += d.same_as ? 0 : 1;
  EXPECT_LE(result.divergences.size(), std::max<size_t>(5, firsts));
  // Nothing is lost: firsts + their repeats = every divergent sequence.
  uint64_t repeats = 0;
  for (const auto& [first, n] : result.same_counts) repeats += n;
  EXPECT_EQ(firsts + repeats, result.divergent_sequences);
  // Blocks of 1000 indices cover every sequence that ran.
  ASSERT_EQ(result.case_blocks.size(), 3u);
  uint64_t ran = 0, agreed = 0;
  for (const auto& b : result.case_blocks) {
    ran += b.sequences;
    agreed += b.agreed;
  }
  EXPECT_EQ(ran, 2500u);
  EXPECT_EQ(ran - agreed, result.divergent_sequences);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace amc::cli

namespace amc::cli {
namespace {

TEST(CampaignGeometryTest, DefaultRotationHasOfflineCpusManyCpusAndLargePages) {
  core::Environment host{2, 4096, "6.18.0"};
  std::vector<core::Environment> g = DefaultGeometries(host);
  ASSERT_GE(g.size(), 5u);
  EXPECT_EQ(g[0], host);
  bool offline = false, many = false, large = false;
  for (const auto& e : g) {
    // Every geometry answers as the host's release (one kernel profile).
    EXPECT_EQ(e.kernel_release, "6.18.0");
    offline |= e.Online() < e.possible_cpus;
    many |= e.possible_cpus == 64;
    large |= e.page_size == 65536;
  }
  EXPECT_TRUE(offline);
  EXPECT_TRUE(many);
  EXPECT_TRUE(large);
  EXPECT_EQ(GeometryName(core::Environment{4, 4096, "", 2}),
            "4 possible/2 online CPUs, 4 KiB pages");
}

TEST(CampaignGeometryTest, SequenceIRunsInGeometryIModTheirNumber) {
  CampaignPlan plan;
  plan.geometries = {core::Environment{1, 4096, ""},
                     core::Environment{64, 4096, "", 3}};
  EXPECT_EQ(CampaignGeometry(plan, 4).possible_cpus, 1u);
  EXPECT_EQ(CampaignGeometry(plan, 7).Online(), 3u);
  // Every per-CPU update of a 64-CPU sequence carries 64 slots, and its
  // maps stay within the generator's storage bound.
  for (uint64_t i = 1; i < 200; i += 2) {
    core::Sequence seq = CampaignSequence(plan, 9, i);
    if (seq.spec.type != core::MapType::kPercpuArray) continue;
    if (seq.spec.value_size <= 4096) {
      EXPECT_LE(uint64_t{seq.spec.max_entries} * core::ElemSize(seq.spec) * 64,
                plan.gen.max_map_bytes + core::ElemSize(seq.spec) * 64);
    }
  }
}

TEST(CampaignGeometryTest, GeometriesTheBackendsCannotTakeAreDroppedWithAReason) {
  std::vector<core::Environment> g = {core::Environment{4, 4096, "", 2},
                                      core::Environment{4, 4096, "", 2}};
  // "kernel" runs only where this machine matches; ask for a list the
  // geometry cannot give.
  auto dropped = FilterGeometries("model", {"model", "impl"}, &g);
  EXPECT_TRUE(g.empty());
  ASSERT_EQ(dropped.size(), 2u);
  EXPECT_NE(dropped[0].first.find("4 possible/2 online"), std::string::npos);
  std::vector<core::Environment> kept = {core::Environment{4, 4096, "", 2}};
  EXPECT_TRUE(FilterGeometries("model,impl", {"model", "impl"}, &kept).empty());
  EXPECT_EQ(kept.size(), 1u);
}

}  // namespace
}  // namespace amc::cli
