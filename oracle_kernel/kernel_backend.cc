// oracle_kernel/kernel_backend.cc: KernelBackend itself: the probe's facts
// once, creating a sequence's map (a verified cached one or a fresh one with
// its read-write fd and lock check), the cache and its counters. The parts:
// kernel_calls (raw calls, fds, harness errors, map creation), kernel_map
// (the MapInstance, the pool, read-back and reset), kernel_probe (the
// availability probe), kernel_safety (the per-map memory bound).
#include "oracle_kernel/kernel_backend.h"

#include <bpf/libbpf.h>
#include <linux/bpf.h>
#include <unistd.h>

#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "core/harness_error.h"
#include "oracle_kernel/kernel_calls.h"
#include "oracle_kernel/kernel_map.h"

namespace amc::oracle_kernel {
namespace {

using core::MapSpec;
using internal::Bpf;
using internal::BpfErr;
using internal::CallFailed;
using internal::CreateMap;
using internal::Fd;
using internal::HarnessFail;
using internal::KernelMapHandle;
using internal::KernelPool;
using internal::LiftMemlockLimit;
using internal::NewKernelMap;
using internal::OutOfDescriptors;
using internal::Ptr;
using internal::ResetAndVerify;

int QuietPrint(enum libbpf_print_level level, const char* format,
               va_list args) {
  static const bool debug = std::getenv("AMC_KERNEL_DEBUG") != nullptr;
  if (!debug || level == LIBBPF_DEBUG) return 0;
  return vfprintf(stderr, format, args);
}

}  // namespace

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
  std::call_once(facts_once_, [this] {
    facts_ = GatherProbeFacts();
    pool_->SetOnCpu(facts_.on_cpu_err == 0);
  });
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
  Facts();  // which program face to use (ProbeFacts::on_cpu_err)
  if (auto h = pool_->Take(spec)) {
    if (ResetAndVerify(*h, env_)) {
      pool_->Count([](KernelStats& s) { ++s.maps_reused; });
      out.map = NewKernelMap(std::move(h), pool_, env_);
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
  // A read-write fd by id where the creation fd's mode is not read-write.
  if (spec.map_flags & (core::kBpfFRdonly | core::kBpfFWronly)) {
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
  }
  // A spec with a lock must give a map with the lock: one created without
  // its BTF (as libbpf's retry would) answers BPF_F_LOCK with EINVAL, and
  // every later difference would be blamed on the semantics.
  if (spec.spin_lock_offset) {
    std::string missing = SpinLockMissing(h->rw(), spec);
    if (!missing.empty()) {
      pool_->Count([](KernelStats& s) { ++s.lock_checks_failed; });
      HarnessFail("the map made for a spec with a bpf_spin_lock at offset " +
                  std::to_string(*spec.spin_lock_offset) + " has no lock: " +
                  missing);
    }
  }
  pool_->Count([](KernelStats& s) { ++s.maps_created; });
  out.map = NewKernelMap(std::move(h), pool_, env_);
  return out;
}

void KernelBackend::DropCache() { pool_->Drop(); }

KernelStats KernelBackend::Stats() const { return pool_->stats(); }

}  // namespace amc::oracle_kernel
