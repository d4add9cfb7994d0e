// oracle_kernel/kernel_calls.h: the kernel backend's own plumbing, shared by
// its files and not exported (kernel_backend.h is the interface): the raw
// bpf() and mmap wrappers, owned fds, harness errors (which failures are the
// harness's and which the kernel's answer), map creation with the BTF of a
// lock, the memlock limit and release comparisons.
#ifndef AMC_ORACLE_KERNEL_KERNEL_CALLS_H_
#define AMC_ORACLE_KERNEL_KERNEL_CALLS_H_

#include <linux/bpf.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <string>
#include <utility>

#include "core/map_spec.h"

namespace amc::oracle_kernel::internal {

// ---- raw syscalls: one thin wrapper each, "negative return, errno set" ----

inline long Bpf(int cmd, union bpf_attr* attr) {
  return syscall(__NR_bpf, cmd, attr, sizeof(*attr));
}
// 0, or the errno of the failed call.
inline int BpfErr(int cmd, union bpf_attr* attr) {
  return Bpf(cmd, attr) < 0 ? errno : 0;
}
inline uint64_t Ptr(const void* p) { return reinterpret_cast<uintptr_t>(p); }

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
[[noreturn]] void HarnessFail(const std::string& what);
inline bool OutOfDescriptors(int err) { return err == EMFILE || err == ENFILE; }
// What a refused call of the harness's own needs, for the message.
std::string CallFailed(const char* call, int err);

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

// Creates a map as BPF_MAP_CREATE would for `spec`; returns the fd or
// -errno. A spec with a spin lock gets BTF describing its value: the lock at
// spin_lock_offset, char arrays around it. Errors loading that BTF are the
// creation's result.
int CreateMap(const core::MapSpec& spec, const std::string& name);

// The raw mmap syscall on a map fd: the address, or -1 with errno set.
long RawMmap(uint64_t length, uint32_t prot, bool shared, int fd,
             uint64_t offset);

// Before 5.11 a map's memory is charged to RLIMIT_MEMLOCK (bpf_map_charge_init
// in kernel/bpf/syscall.c: EPERM past the limit, 64 KiB by default before
// 5.16); memcg accounting replaced it ("bpf: Eliminate rlimit-based memory
// accounting for bpf maps", v5.11). Lifting the limit (root may) keeps the
// creation's answer the kernel's rules, not this process's limit, as libbpf
// does for the same reason.
void LiftMemlockLimit();

// Parses "6.18.44-..." into major, minor.
std::pair<int, int> ReleaseVersion(const std::string& release);
// Whether `release` is older than major.minor (false when unparsed).
bool OlderThan(const std::string& release, int major, int minor);

}  // namespace amc::oracle_kernel::internal

#endif  // AMC_ORACLE_KERNEL_KERNEL_CALLS_H_
