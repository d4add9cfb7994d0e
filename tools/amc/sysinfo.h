// tools/amc/sysinfo.h: what `amc info` reports about this machine: kernel
// release, BPF privileges, possible CPUs, page size, and which array-map
// features the running kernel has. Features are probed for real with tiny raw
// bpf() calls (create a map, run one command, load a two-instruction
// program), never guessed from the release number.
//
// Invariant: probing leaks nothing: every map fd, program fd and mapping a
// probe opens is closed before it returns. A feature that cannot be probed
// (no privilege) is "unknown" with the reason, not "absent".
#ifndef AMC_TOOLS_AMC_SYSINFO_H_
#define AMC_TOOLS_AMC_SYSINFO_H_

#include <string>
#include <vector>

namespace amc::cli {

struct Privileges {
  bool cap_bpf = false;
  bool cap_sys_admin = false;
  bool cap_perfmon = false;
  // /proc/sys/kernel/unprivileged_bpf_disabled, -1 when unreadable.
  int unprivileged_bpf_disabled = -1;
  // One line: "CAP_BPF yes, CAP_SYS_ADMIN yes, CAP_PERFMON yes,
  // kernel.unprivileged_bpf_disabled=2".
  std::string Describe() const;
};

Privileges ReadPrivileges();

struct Feature {
  std::string name;
  enum class State { kPresent, kAbsent, kUnknown } state = State::kUnknown;
  // What the probe saw ("map created with BPF_F_MMAPABLE and mapped",
  // "BPF_PROG_LOAD: EINVAL", "cannot create maps: EPERM").
  std::string detail;
};

const char* FeatureStateName(Feature::State state);

// Probes, per map type (ARRAY, PERCPU_ARRAY), creation and lookup/update
// batches; mmapable ARRAYs; SYSCALL programs, bpf_map_lookup_percpu_elem
// and BPF_F_CPU on the running kernel.
std::vector<Feature> ProbeKernelFeatures();

}  // namespace amc::cli

#endif  // AMC_TOOLS_AMC_SYSINFO_H_
