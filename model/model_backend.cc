// model/model_backend.cc: the reference semantics, rule by rule.
#include "model/model_backend.h"

#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstring>
#include <map>
#include <memory>
#include <vector>

#include "core/coverage.h"
#include "core/mapping_table.h"

namespace amc::model {
namespace {

using core::Bytes;
using core::MapSpec;
using core::MapType;
using core::Result;

using core::FittedBytes;

// kernel/bpf/arraymap.c: ARRAY_CREATE_FLAG_MASK.
constexpr uint32_t kArrayCreateFlagMask =
    core::kBpfFNumaNode | core::kBpfFMmapable | core::kBpfFRdonly |
    core::kBpfFWronly | core::kBpfFRdonlyProg | core::kBpfFWronlyProg |
    core::kBpfFPreserveElems | core::kBpfFInnerMap;
// include/linux/percpu.h: PCPU_MIN_UNIT_SIZE.
constexpr uint64_t kPcpuMinUnitSize = 32768;
// Size of struct bpf_spin_lock.
constexpr uint32_t kSpinLockSize = 4;

// memcpy for the short copies values are made of (most are a few words):
// word moves, no library call.
AMC_COPY_LOOP inline void CopyShort(uint8_t* to, const uint8_t* from,
                                    uint64_t n) {
  // Distinct buffers, so the head and tail copies may overlap each other.
  if (n >= 8) {
    if (n > 64) {
      std::memcpy(to, from, n);
      return;
    }
    for (uint64_t i = 0; i + 8 < n; i += 8) std::memcpy(to + i, from + i, 8);
    std::memcpy(to + n - 8, from + n - 8, 8);
    return;
  }
  if (n >= 4) {
    std::memcpy(to, from, 4);
    std::memcpy(to + n - 4, from + n - 4, 4);
    return;
  }
  if (n > 0) {
    to[0] = from[0];
    to[n / 2] = from[n / 2];
    to[n - 1] = from[n - 1];
  }
}

// Zero-default byte store addressed by 64-bit offsets. Stores of up to
// kDenseMax bytes are one zeroed array; larger ones are kept in pages, so
// that a map of any size costs only what is written.
class SparseBytes {
 public:
  explicit SparseBytes(uint64_t size) {
    if (size <= kDenseMax) dense_.resize(size);
  }
  // Bytes [0, size) as one array, when they are in the dense part; or null.
  const uint8_t* Dense(uint64_t size) const {
    return size <= dense_.size() ? dense_.data() : nullptr;
  }
  void Read(uint64_t offset, uint8_t* out, uint64_t length) const {
    // The store is either all dense or all pages.
    if (!dense_.empty()) {
      CopyShort(out, dense_.data() + offset, length);
      return;
    }
    while (length > 0) {
      uint64_t page = offset / kPage, in = offset % kPage;
      uint64_t n = std::min(length, kPage - in);
      auto it = pages_.find(page);
      if (it == pages_.end()) {
        std::memset(out, 0, n);
      } else {
        std::memcpy(out, it->second.data() + in, n);
      }
      offset += n;
      out += n;
      length -= n;
    }
  }
  void Write(uint64_t offset, const uint8_t* in, uint64_t length) {
    if (!dense_.empty()) {
      CopyShort(dense_.data() + offset, in, length);
      return;
    }
    while (length > 0) {
      uint64_t page = offset / kPage, at = offset % kPage;
      uint64_t n = std::min(length, kPage - at);
      auto& bytes = pages_[page];
      if (bytes.empty()) bytes.resize(kPage, 0);
      std::memcpy(bytes.data() + at, in, n);
      offset += n;
      in += n;
      length -= n;
    }
  }

  // Calls f(begin, end) for each stored page that meets [begin, end) (for a
  // dense store: once, with the whole range): where bytes can be non-zero.
  template <class F>
  void ForEachStored(uint64_t begin, uint64_t end, F f) const {
    if (begin >= end) return;
    if (!dense_.empty()) {
      f(begin, end);
      return;
    }
    for (auto it = pages_.lower_bound(begin / kPage);
         it != pages_.end() && it->first * kPage < end; ++it) {
      f(it->first * kPage, (it->first + 1) * kPage);
    }
  }

 private:
  static constexpr uint64_t kPage = 4096;
  static constexpr uint64_t kDenseMax = uint64_t{1} << 20;
  // Offsets below dense_.size() live in dense_, the others in pages_.
  std::vector<uint8_t> dense_;
  std::map<uint64_t, std::vector<uint8_t>> pages_;
};

class ModelMap : public core::MapInstance {
 public:
  ModelMap(const MapSpec& spec, const Params& params)
      : spec_(spec),
        env_(core::Geometry(params.env)),
        elem_size_(core::ElemSize(spec)),
        cpus_(spec.type == MapType::kPercpuArray ? params.env.possible_cpus
                                                 : 1),
        data_(StoreSize(spec, elem_size_, cpus_, params.env.page_size)),
        mappings_(params.env.page_size),
        profile_(params.profile) {}

  ~ModelMap() override = default;

  // Bytes the store is addressed with: every CPU's slots (SlotOffset),
  // rounded up to a page for the mmap region of a mappable map; saturates
  // for huge maps.
  static uint64_t StoreSize(const MapSpec& spec, uint64_t elem_size,
                            uint32_t cpus, uint64_t page) {
    const unsigned __int128 bytes =
        static_cast<unsigned __int128>(cpus) * spec.max_entries * elem_size;
    if (bytes > UINT64_MAX / 2) return UINT64_MAX;
    if (!(spec.map_flags & core::kBpfFMmapable)) return static_cast<uint64_t>(bytes);
    if (page == 0) page = 1;
    return (static_cast<uint64_t>(bytes) + page - 1) / page * page;
  }

  Result Execute(const core::Op& op) override {
    return std::visit([this](const auto& o) { return Do(o); }, op);
  }
  void Recycle(Result&& r) override { buffers_.Keep(std::move(r)); }

  core::MapState ReadState() override {
    core::MapState state;
    uint64_t per_key = core::SyscallValueSize(spec_, env_);
    state.values.resize(per_key * spec_.max_entries);
    CopyOutRange(0, spec_.max_entries, state.values.data());
    // A map with a bpf_spin_lock cannot be mapped (see Do(Mmap)): no data
    // region to observe.
    if (mmapable() && !has_spin_lock()) {
      state.mmap_data.emplace(MmapRegionSize());
      data_.Read(0, state.mmap_data->data(), state.mmap_data->size());
    }
    return state;
  }

  // A chunk of the state, costing only the pages written (SparseBytes):
  // the zeros of a 4 GiB map that was touched in three places are a memset.
  void ReadStateChunk(core::StatePart part, uint64_t offset, uint64_t length,
                      uint8_t* out) override {
    std::memset(out, 0, length);
    if (part == core::StatePart::kMmapData) {
      if (!mmapable() || has_spin_lock()) return;
      const uint64_t size = MmapRegionSize();
      if (offset < size) data_.Read(offset, out, std::min(length, size - offset));
      return;
    }
    const uint64_t per_key = core::SyscallValueSize(spec_, env_);
    if (per_key == 0 || length == 0) return;
    const uint64_t first = offset / per_key;
    const uint64_t last = std::min<uint64_t>(
        spec_.max_entries, (offset + length + per_key - 1) / per_key);
    std::vector<uint8_t> one(per_key);
    uint64_t copied = UINT64_MAX;  // the last key copied
    auto copy_key = [&](uint64_t k) {
      if (k == copied) return;
      copied = k;
      CopyOut(static_cast<uint32_t>(k), one.data());
      const uint64_t from = std::max(k * per_key, offset);
      const uint64_t to = std::min((k + 1) * per_key, offset + length);
      std::memcpy(out + (from - offset), one.data() + (from - k * per_key),
                  to - from);
    };
    for (uint32_t cpu = 0; cpu < cpus_; ++cpu) {
      const uint64_t base = SlotOffset(0, cpu);
      data_.ForEachStored(SlotOffset(0, cpu) + first * elem_size_,
                          SlotOffset(0, cpu) + last * elem_size_,
                          [&](uint64_t begin, uint64_t end) {
                            begin = std::max(begin, base + first * elem_size_);
                            uint64_t k = (begin - base) / elem_size_;
                            const uint64_t k_end = std::min(
                                last, (end - base + elem_size_ - 1) / elem_size_);
                            for (; k < k_end; ++k) copy_key(k);
                          });
    }
  }

 private:
  bool percpu() const { return spec_.type == MapType::kPercpuArray; }
  bool mmapable() const { return spec_.map_flags & core::kBpfFMmapable; }
  bool has_spin_lock() const { return spec_.spin_lock_offset.has_value(); }
  // The fd's mode (kernel/bpf/syscall.c: bpf_get_file_flag sets O_RDONLY /
  // O_WRONLY from BPF_F_RDONLY / BPF_F_WRONLY).
  bool fd_can_read() const { return !(spec_.map_flags & core::kBpfFWronly); }
  bool fd_can_write() const { return !(spec_.map_flags & core::kBpfFRdonly); }
  // kernel/bpf/syscall.c: map_get_sys_perms() drops FMODE_CAN_WRITE once the
  // map is frozen.
  bool sys_can_read() const { return fd_can_read(); }
  bool sys_can_write() const { return fd_can_write() && !frozen_; }

  // kernel/bpf/arraymap.c: array_map_mmap() bounds the mapping by
  // PAGE_ALIGN(max_entries * elem_size).
  uint64_t MmapRegionSize() const {
    uint64_t page = env_.page_size;
    uint64_t bytes = elem_size_ * spec_.max_entries;
    return (bytes + page - 1) / page * page;
  }
  // Where CPU `cpu`'s slot of element `key` lives in the store.
  uint64_t SlotOffset(uint32_t key, uint32_t cpu) const {
    return (static_cast<uint64_t>(cpu) * spec_.max_entries + key) * elem_size_;
  }

  // The syscall lookup buffer of one key (kernel/bpf/syscall.c:
  // bpf_map_copy_value): ARRAY copies value_size bytes (copy_map_value);
  // PERCPU copies elem_size bytes per possible CPU, padding included
  // (arraymap.c: bpf_percpu_array_copy, copy_map_value_long).
  // Since 7.0, BPF_F_CPU in `flags` copies that CPU's value_size bytes
  // alone (bpf_percpu_array_copy: copy_map_value of per_cpu_ptr(cpu)).
  // Settled on 7.0 and 7.3: corpus/releases/7.0/percpu_cpu_flags_*.ops.
  void CopyOut(uint32_t key, uint8_t* out, uint64_t flags = 0) const {
    if (percpu() && CpuFlag(flags)) {
      data_.Read(SlotOffset(key, FlagCpu(flags)), out, spec_.value_size);
      return;
    }
    if (percpu()) {
      for (uint32_t cpu = 0; cpu < cpus_; ++cpu) {
        data_.Read(SlotOffset(key, cpu), out + cpu * elem_size_, elem_size_);
      }
    } else {
      data_.Read(SlotOffset(key, 0), out, spec_.value_size);
    }
    // The bpf_spin_lock word always reads back as zero: copy_map_value skips
    // it and bpf_map_copy_value then clears it in the copy
    // (check_and_init_map_value), with or without BPF_F_LOCK (which only
    // makes the copy under the element's lock, copy_map_value_locked in
    // helpers.c: the same bytes in a sequential run). Settled on Linux 6.18:
    // corpus/regressions/spin_lock_bpf_f_lock_syscall_flags.ops, _batches,
    // _value_is_only_the_lock.
    if (has_spin_lock()) {
      for (uint32_t cpu = 0; cpu < cpus_; ++cpu) {
        uint64_t at = (percpu() ? cpu * elem_size_ : 0) + *spec_.spin_lock_offset;
        std::memset(out + at, 0, kSpinLockSize);
      }
    }
  }

  // CopyOut for keys first .. first + count - 1 in turn, their buffers back
  // to back.
  void CopyOutRange(uint32_t first, uint32_t count, uint8_t* out,
                    uint64_t flags = 0) const {
    const uint8_t* dense = data_.Dense(SlotOffset(spec_.max_entries, cpus_ - 1));
    if (dense != nullptr && !has_spin_lock() && !CpuFlag(flags)) {
      GatherValues(dense, first, count, out);
      return;
    }
    const uint64_t per_key = ValueSize(flags);
    for (uint32_t i = 0; i < count; ++i) {
      CopyOut(first + i, out + per_key * i, flags);
    }
  }

  // ---- BPF_F_CPU / BPF_F_ALL_CPUS (7.0+, core/kernel_profile.h
  // percpu_cpu_flags) ----

  // The syscall value buffer of one key for element flags `flags`
  // (syscall.c bpf_map_value_size()).
  uint64_t ValueSize(uint64_t flags) const {
    return core::SyscallValueSize(spec_, env_, flags, profile_.percpu_cpu_flags);
  }
  // BPF_F_CPU as the kernel acts on it (only after the flag check passed).
  bool CpuFlag(uint64_t flags) const {
    return profile_.percpu_cpu_flags && (flags & core::kBpfFCpu);
  }
  static uint32_t FlagCpu(uint64_t flags) {
    return static_cast<uint32_t>(flags >> 32);
  }
  // include/linux/bpf.h bpf_map_check_op_flags(), 7.0+: bits of the low
  // 32 outside `allowed` are EINVAL, then BPF_F_LOCK without a lock, then
  // upper bits without BPF_F_CPU; BPF_F_CPU / BPF_F_ALL_CPUS on a map that
  // is not per-CPU, or both at once, are EINVAL; a CPU that is not possible
  // (cpu >= nr_cpu_ids || !cpu_possible) is ERANGE. Settled on 7.0 and 7.3:
  // corpus/releases/7.0/percpu_cpu_flags_checks.ops (and 7.3/).
  // Before 7.0 the element-flag check of lookups and batches is: bits other
  // than BPF_F_LOCK (the whole 64-bit word), then BPF_F_LOCK without a lock.
  int CheckOpFlags(uint64_t flags, uint64_t allowed) const {
    if (!profile_.percpu_cpu_flags) {
      if (flags & ~core::kBpfFLock) return EINVAL;
      if ((flags & core::kBpfFLock) && !has_spin_lock()) return EINVAL;
      return 0;
    }
    if (static_cast<uint32_t>(flags) & ~allowed) return EINVAL;
    if ((flags & core::kBpfFLock) && !has_spin_lock()) return EINVAL;
    if (!(flags & core::kBpfFCpu) && (flags >> 32)) return EINVAL;
    if (flags & (core::kBpfFCpu | core::kBpfFAllCpus)) {
      if (!percpu()) return EINVAL;
      if ((flags & core::kBpfFCpu) && (flags & core::kBpfFAllCpus)) return EINVAL;
      if ((flags & core::kBpfFCpu) && FlagCpu(flags) >= env_.possible_cpus) {
        return ERANGE;
      }
    }
    return 0;
  }

  // What CopyOutRange writes, from a store that is one array `store` (no
  // spin lock): PERCPU elem_size bytes per CPU, ARRAY value_size bytes per
  // key.
  AMC_COPY_LOOP void GatherValues(const uint8_t* store, uint32_t first,
                                  uint32_t count, uint8_t* out) const {
    if (percpu()) {
      for (uint32_t i = 0; i < count; ++i) {
        for (uint32_t cpu = 0; cpu < cpus_; ++cpu, out += elem_size_) {
          CopyShort(out, store + SlotOffset(first + i, cpu), elem_size_);
        }
      }
      return;
    }
    const uint64_t size = spec_.value_size;
    if (size == elem_size_) {
      std::memcpy(out, store + SlotOffset(first, 0), size * count);
      return;
    }
    for (uint32_t i = 0; i < count; ++i) {
      CopyShort(out + i * size, store + SlotOffset(first + i, 0), size);
    }
  }

  // The map's own update checks, shared by the syscall (ARRAY) and the
  // program side (both types): arraymap.c array_map_update_elem(). It masks
  // BPF_F_LOCK off before comparing with BPF_EXIST, checks the key, then
  // BPF_NOEXIST, and only then whether BPF_F_LOCK has a lock to take; the
  // program helper reaches it directly, so a program's BPF_F_LOCK on a map
  // without a lock is E2BIG / EEXIST before EINVAL. Settled on Linux 6.18:
  // corpus/regressions/spin_lock_bpf_f_lock_prog_update.ops,
  // spin_lock_bpf_f_lock_without_lock.ops.
  int ArrayUpdateChecks(uint32_t key, uint64_t flags) const {
    if ((flags & ~core::kBpfFLock) > core::kBpfExist) return EINVAL;
    if (key >= spec_.max_entries) return E2BIG;
    if (flags & core::kBpfNoexist) return EEXIST;
    if ((flags & core::kBpfFLock) && !has_spin_lock()) return EINVAL;
    return 0;
  }
  // Writes value_size bytes into one slot, leaving the padding alone
  // (copy_map_value; the spin lock word is skipped).
  void WriteValue(uint64_t slot, const uint8_t* value) {
    if (!has_spin_lock()) {
      data_.Write(slot, value, spec_.value_size);
      return;
    }
    uint32_t lock = *spec_.spin_lock_offset;
    data_.Write(slot, value, lock);
    data_.Write(slot + lock + kSpinLockSize, value + lock + kSpinLockSize,
                spec_.value_size - lock - kSpinLockSize);
  }

  // ---- syscall side ----

  // syscall.c map_lookup_elem(): flag bits other than BPF_F_LOCK (BPF_EXIST
  // and BPF_F_CPU included) are EINVAL before the fd's read permission;
  // BPF_F_LOCK without a lock is EINVAL after it, before the key. Settled on
  // Linux 6.18: corpus/regressions/spin_lock_bpf_f_lock_syscall_flags.ops,
  // spin_lock_bpf_f_lock_wronly_fd.ops, spin_lock_bpf_f_lock_without_lock.ops.
  // Since 6.19 the read permission comes first, then every flag check
  // (bpf_map_check_op_flags; core/kernel_profile.h
  // lookup_read_permission_first). Recorded on 6.19 and 7.x:
  // corpus/releases/<series>/lookup_order_wronly_fd.ops. Since 7.0 the flag
  // check is CheckOpFlags(BPF_F_LOCK | BPF_F_CPU), and BPF_F_CPU reads one
  // CPU's value.
  Result Do(const core::Lookup& op) {
    if (!profile_.lookup_read_permission_first &&
        (op.flags & ~core::kBpfFLock)) {
      return Result::Errno(EINVAL);
    }
    if (!sys_can_read()) return Result::Errno(EPERM);
    if (int err = CheckOpFlags(op.flags, core::kBpfFLock | core::kBpfFCpu)) return Result::Errno(err);
    // arraymap.c array_map_lookup_elem / bpf_percpu_array_copy.
    if (op.key >= spec_.max_entries) return Result::Errno(ENOENT);
    Result r;
    r.value = buffers_.TakeBytes(ValueSize(op.flags));
    CopyOut(op.key, r.value->data(), op.flags);
    return r;
  }

  // syscall.c map_update_elem() -> bpf_map_update_value(): the write
  // permission first (whatever the flags), then BPF_F_LOCK without a lock is
  // EINVAL before the map's own checks (even for a key past the end); with a
  // lock, array_map_update_elem copies under it (copy_map_value_locked).
  // Settled on Linux 6.18: corpus/regressions/spin_lock_bpf_f_lock_*.ops.
  // Since 7.0 the flag check after the permission is
  // bpf_map_check_op_flags(~0) (every low bit allowed; BPF_F_CPU's CPU
  // checked), and BPF_F_CPU / BPF_F_ALL_CPUS buffers are value_size bytes.
  Result Do(const core::Update& op) {
    if (!sys_can_write()) return Result::Errno(EPERM);
    if (profile_.percpu_cpu_flags) {
      if (int err = CheckOpFlags(op.flags, ~uint64_t{0})) return Result::Errno(err);
    } else if ((op.flags & core::kBpfFLock) && !has_spin_lock()) {
      return Result::Errno(EINVAL);
    }
    FittedBytes value(op.value, ValueSize(op.flags));
    return Result::Errno(UpdateValue(op.key, value.data(), op.flags));
  }

  // syscall.c bpf_map_update_value(): the map type's update.
  int UpdateValue(uint32_t key, const uint8_t* value, uint64_t flags) {
    if (!percpu()) {
      int err = ArrayUpdateChecks(key, flags);
      if (err) return err;
      WriteValue(SlotOffset(key, 0), value);
      return 0;
    }
    // arraymap.c bpf_percpu_array_update(): before 7.0 compares the whole
    // flags word with BPF_EXIST; since 7.0 BPF_F_LOCK or (u32)flags past
    // BPF_F_ALL_CPUS are EINVAL, so BPF_NOEXIST|BPF_EXIST and BPF_NOEXIST
    // with BPF_F_CPU update, and only flags == BPF_NOEXIST is EEXIST.
    // Settled on 7.0 and 7.3: corpus/releases/7.0/percpu_cpu_flags_update.ops.
    if (profile_.percpu_cpu_flags) {
      if ((flags & core::kBpfFLock) ||
          static_cast<uint32_t>(flags) > core::kBpfFAllCpus) {
        return EINVAL;
      }
    } else if (flags > core::kBpfExist) {
      return EINVAL;
    }
    if (key >= spec_.max_entries) return E2BIG;
    if (flags == core::kBpfNoexist) return EEXIST;
    // BPF_F_CPU: that CPU's slot alone, value_size bytes (copy_map_value).
    if (CpuFlag(flags)) {
      data_.Write(SlotOffset(key, FlagCpu(flags)), value, spec_.value_size);
      return 0;
    }
    // Every possible CPU's slot: before 7.0 elem_size bytes each, padding
    // included (copy_map_value_long); since 7.0 value_size bytes
    // (copy_map_value), so the padding keeps its zeroes
    // (percpu_update_writes_padding; corpus/regressions/percpu_padding.ops
    // on 6.18, corpus/releases/7.0/percpu_padding.ops). BPF_F_ALL_CPUS
    // writes the one value_size buffer to each.
    const bool all = profile_.percpu_cpu_flags && (flags & core::kBpfFAllCpus);
    const uint64_t length =
        profile_.percpu_update_writes_padding && !all ? elem_size_
                                                      : spec_.value_size;
    for (uint32_t cpu = 0; cpu < cpus_; ++cpu) {
      data_.Write(SlotOffset(key, cpu), all ? value : value + cpu * elem_size_,
                  length);
    }
    return 0;
  }

  // syscall.c map_delete_elem() -> arraymap.c array_map_delete_elem().
  Result Do(const core::Delete&) {
    if (!sys_can_write()) return Result::Errno(EPERM);
    return Result::Errno(EINVAL);
  }

  // syscall.c map_lookup_and_delete_elem(): arrays fall through to ENOTSUPP.
  Result Do(const core::LookupAndDelete& op) {
    // Before 5.14 the command has no flags field: CHECK_ATTR refuses any
    // flags with EINVAL before the fd is looked at (kernel_profile.h
    // lookup_and_delete_takes_flags). Recorded on 5.10:
    // corpus/releases/5.10/lookup_and_delete_lock_flag_after_permissions.ops.
    if (op.flags && !profile_.lookup_and_delete_takes_flags) {
      return Result::Errno(EINVAL);
    }
    if (op.flags & ~core::kBpfFLock) return Result::Errno(EINVAL);
    if (!sys_can_read() || !sys_can_write()) return Result::Errno(EPERM);
    if ((op.flags & core::kBpfFLock) && !has_spin_lock()) {
      return Result::Errno(EINVAL);
    }
    return Result::Errno(ENOTSUPP_);
  }

  // syscall.c map_get_next_key() -> arraymap.c array_map_get_next_key():
  // a NULL or out-of-range key restarts at 0; the last key ends the walk.
  Result Do(const core::GetNextKey& op) {
    if (!sys_can_read()) return Result::Errno(EPERM);
    uint32_t next = 0;
    int err = NextKey(op.key, &next);
    if (err) return Result::Errno(err);
    Result r;
    r.next_key = next;
    return r;
  }
  int NextKey(std::optional<uint32_t> key, uint32_t* next) const {
    uint32_t index = key.value_or(UINT32_MAX);
    if (index >= spec_.max_entries) {
      *next = 0;
      return 0;
    }
    if (index == spec_.max_entries - 1) return ENOENT;
    *next = index + 1;
    return 0;
  }

  // syscall.c bpf_map_do_batch(): permission checks, then the map's batch
  // function; arrays have no delete batches (ENOTSUPP). attr.batch.flags is
  // not checked for arrays: any value works (settled on Linux 6.18:
  // corpus/regressions/batch_end_partial_flags.ops).
  int BatchPermissions(bool has_read, bool has_write) const {
    if (has_read && !sys_can_read()) return EPERM;
    if (has_write && !sys_can_write()) return EPERM;
    return 0;
  }

  // syscall.c generic_map_lookup_batch(): elem_flags other than BPF_F_LOCK,
  // then BPF_F_LOCK without a lock, are EINVAL with count untouched, before
  // a count of 0 returns; each element is copied by bpf_map_copy_value with
  // elem_flags (locked copies under BPF_F_LOCK). Walks with get-next-key from
  // in_batch (exclusive), copies up to count elements; count 0 returns at
  // once; out_batch is written only when something was copied.
  // Since 7.0 the check is bpf_map_check_op_flags(BPF_F_LOCK | BPF_F_CPU)
  // and BPF_F_CPU copies one CPU's value_size bytes per key (settled on 7.0
  // and 7.3: corpus/releases/7.0/percpu_cpu_flags_batches.ops).
  Result LookupBatchWalk(std::optional<uint32_t> in_batch, uint32_t count,
                         uint64_t elem_flags) {
    Result r;
    r.count = count;
    if (int err = CheckOpFlags(elem_flags, core::kBpfFLock | core::kBpfFCpu)) return Errno(r, err);
    uint64_t value_size = ValueSize(elem_flags);
    r.keys.emplace();
    r.value.emplace();
    if (count == 0) return r;
    // Before 5.12 the key + value buffer is kmalloc'ed after count is
    // zeroed: past KMALLOC_MAX_SIZE (page size << 10) it is ENOMEM
    // (kernel_profile.h batch_buffer_kvmalloced). Recorded on 5.10:
    // corpus/releases/5.10/lookup_batch_kmalloc_max_enomem.ops.
    if (!profile_.batch_buffer_kvmalloced &&
        uint64_t{spec_.key_size} + value_size >
            uint64_t{env_.page_size} << 10) {
      Result nomem;
      nomem.err = ENOMEM;
      nomem.count = 0;
      return nomem;
    }
    // The walk visits the keys after in_batch (all of them when in_batch is
    // NULL or past the end; see NextKey) once each: at most this many.
    const uint64_t after =
        in_batch && *in_batch < spec_.max_entries
            ? spec_.max_entries - uint64_t{*in_batch} - 1
            : spec_.max_entries;
    const uint64_t most = std::min<uint64_t>(count, after);
    r.keys->resize(most);
    std::optional<uint32_t> prev = in_batch;
    uint32_t copied = 0;
    int err = 0;
    while (copied < count) {
      uint32_t key = 0;
      err = NextKey(prev, &key);
      if (err) break;
      (*r.keys)[copied] = key;
      ++copied;
      prev = key;
    }
    // The walk's keys follow one another (array get-next-key), so their
    // values are CopyOutRange's from the first.
    r.keys->resize(copied);
    r.value = buffers_.TakeBytes(uint64_t{copied} * value_size);
    if (copied > 0) {
      CopyOutRange((*r.keys)[0], copied, r.value->data(), elem_flags);
    }
    r.err = err;
    r.count = copied;
    if (copied > 0) r.out_batch = *prev;
    return r;
  }
  static Result Errno(Result r, int err) {
    r.err = err;
    return r;
  }

  // Before 5.13 PERCPU_ARRAY has no lookup/update batch functions:
  // bpf_map_do_batch() answers ENOTSUPP after the permission checks
  // (kernel_profile.h percpu_array_batch_ops). Recorded on 5.10:
  // corpus/releases/5.10/percpu_batches_work.ops.
  bool NoPercpuBatches() const {
    return percpu() && !profile_.percpu_array_batch_ops;
  }

  Result Do(const core::LookupBatch& op) {
    int err = BatchPermissions(true, false);
    if (err) return BatchErrno(op.count, err);
    if (NoPercpuBatches()) return BatchErrno(op.count, ENOTSUPP_);
    return LookupBatchWalk(op.in_batch, op.count, op.elem_flags);
  }
  Result Do(const core::LookupAndDeleteBatch& op) {
    int err = BatchPermissions(true, true);
    return BatchErrno(op.count, err ? err : ENOTSUPP_);
  }
  Result Do(const core::DeleteBatch& op) {
    int err = BatchPermissions(false, true);
    return BatchErrno(static_cast<uint32_t>(op.keys.size()),
                      err ? err : ENOTSUPP_);
  }
  static Result BatchErrno(uint32_t count, int err) {
    Result r;
    r.err = err;
    r.count = count;
    return r;
  }

  // syscall.c generic_map_update_batch(): elem_flags as in lookup batches
  // (only BPF_F_LOCK, and only with a lock: BPF_EXIST / BPF_NOEXIST are
  // EINVAL here), then elements in order through bpf_map_update_value with
  // elem_flags; stops at the first failure; count says how many were
  // applied. Settled on Linux 6.18:
  // corpus/regressions/spin_lock_bpf_f_lock_batches.ops.
  // Since 7.0 the check is bpf_map_check_op_flags(BPF_F_LOCK | BPF_F_CPU |
  // BPF_F_ALL_CPUS) (BPF_NOEXIST / BPF_EXIST still EINVAL), with
  // value_size-byte buffers for either CPU flag (settled on 7.0 and 7.3:
  // corpus/releases/7.0/percpu_cpu_flags_batches.ops).
  Result Do(const core::UpdateBatch& op) {
    uint32_t count = static_cast<uint32_t>(op.keys.size());
    int err = BatchPermissions(false, true);
    if (err) return BatchErrno(count, err);
    if (NoPercpuBatches()) return BatchErrno(count, ENOTSUPP_);
    err = CheckOpFlags(op.elem_flags,
                       core::kBpfFLock | core::kBpfFCpu | core::kBpfFAllCpus);
    if (err) return BatchErrno(count, err);
    if (count == 0) return BatchErrno(0, 0);
    uint64_t value_size = ValueSize(op.elem_flags);
    FittedBytes values(op.values, value_size * count);
    uint32_t applied = 0;
    for (; applied < count; ++applied) {
      err = UpdateValue(op.keys[applied], values.data() + applied * value_size,
                        op.elem_flags);
      if (err) break;
    }
    return BatchErrno(applied, err);
  }

  // syscall.c map_freeze().
  Result Do(const core::Freeze&) {
    // Maps with special fields (a bpf_spin_lock) cannot be frozen since 6.2;
    // before, only timers and kptrs were refused and a lock map freezes
    // (core/kernel_profile.h spin_lock_freeze_refused). Settled on 6.18 by
    // corpus/regressions/spin_lock_freeze.ops; on 6.1 and 6.12:
    // corpus/releases/<series>/spin_lock_freeze.ops.
    if (has_spin_lock() && profile_.spin_lock_freeze_refused) {
      return Result::Errno(ENOTSUPP_);
    }
    // A writable fd is needed from 6.5 on (core/kernel_profile.h); a frozen
    // map's fd is not writable, so a second freeze is EPERM there, EBUSY
    // before. Recorded: corpus/releases/6.1 and 6.12, freeze cases.
    if (profile_.freeze_needs_write_permission && !sys_can_write()) {
      return Result::Errno(EPERM);
    }
    if (writable_mappings_ > 0) return Result::Errno(EBUSY);
    if (frozen_) return Result::Errno(EBUSY);
    frozen_ = true;
    return {};
  }

  // ---- mmap ----

  // mm/mmap.c do_mmap() file checks, then syscall.c bpf_map_mmap(), then
  // arraymap.c array_map_mmap().
  Result Do(const core::Mmap& op) {
    if (int err = mappings_.CheckFree(op.slot)) return Result::Errno(err);
    const uint64_t page = env_.page_size;
    // do_mmap: offset must be page aligned (the syscall wrapper), length not 0.
    if (op.offset % page != 0) return Result::Errno(EINVAL);
    if (op.length == 0) return Result::Errno(EINVAL);
    uint64_t length = (op.length + page - 1) / page * page;
    if (length < op.length || length == 0) return Result::Errno(ENOMEM);
    uint64_t pgoff = op.offset / page;
    if (pgoff + length / page < pgoff) return Result::Errno(EOVERFLOW);
    // get_unmapped_area(): no room for more than TASK_SIZE (x86_64, 4-level
    // paging: 2^47 - one page). The kernel also fails lengths that exceed
    // the process's largest free gap, which depends on its layout: see
    // KNOWN_DIFFERENCES.md. QUESTION(kernel): other architectures.
    if (length > (uint64_t{1} << 47) - page) return Result::Errno(ENOMEM);
    // do_mmap -> file_mmap_ok(): the map's anon inode is not a regular
    // file, so file_mmap_size_max() is ULONG_MAX (MAX_LFS_FILESIZE is for
    // regular files, block devices and sockets); a mapping reaching past it
    // is EOVERFLOW, one below it goes on (an offset of 2^63 - 4096 reaches
    // array_map_mmap: EINVAL). Settled on Linux 6.18:
    // corpus/regressions/mmap_length_offset_limits.ops,
    // conformance/cases/mmap_limits.ops.
    constexpr uint64_t kFileMmapSizeMax = UINT64_MAX;
    if (pgoff > (kFileMmapSizeMax - length) / page) {
      return Result::Errno(EOVERFLOW);
    }
    bool write = op.prot & core::kProtWrite;
    bool shared = op.shared;
    // do_mmap MAP_SHARED: a writable shared mapping needs FMODE_WRITE; without
    // it the mapping silently loses VM_SHARED.
    if (shared) {
      if (write && !fd_can_write()) return Result::Errno(EACCES);
      if (!fd_can_write()) shared = false;
    }
    // do_mmap, every file mapping: FMODE_READ needed.
    if (!fd_can_read()) return Result::Errno(EACCES);
    // Since 6.15 the bpf-map anon inode is on a noexec superblock, so
    // PROT_EXEC is refused with EPERM (do_mmap: path_noexec), after the
    // fd-mode checks; before, the mapping goes on (core/kernel_profile.h).
    // Settled on Linux 6.18: corpus/regressions/mmap_prot_exec_and_rdonly_fd.ops,
    // mmap_wronly_fd.ops; on 6.1 and 6.12: corpus/releases/.
    if ((op.prot & core::kProtExec) && profile_.exec_mappings_refused) {
      return Result::Errno(EPERM);
    }
    // bpf_map_mmap: maps without ->map_mmap (PERCPU_ARRAY) and maps with
    // special fields in their values (a bpf_spin_lock: map->record) ->
    // ENOTSUPP, before any other check of the map's. The lock case settled
    // on Linux 6.18: corpus/regressions/spin_lock_program_and_mmap.ops.
    if (percpu() || has_spin_lock()) return Result::Errno(ENOTSUPP_);
    if (!shared) return Result::Errno(EINVAL);
    if (write) {
      if (frozen_) return Result::Errno(EPERM);
      if (spec_.map_flags & core::kBpfFRdonlyProg) return Result::Errno(EACCES);
    }
    // array_map_mmap.
    if (!mmapable()) return Result::Errno(EINVAL);
    if (op.offset > MmapRegionSize() || length > MmapRegionSize() - op.offset) {
      return Result::Errno(EINVAL);
    }
    if (write) ++writable_mappings_;
    mappings_.Put(op.slot, nullptr, op.offset, length, op.prot);
    return {};
  }

  Result Do(const core::MmapRead& op) {
    const core::MappingSlot* m = nullptr;
    int err = mappings_.Access(op.slot, op.offset, op.length, false, &m);
    if (err) return Result::Errno(err);
    Result r;
    r.value = buffers_.TakeBytes(op.length);
    data_.Read(m->offset + op.offset, r.value->data(), op.length);
    return r;
  }

  Result Do(const core::MmapWrite& op) {
    const core::MappingSlot* m = nullptr;
    int err = mappings_.Access(op.slot, op.offset, op.bytes.size(), true, &m);
    if (err) return Result::Errno(err);
    data_.Write(m->offset + op.offset, op.bytes.data(), op.bytes.size());
    return {};
  }

  Result Do(const core::Munmap& op) {
    core::MappingSlot was;
    int err = mappings_.Remove(op.slot, &was);
    if (err) return Result::Errno(err);
    // The vma's close drops the writer count (bpf_map_mmap_close).
    if (was.prot & core::kProtWrite) --writable_mappings_;
    return {};
  }

  // ---- program side ----
  // Each program op first checks the harness CPU rule, then what the
  // verifier would refuse at load time (kernel/bpf/verifier.c), then runs.

  // Harness convention (core/op.h): a program runs only on an online CPU;
  // sched_setaffinity refuses a mask with no online CPU with EINVAL
  // (__set_cpus_allowed_ptr), so a possible-but-offline CPU is EINVAL like
  // one past the possible ones. Recorded: corpus/geometries/ (4 possible,
  // 2 online).
  int ProgramCpuCheck(uint32_t cpu) const {
    return cpu >= env_.Online() ? EINVAL : 0;
  }
  // Before 6.6 a sleepable program (the harness's SYSCALL programs are)
  // may not use a map with a bpf_spin_lock: EINVAL when the map fd is
  // resolved, before the verifier checks any access
  // (core/kernel_profile.h sleepable_programs_refuse_spin_lock). Recorded:
  // corpus/releases/6.1/spin_lock_program_*.ops.
  int ProgramMapCheck() const {
    return has_spin_lock() && profile_.sleepable_programs_refuse_spin_lock
               ? EINVAL
               : 0;
  }
  bool prog_may_read() const {
    return !(spec_.map_flags & core::kBpfFWronlyProg);
  }
  bool prog_may_write() const {
    return !(spec_.map_flags & core::kBpfFRdonlyProg);
  }
  // Offset of the running CPU's slot for a program op (this_cpu_ptr).
  uint64_t ProgSlot(uint32_t key, uint32_t cpu) const {
    return SlotOffset(key, percpu() ? cpu : 0);
  }

  // bpf_map_lookup_elem: array_map_lookup_elem / percpu_array_map_lookup_elem
  // return NULL for an index past the end. Reading the value needs read
  // access (verifier check_map_access_type: EACCES under BPF_F_WRONLY_PROG).
  Result Do(const core::ProgLookup& op) {
    if (int err = ProgramCpuCheck(op.cpu)) return Result::Errno(err);
    if (int err = ProgramMapCheck()) return Result::Errno(err);
    if (!prog_may_read()) return Result::Errno(EACCES);
    // Reading all value_size bytes touches the bpf_spin_lock, which the
    // verifier forbids to loads and to helpers reading the value as memory
    // (check_map_access: "bpf_spin_lock cannot be accessed directly"):
    // EACCES at load. Settled on Linux 6.18:
    // corpus/regressions/spin_lock_program_and_mmap.ops.
    if (has_spin_lock()) return Result::Errno(EACCES);
    Result r;
    if (op.key >= spec_.max_entries) {
      r.null = true;
      return r;
    }
    r.value = buffers_.TakeBytes(spec_.value_size);
    data_.Read(ProgSlot(op.key, op.cpu), r.value->data(), spec_.value_size);
    r.aligned = ProgSlot(op.key, op.cpu) % 8 == 0;
    return r;
  }

  // bpf_map_update_elem -> array_map_update_elem for both types; writes
  // value_size bytes into the element (PERCPU: the running CPU's slot). The
  // helper passes the program's flags through, so BPF_F_LOCK takes the
  // element's lock around the copy (copy_map_value_locked); the lock word
  // itself is never written.
  // The verifier refuses updates of a BPF_F_RDONLY_PROG map (record_func_map).
  Result Do(const core::ProgUpdate& op) {
    if (int err = ProgramCpuCheck(op.cpu)) return Result::Errno(err);
    if (int err = ProgramMapCheck()) return Result::Errno(err);
    if (!prog_may_write()) return Result::Errno(EACCES);
    int err = ArrayUpdateChecks(op.key, op.flags);
    if (err) return Result::Errno(err);
    FittedBytes value(op.value, spec_.value_size);
    WriteValue(ProgSlot(op.key, op.cpu), value.data());
    return {};
  }

  // bpf_map_delete_elem -> array_map_delete_elem: -EINVAL. The verifier
  // refuses deletes on a BPF_F_RDONLY_PROG map first (record_func_map).
  Result Do(const core::ProgDelete& op) {
    if (int err = ProgramCpuCheck(op.cpu)) return Result::Errno(err);
    if (int err = ProgramMapCheck()) return Result::Errno(err);
    if (!prog_may_write()) return Result::Errno(EACCES);
    return Result::Errno(EINVAL);
  }

  // bpf_map_lookup_percpu_elem: only per-CPU maps may be passed
  // (verifier check_map_func_compatibility: EINVAL at load for ARRAY);
  // percpu_array_map_lookup_percpu_elem: NULL for cpu >= nr_cpu_ids or an
  // index past the end.
  Result Do(const core::ProgLookupPercpu& op) {
    if (int err = ProgramCpuCheck(op.cpu)) return Result::Errno(err);
    if (int err = ProgramMapCheck()) return Result::Errno(err);
    if (!percpu()) return Result::Errno(EINVAL);
    if (!prog_may_read()) return Result::Errno(EACCES);
    Result r;
    if (op.target_cpu >= env_.possible_cpus || op.key >= spec_.max_entries) {
      r.null = true;
      return r;
    }
    uint64_t slot = SlotOffset(op.key, op.target_cpu);
    r.value = buffers_.TakeBytes(spec_.value_size);
    data_.Read(slot, r.value->data(), spec_.value_size);
    r.aligned = slot % 8 == 0;
    return r;
  }

  // Lookup, then __sync_fetch_and_add on a u64 inside the value. The
  // verifier checks an atomic as a read and a write of the value
  // (check_atomic): either BPF_F_*_PROG restriction refuses it (EACCES), as
  // does the harness convention for a misaligned or out-of-bounds offset.
  Result Do(const core::ProgAtomicAdd& op) {
    if (int err = ProgramCpuCheck(op.cpu)) return Result::Errno(err);
    // The harness refuses a misaligned or out-of-bounds offset without
    // loading anything (core/op.h), so that EACCES comes before the load's
    // own refusals.
    if (op.offset % 8 != 0 ||
        static_cast<uint64_t>(op.offset) + 8 > spec_.value_size) {
      return Result::Errno(EACCES);
    }
    if (int err = ProgramMapCheck()) return Result::Errno(err);
    if (!prog_may_read()) return Result::Errno(EACCES);
    // An access overlapping the bpf_spin_lock is refused (check_map_access,
    // EACCES). Settled on Linux 6.18:
    // corpus/regressions/spin_lock_program_and_mmap.ops.
    if (has_spin_lock() && *spec_.spin_lock_offset < op.offset + 8 &&
        op.offset < *spec_.spin_lock_offset + kSpinLockSize) {
      return Result::Errno(EACCES);
    }
    if (!prog_may_write()) {
      // verifier.c check_atomic_rmw checks the fetch as a read before the
      // store as a write. A frozen BPF_F_RDONLY_PROG map is read-only to
      // programs (bpf_map_is_rdonly), and check_mem_access folds a read of
      // it at a constant offset into a constant (bpf_map_direct_read);
      // arraymap.c array_map_direct_value_addr serves only single-entry
      // arrays and answers -ENOTSUPP otherwise. With one entry the read
      // folds and the write half is refused with EACCES
      // (check_map_access_type). Settled on Linux 6.18:
      // corpus/regressions/atomic_add_frozen_rdonly_prog_*.ops.
      if (frozen_ && !percpu() && spec_.max_entries != 1) {
        return Result::Errno(ENOTSUPP_);  // PERCPU_ARRAY has no direct reads
      }
      return Result::Errno(EACCES);
    }
    Result r;
    if (op.key >= spec_.max_entries) {
      r.null = true;
      return r;
    }
    uint64_t at = ProgSlot(op.key, op.cpu) + op.offset;
    uint8_t bytes[8];
    data_.Read(at, bytes, 8);
    uint64_t old = 0;
    for (int i = 7; i >= 0; --i) old = (old << 8) | bytes[i];  // little endian
    uint64_t sum = old + op.delta;
    for (int i = 0; i < 8; ++i) bytes[i] = static_cast<uint8_t>(sum >> (8 * i));
    data_.Write(at, bytes, 8);
    r.old = old;
    return r;
  }

  static constexpr int ENOTSUPP_ = 524;  // kernel-internal ENOTSUPP

  MapSpec spec_;
  // CPU count and page size (the release chose profile_).
  core::Environment env_;
  uint64_t elem_size_;
  uint32_t cpus_;
  SparseBytes data_;
  bool frozen_ = false;
  int writable_mappings_ = 0;
  core::MappingTable mappings_;
  core::KernelProfile profile_;
  // Buffers of results handed back (Recycle), for the next results' bytes.
  core::ResultBuffers buffers_;
};

}  // namespace

Params Params::ForEnvironment(const core::Environment& env) {
  Params p = Host();
  p.env.possible_cpus = env.possible_cpus;
  p.env.online_cpus = env.Online();
  p.env.page_size = env.page_size;
  if (!env.kernel_release.empty()) {
    p.env.kernel_release = env.kernel_release;
    if (auto profile = core::SelectKernelProfile(env.kernel_release)) {
      p.profile = *profile;
    }
  }
  return p;
}

Params Params::Host() {
  Params p;
  p.env = core::HostEnvironment();
  if (auto profile = core::SelectKernelProfile(p.env.kernel_release)) {
    p.profile = *profile;
  }
  long pages = sysconf(_SC_PHYS_PAGES);
  long page = sysconf(_SC_PAGESIZE);
  if (pages > 0 && page > 0) {
    p.memory_limit_bytes = static_cast<uint64_t>(pages) * page;
  }
  return p;
}

namespace {

// The lock offset the kernel takes from a spec's BTF.
std::optional<uint32_t> EffectiveSpinLock(const MapSpec& spec,
                                          const core::KernelProfile& profile) {
  if (!spec.spin_lock_offset) return std::nullopt;
  // map_check_btf before 6.2: btf_find_spin_lock fails on a member that is
  // not 4-byte aligned, and the map has no lock.
  if (*spec.spin_lock_offset % kSpinLockSize != 0 &&
      !profile.misaligned_spin_lock_refused) {
    return std::nullopt;
  }
  return spec.spin_lock_offset;
}

}  // namespace

int ModelCreateErrno(const MapSpec& spec, const Params& params) {
  const bool percpu = spec.type == MapType::kPercpuArray;
  // A spec with a spin lock is created with BTF describing its value, and
  // that BTF is loaded (BPF_BTF_LOAD) before BPF_MAP_CREATE runs: its
  // refusals come first. kernel/bpf/btf.c refuses a bpf_spin_lock member
  // that does not fit in the value (offset + size > struct size) with
  // EINVAL, then one that is not 4-byte aligned with EFAULT. Settled on
  // Linux 6.18: corpus/regressions/spin_lock_past_value_end_is_einval.ops,
  // spin_lock_misaligned_is_efault.ops (PERCPU too),
  // spin_lock_misaligned_array_is_efault.ops.
  //
  // Before 6.2 the BTF load does not look for locks: a misaligned one loads,
  // and the map is created without a lock (EffectiveSpinLock; profile field
  // misaligned_spin_lock_refused). Recorded on 6.1:
  // corpus/releases/6.1/spin_lock_*misaligned*.ops.
  if (spec.spin_lock_offset) {
    if (static_cast<uint64_t>(*spec.spin_lock_offset) + kSpinLockSize >
        spec.value_size) {
      return EINVAL;
    }
    if (*spec.spin_lock_offset % kSpinLockSize != 0 &&
        params.profile.misaligned_spin_lock_refused) {
      return EFAULT;
    }
  }
  const bool lock = EffectiveSpinLock(spec, params.profile).has_value();
  uint32_t flags = spec.map_flags;
  // syscall.c map_create(): BPF_F_TOKEN_FD is remembered and cleared before
  // the map type's checks.
  const bool token = flags & core::kBpfFTokenFd;
  flags &= ~core::kBpfFTokenFd;
  // bpf_get_file_flag(): RDONLY and WRONLY together. Before 7.2 map_create()
  // asks it first; since 7.2 only after every other check (below).
  const bool rdonly_and_wronly =
      (flags & core::kBpfFRdonly) && (flags & core::kBpfFWronly);
  if (rdonly_and_wronly && !params.profile.create_rdonly_wronly_checked_last) {
    return EINVAL;
  }
  // map_create(): the NUMA node must exist and be online, unless it is
  // NUMA_NO_NODE (-1): bpf_map_attr_numa_node() gives NUMA_NO_NODE without
  // BPF_F_NUMA_NODE, and BPF_F_NUMA_NODE with numa_node -1 is the same (both
  // map_create and array_map_alloc_check test numa_node != NUMA_NO_NODE).
  // Recorded on 6.18: conformance/cases/create_numa_node_none_array.ops,
  // _percpu.ops.
  constexpr uint32_t kNumaNoNode = UINT32_MAX;
  const bool numa =
      (flags & core::kBpfFNumaNode) && spec.numa_node != kNumaNoNode;
  if (numa && spec.numa_node >= params.numa_nodes) return EINVAL;
  // arraymap.c array_map_alloc_check().
  if (spec.max_entries == 0 || spec.key_size != 4 || spec.value_size == 0 ||
      (flags & ~kArrayCreateFlagMask) ||
      ((flags & core::kBpfFRdonlyProg) && (flags & core::kBpfFWronlyProg)) ||
      (percpu && numa)) {
    return EINVAL;
  }
  if (percpu && (flags & (core::kBpfFMmapable | core::kBpfFInnerMap))) {
    return EINVAL;
  }
  if (flags & core::kBpfFPreserveElems) return EINVAL;
  // The value_size bound: INT_MAX, or before 6.0 KMALLOC_MAX_SIZE (SLUB on
  // x86-64: the page size << 10; kernel_profile.h
  // value_size_bounded_by_int_max). Recorded on 5.10:
  // corpus/releases/5.10/value_size_past_4mib_created.ops.
  const uint64_t max_value_size =
      params.profile.value_size_bounded_by_int_max
          ? uint64_t{INT_MAX}
          : uint64_t{params.env.page_size} << 10;
  if (spec.value_size > max_value_size) return E2BIG;
  if (percpu && core::ElemSize(spec) > kPcpuMinUnitSize) return E2BIG;
  // With BPF_F_TOKEN_FD, map_token_fd is 0 in our attr;
  // bpf_token_get_from_fd(0) gives EBADF when fd 0 is closed and EINVAL when
  // it is open but not a token (EINVAL confirmed on Linux 6.18 with fd 0
  // open). The harness keeps fd 0 open; generators never set this flag.
  if (token) return EINVAL;
  // Capabilities: the harness runs privileged (or the backend is skipped).
  // arraymap.c array_map_alloc(): without bypass, max_entries rounds up to a
  // power of two, and overflowing u32 is E2BIG.
  uint64_t entries = spec.max_entries;
  if (!params.bypass_spec_v1) {
    uint64_t rounded = 1;
    while (rounded < entries) rounded <<= 1;
    if (rounded > UINT32_MAX) return E2BIG;
    entries = rounded;
  }
  uint64_t cpus = percpu ? params.env.possible_cpus : 1;
  // Before 5.11 array_map_alloc() charges the map's cost with
  // bpf_map_charge_init(): E2BIG from U32_MAX - PAGE_SIZE bytes on, before
  // allocating (kernel_profile.h map_cost_charged_to_memlock). The cost is
  // the struct bpf_array (kBpfArrayHeader, an estimate: only sizes within a
  // few hundred bytes of the bound depend on it), then the elements (page
  // aligned for BPF_F_MMAPABLE) or, for PERCPU_ARRAY, the pointer array plus
  // max_entries (unrounded) elements per possible CPU.
  if (params.profile.map_cost_charged_to_memlock) {
    constexpr uint64_t kBpfArrayHeader = 320;
    const uint64_t page = params.env.page_size;
    auto page_align = [page](uint64_t n) { return (n + page - 1) / page * page; };
    const uint64_t elem = core::ElemSize(spec);
    long double cost;  // no overflow: entries < 2^33, elem < 2^32, cpus small
    if (percpu) {
      cost = kBpfArrayHeader + static_cast<long double>(entries) * 8 +
             static_cast<long double>(spec.max_entries) * elem * cpus;
    } else if (flags & core::kBpfFMmapable) {
      cost = page_align(kBpfArrayHeader) +
             static_cast<long double>(page_align(entries * elem));
    } else {
      cost = kBpfArrayHeader + static_cast<long double>(entries) * elem;
    }
    if (cost >= static_cast<long double>(UINT32_MAX - page)) return E2BIG;
  }
  uint64_t bytes = entries * core::ElemSize(spec);
  if (bytes / core::ElemSize(spec) != entries ||
      bytes * cpus / cpus != bytes || bytes * cpus > params.memory_limit_bytes) {
    return ENOMEM;
  }
  // BTF (map_check_btf): a bpf_spin_lock is allowed in ARRAY values only;
  // PERCPU_ARRAY is EOPNOTSUPP, an ARRAY with BPF_F_MMAPABLE and a lock is
  // created (mapping it is refused later). Settled on Linux 6.18:
  // corpus/regressions/spin_lock_percpu_is_eopnotsupp.ops,
  // spin_lock_mmapable_is_created.ops.
  if (lock) {
    // map_check_btf: a value with special fields (the lock) refuses the
    // BPF_F_RDONLY_PROG / BPF_F_WRONLY_PROG restrictions with EACCES, checked
    // before the per-type check. Settled on Linux 6.18:
    // corpus/regressions/spin_lock_rdonly_prog_is_eacces.ops,
    // spin_lock_wronly_prog_is_eacces.ops,
    // spin_lock_percpu_rdonly_prog_order.ops. Before 6.2 only
    // BPF_F_RDONLY_PROG is refused, and the wrong map type is ENOTSUPP
    // (core/kernel_profile.h spin_lock_refuses_wronly_prog,
    // spin_lock_wrong_map_type_errno); recorded in corpus/releases/6.1/.
    if (flags & core::kBpfFRdonlyProg) return EACCES;
    if ((flags & core::kBpfFWronlyProg) &&
        params.profile.spin_lock_refuses_wronly_prog) {
      return EACCES;
    }
    if (percpu) return params.profile.spin_lock_wrong_map_type_errno;
  }
  // Since 7.2 map_create() runs bpf_get_file_flag() after map_create_alloc()
  // (the type's checks, allocation and BTF): core/kernel_profile.h
  // create_rdonly_wronly_checked_last. Recorded on 7.2:
  // corpus/releases/7.2/create_rdonly_wronly_*.ops.
  if (rdonly_and_wronly) return EINVAL;
  return 0;
}

core::CreateResult ModelBackend::Create(const MapSpec& spec) {
  core::CreateResult out;
  out.err = ModelCreateErrno(spec, params_);
  if (out.err == 0) {
    // The map behaves with the lock the kernel found (none for a misaligned
    // one before 6.2).
    MapSpec effective = spec;
    effective.spin_lock_offset = EffectiveSpinLock(spec, params_.profile);
    out.map = std::make_unique<ModelMap>(effective, params_);
  }
  return out;
}

}  // namespace amc::model
