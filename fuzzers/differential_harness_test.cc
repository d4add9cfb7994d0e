#include "fuzzers/differential_harness.h"

#include <gtest/gtest.h>

#include <climits>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "core/ops_text.h"
#include "gen/chooser.h"
#include "plugin/direct_backend.h"
#include "plugin/plugin_backend.h"

namespace amc::fuzzers {
namespace {

std::vector<uint8_t> RandomInput(gen::RandomChooser& c) {
  std::vector<uint8_t> bytes(c.Range(0, 512));
  for (uint8_t& b : bytes) b = c.Byte();
  return bytes;
}

TEST(DifferentialHarnessTest, PluginsLoadIntoThisProcessInTheirListPlace) {
  const std::string path = AMC_MINIMAL_C_PLUGIN_PATH;
  DifferentialHarness harness("model,plugin:" + path);
  ASSERT_EQ(harness.error(), "");
  ASSERT_EQ(harness.backends().size(), 2u);
  EXPECT_EQ(harness.backends()[0]->Name(), "model");
  EXPECT_EQ(harness.backends()[1]->Name(), "plugin:libamc_test_plugin_minimal_c.so");
  EXPECT_NE(dynamic_cast<plugin::DirectBackend*>(harness.backends()[1]), nullptr);
  // The plug-in declares 6.18: the model answers as that release.
  EXPECT_EQ(harness.backends()[0]->Env().kernel_release, "6.18");
  gen::RandomChooser c(5);
  for (int i = 0; i < 300; ++i) {
    std::vector<uint8_t> input = RandomInput(c);
    std::optional<std::string> report = harness.Check(input.data(), input.size());
    EXPECT_FALSE(report.has_value()) << *report;
  }
}

TEST(DifferentialHarnessTest, PluginsRunInAChildWhenAsked) {
  const std::string path = AMC_MINIMAL_C_PLUGIN_PATH;
  HarnessOptions options;
  options.plugins_in_process = false;
  DifferentialHarness harness("model,plugin:" + path, options);
  ASSERT_EQ(harness.error(), "");
  ASSERT_EQ(harness.backends().size(), 2u);
  EXPECT_NE(dynamic_cast<plugin::PluginBackend*>(harness.backends()[1]), nullptr);
}

TEST(DifferentialHarnessTest, AnUnloadablePluginIsAnError) {
  DifferentialHarness harness("model,plugin:/nonexistent/libx.so");
  EXPECT_NE(harness.error().find("/nonexistent/libx.so"), std::string::npos)
      << harness.error();
}

TEST(DifferentialHarnessTest, GeneratedInputsCatchTheFaultyBackend) {
  DifferentialHarness harness("model,faulty");
  ASSERT_EQ(harness.error(), "");
  gen::RandomChooser c(11);
  int caught = 0;
  for (int i = 0; i < 2000 && caught == 0; ++i) {
    std::vector<uint8_t> input = RandomInput(c);
    std::optional<std::string> report = harness.Check(input.data(), input.size());
    if (!report) continue;
    ++caught;
    EXPECT_NE(report->find("faulty : ENOENT"), std::string::npos) << *report;
    EXPECT_NE(report->find("reproducer (.ops):"), std::string::npos) << *report;

    std::string ops = harness.ToOps(input.data(), input.size(), "generated", "");
    auto parsed = core::ParseOps(ops, "to-ops");
    ASSERT_TRUE(std::holds_alternative<core::Sequence>(parsed)) << ops;
    const core::Sequence& small = std::get<core::Sequence>(parsed);
    ASSERT_EQ(small.steps.size(), 1u) << ops;
    EXPECT_TRUE(std::holds_alternative<core::Update>(small.steps[0].op)) << ops;
    EXPECT_FALSE(core::RunDifferential(small, harness.backends()).ok()) << ops;
  }
  EXPECT_EQ(caught, 1);
}

// Check decodes op by op and stops early; it must find exactly what
// RunDifferential finds on the whole decoded sequence, and report it the
// same way.
TEST(DifferentialHarnessTest, CheckFindsWhatRunDifferentialFindsOnTheDecodedSequence) {
  for (const char* list : {"model,faulty", "model,impl"}) {
    DifferentialHarness harness(list);
    ASSERT_EQ(harness.error(), "") << list;
    gen::RandomChooser c(5);
    int diverged = 0;
    for (int i = 0; i < 1500; ++i) {
      std::vector<uint8_t> input = RandomInput(c);
      core::Sequence seq = harness.Decode(input.data(), input.size());
      core::RunOutcome out = core::RunDifferential(seq, harness.backends());
      std::optional<std::string> report = harness.Check(input.data(), input.size());
      ASSERT_EQ(report.has_value(), !out.ok()) << list << "\n" << core::PrintOps(seq);
      if (report) {
        ++diverged;
        EXPECT_EQ(*report, out.divergence->Report(seq));
      }
    }
    if (std::string(list) == "model,faulty") {
      EXPECT_GT(diverged, 10);
    } else {
      EXPECT_EQ(diverged, 0) << list;
    }
  }
}

TEST(DifferentialHarnessTest, AnyBytesDecodeToABoundedSequence) {
  DifferentialHarness harness("model");
  ASSERT_EQ(harness.error(), "");
  gen::RandomChooser c(3);
  for (int i = 0; i < 300; ++i) {
    std::vector<uint8_t> input = RandomInput(c);
    core::Sequence seq = harness.Decode(input.data(), input.size());
    EXPECT_LE(seq.steps.size(), DifferentialHarness::kMaxOps);
    EXPECT_EQ(harness.Decode(input.data(), input.size()), seq);
  }
  EXPECT_EQ(harness.Decode(nullptr, 0).steps.size(), 0u);
}

TEST(DifferentialHarnessTest, TheMapBoundKeepsEveryEdgeTheGeneratorAimsAt) {
  DifferentialHarness harness("model");
  ASSERT_EQ(harness.error(), "");
  const uint64_t bound = HarnessOptions{}.max_map_bytes;
  const uint32_t cpus = harness.backends()[0]->Env().possible_cpus;
  const uint32_t page = harness.backends()[0]->Env().page_size;
  gen::RandomChooser c(17);
  int largest_page_crossing = 0, percpu_at_limit = 0, array_at_limit = 0;
  for (int i = 0; i < 20000; ++i) {
    std::vector<uint8_t> input(c.Range(16, 64));
    for (uint8_t& b : input) b = c.Byte();
    const core::MapSpec spec = harness.Decode(input.data(), input.size()).spec;
    if (spec.value_size > INT_MAX || spec.max_entries == 0) continue;
    const uint64_t elem = core::ElemSize(spec);
    const bool percpu = spec.type == core::MapType::kPercpuArray;
    const uint64_t bytes = elem * spec.max_entries * (percpu ? cpus : 1);
    // Within the bound, or a single entry.
    ASSERT_TRUE(bytes <= bound || spec.max_entries == 1)
        << core::PrintOps(harness.Decode(input.data(), input.size()));
    // The generator's largest mmap page-crossing size: three pages of
    // elements and one more.
    if (!percpu && (spec.map_flags & core::kBpfFMmapable) && elem > 0 && elem <= page &&
        spec.max_entries == 3 * (page / elem) + 1) {
      ++largest_page_crossing;
    }
    // Values at the per-CPU limit (PCPU_MIN_UNIT_SIZE).
    if (spec.value_size == 32768) ++(percpu ? percpu_at_limit : array_at_limit);
  }
  EXPECT_GT(largest_page_crossing, 0);
  EXPECT_GT(percpu_at_limit, 0);
  EXPECT_GT(array_at_limit, 0);
}

TEST(DifferentialHarnessTest, RecordedExpectationsReplayOnTheRecorder) {
  DifferentialHarness harness("model");
  gen::RandomChooser c(8);
  std::vector<uint8_t> input = RandomInput(c);
  std::string ops = harness.ToOps(input.data(), input.size(), "generated", "model");
  auto parsed = core::ParseOps(ops, "to-ops");
  ASSERT_TRUE(std::holds_alternative<core::Sequence>(parsed)) << ops;
  const core::Sequence& seq = std::get<core::Sequence>(parsed);
  ASSERT_TRUE(seq.expect_create.has_value()) << ops;
  EXPECT_TRUE(seq.env.has_value());
  EXPECT_TRUE(core::RunDifferential(seq, harness.backends()).ok()) << ops;
}

TEST(DifferentialHarnessTest, UnknownBackendIsAnError) {
  DifferentialHarness harness("model,nonesuch");
  EXPECT_NE(harness.error().find("nonesuch"), std::string::npos);
}

TEST(DifferentialHarnessTest, SeedCorpusIsNotEmptyAndAgreesOnTheModel) {
  DifferentialHarness harness("model");
  size_t files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(AMC_DIFFERENTIAL_SEEDS)) {
    std::ifstream in(entry.path(), std::ios::binary);
    std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)),
                               std::istreambuf_iterator<char>());
    EXPECT_FALSE(harness.Check(bytes.data(), bytes.size())) << entry.path();
    ++files;
  }
  EXPECT_GT(files, 0u);
}

}  // namespace
}  // namespace amc::fuzzers
