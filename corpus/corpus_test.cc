// The regression corpus: every case below corpus/ (regressions/: minimized
// reproducers of past divergences and kernel-recorded cases; geometries/: cases
// recorded with possible-but-offline CPUs; releases/<series>/:
// the same inputs recorded on other kernel releases) replays on
// every available backend (AMC_BACKENDS, default: all), checking its recorded
// expectations and agreement. Backends are instantiated for the environment
// the case was recorded in, so expectations are checked on the model even
// where the kernel is not available.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "backends/replay.h"

namespace amc {
namespace {

std::vector<std::string> Cases() {
  std::vector<std::string> files;
  std::string error;
  if (!backends::CollectOpsFiles({AMC_CORPUS_DIR}, &files, &error)) {
    ADD_FAILURE() << error;
  }
  return files;
}

class CorpusTest : public testing::TestWithParam<std::string> {};

TEST_P(CorpusTest, EveryBackendMatchesTheRecordedCase) {
  static backends::Replayer replayer(backends::BackendListFromEnvironment());
  backends::ReplayOutcome out = replayer.ReplayFile(GetParam());
  ASSERT_FALSE(out.parse_error) << out.parse_error->ToString();
  ASSERT_TRUE(out.required_missing.empty()) << out.required_missing;
  EXPECT_TRUE(out.run.ok()) << out.run.FailureReport(*out.sequence);
  EXPECT_FALSE(out.backends_run.empty()) << out.Line();
  std::cout << out.Notes();
  // A backend that cannot run the case at all (a plug-in's op kinds, map
  // types or flags) makes it a SKIP for that backend, never a pass. (The
  // kernel's gaps fail above under AMC_REQUIRE_KERNEL.)
  if (!out.run.left_out.empty()) GTEST_SKIP() << out.SkipReason();
}

TEST_P(CorpusTest, CaseSaysWhereItCameFromAndRecordsExpectations) {
  backends::ReplayOutcome out = backends::Replayer("model").ReplayFile(GetParam());
  ASSERT_TRUE(out.sequence.has_value());
  EXPECT_FALSE(out.sequence->comments.empty()) << "add a '# from ...' comment";
  EXPECT_TRUE(out.sequence->HasExpectations()) << "record expectations (--record-with)";
  EXPECT_TRUE(out.sequence->env.has_value()) << "record the environment (env line)";
}

std::string CaseName(const testing::TestParamInfo<std::string>& info) {
  // The path below corpus/, so that one input recorded on several releases
  // gives distinct names (releases_6_1_freeze_...).
  std::string root = std::string(AMC_CORPUS_DIR) + "/";
  std::string name = info.param.rfind(root, 0) == 0 ? info.param.substr(root.size())
                                                    : info.param;
  name = name.substr(0, name.size() - 4);
  for (char& c : name) {
    if (!isalnum(static_cast<unsigned char>(c))) c = '_';
  }
  return name;
}

INSTANTIATE_TEST_SUITE_P(Corpus, CorpusTest, testing::ValuesIn(Cases()),
                         CaseName);

}  // namespace
}  // namespace amc
