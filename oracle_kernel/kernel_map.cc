// oracle_kernel/kernel_map.cc: one MapInstance per sequence on a real
// kernel map (syscall ops through raw bpf(), mmap ops through the raw mmap,
// program ops through the embedded programs on the op's CPU), the state
// read-back and the verified reset of a cached map.
#include "oracle_kernel/kernel_map.h"

#include <linux/bpf.h>
#include <sched.h>
#include <sys/mman.h>

#include <cerrno>
#include <cstring>
#include <exception>

#include "core/harness_error.h"
#include "core/kernel_profile.h"
#include "core/mapping_table.h"

namespace amc::oracle_kernel::internal {
namespace {

using core::Bytes;
using core::MapSpec;
using core::MapType;
using core::Result;

// BPF_F_MMAPABLE arrays can be mapped, unless the kernel found a
// bpf_spin_lock in their values (bpf_map_mmap refuses maps with special
// fields). Whether it found one depends on the release (before 6.2 a
// misaligned lock is no lock: core/kernel_profile.h), so for a spec with a
// lock the region is looked for by mapping it.
bool MayHaveDataRegion(const MapSpec& spec) {
  return spec.map_flags & core::kBpfFMmapable;
}

}  // namespace

uint64_t MmapRegionSize(const MapSpec& spec, const core::Environment& env) {
  uint64_t bytes = core::ElemSize(spec) * spec.max_entries;
  return (bytes + env.page_size - 1) / env.page_size * env.page_size;
}

namespace {

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

}  // namespace

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
    b.keys.resize(n);
    b.values.resize(n * vs);  // values are packed vs apart: no copy
    r.keys = std::move(b.keys);
    r.value = std::move(b.values);
  }
  return r;
}

namespace {

// The whole state through the read-write fd: one LOOKUP_BATCH (per-key
// lookups if that fails), and the data region through a read-only shared
// mapping for BPF_F_MMAPABLE (allowed on frozen maps too).
core::MapState ReadHandleState(const KernelMapHandle& h,
                               const core::Environment& env) {
  core::MapState state;
  const MapSpec& spec = h.spec;
  uint64_t vs = core::SyscallValueSize(spec, env);
  Result all = BatchLookupLike(BPF_MAP_LOOKUP_BATCH, h.rw(), spec, env,
                               std::nullopt, spec.max_entries, 0, 0);
  if ((all.err == 0 || all.err == ENOENT) && all.count == spec.max_entries) {
    state.values = std::move(*all.value);
  } else {
    state.values.assign(vs * spec.max_entries, 0);
    for (uint32_t key = 0; key < spec.max_entries; ++key) {
      union bpf_attr attr;
      std::memset(&attr, 0, sizeof attr);
      attr.map_fd = h.rw();
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
    long addr = RawMmap(size, PROT_READ, true, h.rw(), 0);
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

}  // namespace

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
  attr.batch.map_fd = h.rw();
  if (BpfErr(BPF_MAP_UPDATE_BATCH, &attr) != 0 ||
      attr.batch.count != spec.max_entries) {
    return false;
  }
  if (MayHaveDataRegion(spec)) {
    uint64_t size = MmapRegionSize(spec, env);
    long addr = RawMmap(size, PROT_READ | PROT_WRITE, true, h.rw(), 0);
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

namespace {

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
    // Already allowed on that CPU alone (`taskset -c N` and an op on N):
    // nothing to change or restore.
    if (CPU_EQUAL(&set, &old_)) return;
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
    if (std::holds_alternative<core::ProgLookup>(op)) kind = ProgKind::kLookup;
    if (std::holds_alternative<core::ProgLookupPercpu>(op)) {
      kind = ProgKind::kLookupPercpu;
    }
    if (std::holds_alternative<core::ProgUpdate>(op)) kind = ProgKind::kUpdate;
    if (std::holds_alternative<core::ProgDelete>(op)) kind = ProgKind::kDelete;
    if (const auto* add = std::get_if<core::ProgAtomicAdd>(&op)) {
      kind = ProgKind::kAtomicAdd;
      offset = add->offset;
    }
    if (!kind) return std::nullopt;
    // Concurrency drivers run it themselves and read its context back:
    // the SYSCALL program.
    const LoadedProgram& p = LoadFace(*kind, ProgFace::kSyscall, offset);
    RawProgram raw;
    raw.err = p.err;
    raw.map_fd = h_->rw();
    raw.in_fd = h_->in_fd.get();
    raw.prog_fd = p.err ? -1 : p.fd.get();
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

  // The program behind a sequence's op: the kOnCpu program where this
  // backend runs them and the verifier takes it, else the SYSCALL program,
  // whose refusal is the op's answer.
  const LoadedProgram& Load(ProgKind kind, uint32_t offset = 0) {
    if (pool_->OnCpu() && !spec().spin_lock_offset) {
      const LoadedProgram& fast = LoadFace(kind, ProgFace::kOnCpu, offset);
      if (!fast.err) return fast;
    }
    return LoadFace(kind, ProgFace::kSyscall, offset);
  }

  // Creates the scratch maps and loads program `kind` against the map, once
  // (prog_atomic_add once per offset).
  const LoadedProgram& LoadFace(ProgKind kind, ProgFace face,
                                uint32_t offset = 0) {
    LoadedProgram& p =
        kind == ProgKind::kAtomicAdd
            ? h_->atomic_by_offset[{offset, Index(face)}]
            : h_->progs[Index(face)][Index(kind)];
    if (p.tried) return p;
    p.tried = true;
    p.face = face;
    // A harness error below leaves nothing loaded: not "tried" (and the map
    // is not cached: Execute).
    struct Untry {
      LoadedProgram& p;
      ~Untry() {
        if (std::uncaught_exceptions() > 0 && !p.fd.valid()) p.tried = false;
      }
    } untry{p};
    pool_->Count([](KernelStats& s) { ++s.programs_loaded; });
    if (!h_->in_fd.valid() && !h_->out_fd.valid()) {
      pool_->TakeScratch(spec().value_size, &h_->in_fd, &h_->out_fd);
    }
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
    ProgMaps maps;
    maps.target = fd();
    maps.in = h_->in_fd.get();
    maps.out = h_->out_fd.get();
    if (face == ProgFace::kOnCpu) {
      if (!h_->res) {
        int err = 0;
        h_->res = pool_->Res(&err);
        if (!h_->res) {
          HarnessFail("the program report map: " +
                      CallFailed("BPF_MAP_CREATE", err));
        }
      }
      maps.res = h_->res->get();
    }
    int fd = LoadProgram(kind, face, maps, spec().value_size, offset,
                         KernelBackend::MapName());
    // EMFILE / ENFILE / ENOMEM are this process's limits or the kernel's
    // memory, not the verifier's view of the map: our programs are small,
    // so the verifier never runs out on their account.
    if (fd < 0 && (OutOfDescriptors(-fd) || -fd == ENOMEM)) {
      HarnessFail(CallFailed("BPF_PROG_LOAD", -fd) + " loading " +
                  ProgName(kind));
    }
    if (fd < 0) {
      p.err = -fd;
      return p;
    }
    p.fd = Fd(fd);
    return p;
  }

  // The program for a lookup, update or delete: prog_multi when the
  // verifier accepts it (then each of its kinds' own programs would load),
  // else the kind's own program, whose refusal is the op's answer.
  // `ctx->op` is set for prog_multi.
  const LoadedProgram& LoadLookupUpdateDelete(ProgKind kind, ProgContext* ctx) {
    const LoadedProgram& multi = Load(ProgKind::kLookupUpdateDelete);
    if (multi.err) return Load(kind);
    ctx->op = kind == ProgKind::kUpdate   ? kMultiUpdate
              : kind == ProgKind::kDelete ? kMultiDelete
                                          : kMultiLookup;
    return multi;
  }

  // The harness CPU rule, the load, then one BPF_PROG_TEST_RUN on `cpu`.
  // Returns 0 and fills `ctx`, or the errno that is the op's result.
  // Harness CPU rule (core/op.h): a CPU that is not online is EINVAL before
  // anything is loaded or pinned, as sched_setaffinity would answer for a
  // possible-but-offline CPU (checked on a 4-possible/2-online guest).
  int Run(ProgKind kind, uint32_t cpu, ProgContext* ctx) {
    if (cpu >= env_.Online()) return EINVAL;
    const LoadedProgram& p = kind == ProgKind::kLookupPercpu
                                 ? Load(kind)
                                 : LoadLookupUpdateDelete(kind, ctx);
    if (p.err) return p.err;
    return RunLoaded(p, cpu, ctx);
  }
  int RunLoaded(const LoadedProgram& p, uint32_t cpu, ProgContext* ctx) {
    if (p.face == ProgFace::kOnCpu) return RunOnCpu(p, cpu, ctx);
    CpuPin pin(cpu);
    // The CPU is online (checked by the caller): not being allowed to run
    // on it (a cpuset, a seccomp policy) is the harness's problem.
    if (pin.err()) {
      HarnessFail("pinning to CPU " + std::to_string(cpu) + ": " +
                  CallFailed("sched_setaffinity", pin.err()));
    }
    union bpf_attr attr;
    std::memset(&attr, 0, sizeof attr);
    attr.test.prog_fd = p.fd.get();
    attr.test.ctx_in = Ptr(ctx);
    attr.test.ctx_size_in = sizeof *ctx;
    return BpfErr(BPF_PROG_TEST_RUN, &attr);
  }
  // The kernel runs it on `cpu`; its report is read back from `res` into
  // `ctx`, as a SYSCALL program would have written it.
  int RunOnCpu(const LoadedProgram& p, uint32_t cpu, ProgContext* ctx) {
    union bpf_attr attr;
    std::memset(&attr, 0, sizeof attr);
    attr.test.prog_fd = p.fd.get();
    attr.test.ctx_in = Ptr(ctx);
    attr.test.ctx_size_in = sizeof *ctx;
    attr.test.flags = BPF_F_TEST_RUN_ON_CPU;
    attr.test.cpu = cpu;
    if (int err = BpfErr(BPF_PROG_TEST_RUN, &attr)) return err;
    if (attr.test.retval != kReported) {
      HarnessFail(std::string("a program run on CPU ") + std::to_string(cpu) +
                  " did not report (returned " +
                  std::to_string(attr.test.retval) + ")");
    }
    ProgReport report;
    uint32_t zero = 0;
    std::memset(&attr, 0, sizeof attr);
    attr.map_fd = h_->res->get();
    attr.key = Ptr(&zero);
    attr.value = Ptr(&report);
    if (int err = BpfErr(BPF_MAP_LOOKUP_ELEM, &attr)) {
      HarnessFail("reading a program's report: " +
                  CallFailed("BPF_MAP_LOOKUP_ELEM", err));
    }
    ctx->ret = report.ret;
    ctx->null = report.null;
    ctx->addr = report.addr;
    ctx->old = report.old;
    return 0;
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
    if (int err = Run(ProgKind::kLookup, op.cpu, &ctx)) return Result::Errno(err);
    return LookupResult(ctx);
  }

  Result Do(const core::ProgLookupPercpu& op) {
    ProgContext ctx;
    ctx.key = op.key;
    ctx.target_cpu = op.target_cpu;
    if (int err = Run(ProgKind::kLookupPercpu, op.cpu, &ctx)) {
      return Result::Errno(err);
    }
    return LookupResult(ctx);
  }

  Result Do(const core::ProgUpdate& op) {
    if (op.cpu >= env_.Online()) return Result::Errno(EINVAL);
    ProgContext ctx;
    const LoadedProgram& p = LoadLookupUpdateDelete(ProgKind::kUpdate, &ctx);
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
    ctx.key = op.key;
    ctx.flags = op.flags;
    if (int err = RunLoaded(p, op.cpu, &ctx)) return Result::Errno(err);
    return Result::Errno(static_cast<int>(-ctx.ret));
  }

  Result Do(const core::ProgDelete& op) {
    ProgContext ctx;
    ctx.key = op.key;
    if (int err = Run(ProgKind::kDelete, op.cpu, &ctx)) return Result::Errno(err);
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
    const LoadedProgram& p = Load(ProgKind::kAtomicAdd, op.offset);
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

}  // namespace

std::unique_ptr<core::MapInstance> NewKernelMap(
    std::unique_ptr<KernelMapHandle> h, std::shared_ptr<KernelPool> pool,
    const core::Environment& env) {
  return std::make_unique<KernelMap>(std::move(h), std::move(pool), env);
}

}  // namespace amc::oracle_kernel::internal

namespace amc::oracle_kernel {

std::optional<RawProgram> RawProgramFor(core::MapInstance* map,
                                        const core::Op& op) {
  auto* kernel_map = dynamic_cast<internal::KernelMap*>(map);
  if (!kernel_map) return std::nullopt;
  return kernel_map->Raw(op);
}

}  // namespace amc::oracle_kernel
