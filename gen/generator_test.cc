#include "gen/generator.h"

#include <gtest/gtest.h>

#include <climits>
#include <type_traits>
#include <variant>

#include "core/ops_text.h"
#include "gen/special_values.h"

namespace amc::gen {
namespace {

uint64_t StorageBytes(const core::MapSpec& spec, const GenOptions& o) {
  uint64_t cpus = spec.type == core::MapType::kPercpuArray ? o.env.possible_cpus : 1;
  return core::ElemSize(spec) * spec.max_entries * cpus;
}

TEST(GeneratorTest, SameSeedGivesSameSequence) {
  GenOptions o;
  RandomChooser a(42), b(42);
  EXPECT_EQ(GenerateSequence(a, o), GenerateSequence(b, o));
}

TEST(GeneratorTest, ThousandsOfSequencesStayBoundedAndCoverEveryKind) {
  GenOptions o;
  RandomChooser c(7);
  std::vector<size_t> seen(core::kOpKindCount, 0);
  size_t percpu = 0, huge_value = 0, past_end_keys = 0;
  for (int i = 0; i < 5000; ++i) {
    core::Sequence seq = GenerateSequence(c, o);
    ASSERT_LE(seq.steps.size(), o.max_ops);
    if (seq.spec.value_size > INT_MAX) {
      ++huge_value;
    } else if (!RefusedBeforeAllocation(seq.spec)) {
      // Twice the bound for the special table's large value sizes
      // (KMALLOC_MAX_SIZE + 1 in one entry).
      ASSERT_LE(StorageBytes(seq.spec, o), 2 * o.max_map_bytes) << core::PrintSpec(seq.spec);
    }
    ASSERT_EQ(seq.spec.map_flags & core::kBpfFTokenFd, 0u);
    if (seq.spec.type == core::MapType::kPercpuArray) ++percpu;
    for (const core::Step& step : seq.steps) {
      ++seen[static_cast<size_t>(core::KindOf(step.op))];
      if (auto* l = std::get_if<core::Lookup>(&step.op)) {
        if (l->key >= seq.spec.max_entries) ++past_end_keys;
      }
    }
  }
  for (size_t k = 0; k < core::kOpKindCount; ++k) {
    EXPECT_GT(seen[k], 100u) << core::OpKindName(static_cast<core::OpKind>(k));
  }
  EXPECT_GT(percpu, 1000u);
  EXPECT_GT(huge_value, 10u);
  EXPECT_GT(past_end_keys, 1000u);
}

TEST(GeneratorTest, HugeMapsSitJustPast4GiBAndTheirOpsTouchTheWrapElement) {
  GenOptions o;
  o.huge_maps = true;
  o.env = core::Environment{3, 4096, ""};
  RandomChooser c(5);
  size_t huge = 0, wrap_keys = 0, end_keys = 0, first_keys = 0;
  for (int i = 0; i < 2000; ++i) {
    core::Sequence seq = GenerateSequence(c, o);
    if (seq.spec.value_size > INT_MAX) continue;  // refused at creation
    const uint64_t bytes = StorageBytes(seq.spec, o);
    if (bytes < (uint64_t{1} << 32)) {
      // Everything else keeps the usual bound.
      ASSERT_LE(bytes, o.max_map_bytes) << core::PrintSpec(seq.spec);
      continue;
    }
    ++huge;
    // At 2^32 or just past it (within one element per CPU), never a
    // value buffer past 1 MiB + 8.
    const uint64_t cpus = seq.spec.type == core::MapType::kPercpuArray ? 3 : 1;
    EXPECT_LT(bytes, (uint64_t{1} << 32) + 2 * core::ElemSize(seq.spec) * cpus)
        << core::PrintSpec(seq.spec);
    EXPECT_LE(seq.spec.value_size, (1u << 20) + 8);
    const uint64_t wrap = (uint64_t{1} << 32) / core::ElemSize(seq.spec);
    for (const core::Step& step : seq.steps) {
      if (auto* u = std::get_if<core::Update>(&step.op)) {
        if (u->key + 1 >= wrap && u->key <= wrap + 1) ++wrap_keys;
        if (u->key + 1 == seq.spec.max_entries) ++end_keys;
        if (u->key == 0) ++first_keys;
      }
      if (auto* b = std::get_if<core::LookupBatch>(&step.op)) {
        EXPECT_LE(b->count, 16u);
      }
    }
  }
  EXPECT_GT(huge, 200u);
  EXPECT_GT(wrap_keys, 50u);
  EXPECT_GT(end_keys, 20u);
  EXPECT_GT(first_keys, 20u);
}

TEST(GeneratorTest, RefusedSpecsStillGetOpsOnKeysInRange) {
  // The robustness probe drives a backend that accepted a map the
  // reference refuses: such sequences must still use the map.
  GenOptions o;
  RandomChooser c(13);
  size_t refused = 0, used = 0;
  for (int i = 0; i < 5000; ++i) {
    core::Sequence seq = GenerateSequence(c, o);
    if (seq.spec.value_size <= INT_MAX) continue;
    ++refused;
    for (const core::Step& step : seq.steps) {
      if (auto* u = std::get_if<core::Update>(&step.op)) {
        if (u->key < seq.spec.max_entries) {
          ++used;
          break;
        }
      }
    }
  }
  EXPECT_GT(refused, 50u);
  EXPECT_GT(used * 2, refused);
}

TEST(GeneratorTest, SpinLockSpecsAreMostlyAlignedArraysAndGetBpfFLockOps) {
  GenOptions o;
  RandomChooser c(11);
  size_t locked = 0, aligned_array = 0, percpu = 0, misaligned = 0,
         past_end = 0, lock_flag_ops = 0, lock_flag_kinds = 0;
  std::vector<bool> kinds_with_lock(core::kOpKindCount, false);
  for (int i = 0; i < 5000; ++i) {
    core::Sequence seq = GenerateSequence(c, o);
    if (!seq.spec.spin_lock_offset) continue;
    ++locked;
    uint64_t off = *seq.spec.spin_lock_offset;
    if (seq.spec.type == core::MapType::kPercpuArray) ++percpu;
    if (off + 4 > seq.spec.value_size) {
      ++past_end;
    } else if (off % 4 != 0) {
      ++misaligned;
    } else if (seq.spec.type == core::MapType::kArray) {
      ++aligned_array;
    }
    if (seq.spec.value_size <= INT_MAX) {
      ASSERT_LE(StorageBytes(seq.spec, o), o.max_map_bytes) << core::PrintSpec(seq.spec);
    }
    for (const core::Step& step : seq.steps) {
      uint64_t flags = std::visit(
          [](const auto& op) -> uint64_t {
            using T = std::decay_t<decltype(op)>;
            if constexpr (std::is_same_v<T, core::Lookup> || std::is_same_v<T, core::Update> ||
                          std::is_same_v<T, core::ProgUpdate>) {
              return op.flags;
            } else if constexpr (std::is_same_v<T, core::LookupBatch> ||
                                 std::is_same_v<T, core::UpdateBatch>) {
              return op.elem_flags;
            }
            return 0;
          },
          step.op);
      if (flags & core::kBpfFLock) {
        ++lock_flag_ops;
        kinds_with_lock[static_cast<size_t>(core::KindOf(step.op))] = true;
      }
    }
  }
  for (bool k : kinds_with_lock) lock_flag_kinds += k;
  EXPECT_GT(locked, 300u);
  EXPECT_GT(aligned_array, locked / 2);
  EXPECT_GT(percpu, 5u);
  EXPECT_GT(misaligned, 5u);
  EXPECT_GT(past_end, 5u);
  EXPECT_GT(lock_flag_ops, locked);
  EXPECT_EQ(lock_flag_kinds, 5u);  // lookup, update, both batches, prog update
}

TEST(GeneratorTest, SpecsStayWithinATightBoundWithAndWithoutALock) {
  // A small bound makes the clamp matter for most specs, PERCPU ones
  // counted per CPU, lock specs (whose value may grow) included.
  GenOptions o;
  o.max_map_bytes = 4096;
  o.env.possible_cpus = 4;
  RandomChooser c(23);
  int locked_percpu = 0;
  for (int i = 0; i < 20000; ++i) {
    core::MapSpec spec = GenerateSpec(c, o);
    if (spec.value_size > INT_MAX) continue;
    if (spec.spin_lock_offset && spec.type == core::MapType::kPercpuArray) {
      ++locked_percpu;
    }
    ASSERT_TRUE(StorageBytes(spec, o) <= o.max_map_bytes || spec.max_entries <= 1)
        << core::PrintOps(core::Sequence{spec, {}, {}, {}, {}});
  }
  EXPECT_GT(locked_percpu, 10);
}

TEST(GeneratorTest, AnyBytesDecodeToABoundedSequence) {
  GenOptions o;
  RandomChooser noise(99);
  for (int i = 0; i < 2000; ++i) {
    std::vector<uint8_t> bytes(noise.Range(0, 300));
    for (auto& b : bytes) b = noise.Byte();
    BytesChooser c(bytes.data(), bytes.size());
    core::Sequence seq = GenerateSequence(c, o);
    ASSERT_LE(seq.steps.size(), o.max_ops);
    if (seq.spec.value_size <= INT_MAX) {
      ASSERT_LE(StorageBytes(seq.spec, o), o.max_map_bytes);
    }
  }
  BytesChooser empty(nullptr, 0);
  core::Sequence seq = GenerateSequence(empty, o);
  EXPECT_TRUE(seq.steps.empty());
}

TEST(GeneratorTest, DisabledKindsAreNeverGenerated) {
  GenOptions o;
  o.kinds.reset(static_cast<size_t>(core::OpKind::kMmap));
  o.kinds.reset(static_cast<size_t>(core::OpKind::kProgAtomicAdd));
  RandomChooser c(3);
  for (int i = 0; i < 1000; ++i) {
    for (const core::Step& step : GenerateSequence(c, o).steps) {
      ASSERT_NE(core::KindOf(step.op), core::OpKind::kMmap);
      ASSERT_NE(core::KindOf(step.op), core::OpKind::kProgAtomicAdd);
    }
  }
}

TEST(GeneratorTest, GeneratedSequencesRoundTripThroughText) {
  GenOptions o;
  RandomChooser c(11);
  for (int i = 0; i < 500; ++i) {
    core::Sequence seq = GenerateSequence(c, o);
    auto parsed = core::ParseOps(core::PrintOps(seq), "gen.ops");
    ASSERT_TRUE(std::holds_alternative<core::Sequence>(parsed))
        << std::get<core::ParseError>(parsed).ToString();
    ASSERT_EQ(std::get<core::Sequence>(parsed), seq);
  }
}

// Forwards every draw to a BytesChooser through the Chooser interface, so the
// generator runs its generic instantiation on the same bytes.
class ForwardingChooser : public Chooser {
 public:
  explicit ForwardingChooser(BytesChooser& to) : to_(to) {}
  uint64_t Range(uint64_t lo, uint64_t hi) override { return to_.Range(lo, hi); }

 private:
  BytesChooser& to_;
};

TEST(GeneratorTest, BytesDecodeAlikeThroughTheInterfaceAndTheConcreteChooser) {
  GenOptions o;
  o.max_ops = 48;
  RandomChooser noise(5);
  for (int i = 0; i < 3000; ++i) {
    std::vector<uint8_t> bytes(noise.Range(0, 900));
    for (auto& b : bytes) b = noise.Byte();
    BytesChooser direct(bytes.data(), bytes.size());
    BytesChooser inner(bytes.data(), bytes.size());
    ForwardingChooser forwarded(inner);
    ASSERT_EQ(GenerateSequence(direct, o), GenerateSequence(forwarded, o))
        << "input " << i;
  }
}

TEST(GeneratorTest, FixedBytesKeepTheirDecoding) {
  // Seed corpora and saved crash inputs mean what they decode to: a change
  // of the byte format must be deliberate (and the corpora re-minimized).
  std::vector<uint8_t> bytes;
  for (int i = 0; i < 64; ++i) bytes.push_back(static_cast<uint8_t>(i * 37 + 11));
  BytesChooser c(bytes.data(), bytes.size());
  const std::string text = core::PrintOps(GenerateSequence(c, GenOptions{}));
  EXPECT_EQ(text,
            "map type=ARRAY key_size=4 value_size=47 max_entries=1 "
            "flags=BPF_F_MMAPABLE numa_node=0 spin_lock=32\n"
            "mmap slot=3 offset=0 length=4096 prot=PROT_READ|PROT_WRITE shared=1\n"
            "mmap slot=2 offset=0 length=4096 prot=PROT_READ shared=1\n"
            "mmap_read slot=2 offset=0 length=48\n"
            "lookup key=0 flags=BPF_ANY\n"
            "lookup key=0 flags=BPF_F_LOCK\n"
            "lookup key=0 flags=BPF_ANY\n"
            "lookup key=0 flags=BPF_EXIST|BPF_F_LOCK\n"
            "update key=0 value=48494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f"
            "606162636465666768696a6b6c6d6e6f70717273747576 flags=BPF_ANY\n"
            "prog_update cpu=0 key=0 value=00*47 flags=BPF_ANY\n" +
                [] {
                  std::string rest;
                  for (int i = 0; i < 11; ++i) rest += "lookup key=0 flags=BPF_ANY\n";
                  return rest;
                }());
}

TEST(GeneratorTest, ManyRandomInputsKeepTheirDecoding) {
  // The same pin as above over 2000 inputs: FNV-1a of all their .ops text.
  GenOptions o;
  o.max_ops = 48;
  RandomChooser noise(2026);
  uint64_t digest = 14695981039346656037ull;
  for (int i = 0; i < 2000; ++i) {
    std::vector<uint8_t> bytes(noise.Range(0, 900));
    for (auto& b : bytes) b = noise.Byte();
    BytesChooser c(bytes.data(), bytes.size());
    for (char ch : core::PrintOps(GenerateSequence(c, o))) {
      digest = (digest ^ static_cast<uint8_t>(ch)) * 1099511628211ull;
    }
  }
  // Re-pinned deliberately for BPF_F_CPU / BPF_F_ALL_CPUS: the text prints
  // upper flag bits as CPU(n), GenCpuFlags draws CPUs around possible_cpus
  // with BPF_NOEXIST / BPF_EXIST / BPF_F_LOCK, and update buffers are cut to
  // value_size under those flags.
  EXPECT_EQ(digest, 0xaf210bef8c870b87ull) << std::hex << digest;
}

}  // namespace
}  // namespace amc::gen
