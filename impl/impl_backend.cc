// impl/impl_backend.cc: core ops onto the library's two faces.
#include "impl/impl_backend.h"

#include <unistd.h>

#include "core/harness_error.h"
#include <algorithm>
#include <array>
#include <atomic>
#include <cstring>
#include <cerrno>
#include <climits>
#include <memory>

#include "amc/array_map.h"
#include "core/harness_error.h"
#include "core/mapping_table.h"

namespace amc::impl {
namespace {

using core::Bytes;
using core::Result;

using core::FittedBytes;

class ImplMap : public core::MapInstance {
 public:
  ImplMap(std::unique_ptr<ArrayMap> map, const core::MapSpec& spec,
          const core::Environment& env, const core::KernelProfile& profile)
      : map_(std::move(map)),
        fd_(map_->fd()),
        spec_(spec),
        env_(core::Geometry(env)),
        mappings_(env.page_size),
        programs_refuse_lock_(profile.sleepable_programs_refuse_spin_lock) {}

  // Mappings go before the map (declaration order does it too).
  ~ImplMap() override {
    for (Mapping& m : live_) m.Reset();
  }

  Result Execute(const core::Op& op) override {
    return std::visit([this](const auto& o) { return Do(o); }, op);
  }
  void Recycle(Result&& r) override { buffers_.Keep(std::move(r)); }

  core::MapState ReadState() override {
    core::MapState state;
    state.values.resize(map_->value_buffer_size() * spec_.max_entries);
    map_->CopyValues(0, spec_.max_entries, state.values.data());
    if (map_->mmap_region_size() > 0) {
      state.mmap_data.emplace(map_->mmap_region_size());
      AtomicLoadBytes(state.mmap_data->data(), map_->data(),
                      state.mmap_data->size());
    }
    return state;
  }

  // A chunk of the state (core/state_digest.h), without reading the rest:
  // untouched pages of a large map's lazy mapping read as the zero page.
  void ReadStateChunk(core::StatePart part, uint64_t offset, uint64_t length,
                      uint8_t* out) override {
    if (part == core::StatePart::kMmapData) {
      const uint64_t size = map_->mmap_region_size();
      const uint64_t n = offset < size ? std::min(length, size - offset) : 0;
      if (n && Hole(offset, offset + n)) {
        std::memset(out, 0, length);
        return;
      }
      if (n) AtomicLoadBytes(out, map_->data() + offset, n);
      std::memset(out + n, 0, length - n);
      return;
    }
    const uint64_t per_key = map_->value_buffer_size();
    if (per_key == 0 || length == 0) {
      std::memset(out, 0, length);
      return;
    }
    const uint64_t first = offset / per_key;
    const uint64_t last = std::min<uint64_t>(
        spec_.max_entries, (offset + length + per_key - 1) / per_key);
    if (!map_->percpu() && last > first &&
        Hole(first * core::ElemSize(spec_), last * core::ElemSize(spec_))) {
      std::memset(out, 0, length);
      return;
    }
    if (offset == first * per_key && last > first &&
        (last - first) * per_key == length) {
      // Whole keys (the runner's chunks start at a key): straight in.
      map_->CopyValues(static_cast<uint32_t>(first),
                       static_cast<uint32_t>(last - first), out);
      return;
    }
    // Past the last key: zeros (no key fills them).
    std::memset(out, 0, length);
    if (first >= last) return;
    std::vector<uint8_t> keys((last - first) * per_key);
    map_->CopyValues(static_cast<uint32_t>(first),
                     static_cast<uint32_t>(last - first), keys.data());
    const uint64_t skip = offset - first * per_key;
    std::memcpy(out, keys.data() + skip,
                std::min<uint64_t>(length, keys.size() - skip));
  }

 private:
  // Whether storage bytes [begin, end) of a memfd-backed (BPF_F_MMAPABLE)
  // map were never written: reading a tmpfs hole through the shared
  // mapping would allocate it (a 4 GiB map's state read took 4 GiB).
  // lseek(SEEK_DATA) knows, swapped-out pages included.
  bool Hole(uint64_t begin, uint64_t end) const {
    const int fd = map_->memfd();
    if (fd < 0) return false;
    const off_t data = lseek(fd, static_cast<off_t>(begin), SEEK_DATA);
    if (data < 0) return errno == ENXIO;
    return static_cast<uint64_t>(data) >= end;
  }

  // The syscall buffer per key for element flags `flags` (BPF_F_CPU /
  // BPF_F_ALL_CPUS make it value_size on 7.0+; the library's own answer, so
  // it never reads or writes past what is given).
  uint64_t BufferSize(uint64_t flags = 0) const {
    return map_->value_buffer_size(flags);
  }

  // ---- syscall face ----

  Result Do(const core::Lookup& op) {
    Result r;
    Bytes value = buffers_.TakeBytes(BufferSize(op.flags));
    r.err = fd_.Lookup(op.key, value.data(), op.flags);
    if (r.err == 0) {
      r.value = std::move(value);
    } else {
      buffers_.KeepBytes(std::move(value));
    }
    return r;
  }
  Result Do(const core::Update& op) {
    FittedBytes value(op.value, BufferSize(op.flags));
    return Result::Errno(fd_.Update(op.key, value.data(), op.flags));
  }
  Result Do(const core::Delete& op) { return Result::Errno(fd_.Delete(op.key)); }
  Result Do(const core::LookupAndDelete& op) {
    // Arrays refuse it (ENOTSUPP after the permission and flag checks), so
    // nothing is copied out; the buffer is the map's, sized once.
    if (discard_.size() < BufferSize()) discard_.resize(BufferSize());
    return Result::Errno(fd_.LookupAndDelete(op.key, discard_.data(), op.flags));
  }
  Result Do(const core::GetNextKey& op) {
    uint32_t next = 0;
    uint32_t key = op.key.value_or(0);
    Result r;
    r.err = fd_.GetNextKey(op.key ? &key : nullptr, &next);
    if (r.err == 0) r.next_key = next;
    return r;
  }
  Result Do(const core::LookupBatch& op) {
    Result r;
    uint32_t count = op.count;
    uint32_t in = op.in_batch.value_or(0);
    uint32_t out_batch = UINT32_MAX;
    // A walk copies at most max_entries elements, then asks for one more
    // key (ENOENT): buffers for max_entries + 1 behave as ones for count.
    const uint32_t room = static_cast<uint32_t>(
        std::min<uint64_t>(op.count, uint64_t{spec_.max_entries} + 1));
    std::vector<uint32_t> keys(room);
    Bytes values = buffers_.TakeBytes(room * BufferSize(op.elem_flags));
    uint32_t walk_count = room;
    r.err = fd_.LookupBatch(op.in_batch ? &in : nullptr, &out_batch,
                            keys.data(), values.data(), &walk_count,
                            op.elem_flags, op.flags);
    // Errors found before the walk leave count alone and copy nothing.
    const bool walked = r.err == 0 || r.err == ENOENT;
    if (!walked) {
      // ENOMEM (the kmalloc'ed buffer before 5.12) comes after count is
      // zeroed; earlier errors leave it alone.
      r.count = r.err == ENOMEM ? walk_count : count;
      buffers_.KeepBytes(std::move(values));
      return r;
    }
    r.count = walk_count;
    keys.resize(walk_count);
    values.resize(walk_count * BufferSize(op.elem_flags));
    r.keys = std::move(keys);
    r.value = std::move(values);
    if (walk_count > 0) r.out_batch = out_batch;
    return r;
  }
  Result Do(const core::LookupAndDeleteBatch& op) {
    Result r;
    uint32_t count = op.count;
    r.err = fd_.LookupAndDeleteBatch(nullptr, nullptr, nullptr, nullptr,
                                     &count, op.elem_flags, op.flags);
    r.count = count;
    return r;
  }
  Result Do(const core::UpdateBatch& op) {
    Result r;
    uint32_t count = static_cast<uint32_t>(op.keys.size());
    FittedBytes values(op.values, BufferSize(op.elem_flags) * count);
    r.err = fd_.UpdateBatch(op.keys.data(), values.data(), &count,
                            op.elem_flags, op.flags);
    r.count = count;
    return r;
  }
  Result Do(const core::DeleteBatch& op) {
    Result r;
    uint32_t count = static_cast<uint32_t>(op.keys.size());
    r.err = fd_.DeleteBatch(op.keys.data(), &count, op.elem_flags, op.flags);
    r.count = count;
    return r;
  }
  Result Do(const core::Freeze&) { return Result::Errno(fd_.Freeze()); }

  // ---- mmap, with the harness's slot conventions ----

  Result Do(const core::Mmap& op) {
    if (int err = mappings_.CheckFree(op.slot)) return Result::Errno(err);
    Mapping mapping;
    int err = fd_.Mmap(op.offset, op.length, static_cast<int>(op.prot),
                       op.shared ? kMapShared : kMapPrivate, &mapping);
    // ENOMEM for a length that rounds to whole pages below TASK_SIZE is
    // this process's address space running out (the kernel's rules give
    // ENOMEM only past those): a harness error, as in the kernel backend.
    const uint64_t page = env_.page_size;
    const uint64_t rounded = (op.length + page - 1) / page * page;
    if (err == ENOMEM && op.length != 0 && rounded >= op.length &&
        rounded <= (uint64_t{1} << 47) - page) {
      throw core::HarnessError("impl: mmap of " + std::to_string(op.length) +
                               " bytes gave ENOMEM (out of address space)");
    }
    if (err) return Result::Errno(err);
    mappings_.Put(op.slot, mapping.addr(), op.offset, mapping.length(),
                  op.prot);
    live_[op.slot] = std::move(mapping);
    return {};
  }
  Result Do(const core::MmapRead& op) {
    const core::MappingSlot* m = nullptr;
    int err = mappings_.Access(op.slot, op.offset, op.length, false, &m);
    if (err) return Result::Errno(err);
    Result r;
    r.value = buffers_.TakeBytes(op.length);
    AtomicLoadBytes(r.value->data(), m->addr + op.offset, op.length);
    return r;
  }
  Result Do(const core::MmapWrite& op) {
    const core::MappingSlot* m = nullptr;
    int err = mappings_.Access(op.slot, op.offset, op.bytes.size(), true, &m);
    if (err) return Result::Errno(err);
    AtomicStoreBytes(m->addr + op.offset, op.bytes.data(), op.bytes.size());
    return {};
  }
  Result Do(const core::Munmap& op) {
    core::MappingSlot was;
    int err = mappings_.Remove(op.slot, &was);
    if (err) return Result::Errno(err);
    live_[op.slot].Reset();
    return {};
  }

  // ---- helper face, with the harness's program conventions: a CPU that
  // is not online is EINVAL; then what the verifier refuses at load time
  // (BPF_F_RDONLY_PROG / BPF_F_WRONLY_PROG: EACCES; lookup_percpu on an
  // ARRAY: EINVAL; a misaligned or out-of-bounds atomic: EACCES). ----

  // A program runs only on an online CPU (core/op.h): a possible-but-offline
  // one is EINVAL too.
  int CpuCheck(uint32_t cpu) const {
    return cpu >= env_.Online() ? EINVAL : 0;
  }
  // The lock the map was created with (none for a misaligned one before
  // 6.2).
  bool HasLock() const { return map_->attr().spin_lock_offset >= 0; }
  uint64_t LockOffset() const {
    return static_cast<uint64_t>(map_->attr().spin_lock_offset);
  }
  // Before 6.6 the harness's (sleepable) programs may not use a lock map:
  // EINVAL at load, before any access check (core/kernel_profile.h).
  int LockMapCheck() const {
    return HasLock() && programs_refuse_lock_ ? EINVAL : 0;
  }
  bool ProgMayRead() const { return !(spec_.map_flags & core::kBpfFWronlyProg); }
  bool ProgMayWrite() const {
    return !(spec_.map_flags & core::kBpfFRdonlyProg);
  }
  Result ReadThrough(void* p) {
    Result r;
    if (p == nullptr) {
      r.null = true;
      return r;
    }
    r.value = buffers_.TakeBytes(spec_.value_size);
    AtomicLoadBytes(r.value->data(), p, spec_.value_size);
    r.aligned = reinterpret_cast<uintptr_t>(p) % 8 == 0;
    return r;
  }

  Result Do(const core::ProgLookup& op) {
    if (int err = CpuCheck(op.cpu)) return Result::Errno(err);
    if (int err = LockMapCheck()) return Result::Errno(err);
    if (!ProgMayRead()) return Result::Errno(EACCES);
    // Reading the whole value would read the bpf_spin_lock, which the
    // verifier forbids (EACCES at load).
    if (HasLock()) return Result::Errno(EACCES);
    return ReadThrough(map_->LookupOnCpu(op.key, op.cpu));
  }
  Result Do(const core::ProgUpdate& op) {
    if (int err = CpuCheck(op.cpu)) return Result::Errno(err);
    if (int err = LockMapCheck()) return Result::Errno(err);
    if (!ProgMayWrite()) return Result::Errno(EACCES);
    FittedBytes value(op.value, spec_.value_size);
    long ret = map_->UpdateElemOnCpu(op.key, value.data(), op.flags, op.cpu);
    return Result::Errno(static_cast<int>(-ret));
  }
  Result Do(const core::ProgDelete& op) {
    if (int err = CpuCheck(op.cpu)) return Result::Errno(err);
    if (int err = LockMapCheck()) return Result::Errno(err);
    if (!ProgMayWrite()) return Result::Errno(EACCES);
    return Result::Errno(static_cast<int>(-map_->DeleteElem(op.key)));
  }
  Result Do(const core::ProgLookupPercpu& op) {
    if (int err = CpuCheck(op.cpu)) return Result::Errno(err);
    if (int err = LockMapCheck()) return Result::Errno(err);
    if (!map_->percpu()) return Result::Errno(EINVAL);
    if (!ProgMayRead()) return Result::Errno(EACCES);
    return ReadThrough(map_->LookupPercpu(op.key, op.target_cpu));
  }
  Result Do(const core::ProgAtomicAdd& op) {
    if (int err = CpuCheck(op.cpu)) return Result::Errno(err);
    // The harness refuses a bad offset before loading anything.
    if (op.offset % 8 != 0 ||
        static_cast<uint64_t>(op.offset) + 8 > spec_.value_size) {
      return Result::Errno(EACCES);
    }
    if (int err = LockMapCheck()) return Result::Errno(err);
    if (!ProgMayRead()) return Result::Errno(EACCES);
    // An access overlapping the bpf_spin_lock is refused.
    if (HasLock() && LockOffset() < uint64_t{op.offset} + 8 &&
        op.offset < LockOffset() + 4) {
      return Result::Errno(EACCES);
    }
    if (!ProgMayWrite()) {
      // The verifier checks the fetch (a read) before the store. A frozen
      // BPF_F_RDONLY_PROG map is read-only to programs, so a read at a
      // constant offset is folded into a constant, which only single-entry
      // ARRAYs serve (ENOTSUPP otherwise; PERCPU has no direct reads); when
      // it folds, the store is refused (EACCES).
      if (map_->frozen() && !map_->percpu() && spec_.max_entries != 1) {
        return Result::Errno(kEnotsupp);
      }
      return Result::Errno(EACCES);
    }
    Result r;
    uint64_t old = 0;
    if (!map_->AtomicAddOnCpu(op.key, op.offset, op.delta, op.cpu, &old)) {
      r.null = true;
      return r;
    }
    r.old = old;
    return r;
  }

  std::unique_ptr<ArrayMap> map_;
  MapFd fd_;
  core::MapSpec spec_;
  core::Environment env_;
  core::MappingTable mappings_;
  std::array<Mapping, core::kMappingSlots> live_;
  bool programs_refuse_lock_ = false;
  // The value buffer of lookup-and-delete calls.
  Bytes discard_;
  // Buffers of results handed back (Recycle), for the next results' bytes.
  core::ResultBuffers buffers_;
};

}  // namespace

ImplBackend::ImplBackend(const std::optional<core::Environment>& env)
    : env_(core::HostEnvironment()) {
  if (env) {
    env_.possible_cpus = env->possible_cpus;
    env_.online_cpus = env->Online();
    // An emulated page must be a whole number of this machine's pages (the
    // maps' memory is still mmap()ed in host pages); otherwise this backend
    // keeps the host's and EnvironmentMismatch leaves it out.
    if (env->page_size >= env_.page_size &&
        env->page_size % env_.page_size == 0) {
      env_.page_size = env->page_size;
    }
    if (!env->kernel_release.empty()) env_.kernel_release = env->kernel_release;
  }
  profile_ = core::SelectKernelProfile(env_.kernel_release)
                 .value_or(core::AllKernelProfiles().back());
}

ImplBackend::~ImplBackend() { ReleaseRecycledMemfds(); }

core::CreateResult ImplBackend::Create(const core::MapSpec& spec) {
  MapAttr attr;
  attr.type = static_cast<MapType>(spec.type);
  attr.key_size = spec.key_size;
  attr.value_size = spec.value_size;
  attr.max_entries = spec.max_entries;
  attr.map_flags = spec.map_flags;
  attr.numa_node = spec.numa_node;
  if (spec.spin_lock_offset) attr.spin_lock_offset = *spec.spin_lock_offset;
  Options options;
  options.possible_cpus = env_.possible_cpus;
  options.page_size = env_.page_size;
  options.exec_mappings_refused = profile_.exec_mappings_refused;
  options.freeze_needs_write_permission = profile_.freeze_needs_write_permission;
  options.misaligned_spin_lock_refused = profile_.misaligned_spin_lock_refused;
  options.spin_lock_refuses_wronly_prog = profile_.spin_lock_refuses_wronly_prog;
  options.spin_lock_wrong_map_type_errno = profile_.spin_lock_wrong_map_type_errno;
  options.spin_lock_freeze_refused = profile_.spin_lock_freeze_refused;
  options.lookup_read_permission_first = profile_.lookup_read_permission_first;
  options.create_rdonly_wronly_checked_last =
      profile_.create_rdonly_wronly_checked_last;
  options.percpu_cpu_flags = profile_.percpu_cpu_flags;
  options.percpu_update_writes_padding = profile_.percpu_update_writes_padding;
  // 5.10 fields.
  options.percpu_array_batch_ops = profile_.percpu_array_batch_ops;
  options.lookup_and_delete_takes_flags = profile_.lookup_and_delete_takes_flags;
  options.value_size_bounded_by_int_max = profile_.value_size_bounded_by_int_max;
  options.batch_buffer_kvmalloced = profile_.batch_buffer_kvmalloced;
  options.map_cost_charged_to_memlock = profile_.map_cost_charged_to_memlock;
  // ImplMap unmaps its mappings before the map goes (~ImplMap).
  options.recycle_memfd = true;
  // Every mapped access goes through core::MappingTable, which checks its
  // bounds and protection, so views do (Options::mapping_views).
  options.mapping_views = true;
  core::CreateResult out;
  std::unique_ptr<ArrayMap> map;
  int host_failure = 0;
  out.err = ArrayMap::Create(attr, options, &map, &host_failure);
  // The map passed every check but this process could not get its storage:
  // the harness's failure (core/harness_error.h), not the kernel's ENOMEM.
  if (host_failure) {
    throw core::HarnessError("impl: allocating the map's storage failed with " +
                             core::ErrnoName(host_failure) +
                             " (out of memory, address space or descriptors)");
  }
  if (out.err == 0) {
    out.map = std::make_unique<ImplMap>(std::move(map), spec, env_, profile_);
  }
  return out;
}

}  // namespace amc::impl
