// core/kernel_profile.h: behaviour that differs between Linux releases, as
// named profiles. The model (and any backend that can) answers as the
// profile says; a recorded case is checked against the profile of the
// release that recorded it.
//
// Invariant: every field is a behaviour observed to differ between releases
// that the kernel matrix (ci/kernel-matrix.sh) boots, with the kernel change
// that made the difference cited beside it, and a recorded case per release
// in corpus/releases/. Two releases with equal profiles answer every op alike.
#ifndef AMC_CORE_KERNEL_PROFILE_H_
#define AMC_CORE_KERNEL_PROFILE_H_

#include <optional>
#include <string>
#include <vector>

namespace amc::core {

struct KernelProfile {
  // The releases it covers: "6.15+", or a range "6.12-6.14".
  std::string name;
  // PROT_EXEC mappings of a map fd are refused with EPERM. Since v6.15 the
  // anonymous-inode filesystem that map fds live on is marked SB_I_NOEXEC
  // ("anon_inode: raise SB_I_NODEV and SB_I_NOEXEC", fs/anon_inodes.c), so
  // do_mmap's path_noexec() check refuses VM_EXEC. Before, the mapping is
  // made (bpf_map_mmap only clears VM_MAYEXEC). Observed: EPERM on 6.18;
  // allowed on Debian's 6.1.192 and 6.12.117.
  bool exec_mappings_refused = true;
  // BPF_MAP_FREEZE needs a writable fd (kernel/bpf/syscall.c map_freeze():
  // map_get_sys_perms() & FMODE_CAN_WRITE, checked before the EBUSY checks),
  // so freezing through a BPF_F_RDONLY fd, or a second time (a frozen map's
  // fd is not writable), is EPERM. Without the check, a read-only fd may
  // freeze and a second freeze is EBUSY (map->frozen). Observed: checked on
  // 6.12.117 and 6.18; not on Debian's 6.1.192. The upstream change that
  // added it was not pinned down here, so the boundary is put at the first
  // release observed with it (6.12).
  bool freeze_needs_write_permission = true;

  bool operator==(const KernelProfile& o) const {
    return exec_mappings_refused == o.exec_mappings_refused &&
           freeze_needs_write_permission == o.freeze_needs_write_permission;
  }
};

// Every profile, oldest first.
const std::vector<KernelProfile>& AllKernelProfiles();
std::optional<KernelProfile> KernelProfileByName(const std::string& name);
// The profile of a release string ("6.1.0-56-cloud-amd64", "6.18.44-x"),
// by its major.minor; an unparsable release gets the newest profile.
KernelProfile KernelProfileForRelease(const std::string& release);
// The profile a backend answering "as a kernel" should follow: the one named
// by AMC_KERNEL_PROFILE when set (amc --kernel-profile sets it), else the
// release's. Returns nullopt with `error` set for an unknown name.
std::optional<KernelProfile> SelectKernelProfile(const std::string& release,
                                                 std::string* error = nullptr);

}  // namespace amc::core

#endif  // AMC_CORE_KERNEL_PROFILE_H_
