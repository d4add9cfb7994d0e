// The conformance suite: every case in conformance/cases (the spec's tables,
// one row per case) runs on every registered backend, checking the recorded
// expectations and agreement between backends.
#include <gtest/gtest.h>

#include "backends/replay.h"

namespace amc {
namespace {

std::vector<std::string> Cases() {
  std::vector<std::string> files;
  std::string error;
  if (!backends::CollectOpsFiles({AMC_CONFORMANCE_DIR}, &files, &error)) {
    ADD_FAILURE() << error;
  }
  return files;
}

class ConformanceTest : public testing::TestWithParam<std::string> {};

TEST_P(ConformanceTest, EveryBackendMeetsTheSpec) {
  static backends::Replayer replayer(backends::BackendListFromEnvironment());
  backends::ReplayOutcome out = replayer.ReplayFile(GetParam());
  ASSERT_FALSE(out.parse_error) << out.parse_error->ToString();
  ASSERT_TRUE(out.required_missing.empty()) << out.required_missing;
  EXPECT_TRUE(out.run.ok()) << out.run.FailureReport(*out.sequence);
  std::cout << out.Notes();
  // A backend that cannot run the case at all (a plug-in's op kinds, map
  // types or flags) makes it a SKIP for that backend, never a pass. (The
  // kernel's gaps fail above under AMC_REQUIRE_KERNEL.)
  if (!out.run.left_out.empty()) GTEST_SKIP() << out.SkipReason();
}

std::string CaseName(const testing::TestParamInfo<std::string>& info) {
  std::string name = info.param.substr(info.param.find_last_of('/') + 1);
  name = name.substr(0, name.size() - 4);
  for (char& c : name) {
    if (!isalnum(static_cast<unsigned char>(c))) c = '_';
  }
  return name;
}

INSTANTIATE_TEST_SUITE_P(Cases, ConformanceTest, testing::ValuesIn(Cases()),
                         CaseName);

}  // namespace
}  // namespace amc
