// The agreement property, run programmatically against the deliberately
// faulty backend: RapidCheck must find the fault, shrink it to one update
// past the end, print it as .ops text, and reproduce it from its seed.
#include <gtest/gtest.h>
#include <rapidcheck.h>

#include <string>
#include <unordered_map>

#include "backends/registry.h"
#include "core/differential.h"
#include "core/ops_text.h"
#include "properties/sequence_gen.h"

namespace amc::properties {
namespace {

// Records nothing: keeps this deliberate failure out of RapidCheck's
// end-of-run "some properties failed" report.
class QuietListener : public rc::detail::TestListener {
 public:
  void onTestCaseFinished(const rc::detail::CaseDescription&) override {}
  void onShrinkTried(const rc::detail::CaseDescription&, bool) override {}
  void onTestFinished(const rc::detail::TestMetadata&,
                      const rc::detail::TestResult&) override {}
};

rc::detail::TestResult CheckAgreement(
    const std::vector<core::Backend*>& backends, uint64_t seed,
    const std::unordered_map<std::string, rc::detail::Reproduce>& reproduce) {
  rc::detail::TestMetadata metadata;
  metadata.id = "faulty/agreement";
  metadata.description = "model and faulty agree";
  rc::detail::TestParams params;
  params.seed = seed;
  params.maxSuccess = 1000;
  QuietListener listener;
  gen::GenOptions options = OptionsFor(backends);
  return rc::detail::checkProperty(
      rc::detail::toProperty([&] {
        const core::Sequence seq = *GenSequence(options);
        RC_ASSERT(core::RunDifferential(seq, backends).ok());
      }),
      metadata, params, listener, reproduce);
}

TEST(FaultyBackendProperty, AgreementPropertyCatchesAndShrinksToOneUpdatePastTheEnd) {
  backends::Selection selection = backends::SelectBackends("model,faulty");
  ASSERT_EQ(selection.available.size(), 2u) << selection.error;
  std::vector<core::Backend*> pair = {selection.available[0].get(),
                                      selection.available[1].get()};

  for (uint64_t seed : {1u, 2u}) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    rc::detail::TestResult result = CheckAgreement(pair, seed, {});
    ASSERT_TRUE(result.is<rc::detail::FailureResult>());
    const auto& failure = result.get<rc::detail::FailureResult>();
    ASSERT_EQ(failure.counterExample.size(), 1u);
    const std::string& shown = failure.counterExample[0].second;

    // The counterexample is .ops text, ready for corpus/regressions/.
    auto parsed = core::ParseOps(shown, "counterexample");
    ASSERT_TRUE(std::holds_alternative<core::Sequence>(parsed))
        << std::get<core::ParseError>(parsed).ToString() << "\n" << shown;
    const core::Sequence& small = std::get<core::Sequence>(parsed);
    ASSERT_EQ(small.steps.size(), 1u) << shown;
    const auto* update = std::get_if<core::Update>(&small.steps[0].op);
    ASSERT_NE(update, nullptr) << shown;
    EXPECT_GE(update->key, small.spec.max_entries) << shown;
    EXPECT_EQ(update->flags, 0u) << shown;
    core::RunOutcome rerun = core::RunDifferential(small, pair);
    ASSERT_FALSE(rerun.ok()) << shown;
    EXPECT_NE(rerun.divergence->Summary(small).find("ENOENT"), std::string::npos);

    // RapidCheck's reproduce data (what RC_PARAMS="reproduce=..." carries)
    // replays straight to the same counterexample.
    rc::detail::TestResult again =
        CheckAgreement(pair, seed + 100, {{"faulty/agreement", failure.reproduce}});
    ASSERT_TRUE(again.is<rc::detail::FailureResult>());
    EXPECT_EQ(again.get<rc::detail::FailureResult>().counterExample,
              failure.counterExample);
  }
}

TEST(FaultyBackendProperty, ModelAloneAgreesWithItselfUnderTheSameProperty) {
  backends::Selection selection = backends::SelectBackends("model,model");
  ASSERT_EQ(selection.available.size(), 2u) << selection.error;
  std::vector<core::Backend*> pair = {selection.available[0].get(),
                                      selection.available[1].get()};
  rc::detail::TestResult result = CheckAgreement(pair, 7, {});
  EXPECT_TRUE(result.is<rc::detail::SuccessResult>());
}

}  // namespace
}  // namespace amc::properties
