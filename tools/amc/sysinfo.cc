// tools/amc/sysinfo.cc: privilege reading and raw bpf() feature probes.
#include "tools/amc/sysinfo.h"

#include <linux/bpf.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <sstream>
#include <vector>

#include "core/result.h"

namespace amc::cli {
namespace {

constexpr int kCapSysAdmin = 21;
constexpr int kCapPerfmon = 38;
constexpr int kCapBpf = 39;
// Helper and flag numbers kept here so the probe does not depend on the age
// of the installed uapi headers.
constexpr int32_t kHelperMapLookupPercpuElem = 195;
constexpr uint32_t kProgTypeSyscall = 31;
constexpr uint32_t kProgTypeSocketFilter = 1;
constexpr uint32_t kFSleepable = 1u << 4;
constexpr uint32_t kFMmapable = 1u << 10;
constexpr uint64_t kFCpu = 8;

// The bpf() syscall: returns the result, or -1 with errno set.
long Bpf(int cmd, union bpf_attr* attr) {
  return syscall(__NR_bpf, cmd, attr, sizeof(*attr));
}

// An fd closed on scope exit.
class Fd {
 public:
  explicit Fd(long fd = -1) : fd_(static_cast<int>(fd)) {}
  ~Fd() {
    if (fd_ >= 0) close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  bool ok() const { return fd_ >= 0; }

 private:
  int fd_;
};

std::string ErrName(int err) { return core::ErrnoName(err); }

// BPF_MAP_CREATE; -1 with errno on failure.
long CreateMap(uint32_t type, uint32_t value_size, uint32_t max_entries,
               uint32_t flags) {
  union bpf_attr attr;
  std::memset(&attr, 0, sizeof attr);
  attr.map_type = type;
  attr.key_size = 4;
  attr.value_size = value_size;
  attr.max_entries = max_entries;
  attr.map_flags = flags;
  return Bpf(BPF_MAP_CREATE, &attr);
}

bpf_insn Insn(uint8_t code, uint8_t dst, uint8_t src, int16_t off,
              int32_t imm) {
  bpf_insn insn;
  std::memset(&insn, 0, sizeof insn);
  insn.code = code;
  insn.dst_reg = dst;
  insn.src_reg = src;
  insn.off = off;
  insn.imm = imm;
  return insn;
}

// BPF_PROG_LOAD of `insns`; -1 with errno on failure.
long LoadProg(uint32_t type, uint32_t flags,
              const std::vector<bpf_insn>& insns) {
  static const char kLicense[] = "GPL";
  union bpf_attr attr;
  std::memset(&attr, 0, sizeof attr);
  attr.prog_type = type;
  attr.prog_flags = flags;
  attr.insns = reinterpret_cast<uintptr_t>(insns.data());
  attr.insn_cnt = static_cast<uint32_t>(insns.size());
  attr.license = reinterpret_cast<uintptr_t>(kLicense);
  return Bpf(BPF_PROG_LOAD, &attr);
}

// r0 = 0; exit.
std::vector<bpf_insn> ReturnZero() {
  return {Insn(BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, 0),
          Insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0)};
}

Feature ProbeMmapable() {
  Feature f{"mmapable arrays (BPF_F_MMAPABLE)", Feature::State::kUnknown, ""};
  Fd map(CreateMap(BPF_MAP_TYPE_ARRAY, 8, 1, kFMmapable));
  if (!map.ok()) {
    int err = errno;
    if (err == EINVAL) {
      f.state = Feature::State::kAbsent;
      f.detail = "BPF_MAP_CREATE with BPF_F_MMAPABLE: EINVAL";
    } else {
      f.detail = "cannot create a map: " + ErrName(err);
    }
    return f;
  }
  long page = sysconf(_SC_PAGESIZE);
  void* p = mmap(nullptr, static_cast<size_t>(page), PROT_READ | PROT_WRITE,
                 MAP_SHARED, map.get(), 0);
  if (p == MAP_FAILED) {
    f.state = Feature::State::kAbsent;
    f.detail = "created, but mmap failed: " + ErrName(errno);
    return f;
  }
  munmap(p, static_cast<size_t>(page));
  f.state = Feature::State::kPresent;
  f.detail = "created an ARRAY with BPF_F_MMAPABLE and mapped it";
  return f;
}

const char* TypeName(uint32_t type) {
  return type == BPF_MAP_TYPE_PERCPU_ARRAY ? "PERCPU_ARRAY" : "ARRAY";
}

Feature ProbeCreate(uint32_t type) {
  Feature f{std::string(TypeName(type)) + " maps", Feature::State::kUnknown,
            ""};
  Fd map(CreateMap(type, 8, 2, 0));
  if (map.ok()) {
    f.state = Feature::State::kPresent;
    f.detail = "created a two-entry map";
  } else if (errno == EINVAL) {
    f.state = Feature::State::kAbsent;
    f.detail = "BPF_MAP_CREATE: EINVAL";
  } else {
    f.detail = "BPF_MAP_CREATE: " + ErrName(errno);
  }
  return f;
}

// BPF_MAP_LOOKUP_BATCH and BPF_MAP_UPDATE_BATCH on a two-entry map of
// `type` (PERCPU_ARRAY has them since 5.13: ENOTSUPP before).
Feature ProbeBatch(uint32_t type) {
  Feature f{std::string("batch ops on ") + TypeName(type) +
                " (BPF_MAP_LOOKUP_BATCH, BPF_MAP_UPDATE_BATCH)",
            Feature::State::kUnknown, ""};
  Fd map(CreateMap(type, 8, 2, 0));
  if (!map.ok()) {
    f.detail = "cannot create a map: " + ErrName(errno);
    return f;
  }
  // Room for every possible CPU's slot (at most 4096 CPUs).
  uint32_t out_batch = 0, keys[2] = {0, 1};
  std::vector<uint64_t> values(2 * 4096);
  union bpf_attr attr;
  std::memset(&attr, 0, sizeof attr);
  attr.batch.map_fd = static_cast<uint32_t>(map.get());
  attr.batch.out_batch = reinterpret_cast<uintptr_t>(&out_batch);
  attr.batch.keys = reinterpret_cast<uintptr_t>(keys);
  attr.batch.values = reinterpret_cast<uintptr_t>(values.data());
  attr.batch.count = 2;
  long rc = Bpf(BPF_MAP_LOOKUP_BATCH, &attr);
  if (rc != 0 && errno != ENOENT) {
    f.state = Feature::State::kAbsent;
    f.detail = "BPF_MAP_LOOKUP_BATCH: " + ErrName(errno);
    return f;
  }
  uint32_t looked_up = attr.batch.count;
  std::memset(&attr, 0, sizeof attr);
  attr.batch.map_fd = static_cast<uint32_t>(map.get());
  attr.batch.keys = reinterpret_cast<uintptr_t>(keys);
  attr.batch.values = reinterpret_cast<uintptr_t>(values.data());
  attr.batch.count = 2;
  if (Bpf(BPF_MAP_UPDATE_BATCH, &attr) != 0) {
    f.state = Feature::State::kAbsent;
    f.detail = "lookup batch works, BPF_MAP_UPDATE_BATCH: " + ErrName(errno);
    return f;
  }
  f.state = Feature::State::kPresent;
  f.detail = "looked up " + std::to_string(looked_up) + " and updated " +
             std::to_string(attr.batch.count) + " elements";
  return f;
}

Feature ProbeSyscallProg() {
  Feature f{"SYSCALL programs (BPF_PROG_TYPE_SYSCALL + test run)",
            Feature::State::kUnknown, ""};
  Fd prog(LoadProg(kProgTypeSyscall, kFSleepable, ReturnZero()));
  if (!prog.ok()) {
    int err = errno;
    if (err == EINVAL) {
      f.state = Feature::State::kAbsent;
      f.detail = "BPF_PROG_LOAD of a SYSCALL program: EINVAL";
    } else {
      f.detail = "BPF_PROG_LOAD: " + ErrName(err);
    }
    return f;
  }
  union bpf_attr attr;
  std::memset(&attr, 0, sizeof attr);
  attr.test.prog_fd = static_cast<uint32_t>(prog.get());
  if (Bpf(BPF_PROG_TEST_RUN, &attr) != 0) {
    f.state = Feature::State::kAbsent;
    f.detail = "loaded, but BPF_PROG_TEST_RUN: " + ErrName(errno);
    return f;
  }
  f.state = Feature::State::kPresent;
  f.detail = "loaded and ran a SYSCALL program (returned " +
             std::to_string(attr.test.retval) + ")";
  return f;
}

Feature ProbeLookupPercpuElem() {
  Feature f{"bpf_map_lookup_percpu_elem helper", Feature::State::kUnknown, ""};
  Fd map(CreateMap(BPF_MAP_TYPE_PERCPU_ARRAY, 8, 1, 0));
  if (!map.ok()) {
    f.detail = "cannot create a map: " + ErrName(errno);
    return f;
  }
  // r1 = map; *(u32 *)(r10 - 4) = 0; r2 = r10 - 4; r3 = 0;
  // call bpf_map_lookup_percpu_elem; r0 = 0; exit.
  std::vector<bpf_insn> insns = {
      Insn(BPF_LD | BPF_DW | BPF_IMM, BPF_REG_1, BPF_PSEUDO_MAP_FD, 0,
           map.get()),
      Insn(0, 0, 0, 0, 0),
      Insn(BPF_ST | BPF_MEM | BPF_W, BPF_REG_10, 0, -4, 0),
      Insn(BPF_ALU64 | BPF_MOV | BPF_X, BPF_REG_2, BPF_REG_10, 0, 0),
      Insn(BPF_ALU64 | BPF_ADD | BPF_K, BPF_REG_2, 0, 0, -4),
      Insn(BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_3, 0, 0, 0),
      Insn(BPF_JMP | BPF_CALL, 0, 0, 0, kHelperMapLookupPercpuElem),
      Insn(BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, 0),
      Insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0),
  };
  Fd prog(LoadProg(kProgTypeSyscall, kFSleepable, insns));
  int err = prog.ok() ? 0 : errno;
  std::string how = "a SYSCALL program";
  if (!prog.ok()) {
    // Without SYSCALL programs, try a socket filter (the helper is offered
    // to every program type that has the base helpers).
    Fd other(LoadProg(kProgTypeSocketFilter, 0, insns));
    if (other.ok()) {
      err = 0;
      how = "a socket filter";
    } else if (err != EINVAL || errno != EINVAL) {
      f.detail = "BPF_PROG_LOAD: " + ErrName(err);
      return f;
    }
  }
  if (err == 0) {
    f.state = Feature::State::kPresent;
    f.detail = "the verifier accepted a call from " + how;
  } else {
    f.state = Feature::State::kAbsent;
    f.detail = "the verifier refused the call: EINVAL";
  }
  return f;
}

Feature ProbeFCpu() {
  Feature f{"BPF_F_CPU for per-CPU lookups and updates",
            Feature::State::kUnknown, ""};
  Fd map(CreateMap(BPF_MAP_TYPE_PERCPU_ARRAY, 8, 1, 0));
  if (!map.ok()) {
    f.detail = "cannot create a map: " + ErrName(errno);
    return f;
  }
  // Big enough for every possible CPU's slot, whatever the flag means here.
  std::vector<uint64_t> value(4096);
  uint32_t key = 0;
  union bpf_attr attr;
  std::memset(&attr, 0, sizeof attr);
  attr.map_fd = static_cast<uint32_t>(map.get());
  attr.key = reinterpret_cast<uintptr_t>(&key);
  attr.value = reinterpret_cast<uintptr_t>(value.data());
  attr.flags = kFCpu;  // CPU 0 in the upper 32 bits
  if (Bpf(BPF_MAP_LOOKUP_ELEM, &attr) == 0) {
    f.state = Feature::State::kPresent;
    f.detail = "BPF_MAP_LOOKUP_ELEM with BPF_F_CPU (cpu 0) succeeded";
  } else if (errno == EINVAL) {
    f.state = Feature::State::kAbsent;
    f.detail = "BPF_MAP_LOOKUP_ELEM with BPF_F_CPU: EINVAL";
  } else {
    f.detail = "BPF_MAP_LOOKUP_ELEM with BPF_F_CPU: " + ErrName(errno);
  }
  return f;
}

}  // namespace

std::string Privileges::Describe() const {
  auto yn = [](bool b) { return b ? "yes" : "no"; };
  return std::string("CAP_BPF ") + yn(cap_bpf) + ", CAP_SYS_ADMIN " +
         yn(cap_sys_admin) + ", CAP_PERFMON " + yn(cap_perfmon) +
         ", kernel.unprivileged_bpf_disabled=" +
         (unprivileged_bpf_disabled < 0
              ? std::string("unreadable")
              : std::to_string(unprivileged_bpf_disabled));
}

Privileges ReadPrivileges() {
  Privileges p;
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("CapEff:", 0) != 0) continue;
    uint64_t caps = std::stoull(line.substr(7), nullptr, 16);
    p.cap_bpf = caps >> kCapBpf & 1;
    p.cap_sys_admin = caps >> kCapSysAdmin & 1;
    p.cap_perfmon = caps >> kCapPerfmon & 1;
  }
  std::ifstream sysctl("/proc/sys/kernel/unprivileged_bpf_disabled");
  int v = -1;
  if (sysctl >> v) p.unprivileged_bpf_disabled = v;
  return p;
}

const char* FeatureStateName(Feature::State state) {
  switch (state) {
    case Feature::State::kPresent:
      return "present";
    case Feature::State::kAbsent:
      return "absent";
    case Feature::State::kUnknown:
      return "unknown";
  }
  return "?";
}

std::vector<Feature> ProbeKernelFeatures() {
  return {ProbeCreate(BPF_MAP_TYPE_ARRAY),
          ProbeCreate(BPF_MAP_TYPE_PERCPU_ARRAY),
          ProbeMmapable(),
          ProbeBatch(BPF_MAP_TYPE_ARRAY),
          ProbeBatch(BPF_MAP_TYPE_PERCPU_ARRAY),
          ProbeSyscallProg(),
          ProbeLookupPercpuElem(),
          ProbeFCpu()};
}

}  // namespace amc::cli
