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

TEST(MinimizeTest, SameDivergenceRejectsAnotherBugOfTheSameOpKind) {
  model::Params p;
  p.env = core::Environment{2, 4096, ""};
  model::ModelBackend good(p);
  backends::FaultyBackend bad(p, backends::kFaultsMulti, "faulty-multi");
  std::vector<core::Backend*> backends = {&good, &bad};
  core::Sequence noexist;
  noexist.spec.max_entries = 8;
  noexist.steps.push_back({core::Update{5, {}, core::kBpfNoexist}, std::nullopt});
  core::RunOutcome out = core::RunDifferential(noexist, backends);
  ASSERT_FALSE(out.ok());
  auto same = SameDivergence(backends, noexist, *out.divergence);
  core::Sequence other_key = noexist;
  std::get<core::Update>(other_key.steps[0].op).key = 2;
  EXPECT_TRUE(same(other_key));
  core::Sequence past_end = noexist;  // an update too, but E2BIG -> ENOENT
  std::get<core::Update>(past_end.steps[0].op) = core::Update{9, {}, 0};
  EXPECT_FALSE(core::RunDifferential(past_end, backends).ok());
  EXPECT_FALSE(same(past_end));
}

bool HasUpdateOfLastKeyThenLookup(const core::Sequence& q) {
  if (q.spec.max_entries == 0 || q.spec.value_size == 0 || q.steps.size() < 2) {
    return false;
  }
  const auto* u = std::get_if<core::Update>(&q.steps[0].op);
  const auto* l = std::get_if<core::Lookup>(&q.steps.back().op);
  return u && l && u->key == q.spec.max_entries - 1 && l->key == u->key &&
         !u->value.empty() && u->value[0] == 0x5a;
}

TEST(MinimizeTest, MaxEntriesShrinksWithTheKeysRenumberedAndValuesCutToTheValueSize) {
  core::Sequence seq;
  seq.spec.value_size = 1;
  seq.spec.max_entries = 1754;
  seq.steps.push_back(
      {core::Update{1753, core::Bytes(32768, 0x5a), 0}, std::nullopt});
  seq.steps.push_back({core::Lookup{1753, 0}, std::nullopt});
  ASSERT_TRUE(HasUpdateOfLastKeyThenLookup(seq));
  core::Sequence small = Minimize(seq, HasUpdateOfLastKeyThenLookup);
  EXPECT_EQ(small.spec.max_entries, 1u) << core::PrintOps(small);
  const auto& update = std::get<core::Update>(small.steps[0].op);
  EXPECT_EQ(update.key, 0u);
  EXPECT_EQ(update.value, core::Bytes{0x5a}) << core::PrintOps(small);
}

TEST(MinimizeTest, ValuesBecomeZeroPastTheBytesThatMatterOrTheirShortestPattern) {
  core::Sequence seq;
  seq.spec.value_size = 64;
  core::Bytes value(64);
  for (size_t i = 0; i < value.size(); ++i) value[i] = static_cast<uint8_t>(i * 7 + 1);
  seq.steps.push_back({core::Update{0, value, 0}, std::nullopt});
  auto first_byte = [](const core::Sequence& q) {
    if (q.steps.empty()) return false;
    const auto& u = std::get<core::Update>(q.steps[0].op);
    return !u.value.empty() && u.value[0] == 1;
  };
  core::Bytes expect(64, 0);
  expect[0] = 1;
  EXPECT_EQ(std::get<core::Update>(Minimize(seq, first_byte).steps[0].op).value,
            expect);
  auto every_other_odd = [](const core::Sequence& q) {
    if (q.steps.empty()) return false;
    const auto& u = std::get<core::Update>(q.steps[0].op);
    if (u.value.size() != 64) return false;
    for (size_t i = 0; i < u.value.size(); i += 2) {
      if (u.value[i] % 2 == 0) return false;
    }
    return true;
  };
  core::Bytes pattern(64, 1);
  EXPECT_EQ(std::get<core::Update>(Minimize(seq, every_other_odd).steps[0].op).value,
            pattern);
}

TEST(MinimizeTest, UpdateBatchShrinksToTheOneKeyThatMatters) {
  core::Sequence seq;
  seq.spec.value_size = 8;
  seq.spec.max_entries = 64;
  core::UpdateBatch batch;
  for (uint32_t k = 0; k < 16; ++k) {
    batch.keys.push_back(k * 3);
    for (int b = 0; b < 8; ++b) batch.values.push_back(static_cast<uint8_t>(k));
  }
  seq.steps.push_back({batch, std::nullopt});
  auto has_nine = [](const core::Sequence& q) {
    if (q.steps.empty()) return false;
    const auto& b = std::get<core::UpdateBatch>(q.steps[0].op);
    for (size_t i = 0; i < b.keys.size(); ++i) {
      if (b.values.size() >= (i + 1) * 8 && b.values[i * 8] == 9) return true;
    }
    return false;
  };
  core::Sequence small = Minimize(seq, has_nine);
  const auto& b = std::get<core::UpdateBatch>(small.steps[0].op);
  EXPECT_EQ(b.keys.size(), 1u) << core::PrintOps(small);
  EXPECT_LE(b.values.size(), 8u) << core::PrintOps(small);
  EXPECT_LE(small.spec.max_entries, 2u) << core::PrintOps(small);
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
