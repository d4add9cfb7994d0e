// gen/special_values.h: the one table of the values the kernel compares an
// array map's fields with (kernel/bpf/arraymap.c, kernel/bpf/syscall.c,
// include/linux/bpf.h, include/uapi/linux/bpf.h, of 7.3 and 5.10). Each
// entry names the field, the value (absolute, or relative to the spec or
// the environment: max_entries, the index mask, possible CPUs, the page,
// the mmap region), whether its neighbours (-1 / +1) are drawn too, where
// the kernel makes the comparison, and which releases it matters in. The
// generator draws every entry as an edge (DrawSpecial), and a campaign
// counts which entries its sequences held (MarkSpecialValues).
//
// Invariant: the table is the only place in gen/ where these constants
// live; entries whose map would be large are drawn only on specs the
// kernel refuses before allocating (see SpecialEntry::refused_only).
#ifndef AMC_GEN_SPECIAL_VALUES_H_
#define AMC_GEN_SPECIAL_VALUES_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "core/map_spec.h"
#include "core/op.h"

namespace amc::gen {

enum class SpecialField : uint8_t {
  kKeySize,
  kValueSize,
  kMaxEntries,
  kMapFlags,
  kNumaNode,      // with BPF_F_NUMA_NODE set
  kKey,           // any op's key
  kUpdateFlags,   // update / prog update flags
  kReadFlags,     // lookup, lookup-and-delete flags
  kFlagCpu,       // the CPU in the high 32 bits of BPF_F_CPU flags
  kProgCpu,       // the CPU a program op runs on / reads
  kBatchCount,
  kInBatch,
  kBatchFlags,    // attr->batch.flags
  kElemFlags,     // attr->batch.elem_flags
  kMmapOffset,
  kMmapLength,
  kAtomicOffset,  // offset of a program's atomic add into the value
};

// What an entry's value is relative to.
enum class SpecialBase : uint8_t {
  kAbsolute,
  kMaxEntries,
  kIndexMask,     // roundup_pow_of_two(max_entries) - 1, computed in 64 bits
  kPossibleCpus,
  kPage,
  kRegion,        // PAGE_ALIGN(round_up(value_size, 8) * max_entries)
  kValueSize,
};

struct SpecialEntry {
  SpecialField field;
  SpecialBase base;
  int64_t offset;      // value = base + offset (mod 2^64)
  bool neighbours;     // -1 and +1 drawn as well
  bool refused_only;   // drawn only on a spec refused before allocation
  const char* name;    // the constant, as the kernel spells it
  const char* source;  // file: function, and what is compared
  const char* matters; // releases where the comparison exists
};

// The table (its order is the order of the summary's list).
const std::vector<SpecialEntry>& SpecialTable();

const char* SpecialFieldName(SpecialField field);

// An entry's value for a spec and environment (the centre, no neighbour).
uint64_t SpecialValue(const SpecialEntry& e, const core::MapSpec& spec,
                      const core::Environment& env);

// "field=name (source)", for listings.
std::string DescribeSpecial(size_t index);

// Marks in `*hit` (resized to the table) each entry whose value one of the
// sequence's fields holds.
void MarkSpecialValues(const core::Sequence& seq, const core::Environment& env,
                       std::vector<bool>* hit);

// Whether the kernel refuses `spec` in array_map_alloc_check on every
// release before allocating anything (the conditions that do not depend on
// the profile).
bool RefusedBeforeAllocation(const core::MapSpec& spec);

// Entries of a field, as table indices (for the generator's draws).
const std::vector<uint32_t>& SpecialEntriesOf(SpecialField field);

}  // namespace amc::gen

#endif  // AMC_GEN_SPECIAL_VALUES_H_
