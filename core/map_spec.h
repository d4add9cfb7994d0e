// core/map_spec.h: the description of one array map to create, and the
// environment (possible and online CPUs, page size, kernel release) a result
// depends on.
//
// Invariant: a MapSpec is plain data. Any combination of fields is valid as a
// value; whether the kernel accepts it is a *result* of creation (EINVAL,
// E2BIG, ENOMEM...), decided by each backend, never by this header.
#ifndef AMC_CORE_MAP_SPEC_H_
#define AMC_CORE_MAP_SPEC_H_

#include <cstdint>
#include <optional>
#include <string>

namespace amc::core {

// Kernel map type numbers (enum bpf_map_type in include/uapi/linux/bpf.h).
enum class MapType : uint32_t {
  kArray = 2,        // BPF_MAP_TYPE_ARRAY
  kPercpuArray = 6,  // BPF_MAP_TYPE_PERCPU_ARRAY
};

// map_flags bits (include/uapi/linux/bpf.h). Kept here so that the project
// does not depend on the age of the installed uapi headers.
inline constexpr uint32_t kBpfFNoPrealloc = 1u << 0;
inline constexpr uint32_t kBpfFNoCommonLru = 1u << 1;
inline constexpr uint32_t kBpfFNumaNode = 1u << 2;
inline constexpr uint32_t kBpfFRdonly = 1u << 3;
inline constexpr uint32_t kBpfFWronly = 1u << 4;
inline constexpr uint32_t kBpfFStackBuildId = 1u << 5;
inline constexpr uint32_t kBpfFZeroSeed = 1u << 6;
inline constexpr uint32_t kBpfFRdonlyProg = 1u << 7;
inline constexpr uint32_t kBpfFWronlyProg = 1u << 8;
inline constexpr uint32_t kBpfFClone = 1u << 9;
inline constexpr uint32_t kBpfFMmapable = 1u << 10;
inline constexpr uint32_t kBpfFPreserveElems = 1u << 11;
inline constexpr uint32_t kBpfFInnerMap = 1u << 12;
inline constexpr uint32_t kBpfFLink = 1u << 13;
inline constexpr uint32_t kBpfFPathFd = 1u << 14;
inline constexpr uint32_t kBpfFVtypeBtfObjFd = 1u << 15;
inline constexpr uint32_t kBpfFTokenFd = 1u << 16;
inline constexpr uint32_t kBpfFSegvOnFault = 1u << 17;
inline constexpr uint32_t kBpfFNoUserConv = 1u << 18;

// Element flags of update/lookup (BPF_ANY, BPF_NOEXIST, BPF_EXIST, BPF_F_LOCK,
// and the per-CPU BPF_F_CPU / BPF_F_ALL_CPUS of 7.0).
inline constexpr uint64_t kBpfAny = 0;
inline constexpr uint64_t kBpfNoexist = 1;
inline constexpr uint64_t kBpfExist = 2;
inline constexpr uint64_t kBpfFLock = 4;
inline constexpr uint64_t kBpfFCpu = 8;
inline constexpr uint64_t kBpfFAllCpus = 16;

struct MapSpec {
  MapType type = MapType::kArray;
  uint32_t key_size = 4;
  uint32_t value_size = 8;
  uint32_t max_entries = 4;
  uint32_t map_flags = 0;
  uint32_t numa_node = 0;
  // Offset of a `struct bpf_spin_lock` inside the value, when the value type
  // has one (the map is then created with BTF describing it).
  std::optional<uint32_t> spin_lock_offset;

  bool operator==(const MapSpec&) const = default;
};

// Bytes per element in storage: round_up(value_size, 8).
inline uint64_t ElemSize(const MapSpec& spec) {
  return (static_cast<uint64_t>(spec.value_size) + 7) & ~uint64_t{7};
}

// What a result depends on besides the operations: per-CPU value buffers
// scale with possible CPUs, programs run only on online CPUs, mmap limits
// follow the page size.
//
// The online CPUs are CPUs 0..online-1 of the possible 0..possible_cpus-1
// (QEMU `-smp 2,maxcpus=4`: online "0-1", possible "0-3"; a host whose online
// list is not such a prefix cannot run the kernel backend, see
// HostOnlineIsPrefix). online_cpus == 0 means every possible CPU is online,
// so that `Environment{cpus, page, ""}` and files without `online_cpus=` keep
// their meaning; read it through Online().
struct Environment {
  uint32_t possible_cpus = 1;
  uint32_t page_size = 4096;
  std::string kernel_release;  // empty when not recorded on a kernel
  uint32_t online_cpus = 0;    // 0: all possible CPUs are online

  uint32_t Online() const {
    return online_cpus == 0 || online_cpus > possible_cpus ? possible_cpus
                                                           : online_cpus;
  }
  bool operator==(const Environment& o) const {
    return possible_cpus == o.possible_cpus && page_size == o.page_size &&
           kernel_release == o.kernel_release && Online() == o.Online();
  }
};

// `env` without its kernel release: what a map instance needs of it (CPU
// counts, page size), cheap to copy for every map a campaign creates.
inline Environment Geometry(const Environment& env) {
  return Environment{env.possible_cpus, env.page_size, "", env.Online()};
}

// The syscall value buffer size for one key (kernel: bpf_map_value_size()):
// ARRAY value_size, PERCPU round_up(value_size, 8) * possible CPUs.
inline uint64_t SyscallValueSize(const MapSpec& spec, const Environment& env) {
  if (spec.type == MapType::kPercpuArray) {
    return ElemSize(spec) * env.possible_cpus;
  }
  return spec.value_size;
}

// The syscall value buffer size of one key for an op with element flags
// `flags` (kernel: bpf_map_value_size(map, flags)). Since 7.0
// (`percpu_cpu_flags`, core/kernel_profile.h), BPF_F_CPU or BPF_F_ALL_CPUS
// make it value_size bytes, one CPU's value, for any map type (the flag
// check refuses them on an ARRAY before any buffer is read); before, the
// flags do not change it.
inline uint64_t SyscallValueSize(const MapSpec& spec, const Environment& env,
                                 uint64_t flags, bool percpu_cpu_flags) {
  if (percpu_cpu_flags && (flags & (kBpfFCpu | kBpfFAllCpus))) {
    return spec.value_size;
  }
  return SyscallValueSize(spec, env);
}

// Reads this machine's environment: /sys/devices/system/cpu/possible and
// /sys/devices/system/cpu/online (counted alike), sysconf(_SC_PAGESIZE) and
// uname().release.
Environment HostEnvironment();

// True when this machine's online CPUs are exactly 0..n-1 (the numbering
// Environment assumes); false for e.g. "0,2-3" after CPU 1 went offline.
bool HostOnlineIsPrefix();

// Parses the kernel's CPU list format ("0-3,5"); returns how many CPUs it
// lists (cpumask_weight, as num_possible_cpus() and libbpf count), or nullopt.
std::optional<uint32_t> ParseCpuListCount(const std::string& text);

// True when the CPU list `text` is exactly "0-(n-1)" or "0" (n CPUs from 0).
bool CpuListIsPrefix(const std::string& text);

}  // namespace amc::core

#endif  // AMC_CORE_MAP_SPEC_H_
