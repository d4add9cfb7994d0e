#include "gen/special_values.h"

#include <gtest/gtest.h>

#include <climits>
#include <set>
#include <string>
#include <variant>

#include "core/ops_text.h"
#include "gen/generator.h"

namespace amc::gen {
namespace {

TEST(SpecialValuesTest, EveryEntryNamesItsSourceAndReleases) {
  const auto& table = SpecialTable();
  ASSERT_GE(table.size(), 40u);
  std::set<std::pair<int, std::string>> seen;
  for (size_t i = 0; i < table.size(); ++i) {
    const SpecialEntry& e = table[i];
    EXPECT_NE(std::string(e.source), "") << DescribeSpecial(i);
    EXPECT_NE(std::string(e.matters), "") << DescribeSpecial(i);
    EXPECT_TRUE(seen.emplace(static_cast<int>(e.field), e.name).second)
        << "entry listed twice: " << DescribeSpecial(i);
  }
}

TEST(SpecialValuesTest, RelativeEntriesFollowTheSpecAndEnvironment) {
  core::MapSpec spec;
  spec.max_entries = 5;
  spec.value_size = 12;
  core::Environment env{3, 4096, ""};
  for (const SpecialEntry& e : SpecialTable()) {
    const uint64_t v = SpecialValue(e, spec, env);
    switch (e.base) {
      case SpecialBase::kIndexMask: EXPECT_EQ(v, 7u + e.offset); break;
      case SpecialBase::kMaxEntries: EXPECT_EQ(v, 5u + e.offset); break;
      case SpecialBase::kPossibleCpus: EXPECT_EQ(v, 3u + e.offset); break;
      case SpecialBase::kRegion: EXPECT_EQ(v, 4096u + e.offset); break;
      default: break;
    }
  }
  spec.max_entries = (1u << 31) + 1;  // the index mask needs 64 bits
  for (const SpecialEntry& e : SpecialTable()) {
    if (e.base == SpecialBase::kIndexMask) {
      EXPECT_EQ(SpecialValue(e, spec, env), uint64_t{UINT32_MAX} + e.offset);
    }
  }
}

TEST(SpecialValuesTest, RefusedBeforeAllocationFollowsArrayMapAllocCheck) {
  core::MapSpec spec;
  EXPECT_FALSE(RefusedBeforeAllocation(spec));
  spec.key_size = 8;
  EXPECT_TRUE(RefusedBeforeAllocation(spec));
  spec.key_size = 4;
  spec.value_size = uint32_t{INT_MAX} + 1;
  EXPECT_TRUE(RefusedBeforeAllocation(spec));
  spec.value_size = 32768;
  spec.type = core::MapType::kPercpuArray;
  EXPECT_FALSE(RefusedBeforeAllocation(spec));
  spec.value_size = 32769;
  EXPECT_TRUE(RefusedBeforeAllocation(spec));
}

// The summary's "special values drawn: N of M" is complete for a
// default-size run: 2000 sequences of seed 1, as in the kernel settle run
// (`amc run --sequences 2000 --seed 1`; campaign seeds differ per index,
// so this draws its own 2000 sequences from one seed).
TEST(SpecialValuesTest, TwoThousandSequencesDrawEveryEntry) {
  GenOptions o;
  o.special_values = true;
  RandomChooser c(1);
  std::vector<bool> hit;
  for (int i = 0; i < 2000; ++i) {
    MarkSpecialValues(GenerateSequence(c, o), o.env, &hit);
  }
  std::string missing;
  for (size_t i = 0; i < hit.size(); ++i) {
    if (!hit[i]) missing += "\n  " + DescribeSpecial(i);
  }
  EXPECT_EQ(missing, "") << "entries never drawn:";
}

TEST(SpecialValuesTest, LargeMapsAreDrawnOnlyWhereRefusedBeforeAllocation) {
  GenOptions o;
  o.special_values = true;
  RandomChooser c(5);
  size_t refused_large = 0;
  for (int i = 0; i < 4000; ++i) {
    core::Sequence seq = GenerateSequence(c, o);
    const uint64_t cpus =
        seq.spec.type == core::MapType::kPercpuArray ? o.env.possible_cpus : 1;
    const uint64_t bytes = core::ElemSize(seq.spec) * seq.spec.max_entries * cpus;
    if (bytes > 2 * o.max_map_bytes) {
      ASSERT_TRUE(RefusedBeforeAllocation(seq.spec)) << core::PrintSpec(seq.spec);
      ++refused_large;
    }
  }
  EXPECT_GT(refused_large, 0u);
}

TEST(SpecialValuesTest, SequencesWithSpecialValuesRoundTripThroughText) {
  GenOptions o;
  o.special_values = true;
  RandomChooser c(9);
  for (int i = 0; i < 1000; ++i) {
    core::Sequence seq = GenerateSequence(c, o);
    ASSERT_LE(seq.steps.size(), o.max_ops);
    auto parsed = core::ParseOps(core::PrintOps(seq), "gen.ops");
    ASSERT_TRUE(std::holds_alternative<core::Sequence>(parsed));
    ASSERT_EQ(std::get<core::Sequence>(parsed), seq);
  }
}

TEST(SpecialValuesTest, OffDrawsNoneOfTheNewValues) {
  // Without special_values, 2000 sequences miss the entries only the table
  // draws (e.g. value_size PCPU_MIN_UNIT_SIZE-7, numa_node INT_MAX).
  GenOptions o;
  RandomChooser c(1);
  std::vector<bool> hit;
  for (int i = 0; i < 2000; ++i) {
    MarkSpecialValues(GenerateSequence(c, o), o.env, &hit);
  }
  size_t drawn = 0;
  for (bool h : hit) drawn += h;
  EXPECT_LT(drawn, hit.size());
}

}  // namespace
}  // namespace amc::gen
