// oracle_kernel/kernel_calls.cc: the kernel backend's plumbing
// (kernel_calls.h): harness-error messages, map creation with the BTF of a
// lock, the raw mmap, the memlock limit and release comparisons.
#include "oracle_kernel/kernel_calls.h"

#include <bpf/btf.h>
#include <sys/mman.h>
#include <sys/resource.h>

#include <cstdio>
#include <cstring>

#include "core/harness_error.h"
#include "core/result.h"

namespace amc::oracle_kernel::internal {

using core::MapSpec;

[[noreturn]] void HarnessFail(const std::string& what) {
  throw core::HarnessError("oracle_kernel: " + what);
}
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

long RawMmap(uint64_t length, uint32_t prot, bool shared, int fd,
             uint64_t offset) {
  return syscall(SYS_mmap, nullptr, length, prot,
                 shared ? MAP_SHARED : MAP_PRIVATE, fd, offset);
}

void LiftMemlockLimit() {
  struct rlimit unlimited = {RLIM_INFINITY, RLIM_INFINITY};
  setrlimit(RLIMIT_MEMLOCK, &unlimited);
}

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

}  // namespace amc::oracle_kernel::internal
