// The impl against the reference model on many random edge-biased
// sequences (gen/), through core::RunDifferential. A divergence is
// minimized and printed as a .ops case to paste into the regression corpus.
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

#include "core/differential.h"
#include "core/ops_text.h"
#include "gen/chooser.h"
#include "gen/generator.h"
#include "gen/minimize.h"
#include "impl/impl_backend.h"
#include "model/model_backend.h"

namespace amc::impl {
namespace {

struct Pair {
  explicit Pair(const core::Environment& env)
      : model(Params(env)), impl(env) {}
  static model::Params Params(const core::Environment& env) {
    model::Params p = model::Params::Host();
    p.env = env;
    return p;
  }
  std::vector<core::Backend*> both() { return {&model, &impl}; }
  model::ModelBackend model;
  ImplBackend impl;
};

// Runs `count` sequences from seeds seed0.. for one CPU count; stops at the
// first divergence with a minimized reproducer.
void RunSeeds(uint32_t cpus, uint64_t seed0, int count) {
  core::Environment env = core::HostEnvironment();
  env.possible_cpus = cpus;
  Pair pair(env);
  gen::GenOptions options;
  options.env = env;
  for (int i = 0; i < count; ++i) {
    const uint64_t seed = seed0 + static_cast<uint64_t>(i);
    gen::RandomChooser chooser(seed);
    core::Sequence seq = gen::GenerateSequence(chooser, options);
    core::RunOutcome out = core::RunDifferential(seq, pair.both());
    if (out.ok()) continue;
    core::Sequence small = gen::Minimize(
        seq, gen::SameDivergence(pair.both(), seq, *out.divergence));
    core::RunOutcome again = core::RunDifferential(small, pair.both());
    FAIL() << "seed " << seed << " (" << cpus << " CPUs): "
           << out.divergence->Summary(seq) << "\nminimized:\n"
           << core::PrintOps(small) << "\n"
           << (again.divergence ? again.divergence->Report(small) : "");
  }
}

// 3 x 4,000 = 12,000 sequences. AMC_DIFF_SEED shifts the seeds for longer
// campaigns by hand.
uint64_t BaseSeed() {
  const char* s = std::getenv("AMC_DIFF_SEED");
  return s ? std::strtoull(s, nullptr, 10) : 1;
}

TEST(ImplDifferentialTest, AgreesWithTheModelOnOneCpu) {
  RunSeeds(1, BaseSeed() * 1000000, 4000);
}
TEST(ImplDifferentialTest, AgreesWithTheModelOnTwoCpus) {
  RunSeeds(2, BaseSeed() * 1000000 + 100000, 4000);
}
TEST(ImplDifferentialTest, AgreesWithTheModelOnFiveCpus) {
  RunSeeds(5, BaseSeed() * 1000000 + 200000, 4000);
}

}  // namespace
}  // namespace amc::impl
