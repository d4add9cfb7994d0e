// plugin/direct_backend.cc: loading a plug-in and adapting its C table to
// core::Backend / core::MapInstance.
#include "plugin/direct_backend.h"

#include <dlfcn.h>
#include <sys/mman.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <new>
#include <optional>
#include <vector>

#include "core/kernel_profile.h"
#include "core/mapping_table.h"
#include "core/state_digest.h"

namespace amc::plugin {
namespace {

using core::OpKind;
using core::Result;

// Bytes after every output buffer that must come back untouched.
constexpr size_t kGuardBytes = 64;
constexpr uint8_t kGuardByte = 0xa5;

// An output buffer of `size` usable bytes followed by guard bytes.
class GuardedBuffer {
 public:
  explicit GuardedBuffer(uint64_t size)
      : size_(size), bytes_(size + kGuardBytes, 0) {
    std::fill(bytes_.begin() + size, bytes_.end(), kGuardByte);
  }
  uint8_t* data() { return bytes_.data(); }
  bool intact() const {
    return std::all_of(bytes_.begin() + size_, bytes_.end(),
                       [](uint8_t b) { return b == kGuardByte; });
  }
  std::vector<uint8_t> Take(uint64_t n) const {
    return std::vector<uint8_t>(bytes_.begin(), bytes_.begin() + n);
  }

 private:
  uint64_t size_;
  std::vector<uint8_t> bytes_;
};

// The same for a buffer of u32 keys.
class GuardedKeys {
 public:
  explicit GuardedKeys(uint64_t n) : raw_(n * 4) {}
  uint32_t* data() { return reinterpret_cast<uint32_t*>(raw_.data()); }
  bool intact() const { return raw_.intact(); }
  std::vector<uint32_t> Take(uint64_t n) const {
    std::vector<uint8_t> bytes = raw_.Take(n * 4);
    std::vector<uint32_t> keys(n);
    if (n) std::memcpy(keys.data(), bytes.data(), n * 4);
    return keys;
  }

 private:
  GuardedBuffer raw_;
};

Result Overrun() { return Result::Errno(core::kErrOverrun); }

// An input buffer of `size` bytes: `bytes`, then zeros. Past 1 MiB the zeros
// are an anonymous mapping that costs nothing until written (the plug-in
// only reads it): the robustness probe passes update values of maps whose
// value_size is past INT_MAX (core/differential.h), gigabytes that amc must
// not fill and hold for a map that should not exist.
class PaddedInput {
 public:
  PaddedInput(const std::vector<uint8_t>& bytes, uint64_t size) : size_(size) {
    if (size <= (uint64_t{1} << 20) || bytes.size() >= size) {
      small_ = core::FitBuffer(bytes, size);
      data_ = small_.data();
      return;
    }
    void* p = ::mmap(nullptr, size, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) throw std::bad_alloc();
    mapped_ = static_cast<uint8_t*>(p);
    if (!bytes.empty()) std::memcpy(mapped_, bytes.data(), bytes.size());
    data_ = mapped_;
  }
  PaddedInput(const PaddedInput&) = delete;
  PaddedInput& operator=(const PaddedInput&) = delete;
  ~PaddedInput() {
    if (mapped_) ::munmap(mapped_, size_);
  }
  const uint8_t* data() const { return data_; }

 private:
  uint64_t size_;
  std::vector<uint8_t> small_;
  uint8_t* mapped_ = nullptr;
  const uint8_t* data_ = nullptr;
};

class DirectMap : public core::MapInstance {
 public:
  DirectMap(const amc_plugin* t, amc_map* map, const core::MapSpec& spec,
            const core::Environment& env)
      : t_(t),
        map_(map),
        spec_(spec),
        env_(env),
        vbuf_(core::SyscallValueSize(spec, env)),
        mappings_(env.page_size) {}

  ~DirectMap() override {
    for (uint32_t slot = 0; slot < core::kMappingSlots; ++slot) {
      if (mappings_.slots()[slot].used) t_->munmap(map_, handles_[slot]);
    }
    t_->destroy(map_);
  }

  Result Execute(const core::Op& op) override {
    state_.reset();  // an op may change what a chunk read would see
    return std::visit([this](const auto& o) { return Do(o); }, op);
  }

  // A huge state a chunk at a time (core/state_digest.h). The C interface
  // reads a state whole (read_state), so the first chunk read calls it once
  // into zero-filled mappings that cost only the pages the plug-in writes,
  // and later chunks are cut from them.
  void ReadStateChunk(core::StatePart part, uint64_t offset, uint64_t length,
                      uint8_t* out) override {
    std::memset(out, 0, length);
    if (!state_) state_.emplace(*this);
    const LazyBuffer& from =
        part == core::StatePart::kValues ? state_->values : state_->data;
    if (state_->overran) {
      // A state that overran cannot be trusted: make it differ from any
      // map, as ReadState does.
      std::memset(out, kGuardByte, length);
      return;
    }
    if (part == core::StatePart::kMmapData && from.size() == 0) {
      // A plug-in without mmap: the region holds the values, as in
      // ReadState.
      const uint64_t elem = core::ElemSize(spec_);
      const uint64_t end = elem * spec_.max_entries;
      for (uint64_t i = 0; i < length && offset + i < end; ++i) {
        const uint64_t at = offset + i;
        if (at % elem < spec_.value_size) {
          out[i] = state_->values.data()[at / elem * vbuf_ + at % elem];
        }
      }
      return;
    }
    if (offset < from.size()) {
      std::memcpy(out, from.data() + offset,
                  std::min<uint64_t>(length, from.size() - offset));
    }
  }

  core::MapState ReadState() override {
    core::MapState state;
    GuardedBuffer values(vbuf_ * spec_.max_entries);
    // A map with a lock has no mappable data (mapping it is refused).
    const bool mmapable = spec_.type == core::MapType::kArray &&
                          (spec_.map_flags & core::kBpfFMmapable) &&
                          !spec_.spin_lock_offset;
    uint64_t elem = core::ElemSize(spec_);
    uint64_t page = env_.page_size;
    uint64_t region = (elem * spec_.max_entries + page - 1) / page * page;
    const bool plugin_maps = t_->supported_ops & AMC_OP_BIT(AMC_OP_MMAP);
    std::optional<GuardedBuffer> data;
    if (mmapable && plugin_maps) data.emplace(region);
    t_->read_state(map_, values.data(), data ? data->data() : nullptr);
    state.values = values.Take(vbuf_ * spec_.max_entries);
    if (mmapable) {
      if (data) {
        state.mmap_data = data->Take(region);
      } else {
        // Without mmap nothing but values can be in the region.
        state.mmap_data.emplace(region, 0);
        for (uint32_t k = 0; k < spec_.max_entries; ++k) {
          std::memcpy(state.mmap_data->data() + k * elem,
                      state.values.data() + k * vbuf_, spec_.value_size);
        }
      }
    }
    // A state that overran cannot be trusted: make it differ from any map.
    if (!values.intact() || (data && !data->intact())) state = {};
    return state;
  }

  // Digests straight from the one read_state (no copy per chunk).
  std::vector<uint64_t> StateDigests(core::StatePart part, uint64_t offset,
                                     uint64_t length, uint64_t chunk) override {
    if (!state_) state_.emplace(*this);
    const LazyBuffer& from =
        part == core::StatePart::kValues ? state_->values : state_->data;
    const bool direct = !state_->overran &&
                        (part == core::StatePart::kValues || from.size() > 0) &&
                        offset + length <= from.size();
    if (!direct) return core::MapInstance::StateDigests(part, offset, length, chunk);
    std::vector<uint64_t> digests;
    for (uint64_t at = 0; chunk && at < length; at += chunk) {
      digests.push_back(core::StateDigest(from.data() + offset + at,
                                          std::min(chunk, length - at)));
    }
    return digests;
  }

 private:
  // Zero-filled memory that costs only what is written, with guard bytes
  // after its `size` bytes.
  class LazyBuffer {
   public:
    explicit LazyBuffer(uint64_t size) : size_(size) {
      if (size == 0) return;
      void* p = ::mmap(nullptr, size + kGuardBytes, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
      if (p == MAP_FAILED) throw std::bad_alloc();
      // Reading the untouched gigabytes then maps the huge zero page, 2 MiB
      // per fault (where the kernel offers huge pages on request).
      if (size >= (uint64_t{64} << 20)) ::madvise(p, size, MADV_HUGEPAGE);
      bytes_ = static_cast<uint8_t*>(p);
      std::memset(bytes_ + size, kGuardByte, kGuardBytes);
    }
    LazyBuffer(const LazyBuffer&) = delete;
    LazyBuffer& operator=(const LazyBuffer&) = delete;
    ~LazyBuffer() {
      if (bytes_) ::munmap(bytes_, size_ + kGuardBytes);
    }
    uint8_t* data() const { return bytes_; }
    uint64_t size() const { return size_; }
    bool intact() const {
      for (size_t i = 0; bytes_ && i < kGuardBytes; ++i) {
        if (bytes_[size_ + i] != kGuardByte) return false;
      }
      return true;
    }

   private:
    uint64_t size_;
    uint8_t* bytes_ = nullptr;
  };
  // One read_state, kept for chunk reads until the next op.
  struct StateCopy {
    explicit StateCopy(DirectMap& m)
        : values(m.vbuf_ * m.spec_.max_entries), data(m.MmapDataSize()) {
      m.t_->read_state(m.map_, values.data(), data.size() ? data.data() : nullptr);
      overran = !values.intact() || !data.intact();
    }
    LazyBuffer values;
    LazyBuffer data;
    bool overran = false;
  };
  // The mmap_data the plug-in fills in read_state: 0 when it fills none
  // (ReadState then makes it from the values).
  uint64_t MmapDataSize() const {
    const bool mmapable = spec_.type == core::MapType::kArray &&
                          (spec_.map_flags & core::kBpfFMmapable) &&
                          !spec_.spin_lock_offset;
    if (!mmapable || !(t_->supported_ops & AMC_OP_BIT(AMC_OP_MMAP))) return 0;
    const uint64_t page = env_.page_size;
    return (core::ElemSize(spec_) * spec_.max_entries + page - 1) / page * page;
  }
  std::optional<StateCopy> state_;

  // ---- syscall side ----
  // VBUF for element flags `flags` (amc_plugin.h): value_size with BPF_F_CPU
  // or BPF_F_ALL_CPUS, as Linux 7.0+ sizes it; releases before refuse those
  // flags before touching a buffer, so one rule serves every release.
  uint64_t Vbuf(uint64_t flags) const {
    return core::SyscallValueSize(spec_, env_, flags, true);
  }
  Result Do(const core::Lookup& op) {
    const uint64_t vbuf = Vbuf(op.flags);
    GuardedBuffer value(vbuf);
    int32_t err = t_->lookup(map_, op.key, op.flags, value.data());
    if (!value.intact()) return Overrun();
    Result r = Result::Errno(err);
    if (err == 0) r.value = value.Take(vbuf);
    return r;
  }
  Result Do(const core::Update& op) {
    PaddedInput value(op.value, Vbuf(op.flags));
    return Result::Errno(t_->update(map_, op.key, value.data(), op.flags));
  }
  Result Do(const core::Delete& op) {
    return Result::Errno(t_->delete_elem(map_, op.key));
  }
  Result Do(const core::LookupAndDelete& op) {
    GuardedBuffer value(vbuf_);
    int32_t err = t_->lookup_and_delete(map_, op.key, op.flags, value.data());
    if (!value.intact()) return Overrun();
    Result r = Result::Errno(err);
    if (err == 0) r.value = value.Take(vbuf_);
    return r;
  }
  Result Do(const core::GetNextKey& op) {
    uint32_t key = op.key.value_or(0);
    uint32_t next = 0;
    int32_t err = t_->get_next_key(map_, op.key ? &key : nullptr, &next);
    Result r = Result::Errno(err);
    if (err == 0) r.next_key = next;
    return r;
  }
  template <typename BatchOp, typename Fn>
  Result LookupBatchLike(const BatchOp& op, Fn fn) {
    uint64_t room = std::min<uint64_t>(op.count, spec_.max_entries);
    const uint64_t vbuf = Vbuf(op.elem_flags);
    GuardedKeys keys(room);
    GuardedBuffer values(room * vbuf);
    uint32_t in = op.in_batch.value_or(0);
    uint32_t out_batch = 0;
    uint32_t count = op.count;
    int32_t err = fn(map_, op.in_batch ? &in : nullptr, &out_batch, keys.data(),
                     values.data(), &count, op.elem_flags, op.flags);
    if (!keys.intact() || !values.intact()) return Overrun();
    Result r = Result::Errno(err);
    r.count = count;
    if (err == 0 || err == ENOENT) {
      uint64_t n = std::min<uint64_t>(count, room);
      r.keys = keys.Take(n);
      r.value = values.Take(n * vbuf);
      if (count > 0) r.out_batch = out_batch;
    }
    return r;
  }
  Result Do(const core::LookupBatch& op) {
    return LookupBatchLike(op, t_->lookup_batch);
  }
  Result Do(const core::LookupAndDeleteBatch& op) {
    return LookupBatchLike(op, t_->lookup_and_delete_batch);
  }
  Result Do(const core::UpdateBatch& op) {
    uint32_t count = static_cast<uint32_t>(op.keys.size());
    PaddedInput values(op.values, Vbuf(op.elem_flags) * op.keys.size());
    int32_t err = t_->update_batch(map_, op.keys.data(), values.data(), &count,
                                   op.elem_flags, op.flags);
    Result r = Result::Errno(err);
    r.count = count;
    return r;
  }
  Result Do(const core::DeleteBatch& op) {
    uint32_t count = static_cast<uint32_t>(op.keys.size());
    int32_t err =
        t_->delete_batch(map_, op.keys.data(), &count, op.elem_flags, op.flags);
    Result r = Result::Errno(err);
    r.count = count;
    return r;
  }
  Result Do(const core::Freeze&) { return Result::Errno(t_->freeze(map_)); }

  // ---- mmap: the slot table and access checks are the harness's ----
  Result Do(const core::Mmap& op) {
    if (int err = mappings_.CheckFree(op.slot)) return Result::Errno(err);
    void* handle = nullptr;
    int32_t err = t_->mmap(map_, op.offset, op.length, op.prot,
                           op.shared ? 1 : 0, &handle);
    if (err == 0) {
      mappings_.Put(op.slot, nullptr, op.offset, op.length, op.prot);
      handles_[op.slot] = handle;
    }
    return Result::Errno(err);
  }
  Result Do(const core::MmapRead& op) {
    const core::MappingSlot* m = nullptr;
    int err = mappings_.Access(op.slot, op.offset, op.length, false, &m);
    if (err) return Result::Errno(err);
    GuardedBuffer out(op.length);
    int32_t e = t_->mmap_read(map_, handles_[op.slot], op.offset, op.length,
                              out.data());
    if (!out.intact()) return Overrun();
    Result r = Result::Errno(e);
    if (e == 0) r.value = out.Take(op.length);
    return r;
  }
  Result Do(const core::MmapWrite& op) {
    const core::MappingSlot* m = nullptr;
    int err = mappings_.Access(op.slot, op.offset, op.bytes.size(), true, &m);
    if (err) return Result::Errno(err);
    return Result::Errno(t_->mmap_write(map_, handles_[op.slot], op.offset,
                                        op.bytes.size(), op.bytes.data()));
  }
  Result Do(const core::Munmap& op) {
    core::MappingSlot was;
    if (int err = mappings_.Remove(op.slot, &was)) return Result::Errno(err);
    void* handle = handles_[op.slot];
    handles_[op.slot] = nullptr;
    return Result::Errno(t_->munmap(map_, handle));
  }

  // ---- program side ----
  // Programs run only on online CPUs (core/op.h): amc answers EINVAL.
  bool BadCpu(uint32_t cpu) const { return cpu >= env_.Online(); }
  Result ProgLookupResult(int32_t err, uint32_t flags,
                          const GuardedBuffer& value) {
    if (!value.intact()) return Overrun();
    Result r = Result::Errno(err);
    if (err != 0) return r;
    if (flags & AMC_PROG_NULL) {
      r.null = true;
      return r;
    }
    r.value = value.Take(spec_.value_size);
    r.aligned = (flags & AMC_PROG_ALIGNED) != 0;
    return r;
  }
  Result Do(const core::ProgLookup& op) {
    if (BadCpu(op.cpu)) return Result::Errno(EINVAL);
    GuardedBuffer value(spec_.value_size);
    uint32_t flags = 0;
    int32_t err = t_->prog_lookup(map_, op.cpu, op.key, value.data(), &flags);
    return ProgLookupResult(err, flags, value);
  }
  Result Do(const core::ProgUpdate& op) {
    if (BadCpu(op.cpu)) return Result::Errno(EINVAL);
    PaddedInput value(op.value, spec_.value_size);
    return Result::Errno(
        t_->prog_update(map_, op.cpu, op.key, value.data(), op.flags));
  }
  Result Do(const core::ProgDelete& op) {
    if (BadCpu(op.cpu)) return Result::Errno(EINVAL);
    return Result::Errno(t_->prog_delete(map_, op.cpu, op.key));
  }
  Result Do(const core::ProgLookupPercpu& op) {
    if (BadCpu(op.cpu)) return Result::Errno(EINVAL);
    GuardedBuffer value(spec_.value_size);
    uint32_t flags = 0;
    int32_t err = t_->prog_lookup_percpu(map_, op.cpu, op.key, op.target_cpu,
                                         value.data(), &flags);
    return ProgLookupResult(err, flags, value);
  }
  Result Do(const core::ProgAtomicAdd& op) {
    if (BadCpu(op.cpu)) return Result::Errno(EINVAL);
    if (op.offset % 8 != 0 ||
        static_cast<uint64_t>(op.offset) + 8 > spec_.value_size) {
      return Result::Errno(EACCES);
    }
    uint64_t old = 0;
    uint32_t flags = 0;
    int32_t err = t_->prog_atomic_add(map_, op.cpu, op.key, op.offset, op.delta,
                                      &old, &flags);
    Result r = Result::Errno(err);
    if (err != 0) return r;
    if (flags & AMC_PROG_NULL) {
      r.null = true;
    } else {
      r.old = old;
    }
    return r;
  }

  const amc_plugin* t_;
  amc_map* map_;
  core::MapSpec spec_;
  core::Environment env_;
  uint64_t vbuf_;
  core::MappingTable mappings_;
  std::array<void*, core::kMappingSlots> handles_{};
};

// Which table entry each kind calls.
struct KindFunction {
  const char* name;
  bool (*present)(const amc_plugin* t);
};
#define AMC_FN(field)                                               \
  {                                                                 \
#field, [](const amc_plugin* t) { return t->field != nullptr; } \
  }
const KindFunction kKindFunctions[AMC_OP_KIND_COUNT] = {
    AMC_FN(lookup),
    AMC_FN(update),
    AMC_FN(delete_elem),
    AMC_FN(lookup_and_delete),
    AMC_FN(get_next_key),
    AMC_FN(lookup_batch),
    AMC_FN(lookup_and_delete_batch),
    AMC_FN(update_batch),
    AMC_FN(delete_batch),
    AMC_FN(freeze),
    AMC_FN(mmap),
    AMC_FN(mmap_read),
    AMC_FN(mmap_write),
    AMC_FN(munmap),
    AMC_FN(prog_lookup),
    AMC_FN(prog_update),
    AMC_FN(prog_delete),
    AMC_FN(prog_lookup_percpu),
    AMC_FN(prog_atomic_add),
};
#undef AMC_FN

// The ABI 3 declarations: known map types and flags, each mask with its
// reason, and a release amc can map to a kernel profile.
bool ValidateTargets(const amc_plugin* t, std::string* error) {
  const uint32_t known_types = AMC_MAP_TYPE_BIT(AMC_MAP_TYPE_ARRAY) |
                               AMC_MAP_TYPE_BIT(AMC_MAP_TYPE_PERCPU_ARRAY);
  if (t->unsupported_map_types & ~known_types) {
    *error = "unsupported_map_types names map types other than ARRAY (bit 2) "
             "and PERCPU_ARRAY (bit 6)";
    return false;
  }
  if (t->unsupported_map_types == known_types) {
    *error = "unsupported_map_types leaves out both map types: nothing to test";
    return false;
  }
  if (t->unsupported_map_types && (!t->unsupported_map_types_reason ||
                                   !*t->unsupported_map_types_reason)) {
    *error = "leaves out map types without unsupported_map_types_reason";
    return false;
  }
  if (t->unsupported_map_flags && (!t->unsupported_map_flags_reason ||
                                   !*t->unsupported_map_flags_reason)) {
    *error = "leaves out map flags without unsupported_map_flags_reason";
    return false;
  }
  if (t->target_release && *t->target_release &&
      core::ReleaseVersion(t->target_release) < 0) {
    *error = std::string("target_release '") + t->target_release +
             "' is not a Linux release (write it as \"7.3\" or \"6.1.0\")";
    return false;
  }
  return true;
}

}  // namespace

amc_plugin NormalizedTable(const amc_plugin* t) {
  amc_plugin out{};
  std::memcpy(&out, t, std::min<size_t>(t->struct_size, sizeof out));
  return out;
}

std::string UnsupportedSpecReason(const amc_plugin& t,
                                  const core::MapSpec& spec) {
  const auto type = static_cast<uint32_t>(spec.type);
  if (type < 32 && (t.unsupported_map_types & AMC_MAP_TYPE_BIT(type))) {
    return std::string("does not implement map type ") +
           (spec.type == core::MapType::kArray ? "ARRAY" : "PERCPU_ARRAY") + ": " +
           t.unsupported_map_types_reason;
  }
  if (uint32_t bits = spec.map_flags & t.unsupported_map_flags) {
    char hex[16];
    std::snprintf(hex, sizeof hex, "0x%x", bits);
    return std::string("does not implement map_flags ") + hex + ": " +
           t.unsupported_map_flags_reason;
  }
  return "";
}

const char* RequiredFunctionName(OpKind kind) {
  return kKindFunctions[static_cast<size_t>(kind)].name;
}

bool ValidateTable(const amc_plugin* t, std::string* error) {
  if (t == nullptr) {
    *error = "amc_plugin_get() returned NULL";
    return false;
  }
  if (t->abi_version < AMC_PLUGIN_ABI_VERSION_MIN ||
      t->abi_version > AMC_PLUGIN_ABI_VERSION) {
    *error = "plug-in ABI version " + std::to_string(t->abi_version) +
             " does not match this amc's ABI version " +
             std::to_string(AMC_PLUGIN_ABI_VERSION) + " (it loads " +
             std::to_string(AMC_PLUGIN_ABI_VERSION_MIN) + " to " +
             std::to_string(AMC_PLUGIN_ABI_VERSION) +
             "; rebuild it against this amc_plugin.h)";
    return false;
  }
  // A table built against ABI 1 or 2 ends before target_release.
  const size_t expected_size =
      t->abi_version >= 3 ? sizeof(amc_plugin) : AMC_PLUGIN_STRUCT_SIZE_V2;
  if (t->struct_size != expected_size) {
    *error = "plug-in table size " + std::to_string(t->struct_size) +
             " differs from sizeof(amc_plugin) = " +
             std::to_string(expected_size) + " of ABI version " +
             std::to_string(t->abi_version);
    return false;
  }
  if (t->abi_version >= 3 && !ValidateTargets(t, error)) return false;
  if (!t->create || !t->destroy || !t->read_state) {
    *error = "create, destroy and read_state are required";
    return false;
  }
  if (t->supported_ops & ~AMC_OP_ALL) {
    *error = "supported_ops names unknown op kinds";
    return false;
  }
  for (size_t k = 0; k < core::kOpKindCount; ++k) {
    auto kind = static_cast<OpKind>(k);
    bool supported = t->supported_ops & AMC_OP_BIT(k);
    if (supported && !kKindFunctions[k].present(t)) {
      *error = std::string("supports ") + core::OpKindName(kind) +
               " but its function '" + kKindFunctions[k].name + "' is NULL";
      return false;
    }
    if (!supported &&
        (!t->unsupported_reason[k] || !*t->unsupported_reason[k])) {
      *error = std::string("leaves out ") + core::OpKindName(kind) +
               " without a reason in unsupported_reason[]";
      return false;
    }
  }
  // Mapping accesses need mappings.
  const uint32_t mapping_ops = AMC_OP_BIT(AMC_OP_MMAP_READ) |
                               AMC_OP_BIT(AMC_OP_MMAP_WRITE) |
                               AMC_OP_BIT(AMC_OP_MUNMAP);
  if ((t->supported_ops & mapping_ops) &&
      !(t->supported_ops & AMC_OP_BIT(AMC_OP_MMAP))) {
    *error = "supports mmap_read/mmap_write/munmap without mmap";
    return false;
  }
  if ((t->supported_ops & AMC_OP_BIT(AMC_OP_MMAP)) &&
      (!t->munmap || !t->mmap_read || !t->mmap_write)) {
    *error = "supports mmap but not munmap, mmap_read and mmap_write";
    return false;
  }
  return true;
}

bool LoadPlugin(const std::string& path, LoadedPlugin* out,
                std::string* error) {
  // RTLD_LOCAL: plug-ins cannot see each other's or our symbols by accident.
  void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!handle) {
    const char* why = dlerror();
    *error = path + ": cannot load: " + (why ? why : "unknown dlopen error");
    return false;
  }
  dlerror();
  void* sym = dlsym(handle, AMC_PLUGIN_ENTRY);
  if (!sym) {
    *error = path + ": no symbol '" AMC_PLUGIN_ENTRY
                    "' (export it with extern \"C\" AMC_PLUGIN_EXPORT)";
    dlclose(handle);
    return false;
  }
  auto get = reinterpret_cast<amc_plugin_get_fn>(sym);
  const amc_plugin* table = get();
  std::string why;
  if (!ValidateTable(table, &why)) {
    *error = path + ": " + why;
    dlclose(handle);
    return false;
  }
  out->handle = handle;
  // Read through a whole-size copy, so an older, shorter table reads as
  // "this machine's release, every map type and flag".
  out->copy = std::make_shared<amc_plugin>(NormalizedTable(table));
  out->table = out->copy.get();
  out->path = path;
  return true;
}

core::Availability DirectBackend::Probe() {
  if (!table_->probe) return {};
  amc_env env{env_.possible_cpus, env_.page_size, env_.Online()};
  char reason[256] = {};
  if (table_->probe(&env, reason, sizeof reason) == 0) return {};
  reason[sizeof reason - 1] = '\0';
  return {false, reason[0] ? reason : "the plug-in's probe refused"};
}

core::CreateResult DirectBackend::Create(const core::MapSpec& spec) {
  amc_map_spec s{};
  s.map_type = static_cast<uint32_t>(spec.type);
  s.key_size = spec.key_size;
  s.value_size = spec.value_size;
  s.max_entries = spec.max_entries;
  s.map_flags = spec.map_flags;
  s.numa_node = spec.numa_node;
  s.spin_lock_offset =
      spec.spin_lock_offset ? static_cast<int64_t>(*spec.spin_lock_offset) : -1;
  amc_env env{env_.possible_cpus, env_.page_size, env_.Online()};
  amc_map* map = nullptr;
  core::CreateResult out;
  out.err = table_->create(&s, &env, &map);
  if (out.err == 0) {
    if (!map) {
      out.err = EFAULT;  // claimed success without a map
    } else {
      out.map = std::make_unique<DirectMap>(table_, map, spec, env_);
    }
  }
  return out;
}

}  // namespace amc::plugin
