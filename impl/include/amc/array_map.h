// amc/array_map.h: a lock-free (but for its bpf_spin_lock paths) user-space
// BPF_MAP_TYPE_ARRAY and BPF_MAP_TYPE_PERCPU_ARRAY with the kernel's layout
// and the kernel's answers, for user-space eBPF runtimes to embed.
// Standalone: depends only on the C++20 standard library and Linux system
// calls.
//
// Two faces on one map:
//   - the syscall face (MapFd): what bpf(2) does on a map fd. Values are
//     copied in and out with the kernel's value-buffer layouts; every result
//     is the errno the kernel gives (positive; 524 is the kernel's ENOTSUPP).
//   - the helper face (ArrayMap::Lookup*, Update*, ...): what a BPF program's
//     helpers do. Lookup returns a pointer into the storage or nullptr;
//     per-CPU calls act on an explicit CPU or on the calling thread's current
//     CPU (RawCurrentCpu(): glibc's rseq cpu_id, else sched_getcpu(); folded
//     onto the configured possible CPUs when they are fewer than this
//     machine's).
//
// Layout invariants (checked by impl/array_map_test.cc):
//   - elem_size = round_up(value_size, 8); element i of a CPU's array sits at
//     i * elem_size; every element is 8-byte aligned.
//   - BPF_F_MMAPABLE (ARRAY only): the data is the start of a memfd, page
//     aligned, PAGE_ALIGN(max_entries * elem_size) bytes, mappable with
//     MapFd::Mmap under the kernel's rules (MAP_SHARED only, offset and
//     length within the region, no writable mapping of a frozen map, no
//     freeze while a writable mapping exists, read-only mappings cannot be
//     mprotect()ed writable). A map with a spin lock cannot be mapped and
//     gets no memfd.
//   - Other maps: the data starts on a 64-byte boundary, in zeroed heap
//     memory (calloc) up to 16 MiB and in lazily backed anonymous memory
//     of its own beyond.
//   - PERCPU_ARRAY: one array per possible CPU, CPU-major; each CPU's array
//     starts on a 64-byte boundary (cpu_stride = round_up(max_entries *
//     elem_size, 64)), so two CPUs never share a cache line. Memory: the
//     kernel's data layout + at most 56 bytes per CPU of padding, rounded up
//     to 64 bytes (+ 48 bytes of alignment slack on the heap) or to a page,
//     plus the constant-size ArrayMap header.
//
// Concurrency (no lock on any path but the spin-lock ones below; see each
// call for its progress bound):
//   - Every shared byte is accessed through std::atomic_ref on the aligned
//     8-byte word that holds it, so the map is data-race-free under the C++
//     memory model. Value copies use memory_order_relaxed: the map publishes
//     no other data through a value, and the kernel itself orders nothing
//     between words, so only per-word atomicity and coherence are promised.
//   - Tearing: a value of at most 8 bytes (one word) is never torn. A wider
//     value is copied word by word: a concurrent reader may see some words
//     of an update and not others, but never a torn word (the kernel gives
//     less: without BPF_F_LOCK it may tear anywhere). Writes of a partial
//     last word (value_size % 8 != 0) merge with a CAS loop so the padding
//     bytes another writer owns are preserved.
//   - Per-CPU updates from the helper face are atomic RMWs / atomic stores on
//     the chosen CPU's slot, so they stay exact when the thread migrates
//     between reading its CPU number and writing: the write simply lands in
//     the slot of the CPU it started on, as if the migration had come after
//     it, and a concurrent writer on that CPU cannot lose it. A map made
//     with Options::percpu_add = PercpuAdd::kRseq adds on the current CPU
//     with a restartable sequence instead (a plain load and store the kernel
//     restarts on preemption, migration or signal; x86-64 assembly outside
//     the C++ memory model, so TSan builds keep the atomic): exact against
//     every other current-CPU add, but, like the kernel's this_cpu_add(),
//     not against a write to the same slot from another CPU at the same
//     instant (see PercpuAdd).
//   - Code that writes through a pointer from Lookup*() or through a mapping
//     must use atomic accesses too if other threads read concurrently.
//   - bpf_spin_lock (a map created with MapAttr::spin_lock_offset): the
//     element's 4-byte lock word is a real spin lock, taken by BPF_F_LOCK
//     copies in and out on the syscall face (Lookup, Update, LookupBatch,
//     UpdateBatch) and by UpdateElem(..., kFLock), and by SpinLock /
//     SpinUnlock for a program's own critical section. Those paths block
//     (they spin while another thread holds the element's lock, as the
//     kernel's do); every other path stays lock-free and ignores the lock,
//     as in the kernel, where copies without BPF_F_LOCK may tear. Under the
//     lock the copies are still per-word atomic, so locked and unlocked
//     accesses never race in the C++ sense; between locked accesses of one
//     element the lock's acquire/release makes each copy see a whole value:
//     a BPF_F_LOCK reader never sees a mix of two locked writes. The lock
//     word is taken with a CAS on the aligned 8-byte word holding it, so
//     unlocked writes of the value bytes sharing that word (CAS merges) are
//     preserved. It reads back as zero in every copy out (syscall lookups,
//     batches, CopyValue), as the kernel shows it.
#ifndef AMC_IMPL_ARRAY_MAP_H_
#define AMC_IMPL_ARRAY_MAP_H_

#include <atomic>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>

#include <sched.h>
#if __has_include(<sys/rseq.h>)
#include <sys/rseq.h>
#define AMC_IMPL_HAVE_RSEQ 1
static_assert(offsetof(struct rseq, cpu_id) == 4, "RawCurrentCpu reads fs:4");
static_assert(offsetof(struct rseq, rseq_cs) == 8, "RseqAdd arms area+8");
#endif
// The restartable-sequence per-CPU add (Options::percpu_add) is x86-64
// assembly; ThreadSanitizer sees no access made inside an asm statement, so
// its builds keep the atomic add (which it checks) on every path.
#if defined(__SANITIZE_THREAD__)
#define AMC_IMPL_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define AMC_IMPL_TSAN 1
#endif
#endif
#if defined(AMC_IMPL_HAVE_RSEQ) && defined(__x86_64__) && !defined(AMC_IMPL_TSAN)
#define AMC_IMPL_RSEQ_ADD 1
#endif

namespace amc::impl {

// Kernel map type numbers (enum bpf_map_type).
enum class MapType : uint32_t { kArray = 2, kPercpuArray = 6 };

// map_flags bits (include/uapi/linux/bpf.h).
inline constexpr uint32_t kFNoPrealloc = 1u << 0;
inline constexpr uint32_t kFNumaNode = 1u << 2;
inline constexpr uint32_t kFRdonly = 1u << 3;
inline constexpr uint32_t kFWronly = 1u << 4;
inline constexpr uint32_t kFRdonlyProg = 1u << 7;
inline constexpr uint32_t kFWronlyProg = 1u << 8;
inline constexpr uint32_t kFMmapable = 1u << 10;
inline constexpr uint32_t kFPreserveElems = 1u << 11;
inline constexpr uint32_t kFInnerMap = 1u << 12;
inline constexpr uint32_t kFTokenFd = 1u << 16;
// Element flags.
inline constexpr uint64_t kAny = 0;
inline constexpr uint64_t kNoexist = 1;
inline constexpr uint64_t kExist = 2;
inline constexpr uint64_t kFLock = 4;
// Per-CPU maps, Linux 7.0+ (Options::percpu_cpu_flags): BPF_F_CPU takes the
// CPU from the flags' upper 32 bits; BPF_F_ALL_CPUS writes one value to all.
inline constexpr uint64_t kFCpu = 8;
inline constexpr uint64_t kFAllCpus = 16;
// The kernel-internal ENOTSUPP, which reaches user space from bpf(2).
inline constexpr int kEnotsupp = 524;
// mmap protections and flags as in <sys/mman.h>.
inline constexpr int kProtRead = 1, kProtWrite = 2, kProtExec = 4;
inline constexpr int kMapShared = 1, kMapPrivate = 2;

// BPF_MAP_CREATE attributes.
struct MapAttr {
  MapType type = MapType::kArray;
  uint32_t key_size = 4;
  uint32_t value_size = 8;
  uint32_t max_entries = 1;
  uint32_t map_flags = 0;
  uint32_t numa_node = 0;
  // Offset of a struct bpf_spin_lock in the value (the kernel learns it from
  // BTF), or negative for none; any u32 offset can be given. Such a map
  // accepts BPF_F_LOCK, reads the lock word back as zero, cannot be frozen
  // and cannot be mapped (ENOTSUPP, even with BPF_F_MMAPABLE). Creation
  // refuses, in the kernel's order: a lock that does not fit in the value
  // (EINVAL) or is not 4-byte aligned (EFAULT), before any other check (the
  // BTF is loaded first); then, after the size checks, BPF_F_RDONLY_PROG /
  // BPF_F_WRONLY_PROG (EACCES) and PERCPU_ARRAY (EOPNOTSUPP).
  // BPF_F_LOCK copies take the lock (see "bpf_spin_lock" above).
  int64_t spin_lock_offset = -1;
};

// How a PERCPU_ARRAY's current-CPU AtomicAdd writes its slot.
enum class PercpuAdd : uint8_t {
  // An atomic read-modify-write (LOCK XADD) on the slot of the CPU read just
  // before: exact against every other writer of that slot, on any CPU.
  kAtomic,
  // A restartable sequence (rseq(2)): reads the CPU, loads the slot, adds,
  // and stores it back with a plain store, restarted by the kernel if the
  // thread is preempted, migrated or signalled before the store, so exact
  // against every other current-CPU add (any thread, this or another map)
  // at about the cost of a plain increment. The contract of the kernel's
  // this_cpu_add(): a write to the same slot from another CPU at the same
  // instant (AtomicAddOnCpu / UpdateElemOnCpu aimed at this CPU's slot, a
  // syscall-face update of the key) may be lost, or may lose the add;
  // single-threaded and CPU-local use is exact. Falls back to kAtomic on a
  // thread without rseq, when possible_cpus is fewer than this machine's (a
  // folded slot is shared by two CPUs), off x86-64 and in TSan builds.
  kRseq,
};

// Which rseq area the calling thread's kRseq adds use: "glibc" (glibc
// registered one for every thread: __rseq_size > 0), "own" (glibc did not,
// e.g. GLIBC_TUNABLES=glibc.pthread.rseq=0, so the thread registered its own
// on first use), or "none" (the kernel refused, or this build has no rseq
// add: every add is atomic).
const char* RseqRegistration();

// What the map answers as if it ran on (0 = read from this machine).
struct Options {
  // Possible CPUs: PERCPU buffers and slots scale with it; current-CPU
  // helpers fold sched_getcpu() onto [0, possible_cpus).
  uint32_t possible_cpus = 0;
  // The page size mmap rounds to and checks offsets against; 0 or one that
  // is not a multiple of this machine's page: this machine's.
  uint32_t page_size = 0;
  // Online NUMA nodes; numa_node >= this is EINVAL.
  uint32_t numa_nodes = 1;
  // The creator has CAP_PERFMON / CAP_SYS_ADMIN; when false, sizes are
  // checked as for max_entries rounded up to a power of two (E2BIG past
  // 2^31), as array_map_alloc does.
  bool bypass_spec_v1 = true;
  // Data larger than this is ENOMEM (0 = physical memory).
  uint64_t memory_limit_bytes = 0;
  // Release-dependent answers (the defaults are Linux 6.15+'s):
  // PROT_EXEC mappings are EPERM (the map's inode is on a noexec superblock
  // since 6.15); before, they are made.
  bool exec_mappings_refused = true;
  // Freeze needs a writable handle (EPERM through a read-only one, and for a
  // second freeze); before 6.5 (observed on 6.1) it does not, and a second
  // freeze is EBUSY.
  bool freeze_needs_write_permission = true;
  // bpf_spin_lock rules (core/kernel_profile.h has the kernel changes; the
  // defaults are 6.2+'s, the other values Linux 6.1's):
  // A misaligned lock is EFAULT at creation; when false the map is created
  // without a lock (attr().spin_lock_offset reads back negative).
  bool misaligned_spin_lock_refused = true;
  // BPF_F_WRONLY_PROG with a lock is EACCES; when false only
  // BPF_F_RDONLY_PROG is.
  bool spin_lock_refuses_wronly_prog = true;
  // The errno for a lock in a PERCPU_ARRAY (EOPNOTSUPP; 524, ENOTSUPP, on
  // 6.1).
  int spin_lock_wrong_map_type_errno = EOPNOTSUPP;
  // Freeze of a map with a lock is ENOTSUPP; when false it freezes.
  bool spin_lock_freeze_refused = true;
  // A syscall-face Lookup checks the handle's read permission (EPERM)
  // before its flags (EINVAL), as Linux does since 6.19; when false the
  // flags come first.
  bool lookup_read_permission_first = true;
  // BPF_F_RDONLY with BPF_F_WRONLY is EINVAL after every other creation
  // check (E2BIG, ENOMEM, EACCES...), as since Linux 7.2; when false it is
  // the first check after the lock's BTF checks.
  bool create_rdonly_wronly_checked_last = true;
  // Linux 7.0+ (the defaults): syscall lookups, updates and batches of a
  // PERCPU_ARRAY take BPF_F_CPU (one CPU's value_size bytes; the CPU in the
  // flags' upper 32 bits, ERANGE past possible_cpus) and updates
  // BPF_F_ALL_CPUS (one value_size buffer for every CPU), and the checks
  // follow include/linux/bpf.h bpf_map_check_op_flags(); false: both are
  // EINVAL, as before 7.0.
  bool percpu_cpu_flags = true;
  // A PERCPU_ARRAY syscall update writes each CPU's padding from the buffer
  // (before 7.0); false (7.0+): value_size bytes per CPU, padding untouched.
  bool percpu_update_writes_padding = false;
  // Linux 5.10's rules (core/kernel_profile.h has the kernel changes; the
  // defaults are 6.1+'s, the other values 5.10's):
  // PERCPU_ARRAY lookup and update batches work; when false they are
  // ENOTSUPP after the permission checks (before 5.13).
  bool percpu_array_batch_ops = true;
  // LookupAndDelete takes BPF_F_LOCK; when false any flags are EINVAL
  // before every other check (before 5.14).
  bool lookup_and_delete_takes_flags = true;
  // value_size is bounded by INT_MAX; when false by the page size << 10
  // (KMALLOC_MAX_SIZE, before 6.0).
  bool value_size_bounded_by_int_max = true;
  // When false (before 5.12), a lookup batch of count != 0 whose key_size +
  // value_size passes the page size << 10 (KMALLOC_MAX_SIZE) is ENOMEM
  // with count 0.
  bool batch_buffer_kvmalloced = true;
  // When true (before 5.11), a map whose cost reaches U32_MAX - page size
  // bytes is E2BIG before anything is allocated.
  bool map_cost_charged_to_memlock = false;
  // BPF_F_MMAPABLE maps of at most 256 KiB take their memfd from a small
  // process-wide cache of zeroed ones, and give it back zeroed when
  // destroyed, instead of creating, sizing and mapping a new one each time
  // (tens of microseconds: what a differential fuzzer creating one map per
  // input mostly spends). Only for callers that keep no mapping of the
  // memfd (MapFd::Mmap's or their own) past the map's destruction.
  bool recycle_memfd = false;
  // MapFd::Mmap of a BPF_F_MMAPABLE map hands out views instead of new
  // mappings: a writable one points into the map's own shared mapping of
  // its data, a read-only one into one read-only mapping of the whole data
  // region, made by the map's first read-only Mmap and kept until the map
  // goes (with recycle_memfd, until its memfd does). The checks, the errnos,
  // the writable-mapping count that Freeze sees and the bytes are the same;
  // only mmap(2) and munmap(2) are skipped (a few microseconds each, and the
  // page faults of every fresh mapping). The differences: a view has its
  // base's protection (read and write for a writable view, read for any
  // other, PROT_NONE and PROT_EXEC included), bytes past a view's length
  // (inside the data region) or after its Reset do not fault, and an
  // mprotect() of a view changes its base. For callers that check each
  // access against the mapping's length and protection themselves, as the
  // impl backend does (core::MappingTable).
  bool mapping_views = false;
  // The current-CPU AtomicAdd of a PERCPU_ARRAY (see PercpuAdd).
  PercpuAdd percpu_add = PercpuAdd::kAtomic;
};

// Closes the memfds (and unmaps the regions) that Options::recycle_memfd
// keeps for reuse; maps in use keep theirs. Call it when no more maps will be
// created for a while (ImplBackend does, when it is destroyed), so that no fd
// or mapping outlives their user.
void ReleaseRecycledMemfds();

// This machine's possible CPUs (/sys/devices/system/cpu/possible).
uint32_t HostPossibleCpus();

// The CPU the calling thread runs on: the cpu_id field of glibc's rseq area
// (kept current by the kernel on every return to user space; one load), or
// sched_getcpu() when rseq is not registered. Wait-free. The answer may be
// stale by the time it is used (the thread may migrate); callers only use
// it to pick a slot, and every slot write is atomic, so that is harmless.
inline uint32_t RawCurrentCpu() {
#if defined(AMC_IMPL_HAVE_RSEQ) && defined(__x86_64__)
  // glibc keeps the area in every thread's TCB; when registration is off or
  // failed, cpu_id holds RSEQ_CPU_ID_REGISTRATION_FAILED (negative).
  // The kernel writes it asynchronously, like a signal handler would; a
  // single aligned load sees one whole value.
  int32_t cpu;
  asm volatile("movl %%fs:4(%1), %0" : "=r"(cpu) : "r"(__rseq_offset));
  if (cpu >= 0) [[likely]] return static_cast<uint32_t>(cpu);
#elif defined(AMC_IMPL_HAVE_RSEQ) && defined(__aarch64__)
  const auto* area = reinterpret_cast<const struct rseq*>(
      static_cast<char*>(__builtin_thread_pointer()) + __rseq_offset);
  auto cpu = static_cast<int32_t>(
      __atomic_load_n(&area->cpu_id, __ATOMIC_RELAXED));
  if (cpu >= 0) return static_cast<uint32_t>(cpu);
#endif
  int c = sched_getcpu();
  return c < 0 ? 0 : static_cast<uint32_t>(c);
}

namespace internal {
// The calling thread's registered rseq area, or nullptr: glibc's (one load
// of the thread pointer) when glibc registered one, else one this thread
// registered on its first call (array_map.cc).
void* OwnRseqArea();
inline void* RseqArea() {
#if defined(AMC_IMPL_RSEQ_ADD)
  if (__rseq_size != 0) [[likely]] {
    char* thread_pointer;
    asm("movq %%fs:0, %0" : "=r"(thread_pointer));
    return thread_pointer + __rseq_offset;
  }
  return OwnRseqArea();
#else
  return nullptr;
#endif
}

#if defined(AMC_IMPL_RSEQ_ADD)
// Adds `delta` to the u64 at base + cpu * stride, cpu being the CPU the
// thread runs on at the store, as one restartable sequence on `area` (a
// registered struct rseq); *old gets the value before. false, with nothing
// written, when the area's cpu_id is not below `cpus` (negative: rseq not
// registered on this thread).
//
// The critical section runs from label 1 to label 2: read cpu_id, compute
// the slot, load it, add, store. The store is its last instruction (the
// commit), so a thread is either past it or the kernel moves it to the
// abort handler (label 4, after the RSEQ_SIG signature the kernel checks)
// when it preempts, migrates or signals it inside: the handler starts over
// from label 0, re-arming area->rseq_cs (the kernel clears it on abort).
// The descriptor (struct rseq_cs: version, flags, start_ip,
// post_commit_offset, abort_ip) is emitted in section __rseq_cs, with a
// pointer to it in __rseq_cs_ptr_array, as the kernel's selftests and
// librseq lay them out; the abort handler lives in __rseq_failure, out of
// the hot path. The "?" section flag puts all three in the section group of
// the code around them: when this function (or an inline caller) is
// emitted out of line as a COMDAT in several objects (unoptimized and
// sanitizer builds), the linker drops each discarded copy's descriptors
// with its code, instead of keeping descriptors that point into dropped
// code (a link error).
inline bool RseqAdd(void* area, uint8_t* base, uint64_t stride,
                    uint32_t cpus, uint64_t delta, uint64_t* old) {
  uint64_t before, scratch, slot;
  // asm goto: the CPU check leaves to no_cpu, so the sequence needs no
  // flag of its own (a third fewer instructions than with one).
  asm volatile goto(
      ".pushsection __rseq_cs, \"aw?\"\n\t"
      ".balign 32\n\t"
      "3:\n\t"
      ".long 0, 0\n\t"
      ".quad 1f, 2f - 1f, 4f\n\t"
      ".popsection\n\t"
      ".pushsection __rseq_cs_ptr_array, \"aw?\"\n\t"
      ".quad 3b\n\t"
      ".popsection\n\t"
      "0:\n\t"
      "leaq 3b(%%rip), %[scratch]\n\t"
      "movq %[scratch], 8(%[area])\n\t"
      "1:\n\t"
      "movl 4(%[area]), %k[slot]\n\t"
      "cmpl %[cpus], %k[slot]\n\t"
      "jae %l[no_cpu]\n\t"
      "imulq %[stride], %[slot]\n\t"
      "movq (%[base], %[slot]), %[before]\n\t"
      "leaq (%[before], %[delta]), %[scratch]\n\t"
      "movq %[scratch], (%[base], %[slot])\n\t"
      "2:\n\t"
      ".pushsection __rseq_failure, \"ax?\"\n\t"
      // ud1 with the signature as its displacement (RSEQ_SIG, the value
      // glibc registers with), never executed: the kernel reads the four
      // bytes before abort_ip.
      ".byte 0x0f, 0xb9, 0x3d\n\t"
      ".long 0x53053053\n\t"
      "4:\n\t"
      "jmp 0b\n\t"
      ".popsection\n\t"
      : [before] "=&r"(before), [scratch] "=&r"(scratch), [slot] "=&r"(slot)
      : [area] "r"(area), [base] "r"(base), [stride] "r"(stride),
        [cpus] "r"(cpus), [delta] "r"(delta)
      : "memory", "cc"
      : no_cpu);
  if (old) *old = before;
  return true;
no_cpu:
  return false;
}
#endif
}  // namespace internal

// Copies between private memory and memory other threads may access
// concurrently: every 8-byte word touched is read or written whole, by a
// relaxed 8-byte atomic access or, for long ranges on x86-64 processors
// with AVX, by an aligned 16-byte access (single-copy atomic there) that
// covers it and its neighbour. No ordering beyond relaxed.
// `shared` may have any alignment: the words containing the range are
// accessed whole, so the enclosing aligned words must be valid memory (true
// for any range inside the map's storage or a mapping of it).
// Load: wait-free. Store: lock-free (a CAS merges partly covered words).
void AtomicLoadBytes(void* dst, const void* shared, size_t n);
void AtomicStoreBytes(void* shared, const void* src, size_t n);

namespace internal {
// The PERCPU syscall-face copies of one key (bpf_percpu_array_copy /
// bpf_percpu_array_update without flags): for each of `cpus` CPUs, `n`
// bytes (a multiple of 8) between its slot, `shared` + cpu * stride
// (8-aligned), and the private buffer at cpu * `step`. Word-atomic like
// AtomicLoadBytes / AtomicStoreBytes, with no edge handling. Wait-free.
void CopyPercpuOut(uint8_t* out, const uint8_t* shared, uint64_t n,
                   uint64_t step, uint32_t cpus, uint64_t stride);
void CopyPercpuIn(uint8_t* shared, const uint8_t* in, uint64_t n,
                  uint64_t step, uint32_t cpus, uint64_t stride);
}  // namespace internal

class ArrayMap;

// One mmap() of a BPF_F_MMAPABLE map. Unmaps on destruction; a writable
// mapping counts against freezing until then. Do not munmap() it by hand.
class Mapping {
 public:
  Mapping() = default;
  Mapping(Mapping&& other) noexcept { *this = std::move(other); }
  Mapping& operator=(Mapping&& other) noexcept;
  ~Mapping() { Reset(); }
  void Reset();
  uint8_t* addr() const { return addr_; }
  uint64_t length() const { return length_; }
  bool writable() const { return writable_; }
  // A view (Options::mapping_views): Reset unmaps nothing.
  bool view() const { return view_; }

 private:
  friend class MapFd;
  ArrayMap* map_ = nullptr;
  uint8_t* addr_ = nullptr;
  uint64_t length_ = 0;
  bool writable_ = false;
  bool view_ = false;
};

// The syscall face: a map fd with its mode. Cheap to copy; the map must
// outlive it. Every call returns 0 or a positive errno, checked in the
// kernel's order (kernel/bpf/syscall.c, kernel/bpf/arraymap.c).
class MapFd {
 public:
  MapFd() = default;
  bool can_read() const { return can_read_; }
  bool can_write() const { return can_write_; }
  ArrayMap* map() const { return map_; }

  // BPF_MAP_LOOKUP_ELEM: writes value_buffer_size(flags) bytes to `value`
  // (with BPF_F_CPU on a 7.0+ PERCPU map: that CPU's value_size bytes).
  // Wait-free. Each word is a snapshot of that word at some instant during
  // the call; words of a wider value may come from different updates.
  // With BPF_F_LOCK (maps with a spin lock only): the copy is made under the
  // element's lock, so it is one whole value among the locked writes;
  // blocking while another thread holds the lock.
  int Lookup(uint32_t key, void* value, uint64_t flags = 0) const;
  // BPF_MAP_UPDATE_ELEM: reads value_buffer_size(flags) bytes from `value`
  // (PERCPU: every possible CPU's slot, its padding too unless
  // Options::percpu_update_writes_padding is false; one CPU's or all CPUs'
  // value_size bytes with BPF_F_CPU / BPF_F_ALL_CPUS). Wait-free when
  // value_size % 8 == 0 and there is no spin lock word, else lock-free.
  // With BPF_F_LOCK the copy is made under the element's lock (blocking).
  // An update racing with Freeze may still land (as in the kernel).
  int Update(uint32_t key, const void* value, uint64_t flags = 0) const;
  // BPF_MAP_DELETE_ELEM: arrays cannot delete (EINVAL). Wait-free.
  int Delete(uint32_t key) const;
  // BPF_MAP_LOOKUP_AND_DELETE_ELEM: not supported for arrays. Wait-free.
  int LookupAndDelete(uint32_t key, void* value, uint64_t flags = 0) const;
  // BPF_MAP_GET_NEXT_KEY; key == nullptr starts the walk. Wait-free, reads
  // no shared data.
  int GetNextKey(const uint32_t* key, uint32_t* next_key) const;
  // BPF_MAP_LOOKUP_BATCH (generic_map_lookup_batch): from in_batch
  // (exclusive; nullptr = start) copies up to *count keys and values
  // (value_buffer_size(elem_flags) apart); *count becomes the number copied and
  // *out_batch the last key copied (only written when one was). ENOENT when
  // the walk reached the end. *count is left alone on errors found before
  // the walk. Wait-free; no snapshot across elements. With elem_flags
  // BPF_F_LOCK each element is copied under its own lock (blocking).
  int LookupBatch(const uint32_t* in_batch, uint32_t* out_batch,
                  uint32_t* keys, void* values, uint32_t* count,
                  uint64_t elem_flags = 0, uint64_t flags = 0) const;
  // BPF_MAP_UPDATE_BATCH (generic_map_update_batch): applies *count
  // elements in order, stops at the first failure; *count becomes the
  // number applied. Progress as Update, per element (BPF_F_LOCK in
  // elem_flags takes each element's lock in turn).
  int UpdateBatch(const uint32_t* keys, const void* values, uint32_t* count,
                  uint64_t elem_flags = 0, uint64_t flags = 0) const;
  // BPF_MAP_DELETE_BATCH / BPF_MAP_LOOKUP_AND_DELETE_BATCH: not supported
  // for arrays (permission errors first). Wait-free.
  int DeleteBatch(const uint32_t* keys, uint32_t* count,
                  uint64_t elem_flags = 0, uint64_t flags = 0) const;
  int LookupAndDeleteBatch(const uint32_t* in_batch, uint32_t* out_batch,
                           uint32_t* keys, void* values, uint32_t* count,
                           uint64_t elem_flags = 0, uint64_t flags = 0) const;
  // BPF_MAP_FREEZE: closes the syscall write side for good. Lock-free (one
  // CAS against concurrent writable Mmap calls).
  int Freeze() const;
  // mmap(NULL, length, prot, flags, fd, offset) with the kernel's checks
  // (do_mmap, bpf_map_mmap, array_map_mmap); on success *out owns the
  // mapping. Lock-free in user space (one CAS); the mmap(2) call itself
  // takes the kernel's mm lock.
  int Mmap(uint64_t offset, uint64_t length, int prot, int flags,
           Mapping* out) const;

 private:
  friend class ArrayMap;
  MapFd(ArrayMap* map, bool can_read, bool can_write);
  // Slow paths, static and taking the handle by value so the fast paths
  // never let the handle's address escape (its fields can stay in
  // registers across a caller's loop).
  static int LookupChecked(MapFd fd, uint32_t key, void* value,
                           uint64_t flags);
  static int UpdateChecked(MapFd fd, uint32_t key, const void* value,
                           uint64_t flags);
  int UpdateValue(uint32_t key, const uint8_t* value, uint64_t flags) const;
  ArrayMap* map_ = nullptr;
  // Immutable geometry cached from the map, so a handle held in registers
  // serves the fast paths without touching the map object.
  uint8_t* data_ = nullptr;
  uint64_t elem_size_ = 0;
  uint32_t max_entries_ = 0;
  // max_entries when this fd may read (write, for ARRAY), else 0: one
  // compare admits a call to the fast path.
  uint32_t read_limit_ = 0;
  uint32_t write_limit_ = 0;
  bool fast_word_ = false;
  bool whole_words_ = false;
  bool has_lock_ = false;
  bool percpu_ = false;
  // PERCPU geometry, and max_entries when this fd may write a PERCPU map
  // with whole words per CPU (percpu_update_bytes_ % 8 == 0), else 0.
  uint32_t cpus_ = 1;
  uint64_t cpu_stride_ = 0;
  uint64_t percpu_update_bytes_ = 0;
  uint32_t percpu_write_limit_ = 0;
  bool can_read_ = false;
  bool can_write_ = false;
};

class ArrayMap {
 public:
  // BPF_MAP_CREATE: 0 and *out set, or the kernel's errno (EINVAL, E2BIG,
  // ENOMEM) in the kernel's check order. When the map passed every check
  // but this process could not get its storage (memfd_create, ftruncate,
  // mmap, calloc failed), the answer is ENOMEM as the kernel's would be, and
  // `host_failure` (when given) gets that call's errno: a caller comparing
  // against the kernel's rules (amc's harness) can tell the two apart.
  static int Create(const MapAttr& attr, const Options& options,
                    std::unique_ptr<ArrayMap>* out,
                    int* host_failure = nullptr);
  ~ArrayMap();
  ArrayMap(const ArrayMap&) = delete;
  ArrayMap& operator=(const ArrayMap&) = delete;

  // The fd BPF_MAP_CREATE returned: its mode follows BPF_F_RDONLY /
  // BPF_F_WRONLY.
  MapFd fd() { return MapFd(this, !(attr_.map_flags & kFWronly),
                            !(attr_.map_flags & kFRdonly)); }
  // Another fd on the same map, e.g. from BPF_OBJ_GET with file_flags.
  MapFd OpenFd(bool can_read, bool can_write) {
    return MapFd(this, can_read, can_write);
  }

  const MapAttr& attr() const { return attr_; }
  bool percpu() const { return attr_.type == MapType::kPercpuArray; }
  uint32_t max_entries() const { return attr_.max_entries; }
  uint32_t value_size() const { return attr_.value_size; }
  uint64_t elem_size() const { return elem_size_; }
  uint32_t possible_cpus() const { return cpus_; }
  // Distance between two CPUs' arrays (0 for ARRAY).
  uint64_t cpu_stride() const { return cpu_stride_; }
  // Syscall value buffer per key: ARRAY value_size, PERCPU elem_size * CPUs.
  uint64_t value_buffer_size() const {
    return percpu() ? elem_size_ * cpus_ : attr_.value_size;
  }
  // The buffer per key of an op with element flags `flags`: value_size with
  // BPF_F_CPU or BPF_F_ALL_CPUS under Options::percpu_cpu_flags
  // (bpf_map_value_size), else value_buffer_size().
  uint64_t value_buffer_size(uint64_t flags) const {
    return percpu_cpu_flags_ && (flags & (kFCpu | kFAllCpus))
               ? attr_.value_size
               : value_buffer_size();
  }
  // The mappable region: PAGE_ALIGN(max_entries * elem_size), 0 unless
  // BPF_F_MMAPABLE (and 0 for a map with a spin lock, which cannot be
  // mapped).
  uint64_t mmap_region_size() const { return mmap_region_size_; }
  // Bytes of storage held for the data.
  uint64_t storage_bytes() const { return storage_bytes_; }
  bool frozen() const {
    return state_.load(std::memory_order_relaxed) & kFrozenBit;
  }
  // The memfd of a BPF_F_MMAPABLE map (-1 otherwise), owned by the map.
  int memfd() const { return memfd_; }
  // Start of the data (CPU 0, element 0). Access it atomically.
  uint8_t* data() const { return data_; }

  // Copies key's syscall value buffer, ignoring fd modes and freezing (the
  // kernel's bpf_map_copy_value). key must be < max_entries. Wait-free.
  void CopyValue(uint32_t key, void* out) const;
  // CopyValue for keys first, first + 1, ..., first + count - 1, their
  // buffers back to back (count * value_buffer_size() bytes): what a batch
  // lookup of those keys copies. Keys must be < max_entries. Wait-free.
  void CopyValues(uint32_t first, uint32_t count, void* out) const;
  // BPF_F_CPU's copy: value_size bytes of CPU `cpu`'s slot of `key`
  // (cpu < possible_cpus, key < max_entries). Wait-free.
  void CopyValueOnCpu(uint32_t key, uint32_t cpu, void* out) const;

  // ---- the helper face ----
  // The calling thread's CPU, folded onto [0, possible_cpus). Wait-free.
  uint32_t CurrentCpu() const {
    uint32_t cpu = RawCurrentCpu();
    return cpu < cpus_ ? cpu : cpu % cpus_;
  }
  // bpf_map_lookup_elem: the element (PERCPU: this CPU's slot), 8-byte
  // aligned, or nullptr for key >= max_entries. Wait-free; touches no data.
  void* Lookup(uint32_t key) const {
    if (!percpu()) {
      if (key >= attr_.max_entries) [[unlikely]] return nullptr;
      return data_ + key * elem_size_;
    }
    const uint32_t cpu = CurrentCpu();  // already < possible_cpus
    if (key >= attr_.max_entries) [[unlikely]] return nullptr;
    return data_ + cpu * cpu_stride_ + key * elem_size_;
  }
  // The element as seen from `cpu` (ARRAY ignores cpu); nullptr for a bad
  // key or cpu >= possible_cpus. Wait-free.
  void* LookupOnCpu(uint32_t key, uint32_t cpu) const {
    if (key >= attr_.max_entries || cpu >= cpus_) [[unlikely]] return nullptr;
    return data_ + (percpu() ? cpu * cpu_stride_ : 0) + key * elem_size_;
  }
  // bpf_map_lookup_percpu_elem: nullptr unless PERCPU with a good key/cpu.
  void* LookupPercpu(uint32_t key, uint32_t cpu) const {
    return percpu() ? LookupOnCpu(key, cpu) : nullptr;
  }
  // bpf_map_update_elem: 0 or a negative errno from array_map_update_elem's
  // checks; writes value_size bytes (PERCPU: into the current / given CPU's
  // slot only), padding and spin lock word untouched. Progress as
  // MapFd::Update; with BPF_F_LOCK the write is made under the element's
  // lock (copy_map_value_locked), blocking, so the caller must not hold
  // that element's lock (the kernel's verifier refuses helper calls while a
  // lock is held; here it would spin forever).
  long UpdateElem(uint32_t key, const void* value, uint64_t flags = 0) const {
    return UpdateElemOnCpu(key, value, flags, percpu() ? CurrentCpu() : 0);
  }
  long UpdateElemOnCpu(uint32_t key, const void* value, uint64_t flags,
                       uint32_t cpu) const;
  // bpf_map_delete_elem: always -EINVAL. Wait-free.
  long DeleteElem(uint32_t /*key*/) const { return -EINVAL; }
  // bpf_spin_lock(&value->lock) / bpf_spin_unlock(&value->lock) for a map
  // with a spin lock: `value` is an element pointer from Lookup*() of this
  // map. SpinLock spins (test and test-and-set with a pause) until it holds
  // the element's lock; acquire. SpinUnlock releases it; release. Between
  // them a program may read and write the element's other words (with
  // atomic accesses, e.g. AtomicLoadBytes / AtomicStoreBytes) and no
  // BPF_F_LOCK copy of that element runs: a multi-word update made there is
  // seen whole by BPF_F_LOCK readers. Not reentrant; do not call a
  // BPF_F_LOCK op on the same element while holding it. Calling either on a
  // map without a spin lock is a programming error (the verifier refuses
  // it); they do nothing then.
  void SpinLock(void* value) const;
  void SpinUnlock(void* value) const;
  bool has_spin_lock() const { return attr_.spin_lock_offset >= 0; }
  // Whether current-CPU adds use the restartable sequence (Options::
  // percpu_add is kRseq, the map is PERCPU, this build has the rseq add and
  // possible_cpus >= this machine's); a thread without rseq still falls
  // back to the atomic add.
  bool rseq_add() const { return rseq_add_; }

  // __sync_fetch_and_add on the u64 at `offset` (8-aligned, + 8 <=
  // value_size) of the element (PERCPU: the current / given CPU's slot).
  // Returns false (nothing done) for a bad key, cpu or offset; else the
  // value before the add in *old. Relaxed: a counter publishes nothing; the
  // RMW's atomicity alone makes concurrent adds exact. Wait-free on x86-64
  // (one LOCK XADD), lock-free on LL/SC machines. A PERCPU map made with
  // Options::percpu_add = kRseq adds on the current CPU with a restartable
  // sequence instead (rseq_add(); see PercpuAdd for its contract):
  // lock-free (a sequence restarts only when the kernel interrupted it).
  bool AtomicAdd(uint32_t key, uint32_t offset, uint64_t delta,
                 uint64_t* old = nullptr) const {
    if (offset % 8 != 0 || uint64_t{offset} + 8 > attr_.value_size ||
        key >= attr_.max_entries) [[unlikely]] {
      return false;
    }
    uint8_t* elem = data_ + key * elem_size_;
#if defined(AMC_IMPL_RSEQ_ADD)
    if (rseq_add_) [[likely]] {  // a PERCPU map
      if (__rseq_size != 0) [[likely]] {
        // glibc's area, at a fixed offset from the thread pointer.
        char* thread_pointer;
        asm("movq %%fs:0, %0" : "=r"(thread_pointer));
        if (internal::RseqAdd(thread_pointer + __rseq_offset, elem + offset,
                              cpu_stride_, cpus_, delta, old)) [[likely]] {
          return true;
        }
      } else if (void* area = internal::OwnRseqArea();
                 area != nullptr &&
                 internal::RseqAdd(area, elem + offset, cpu_stride_, cpus_,
                                   delta, old)) {
        return true;
      }
    }
#endif
    if (percpu()) elem += CurrentCpu() * cpu_stride_;
    uint64_t before =
        std::atomic_ref<uint64_t>(*reinterpret_cast<uint64_t*>(elem + offset))
            .fetch_add(delta, std::memory_order_relaxed);
    if (old) *old = before;
    return true;
  }
  bool AtomicAddOnCpu(uint32_t key, uint32_t offset, uint64_t delta,
                      uint32_t cpu, uint64_t* old = nullptr) const {
    if (offset % 8 != 0 || uint64_t{offset} + 8 > attr_.value_size) {
      return false;
    }
    auto* elem = static_cast<uint8_t*>(LookupOnCpu(key, cpu));
    if (elem == nullptr) return false;
    uint64_t before =
        std::atomic_ref<uint64_t>(*reinterpret_cast<uint64_t*>(elem + offset))
            .fetch_add(delta, std::memory_order_relaxed);
    if (old) *old = before;
    return true;
  }

 private:
  friend class MapFd;
  friend class Mapping;
  ArrayMap() = default;
  // Writes value_size bytes of `value` into the slot at `slot`, skipping the
  // spin lock word.
  void WriteValue(uint8_t* slot, const uint8_t* value) const;
  void ReadValue(const uint8_t* slot, uint8_t* out, uint64_t n) const;
  // BPF_F_LOCK copies (copy_map_value_locked): WriteValue / CopyValue of an
  // ARRAY element under its spin lock.
  void WriteValueLocked(uint8_t* slot, const uint8_t* value) const;
  void CopyValueLocked(uint32_t key, void* out) const;
  // include/linux/bpf.h bpf_map_check_op_flags() (Options::percpu_cpu_flags);
  // before 7.0, the element-flag check of lookups and batches it replaced.
  int CheckOpFlags(uint64_t flags, uint64_t allowed) const;

  static constexpr uint64_t kFrozenBit = uint64_t{1} << 63;

  MapAttr attr_;
  uint64_t elem_size_ = 0;
  uint32_t cpus_ = 1;
  uint64_t cpu_stride_ = 0;
  uint64_t mmap_region_size_ = 0;
  uint64_t storage_bytes_ = 0;
  uint64_t page_size_ = 4096;
  bool exec_mappings_refused_ = true;
  bool freeze_needs_write_permission_ = true;
  bool spin_lock_freeze_refused_ = true;
  bool lookup_read_permission_first_ = true;
  bool percpu_cpu_flags_ = true;              // Options::percpu_cpu_flags
  bool percpu_update_writes_padding_ = false;  // Options::percpu_update_...
  bool percpu_array_batch_ops_ = true;
  bool lookup_and_delete_takes_flags_ = true;
  bool batch_buffer_kvmalloced_ = true;
  bool recycle_memfd_ = false;  // Options::recycle_memfd
  bool mapping_views_ = false;  // Options::mapping_views
  bool rseq_add_ = false;       // see rseq_add()
  uint8_t* data_ = nullptr;
  // ARRAY with value_size 8 and no spin lock: copies are one word.
  bool fast_word_ = false;
  // ARRAY with value_size % 8 == 0 and no spin lock: copies are whole
  // words, and packed syscall buffers have the storage's stride.
  bool whole_words_ = false;
  // Where the data lives: heap (small), anonymous mapping (large), or the
  // memfd (BPF_F_MMAPABLE).
  enum class Storage : uint8_t { kHeap, kAnonymous, kMemfd };
  Storage storage_ = Storage::kHeap;
  void* heap_ = nullptr;  // what calloc returned, for kHeap
  int memfd_ = -1;
  // The memfd reopened O_RDONLY for read-only mappings, opened by the first
  // one (-1 until then).
  mutable std::atomic<int> memfd_ro_{-1};
  int ReadOnlyMemfd() const;
  // Options::mapping_views: the read-only mapping of the whole data region
  // that read-only views point into, made by the first one (null until
  // then, and when it cannot be made).
  mutable std::atomic<uint8_t*> ro_view_{nullptr};
  uint8_t* ReadOnlyView() const;
  // Freeze bit | number of live writable mappings. Freeze and writable Mmap
  // CAS it so neither can slip past the other (the kernel's freeze_mutex
  // and writecnt, without the mutex).
  mutable std::atomic<uint64_t> state_{0};
};

// ---- inline fast paths of the syscall face ----

inline MapFd::MapFd(ArrayMap* map, bool can_read, bool can_write)
    : map_(map),
      data_(map->data_),
      elem_size_(map->elem_size_),
      max_entries_(map->attr_.max_entries),
      read_limit_(can_read ? map->attr_.max_entries : 0),
      write_limit_(can_write && !map->percpu() ? map->attr_.max_entries : 0),
      fast_word_(map->fast_word_),
      whole_words_(map->whole_words_),
      has_lock_(map->attr_.spin_lock_offset >= 0),
      percpu_(map->percpu()),
      cpus_(map->cpus_),
      cpu_stride_(map->cpu_stride_),
      // bpf_percpu_array_update without flags: each CPU's padding too
      // before 7.0, value_size bytes since.
      percpu_update_bytes_(map->percpu_update_writes_padding_
                               ? map->elem_size_
                               : map->attr_.value_size),
      percpu_write_limit_(can_write && map->percpu() &&
                                  percpu_update_bytes_ % 8 == 0
                              ? map->attr_.max_entries
                              : 0),
      can_read_(can_read),
      can_write_(can_write) {}

inline int MapFd::Lookup(uint32_t key, void* value, uint64_t flags) const {
  // Fast path: no flags, readable fd, key in range, ARRAY of whole words.
  if (flags == 0 && key < read_limit_) [[likely]] {
    if (fast_word_) {
      uint64_t v = std::atomic_ref<uint64_t>(
                       *reinterpret_cast<uint64_t*>(data_ + uint64_t{key} * 8))
                       .load(std::memory_order_relaxed);
      std::memcpy(value, &v, 8);
      return 0;
    }
    if (whole_words_) {
      // Large values take AtomicLoadBytes, which moves them in wider blocks
      // where those are atomic too.
      if (elem_size_ > 64) {
        AtomicLoadBytes(value, data_ + key * elem_size_, elem_size_);
        return 0;
      }
      const auto src = reinterpret_cast<uintptr_t>(data_ + key * elem_size_);
      auto* dst = static_cast<uint8_t*>(value);
      for (uint64_t i = 0; i < elem_size_; i += 8) {
        uint64_t v =
            std::atomic_ref<uint64_t>(*reinterpret_cast<uint64_t*>(src + i))
                .load(std::memory_order_relaxed);
        std::memcpy(dst + i, &v, 8);
      }
      return 0;
    }
    if (percpu_) {
      // bpf_percpu_array_copy: elem_size bytes (padding too) per CPU.
      const uint8_t* src = data_ + uint64_t{key} * elem_size_;
      auto* dst = static_cast<uint8_t*>(value);
      if (elem_size_ == 8) {
        for (uint32_t cpu = 0; cpu < cpus_; ++cpu, src += cpu_stride_) {
          const uint64_t v = std::atomic_ref<uint64_t>(
                                 *reinterpret_cast<uint64_t*>(
                                     const_cast<uint8_t*>(src)))
                                 .load(std::memory_order_relaxed);
          std::memcpy(dst + 8 * cpu, &v, 8);
        }
        return 0;
      }
      internal::CopyPercpuOut(dst, src, elem_size_, elem_size_, cpus_,
                              cpu_stride_);
      return 0;
    }
  }
  return LookupChecked(*this, key, value, flags);
}

inline int MapFd::Update(uint32_t key, const void* value,
                         uint64_t flags) const {
  // Fast path: BPF_ANY on a writable ARRAY fd, key in range.
  if (flags == 0 && key < write_limit_) [[likely]] {
    if (map_->frozen()) [[unlikely]] return EPERM;
    if (fast_word_) {
      uint64_t v;
      std::memcpy(&v, value, 8);
      std::atomic_ref<uint64_t>(*reinterpret_cast<uint64_t*>(data_ + uint64_t{key} * 8))
          .store(v, std::memory_order_relaxed);
      return 0;
    }
    map_->WriteValue(data_ + key * elem_size_,
                     static_cast<const uint8_t*>(value));
    return 0;
  }
  // PERCPU, no flags, whole words per CPU (bpf_percpu_array_update).
  if (flags == 0 && key < percpu_write_limit_) [[likely]] {
    if (map_->frozen()) [[unlikely]] return EPERM;
    uint8_t* dst = data_ + uint64_t{key} * elem_size_;
    const auto* src = static_cast<const uint8_t*>(value);
    if (percpu_update_bytes_ == 8) {
      for (uint32_t cpu = 0; cpu < cpus_; ++cpu, dst += cpu_stride_) {
        uint64_t v;
        std::memcpy(&v, src + cpu * elem_size_, 8);
        std::atomic_ref<uint64_t>(*reinterpret_cast<uint64_t*>(dst))
            .store(v, std::memory_order_relaxed);
      }
      return 0;
    }
    internal::CopyPercpuIn(dst, src, percpu_update_bytes_, elem_size_, cpus_,
                           cpu_stride_);
    return 0;
  }
  return UpdateChecked(*this, key, value, flags);
}

inline int MapFd::UpdateValue(uint32_t key, const uint8_t* value,
                              uint64_t flags) const {
  const ArrayMap& m = *map_;
  if (!percpu_) {
    // arraymap.c array_map_update_elem.
    if ((flags & ~kFLock) > kExist) [[unlikely]] return EINVAL;
    if (key >= max_entries_) [[unlikely]] return E2BIG;
    if (flags & kNoexist) [[unlikely]] return EEXIST;
    if (fast_word_) {
      uint64_t v;
      std::memcpy(&v, value, 8);
      std::atomic_ref<uint64_t>(*reinterpret_cast<uint64_t*>(data_ + uint64_t{key} * 8))
          .store(v, std::memory_order_relaxed);
      return 0;
    }
    // BPF_F_LOCK was checked against the map's lock by the caller.
    if (flags & kFLock) [[unlikely]] {
      m.WriteValueLocked(m.data_ + key * m.elem_size_, value);
      return 0;
    }
    m.WriteValue(m.data_ + key * m.elem_size_, value);
    return 0;
  }
  // arraymap.c bpf_percpu_array_update: before 7.0 the whole flags word
  // above BPF_EXIST is EINVAL; since 7.0 BPF_F_LOCK or (u32)flags above
  // BPF_F_ALL_CPUS (BPF_NOEXIST|BPF_EXIST updates), and only flags ==
  // BPF_NOEXIST exactly is EEXIST.
  if (m.percpu_cpu_flags_) {
    if ((flags & kFLock) || static_cast<uint32_t>(flags) > kFAllCpus) {
      return EINVAL;
    }
  } else if (flags > kExist) {
    return EINVAL;
  }
  if (key >= m.attr_.max_entries) return E2BIG;
  if (flags == kNoexist) return EEXIST;
  uint8_t* const slot = m.data_ + key * m.elem_size_;
  if (m.percpu_cpu_flags_ && (flags & kFCpu)) {
    AtomicStoreBytes(slot + (flags >> 32) * m.cpu_stride_, value,
                     m.attr_.value_size);
    return 0;
  }
  const bool all = m.percpu_cpu_flags_ && (flags & kFAllCpus);
  // copy_map_value_long (the padding too) before 7.0, copy_map_value after.
  const uint64_t length = m.percpu_update_writes_padding_ && !all
                              ? m.elem_size_
                              : m.attr_.value_size;
  for (uint32_t cpu = 0; cpu < m.cpus_; ++cpu) {
    AtomicStoreBytes(slot + cpu * m.cpu_stride_,
                     all ? value : value + cpu * m.elem_size_, length);
  }
  return 0;
}

}  // namespace amc::impl

#endif  // AMC_IMPL_ARRAY_MAP_H_
