// gen/generator.cc: the edge-biased choices.
#include "gen/generator.h"

#include <algorithm>
#include <climits>
#include <cstring>
#include <iterator>
#include <numeric>
#include <variant>
#include <type_traits>

#include "core/coverage.h"
#include "gen/special_values.h"

namespace amc::gen {
namespace {

using core::MapSpec;
using core::MapType;

// Map flag bits never generated: BPF_F_TOKEN_FD makes the kernel look up
// map_token_fd (0), whose answer depends on what the process has on fd 0,
// not on the map semantics.
constexpr uint32_t kNeverGeneratedMapFlags = core::kBpfFTokenFd;

uint64_t RoundUp8(uint64_t n) { return (n + 7) & ~uint64_t{7}; }

// Whether the current draw takes special values (GenOptions::special_values),
// set for the length of each public entry point by SpecialScope, so that the
// helpers below need no options parameter. Off: DrawSpecial draws nothing,
// and every decoding is as it was before the table.
thread_local bool t_special_values = false;

class SpecialScope {
 public:
  explicit SpecialScope(const GenOptions& o) : saved_(t_special_values) {
    t_special_values = o.special_values;
  }
  ~SpecialScope() { t_special_values = saved_; }
  SpecialScope(const SpecialScope&) = delete;
  SpecialScope& operator=(const SpecialScope&) = delete;

 private:
  bool saved_;
};

// With GenOptions::special_values, about `percent` in 100 times (the
// lowest choice is "no", so an exhausted byte source draws none), one of the special table's values for `field`
// (gen/special_values.h), or a neighbour of it where the entry has them.
// Entries marked refused_only are skipped unless `refused_ok`.
template <class C>
bool DrawSpecial(C& c, SpecialField field, const MapSpec& spec,
                 const core::Environment& env, uint32_t percent, uint64_t* out,
                 bool refused_ok = true) {
  if (!t_special_values || c.Range(0, 99) < 100 - percent) return false;
  const std::vector<uint32_t>& entries = SpecialEntriesOf(field);
  const SpecialEntry& e = SpecialTable()[entries[c.Range(0, entries.size() - 1)]];
  if (e.refused_only && !refused_ok) return false;
  uint64_t v = SpecialValue(e, spec, env);
  if (e.neighbours) v += c.Range(0, 2) - 1;
  *out = v;
  return true;
}

// The special values relative to max_entries alone (keys, counts).
MapSpec OfEntries(uint32_t max_entries) {
  MapSpec spec;
  spec.max_entries = max_entries;
  return spec;
}

template <class C>
uint32_t GenValueSize(C& c) {
  static constexpr uint32_t kEdges[] = {
      1, 2, 3, 4, 5, 7, 8, 9, 12, 15, 16, 17, 24, 31, 32, 33, 63, 64, 65,
      100, 255, 256, 1000, 4095, 4096, 4097, 32760, 32767, 32768, 32769};
  uint64_t roll = c.Range(0, 99);
  if (roll < 45) return static_cast<uint32_t>(c.Range(1, 40));
  if (roll < 90) return c.Pick(kEdges);
  if (roll < 93) return 0;
  if (roll < 96) return static_cast<uint32_t>(c.Range(uint64_t{INT_MAX} + 1, UINT32_MAX));
  return static_cast<uint32_t>(c.Range(1, 70000));
}

template <class C>
uint32_t GenMaxEntries(C& c, const MapSpec& spec, const GenOptions& o) {
  uint64_t elem = RoundUp8(spec.value_size);
  uint64_t per_page = elem ? std::max<uint64_t>(1, o.env.page_size / elem) : 1;
  uint64_t roll = c.Range(0, 99);
  uint64_t n;
  if (roll < 40) {
    n = c.Range(1, 8);
  } else if (roll < 60) {
    static constexpr uint32_t kEdges[] = {1,  2,   3,   15,  16,  17,  63,
                                          64, 65,  100, 255, 256, 257, 1024};
    n = c.Pick(kEdges);
  } else if (roll < 80) {
    // Around page boundaries of the mmapable data region.
    uint64_t pages = c.Range(1, 3);
    n = per_page * pages + c.Range(0, 2) - 1;
  } else if (roll < 97) {
    n = c.Range(1, 4096);
  } else if (roll < 99) {
    n = 0;
  } else {
    n = c.Range(1, UINT32_MAX);
  }
  // Keep any map the kernel could allocate small.
  uint64_t cpus = spec.type == MapType::kPercpuArray ? o.env.possible_cpus : 1;
  uint64_t unit = std::max<uint64_t>(elem, 8) * cpus;
  if (spec.value_size <= INT_MAX && n * unit > o.max_map_bytes) {
    n = std::max<uint64_t>(1, o.max_map_bytes / unit);
  }
  if (spec.value_size > INT_MAX) n = std::min<uint64_t>(n, 16);
  return static_cast<uint32_t>(n);
}

template <class C>
uint32_t GenMapFlags(C& c, const MapSpec& spec) {
  uint32_t flags = 0;
  if (spec.type == MapType::kArray && c.Percent(35)) flags |= core::kBpfFMmapable;
  if (c.Percent(6)) flags |= core::kBpfFRdonly;
  if (c.Percent(6)) flags |= core::kBpfFWronly;
  if (c.Percent(6)) flags |= core::kBpfFRdonlyProg;
  if (c.Percent(6)) flags |= core::kBpfFWronlyProg;
  if (c.Percent(3)) flags |= core::kBpfFNumaNode;
  if (c.Percent(2)) flags |= core::kBpfFInnerMap;
  if (c.Percent(2)) flags |= core::kBpfFMmapable;
  if (c.Percent(4)) flags |= uint32_t{1} << c.Range(0, 31);
  return flags & ~kNeverGeneratedMapFlags;
}

template <class C>
uint32_t GenKey(C& c, uint32_t max_entries) {
  uint64_t roll = c.Range(0, 99);
  uint32_t last = max_entries ? max_entries - 1 : 0;
  uint64_t special;
  if (DrawSpecial(c, SpecialField::kKey, OfEntries(max_entries), {}, 3, &special)) {
    return static_cast<uint32_t>(special);
  }
  if (roll < 55) return static_cast<uint32_t>(c.Range(0, last));
  if (roll < 65) return 0;
  if (roll < 75) return last;
  if (roll < 83) return max_entries;
  if (roll < 88) return max_entries + 1;
  if (roll < 94) return UINT32_MAX;
  return static_cast<uint32_t>(c.Range(0, UINT32_MAX));
}

template <class C>
std::optional<uint32_t> GenOptionalKey(C& c, uint32_t max_entries) {
  if (c.Percent(20)) return std::nullopt;
  return GenKey(c, max_entries);
}

// The per-CPU flags of Linux 7.0 (core/kernel_profile.h percpu_cpu_flags):
// BPF_F_CPU, BPF_F_ALL_CPUS, both, or the upper bits alone, with a CPU
// below, at or past `cpus` (possible CPUs) or anywhere in 32 bits, and
// BPF_NOEXIST / BPF_EXIST / both / BPF_F_LOCK now and then.
template <class C>
uint64_t GenCpuFlags(C& c, uint32_t cpus) {
  uint64_t cpu;
  uint64_t roll = c.Range(0, 9);
  if (DrawSpecial(c, SpecialField::kFlagCpu, MapSpec{}, core::Environment{cpus, 4096, ""}, 15, &cpu)) {
    cpu &= UINT32_MAX;
  } else if (roll < 5) {
    cpu = c.Range(0, cpus - 1);
  } else if (roll < 7) {
    cpu = cpus;
  } else if (roll < 8) {
    cpu = uint64_t{cpus} + 1;
  } else {
    cpu = c.Range(0, UINT32_MAX);
  }
  uint64_t flags;
  roll = c.Range(0, 9);
  if (roll < 5) {
    flags = core::kBpfFCpu | (cpu << 32);
  } else if (roll < 7) {
    flags = core::kBpfFAllCpus;
  } else if (roll < 8) {
    flags = core::kBpfFAllCpus | (cpu << 32);
  } else if (roll < 9) {
    flags = core::kBpfFCpu | core::kBpfFAllCpus | (cpu << 32);
  } else {
    flags = cpu << 32;
  }
  roll = c.Range(0, 9);
  if (roll == 6) flags |= core::kBpfNoexist;
  if (roll == 7) flags |= core::kBpfExist;
  if (roll == 8) flags |= core::kBpfNoexist | core::kBpfExist;
  if (roll == 9) flags |= core::kBpfFLock;
  return flags;
}

// Update flags: mostly BPF_ANY / BPF_NOEXIST / BPF_EXIST, rarely anything.
template <class C>
uint64_t GenUpdateFlags(C& c, uint32_t cpus) {
  uint64_t roll = c.Range(0, 99);
  uint64_t special;
  if (DrawSpecial(c, SpecialField::kUpdateFlags, MapSpec{}, {}, 4, &special)) return special;
  if (roll < 50) return core::kBpfAny;
  if (roll < 65) return core::kBpfNoexist;
  if (roll < 80) return core::kBpfExist;
  if (roll < 84) return 3;
  if (roll < 88) return core::kBpfFLock | c.Range(0, 2);
  if (roll < 94) return GenCpuFlags(c, cpus);
  if (roll < 97) return uint64_t{1} << c.Range(0, 63);
  return c.Range(0, UINT64_MAX);
}

// Lookup / elem flags: mostly 0.
template <class C>
uint64_t GenReadFlags(C& c, uint32_t cpus) {
  if (c.Percent(80)) return 0;
  uint64_t special;
  if (DrawSpecial(c, SpecialField::kReadFlags, MapSpec{}, {}, 15, &special)) return special;
  return GenUpdateFlags(c, cpus);
}

// For a map with a bpf_spin_lock, BPF_F_LOCK often (alone, with BPF_EXIST /
// BPF_NOEXIST, rarely with another bit), else the usual flags. Maps without
// a lock draw exactly as before.
template <class C>
uint64_t GenLockAwareFlags(C& c, const MapSpec& spec, bool update,
                           uint32_t cpus) {
  if (!spec.spin_lock_offset) return update ? GenUpdateFlags(c, cpus) : GenReadFlags(c, cpus);
  uint64_t roll = c.Range(0, 99);
  if (roll < 50) return update ? GenUpdateFlags(c, cpus) : GenReadFlags(c, cpus);
  if (roll < 80) return core::kBpfFLock;
  if (roll < 88) return core::kBpfFLock | core::kBpfExist;
  if (roll < 94) return core::kBpfFLock | core::kBpfNoexist;
  return core::kBpfFLock | (uint64_t{1} << c.Range(0, 63));
}

// Batch ops' fields: in_batch, elem_flags and batch.flags, with the
// special table's values now and then.
template <class C>
std::optional<uint32_t> GenInBatch(C& c, uint32_t max_entries) {
  uint64_t special;
  if (DrawSpecial(c, SpecialField::kInBatch, OfEntries(max_entries), {}, 6, &special)) {
    return static_cast<uint32_t>(special);
  }
  return GenOptionalKey(c, max_entries);
}

template <class C>
uint64_t GenElemFlags(C& c, const MapSpec& spec, uint32_t cpus) {
  uint64_t special;
  if (DrawSpecial(c, SpecialField::kElemFlags, spec, {}, 5, &special)) return special;
  return GenLockAwareFlags(c, spec, false, cpus);
}

template <class C>
uint64_t GenBatchFlags(C& c, uint32_t cpus) {
  uint64_t special;
  if (DrawSpecial(c, SpecialField::kBatchFlags, MapSpec{}, {}, 2, &special)) return special;
  return c.Percent(95) ? 0 : GenUpdateFlags(c, cpus);
}

// Where the bpf_spin_lock goes: mostly 4-aligned inside the value, rarely
// anywhere inside (misaligned: EFAULT), just past the end or anywhere
// (EINVAL). Always below 512 MiB: BTF member offsets are u32 bit counts, so
// no BTF (and no kernel answer) exists for a lock further out.
constexpr uint32_t kMaxLockOffset = (uint32_t{1} << 29) - 8;

template <class C>
uint32_t GenLockOffset(C& c, uint32_t value_size) {
  const uint32_t room = std::min(value_size, kMaxLockOffset);
  uint64_t roll = c.Range(0, 99);
  if (room >= 4) {
    if (roll < 85) return 4 * static_cast<uint32_t>(c.Range(0, (room - 4) / 4));
    if (roll < 92) return static_cast<uint32_t>(c.Range(0, room - 4));
  }
  if (roll < 97 && value_size <= kMaxLockOffset) {
    return static_cast<uint32_t>(c.Range(value_size > 3 ? value_size - 3 : 0, value_size));
  }
  return static_cast<uint32_t>(c.Range(0, kMaxLockOffset));
}

// Fills `out` with `size` bytes (reusing its storage): one pass over the
// buffer, no zeroing first.
template <class C>
AMC_COPY_LOOP void GenBytesInto(C& c, uint64_t size, core::Bytes* out) {
  uint64_t roll = c.Range(0, 99);
  if (roll < 30) {
    out->assign(size, c.Byte());
  } else if (roll < 45) {
    // A counting pattern starting at a random byte: tears are visible. It
    // repeats every 256 bytes.
    uint8_t pattern[256];
    const uint8_t start = c.Byte();
    for (size_t i = 0; i < sizeof pattern; ++i) pattern[i] = static_cast<uint8_t>(start + i);
    out->clear();
    out->reserve(size);
    for (uint64_t at = 0; at < size; at += sizeof pattern) {
      out->insert(out->end(), pattern, pattern + std::min<uint64_t>(sizeof pattern, size - at));
    }
  } else {
    uint8_t literal[16];
    const size_t n = std::min<uint64_t>(size, sizeof literal);
    for (size_t i = 0; i < n; ++i) literal[i] = c.Byte();
    out->assign(size, c.Byte());
    if (n > 0) std::memcpy(out->data(), literal, n);
  }
}

// The alternative T of `op`, keeping its buffers when `op` holds one.
template <class T>
T& Reuse(core::Op* op) {
  if (T* held = std::get_if<T>(op)) return *held;
  return op->emplace<T>();
}

template <class C>
uint32_t GenCount(C& c, uint32_t max_entries) {
  uint64_t roll = c.Range(0, 99);
  uint64_t special;
  if (DrawSpecial(c, SpecialField::kBatchCount, OfEntries(max_entries), {}, 5, &special)) {
    return static_cast<uint32_t>(special);
  }
  if (roll < 10) return 0;
  if (roll < 30) return 1;
  if (roll < 45) return max_entries;
  if (roll < 55) return max_entries ? max_entries - 1 : 0;
  if (roll < 65) return max_entries + 1;
  return static_cast<uint32_t>(c.Range(0, std::min<uint64_t>(max_entries + 2, 64)));
}

template <class C>
uint32_t GenCpu(C& c, const GenOptions& o) {
  uint64_t special;
  if (DrawSpecial(c, SpecialField::kProgCpu, MapSpec{}, o.env, 3, &special)) {
    return static_cast<uint32_t>(special);
  }
  if (c.Percent(5)) return o.env.possible_cpus;  // one past the last
  // The first possible-but-offline CPU (drawn only when there is one, so
  // that sequences of an all-online geometry are as before).
  if (o.env.Online() < o.env.possible_cpus && c.Percent(5)) {
    return o.env.Online();
  }
  if (c.Percent(1)) return static_cast<uint32_t>(c.Range(0, UINT32_MAX));
  return static_cast<uint32_t>(c.Range(0, o.env.possible_cpus - 1));
}

uint64_t DataRegion(const MapSpec& spec, uint32_t page) {
  uint64_t bytes = RoundUp8(spec.value_size) * spec.max_entries;
  return (bytes + page - 1) / page * page;
}

template <class C>
core::Mmap GenMmap(C& c, const MapSpec& spec, const GenOptions& o) {
  core::Mmap m;
  const uint64_t page = o.env.page_size;
  const uint64_t region = std::max<uint64_t>(DataRegion(spec, page), page);
  m.slot = static_cast<uint32_t>(c.Percent(3) ? core::kMappingSlots : c.Range(0, core::kMappingSlots - 1));
  uint64_t roll = c.Range(0, 99);
  uint64_t special;
  if (DrawSpecial(c, SpecialField::kMmapOffset, spec, o.env, 4, &special)) {
    m.offset = special;
  } else if (roll < 75) {
    m.offset = 0;
  } else if (roll < 90) {
    m.offset = page * c.Range(0, region / page);
  } else if (roll < 95) {
    m.offset = c.Range(1, page - 1);
  } else {
    m.offset = page * c.Range(0, 1u << 20);
  }
  roll = c.Range(0, 99);
  if (DrawSpecial(c, SpecialField::kMmapLength, spec, o.env, 4, &special)) {
    m.length = special;
  } else if (roll < 40) {
    m.length = region;
  } else if (roll < 60) {
    m.length = page;
  } else if (roll < 75) {
    m.length = c.Range(1, region);
  } else if (roll < 85) {
    m.length = region + c.Range(1, page);
  } else if (roll < 90) {
    m.length = 0;
  } else if (roll < 95) {
    m.length = region - m.offset % region;
  } else if (c.Percent(50)) {
    m.length = c.Range(1, uint64_t{1} << 24);
  } else {
    // Huge lengths only above TASK_SIZE (2^47 - a page on x86_64), where every
    // kernel refuses them alike (ENOMEM). Between the machine's commit limit
    // and TASK_SIZE the kernel's answer depends on memory and address-space
    // layout, not on the map (KNOWN_DIFFERENCES.md), so none are drawn there.
    m.length = c.Range(uint64_t{1} << 47, UINT64_MAX);
  }
  roll = c.Range(0, 99);
  m.prot = roll < 45   ? core::kProtRead | core::kProtWrite
           : roll < 80 ? core::kProtRead
           : roll < 88 ? core::kProtWrite
           : roll < 94 ? 0
                       : static_cast<uint32_t>(c.Range(0, 7));
  m.shared = !c.Percent(8);
  return m;
}

// An access inside a typical mapping, sometimes across its end.
template <class C>
std::pair<uint64_t, uint64_t> GenAccess(C& c, const MapSpec& spec,
                                        const GenOptions& o) {
  const uint64_t page = o.env.page_size;
  const uint64_t region = std::max<uint64_t>(DataRegion(spec, page), page);
  uint64_t length = c.Percent(70) ? std::min<uint64_t>(RoundUp8(spec.value_size), 64)
                                  : c.Range(1, 64);
  uint64_t offset;
  uint64_t roll = c.Range(0, 99);
  if (roll < 60) {
    uint64_t elem = RoundUp8(spec.value_size);
    offset = elem * c.Range(0, spec.max_entries ? spec.max_entries - 1 : 0);
  } else if (roll < 90) {
    offset = c.Range(0, region - 1);
  } else {
    offset = region - c.Range(0, 8);
  }
  return {offset, length};
}

// ---- huge maps (GenOptions::huge_maps) ----

constexpr uint64_t k4G = uint64_t{1} << 32;

// Maps whose true size is at or just past 2^32 bytes, one per size product
// the kernel computes in 64 bits and a runtime may compute in 32
// (arraymap.c array_map_alloc: elem_size * max_entries, elem_size =
// round_up(value_size, 8); the per-CPU storage elem_size * max_entries per
// possible CPU; array_map_mmap: PAGE_ALIGN(max_entries * elem_size)). Each
// value_size stays at most 1 MiB + 8, so every op's buffers stay small.
template <class C>
MapSpec HugeSpec(C& c, const GenOptions& o) {
  MapSpec spec;
  const uint64_t cpus = std::max<uint32_t>(o.env.possible_cpus, 1);
  // The first max_entries whose product with `unit` passes 2^32, or reaches
  // it exactly (a 32-bit product of 0), drawn with its neighbour.
  auto past = [&](uint64_t unit) {
    const uint64_t at = k4G / unit;
    return static_cast<uint32_t>(at + c.Range(0, 1) + (k4G % unit ? 1 : 0));
  };
  switch (c.Range(0, 6)) {
    case 0:  // elem_size * max_entries: 8 * (2^29 + 1) = 2^32 + 8
      spec.value_size = 8;
      spec.max_entries = past(8);
      break;
    case 1:  // round_up(value_size, 8): 4 * n is 2^31 + 4, 8 * n past 2^32
      spec.value_size = static_cast<uint32_t>(c.Range(1, 7));
      spec.max_entries = past(8);
      break;
    case 2:  // a large value: (2^20 + 8) * 4096 = 2^32 + 2^15
      spec.value_size = (1u << 20) + 8;
      spec.max_entries = 4096 + static_cast<uint32_t>(c.Range(0, 1));
      break;
    case 3:  // value_size * n wraps where elem_size * n does too, apart
      spec.value_size = (1u << 20) + static_cast<uint32_t>(c.Range(1, 7));
      spec.max_entries = 4096 + static_cast<uint32_t>(c.Range(0, 1));
      break;
    case 4:  // the mapped region: PAGE_ALIGN(2^32 + 8)
      spec.value_size = 8;
      spec.max_entries = past(8);
      spec.map_flags = core::kBpfFMmapable;
      break;
    case 5:  // per CPU: 8 * n * possible_cpus past 2^32
      spec.type = MapType::kPercpuArray;
      spec.value_size = 8;
      spec.max_entries = past(8 * cpus);
      break;
    default:  // per CPU with PCPU_MIN_UNIT_SIZE values (32 KiB)
      spec.type = MapType::kPercpuArray;
      spec.value_size = 32768;
      spec.max_entries = past(32768 * cpus);
      break;
  }
  if (o.excluded_map_types & (1u << static_cast<uint32_t>(spec.type))) {
    spec.type = spec.type == MapType::kArray ? MapType::kPercpuArray
                                             : MapType::kArray;
  }
  spec.map_flags &= ~o.excluded_map_flags;
  return spec;
}

// Whether `spec` is one of HugeSpec's (its storage reaches 2^31 bytes).
bool IsHuge(const MapSpec& spec, const GenOptions& o) {
  const uint64_t cpus =
      spec.type == MapType::kPercpuArray ? std::max<uint32_t>(o.env.possible_cpus, 1) : 1;
  return o.huge_maps && spec.value_size <= INT_MAX &&
         RoundUp8(spec.value_size) * spec.max_entries * cpus >= (k4G >> 1);
}

// A key where a huge map's size arithmetic can go wrong: the first, the
// last, the element at 2^32 bytes (2^32 / elem_size, and 2^32 /
// (elem_size * possible CPUs) for a runtime that lays CPUs out per key)
// and its neighbours, or one past the end.
template <class C>
uint32_t WrapKey(C& c, const MapSpec& spec, const GenOptions& o) {
  const uint64_t n = spec.max_entries;
  const uint64_t elem = RoundUp8(spec.value_size);
  const uint64_t cpus = std::max<uint32_t>(o.env.possible_cpus, 1);
  uint64_t k;
  switch (c.Range(0, 5)) {
    case 0: k = 0; break;
    case 1: k = n - 1; break;
    case 2: k = n; break;
    case 3: k = spec.type == MapType::kPercpuArray ? k4G / (elem * cpus) : k4G / elem; break;
    default: k = k4G / elem; break;
  }
  k = k + c.Range(0, 2) - 1;
  if (k == UINT64_MAX) k = 0;
  return static_cast<uint32_t>(std::min<uint64_t>(k, n));
}

// Points an op drawn for a huge map at its boundaries, and bounds its
// buffers (a batch of every key of a 4 GiB map would return 4 GiB).
template <class C>
void AimAtWrap(C& c, const MapSpec& spec, const GenOptions& o, core::Op* op) {
  const uint64_t page = o.env.page_size;
  std::visit(
      [&](auto& x) {
        using T = std::decay_t<decltype(x)>;
        if constexpr (requires { x.key; } && !std::is_same_v<T, core::GetNextKey>) {
          if (c.Percent(80)) x.key = WrapKey(c, spec, o);
        }
        if constexpr (std::is_same_v<T, core::GetNextKey>) {
          if (c.Percent(80)) x.key = WrapKey(c, spec, o);
        }
        if constexpr (requires { x.count; }) {
          x.count = std::min<uint32_t>(x.count, 16);
          if (c.Percent(60)) x.in_batch = WrapKey(c, spec, o);
        }
        if constexpr (requires { x.keys; }) {
          for (uint32_t& k : x.keys) {
            if (c.Percent(80)) k = WrapKey(c, spec, o);
          }
        }
        if constexpr (std::is_same_v<T, core::Mmap>) {
          // The whole region (past 2^32 bytes), or two pages across 2^32.
          if (c.Percent(50)) {
            x.offset = 0;
            x.length = DataRegion(spec, static_cast<uint32_t>(page));
          } else {
            x.offset = k4G - page;
            x.length = 2 * page;
          }
        }
        if constexpr (std::is_same_v<T, core::MmapRead> ||
                      std::is_same_v<T, core::MmapWrite>) {
          // Across 2^32 in a whole-region mapping, or across the page
          // boundary of a mapping at 2^32 - page.
          const uint64_t at = c.Percent(50) ? k4G : page;
          x.offset = at - std::min<uint64_t>(at, c.Range(0, 8));
        }
      },
      *op);
}

template <class C>
MapSpec GenSpec(C& c, const GenOptions& o) {
  // Drawn only with huge_maps, so other decodings are unchanged.
  if (o.huge_maps && c.Percent(o.huge_map_percent)) return HugeSpec(c, o);
  MapSpec spec;
  spec.type = c.Percent(60) ? MapType::kArray : MapType::kPercpuArray;
  spec.key_size = 4;
  static constexpr uint32_t kOddKeySizes[] = {0, 1, 2, 3, 5, 8, 16};
  if (c.Percent(3)) spec.key_size = c.Pick(kOddKeySizes);
  uint64_t special;
  if (DrawSpecial(c, SpecialField::kKeySize, spec, o.env, 3, &special)) {
    spec.key_size = static_cast<uint32_t>(special);
  }
  spec.value_size = GenValueSize(c);
  if (DrawSpecial(c, SpecialField::kValueSize, spec, o.env, 8, &special)) {
    spec.value_size = static_cast<uint32_t>(special);
  }
  spec.max_entries = GenMaxEntries(c, spec, o);
  // Large max_entries only where the map is refused before allocating.
  if (DrawSpecial(c, SpecialField::kMaxEntries, spec, o.env, 5, &special,
                  RefusedBeforeAllocation(spec))) {
    spec.max_entries = static_cast<uint32_t>(special);
  }
  spec.map_flags = GenMapFlags(c, spec);
  if (DrawSpecial(c, SpecialField::kMapFlags, spec, o.env, 5, &special)) {
    spec.map_flags = (spec.map_flags | static_cast<uint32_t>(special)) &
                     ~kNeverGeneratedMapFlags;
  }
  spec.numa_node = c.Percent(4) ? static_cast<uint32_t>(c.Range(1, 8)) : 0;
  if (DrawSpecial(c, SpecialField::kNumaNode, spec, o.env, 5, &special)) {
    spec.numa_node = static_cast<uint32_t>(special);
    spec.map_flags |= core::kBpfFNumaNode;
  }
  // A bpf_spin_lock in the value, for about one spec in ten. Drawn last, and
  // the lowest choice is "none", so an exhausted byte source decodes specs
  // as before. ARRAY mostly (a PERCPU_ARRAY spec stays one now and then, for
  // the refusal), values of at least a lock mostly.
  if (!c.Percent(90)) {
    if (spec.type == MapType::kPercpuArray && !c.Percent(15)) {
      spec.type = MapType::kArray;
    }
    if (spec.value_size < 4 && !c.Percent(10)) {
      spec.value_size = static_cast<uint32_t>(c.Range(4, 64));
      // Keep the storage bound for the larger value (PERCPU counted per
      // CPU, as in GenMaxEntries).
      const uint64_t cpus =
          spec.type == MapType::kPercpuArray ? o.env.possible_cpus : 1;
      uint64_t cap = std::max<uint64_t>(
          1, o.max_map_bytes / (RoundUp8(spec.value_size) * cpus));
      spec.max_entries = static_cast<uint32_t>(std::min<uint64_t>(spec.max_entries, cap));
    }
    spec.spin_lock_offset = GenLockOffset(c, spec.value_size);
  }
  // What a backend cannot create at all is never drawn (no extra choices,
  // so other specs decode as before).
  if (o.excluded_map_types & (1u << static_cast<uint32_t>(spec.type))) {
    spec.type = spec.type == MapType::kArray ? MapType::kPercpuArray
                                             : MapType::kArray;
    if (spec.type == MapType::kPercpuArray) {
      uint64_t cap = std::max<uint64_t>(
          1, o.max_map_bytes / (RoundUp8(spec.value_size) * o.env.possible_cpus));
      spec.max_entries = static_cast<uint32_t>(std::min<uint64_t>(spec.max_entries, cap));
    }
  }
  spec.map_flags &= ~o.excluded_map_flags;
  // A special value_size whose map would be large (INT_MAX, KMALLOC_MAX_SIZE
  // and their neighbours): kept only where the kernel refuses the spec
  // before allocating; otherwise the key size makes it refused (EINVAL in
  // the same array_map_alloc_check test), so no backend allocates it.
  const uint64_t cpus =
      spec.type == MapType::kPercpuArray ? std::max<uint32_t>(o.env.possible_cpus, 1) : 1;
  if (!RefusedBeforeAllocation(spec) &&
      RoundUp8(spec.value_size) * cpus * spec.max_entries > 2 * o.max_map_bytes) {
    spec.key_size = 8;
  }
  return spec;
}

// Weights per kind (index = OpKind).
constexpr uint32_t kWeights[core::kOpKindCount] = {
    /*lookup*/ 14, /*update*/ 16, /*delete*/ 3, /*lookup_and_delete*/ 2,
    /*get_next_key*/ 6, /*lookup_batch*/ 6, /*lookup_and_delete_batch*/ 1,
    /*update_batch*/ 6, /*delete_batch*/ 1, /*freeze*/ 2, /*mmap*/ 5,
    /*mmap_read*/ 5, /*mmap_write*/ 5, /*munmap*/ 3, /*prog_lookup*/ 7,
    /*prog_update*/ 7, /*prog_delete*/ 2, /*prog_lookup_percpu*/ 4,
    /*prog_atomic_add*/ 6};

}  // namespace

KindTable::KindTable(const std::bitset<core::kOpKindCount>& kinds) {
  static_assert(std::accumulate(std::begin(kWeights), std::end(kWeights), 0u) <=
                    std::tuple_size_v<decltype(kind_of_roll)>,
                "every roll must fit the table");
  for (size_t k = 0; k < core::kOpKindCount; ++k) {
    if (!kinds.test(k)) continue;
    for (uint32_t w = 0; w < kWeights[k]; ++w) {
      kind_of_roll[total++] = static_cast<uint8_t>(k);
    }
  }
}

namespace {

// Which kind the next op is (OpKind index), by the weights: a roll in
// [0, total) falls in the allowed kind whose range of weight holds it.
template <class C>
size_t DrawKind(C& c, const KindTable& table) {
  // No kind allowed: a freeze, drawing nothing.
  if (table.total == 0) return static_cast<size_t>(core::OpKind::kFreeze);
  return table.kind_of_roll[c.Range(0, table.total - 1)];
}

// The op's operands for a drawn kind, into `*op`.
template <class C>
void GenerateOfKind(C& c, const MapSpec& spec, const GenOptions& o,
                    size_t kind, core::Op* op) {
  using K = core::OpKind;
  const uint32_t n = spec.max_entries;
  const uint32_t cpus = std::max<uint32_t>(o.env.possible_cpus, 1);
  const uint64_t vsize = core::SyscallValueSize(spec, o.env);
  // The buffer an op with these flags passes (value_size with BPF_F_CPU /
  // BPF_F_ALL_CPUS): values are drawn for the whole buffer, then cut to it,
  // so that the draws, and so every decoding, do not depend on the flags.
  auto fit = [&](uint64_t flags) {
    return std::min<uint64_t>(core::SyscallValueSize(spec, o.env, flags, true),
                              uint64_t{1} << 16);
  };
  // Value buffers are bounded for sequences whose spec cannot be created
  // anyway (value_size > INT_MAX): nothing reads them.
  const uint64_t buffer = std::min<uint64_t>(vsize, uint64_t{1} << 16);
  const uint64_t prog_value = std::min<uint64_t>(spec.value_size, uint64_t{1} << 16);
  switch (static_cast<K>(kind)) {
    case K::kLookup:
      *op = core::Lookup{GenKey(c, n), GenLockAwareFlags(c, spec, false, cpus)};
      return;
    case K::kUpdate: {
      auto& u = Reuse<core::Update>(op);
      u.key = GenKey(c, n);
      GenBytesInto(c, buffer, &u.value);
      u.flags = GenLockAwareFlags(c, spec, true, cpus);
      if (u.value.size() > fit(u.flags)) u.value.resize(fit(u.flags));
      return;
    }
    case K::kDelete:
      *op = core::Delete{GenKey(c, n)};
      return;
    case K::kLookupAndDelete:
      *op = core::LookupAndDelete{GenKey(c, n), GenLockAwareFlags(c, spec, false, cpus)};
      return;
    case K::kGetNextKey:
      *op = core::GetNextKey{GenOptionalKey(c, n)};
      return;
    case K::kLookupBatch:
      *op = core::LookupBatch{GenInBatch(c, n), GenCount(c, n),
                              GenElemFlags(c, spec, cpus), GenBatchFlags(c, cpus)};
      return;
    case K::kLookupAndDeleteBatch:
      *op = core::LookupAndDeleteBatch{GenInBatch(c, n), GenCount(c, n),
                                       GenElemFlags(c, spec, cpus), 0};
      return;
    case K::kUpdateBatch: {
      auto& b = Reuse<core::UpdateBatch>(op);
      uint32_t count = std::min<uint32_t>(GenCount(c, n), 16);
      uint32_t start = c.Percent(50) ? 0 : GenKey(c, n);
      b.keys.clear();
      b.keys.reserve(count);
      for (uint32_t i = 0; i < count; ++i) {
        b.keys.push_back(c.Percent(85) ? start + i : GenKey(c, n));
      }
      if (buffer * count <= (uint64_t{1} << 18)) {
        GenBytesInto(c, buffer * count, &b.values);
      } else {
        b.values.clear();
      }
      b.elem_flags = GenElemFlags(c, spec, cpus);
      b.flags = GenBatchFlags(c, cpus);
      if (b.values.size() > fit(b.elem_flags) * count) {
        b.values.resize(fit(b.elem_flags) * count);
      }
      return;
    }
    case K::kDeleteBatch: {
      auto& b = Reuse<core::DeleteBatch>(op);
      uint32_t count = std::min<uint32_t>(GenCount(c, n), 8);
      b.keys.clear();
      b.keys.reserve(count);
      for (uint32_t i = 0; i < count; ++i) b.keys.push_back(GenKey(c, n));
      b.elem_flags = GenReadFlags(c, cpus);
      return;
    }
    case K::kFreeze:
      *op = core::Freeze{};
      return;
    case K::kMmap:
      *op = GenMmap(c, spec, o);
      return;
    case K::kMmapRead: {
      auto [offset, length] = GenAccess(c, spec, o);
      *op = core::MmapRead{static_cast<uint32_t>(c.Range(0, core::kMappingSlots - 1)),
                           offset, length};
      return;
    }
    case K::kMmapWrite: {
      auto [offset, length] = GenAccess(c, spec, o);
      auto& w = Reuse<core::MmapWrite>(op);
      w.slot = static_cast<uint32_t>(c.Range(0, core::kMappingSlots - 1));
      w.offset = offset;
      GenBytesInto(c, length, &w.bytes);
      return;
    }
    case K::kMunmap:
      *op = core::Munmap{static_cast<uint32_t>(c.Range(0, core::kMappingSlots - 1))};
      return;
    case K::kProgLookup:
      *op = core::ProgLookup{GenCpu(c, o), GenKey(c, n)};
      return;
    case K::kProgUpdate: {
      auto& u = Reuse<core::ProgUpdate>(op);
      u.cpu = GenCpu(c, o);
      u.key = GenKey(c, n);
      GenBytesInto(c, prog_value, &u.value);
      u.flags = GenLockAwareFlags(c, spec, true, cpus);
      return;
    }
    case K::kProgDelete:
      *op = core::ProgDelete{GenCpu(c, o), GenKey(c, n)};
      return;
    case K::kProgLookupPercpu:
      *op = core::ProgLookupPercpu{GenCpu(c, o), GenKey(c, n), GenCpu(c, o)};
      return;
    case K::kProgAtomicAdd: {
      uint32_t words = spec.value_size / 8;
      uint64_t special;
      uint32_t offset = DrawSpecial(c, SpecialField::kAtomicOffset, spec, o.env, 5, &special)
                            ? static_cast<uint32_t>(special)
                        : words > 0 && c.Percent(92)
                            ? 8 * static_cast<uint32_t>(c.Range(0, words - 1))
                            : static_cast<uint32_t>(c.Range(0, spec.value_size + 8));
      uint64_t delta = c.Percent(70) ? c.Range(1, 16) : c.Range(0, UINT64_MAX);
      *op = core::ProgAtomicAdd{GenCpu(c, o), GenKey(c, n), offset, delta};
      return;
    }
  }
  *op = core::Freeze{};
}

// Runs `f` on `c` as the concrete chooser it is when that is a
// BytesChooser (the fuzzer's: its Range then inlines into the generator
// code), else through the interface. Both instantiations draw the same
// choices.
template <class F>
decltype(auto) WithConcreteChooser(Chooser& c, F&& f) {
  if (auto* bytes = dynamic_cast<BytesChooser*>(&c)) return f(*bytes);
  return f(c);
}

}  // namespace

MapSpec GenerateSpec(Chooser& c, const GenOptions& o) {
  SpecialScope special(o);
  return WithConcreteChooser(c, [&](auto& chooser) { return GenSpec(chooser, o); });
}

void GenerateOpInto(Chooser& c, const MapSpec& spec, const GenOptions& o,
                    core::Op* op) {
  SpecialScope special(o);
  WithConcreteChooser(c, [&](auto& chooser) {
    GenerateOfKind(chooser, spec, o, DrawKind(chooser, KindTable(o.kinds)), op);
    if (IsHuge(spec, o)) AimAtWrap(chooser, spec, o, op);
  });
}

core::Op GenerateOp(Chooser& c, const MapSpec& spec, const GenOptions& o) {
  core::Op op;
  GenerateOpInto(c, spec, o, &op);
  return op;
}

SequenceDecoder::SequenceDecoder(Chooser& c, const GenOptions& o)
    : c_(c),
      bytes_(dynamic_cast<BytesChooser*>(&c)),
      o_(o),
      kinds_(o.kinds),
      spec_(GenerateSpec(c, o)),
      size_(c.Range(0, o.max_ops)) {}

const core::Op& SequenceDecoder::Next() {
  ++drawn_;
  SpecialScope special(o_);
  if (bytes_ != nullptr) return NextFrom(*bytes_);
  return NextFrom(c_);
}

template <class C>
const core::Op& SequenceDecoder::NextFrom(C& c) {
  size_t kind = DrawKind(c, kinds_);
  if (kind >= slots_.size()) kind = static_cast<size_t>(core::OpKind::kFreeze);
  core::Op& op = slots_[kind];
  GenerateOfKind(c, spec_, o_, kind, &op);
  if (IsHuge(spec_, o_)) AimAtWrap(c, spec_, o_, &op);
  return op;
}

core::Sequence GenerateSequence(Chooser& c, const GenOptions& o) {
  SequenceDecoder decoder(c, o);
  core::Sequence seq;
  seq.spec = decoder.spec();
  seq.steps.reserve(decoder.size());
  while (!decoder.done()) seq.steps.push_back(core::Step{decoder.Next(), std::nullopt});
  return seq;
}

}  // namespace amc::gen
