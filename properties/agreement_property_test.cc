// Every available backend (AMC_BACKENDS, default: all) gives the same results
// on generated sequences.
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <iostream>

#include "backends/registry.h"
#include "core/differential.h"
#include "core/ops_text.h"
#include "properties/sequence_gen.h"

namespace amc::properties {
namespace {

struct BackendSet {
  backends::Selection selection;
  std::vector<core::Backend*> backends;
};

const BackendSet& Available() {
  static const BackendSet* set = [] {
    auto* s = new BackendSet;
    s->selection = backends::SelectBackends(backends::BackendListFromEnvironment());
    for (auto& b : s->selection.available) s->backends.push_back(b.get());
    for (const auto& [name, reason] : s->selection.unavailable) {
      std::cout << "[ note ] backend " << name << " not run: " << reason << "\n";
    }
    return s;
  }();
  return *set;
}

TEST(AgreementProperty, BackendSelectionIsUsable) {
  const BackendSet& set = Available();
  ASSERT_TRUE(set.selection.error.empty()) << set.selection.error;
  EXPECT_EQ(backends::MissingRequiredBackends(set.selection), "");
  EXPECT_FALSE(set.backends.empty());
}

RC_GTEST_PROP(AgreementProperty, AllAvailableBackendsAgreeOnGeneratedSequences,
              ()) {
  const BackendSet& set = Available();
  RC_PRE(!set.backends.empty());
  const core::Sequence seq = *GenSequence(OptionsFor(set.backends));
  core::RunOutcome out = core::RunDifferential(seq, set.backends);
  RC_TAG(seq.spec.type == core::MapType::kArray ? "ARRAY" : "PERCPU_ARRAY");
  if (!out.ok()) {
    RC_FAIL(out.divergence->Report(seq));
  }
  RC_ASSERT(out.left_out.empty());
}

}  // namespace
}  // namespace amc::properties
