// oracle_kernel/kernel_probe.cc: what the kernel backend can do on this
// machine: the facts gathered by trying (map creation, the commands the
// backend needs, the embedded programs and their on-CPU face), the reasons
// worded from them, and the check that a map made for a lock spec has it.
#include <linux/bpf.h>
#include <linux/capability.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>

#include "oracle_kernel/kernel_backend.h"
#include "oracle_kernel/kernel_calls.h"
#include "oracle_kernel/kernel_map.h"
#include "oracle_kernel/programs.h"

namespace amc::oracle_kernel {
namespace {

using core::Bytes;
using core::MapSpec;
using core::MapType;
using core::Result;
using internal::BatchLookupLike;
using internal::Bpf;
using internal::BpfErr;
using internal::CallFailed;
using internal::CreateMap;
using internal::Fd;
using internal::KernelMapHandle;
using internal::KernelPool;
using internal::LiftMemlockLimit;
using internal::MmapRegionSize;
using internal::NewKernelMap;
using internal::OlderThan;
using internal::Ptr;
using internal::RawMmap;

// A sequence's map (NewKernelMap) over a fresh one-entry map of `type`,
// not cached; or null with `*err` set.
std::unique_ptr<core::MapInstance> ProbeMap(
    MapType type, const std::shared_ptr<KernelPool>& pool, int* err) {
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
  return NewKernelMap(std::move(h), pool, core::HostEnvironment());
}

// Loads the kOnCpu delete program against a one-entry ARRAY and runs it on
// CPU 0 (online: Probe requires the online CPUs to be 0..N-1); 0 when it
// reported the array delete's EINVAL, else the errno that stopped it.
int ProbeOnCpu() {
  MapSpec spec;
  spec.max_entries = 1;
  int target = CreateMap(spec, KernelBackend::MapName());
  if (target < 0) return -target;
  Fd target_fd(target);
  spec.value_size = sizeof(ProgReport);
  int res = CreateMap(spec, KernelBackend::MapName());
  if (res < 0) return -res;
  Fd res_fd(res);
  ProgMaps maps;
  maps.target = target;
  maps.res = res;
  int prog = LoadProgram(ProgKind::kDelete, ProgFace::kOnCpu, maps, 8, 0,
                         KernelBackend::MapName());
  if (prog < 0) return -prog;
  Fd prog_fd(prog);
  ProgContext ctx;
  union bpf_attr attr;
  std::memset(&attr, 0, sizeof attr);
  attr.test.prog_fd = prog;
  attr.test.ctx_in = Ptr(&ctx);
  attr.test.ctx_size_in = sizeof ctx;
  attr.test.flags = BPF_F_TEST_RUN_ON_CPU;
  attr.test.cpu = 0;
  if (int err = BpfErr(BPF_PROG_TEST_RUN, &attr)) return err;
  if (attr.test.retval != kReported) return EPROTO;
  ProgReport report;
  uint32_t zero = 0;
  std::memset(&attr, 0, sizeof attr);
  attr.map_fd = res;
  attr.key = Ptr(&zero);
  attr.value = Ptr(&report);
  if (int err = BpfErr(BPF_MAP_LOOKUP_ELEM, &attr)) return err;
  return report.ret == -EINVAL ? 0 : EPROTO;
}

// Loads the embedded delete program against a one-entry ARRAY and runs it
// (it must answer the array delete's -EINVAL), then loads the
// bpf_map_lookup_percpu_elem program against a PERCPU_ARRAY. A load's
// refusal is recorded as a load error, never as the op's answer.
void ProbePrograms(ProbeFacts* f) {
  auto pool = std::make_shared<KernelPool>(0);
  int err = 0;
  std::unique_ptr<core::MapInstance> array =
      ProbeMap(MapType::kArray, pool, &err);
  if (!array) {
    f->prog_load_err = err;
    return;
  }
  core::Op del = core::ProgDelete{0, 0};
  std::optional<RawProgram> raw = RawProgramFor(array.get(), del);
  f->prog_load_err = raw ? raw->err : EPROTO;
  if (f->prog_load_err) return;
  Result r = array->Execute(del);
  f->prog_run_err = r.err == EINVAL ? 0 : (r.err ? r.err : EPROTO);
  if (f->prog_run_err) return;
  std::unique_ptr<core::MapInstance> percpu =
      ProbeMap(MapType::kPercpuArray, pool, &err);
  if (!percpu) {
    f->lookup_percpu_load_err = err;
    return;
  }
  raw = RawProgramFor(percpu.get(), core::ProgLookupPercpu{});
  f->lookup_percpu_load_err = raw ? raw->err : EPROTO;
  f->on_cpu_err = ProbeOnCpu();
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

}  // namespace amc::oracle_kernel
