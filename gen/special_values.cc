// gen/special_values.cc: the table and its bookkeeping. Sources are named
// in our own words (function: what it compares); the kernel files are
// kernel/bpf/arraymap.c (arraymap), kernel/bpf/syscall.c (syscall),
// include/linux/bpf.h, include/uapi/linux/bpf.h and mm/percpu.c's unit size.
#include "gen/special_values.h"

#include <algorithm>
#include <climits>
#include <variant>

namespace amc::gen {
namespace {

using B = SpecialBase;
using F = SpecialField;

constexpr int64_t kPcpuMinUnitSize = 32768;            // PCPU_MIN_UNIT_SIZE
constexpr int64_t kKmallocMaxSize5_10 = int64_t{1} << 22;  // x86_64, 5.10 SLUB
constexpr int64_t kIntMax = INT_MAX;
constexpr int64_t kU32Max = UINT32_MAX;
constexpr int64_t kNumaNoNode = UINT32_MAX;  // NUMA_NO_NODE (-1) as the u32 attr

std::vector<SpecialEntry> BuildTable() {
  return {
      // ---- map_create / array_map_alloc_check ----
      {F::kKeySize, B::kAbsolute, 4, true, false, "4",
       "arraymap: array_map_alloc_check, key_size != 4 -> EINVAL", "all"},
      {F::kKeySize, B::kAbsolute, 0, false, false, "0",
       "arraymap: array_map_alloc_check, key_size != 4 -> EINVAL", "all"},
      {F::kValueSize, B::kAbsolute, 0, false, false, "0",
       "arraymap: array_map_alloc_check, value_size == 0 -> EINVAL", "all"},
      {F::kValueSize, B::kAbsolute, 8, true, false, "8",
       "arraymap: array_map_alloc, elem_size = round_up(value_size, 8)", "all"},
      {F::kValueSize, B::kAbsolute, kPcpuMinUnitSize, true, false,
       "PCPU_MIN_UNIT_SIZE",
       "arraymap: array_map_alloc_check, per-CPU round_up(value_size, 8) > "
       "PCPU_MIN_UNIT_SIZE -> E2BIG",
       "all"},
      {F::kValueSize, B::kAbsolute, kPcpuMinUnitSize - 7, false, false,
       "PCPU_MIN_UNIT_SIZE-7",
       "arraymap: array_map_alloc_check, the least value_size whose round_up "
       "is PCPU_MIN_UNIT_SIZE",
       "all"},
      {F::kValueSize, B::kPage, 0, true, false, "PAGE_SIZE",
       "arraymap: array_map_mmap / PAGE_ALIGN of the value region", "all"},
      {F::kValueSize, B::kAbsolute, kKmallocMaxSize5_10, true, false,
       "KMALLOC_MAX_SIZE",
       "arraymap: array_map_alloc_check, value_size > KMALLOC_MAX_SIZE -> "
       "E2BIG (before 5.11; later the INT_MAX test)",
       "5.10"},
      {F::kValueSize, B::kAbsolute, kIntMax, true, true, "INT_MAX",
       "arraymap: array_map_alloc_check, value_size > INT_MAX -> E2BIG "
       "(overflow of round_up)",
       "5.11+"},
      {F::kValueSize, B::kAbsolute, kU32Max, false, false, "U32_MAX",
       "arraymap: array_map_alloc_check, round_up(U32_MAX, 8) wraps to 0 in "
       "32 bits",
       "all"},
      {F::kMaxEntries, B::kAbsolute, 0, false, false, "0",
       "arraymap: array_map_alloc_check, max_entries == 0 -> EINVAL", "all"},
      {F::kMaxEntries, B::kAbsolute, 1, false, false, "1",
       "arraymap: array_map_alloc, index_mask of one entry (fls_long(0) = 0)",
       "all"},
      {F::kMaxEntries, B::kAbsolute, int64_t{1} << 31, true, true, "2^31",
       "arraymap: array_map_alloc, roundup_pow_of_two(max_entries) reaches "
       "2^32 (done in u64; index_mask + 1 wraps in u32 -> E2BIG without "
       "bypass_spec_v1)",
       "all"},
      {F::kMaxEntries, B::kAbsolute, kU32Max, false, true, "U32_MAX",
       "arraymap: array_map_alloc, largest max_entries, index_mask U32_MAX",
       "all"},
      {F::kMapFlags, B::kAbsolute, 1u << 3 | 1u << 4, false, false,
       "BPF_F_RDONLY|BPF_F_WRONLY",
       "bpf.h: bpf_map_flags_access_ok, both access bits -> EINVAL", "all"},
      {F::kMapFlags, B::kAbsolute, 1u << 7 | 1u << 8, false, false,
       "BPF_F_RDONLY_PROG|BPF_F_WRONLY_PROG",
       "bpf.h: bpf_map_flags_access_ok, both program access bits -> EINVAL",
       "all"},
      {F::kMapFlags, B::kAbsolute, 1u << 11, false, false,
       "BPF_F_PRESERVE_ELEMS",
       "arraymap: array_map_alloc_check, PRESERVE_ELEMS only for "
       "PERF_EVENT_ARRAY -> EINVAL",
       "all"},
      {F::kMapFlags, B::kAbsolute, 1u << 12 | 1u << 10, false, false,
       "BPF_F_INNER_MAP|BPF_F_MMAPABLE",
       "arraymap: array_map_alloc_check, MMAPABLE / INNER_MAP on ARRAY only",
       "all"},
      {F::kMapFlags, B::kAbsolute, 1u << 19, false, false, "1<<19",
       "uapi bpf.h: first map flag bit past BPF_F_NO_USER_CONV; "
       "ARRAY_CREATE_FLAG_MASK -> EINVAL",
       "all"},
      {F::kMapFlags, B::kAbsolute, int64_t{1} << 31, false, false, "1<<31",
       "arraymap: array_map_alloc_check, top map_flags bit -> EINVAL", "all"},
      {F::kNumaNode, B::kAbsolute, kNumaNoNode, false, false, "NUMA_NO_NODE",
       "syscall: map_create / bpf_map_attr_numa_node, numa_node != "
       "NUMA_NO_NODE (with BPF_F_NUMA_NODE, -1 means none)",
       "all"},
      {F::kNumaNode, B::kAbsolute, kNumaNoNode - 1, false, false,
       "NUMA_NO_NODE-1",
       "syscall: map_create, (unsigned)numa_node >= nr_node_ids -> EINVAL",
       "all"},
      {F::kNumaNode, B::kAbsolute, 0, false, false, "0",
       "syscall: map_create, node 0 online; arraymap: per-CPU with a node -> "
       "EINVAL",
       "all"},
      {F::kNumaNode, B::kAbsolute, kIntMax, true, false, "INT_MAX",
       "syscall: map_create, numa_node as int: INT_MAX positive, INT_MAX+1 "
       "negative (not NUMA_NO_NODE) -> EINVAL",
       "all"},
      // ---- element ops ----
      {F::kKey, B::kAbsolute, 0, false, false, "0",
       "arraymap: array_map_get_next_key / lookup, the first index", "all"},
      {F::kKey, B::kMaxEntries, 0, true, false, "max_entries",
       "arraymap: array_map_lookup_elem and friends, index >= max_entries",
       "all"},
      {F::kKey, B::kIndexMask, 0, true, false, "index_mask",
       "arraymap: array_map_alloc index_mask; lookups mask with it after the "
       "max_entries test",
       "all"},
      {F::kKey, B::kAbsolute, kU32Max, false, false, "U32_MAX",
       "arraymap: array_map_get_next_key, index >= max_entries -> 0; "
       "index + 1 wraps",
       "all"},
      {F::kUpdateFlags, B::kAbsolute, 3, false, false, "BPF_NOEXIST|BPF_EXIST",
       "arraymap: array_map_update_elem, BPF_NOEXIST -> EEXIST; both -> "
       "EINVAL (flags > BPF_EXIST)",
       "all"},
      {F::kUpdateFlags, B::kAbsolute, 4, false, false, "BPF_F_LOCK",
       "syscall: bpf_map_check_op_flags, BPF_F_LOCK without a spin lock -> "
       "EINVAL",
       "all"},
      {F::kUpdateFlags, B::kAbsolute, 8, false, false, "BPF_F_CPU",
       "syscall: bpf_map_check_op_flags, BPF_F_CPU per-CPU only", "7.0+"},
      {F::kUpdateFlags, B::kAbsolute, 16, true, false, "BPF_F_ALL_CPUS",
       "arraymap: bpf_percpu_array_update, (u32)flags > BPF_F_ALL_CPUS -> "
       "EINVAL",
       "7.0+"},
      {F::kUpdateFlags, B::kAbsolute, int64_t{1} << 32, false, false, "1<<32",
       "syscall: bpf_map_check_op_flags, high word without BPF_F_CPU", "all"},
      {F::kUpdateFlags, B::kAbsolute, -1, false, false, "U64_MAX",
       "syscall: map_update_elem, every flag bit", "all"},
      {F::kReadFlags, B::kAbsolute, 8, false, false, "BPF_F_CPU",
       "syscall: map_lookup_elem, allowed BPF_F_LOCK | BPF_F_CPU", "7.0+"},
      {F::kReadFlags, B::kAbsolute, 16, false, false, "BPF_F_ALL_CPUS",
       "syscall: map_lookup_elem, BPF_F_ALL_CPUS not allowed on a lookup",
       "7.0+"},
      {F::kReadFlags, B::kAbsolute, 4, false, false, "BPF_F_LOCK",
       "syscall: map_lookup_elem, BPF_F_LOCK needs a spin lock", "all"},
      {F::kFlagCpu, B::kPossibleCpus, 0, true, false, "num_possible_cpus",
       "syscall: bpf_map_check_op_flags, cpu >= num_possible_cpus() -> ERANGE "
       "/ EINVAL",
       "7.0+"},
      {F::kFlagCpu, B::kAbsolute, kU32Max, false, false, "U32_MAX",
       "syscall: bpf_map_check_op_flags, the largest CPU in the high word",
       "7.0+"},
      {F::kProgCpu, B::kPossibleCpus, 0, true, false, "nr_cpu_ids",
       "arraymap: percpu_array_map_lookup_percpu_elem, cpu >= nr_cpu_ids -> "
       "NULL",
       "all"},
      {F::kProgCpu, B::kAbsolute, kU32Max, false, false, "U32_MAX",
       "arraymap: percpu_array_map_lookup_percpu_elem, the largest u32 CPU",
       "all"},
      // ---- batches ----
      {F::kBatchCount, B::kAbsolute, 0, false, false, "0",
       "syscall: generic_map_lookup_batch / update_batch, count 0 -> nothing",
       "all"},
      {F::kBatchCount, B::kMaxEntries, 0, true, false, "max_entries",
       "syscall: generic_map_lookup_batch, the end of the map within count",
       "all"},
      {F::kInBatch, B::kAbsolute, kU32Max, false, false, "U32_MAX",
       "syscall: generic_map_lookup_batch, get_next_key from U32_MAX -> 0",
       "all"},
      {F::kInBatch, B::kMaxEntries, -1, true, false, "max_entries-1",
       "syscall: generic_map_lookup_batch, the last key -> ENOENT", "all"},
      {F::kBatchFlags, B::kAbsolute, 1, false, false, "1",
       "syscall: generic_map_*_batch, batch.flags != 0 -> EINVAL", "all"},
      {F::kElemFlags, B::kAbsolute, 4, false, false, "BPF_F_LOCK",
       "syscall: generic_map_*_batch, bpf_map_check_op_flags(elem_flags)",
       "all"},
      {F::kElemFlags, B::kAbsolute, 8, false, false, "BPF_F_CPU",
       "syscall: generic_map_lookup_batch, elem_flags BPF_F_LOCK | BPF_F_CPU",
       "7.0+"},
      {F::kElemFlags, B::kAbsolute, 16, false, false, "BPF_F_ALL_CPUS",
       "syscall: generic_map_update_batch allows BPF_F_ALL_CPUS, lookup not",
       "7.0+"},
      // ---- mmap ----
      {F::kMmapOffset, B::kRegion, 0, false, false, "region",
       "arraymap: array_map_mmap, pgoff + pages past PAGE_ALIGN(max_entries * "
       "elem_size) -> EINVAL",
       "all"},
      {F::kMmapOffset, B::kPage, -1, false, false, "PAGE_SIZE-1",
       "mm: mmap of an offset that is not page aligned -> EINVAL", "all"},
      {F::kMmapLength, B::kRegion, 0, true, false, "region",
       "arraymap: array_map_mmap, the whole value region and one byte more",
       "all"},
      {F::kMmapLength, B::kAbsolute, 0, false, false, "0",
       "mm: mmap of length 0 -> EINVAL", "all"},
      // ---- programs ----
      {F::kAtomicOffset, B::kValueSize, -8, false, false, "value_size-8",
       "verifier: check_map_access, the last 8-byte word of the value", "all"},
      {F::kAtomicOffset, B::kValueSize, 0, false, false, "value_size",
       "verifier: check_map_access, an access past the value", "all"},
  };
}

uint64_t IndexMask(uint32_t max_entries) {
  if (max_entries <= 1) return 0;
  uint64_t v = uint64_t{max_entries} - 1;
  unsigned bits = 64 - static_cast<unsigned>(__builtin_clzll(v));
  return (uint64_t{1} << bits) - 1;
}

}  // namespace

const std::vector<SpecialEntry>& SpecialTable() {
  static const std::vector<SpecialEntry> table = BuildTable();
  return table;
}

const char* SpecialFieldName(SpecialField field) {
  static constexpr const char* kNames[] = {
      "key_size",    "value_size", "max_entries", "map_flags",   "numa_node",
      "key",         "update.flags", "lookup.flags", "flags.cpu", "prog.cpu",
      "batch.count", "in_batch",   "batch.flags", "elem_flags",  "mmap.offset",
      "mmap.length", "atomic.offset"};
  return kNames[static_cast<size_t>(field)];
}

uint64_t SpecialValue(const SpecialEntry& e, const core::MapSpec& spec,
                      const core::Environment& env) {
  uint64_t base = 0;
  switch (e.base) {
    case B::kAbsolute: base = 0; break;
    case B::kMaxEntries: base = spec.max_entries; break;
    case B::kIndexMask: base = IndexMask(spec.max_entries); break;
    case B::kPossibleCpus: base = env.possible_cpus; break;
    case B::kPage: base = env.page_size; break;
    case B::kRegion: {
      const uint64_t bytes = core::ElemSize(spec) * spec.max_entries;
      const uint64_t page = std::max<uint32_t>(env.page_size, 1);
      base = std::max<uint64_t>((bytes + page - 1) / page * page, page);
      break;
    }
    case B::kValueSize: base = spec.value_size; break;
  }
  return base + static_cast<uint64_t>(e.offset);
}

std::string DescribeSpecial(size_t index) {
  const SpecialEntry& e = SpecialTable()[index];
  return std::string(SpecialFieldName(e.field)) + "=" + e.name + " (" +
         e.source + "; " + e.matters + ")";
}

const std::vector<uint32_t>& SpecialEntriesOf(SpecialField field) {
  static const std::vector<std::vector<uint32_t>> by_field = [] {
    std::vector<std::vector<uint32_t>> out(
        static_cast<size_t>(SpecialField::kAtomicOffset) + 1);
    const auto& table = SpecialTable();
    for (uint32_t i = 0; i < table.size(); ++i) {
      out[static_cast<size_t>(table[i].field)].push_back(i);
    }
    return out;
  }();
  return by_field[static_cast<size_t>(field)];
}

bool RefusedBeforeAllocation(const core::MapSpec& spec) {
  const bool percpu = spec.type == core::MapType::kPercpuArray;
  return spec.max_entries == 0 || spec.key_size != 4 || spec.value_size == 0 ||
         spec.value_size > INT_MAX ||
         (percpu && core::ElemSize(spec) > kPcpuMinUnitSize);
}

void MarkSpecialValues(const core::Sequence& seq, const core::Environment& env,
                       std::vector<bool>* hit) {
  const auto& table = SpecialTable();
  hit->resize(table.size());
  const core::MapSpec& spec = seq.spec;
  auto mark = [&](SpecialField field, uint64_t value) {
    for (uint32_t i : SpecialEntriesOf(field)) {
      if (!(*hit)[i] && SpecialValue(table[i], spec, env) == value) {
        (*hit)[i] = true;
      }
    }
  };
  auto mark_flags = [&](SpecialField field, uint64_t flags) {
    mark(field, flags);
    if (flags & 8) mark(SpecialField::kFlagCpu, flags >> 32);
  };
  mark(SpecialField::kKeySize, spec.key_size);
  mark(SpecialField::kValueSize, spec.value_size);
  mark(SpecialField::kMaxEntries, spec.max_entries);
  mark(SpecialField::kMapFlags, spec.map_flags);
  if (spec.map_flags & core::kBpfFNumaNode) {
    mark(SpecialField::kNumaNode, spec.numa_node);
  }
  for (const core::Step& step : seq.steps) {
    std::visit(
        [&](const auto& x) {
          using T = std::decay_t<decltype(x)>;
          if constexpr (std::is_same_v<T, core::GetNextKey>) {
            if (x.key) mark(SpecialField::kKey, *x.key);
          } else if constexpr (requires { x.key; }) {
            mark(SpecialField::kKey, x.key);
          }
          if constexpr (std::is_same_v<T, core::Update> ||
                        std::is_same_v<T, core::ProgUpdate>) {
            mark_flags(SpecialField::kUpdateFlags, x.flags);
          }
          if constexpr (std::is_same_v<T, core::Lookup> ||
                        std::is_same_v<T, core::LookupAndDelete>) {
            mark_flags(SpecialField::kReadFlags, x.flags);
          }
          if constexpr (requires { x.cpu; }) mark(SpecialField::kProgCpu, x.cpu);
          if constexpr (requires { x.target_cpu; }) {
            mark(SpecialField::kProgCpu, x.target_cpu);
          }
          if constexpr (requires { x.count; }) {
            mark(SpecialField::kBatchCount, x.count);
            if (x.in_batch) mark(SpecialField::kInBatch, *x.in_batch);
          }
          if constexpr (requires { x.keys; }) {
            mark(SpecialField::kBatchCount, x.keys.size());
            for (uint32_t k : x.keys) mark(SpecialField::kKey, k);
          }
          if constexpr (requires { x.elem_flags; }) {
            mark_flags(SpecialField::kElemFlags, x.elem_flags);
            mark(SpecialField::kBatchFlags, x.flags);
          }
          if constexpr (std::is_same_v<T, core::Mmap>) {
            mark(SpecialField::kMmapOffset, x.offset);
            mark(SpecialField::kMmapLength, x.length);
          }
          if constexpr (std::is_same_v<T, core::ProgAtomicAdd>) {
            mark(SpecialField::kAtomicOffset, x.offset);
          }
        },
        step.op);
  }
}

}  // namespace amc::gen
