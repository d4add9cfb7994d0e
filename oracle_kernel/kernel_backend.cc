// oracle_kernel/kernel_backend.cc: raw bpf()/mmap wrappers, the map and
// program cache, and one MapInstance per sequence.
#include "oracle_kernel/kernel_backend.h"

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>
#include <linux/capability.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/sysinfo.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <fstream>
#include <list>
#include <map>
#include <mutex>

#include "core/harness_error.h"
#include "core/kernel_profile.h"
#include "core/mapping_table.h"
#include "oracle_kernel/array_ops_bpf.h"  // kArrayOpsBpf, generated

namespace amc::oracle_kernel {
namespace {

using core::Bytes;
using core::MapSpec;
using core::MapType;
using core::Result;

// ---- raw syscalls: one thin wrapper each, "negative return, errno set" ----

long Bpf(int cmd, union bpf_attr* attr) {
  return syscall(__NR_bpf, cmd, attr, sizeof(*attr));
}
// 0, or the errno of the failed call.
int BpfErr(int cmd, union bpf_attr* attr) {
  return Bpf(cmd, attr) < 0 ? errno : 0;
}
uint64_t Ptr(const void* p) { return reinterpret_cast<uintptr_t>(p); }

// ---- harness errors (core/harness_error.h) ----
//
// Which failures are the harness's and which are the kernel's answer is
// decided by which call failed, never by the errno alone:
//   - the map under test's BPF_MAP_CREATE: every errno is the kernel's answer
//     (ENOMEM, E2BIG, EPERM included: array_map_alloc's size checks and
//     memcg charge), except EMFILE / ENFILE, which say this process is out
//     of descriptors (anon_inode_getfd) after the map was made;
//   - the harness's own objects and read-backs (the read-write fd by id,
//     BPF_OBJ_GET_INFO_BY_FD, the BTF of a lock spec, the scratch maps and
//     the embedded object of program ops, the final-state read and its
//     mapping, the CPU pin): any failure is a harness error, except a
//     program's refusal by the verifier, which is the op's answer;
//   - an op's own call: its errno is the answer, except an mmap op's ENOMEM
//     for a length the kernel would map (this process's address space, not
//     the map, ran out; the model's size rules decide the rest);
//   - a program load (bpf_object__load): the verifier's refusal (EACCES,
//     EINVAL) is the op's answer; EMFILE / ENFILE / ENOMEM are libbpf's or
//     this process's limits (the embedded programs are tiny).
[[noreturn]] void HarnessFail(const std::string& what) {
  throw core::HarnessError("oracle_kernel: " + what);
}
bool OutOfDescriptors(int err) { return err == EMFILE || err == ENFILE; }
// What a refused call of the harness's own needs, for the message.
std::string CallFailed(const char* call, int err) {
  std::string out = std::string(call) + " gave " + core::ErrnoName(err);
  if (OutOfDescriptors(err)) {
    out += " (this process is out of file descriptors: raise RLIMIT_NOFILE)";
  } else if (err == ENOMEM) {
    out += " (out of memory or address space: check RLIMIT_AS / ulimit -v)";
  } else if (err == EPERM && std::string(call) == "BPF_MAP_GET_FD_BY_ID") {
    out += " (BPF_MAP_GET_FD_BY_ID needs CAP_SYS_ADMIN)";
  } else if (err == EPERM) {
    out += " (a capability this call needs is missing)";
  }
  return out;
}

// An owned fd.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(Fd&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
  Fd& operator=(Fd&& o) noexcept {
    if (this != &o) {
      Reset();
      fd_ = o.fd_;
      o.fd_ = -1;
    }
    return *this;
  }
  ~Fd() { Reset(); }
  void Reset() {
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
  }
  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }

 private:
  int fd_ = -1;
};

int QuietPrint(enum libbpf_print_level level, const char* format,
               va_list args) {
  static const bool debug = std::getenv("AMC_KERNEL_DEBUG") != nullptr;
  if (!debug || level == LIBBPF_DEBUG) return 0;
  return vfprintf(stderr, format, args);
}

// The largest lock offset whose member and the bytes after it still have
// a bit offset that fits in BTF's u32: (offset + 4) * 8 <= UINT32_MAX.
constexpr uint32_t kMaxBtfLockOffset = UINT32_MAX / 8 - 4;

// Creates a map as BPF_MAP_CREATE would for `spec`; returns the fd or
// -errno. A spec with a spin lock gets BTF describing its value: the lock at
// spin_lock_offset, char arrays around it. Errors loading that BTF are the
// creation's result.
int CreateMap(const MapSpec& spec, const std::string& name) {
  union bpf_attr attr;
  std::memset(&attr, 0, sizeof attr);
  attr.map_type = static_cast<uint32_t>(spec.type);
  attr.key_size = spec.key_size;
  attr.value_size = spec.value_size;
  attr.max_entries = spec.max_entries;
  attr.map_flags = spec.map_flags;
  attr.numa_node = spec.numa_node;
  std::strncpy(attr.map_name, name.c_str(), sizeof(attr.map_name) - 1);
  struct btf* btf = nullptr;
  Fd btf_fd;  // closed once the map holds its own reference
  if (spec.spin_lock_offset) {
    uint32_t off = *spec.spin_lock_offset;
    // BTF member offsets count bits in a u32: no struct describes a member
    // at or past 512 MiB, so such a spec has no kernel answer. (Writing the
    // offset anyway would wrap it and ask about another lock position.) A
    // harness error, never a result; the generator does not draw them.
    if (off > kMaxBtfLockOffset) {
      HarnessFail("a bpf_spin_lock at offset " + std::to_string(off) +
                  " cannot be described in BTF (member offsets are u32 bit "
                  "counts)");
    }
    btf = btf__new_empty();
    if (!btf) HarnessFail(CallFailed("btf__new_empty", ENOMEM));
    int int_id = btf__add_int(btf, "int", 4, BTF_INT_SIGNED);
    int char_id = btf__add_int(btf, "char", 1, BTF_INT_CHAR);
    int lock_id = btf__add_struct(btf, "bpf_spin_lock", 4);
    btf__add_field(btf, "val", int_id, 0, 0);
    int pre_id = off ? btf__add_array(btf, int_id, char_id, off) : 0;
    uint64_t end = static_cast<uint64_t>(off) + 4;
    int post_id =
        end < spec.value_size
            ? btf__add_array(btf, int_id, char_id,
                             static_cast<uint32_t>(spec.value_size - end))
            : 0;
    int value_id = btf__add_struct(btf, "amc_value", spec.value_size);
    if (pre_id > 0) btf__add_field(btf, "pre", pre_id, 0, 0);
    btf__add_field(btf, "lock", lock_id, off * 8, 0);
    if (post_id > 0) btf__add_field(btf, "post", post_id, end * 8, 0);
    // Loaded with a raw BPF_BTF_LOAD without a log: libbpf retries a failed
    // load with a log buffer and reports that retry's errno instead.
    uint32_t raw_size = 0;
    const void* raw = btf__raw_data(btf, &raw_size);
    union bpf_attr btf_attr;
    std::memset(&btf_attr, 0, sizeof btf_attr);
    btf_attr.btf = Ptr(raw);
    btf_attr.btf_size = raw_size;
    long loaded = raw ? Bpf(BPF_BTF_LOAD, &btf_attr) : -1;
    int btf_err = raw ? errno : ENOMEM;
    btf__free(btf);
    btf = nullptr;
    // The BTF is the harness's own description of the value: running out
    // of descriptors or memory loading it is not the creation's answer.
    if (loaded < 0 && (OutOfDescriptors(btf_err) || btf_err == ENOMEM)) {
      HarnessFail(CallFailed("BPF_BTF_LOAD", btf_err));
    }
    if (loaded < 0) return -btf_err;
    btf_fd.Reset();
    btf_fd = Fd(static_cast<int>(loaded));
    attr.btf_fd = btf_fd.get();
    attr.btf_key_type_id = int_id;
    attr.btf_value_type_id = value_id;
  }
  long fd = Bpf(BPF_MAP_CREATE, &attr);
  int err = errno;
  if (btf) btf__free(btf);
  return fd < 0 ? -err : static_cast<int>(fd);
}

// ---- programs ----

enum ProgKind : int {
  kLookupProg,
  kLookupPercpuProg,
  kUpdateProg,
  kDeleteProg,
  kAtomicAddProg,
  kProgKinds
};
const char* const kProgNames[kProgKinds] = {"prog_lookup", "prog_lookup_percpu",
                                            "prog_update", "prog_delete",
                                            "prog_atomic_add"};

// Sets `const volatile __u32` variables of the object's .rodata before
// load, found by name through the object's BTF. 0 or -errno.
int SetRodata(bpf_object* obj, bpf_map* map,
              const std::map<std::string, uint32_t>& values) {
  const struct btf* btf = bpf_object__btf(obj);
  if (!btf) return -ENOENT;
  int sec = btf__find_by_name_kind(btf, ".rodata", BTF_KIND_DATASEC);
  if (sec < 0) return -ENOENT;
  const struct btf_type* t = btf__type_by_id(btf, sec);
  size_t size = 0;
  const void* data = bpf_map__initial_value(map, &size);
  if (!data) return -ENOENT;
  Bytes copy(static_cast<const uint8_t*>(data),
             static_cast<const uint8_t*>(data) + size);
  size_t found = 0;
  const struct btf_var_secinfo* vars = btf_var_secinfos(t);
  for (int i = 0; i < btf_vlen(t); ++i) {
    const struct btf_type* var = btf__type_by_id(btf, vars[i].type);
    auto it = values.find(btf__name_by_offset(btf, var->name_off));
    if (it == values.end()) continue;
    if (vars[i].size != sizeof(uint32_t) ||
        vars[i].offset + sizeof(uint32_t) > size) {
      return -EINVAL;
    }
    std::memcpy(copy.data() + vars[i].offset, &it->second, sizeof(uint32_t));
    ++found;
  }
  if (found != values.size()) return -ENOENT;
  return bpf_map__set_initial_value(map, copy.data(), copy.size());
}

struct LoadedProgram {
  bool tried = false;
  int err = 0;  // the load's errno
  bpf_object* obj = nullptr;
  int fd = -1;  // owned by obj
};

}  // namespace

// One kernel map with its fds, scratch maps and loaded programs; cached per
// spec between sequences.
struct KernelMapHandle {
  MapSpec spec;
  Fd fd;     // the creation fd: its mode follows BPF_F_RDONLY / BPF_F_WRONLY
  Fd rw_fd;  // read-write fd by id (BPF_MAP_GET_FD_BY_ID, open_flags 0)
  Fd in_fd, out_fd;  // one-entry ARRAY scratch maps for program values
  std::array<LoadedProgram, kProgKinds> progs;
  // prog_atomic_add, one per offset (the offset is a load-time constant).
  std::map<uint32_t, LoadedProgram> atomic_by_offset;
  bool frozen = false;

  KernelMapHandle() = default;
  KernelMapHandle(const KernelMapHandle&) = delete;
  KernelMapHandle& operator=(const KernelMapHandle&) = delete;
  ~KernelMapHandle() { DropPrograms(); }
  void DropPrograms() {
    for (auto& p : progs) {
      if (p.obj) bpf_object__close(p.obj);
      p = LoadedProgram{};
    }
    for (auto& [offset, p] : atomic_by_offset) {
      if (p.obj) bpf_object__close(p.obj);
    }
    atomic_by_offset.clear();
  }
};

class KernelPool {
 public:
  explicit KernelPool(size_t capacity) : capacity_(capacity) {}
  ~KernelPool() { Drop(); }

  std::unique_ptr<KernelMapHandle> Take(const MapSpec& spec) {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto it = idle_.begin(); it != idle_.end(); ++it) {
      if ((*it)->spec == spec) {
        auto h = std::move(*it);
        idle_.erase(it);
        return h;
      }
    }
    return nullptr;
  }
  void Give(std::unique_ptr<KernelMapHandle> h) {
    if (h->frozen) return;  // cannot be reset: destroyed here
    std::unique_ptr<KernelMapHandle> evicted;
    std::lock_guard<std::mutex> lock(mu_);
    idle_.push_front(std::move(h));
    if (idle_.size() > capacity_) {
      evicted = std::move(idle_.back());
      idle_.pop_back();
    }
  }
  void Drop() {
    std::list<std::unique_ptr<KernelMapHandle>> gone;
    std::lock_guard<std::mutex> lock(mu_);
    gone.swap(idle_);
  }
  KernelStats stats() {
    std::lock_guard<std::mutex> lock(mu_);
    return stats_;
  }
  template <typename F>
  void Count(F f) {
    std::lock_guard<std::mutex> lock(mu_);
    f(stats_);
  }

 private:
  std::mutex mu_;
  size_t capacity_;
  std::list<std::unique_ptr<KernelMapHandle>> idle_;
  KernelStats stats_;
};

namespace {

// BPF_F_MMAPABLE arrays can be mapped, unless the kernel found a
// bpf_spin_lock in their values (bpf_map_mmap refuses maps with special
// fields). Whether it found one depends on the release (before 6.2 a
// misaligned lock is no lock: core/kernel_profile.h), so for a spec with a
// lock the region is looked for by mapping it.
bool MayHaveDataRegion(const MapSpec& spec) {
  return spec.map_flags & core::kBpfFMmapable;
}
uint64_t MmapRegionSize(const MapSpec& spec, const core::Environment& env) {
  uint64_t bytes = core::ElemSize(spec) * spec.max_entries;
  return (bytes + env.page_size - 1) / env.page_size * env.page_size;
}

long RawMmap(uint64_t length, uint32_t prot, bool shared, int fd,
             uint64_t offset) {
  return syscall(SYS_mmap, nullptr, length, prot,
                 shared ? MAP_SHARED : MAP_PRIVATE, fd, offset);
}

// Whether the running kernel takes BPF_F_CPU / BPF_F_ALL_CPUS (7.0+), by
// its release: then those flags make a per-key buffer value_size bytes
// (bpf_map_value_size). The kernel is the authority, so this is the
// release's own profile, never a forced one.
bool RunningKernelHasCpuFlags() {
  static const bool has = core::KernelProfileForRelease(
                              core::HostEnvironment().kernel_release)
                              .percpu_cpu_flags;
  return has;
}

// The per-key value buffer the kernel reads or writes for element flags
// `flags`, and (Room) what is allocated per key: never less than the whole
// per-CPU buffer, so that a wrong guess of the release's rule shows as a
// divergence, never as a kernel write past the buffer.
uint64_t KeyValueSize(const MapSpec& spec, const core::Environment& env,
                      uint64_t flags) {
  return core::SyscallValueSize(spec, env, flags, RunningKernelHasCpuFlags());
}
uint64_t KeyRoom(const MapSpec& spec, const core::Environment& env) {
  return core::SyscallValueSize(spec, env);
}

// BPF_MAP_LOOKUP_BATCH-style call with buffers sized for at most `count`
// elements (never more than max_entries can be copied); values are packed
// KeyValueSize(elem_flags) apart.
struct BatchBuffers {
  std::vector<uint32_t> keys;
  Bytes values;
  uint32_t out_batch = 0xffffffff;  // sentinel: the kernel did not write it
};

Result BatchLookupLike(int cmd, int fd, const MapSpec& spec,
                       const core::Environment& env,
                       std::optional<uint32_t> in_batch, uint32_t count,
                       uint64_t elem_flags, uint64_t flags) {
  uint64_t vs = KeyValueSize(spec, env, elem_flags);
  uint64_t room = std::min<uint64_t>(count, spec.max_entries);
  BatchBuffers b;
  b.keys.assign(std::max<uint64_t>(room, 1), 0);
  b.values.assign(std::max<uint64_t>(room, 1) * KeyRoom(spec, env), 0);
  uint32_t in = in_batch.value_or(0);
  union bpf_attr attr;
  std::memset(&attr, 0, sizeof attr);
  attr.batch.in_batch = in_batch ? Ptr(&in) : 0;
  attr.batch.out_batch = Ptr(&b.out_batch);
  attr.batch.keys = Ptr(b.keys.data());
  attr.batch.values = Ptr(b.values.data());
  attr.batch.count = count;
  attr.batch.map_fd = fd;
  attr.batch.elem_flags = elem_flags;
  attr.batch.flags = flags;
  Result r;
  r.err = BpfErr(cmd, &attr);
  r.count = attr.batch.count;
  if (b.out_batch != 0xffffffff) r.out_batch = b.out_batch;
  if (r.err == 0 || r.err == ENOENT) {
    uint64_t n = std::min<uint64_t>(attr.batch.count, room);
    r.keys.emplace(b.keys.begin(), b.keys.begin() + n);
    r.value.emplace(b.values.begin(), b.values.begin() + n * vs);
  }
  return r;
}

// The whole state through the read-write fd: one LOOKUP_BATCH (per-key
// lookups if that fails), and the data region through a read-only shared
// mapping for BPF_F_MMAPABLE (allowed on frozen maps too).
core::MapState ReadHandleState(const KernelMapHandle& h,
                               const core::Environment& env) {
  core::MapState state;
  const MapSpec& spec = h.spec;
  uint64_t vs = core::SyscallValueSize(spec, env);
  Result all = BatchLookupLike(BPF_MAP_LOOKUP_BATCH, h.rw_fd.get(), spec, env,
                               std::nullopt, spec.max_entries, 0, 0);
  if ((all.err == 0 || all.err == ENOENT) && all.count == spec.max_entries) {
    state.values = std::move(*all.value);
  } else {
    state.values.assign(vs * spec.max_entries, 0);
    for (uint32_t key = 0; key < spec.max_entries; ++key) {
      union bpf_attr attr;
      std::memset(&attr, 0, sizeof attr);
      attr.map_fd = h.rw_fd.get();
      attr.key = Ptr(&key);
      attr.value = Ptr(state.values.data() + vs * key);
      if (int err = BpfErr(BPF_MAP_LOOKUP_ELEM, &attr)) {
        HarnessFail("reading the final state: " +
                    CallFailed("BPF_MAP_LOOKUP_ELEM", err) + " for key " +
                    std::to_string(key));
      }
    }
  }
  if (MayHaveDataRegion(spec)) {
    uint64_t size = MmapRegionSize(spec, env);
    long addr = RawMmap(size, PROT_READ, true, h.rw_fd.get(), 0);
    if (addr == -1 && (errno == ENOMEM || errno == EAGAIN)) {
      HarnessFail("reading the final state: " + CallFailed("mmap", errno) +
                  " mapping " + std::to_string(size) + " bytes");
    }
    if (addr != -1) {  // otherwise absent, which the comparison reports
      state.mmap_data.emplace(size, 0);
      std::memcpy(state.mmap_data->data(), reinterpret_cast<void*>(addr), size);
      munmap(reinterpret_cast<void*>(addr), size);
    }
  }
  return state;
}

// Writes zeros everywhere (batch update through the read-write fd, and the
// data region through a writable mapping), then reads everything back.
bool ResetAndVerify(const KernelMapHandle& h, const core::Environment& env) {
  if (h.frozen) return false;
  const MapSpec& spec = h.spec;
  uint64_t vs = core::SyscallValueSize(spec, env);
  std::vector<uint32_t> keys(spec.max_entries);
  for (uint32_t i = 0; i < spec.max_entries; ++i) keys[i] = i;
  Bytes zeros(vs * spec.max_entries, 0);
  union bpf_attr attr;
  std::memset(&attr, 0, sizeof attr);
  attr.batch.keys = Ptr(keys.data());
  attr.batch.values = Ptr(zeros.data());
  attr.batch.count = spec.max_entries;
  attr.batch.map_fd = h.rw_fd.get();
  if (BpfErr(BPF_MAP_UPDATE_BATCH, &attr) != 0 ||
      attr.batch.count != spec.max_entries) {
    return false;
  }
  if (MayHaveDataRegion(spec)) {
    uint64_t size = MmapRegionSize(spec, env);
    long addr = RawMmap(size, PROT_READ | PROT_WRITE, true, h.rw_fd.get(), 0);
    if (addr != -1) {
      std::memset(reinterpret_cast<void*>(addr), 0, size);
      munmap(reinterpret_cast<void*>(addr), size);
    } else if (!spec.spin_lock_offset) {
      return false;  // a lock map has no region; any other must map
    }
  }
  core::MapState state = ReadHandleState(h, env);
  if (state.values != zeros) return false;
  if (state.mmap_data) {
    for (uint8_t b : *state.mmap_data) {
      if (b) return false;
    }
  }
  return true;
}

// Pins the calling thread to one CPU for its lifetime, then restores the
// previous mask.
class CpuPin {
 public:
  explicit CpuPin(uint32_t cpu) {
    CPU_ZERO(&old_);
    if (sched_getaffinity(0, sizeof old_, &old_) != 0) {
      err_ = errno;
      return;
    }
    cpu_set_t set;
    CPU_ZERO(&set);
    if (cpu >= CPU_SETSIZE) {
      err_ = EINVAL;
      return;
    }
    CPU_SET(cpu, &set);
    if (sched_setaffinity(0, sizeof set, &set) != 0) {
      err_ = errno;
      return;
    }
    pinned_ = true;
  }
  ~CpuPin() {
    if (pinned_) sched_setaffinity(0, sizeof old_, &old_);
  }
  int err() const { return err_; }

 private:
  cpu_set_t old_;
  bool pinned_ = false;
  int err_ = 0;
};

class KernelMap : public core::MapInstance {
 public:
  KernelMap(std::unique_ptr<KernelMapHandle> h,
            std::shared_ptr<KernelPool> pool, const core::Environment& env)
      : h_(std::move(h)),
        pool_(std::move(pool)),
        env_(env),
        mappings_(env.page_size) {}

  ~KernelMap() override {
    for (uint32_t slot = 0; slot < core::kMappingSlots; ++slot) {
      core::MappingSlot was;
      if (mappings_.Remove(slot, &was) == 0) munmap(was.addr, was.length);
    }
    pool_->Give(std::move(h_));
  }

  // A harness error leaves the map in a state nobody checked (a program
  // half loaded, a read-back not done): it is destroyed, never cached.
  Result Execute(const core::Op& op) override {
    try {
      return std::visit([this](const auto& o) { return Do(o); }, op);
    } catch (...) {
      h_->frozen = true;
      throw;
    }
  }

  core::MapState ReadState() override {
    try {
      return ReadHandleState(*h_, env_);
    } catch (...) {
      h_->frozen = true;
      throw;
    }
  }

  // RawProgramFor: loads the program behind a program op.
  std::optional<RawProgram> Raw(const core::Op& op) {
    std::optional<ProgKind> kind;
    uint32_t offset = 0;
    if (std::holds_alternative<core::ProgLookup>(op)) kind = kLookupProg;
    if (std::holds_alternative<core::ProgLookupPercpu>(op)) {
      kind = kLookupPercpuProg;
    }
    if (std::holds_alternative<core::ProgUpdate>(op)) kind = kUpdateProg;
    if (std::holds_alternative<core::ProgDelete>(op)) kind = kDeleteProg;
    if (const auto* add = std::get_if<core::ProgAtomicAdd>(&op)) {
      kind = kAtomicAddProg;
      offset = add->offset;
    }
    if (!kind) return std::nullopt;
    const LoadedProgram& p = Load(*kind, offset);
    RawProgram raw;
    raw.err = p.err;
    raw.map_fd = h_->rw_fd.get();
    raw.in_fd = h_->in_fd.get();
    raw.prog_fd = p.err ? -1 : p.fd;
    return raw;
  }

 private:
  const MapSpec& spec() const { return h_->spec; }
  int fd() const { return h_->fd.get(); }
  uint64_t ValueSize(uint64_t flags) const {
    return KeyValueSize(spec(), env_, flags);
  }
  uint64_t Room() const { return KeyRoom(spec(), env_); }

  // ---- syscall side ----

  // BPF_MAP_LOOKUP_ELEM or BPF_MAP_LOOKUP_AND_DELETE_ELEM: the value on
  // success.
  Result CopyValueOut(int cmd, uint32_t key, uint64_t flags) {
    Bytes value(Room(), 0);
    union bpf_attr attr;
    std::memset(&attr, 0, sizeof attr);
    attr.map_fd = fd();
    attr.key = Ptr(&key);
    attr.value = Ptr(value.data());
    attr.flags = flags;
    Result r;
    r.err = BpfErr(cmd, &attr);
    if (r.err == 0) {
      // BPF_MAP_LOOKUP_AND_DELETE_ELEM keeps the per-CPU size (7.x checks
      // its flags against BPF_F_LOCK alone).
      value.resize(cmd == BPF_MAP_LOOKUP_ELEM ? ValueSize(flags) : Room());
      r.value = std::move(value);
    }
    return r;
  }

  Result Do(const core::Lookup& op) {
    return CopyValueOut(BPF_MAP_LOOKUP_ELEM, op.key, op.flags);
  }

  Result Do(const core::Update& op) {
    Bytes value = core::FitBuffer(op.value, ValueSize(op.flags));
    value.resize(std::max<uint64_t>(value.size(), Room()), 0);
    union bpf_attr attr;
    std::memset(&attr, 0, sizeof attr);
    attr.map_fd = fd();
    attr.key = Ptr(&op.key);
    attr.value = Ptr(value.data());
    attr.flags = op.flags;
    return Result::Errno(BpfErr(BPF_MAP_UPDATE_ELEM, &attr));
  }

  Result Do(const core::Delete& op) {
    union bpf_attr attr;
    std::memset(&attr, 0, sizeof attr);
    attr.map_fd = fd();
    attr.key = Ptr(&op.key);
    return Result::Errno(BpfErr(BPF_MAP_DELETE_ELEM, &attr));
  }

  Result Do(const core::LookupAndDelete& op) {
    return CopyValueOut(BPF_MAP_LOOKUP_AND_DELETE_ELEM, op.key, op.flags);
  }

  Result Do(const core::GetNextKey& op) {
    uint32_t key = op.key.value_or(0);
    uint32_t next = 0;
    union bpf_attr attr;
    std::memset(&attr, 0, sizeof attr);
    attr.map_fd = fd();
    attr.key = op.key ? Ptr(&key) : 0;
    attr.next_key = Ptr(&next);
    Result r;
    r.err = BpfErr(BPF_MAP_GET_NEXT_KEY, &attr);
    if (r.err == 0) r.next_key = next;
    return r;
  }

  Result Do(const core::LookupBatch& op) {
    return BatchLookupLike(BPF_MAP_LOOKUP_BATCH, fd(), spec(), env_,
                           op.in_batch, op.count, op.elem_flags, op.flags);
  }
  Result Do(const core::LookupAndDeleteBatch& op) {
    return BatchLookupLike(BPF_MAP_LOOKUP_AND_DELETE_BATCH, fd(), spec(), env_,
                           op.in_batch, op.count, op.elem_flags, op.flags);
  }

  Result Do(const core::UpdateBatch& op) {
    uint32_t count = static_cast<uint32_t>(op.keys.size());
    Bytes values = core::FitBuffer(op.values, ValueSize(op.elem_flags) * count);
    values.resize(std::max<uint64_t>(values.size(), Room() * count), 0);
    union bpf_attr attr;
    std::memset(&attr, 0, sizeof attr);
    attr.batch.keys = Ptr(op.keys.data());
    attr.batch.values = Ptr(values.data());
    attr.batch.count = count;
    attr.batch.map_fd = fd();
    attr.batch.elem_flags = op.elem_flags;
    attr.batch.flags = op.flags;
    Result r;
    r.err = BpfErr(BPF_MAP_UPDATE_BATCH, &attr);
    r.count = attr.batch.count;
    return r;
  }

  Result Do(const core::DeleteBatch& op) {
    union bpf_attr attr;
    std::memset(&attr, 0, sizeof attr);
    attr.batch.keys = Ptr(op.keys.data());
    attr.batch.count = static_cast<uint32_t>(op.keys.size());
    attr.batch.map_fd = fd();
    attr.batch.elem_flags = op.elem_flags;
    attr.batch.flags = op.flags;
    Result r;
    r.err = BpfErr(BPF_MAP_DELETE_BATCH, &attr);
    r.count = attr.batch.count;
    return r;
  }

  Result Do(const core::Freeze&) {
    union bpf_attr attr;
    std::memset(&attr, 0, sizeof attr);
    attr.map_fd = fd();
    int err = BpfErr(BPF_MAP_FREEZE, &attr);
    if (err == 0) {
      h_->frozen = true;
      // Freezing changes what the verifier accepts (a frozen
      // BPF_F_RDONLY_PROG map is read-only to programs, bpf_map_is_rdonly):
      // programs are loaded again for later ops, as a user would.
      h_->DropPrograms();
    }
    return Result::Errno(err);
  }

  // ---- mmap ----

  // Whether ENOMEM is not the answer for this length: it rounds to whole
  // pages without wrapping and stays below TASK_SIZE (x86_64: 2^47 minus a
  // page), the model's ENOMEM rules (model_backend.cc, Do(Mmap)); an
  // ENOMEM for such a length is this process's address space running out.
  bool MappableLength(const core::Mmap& op) const {
    const uint64_t page = env_.page_size;
    const uint64_t length = (op.length + page - 1) / page * page;
    return op.length != 0 && length >= op.length &&
           length <= (uint64_t{1} << 47) - page;
  }

  Result Do(const core::Mmap& op) {
    if (int err = mappings_.CheckFree(op.slot)) return Result::Errno(err);
    long addr = RawMmap(op.length, op.prot, op.shared, fd(), op.offset);
    if (addr == -1 && errno == ENOMEM && MappableLength(op)) {
      HarnessFail(CallFailed("mmap", ENOMEM) + " for " +
                  std::to_string(op.length) + " bytes, a length the kernel "
                  "maps given the address space");
    }
    if (addr == -1) return Result::Errno(errno);
    mappings_.Put(op.slot, reinterpret_cast<uint8_t*>(addr), op.offset,
                  op.length, op.prot);
    return {};
  }

  Result Do(const core::MmapRead& op) {
    const core::MappingSlot* m = nullptr;
    int err = mappings_.Access(op.slot, op.offset, op.length, false, &m);
    if (err) return Result::Errno(err);
    Result r;
    r.value.emplace(m->addr + op.offset, m->addr + op.offset + op.length);
    return r;
  }

  Result Do(const core::MmapWrite& op) {
    const core::MappingSlot* m = nullptr;
    int err = mappings_.Access(op.slot, op.offset, op.bytes.size(), true, &m);
    if (err) return Result::Errno(err);
    if (!op.bytes.empty()) {
      std::memcpy(m->addr + op.offset, op.bytes.data(), op.bytes.size());
    }
    return {};
  }

  Result Do(const core::Munmap& op) {
    core::MappingSlot was;
    if (int err = mappings_.Remove(op.slot, &was)) return Result::Errno(err);
    if (munmap(was.addr, was.length) != 0) return Result::Errno(errno);
    return {};
  }

  // ---- program side ----

  // Creates the scratch maps and loads program `kind` against the map, once
  // (prog_atomic_add once per offset).
  const LoadedProgram& Load(ProgKind kind, uint32_t offset = 0) {
    LoadedProgram& p =
        kind == kAtomicAddProg ? h_->atomic_by_offset[offset] : h_->progs[kind];
    if (p.tried) return p;
    p.tried = true;
    // A harness error below leaves nothing loaded: not "tried" (and the map
    // is not cached: Execute).
    struct Untry {
      LoadedProgram& p;
      ~Untry() {
        if (std::uncaught_exceptions() > 0 && !p.obj) p.tried = false;
      }
    } untry{p};
    pool_->Count([](KernelStats& s) { ++s.programs_loaded; });
    for (Fd* scratch : {&h_->in_fd, &h_->out_fd}) {
      if (scratch->valid()) continue;
      MapSpec s;
      s.type = MapType::kArray;
      s.value_size = spec().value_size;
      s.max_entries = 1;
      int fd = CreateMap(s, KernelBackend::MapName());
      if (fd < 0 && (OutOfDescriptors(-fd) || -fd == ENOMEM)) {
        HarnessFail("a program op's scratch map: " +
                    CallFailed("BPF_MAP_CREATE", -fd));
      }
      if (fd < 0) {
        p.err = -fd;
        return p;
      }
      *scratch = Fd(fd);
    }
    const std::string object_name = KernelBackend::MapName();
    LIBBPF_OPTS(bpf_object_open_opts, opts, .object_name = object_name.c_str());
    bpf_object* obj =
        bpf_object__open_mem(kArrayOpsBpf, sizeof kArrayOpsBpf, &opts);
    if (!obj) {
      HarnessFail(CallFailed("bpf_object__open_mem (the embedded programs)",
                             errno ? errno : EINVAL));
    }
    bpf_map* map = nullptr;
    int err = 0;
    bpf_object__for_each_map(map, obj) {
      std::string name = bpf_map__name(map);
      if (name == "target") {
        err = bpf_map__reuse_fd(map, fd());
      } else if (name == "in") {
        err = bpf_map__reuse_fd(map, h_->in_fd.get());
      } else if (name == "out") {
        err = bpf_map__reuse_fd(map, h_->out_fd.get());
      } else if (name.size() >= 7 &&
                 name.compare(name.size() - 7, 7, ".rodata") == 0) {
        err = SetRodata(
            obj, map, {{"kValueSize", spec().value_size}, {"kOffset", offset}});
      }
      if (err) {
        // Reusing our fds (dup) or setting .rodata: the harness's part.
        const int e = -err;
        bpf_object__close(obj);
        HarnessFail(CallFailed(("preparing " + name + " of the embedded "
                                "programs").c_str(), e));
      }
    }
    bpf_program* prog = nullptr;
    bpf_program* wanted = nullptr;
    bpf_object__for_each_program(prog, obj) {
      bool is = std::strcmp(bpf_program__name(prog), kProgNames[kind]) == 0;
      bpf_program__set_autoload(prog, is);
      if (is) wanted = prog;
    }
    if (!wanted) {
      bpf_object__close(obj);
      HarnessFail(std::string("the embedded object has no program ") +
                  kProgNames[kind]);
    }
    err = bpf_object__load(obj);
    // ENOMEM: libbpf's own allocations and mappings (the .rodata map is
    // mapped) or the verifier's under this process's limits; our programs
    // are small, so the verifier never runs out on their account.
    if (err && (OutOfDescriptors(-err) || -err == ENOMEM)) {
      bpf_object__close(obj);
      HarnessFail(CallFailed("BPF_PROG_LOAD", -err));
    }
    if (err) {
      p.err = -err;
      bpf_object__close(obj);
      return p;
    }
    p.obj = obj;
    p.fd = bpf_program__fd(wanted);
    return p;
  }

  // The harness CPU rule, the load, then one BPF_PROG_TEST_RUN on `cpu`.
  // Returns 0 and fills `ctx`, or the errno that is the op's result.
  // Harness CPU rule (core/op.h): a CPU that is not online is EINVAL before
  // anything is loaded or pinned, as sched_setaffinity would answer for a
  // possible-but-offline CPU (checked on a 4-possible/2-online guest).
  int Run(ProgKind kind, uint32_t cpu, ProgContext* ctx) {
    if (cpu >= env_.Online()) return EINVAL;
    const LoadedProgram& p = Load(kind);
    if (p.err) return p.err;
    return RunLoaded(p, cpu, ctx);
  }
  int RunLoaded(const LoadedProgram& p, uint32_t cpu, ProgContext* ctx) {
    CpuPin pin(cpu);
    // The CPU is online (checked by the caller): not being allowed to run
    // on it (a cpuset, a seccomp policy) is the harness's problem.
    if (pin.err()) {
      HarnessFail("pinning to CPU " + std::to_string(cpu) + ": " +
                  CallFailed("sched_setaffinity", pin.err()));
    }
    union bpf_attr attr;
    std::memset(&attr, 0, sizeof attr);
    attr.test.prog_fd = p.fd;
    attr.test.ctx_in = Ptr(ctx);
    attr.test.ctx_size_in = sizeof *ctx;
    return BpfErr(BPF_PROG_TEST_RUN, &attr);
  }

  // Reads the `out` scratch map: the value the program copied.
  Bytes ReadOut() {
    Bytes value(spec().value_size, 0);
    uint32_t zero = 0;
    union bpf_attr attr;
    std::memset(&attr, 0, sizeof attr);
    attr.map_fd = h_->out_fd.get();
    attr.key = Ptr(&zero);
    attr.value = Ptr(value.data());
    if (int err = BpfErr(BPF_MAP_LOOKUP_ELEM, &attr)) {
      HarnessFail("reading a program's output: " +
                  CallFailed("BPF_MAP_LOOKUP_ELEM", err));
    }
    return value;
  }

  Result LookupResult(const ProgContext& ctx) {
    Result r;
    if (ctx.null) {
      r.null = true;
      return r;
    }
    if (ctx.ret != 0) return Result::Errno(static_cast<int>(-ctx.ret));
    r.value = ReadOut();
    r.aligned = ctx.addr % 8 == 0;
    return r;
  }

  Result Do(const core::ProgLookup& op) {
    ProgContext ctx;
    ctx.key = op.key;
    if (int err = Run(kLookupProg, op.cpu, &ctx)) return Result::Errno(err);
    return LookupResult(ctx);
  }

  Result Do(const core::ProgLookupPercpu& op) {
    ProgContext ctx;
    ctx.key = op.key;
    ctx.target_cpu = op.target_cpu;
    if (int err = Run(kLookupPercpuProg, op.cpu, &ctx)) {
      return Result::Errno(err);
    }
    return LookupResult(ctx);
  }

  Result Do(const core::ProgUpdate& op) {
    if (op.cpu >= env_.Online()) return Result::Errno(EINVAL);
    const LoadedProgram& p = Load(kUpdateProg);
    if (p.err) return Result::Errno(p.err);
    Bytes value = core::FitBuffer(op.value, spec().value_size);
    uint32_t zero = 0;
    union bpf_attr attr;
    std::memset(&attr, 0, sizeof attr);
    attr.map_fd = h_->in_fd.get();
    attr.key = Ptr(&zero);
    attr.value = Ptr(value.data());
    if (int err = BpfErr(BPF_MAP_UPDATE_ELEM, &attr)) {
      HarnessFail("writing a program's input: " +
                  CallFailed("BPF_MAP_UPDATE_ELEM", err));
    }
    ProgContext ctx;
    ctx.key = op.key;
    ctx.flags = op.flags;
    if (int err = RunLoaded(p, op.cpu, &ctx)) return Result::Errno(err);
    return Result::Errno(static_cast<int>(-ctx.ret));
  }

  Result Do(const core::ProgDelete& op) {
    ProgContext ctx;
    ctx.key = op.key;
    if (int err = Run(kDeleteProg, op.cpu, &ctx)) return Result::Errno(err);
    return Result::Errno(static_cast<int>(-ctx.ret));
  }

  // Harness convention (core/op.h): a misaligned or out-of-bounds offset is
  // EACCES without loading anything (the verifier refuses such an access
  // with EACCES before any other check of it). Otherwise a program with the
  // offset as a constant is loaded, and its refusal is the result.
  Result Do(const core::ProgAtomicAdd& op) {
    if (op.cpu >= env_.Online()) return Result::Errno(EINVAL);
    if (op.offset % 8 != 0 ||
        static_cast<uint64_t>(op.offset) + 8 > spec().value_size) {
      return Result::Errno(EACCES);
    }
    const LoadedProgram& p = Load(kAtomicAddProg, op.offset);
    if (p.err) return Result::Errno(p.err);
    ProgContext ctx;
    ctx.key = op.key;
    ctx.offset = op.offset;
    ctx.delta = op.delta;
    if (int err = RunLoaded(p, op.cpu, &ctx)) return Result::Errno(err);
    Result r;
    if (ctx.null) {
      r.null = true;
      return r;
    }
    if (ctx.ret != 0) return Result::Errno(static_cast<int>(-ctx.ret));
    r.old = ctx.old;
    return r;
  }

  std::unique_ptr<KernelMapHandle> h_;
  std::shared_ptr<KernelPool> pool_;
  core::Environment env_;
  core::MappingTable mappings_;
};

// Parses "6.18.44-..." into major, minor.
std::pair<int, int> ReleaseVersion(const std::string& release) {
  int major = 0, minor = 0;
  std::sscanf(release.c_str(), "%d.%d", &major, &minor);
  return {major, minor};
}

bool OlderThan(const std::string& release, int major, int minor) {
  auto [have_major, have_minor] = ReleaseVersion(release);
  return have_major != 0 &&
         (have_major < major || (have_major == major && have_minor < minor));
}

// A KernelMap over a fresh one-entry map of `type`, not cached; or null
// with `*err` set.
std::unique_ptr<KernelMap> ProbeMap(MapType type,
                                    const std::shared_ptr<KernelPool>& pool,
                                    int* err) {
  MapSpec spec;
  spec.type = type;
  spec.max_entries = 1;
  int fd = CreateMap(spec, KernelBackend::MapName());
  if (fd < 0) {
    *err = -fd;
    return nullptr;
  }
  auto h = std::make_unique<KernelMapHandle>();
  h->spec = spec;
  h->fd = Fd(fd);
  h->frozen = true;  // not cached
  return std::make_unique<KernelMap>(std::move(h), pool,
                                     core::HostEnvironment());
}

// Loads the embedded delete program against a one-entry ARRAY and runs it
// (it must answer the array delete's -EINVAL), then loads the
// bpf_map_lookup_percpu_elem program against a PERCPU_ARRAY. A load's
// refusal is recorded as a load error, never as the op's answer.
void ProbePrograms(ProbeFacts* f) {
  auto pool = std::make_shared<KernelPool>(0);
  int err = 0;
  std::unique_ptr<KernelMap> array = ProbeMap(MapType::kArray, pool, &err);
  if (!array) {
    f->prog_load_err = err;
    return;
  }
  core::Op del = core::ProgDelete{0, 0};
  std::optional<RawProgram> raw = array->Raw(del);
  f->prog_load_err = raw ? raw->err : EPROTO;
  if (f->prog_load_err) return;
  Result r = array->Execute(del);
  f->prog_run_err = r.err == EINVAL ? 0 : (r.err ? r.err : EPROTO);
  if (f->prog_run_err) return;
  std::unique_ptr<KernelMap> percpu =
      ProbeMap(MapType::kPercpuArray, pool, &err);
  if (!percpu) {
    f->lookup_percpu_load_err = err;
    return;
  }
  raw = percpu->Raw(core::ProgLookupPercpu{});
  f->lookup_percpu_load_err = raw ? raw->err : EPROTO;
}

// Before 5.11 a map's memory is charged to RLIMIT_MEMLOCK (bpf_map_charge_init
// in kernel/bpf/syscall.c: EPERM past the limit, 64 KiB by default before
// 5.16); memcg accounting replaced it ("bpf: Eliminate rlimit-based memory
// accounting for bpf maps", v5.11). Lifting the limit (root may) keeps the
// creation's answer the kernel's rules, not this process's limit, as libbpf
// does for the same reason.
void LiftMemlockLimit() {
  struct rlimit unlimited = {RLIM_INFINITY, RLIM_INFINITY};
  setrlimit(RLIMIT_MEMLOCK, &unlimited);
}

}  // namespace

std::string UnavailableReason(const ProbeFacts& f) {
  std::string kernel =
      "kernel " + (f.kernel_release.empty() ? std::string("(unknown release)")
                                            : f.kernel_release);
  if (f.create_err == ENOSYS) {
    return "the bpf() syscall is not available (ENOSYS): " + kernel +
           " was built without CONFIG_BPF_SYSCALL";
  }
  if (f.create_err == EPERM) {
    std::string out;
    if (!f.cap_bpf && !f.cap_sys_admin) {
      out = "no CAP_BPF (nor CAP_SYS_ADMIN): creating a map gave EPERM";
      if (f.unprivileged_bpf_disabled > 0) {
        out += ", and kernel.unprivileged_bpf_disabled=" +
               std::to_string(f.unprivileged_bpf_disabled) +
               " forbids bpf() without privileges";
      }
      return out + "; run as root or grant CAP_BPF";
    }
    return "creating a map gave EPERM despite CAP_BPF/CAP_SYS_ADMIN "
           "(an LSM or seccomp policy refuses bpf())";
  }
  if (f.create_err != 0) {
    return "creating a one-entry ARRAY map failed with " +
           core::ErrnoName(f.create_err) + " on " + kernel;
  }
  if (!f.harness_call_failed.empty()) {
    return "a command the kernel backend needs is refused: " +
           f.harness_call_failed;
  }
  return "";
}

std::string ProgramKindReason(const ProbeFacts& f, core::OpKind kind) {
  if (!core::IsProgramOp(kind)) return "";
  if (f.create_err != 0 || !f.harness_call_failed.empty()) {
    return UnavailableReason(f);
  }
  const std::string kernel =
      f.kernel_release.empty() ? std::string("this kernel")
                               : "Linux " + f.kernel_release;
  if (f.prog_load_err != 0) {
    if (OlderThan(f.kernel_release, 5, 14)) {
      return "needs Linux 5.14 for BPF_PROG_TYPE_SYSCALL programs run with "
             "BPF_PROG_TEST_RUN (" + kernel + " refused the load with " +
             core::ErrnoName(f.prog_load_err) + ")";
    }
    std::string out = "loading the embedded BPF_PROG_TYPE_SYSCALL program "
                      "failed with " + core::ErrnoName(f.prog_load_err) +
                      " on " + kernel;
    if (!f.cap_bpf && !f.cap_sys_admin) out += " (no CAP_BPF)";
    return out;
  }
  if (f.prog_run_err != 0) {
    return "the embedded BPF_PROG_TYPE_SYSCALL program loads but running it "
           "with BPF_PROG_TEST_RUN gave " + core::ErrnoName(f.prog_run_err) +
           " on " + kernel;
  }
  if (kind == core::OpKind::kProgLookupPercpu &&
      f.lookup_percpu_load_err != 0) {
    if (OlderThan(f.kernel_release, 5, 19)) {
      return "needs Linux 5.19 for bpf_map_lookup_percpu_elem (" + kernel +
             " refused the program with " +
             core::ErrnoName(f.lookup_percpu_load_err) + ")";
    }
    return "loading the bpf_map_lookup_percpu_elem program against a "
           "PERCPU_ARRAY failed with " +
           core::ErrnoName(f.lookup_percpu_load_err) + " on " + kernel;
  }
  return "";
}

// Runs, on a two-entry map of each type (the ARRAY mappable), every command
// the backend needs besides creation and programs: BPF_OBJ_GET_INFO_BY_FD,
// BPF_MAP_GET_FD_BY_ID (CAP_SYS_ADMIN), BPF_MAP_UPDATE_BATCH and
// BPF_MAP_LOOKUP_BATCH on the read-write fd, and a shared read-only mmap of
// the ARRAY's data region. "" when all work, else the first that failed,
// with the capability it needs.
std::string ProbeHarnessCalls(const ProbeFacts& f) {
  for (MapType type : {MapType::kArray, MapType::kPercpuArray}) {
    MapSpec spec;
    spec.type = type;
    spec.max_entries = 2;
    if (type == MapType::kArray) spec.map_flags = core::kBpfFMmapable;
    const std::string what = type == MapType::kArray
                                 ? "a mappable ARRAY map"
                                 : "a PERCPU_ARRAY map";
    int raw_fd = CreateMap(spec, KernelBackend::MapName());
    if (raw_fd < 0) {
      return "creating " + what + ": " + CallFailed("BPF_MAP_CREATE", -raw_fd);
    }
    Fd fd(raw_fd);
    struct bpf_map_info info;
    std::memset(&info, 0, sizeof info);
    union bpf_attr attr;
    std::memset(&attr, 0, sizeof attr);
    attr.info.bpf_fd = fd.get();
    attr.info.info_len = sizeof info;
    attr.info.info = Ptr(&info);
    if (int err = BpfErr(BPF_OBJ_GET_INFO_BY_FD, &attr)) {
      return "on " + what + ": " + CallFailed("BPF_OBJ_GET_INFO_BY_FD", err);
    }
    std::memset(&attr, 0, sizeof attr);
    attr.map_id = info.id;
    long rw = Bpf(BPF_MAP_GET_FD_BY_ID, &attr);
    if (rw < 0) {
      const int err = errno;
      std::string out = "on " + what + ": " +
                        CallFailed("BPF_MAP_GET_FD_BY_ID", err) +
                        "; the kernel backend reads every map back through "
                        "it";
      if (err == EPERM && !f.cap_sys_admin) {
        out += " (this process has " +
               std::string(f.cap_bpf ? "CAP_BPF but not CAP_SYS_ADMIN"
                                     : "neither CAP_BPF nor CAP_SYS_ADMIN") +
               ")";
      }
      return out;
    }
    Fd rw_fd(static_cast<int>(rw));
    const core::Environment env = core::HostEnvironment();
    const uint64_t vs = core::SyscallValueSize(spec, env);
    std::vector<uint32_t> keys = {0, 1};
    Bytes values(vs * 2, 0);
    std::memset(&attr, 0, sizeof attr);
    attr.batch.keys = Ptr(keys.data());
    attr.batch.values = Ptr(values.data());
    attr.batch.count = 2;
    attr.batch.map_fd = rw_fd.get();
    // A kernel without batch ops for the type (PERCPU_ARRAY before 5.13:
    // ENOTSUPP) answers so for every map: the ops' results say it, and the
    // state is read back key by key instead, which must then work.
    constexpr int kEnotsupp = 524;
    auto no_batch = [](int err) { return err == kEnotsupp || err == EINVAL; };
    if (int err = BpfErr(BPF_MAP_UPDATE_BATCH, &attr); err && !no_batch(err)) {
      return "on " + what + ": " + CallFailed("BPF_MAP_UPDATE_BATCH", err);
    }
    Result all = BatchLookupLike(BPF_MAP_LOOKUP_BATCH, rw_fd.get(), spec,
                                 env, std::nullopt, 2, 0, 0);
    if (all.err != 0 && all.err != ENOENT && !no_batch(all.err)) {
      return "on " + what + ": " + CallFailed("BPF_MAP_LOOKUP_BATCH", all.err);
    }
    uint32_t key = 1;
    std::memset(&attr, 0, sizeof attr);
    attr.map_fd = rw_fd.get();
    attr.key = Ptr(&key);
    attr.value = Ptr(values.data());
    if (int err = BpfErr(BPF_MAP_LOOKUP_ELEM, &attr)) {
      return "on " + what + ": " + CallFailed("BPF_MAP_LOOKUP_ELEM", err);
    }
    if (type == MapType::kArray) {
      uint64_t size = MmapRegionSize(spec, env);
      long addr = RawMmap(size, PROT_READ, true, rw_fd.get(), 0);
      if (addr == -1) {
        return "on " + what + ": " + CallFailed("mmap", errno);
      }
      munmap(reinterpret_cast<void*>(addr), size);
    }
  }
  return "";
}

ProbeFacts GatherProbeFacts() {
  ProbeFacts f;
  f.kernel_release = core::HostEnvironment().kernel_release;
  struct __user_cap_header_struct header = {_LINUX_CAPABILITY_VERSION_3, 0};
  struct __user_cap_data_struct data[2] = {};
  if (syscall(SYS_capget, &header, data) == 0) {
    auto has = [&](int cap) {
      return (data[cap / 32].effective >> (cap % 32)) & 1;
    };
    f.cap_sys_admin = has(21);  // CAP_SYS_ADMIN
    f.cap_bpf = has(39);        // CAP_BPF
  }
  std::ifstream sysctl("/proc/sys/kernel/unprivileged_bpf_disabled");
  if (!(sysctl >> f.unprivileged_bpf_disabled))
    f.unprivileged_bpf_disabled = -1;
  LiftMemlockLimit();
  MapSpec spec;
  spec.max_entries = 1;
  int fd = CreateMap(spec, KernelBackend::MapName());
  if (fd < 0) {
    f.create_err = -fd;
    return f;
  }
  close(fd);
  f.harness_call_failed = ProbeHarnessCalls(f);
  if (!f.harness_call_failed.empty()) return f;
  ProbePrograms(&f);
  return f;
}

std::string SpinLockMissing(int map_fd, const MapSpec& spec) {
  struct bpf_map_info info;
  std::memset(&info, 0, sizeof info);
  union bpf_attr attr;
  std::memset(&attr, 0, sizeof attr);
  attr.info.bpf_fd = map_fd;
  attr.info.info_len = sizeof info;
  attr.info.info = Ptr(&info);
  if (int err = BpfErr(BPF_OBJ_GET_INFO_BY_FD, &attr)) {
    return "BPF_OBJ_GET_INFO_BY_FD gave " + core::ErrnoName(err);
  }
  if (info.btf_id == 0 || info.btf_value_type_id == 0) {
    return "no BTF (btf_id=" + std::to_string(info.btf_id) +
           " btf_value_type_id=" + std::to_string(info.btf_value_type_id) +
           ")";
  }
  // Only a well-formed lock must be one (before 6.2 a misaligned one is
  // accepted and ignored: the kernel's answer).
  const uint64_t off = spec.spin_lock_offset.value_or(0);
  if (off % 4 != 0 || off + 4 > spec.value_size) return "";
  // Syscall value buffer: PERCPU maps cannot hold a lock, so value_size.
  Bytes value(info.value_size, 0);
  uint32_t key = 0;
  std::memset(&attr, 0, sizeof attr);
  attr.map_fd = map_fd;
  attr.key = Ptr(&key);
  attr.value = Ptr(value.data());
  attr.flags = BPF_F_LOCK;
  if (int err = BpfErr(BPF_MAP_LOOKUP_ELEM, &attr)) {
    return "a BPF_F_LOCK lookup of key 0 gave " + core::ErrnoName(err);
  }
  return "";
}

KernelBackend::KernelBackend(size_t cache_capacity)
    : env_(core::HostEnvironment()),
      pool_(std::make_shared<KernelPool>(cache_capacity)) {
  libbpf_set_print(QuietPrint);
  LiftMemlockLimit();
  std::string error;
  // A malformed value is refused by the CLI before any backend is made;
  // elsewhere (tests, fuzzers) it keeps the default.
  map_limit_ = KernelMapLimitFromEnvironment(&error).value_or(
      kDefaultKernelMapLimit);
}

uint64_t KernelMapBytes(const MapSpec& spec, uint32_t possible_cpus) {
  const unsigned __int128 elem = (uint64_t{spec.value_size} + 7) / 8 * 8;
  unsigned __int128 bytes = elem * spec.max_entries;
  if (spec.type == MapType::kPercpuArray) bytes *= possible_cpus;
  return bytes > UINT64_MAX ? UINT64_MAX : static_cast<uint64_t>(bytes);
}

std::optional<uint64_t> ParseByteCount(const std::string& text) {
  if (text.empty() || text.size() > 20) return std::nullopt;
  size_t digits = 0;
  while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') {
    ++digits;
  }
  if (digits == 0) return std::nullopt;
  unsigned shift = 0;
  const std::string suffix = text.substr(digits);
  if (suffix == "K" || suffix == "k") shift = 10;
  else if (suffix == "M" || suffix == "m") shift = 20;
  else if (suffix == "G" || suffix == "g") shift = 30;
  else if (!suffix.empty()) return std::nullopt;
  const unsigned long long n = std::strtoull(text.substr(0, digits).c_str(),
                                             nullptr, 10);
  if (digits > 19 || n > (UINT64_MAX >> shift)) return std::nullopt;
  return static_cast<uint64_t>(n) << shift;
}

std::optional<uint64_t> KernelMapLimitFromEnvironment(std::string* error) {
  const char* value = std::getenv("AMC_KERNEL_MAP_LIMIT");
  if (!value || !*value) return kDefaultKernelMapLimit;
  std::optional<uint64_t> bytes = ParseByteCount(value);
  if (!bytes || *bytes == 0) {
    *error = std::string("bad kernel map limit '") + value +
             "': give bytes, more than 0, optionally with a K, M or G suffix";
    return std::nullopt;
  }
  return bytes;
}

namespace {
// "3 GiB", "64 MiB", "512 KiB", "100 bytes".
std::string ByteText(uint64_t bytes) {
  const char* units[] = {"bytes", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  size_t u = 0;
  double v = static_cast<double>(bytes);
  while (v >= 1024 && u + 1 < sizeof units / sizeof *units) {
    v /= 1024;
    ++u;
  }
  char buf[48];
  std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.4g %s", v, units[u]);
  return buf;
}
}  // namespace

std::string KernelBackend::SitsOut(const MapSpec& spec) {
  const uint64_t bytes = KernelMapBytes(spec, env_.possible_cpus);
  if (bytes <= map_limit_) return "";
  // array_map_alloc_check (kernel/bpf/arraymap.c) refuses these before
  // anything is allocated, whatever the size: the kernel answers at once.
  if (spec.max_entries == 0 || spec.key_size != 4 || spec.value_size == 0) {
    return "";
  }
  // Before 5.11, array_map_alloc refuses a map whose cost reaches
  // U32_MAX - PAGE_SIZE with E2BIG before allocating (the memlock charge).
  if (OlderThan(env_.kernel_release, 5, 11) &&
      bytes >= UINT32_MAX - uint64_t{env_.page_size}) {
    return "";
  }
  // An ARRAY's values are one vmalloc area, and vmalloc refuses at once a
  // size above the machine's RAM (mm/vmalloc.c, __vmalloc_node_range: "size
  // >> PAGE_SHIFT > totalram_pages()", on every release): ENOMEM with
  // nothing allocated. (A PERCPU_ARRAY allocates each element on its own,
  // so a huge one does hold the kernel.)
  if (spec.type == core::MapType::kArray) {
    struct sysinfo info {};
    if (sysinfo(&info) == 0 &&
        bytes / info.mem_unit > static_cast<uint64_t>(info.totalram)) {
      return "";
    }
  }
  // Every other check before the allocation does not depend on
  // max_entries: ask the kernel with one entry. A refusal there is the
  // checks' answer, which the real creation gives at once too.
  MapSpec one = spec;
  one.max_entries = 1;
  int fd = -1;
  try {
    fd = CreateMap(one, MapName());
  } catch (const core::HarnessError&) {
    return "";  // the real creation reports it (as a harness error)
  }
  if (fd < 0) return "";
  close(fd);
  return "sits out this map: the kernel would allocate " + ByteText(bytes) +
         " for it, above --kernel-map-limit " + ByteText(map_limit_) +
         " (kernel safety: a huge map can hold the kernel in allocation for "
         "minutes)";
}

KernelBackend::~KernelBackend() = default;

std::string KernelBackend::MapName() {
  // "amc" + the pid in base 36: at most 8 characters, so that libbpf's
  // internal maps of our programs ("<object name>.rodata", 15 characters at
  // most) keep the whole prefix.
  std::string digits;
  for (unsigned long pid = static_cast<unsigned long>(getpid()); pid != 0;
       pid /= 36) {
    digits.insert(digits.begin(),
                  "0123456789abcdefghijklmnopqrstuvwxyz"[pid % 36]);
  }
  return "amc" + digits;
}

const ProbeFacts& KernelBackend::Facts() const {
  std::call_once(facts_once_, [this] { facts_ = GatherProbeFacts(); });
  return facts_;
}

core::Availability KernelBackend::Probe() {
  std::string reason = UnavailableReason(Facts());
  // The op language numbers online CPUs 0..online-1 (core/map_spec.h); a
  // hole in this machine's online list would make a program op on an
  // offline CPU look like a kernel answer.
  if (reason.empty() && !core::HostOnlineIsPrefix()) {
    reason = "the online CPUs (/sys/devices/system/cpu/online) are not 0..N-1";
  }
  return core::Availability{reason.empty(), reason};
}

std::string KernelBackend::UnsupportedReason(core::OpKind kind) const {
  if (!core::IsProgramOp(kind)) return "";
  return ProgramKindReason(Facts(), kind);
}

core::CreateResult KernelBackend::Create(const MapSpec& spec) {
  core::CreateResult out;
  // Never asked of the kernel: callers that do not check SitsOut first
  // (RunDifferential does) get a harness error, not a result.
  if (KernelMapBytes(spec, env_.possible_cpus) > map_limit_) {
    if (std::string why = SitsOut(spec); !why.empty()) {
      HarnessFail("not creating the map: the kernel backend " + why);
    }
  }
  if (auto h = pool_->Take(spec)) {
    if (ResetAndVerify(*h, env_)) {
      pool_->Count([](KernelStats& s) { ++s.maps_reused; });
      out.map = std::make_unique<KernelMap>(std::move(h), pool_, env_);
      return out;
    }
    pool_->Count([](KernelStats& s) { ++s.resets_failed; });
  }
  int fd = CreateMap(spec, MapName());
  if (fd < 0 && OutOfDescriptors(-fd)) {
    HarnessFail(CallFailed("BPF_MAP_CREATE", -fd));
  }
  if (fd < 0) {
    out.err = -fd;
    return out;
  }
  auto h = std::make_unique<KernelMapHandle>();
  h->spec = spec;
  h->fd = Fd(fd);
  // A read-write fd by id, whatever the creation fd's mode.
  struct bpf_map_info info;
  std::memset(&info, 0, sizeof info);
  union bpf_attr attr;
  std::memset(&attr, 0, sizeof attr);
  attr.info.bpf_fd = fd;
  attr.info.info_len = sizeof info;
  attr.info.info = Ptr(&info);
  // The map exists; failing to get a read-back fd for it is the harness's
  // failure (CAP_SYS_ADMIN missing, descriptors exhausted), never the
  // creation's answer.
  if (int err = BpfErr(BPF_OBJ_GET_INFO_BY_FD, &attr)) {
    HarnessFail(CallFailed("BPF_OBJ_GET_INFO_BY_FD", err));
  }
  std::memset(&attr, 0, sizeof attr);
  attr.map_id = info.id;
  attr.open_flags = 0;
  long rw = Bpf(BPF_MAP_GET_FD_BY_ID, &attr);
  if (rw < 0) HarnessFail(CallFailed("BPF_MAP_GET_FD_BY_ID", errno));
  h->rw_fd = Fd(static_cast<int>(rw));
  // A spec with a lock must give a map with the lock: one created without
  // its BTF (as libbpf's retry would) answers BPF_F_LOCK with EINVAL, and
  // every later difference would be blamed on the semantics.
  if (spec.spin_lock_offset) {
    std::string missing = SpinLockMissing(h->rw_fd.get(), spec);
    if (!missing.empty()) {
      pool_->Count([](KernelStats& s) { ++s.lock_checks_failed; });
      HarnessFail("the map made for a spec with a bpf_spin_lock at offset " +
                  std::to_string(*spec.spin_lock_offset) + " has no lock: " +
                  missing);
    }
  }
  pool_->Count([](KernelStats& s) { ++s.maps_created; });
  out.map = std::make_unique<KernelMap>(std::move(h), pool_, env_);
  return out;
}

void KernelBackend::DropCache() { pool_->Drop(); }

std::optional<RawProgram> RawProgramFor(core::MapInstance* map,
                                        const core::Op& op) {
  auto* kernel_map = dynamic_cast<KernelMap*>(map);
  if (!kernel_map) return std::nullopt;
  return kernel_map->Raw(op);
}

KernelStats KernelBackend::Stats() const { return pool_->stats(); }

}  // namespace amc::oracle_kernel
