#include "gen/minimize.h"

#include <gtest/gtest.h>

#include "core/ops_text.h"
#include "gen/generator.h"
#include "backends/faulty_backend.h"
#include "model/model_backend.h"

namespace amc::gen {
namespace {

TEST(MinimizeTest, FaultyBackendDivergenceShrinksToOneUpdatePastTheEnd) {
  model::Params p;
  p.env = core::Environment{2, 4096, ""};
  model::ModelBackend good(p);
  backends::FaultyBackend bad(p);
  std::vector<core::Backend*> backends = {&good, &bad};
  GenOptions o;
  RandomChooser c(5);
  int found = 0;
  for (int i = 0; i < 3000 && found < 5; ++i) {
    core::Sequence seq = GenerateSequence(c, o);
    core::RunOutcome out = core::RunDifferential(seq, backends);
    if (out.ok()) continue;
    ++found;
    MinimizeStats stats;
    core::Sequence small =
        Minimize(seq, SameDivergence(backends, seq, *out.divergence), {}, &stats);
    ASSERT_EQ(small.steps.size(), 1u) << core::PrintOps(small);
    const auto* update = std::get_if<core::Update>(&small.steps[0].op);
    ASSERT_NE(update, nullptr) << core::PrintOps(small);
    EXPECT_EQ(update->flags, 0u);
    EXPECT_LE(small.spec.max_entries, 2u);
    EXPECT_LE(small.spec.value_size, seq.spec.value_size);
    EXPECT_FALSE(core::RunDifferential(small, backends).ok());
    EXPECT_LE(stats.ops_after, stats.ops_before);
  }
  EXPECT_EQ(found, 5);
}

TEST(MinimizeTest, AttemptBudgetIsRespected) {
  core::Sequence seq;
  for (int i = 0; i < 64; ++i) seq.steps.push_back({core::Freeze{}, std::nullopt});
  size_t calls = 0;
  MinimizeOptions options;
  options.max_attempts = 10;
  Minimize(seq, [&](const core::Sequence&) { ++calls; return false; }, options);
  EXPECT_LE(calls, 10u);
}

// A stop (signal, time budget) ends the search before the next attempt, and
// what is returned is the smallest sequence found failing so far.
TEST(MinimizeTest, StopEndsTheSearchWithTheBestFailingSequenceSoFar) {
  core::Sequence seq;
  for (int i = 0; i < 64; ++i) seq.steps.push_back({core::Freeze{}, std::nullopt});
  size_t calls = 0;
  MinimizeOptions options;
  options.stop = [&] { return calls >= 3; };
  MinimizeStats stats;
  // Fails while it keeps at least 8 ops: each kept candidate is smaller.
  core::Sequence small = Minimize(
      seq,
      [&](const core::Sequence& s) {
        ++calls;
        return s.steps.size() >= 8;
      },
      options, &stats);
  EXPECT_EQ(calls, 3u);
  EXPECT_EQ(stats.attempts, 3u);
  EXPECT_TRUE(stats.stopped);
  EXPECT_GE(small.steps.size(), 8u);
  EXPECT_LT(small.steps.size(), 64u);
}

}  // namespace
}  // namespace amc::gen
