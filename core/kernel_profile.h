// core/kernel_profile.h: behaviour that differs between Linux releases, as
// named profiles. The model (and any backend that can) answers as the
// profile says; a recorded case is checked against the profile of the
// release that recorded it.
//
// Invariant: every field is a behaviour observed to differ between releases
// that the kernel matrix (ci/kernel-matrix.sh) boots, with the kernel change
// that made the difference cited beside it, and a recorded case per release
// in corpus/releases/. Each field changes at exactly one release (the table
// kProfileChanges in kernel_profile.cc); the profiles are the intervals
// between those releases, named by them ("6.6-6.14", "7.2+"). Two releases
// with equal profiles answer every op alike. Profiles for releases the matrix
// does not boot (Debian ships 5.10, 6.1, 6.12, 6.16-6.19, 7.0-7.3) follow from
// the cited changes' releases alone.
#ifndef AMC_CORE_KERNEL_PROFILE_H_
#define AMC_CORE_KERNEL_PROFILE_H_

#include <cerrno>
#include <optional>
#include <string>
#include <vector>

namespace amc::core {

// The defaults are the newest release's answers.
struct KernelProfile {
  // The releases it covers: a range "6.6-6.14", one release "6.5", the
  // newest "7.2+", or the oldest, named by its last release ("5.10", which
  // also answers for older ones).
  std::string name;
  // PROT_EXEC mappings of a map fd are refused with EPERM. Since v6.15 the
  // anonymous-inode filesystem that map fds live on is marked SB_I_NOEXEC
  // ("anon_inode: raise SB_I_NODEV and SB_I_NOEXEC", fs/anon_inodes.c), so
  // do_mmap's path_noexec() check refuses VM_EXEC. Before, the mapping is
  // made (bpf_map_mmap only clears VM_MAYEXEC). Observed: EPERM on 6.18;
  // allowed on Debian's 6.1.192 and 6.12.117.
  bool exec_mappings_refused = true;
  // BPF_MAP_FREEZE needs a writable fd (kernel/bpf/syscall.c map_freeze():
  // map_get_sys_perms() & FMODE_CAN_WRITE, checked after the special-field
  // ENOTSUPP and before the EBUSY checks), so freezing through a
  // BPF_F_RDONLY fd, or a second time (a frozen map's fd is not writable),
  // is EPERM. Added by c4c84f6fb2c4 "bpf: drop unnecessary bpf_capable()
  // check in BPF_MAP_FREEZE command" (v6.5; it replaced a bpf_capable()
  // check, so privileged callers like ours see it only as the new fd check).
  // Without it, a read-only fd may freeze and a second freeze is EBUSY
  // (map->frozen). Observed: EPERM on 6.12.117 and 6.18; not on Debian's
  // 6.1.192.
  bool freeze_needs_write_permission = true;

  // ---- 5.10 (Debian bullseye): changes between 5.10 and 6.1 ----
  // Read in Debian's linux-source-5.10 (5.10.262) against linux-source-6.12,
  // and observed on Debian's 5.10.0-46 guest against 6.18; the releases come
  // from the cited changes (the releases between 5.10 and 6.1 are not
  // booted: "release taken from the change's citation, not booted").

  // BPF_MAP_LOOKUP_BATCH / BPF_MAP_UPDATE_BATCH work on PERCPU_ARRAY. Before,
  // percpu_array_map_ops has no map_lookup_batch / map_update_batch, so
  // bpf_map_do_batch() (kernel/bpf/syscall.c) answers ENOTSUPP after the fd
  // and its permission checks (EPERM first), as for the array's delete
  // batches. Added by f008d732ab18 "bpf: Add batched ops support for percpu
  // array" (bpf-next, April 2021: v5.13; release taken from the change's
  // citation, not booted). Observed: ENOTSUPP on 5.10.0-46.
  bool percpu_array_batch_ops = true;
  // BPF_MAP_LOOKUP_AND_DELETE_ELEM takes attr->flags (BPF_F_LOCK, checked
  // after the fd's permissions). Before, `flags` lies past the command's
  // last attr field (BPF_MAP_LOOKUP_AND_DELETE_ELEM_LAST_FIELD is value),
  // so CHECK_ATTR in map_lookup_and_delete_elem() refuses any nonzero flags
  // with EINVAL before the fd is looked at. Changed by 3e87f192b405 "bpf:
  // Add lookup_and_delete_elem support to hashtab" (v5.14; release taken
  // from the change's citation, not booted). Observed: EINVAL for
  // flags=BPF_F_LOCK on 5.10.0-46.
  bool lookup_and_delete_takes_flags = true;
  // array_map_alloc_check() bounds value_size by INT_MAX (E2BIG). Before,
  // by KMALLOC_MAX_SIZE (the syscall side copied values through kmalloc):
  // 4 MiB with 4 KiB pages (page_size << 10 on x86-64's SLUB). Changed by
  // "bpf: remove obsolete KMALLOC_MAX_SIZE restriction on array map value
  // size" (Andrii Nakryiko, bpf-next July 2022: v6.0; release taken from
  // the change's citation, not booted).
  bool value_size_bounded_by_int_max = true;
  // generic_map_lookup_batch() (kernel/bpf/syscall.c) takes its key + value
  // buffer with kvmalloc. Before, with kmalloc, which refuses more than
  // KMALLOC_MAX_SIZE (page size << 10 on x86-64's SLUB): a lookup batch
  // (count != 0) of a map whose key_size + value_size passes it is ENOMEM
  // after count is zeroed, though such a value_size (up to
  // KMALLOC_MAX_SIZE) is accepted at creation. Changed by f0dce1d9b7c8
  // "bpf: Use kvmalloc for map values in syscall" (Stanislav Fomichev,
  // v5.12; release taken from the change's citation, not booted; 6.12's
  // source uses kvmalloc). Observed: ENOMEM on 5.10.0-46 for value_size
  // 4194301 (corpus/releases/5.10/lookup_batch_kmalloc_max_enomem.ops).
  bool batch_buffer_kvmalloced = true;
  // Map memory is charged to the memory cgroup. Before, array_map_alloc()
  // charged it with bpf_map_charge_init() (kernel/bpf/syscall.c), which
  // refuses a cost (the struct bpf_array, the element or per-CPU pointer
  // array, and for PERCPU_ARRAY every CPU's elements) of U32_MAX - PAGE_SIZE
  // bytes or more with E2BIG before anything is allocated (and the rest
  // against RLIMIT_MEMLOCK, which the kernel backend lifts). Ended by
  // "bpf: eliminate rlimit-based memory accounting for arraymap maps"
  // (Roman Gushchin, v5.11; release taken from the change's citation, not
  // booted).
  bool map_cost_charged_to_memlock = false;

  // ---- values whose BTF holds a struct bpf_spin_lock ----
  // Observed on Debian's 6.1.192 against 6.12.117 and 6.18 with the cases
  // corpus/regressions/spin_lock_* (recorded per release in
  // corpus/releases/<series>/). The boundaries between 6.1 and 6.12 come
  // from the cited commits (those releases are not booted by the matrix).

  // BPF_BTF_LOAD refuses a struct holding a bpf_spin_lock member it cannot
  // take as a lock field (one not 4-byte aligned) with EFAULT, so the map
  // is never created. Since v6.2, btf_parse() builds the struct metas of
  // every struct with a bpf_spin_lock / bpf_list_head / bpf_list_node
  // member and fails when no field record results (8ffa5cc14213 "bpf:
  // Recognize lock and list fields in allocated objects", v6.2). Before, the
  // BTF loads, map_check_btf's lock search fails on the misaligned member
  // (btf_find_spin_lock: -EINVAL), and the map is created as one WITHOUT a
  // lock: BPF_F_LOCK is EINVAL, programs read it, it maps and freezes, and
  // the map type's own checks answer (a PERCPU_ARRAY is created).
  // Observed: EFAULT on 6.12.117 and 6.18; created lock-less on 6.1.192.
  bool misaligned_spin_lock_refused = true;
  // A value with a lock refuses BPF_F_WRONLY_PROG as well as
  // BPF_F_RDONLY_PROG at creation (EACCES). Since v6.2 the lock is one of
  // the map's btf_record fields, and map_check_btf refuses both *_PROG
  // flags for any map with fields (db559117828d "bpf: Consolidate
  // spin_lock, timer management into btf_record", v6.2); before, the lock's
  // own check refused BPF_F_RDONLY_PROG only. Observed: EACCES on 6.12.117
  // and 6.18; created on 6.1.192 (a PERCPU_ARRAY then answers its type's
  // refusal, below).
  bool spin_lock_refuses_wronly_prog = true;
  // The errno for a lock in a map type that cannot hold one (PERCPU_ARRAY):
  // EOPNOTSUPP (95) since db559117828d (v6.2, as above; the per-field
  // switch in map_check_btf), ENOTSUPP (524) before. Observed: EOPNOTSUPP
  // on 6.12.117 and 6.18; ENOTSUPP on 6.1.192.
  int spin_lock_wrong_map_type_errno = EOPNOTSUPP;
  // BPF_MAP_FREEZE of a map with a lock is ENOTSUPP: since db559117828d
  // (v6.2, as above) map_freeze refuses every map with btf_record fields;
  // before, only timers and kptrs were refused, and a lock map freezes like
  // any other (then syscall writes are EPERM). Observed: ENOTSUPP on
  // 6.12.117 and 6.18; frozen on 6.1.192.
  bool spin_lock_freeze_refused = true;
  // Sleepable programs (BPF_PROG_TYPE_SYSCALL, which the harness's program
  // ops use, is loaded sleepable) that reference a map with a lock are
  // refused at load with EINVAL (check_map_prog_compatibility: "sleepable
  // progs cannot use bpf_spin_lock yet"), before the verifier looks at any
  // instruction, so every program op on a lock map is EINVAL. Lifted by
  // 5861d1e8dbc4 "bpf: Allow bpf_spin_{lock,unlock} in sleepable progs"
  // (v6.6). Observed: EINVAL for every program op on a lock map on
  // 6.1.192; the ops run (or meet the verifier's EACCES) on 6.12.117, 6.18.
  bool sleepable_programs_refuse_spin_lock = false;

  // ---- 6.19 and later ----
  // BPF_MAP_LOOKUP_ELEM checks the fd's read permission (EPERM) before the
  // flags (EINVAL). Since 6.19 map_lookup_elem() gets the map and checks
  // map_get_sys_perms() first, then validates attr->flags with the new
  // bpf_map_check_op_flags() (the first patch of the BPF_F_CPU series,
  // "bpf: Introduce internal bpf_map_check_op_flags helper function");
  // before, `attr->flags & ~BPF_F_LOCK` was EINVAL before the fd was even
  // looked up. Read in kernel/bpf/syscall.c of Debian's linux-source-6.12
  // (6.12.118) against 7.2 (7.2.13) and 7.3 (7.3.4). Observed: EPERM on 6.19
  // and 7.x guests, EINVAL on 6.18.
  bool lookup_read_permission_first = true;

  // ---- 7.0 and later: BPF_F_CPU / BPF_F_ALL_CPUS for per-CPU maps ----
  // ("bpf: Introduce BPF_F_CPU and BPF_F_ALL_CPUS flags for percpu maps",
  // kernel-patches/bpf series; read in Debian's linux-source-7.2 and 7.3:
  // include/linux/bpf.h bpf_map_check_op_flags(), kernel/bpf/syscall.c
  // bpf_map_value_size(), kernel/bpf/arraymap.c bpf_percpu_array_copy() and
  // bpf_percpu_array_update()). Syscall lookups, updates and lookup/update
  // batches of a PERCPU_ARRAY accept BPF_F_CPU (the CPU in the flags' upper
  // 32 bits; one CPU's value_size bytes) and updates BPF_F_ALL_CPUS (one
  // value_size buffer written to every CPU); a CPU that is not possible is
  // ERANGE; upper bits without BPF_F_CPU, both flags, or either on an ARRAY
  // are EINVAL. bpf_percpu_array_update() then accepts any (u32) flags up
  // to BPF_F_ALL_CPUS without BPF_F_LOCK (BPF_NOEXIST|BPF_EXIST updates).
  bool percpu_cpu_flags = true;
  // A syscall update of a PERCPU_ARRAY writes each CPU's whole elem_size
  // slot, padding included (copy_map_value_long). Since 7.0 (same series)
  // bpf_percpu_array_update() copies value_size bytes (copy_map_value), so
  // the padding keeps the zeroes percpu allocation gave it. Observed:
  // corpus/regressions/percpu_padding.ops fails on 7.x guests.
  bool percpu_update_writes_padding = false;

  // ---- 7.2 and later ----
  // BPF_F_RDONLY together with BPF_F_WRONLY at creation is EINVAL only after
  // every other creation check: since 7.2 map_create() is split and
  // bpf_get_file_flag() runs after map_create_alloc() (the type's checks,
  // allocation, BTF), so an over-size or lock-refused spec answers E2BIG,
  // ENOMEM, EACCES... first. Before, bpf_get_file_flag() ran right after
  // CHECK_ATTR, before the NUMA and type checks. Read in kernel/bpf/syscall.c
  // of linux-source-6.12 against 7.2 and 7.3. Observed: E2BIG on 7.2 and 7.3
  // guests for an over-size BPF_F_RDONLY|BPF_F_WRONLY spec.
  bool create_rdonly_wronly_checked_last = true;

  bool operator==(const KernelProfile& o) const {
    return exec_mappings_refused == o.exec_mappings_refused &&
           freeze_needs_write_permission == o.freeze_needs_write_permission &&
           misaligned_spin_lock_refused == o.misaligned_spin_lock_refused &&
           spin_lock_refuses_wronly_prog == o.spin_lock_refuses_wronly_prog &&
           spin_lock_wrong_map_type_errno == o.spin_lock_wrong_map_type_errno &&
           spin_lock_freeze_refused == o.spin_lock_freeze_refused &&
           sleepable_programs_refuse_spin_lock ==
               o.sleepable_programs_refuse_spin_lock &&
           lookup_read_permission_first == o.lookup_read_permission_first &&
           percpu_cpu_flags == o.percpu_cpu_flags &&
           percpu_update_writes_padding == o.percpu_update_writes_padding &&
           create_rdonly_wronly_checked_last ==
               o.create_rdonly_wronly_checked_last &&
           // 5.10 fields
           percpu_array_batch_ops == o.percpu_array_batch_ops &&
           lookup_and_delete_takes_flags == o.lookup_and_delete_takes_flags &&
           value_size_bounded_by_int_max == o.value_size_bounded_by_int_max &&
           map_cost_charged_to_memlock == o.map_cost_charged_to_memlock &&
           batch_buffer_kvmalloced == o.batch_buffer_kvmalloced;
  }
};

// Every profile, oldest first.
const std::vector<KernelProfile>& AllKernelProfiles();
// The profile named `name`, or, for a release ("7.1", "6.12.117+deb13"),
// that release's profile; nullopt for anything else.
std::optional<KernelProfile> KernelProfileByName(const std::string& name);
// "M.m" of a release string, as major * 1000 + minor, or -1.
int ReleaseVersion(const std::string& release);
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
