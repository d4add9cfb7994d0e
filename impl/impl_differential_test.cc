// The impl against the reference model on many random edge-biased
// sequences (gen/), through core::RunDifferential. A divergence is
// minimized and printed as a .ops case to paste into the regression corpus.
#include <gtest/gtest.h>

#include <cstdlib>
#include <iterator>
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
// Puts a bpf_spin_lock into the spec at an edge offset (fits, misaligned,
// past the end), sometimes with the flags the lock refuses or BPF_F_MMAPABLE:
// the generator makes no lock maps of its own.
void AddSpinLock(gen::Chooser& c, core::MapSpec* spec) {
  const uint32_t v = spec->value_size;
  const uint32_t offsets[] = {0, 2, 4, 8, v - 4, v - 3, v - 2, v, v + 4,
                              static_cast<uint32_t>(c.Range(0, v))};
  spec->spin_lock_offset = offsets[c.Range(0, std::size(offsets) - 1)];
  const uint32_t extra[] = {0, 0, core::kBpfFMmapable, core::kBpfFRdonlyProg,
                            core::kBpfFWronlyProg, core::kBpfFRdonly};
  spec->map_flags |= extra[c.Range(0, std::size(extra) - 1)];
}

void RunSeeds(uint32_t cpus, uint64_t seed0, int count,
              bool spin_locks = false) {
  core::Environment env = core::HostEnvironment();
  env.possible_cpus = cpus;
  Pair pair(env);
  gen::GenOptions options;
  options.env = env;
  for (int i = 0; i < count; ++i) {
    const uint64_t seed = seed0 + static_cast<uint64_t>(i);
    gen::RandomChooser chooser(seed);
    core::Sequence seq = gen::GenerateSequence(chooser, options);
    if (spin_locks) AddSpinLock(chooser, &seq.spec);
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
TEST(ImplDifferentialTest, AgreesWithTheModelOnSpinLockMaps) {
  RunSeeds(2, BaseSeed() * 1000000 + 300000, 4000, /*spin_locks=*/true);
}

}  // namespace
}  // namespace amc::impl
