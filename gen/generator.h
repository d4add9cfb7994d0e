// gen/generator.h: random operation sequences biased to the edges of the
// array-map semantics: keys at, just past and far beyond max_entries and
// 0xffffffff; flags mostly valid with rare random bits (high 32 bits too);
// value sizes that are not multiples of 8, 1, and near the per-CPU limit;
// max_entries of 1, small, and crossing page boundaries for mmap; batches
// whose counts straddle the end; freeze and mmap interleaved with updates;
// program ops on every possible CPU and one past the last; a bpf_spin_lock
// in about one value in ten (mostly 4-aligned in an ARRAY value, now and then
// misaligned, past the end or in a PERCPU_ARRAY), with BPF_F_LOCK often on
// that map's lookups, updates, batches and program updates.
//
// Invariant: whatever the Chooser returns, the sequence stays bounded: at most
// GenOptions::max_ops ops, and every map the generator could ask the kernel
// to allocate stays within GenOptions::max_map_bytes, or twice that for the
// large value sizes of the special-value table (gen/special_values.h: huge
// sizes appear only where creation is refused before allocating:
// value_size > INT_MAX, max_entries near 2^31 on refused specs, and with
// GenOptions::huge_maps, whose maps are sparse in every backend).
#ifndef AMC_GEN_GENERATOR_H_
#define AMC_GEN_GENERATOR_H_

#include <array>
#include <bitset>
#include <cstdint>

#include "core/op.h"
#include "gen/chooser.h"

namespace amc::gen {

struct GenOptions {
  // Possible CPUs and page size the sequence is meant for (per-CPU buffer
  // sizes, CPU numbers, mmap lengths).
  core::Environment env{2, 4096, ""};
  size_t max_ops = 32;
  // Storage bound for any map that could be created (PERCPU counted per CPU).
  uint64_t max_map_bytes = uint64_t{4} << 20;
  // Op kinds that may be generated (plug-ins may lack some).
  std::bitset<core::kOpKindCount> kinds = std::bitset<core::kOpKindCount>().set();
  // Map types (1u << type) and map_flags bits never drawn, because a backend
  // cannot create such maps at all (a plug-in's declaration). A spec drawn
  // with an excluded type takes the other array type; excluded flag bits
  // are cleared. Both never exclude every array type.
  uint32_t excluded_map_types = 0;
  uint32_t excluded_map_flags = 0;
  // Maps past 4 GiB (`amc run --huge-maps`): huge_map_percent of the specs
  // are drawn at the 32-bit boundaries of the size products the kernel
  // computes in 64 bits (elem_size * max_entries, round_up(value_size, 8),
  // per-CPU storage, the mmap region): true sizes at or just past 2^32
  // bytes, with value sizes of at most 1 MiB + 8. Their ops aim at the
  // first, last and wrap-around elements (2^32 / elem_size and
  // neighbours), mappings across 2^32, and batches of at most 16. Such maps
  // cost only what is written in the model (sparse) and the impl (lazy
  // mappings); their final states are compared by chunk digests
  // (core/state_digest.h). Not for the kernel, which would allocate them
  // (it sits them out: --kernel-map-limit). Off: no draw changes.
  bool huge_maps = false;
  uint32_t huge_map_percent = 20;
  // The special-value table (gen/special_values.h): each field now and then
  // takes one of the values the kernel compares it with, or a neighbour
  // (`amc run` turns it on). Off: no draw changes, so fuzzer inputs and
  // seed corpora keep their decoding.
  bool special_values = false;
};

core::MapSpec GenerateSpec(Chooser& c, const GenOptions& options);
core::Op GenerateOp(Chooser& c, const core::MapSpec& spec,
                    const GenOptions& options);
// The same op as GenerateOp, drawn into `*op`: an op of the kind `*op`
// already holds keeps its buffers (no allocation once they are large enough).
void GenerateOpInto(Chooser& c, const core::MapSpec& spec,
                    const GenOptions& options, core::Op* op);
core::Sequence GenerateSequence(Chooser& c, const GenOptions& options);

// The op kinds' weights laid out roll by roll, for drawing a kind with one
// load: the allowed kinds in OpKind order, kind k taking as many
// consecutive rolls of [0, total) as its weight.
struct KindTable {
  explicit KindTable(const std::bitset<core::kOpKindCount>& kinds);
  uint64_t total = 0;
  std::array<uint8_t, 128> kind_of_roll{};
};

// GenerateSequence one op at a time, drawing exactly the same choices in the
// same order: the spec and the op count at construction, then each op on
// Next(). For drivers that run op i before drawing op i + 1 (the fuzzer),
// and may stop early.
class SequenceDecoder {
 public:
  SequenceDecoder(Chooser& c, const GenOptions& options);
  const core::MapSpec& spec() const { return spec_; }
  // How many ops the sequence has.
  size_t size() const { return size_; }
  bool done() const { return drawn_ >= size_; }
  // The next op; valid until the following call (its buffers are reused).
  const core::Op& Next();

 private:
  template <class C>
  const core::Op& NextFrom(C& c);

  Chooser& c_;
  // `c_` when it is a BytesChooser, drawn from without virtual calls.
  BytesChooser* bytes_;
  const GenOptions& o_;
  KindTable kinds_;
  core::MapSpec spec_;
  size_t size_;
  size_t drawn_ = 0;
  // One op per kind, so each kind keeps its buffers across ops.
  std::array<core::Op, core::kOpKindCount> slots_;
};

}  // namespace amc::gen

#endif  // AMC_GEN_GENERATOR_H_
