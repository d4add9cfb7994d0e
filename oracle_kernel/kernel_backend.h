// oracle_kernel/kernel_backend.h: the real kernel as a backend. Every op of
// core/op.h runs on a real BPF_MAP_TYPE_ARRAY / PERCPU_ARRAY map:
//   - syscall ops through the raw bpf() syscall (so errnos and flag bits
//     reach the kernel untouched; libbpf 1.1.2 lacks BPF_F_CPU and some
//     wrappers check arguments themselves),
//   - mmap ops through the raw mmap syscall on the map fd and real munmap,
//   - program ops through small SEC("syscall") programs (progs/array_ops.bpf.c,
//     compiled at build time and embedded), loaded with libbpf against the
//     map and run with BPF_PROG_TEST_RUN on the op's CPU.
//
// Programs are loaded per map (lazily, one per op kind; prog_atomic_add one
// per offset, which is a load-time constant as in a real program): the
// verifier must see the real map's value_size and flags, and a refusal at
// load time (EACCES under BPF_F_RDONLY_PROG, EINVAL for
// bpf_map_lookup_percpu_elem on ARRAY) is the op's result. A load stands for
// "the op's program is loaded when the op runs": loads are cached only while
// nothing the verifier looks at changes, so a successful Freeze drops them.
// Program lookups copy the element through a helper
// (bpf_map_update_elem(&out, p)), so the verifier never folds a read of a
// frozen BPF_F_RDONLY_PROG map into constants for them. Program ops need
// CAP_PERFMON (root) since they report the element pointer for alignment.
//
// A map and its programs are cached per MapSpec and reused by later
// sequences after a verified reset (zeros written by batch update and the
// mapping, then the whole state read back); a frozen map, or one whose reset
// does not verify, is destroyed instead. What reuse saves is mostly the
// program loads (about a millisecond each): a verified reset costs about as
// much as creating the map afresh (bench/kernel_ops_bench BM_CreateReuse).
//
// A spec with a spin lock is created with BTF describing its value (a
// bpf_spin_lock at spin_lock_offset, char arrays around it), loaded with a
// raw BPF_BTF_LOAD first; that load's refusal is the creation's result.
//
// Invariant: every fd, mapping and program the backend opens is released by
// the MapInstance or by the backend's cache (DropCache, destructor); results
// carry errnos exactly as the kernel returned them, positive. A failure of
// the harness's own calls (its fds, its read-backs, its scratch maps, a
// capability it needs) is thrown as core::HarnessError, never returned as a
// result (kernel_backend.cc says which call's errnos are which).
#ifndef AMC_ORACLE_KERNEL_KERNEL_BACKEND_H_
#define AMC_ORACLE_KERNEL_KERNEL_BACKEND_H_

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "core/backend.h"

namespace amc::oracle_kernel {

// What Probe() found out about this machine, kept apart from the wording so
// that every reason can be tested.
struct ProbeFacts {
  // errno of creating a one-entry ARRAY map (0: created).
  int create_err = 0;
  // errno of LOADING the embedded SYSCALL program (prog_delete) against a
  // one-entry ARRAY (0: loaded). A refused load is never taken for a kernel
  // answer: the program op kinds are then unavailable (ProgramKindReason).
  int prog_load_err = 0;
  // Once loaded: the errno of running it (BPF_PROG_TEST_RUN), or EPROTO when
  // it ran but did not answer the array delete's -EINVAL (0: worked).
  int prog_run_err = 0;
  // errno of loading prog_lookup_percpu (bpf_map_lookup_percpu_elem, Linux
  // 5.19) against a PERCPU_ARRAY; probed only when the other program loads.
  int lookup_percpu_load_err = 0;
  // The first other command the backend needs that failed on a fresh map of
  // each type (get-info, get-fd-by-id, batch update and lookup, mmap), with
  // the capability it needs ("BPF_MAP_GET_FD_BY_ID gave EPERM (... needs
  // CAP_SYS_ADMIN)"); "" when all worked. Non-empty makes the backend
  // unavailable: without them every read-back would fail.
  std::string harness_call_failed;
  bool cap_bpf = false;        // effective CAP_BPF
  bool cap_sys_admin = false;  // effective CAP_SYS_ADMIN
  // /proc/sys/kernel/unprivileged_bpf_disabled, -1 when unreadable.
  int unprivileged_bpf_disabled = -1;
  std::string kernel_release;
};

// "" when the facts say the backend can run (it can create maps and run
// every command it needs on them), otherwise the precise reason (no CAP_BPF,
// kernel.unprivileged_bpf_disabled=N, BPF_MAP_GET_FD_BY_ID needs
// CAP_SYS_ADMIN, ...).
std::string UnavailableReason(const ProbeFacts& facts);

// "" when ops of `kind` can run here, otherwise why not. Only program ops
// can be missing on a kernel whose maps work: every prog_* kind when the
// SYSCALL program does not load or run (Linux before 5.14 has no
// BPF_PROG_TYPE_SYSCALL), prog_lookup_percpu alone when its helper is
// refused (bpf_map_lookup_percpu_elem came in 5.19). KernelBackend's
// Supports()/UnsupportedReason() answer from this, so `amc run` leaves the
// kinds out, `replay` skips files holding them and `record` refuses them.
std::string ProgramKindReason(const ProbeFacts& facts, core::OpKind kind);

// Gathers the facts on this machine.
ProbeFacts GatherProbeFacts();

// Counters, for tests and benchmarks.
struct KernelStats {
  uint64_t maps_created = 0;     // kernel maps created for sequences
  uint64_t maps_reused = 0;      // sequences served by a reset cached map
  uint64_t resets_failed = 0;    // resets that did not verify (map dropped)
  uint64_t programs_loaded = 0;  // program loads attempted (ok or refused)
  uint64_t lock_checks_failed = 0;  // maps created without their spin lock
};

// Why the map behind `map_fd` (a readable fd), created for `spec` (which
// has a spin_lock_offset), is not what the kernel makes of that spec; ""
// when it is. The map must carry the BTF the backend gave it
// (BPF_OBJ_GET_INFO_BY_FD: btf_id and btf_value_type_id set), and a
// well-formed lock (4-aligned, inside the value) must be a lock: a
// BPF_F_LOCK lookup of key 0 is accepted (the kernel answers EINVAL without
// one). A misaligned lock that the kernel accepted without making it a lock
// (Linux 6.1 does: core/kernel_profile.h) is the kernel's answer, not a
// harness error. KernelBackend::Create checks every map made for a spec
// with a lock this way: a map without its lock (as libbpf's silent retry
// without BTF would leave) is a harness error (reported on stderr, counted
// in KernelStats::lock_checks_failed, creation answered with EFAULT), never
// a silent pass. A refusal by the kernel (e.g. PERCPU_ARRAY with a lock:
// EOPNOTSUPP) stays the creation's result.
std::string SpinLockMissing(int map_fd, const core::MapSpec& spec);

// The kernel memory a map of `spec` asks for: value_size rounded up to 8,
// times max_entries, times the possible CPUs for PERCPU_ARRAY
// (array_map_alloc, bpf_array_alloc_percpu).
uint64_t KernelMapBytes(const core::MapSpec& spec, uint32_t possible_cpus);

// The default per-map bound (64 MiB), and the bound this process uses:
// AMC_KERNEL_MAP_LIMIT (bytes, or with a K, M or G suffix; set by
// `amc --kernel-map-limit`), else the default. nullopt with `error` set for
// a malformed value.
inline constexpr uint64_t kDefaultKernelMapLimit = uint64_t{64} << 20;
std::optional<uint64_t> KernelMapLimitFromEnvironment(std::string* error);
// Parses "67108864", "64M", "1G", "512K".
std::optional<uint64_t> ParseByteCount(const std::string& text);

class KernelPool;  // the cache of maps and programs (kernel_backend.cc)

class KernelBackend : public core::Backend {
 public:
  // `cache_capacity`: how many idle maps (with their programs) to keep.
  explicit KernelBackend(size_t cache_capacity = 8);
  ~KernelBackend() override;

  std::string Name() const override { return "kernel"; }
  core::Availability Probe() override;
  core::Environment Env() const override { return env_; }
  core::CreateResult Create(const core::MapSpec& spec) override;
  // From the probe's facts (gathered once, on the first call of Probe(),
  // Supports() or UnsupportedReason()): see ProgramKindReason.
  bool Supports(core::OpKind kind) const override {
    return UnsupportedReason(kind).empty();
  }
  std::string UnsupportedReason(core::OpKind kind) const override;
  // Kernel safety: a spec whose map would make the kernel allocate more
  // than the per-map bound (KernelMapLimit) is sat out with the reason,
  // unless the kernel refuses it before allocating (asked with the same
  // spec at one entry: a refusal there is checks, not memory, so the real
  // creation runs and answers promptly). Create() of such a spec throws
  // core::HarnessError instead of asking the kernel.
  std::string SitsOut(const core::MapSpec& spec) override;
  uint64_t KernelMapLimit() const { return map_limit_; }
  void SetKernelMapLimit(uint64_t bytes) { map_limit_ = bytes; }
  // The facts the backend's availability and op kinds come from.
  const ProbeFacts& Facts() const;

  // Closes every idle cached map and program now.
  void DropCache();
  KernelStats Stats() const;
  // The name given to every map this process creates ("amc" + the pid in
  // base 36; libbpf's internal maps of our programs are "<name>.rodata"), so
  // that tests can find leftovers with BPF_MAP_GET_NEXT_ID.
  static std::string MapName();

 private:
  core::Environment env_;
  uint64_t map_limit_ = kDefaultKernelMapLimit;
  std::shared_ptr<KernelPool> pool_;
  mutable std::once_flag facts_once_;
  mutable ProbeFacts facts_;
};

// For drivers that run program ops from several threads at once
// (concurrency/): the kernel objects behind a map this backend created.
// Every fd stays owned by the map instance. Not thread-safe: call it before
// the threads start; the fds themselves may then be used concurrently.
struct RawProgram {
  int err = 0;       // the program's load errno (then prog_fd is -1)
  int map_fd = -1;   // the map's read-write fd
  int in_fd = -1;    // the `in` scratch map prog_update reads its value from
  int prog_fd = -1;  // the program that runs ops of `op`'s kind (and offset)
};
// The context every embedded program takes: mirrors struct ctx in
// progs/array_ops.bpf.c (inputs, then what the program reports back).
struct ProgContext {
  uint64_t key = 0;
  uint64_t flags = 0;
  uint64_t target_cpu = 0;
  uint64_t offset = 0;
  uint64_t delta = 0;
  int64_t ret = 0;
  uint64_t null = 0;
  uint64_t addr = 0;
  uint64_t old = 0;
};
static_assert(sizeof(ProgContext) == 72, "struct ctx is nine u64");

// nullopt unless `map` came from a KernelBackend and `op` is a program op.
// The program takes a ProgContext.
std::optional<RawProgram> RawProgramFor(core::MapInstance* map,
                                        const core::Op& op);

}  // namespace amc::oracle_kernel

#endif  // AMC_ORACLE_KERNEL_KERNEL_BACKEND_H_
