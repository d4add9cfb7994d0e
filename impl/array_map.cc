// impl/array_map.cc: creation, storage and the out-of-line paths of the
// lock-free array maps (see amc/array_map.h for the guarantees).
#include "amc/array_map.h"

#include "memfd_cache.h"

#include <fcntl.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <climits>
#include <cstdlib>
#include <fstream>
#include <string>

// Byte-copy loops stay out of coverage instrumentation in fuzzing builds, as
// AMC_COPY_LOOP in core/coverage.h (amc_impl includes nothing of the project).
#if defined(__clang__)
#define AMC_COPY_LOOP __attribute__((noinline, no_sanitize("coverage")))
#else
#define AMC_COPY_LOOP
#endif

// Word-atomic copies of large ranges use 16-byte SSE accesses on x86-64
// (see WideAccessesAreAtomic), except under ThreadSanitizer, which models
// only the C++ atomics: its builds check the 8-byte path.
#if defined(__SANITIZE_THREAD__)
#define AMC_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define AMC_TSAN 1
#endif
#endif
#if defined(__x86_64__) && !defined(AMC_TSAN)
#define AMC_WIDE_COPIES 1
#include <immintrin.h>
#endif

namespace amc::impl {
namespace {

// kernel/bpf/arraymap.c: the create flags arrays accept.
constexpr uint32_t kArrayCreateFlagMask = kFNumaNode | kFMmapable | kFRdonly |
                                          kFWronly | kFRdonlyProg |
                                          kFWronlyProg | kFPreserveElems |
                                          kFInnerMap;
// include/linux/percpu.h: PCPU_MIN_UNIT_SIZE bounds one per-CPU element.
constexpr uint64_t kPcpuMinUnitSize = 32768;
constexpr uint32_t kSpinLockSize = 4;
// Per-CPU arrays start on their own cache line.
constexpr uint64_t kCacheLine = 64;
// Data up to this size lives on the heap (calloc: reused memory is
// cleared, fresh memory comes zeroed and lazily backed); larger data in
// lazily backed anonymous memory of its own.
constexpr uint64_t kHeapStorageMax = uint64_t{16} << 20;
// Mappable regions up to this size are populated at creation.
constexpr uint64_t kPopulateMax = uint64_t{256} << 10;

uint64_t RoundUp(uint64_t n, uint64_t to) { return (n + to - 1) / to * to; }

std::atomic_ref<uint64_t> Word(uintptr_t address) {
  return std::atomic_ref<uint64_t>(*reinterpret_cast<uint64_t*>(address));
}

uint32_t HostCpusOnce();

// Read once (sysconf(_SC_PHYS_PAGES) is a sysinfo() call).
uint64_t PhysicalMemory() {
  static const uint64_t bytes = [] {
    long pages = sysconf(_SC_PHYS_PAGES);
    long page = sysconf(_SC_PAGESIZE);
    if (pages <= 0 || page <= 0) return uint64_t{16} << 30;
    return static_cast<uint64_t>(pages) * static_cast<uint64_t>(page);
  }();
  return bytes;
}

}  // namespace

uint32_t HostPossibleCpus() {
  std::ifstream in("/sys/devices/system/cpu/possible");
  std::string text;
  if (in && std::getline(in, text)) {
    // A CPU list: "0-3,5".
    uint32_t count = 0;
    size_t at = 0;
    bool ok = true;
    while (at < text.size() && ok) {
      size_t end = text.find(',', at);
      if (end == std::string::npos) end = text.size();
      std::string part = text.substr(at, end - at);
      size_t dash = part.find('-');
      try {
        if (dash == std::string::npos) {
          std::stoul(part);
          ++count;
        } else {
          unsigned long lo = std::stoul(part.substr(0, dash));
          unsigned long hi = std::stoul(part.substr(dash + 1));
          ok = hi >= lo;
          count += static_cast<uint32_t>(hi - lo + 1);
        }
      } catch (...) {
        ok = false;
      }
      at = end + 1;
    }
    if (ok && count > 0) return count;
  }
  long n = sysconf(_SC_NPROCESSORS_CONF);
  return n > 0 ? static_cast<uint32_t>(n) : 1;
}

namespace {
// HostPossibleCpus() read once (it reads a file).
uint32_t HostCpusOnce() {
  static const uint32_t cpus = HostPossibleCpus();
  return cpus;
}
}  // namespace

namespace internal {
#if defined(AMC_IMPL_RSEQ_ADD)
namespace {
// The area a thread registers itself when glibc registered none (the
// kernel takes one area per thread: with glibc's in place, a second
// registration is EBUSY, so it is only tried when __rseq_size is 0). The
// kernel writes cpu_id into it until the thread exits; the area lives in
// the thread's static TLS, so it lasts exactly as long.
thread_local struct rseq own_rseq_area __attribute__((aligned(32)));
// 0: not tried yet; 1: registered; 2: refused (no rseq: every add atomic).
thread_local int own_rseq_state = 0;
constexpr uint32_t kRseqSignature = 0x53053053;  // glibc's RSEQ_SIG on x86
}  // namespace

void* OwnRseqArea() {
  if (own_rseq_state == 0) {
    own_rseq_area.cpu_id = static_cast<uint32_t>(RSEQ_CPU_ID_UNINITIALIZED);
    const long r = syscall(SYS_rseq, &own_rseq_area, sizeof(own_rseq_area),
                           0, kRseqSignature);
    own_rseq_state = r == 0 ? 1 : 2;
  }
  return own_rseq_state == 1 ? &own_rseq_area : nullptr;
}
#else
void* OwnRseqArea() { return nullptr; }
#endif
}  // namespace internal

const char* RseqRegistration() {
#if defined(AMC_IMPL_RSEQ_ADD)
  void* area = internal::RseqArea();
  if (area == nullptr) return "none";
  // glibc's area with a failed registration reads a negative cpu_id.
  const auto cpu = static_cast<int32_t>(
      __atomic_load_n(&static_cast<struct rseq*>(area)->cpu_id,
                      __ATOMIC_RELAXED));
  if (cpu < 0) return "none";
  return __rseq_size != 0 ? "glibc" : "own";
#else
  return "none";
#endif
}

namespace {

// Copies n < 8 bytes with constant-size copies (no library call).
inline void CopyShort(uint8_t* to, const uint8_t* from, size_t n) {
  if (n & 4) {
    std::memcpy(to, from, 4);
    to += 4;
    from += 4;
  }
  if (n & 2) {
    std::memcpy(to, from, 2);
    to += 2;
    from += 2;
  }
  if (n & 1) *to = *from;
}

// Stores bytes [skip, skip + take) of the word at `word` (take < 8) from
// `in`, keeping the word's other bytes: a CAS loop, where a failure means
// another thread wrote the word, so some thread made progress.
void MergeIntoWord(uintptr_t word, size_t skip, const uint8_t* in,
                   size_t take) {
  static constexpr uint8_t kOnes[8] = {0xff, 0xff, 0xff, 0xff,
                                       0xff, 0xff, 0xff, 0xff};
  uint64_t mask = 0, bits = 0;
  CopyShort(reinterpret_cast<uint8_t*>(&mask) + skip, kOnes, take);
  CopyShort(reinterpret_cast<uint8_t*>(&bits) + skip, in, take);
  auto w = Word(word);
  uint64_t old = w.load(std::memory_order_relaxed);
  while (!w.compare_exchange_weak(old, (old & ~mask) | bits,
                                  std::memory_order_relaxed,
                                  std::memory_order_relaxed)) {
  }
}

#if defined(AMC_WIDE_COPIES)
// Whether a 16-byte aligned SSE load or store is single-copy atomic on this
// processor: guaranteed on every processor with AVX (Intel SDM vol. 3A
// 9.1.1, "Guaranteed Atomic Operations"; AMD APM vol. 2 7.3.2, "Access
// Atomicity"), which GCC's libatomic relies on for its 16-byte atomics.
// Such an access reads or writes each of its two 8-byte words whole, as a
// relaxed 8-byte atomic would, at under half the instructions per byte.
// Read once, at start-up (a copy made before then takes the 8-byte path).
const bool kWideAccessesAreAtomic = [] {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx") != 0;
}();

// The 16-byte accesses are volatile: each is exactly one access, never
// split, merged, repeated or dropped by the compiler.
using Wide = __m128i;
constexpr size_t kWideBlock = 4 * sizeof(Wide);
#endif

}  // namespace

AMC_COPY_LOOP void AtomicLoadBytes(void* dst, const void* shared, size_t n) {
  auto* out = static_cast<uint8_t*>(dst);
  uintptr_t at = reinterpret_cast<uintptr_t>(shared);
  if (n == 0) return;
  // A partly covered first word.
  if (size_t in = at % 8; in != 0) {
    const size_t take = std::min<size_t>(8 - in, n);
    uint64_t v = Word(at - in).load(std::memory_order_relaxed);
    CopyShort(out, reinterpret_cast<uint8_t*>(&v) + in, take);
    out += take;
    at += take;
    n -= take;
  }
#if defined(AMC_WIDE_COPIES)
  // Large ranges: one word to reach a 16-byte boundary, then four aligned
  // 16-byte loads at a time (about 3x the 8-byte loop).
  if (n >= 2 * kWideBlock && kWideAccessesAreAtomic) {
    if (at % sizeof(Wide) != 0) {
      const uint64_t v = Word(at).load(std::memory_order_relaxed);
      std::memcpy(out, &v, 8);
      n -= 8;
      at += 8;
      out += 8;
    }
    for (; n >= kWideBlock; n -= kWideBlock, at += kWideBlock, out += kWideBlock) {
      const auto* p = reinterpret_cast<const volatile Wide*>(at);
      const Wide v0 = p[0], v1 = p[1], v2 = p[2], v3 = p[3];
      _mm_storeu_si128(reinterpret_cast<Wide*>(out), v0);
      _mm_storeu_si128(reinterpret_cast<Wide*>(out) + 1, v1);
      _mm_storeu_si128(reinterpret_cast<Wide*>(out) + 2, v2);
      _mm_storeu_si128(reinterpret_cast<Wide*>(out) + 3, v3);
    }
  }
#endif
  // Whole words, four at a time: independent relaxed loads, which the
  // compiler may not merge or vectorize, so the unrolling is by hand (about
  // 1.6x the one-word loop on large values).
  for (; n >= 32; n -= 32, at += 32, out += 32) {
    const uint64_t v0 = Word(at).load(std::memory_order_relaxed);
    const uint64_t v1 = Word(at + 8).load(std::memory_order_relaxed);
    const uint64_t v2 = Word(at + 16).load(std::memory_order_relaxed);
    const uint64_t v3 = Word(at + 24).load(std::memory_order_relaxed);
    std::memcpy(out, &v0, 8);
    std::memcpy(out + 8, &v1, 8);
    std::memcpy(out + 16, &v2, 8);
    std::memcpy(out + 24, &v3, 8);
  }
  for (; n >= 8; n -= 8, at += 8, out += 8) {
    uint64_t v = Word(at).load(std::memory_order_relaxed);
    std::memcpy(out, &v, 8);
  }
  // A partly covered last word.
  if (n > 0) {
    uint64_t v = Word(at).load(std::memory_order_relaxed);
    CopyShort(out, reinterpret_cast<uint8_t*>(&v), n);
  }
}

AMC_COPY_LOOP void AtomicStoreBytes(void* shared, const void* src, size_t n) {
  auto* in = static_cast<const uint8_t*>(src);
  uintptr_t at = reinterpret_cast<uintptr_t>(shared);
  if (n == 0) return;
  if (size_t skip = at % 8; skip != 0) {
    const size_t take = std::min<size_t>(8 - skip, n);
    MergeIntoWord(at - skip, skip, in, take);
    in += take;
    at += take;
    n -= take;
  }
#if defined(AMC_WIDE_COPIES)
  // Large ranges: aligned 16-byte stores (see AtomicLoadBytes).
  if (n >= 2 * kWideBlock && kWideAccessesAreAtomic) {
    if (at % sizeof(Wide) != 0) {
      uint64_t v;
      std::memcpy(&v, in, 8);
      Word(at).store(v, std::memory_order_relaxed);
      n -= 8;
      at += 8;
      in += 8;
    }
    for (; n >= kWideBlock; n -= kWideBlock, at += kWideBlock, in += kWideBlock) {
      auto* p = reinterpret_cast<volatile Wide*>(at);
      const auto* from = reinterpret_cast<const Wide*>(in);
      p[0] = _mm_loadu_si128(from);
      p[1] = _mm_loadu_si128(from + 1);
      p[2] = _mm_loadu_si128(from + 2);
      p[3] = _mm_loadu_si128(from + 3);
    }
  }
#endif
  // Whole words, four at a time (see AtomicLoadBytes).
  for (; n >= 32; n -= 32, at += 32, in += 32) {
    uint64_t v[4];
    std::memcpy(v, in, 32);
    Word(at).store(v[0], std::memory_order_relaxed);
    Word(at + 8).store(v[1], std::memory_order_relaxed);
    Word(at + 16).store(v[2], std::memory_order_relaxed);
    Word(at + 24).store(v[3], std::memory_order_relaxed);
  }
  for (; n >= 8; n -= 8, at += 8, in += 8) {
    uint64_t v;
    std::memcpy(&v, in, 8);
    Word(at).store(v, std::memory_order_relaxed);
  }
  if (n > 0) MergeIntoWord(at, 0, in, n);
}

namespace {
// n bytes (a multiple of 8) from shared `from` (8-aligned) to private `to`,
// each word read whole: aligned 16-byte loads where those are atomic (see
// kWideAccessesAreAtomic), else relaxed 8-byte ones.
inline void LoadWholeWords(uint8_t* to, const uint8_t* from, uint64_t n) {
#if defined(AMC_WIDE_COPIES)
  if (n >= 32 && kWideAccessesAreAtomic) {
    if (reinterpret_cast<uintptr_t>(from) % sizeof(Wide) != 0) {
      const uint64_t v =
          Word(reinterpret_cast<uintptr_t>(from)).load(std::memory_order_relaxed);
      std::memcpy(to, &v, 8);
      to += 8;
      from += 8;
      n -= 8;
    }
    // Four blocks per iteration (independent loads), then single ones.
    for (; n >= kWideBlock; n -= kWideBlock, from += kWideBlock,
                            to += kWideBlock) {
      const auto* p = reinterpret_cast<const volatile Wide*>(from);
      const Wide v0 = p[0], v1 = p[1], v2 = p[2], v3 = p[3];
      _mm_storeu_si128(reinterpret_cast<Wide*>(to), v0);
      _mm_storeu_si128(reinterpret_cast<Wide*>(to) + 1, v1);
      _mm_storeu_si128(reinterpret_cast<Wide*>(to) + 2, v2);
      _mm_storeu_si128(reinterpret_cast<Wide*>(to) + 3, v3);
    }
    for (; n >= sizeof(Wide); n -= sizeof(Wide), from += sizeof(Wide),
                              to += sizeof(Wide)) {
      const Wide v = *reinterpret_cast<const volatile Wide*>(from);
      _mm_storeu_si128(reinterpret_cast<Wide*>(to), v);
    }
  }
#endif
  for (; n >= 8; n -= 8, from += 8, to += 8) {
    const uint64_t v =
        Word(reinterpret_cast<uintptr_t>(from)).load(std::memory_order_relaxed);
    std::memcpy(to, &v, 8);
  }
}

// The same into shared memory: each word written whole.
inline void StoreWholeWords(uint8_t* to, const uint8_t* from, uint64_t n) {
#if defined(AMC_WIDE_COPIES)
  if (n >= 32 && kWideAccessesAreAtomic) {
    if (reinterpret_cast<uintptr_t>(to) % sizeof(Wide) != 0) {
      uint64_t v;
      std::memcpy(&v, from, 8);
      Word(reinterpret_cast<uintptr_t>(to)).store(v, std::memory_order_relaxed);
      to += 8;
      from += 8;
      n -= 8;
    }
    for (; n >= kWideBlock; n -= kWideBlock, from += kWideBlock,
                            to += kWideBlock) {
      auto* p = reinterpret_cast<volatile Wide*>(to);
      const auto* q = reinterpret_cast<const Wide*>(from);
      p[0] = _mm_loadu_si128(q);
      p[1] = _mm_loadu_si128(q + 1);
      p[2] = _mm_loadu_si128(q + 2);
      p[3] = _mm_loadu_si128(q + 3);
    }
    for (; n >= sizeof(Wide); n -= sizeof(Wide), from += sizeof(Wide),
                              to += sizeof(Wide)) {
      *reinterpret_cast<volatile Wide*>(to) =
          _mm_loadu_si128(reinterpret_cast<const Wide*>(from));
    }
  }
#endif
  for (; n >= 8; n -= 8, from += 8, to += 8) {
    uint64_t v;
    std::memcpy(&v, from, 8);
    Word(reinterpret_cast<uintptr_t>(to)).store(v, std::memory_order_relaxed);
  }
}
}  // namespace

// A PERCPU batch update of `run` consecutive keys from `key` (slot of
// CPU 0 at `slot`) whose values are one word per CPU: row r of `in` (row
// bytes apart) holds the key's word for each CPU in turn. Each word is
// stored whole; keys in order.
AMC_COPY_LOOP void StorePercpuWordRun(uint8_t* slot, uint32_t key,
                                      const uint8_t* in, uint32_t run,
                                      uint64_t row, uint32_t cpus,
                                      uint64_t stride) {
  auto one = [&](uint32_t cpu, uint32_t i) {
    uint64_t v;
    std::memcpy(&v, in + i * row + cpu * 8, 8);
    Word(reinterpret_cast<uintptr_t>(slot + cpu * stride + 8 * i))
        .store(v, std::memory_order_relaxed);
  };
  uint32_t cpu = 0;
#if defined(AMC_WIDE_COPIES)
  // Two CPUs and two keys at a time: keys k and k + 1 (k even) share an
  // aligned 16-byte word in each CPU's array (atomic, see
  // kWideAccessesAreAtomic); two unaligned loads of the rows and two
  // unpacks make that word for each of the two CPUs.
  if (run >= 4 && kWideAccessesAreAtomic) {
    const uint32_t lead = key % 2;
    const uint32_t pairs = (run - lead) / 2;
    for (; cpu + 2 <= cpus; cpu += 2) {
      uint32_t i = 0;
      if (lead) {
        one(cpu, 0);
        one(cpu + 1, 0);
        i = 1;
      }
      const uint8_t* r0 = in + i * row + cpu * 8;
      uint8_t* a = slot + cpu * stride + 8 * i;
      uint8_t* b = a + stride;
      for (uint32_t p = 0; p < pairs; ++p, r0 += 2 * row, a += 16, b += 16) {
        const Wide x = _mm_loadu_si128(reinterpret_cast<const Wide*>(r0));
        const Wide y = _mm_loadu_si128(reinterpret_cast<const Wide*>(r0 + row));
        *reinterpret_cast<volatile Wide*>(a) = _mm_unpacklo_epi64(x, y);
        *reinterpret_cast<volatile Wide*>(b) = _mm_unpackhi_epi64(x, y);
      }
      for (i += 2 * pairs; i < run; ++i) {
        one(cpu, i);
        one(cpu + 1, i);
      }
    }
  }
#endif
  for (; cpu < cpus; ++cpu) {
    for (uint32_t i = 0; i < run; ++i) one(cpu, i);
  }
}

namespace internal {
AMC_COPY_LOOP void CopyPercpuOut(uint8_t* out, const uint8_t* shared,
                                 uint64_t n, uint64_t step, uint32_t cpus,
                                 uint64_t stride) {
  for (uint32_t cpu = 0; cpu < cpus; ++cpu, out += step, shared += stride) {
    LoadWholeWords(out, shared, n);
  }
}

AMC_COPY_LOOP void CopyPercpuIn(uint8_t* shared, const uint8_t* in, uint64_t n,
                                uint64_t step, uint32_t cpus, uint64_t stride) {
  for (uint32_t cpu = 0; cpu < cpus; ++cpu, in += step, shared += stride) {
    StoreWholeWords(shared, in, n);
  }
}
}  // namespace internal

// ---- Mapping ----

Mapping& Mapping::operator=(Mapping&& other) noexcept {
  if (this != &other) {
    Reset();
    map_ = other.map_;
    addr_ = other.addr_;
    length_ = other.length_;
    writable_ = other.writable_;
    view_ = other.view_;
    other.map_ = nullptr;
    other.addr_ = nullptr;
    other.length_ = 0;
    other.writable_ = false;
    other.view_ = false;
  }
  return *this;
}

void Mapping::Reset() {
  if (addr_ == nullptr) return;
  if (!view_) munmap(addr_, length_);
  // Release: a Freeze that reads the lowered count (acquire CAS) happens
  // after the munmap, so no writable view of a frozen map survives.
  if (writable_) map_->state_.fetch_sub(1, std::memory_order_release);
  map_ = nullptr;
  addr_ = nullptr;
  length_ = 0;
  writable_ = false;
  view_ = false;
}

// ---- ArrayMap ----

int ArrayMap::Create(const MapAttr& attr, const Options& options,
                     std::unique_ptr<ArrayMap>* out, int* host_failure) {
  // The storage calls below failing is this process's failure, not a check.
  auto host_failed = [host_failure](int err) {
    if (host_failure) *host_failure = err ? err : ENOMEM;
    return ENOMEM;
  };
  const uint32_t cpus =
      options.possible_cpus ? options.possible_cpus : HostPossibleCpus();
  const bool percpu = attr.type == MapType::kPercpuArray;
  bool lock = attr.spin_lock_offset >= 0;
  // A lock is described by BTF, which is loaded (BPF_BTF_LOAD) before
  // BPF_MAP_CREATE runs, so its refusals come first: a bpf_spin_lock member
  // that does not fit in the value is EINVAL, then one that is not 4-byte
  // aligned is EFAULT (kernel/bpf/btf.c; settled on Linux 6.18 by
  // corpus/regressions/spin_lock_*). Before 6.2 a misaligned one loads and
  // the map has no lock (recorded in corpus/releases/6.1/).
  if (lock) {
    if (static_cast<uint64_t>(attr.spin_lock_offset) + kSpinLockSize >
        attr.value_size) {
      return EINVAL;
    }
    if (attr.spin_lock_offset % kSpinLockSize != 0) {
      if (options.misaligned_spin_lock_refused) return EFAULT;
      lock = false;
    }
  }
  if (attr.type != MapType::kArray && !percpu) return EINVAL;
  uint32_t flags = attr.map_flags;
  // syscall.c map_create(): BPF_F_TOKEN_FD is taken off before the map's
  // own checks.
  const bool token = flags & kFTokenFd;
  flags &= ~kFTokenFd;
  // bpf_get_file_flag(): RDONLY and WRONLY together; since 7.2 checked
  // after everything else (Options::create_rdonly_wronly_checked_last).
  const bool rdonly_and_wronly = (flags & kFRdonly) && (flags & kFWronly);
  if (rdonly_and_wronly && !options.create_rdonly_wronly_checked_last) {
    return EINVAL;
  }
  // NUMA_NO_NODE (-1) with BPF_F_NUMA_NODE means no node, as without it.
  const bool numa = (flags & kFNumaNode) && attr.numa_node != UINT32_MAX;
  if (numa && attr.numa_node >= options.numa_nodes) return EINVAL;
  // arraymap.c array_map_alloc_check().
  if (attr.max_entries == 0 || attr.key_size != 4 || attr.value_size == 0 ||
      (flags & ~kArrayCreateFlagMask) ||
      ((flags & kFRdonlyProg) && (flags & kFWronlyProg)) || (percpu && numa)) {
    return EINVAL;
  }
  if (percpu && (flags & (kFMmapable | kFInnerMap))) return EINVAL;
  if (flags & kFPreserveElems) return EINVAL;
  const uint64_t page_size = static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
  const uint64_t max_value_size = options.value_size_bounded_by_int_max
                                      ? uint64_t{INT_MAX}
                                      : page_size << 10;  // KMALLOC_MAX_SIZE
  if (attr.value_size > max_value_size) return E2BIG;
  const uint64_t elem_size = RoundUp(attr.value_size, 8);
  if (percpu && elem_size > kPcpuMinUnitSize) return E2BIG;
  // A token fd of 0 is not a BPF token.
  if (token) return EINVAL;
  // arraymap.c array_map_alloc(): without bypass the kernel allocates
  // max_entries rounded up to a power of two. We size-check as it does but
  // allocate only max_entries (no index masking is needed in user space).
  uint64_t entries = attr.max_entries;
  if (!options.bypass_spec_v1) {
    uint64_t rounded = 1;
    while (rounded < entries) rounded <<= 1;
    if (rounded > UINT32_MAX) return E2BIG;
    entries = rounded;
  }
  // Before 5.11: bpf_map_charge_init's bound on the map's cost (the struct
  // bpf_array estimated at 320 bytes, the elements page-aligned when
  // mmapable, or the pointer array and every CPU's unrounded elements).
  if (options.map_cost_charged_to_memlock) {
    constexpr uint64_t kHeader = 320;
    long double cost;
    if (percpu) {
      cost = kHeader + static_cast<long double>(entries) * 8 +
             static_cast<long double>(attr.max_entries) * elem_size * cpus;
    } else if (flags & kFMmapable) {
      cost = RoundUp(kHeader, page_size) +
             static_cast<long double>(RoundUp(entries * elem_size, page_size));
    } else {
      cost = kHeader + static_cast<long double>(entries) * elem_size;
    }
    if (cost >= static_cast<long double>(UINT32_MAX - page_size)) return E2BIG;
  }
  const uint64_t limit =
      options.memory_limit_bytes ? options.memory_limit_bytes : PhysicalMemory();
  const uint64_t ncopies = percpu ? cpus : 1;
  const uint64_t bytes = entries * elem_size;
  if (bytes / elem_size != entries || bytes * ncopies / ncopies != bytes ||
      bytes * ncopies > limit) {
    return ENOMEM;
  }
  // map_check_btf: a value with special fields (the lock) refuses the
  // BPF_F_RDONLY_PROG / BPF_F_WRONLY_PROG restrictions, then a
  // bpf_spin_lock lives in ARRAY values only (an ARRAY with BPF_F_MMAPABLE
  // and a lock is created; mapping it is refused).
  if (lock) {
    if (flags & kFRdonlyProg) return EACCES;
    if ((flags & kFWronlyProg) && options.spin_lock_refuses_wronly_prog) {
      return EACCES;
    }
    if (percpu) return options.spin_lock_wrong_map_type_errno;
  }
  if (rdonly_and_wronly) return EINVAL;

  std::unique_ptr<ArrayMap> map(new ArrayMap());
  map->attr_ = attr;
  if (!lock) map->attr_.spin_lock_offset = -1;
  map->elem_size_ = elem_size;
  map->cpus_ = cpus;
  map->page_size_ = static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
  if (options.page_size > map->page_size_ &&
      options.page_size % map->page_size_ == 0) {
    map->page_size_ = options.page_size;
  }
  map->exec_mappings_refused_ = options.exec_mappings_refused;
  map->freeze_needs_write_permission_ = options.freeze_needs_write_permission;
  map->spin_lock_freeze_refused_ = options.spin_lock_freeze_refused;
  map->lookup_read_permission_first_ = options.lookup_read_permission_first;
  map->percpu_cpu_flags_ = options.percpu_cpu_flags;
  map->percpu_update_writes_padding_ = options.percpu_update_writes_padding;
  map->percpu_array_batch_ops_ = options.percpu_array_batch_ops;
  map->lookup_and_delete_takes_flags_ = options.lookup_and_delete_takes_flags;
  map->batch_buffer_kvmalloced_ = options.batch_buffer_kvmalloced;
  // A folded slot (possible_cpus below this machine's) is shared by two
  // CPUs, which the restartable sequence does not make exact.
  map->rseq_add_ = percpu && options.percpu_add == PercpuAdd::kRseq &&
                   cpus >= HostCpusOnce();
#if !defined(AMC_IMPL_RSEQ_ADD)
  map->rseq_add_ = false;
#endif
  map->fast_word_ = !percpu && attr.value_size == 8 && !lock;
  map->whole_words_ = !percpu && attr.value_size % 8 == 0 && !lock;
  const uint64_t data_bytes = elem_size * attr.max_entries;
  uint64_t total = data_bytes;
  if (percpu) {
    map->cpu_stride_ = RoundUp(data_bytes, kCacheLine);
    total = map->cpu_stride_ * cpus;
  }
  // bpf_map_mmap refuses maps with a lock, so they need no mappable data.
  if ((attr.map_flags & kFMmapable) && !lock) {
    // A page-aligned memfd, so MapFd::Mmap can share it. The read-only
    // reopen for read-only mappings waits for the first one (MapFd::Mmap).
    total = RoundUp(total, map->page_size_);
    map->mmap_region_size_ = total;
    map->storage_ = Storage::kMemfd;
    map->recycle_memfd_ = options.recycle_memfd &&
                          total <= internal::kMemfdCacheMaxRegionBytes;
    map->mapping_views_ = options.mapping_views;
    internal::MemfdRegion cached;
    if (map->recycle_memfd_ && internal::TakeCachedMemfd(total, &cached)) {
      map->memfd_ = cached.fd;
      map->memfd_ro_.store(cached.ro_fd, std::memory_order_relaxed);
      map->data_ = cached.data;
      map->ro_view_.store(cached.ro_view, std::memory_order_relaxed);
    } else {
      map->memfd_ = memfd_create("amc-array-map", MFD_CLOEXEC);
      if (map->memfd_ < 0) return host_failed(errno);
      if (ftruncate(map->memfd_, static_cast<off_t>(total)) != 0) {
        return host_failed(errno);
      }
      // Small regions are populated in one go (the kernel allocates a
      // mappable array whole too); large ones fault in lazily.
      const int populate = total <= kPopulateMax ? MAP_POPULATE : 0;
      void* mem = mmap(nullptr, total, PROT_READ | PROT_WRITE,
                       MAP_SHARED | populate, map->memfd_, 0);
      if (mem == MAP_FAILED) return host_failed(errno);
      map->data_ = static_cast<uint8_t*>(mem);
    }
  } else if (total <= kHeapStorageMax) {
    // Zeroed heap memory, started on a cache-line boundary (calloc gives
    // 16-byte alignment; the rest of a line is over-allocated).
    total = RoundUp(total, kCacheLine) + kCacheLine - 16;
    void* mem = std::calloc(1, total);
    if (mem == nullptr) return host_failed(ENOMEM);
    map->heap_ = mem;
    map->data_ = reinterpret_cast<uint8_t*>(
        RoundUp(reinterpret_cast<uintptr_t>(mem), kCacheLine));
    map->storage_ = Storage::kHeap;
  } else {
    // Large data: zero-filled and lazily backed, untouched pages cost
    // nothing.
    total = RoundUp(total, map->page_size_);
    void* mem = mmap(nullptr, total, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (mem == MAP_FAILED) return host_failed(errno);
    // Huge pages where the kernel offers them on request: reading an
    // untouched part of a map of gigabytes (its final state) then maps the
    // huge zero page, 2 MiB per fault instead of 4 KiB. Advice only.
    if (total >= (uint64_t{64} << 20)) madvise(mem, total, MADV_HUGEPAGE);
    map->data_ = static_cast<uint8_t*>(mem);
    map->storage_ = Storage::kAnonymous;
  }
  map->storage_bytes_ = total;
  *out = std::move(map);
  return 0;
}

ArrayMap::~ArrayMap() {
  if (recycle_memfd_ && data_ != nullptr && memfd_ >= 0) {
    internal::CacheOrReleaseMemfd(
        {memfd_, memfd_ro_.load(std::memory_order_relaxed), data_,
         storage_bytes_, ro_view_.load(std::memory_order_relaxed)});
    return;
  }
  if (uint8_t* view = ro_view_.load(std::memory_order_relaxed)) {
    munmap(view, storage_bytes_);
  }
  if (data_ != nullptr) {
    if (storage_ == Storage::kHeap) {
      std::free(heap_);
    } else {
      munmap(data_, storage_bytes_);
    }
  }
  const int ro = memfd_ro_.load(std::memory_order_relaxed);
  if (ro >= 0) close(ro);
  if (memfd_ >= 0) close(memfd_);
}

int ArrayMap::ReadOnlyMemfd() const {
  // Lock-free lazy open: the first read-only mapping reopens the memfd
  // O_RDONLY (a mapping of it can never be mprotect()ed writable, as for a
  // read-only mapping of a kernel map, VM_MAYWRITE cleared); racing openers
  // agree through one CAS and the losers close theirs.
  int ro = memfd_ro_.load(std::memory_order_acquire);
  if (ro >= 0) return ro;
  std::string path = "/proc/self/fd/" + std::to_string(memfd_);
  int mine = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (mine < 0) return -1;
  if (memfd_ro_.compare_exchange_strong(ro, mine, std::memory_order_acq_rel,
                                        std::memory_order_acquire)) {
    return mine;
  }
  close(mine);
  return ro;
}

uint8_t* ArrayMap::ReadOnlyView() const {
  // Made once, lock-free as ReadOnlyMemfd: racing makers agree through one
  // CAS and the losers unmap theirs.
  uint8_t* view = ro_view_.load(std::memory_order_acquire);
  if (view != nullptr) return view;
  const int ro = ReadOnlyMemfd();
  if (ro < 0) return nullptr;
  const int populate = storage_bytes_ <= kPopulateMax ? MAP_POPULATE : 0;
  void* mem = mmap(nullptr, storage_bytes_, PROT_READ, MAP_SHARED | populate, ro, 0);
  if (mem == MAP_FAILED) return nullptr;
  auto* mine = static_cast<uint8_t*>(mem);
  if (ro_view_.compare_exchange_strong(view, mine, std::memory_order_acq_rel,
                                       std::memory_order_acquire)) {
    return mine;
  }
  munmap(mine, storage_bytes_);
  return view;
}

void ArrayMap::ReadValue(const uint8_t* slot, uint8_t* out, uint64_t n) const {
  AtomicLoadBytes(out, slot, n);
}

void ArrayMap::CopyValue(uint32_t key, void* out) const {
  auto* dst = static_cast<uint8_t*>(out);
  if (percpu()) {
    // bpf_percpu_array_copy: elem_size bytes per possible CPU, padding too.
    for (uint32_t cpu = 0; cpu < cpus_; ++cpu) {
      ReadValue(data_ + cpu * cpu_stride_ + key * elem_size_,
                dst + cpu * elem_size_, elem_size_);
    }
    return;
  }
  ReadValue(data_ + key * elem_size_, dst, attr_.value_size);
  // The spin lock word always reads back as zero (check_and_init_map_value).
  if (attr_.spin_lock_offset >= 0) {
    std::memset(dst + attr_.spin_lock_offset, 0, kSpinLockSize);
  }
}

void ArrayMap::CopyValueOnCpu(uint32_t key, uint32_t cpu, void* out) const {
  // bpf_percpu_array_copy under BPF_F_CPU: copy_map_value of one CPU's slot.
  ReadValue(data_ + cpu * cpu_stride_ + key * elem_size_,
            static_cast<uint8_t*>(out), attr_.value_size);
}

int ArrayMap::CheckOpFlags(uint64_t flags, uint64_t allowed) const {
  // Before 7.0: any bit but BPF_F_LOCK (the whole 64-bit word), then
  // BPF_F_LOCK without a lock; `allowed` only grew with the CPU flags.
  if (!percpu_cpu_flags_) {
    if (flags & ~kFLock) return EINVAL;
    if ((flags & kFLock) && attr_.spin_lock_offset < 0) return EINVAL;
    return 0;
  }
  if (static_cast<uint32_t>(flags) & ~allowed) return EINVAL;
  if ((flags & kFLock) && attr_.spin_lock_offset < 0) return EINVAL;
  if (!(flags & kFCpu) && (flags >> 32)) return EINVAL;
  if (flags & (kFCpu | kFAllCpus)) {
    if (!percpu()) return EINVAL;
    if ((flags & kFCpu) && (flags & kFAllCpus)) return EINVAL;
    if ((flags & kFCpu) && (flags >> 32) >= cpus_) return ERANGE;
  }
  return 0;
}

namespace {
// Copies `words` 8-byte words from shared `from` (8-aligned) to `to`, with
// relaxed loads: AtomicLoadBytes without its edge handling, for the words
// of one element (the few of a small value; whole ones go four at a time).
inline void LoadWords(uint8_t* to, const uint8_t* from, uint64_t words) {
  if (words >= 4) {
    AtomicLoadBytes(to, from, words * 8);
    return;
  }
  for (uint64_t w = 0; w < words; ++w) {
    const uint64_t v = Word(reinterpret_cast<uintptr_t>(from) + 8 * w)
                           .load(std::memory_order_relaxed);
    std::memcpy(to + 8 * w, &v, 8);
  }
}
}  // namespace

AMC_COPY_LOOP void ArrayMap::CopyValues(uint32_t first, uint32_t count,
                                        void* out) const {
  auto* dst = static_cast<uint8_t*>(out);
  const uint64_t buffer = value_buffer_size();
  if (attr_.spin_lock_offset >= 0) {
    // Each value's lock word is cleared in its copy.
    for (uint32_t i = 0; i < count; ++i) CopyValue(first + i, dst + i * buffer);
    return;
  }
  const uint64_t words = elem_size_ / 8;
  if (percpu()) {
    // Every CPU's slot of a key in turn, elem_size bytes (whole words) each.
    const uint8_t* from = data_ + uint64_t{first} * elem_size_;
    if (elem_size_ == 8) {
      // CPU by CPU, so the loads walk each CPU's array in order.
      const uint64_t row = uint64_t{cpus_} * 8;
      uint32_t cpu = 0;
#if defined(AMC_WIDE_COPIES)
      // Two CPUs and two keys at a time: an aligned 16-byte load from each
      // CPU's array (keys i and i + 1; atomic, see kWideAccessesAreAtomic),
      // interleaved into the two keys' rows with two unpacks.
      if (kWideAccessesAreAtomic && count >= 4) {
        const uint32_t lead = first % 2;  // key `first` odd: one key alone
        const uint32_t pairs = (count - lead) / 2;
        for (; cpu + 2 <= cpus_; cpu += 2) {
          const uint8_t* a = from + cpu * cpu_stride_;
          const uint8_t* b = a + cpu_stride_;
          uint8_t* to = dst + cpu * 8;
          uint32_t i = 0;
          auto one = [&](uint32_t k) {
            const uint64_t va = Word(reinterpret_cast<uintptr_t>(a + 8 * k))
                                    .load(std::memory_order_relaxed);
            const uint64_t vb = Word(reinterpret_cast<uintptr_t>(b + 8 * k))
                                    .load(std::memory_order_relaxed);
            std::memcpy(to + k * row, &va, 8);
            std::memcpy(to + k * row + 8, &vb, 8);
          };
          if (lead) one(i++);
          const uint8_t* pa = a + 8 * i;
          const uint8_t* pb = b + 8 * i;
          uint8_t* row0 = to + i * row;
          for (uint32_t p = 0; p < pairs;
               ++p, pa += 16, pb += 16, row0 += 2 * row) {
            const Wide x = *reinterpret_cast<const volatile Wide*>(pa);
            const Wide y = *reinterpret_cast<const volatile Wide*>(pb);
            _mm_storeu_si128(reinterpret_cast<Wide*>(row0),
                             _mm_unpacklo_epi64(x, y));
            _mm_storeu_si128(reinterpret_cast<Wide*>(row0 + row),
                             _mm_unpackhi_epi64(x, y));
          }
          i += 2 * pairs;
          for (; i < count; ++i) one(i);
        }
      }
#endif
      for (; cpu < cpus_; ++cpu) {
        const uint8_t* src = from + cpu * cpu_stride_;
        uint8_t* to = dst + cpu * 8;
        for (uint32_t i = 0; i < count; ++i, src += 8, to += row) {
          const uint64_t v = Word(reinterpret_cast<uintptr_t>(src))
                                 .load(std::memory_order_relaxed);
          std::memcpy(to, &v, 8);
        }
      }
      return;
    }
    for (uint32_t i = 0; i < count; ++i, from += elem_size_) {
      internal::CopyPercpuOut(dst, from, elem_size_, elem_size_, cpus_,
                              cpu_stride_);
      dst += elem_size_ * cpus_;
    }
    return;
  }
  const uint8_t* from = data_ + uint64_t{first} * elem_size_;
  const uint64_t size = attr_.value_size;
  if (size == elem_size_) {
    AtomicLoadBytes(dst, from, size * count);
    return;
  }
  // ARRAY values with padding: each element's whole words while they fit in
  // the buffer, its padding landing where the next key's value goes, which
  // that key then overwrites; the last few keys exactly.
  const uint64_t total = size * count;
  const uint64_t fit = total >= elem_size_
                           ? std::min<uint64_t>(count, (total - elem_size_) / size + 1)
                           : 0;
  uint32_t i = 0;
  uint8_t* to = dst;
  if (words == 1) {
    // Values of up to 8 bytes, the most common: one word each.
    for (; i < fit; ++i, from += 8, to += size) LoadWords(to, from, 1);
  } else {
    for (; i < fit; ++i, from += elem_size_, to += size) LoadWords(to, from, words);
  }
  for (; i < count; ++i, from += elem_size_, to += size) {
    AtomicLoadBytes(to, from, size);
  }
}

// ---- the element's bpf_spin_lock ----

namespace {
// The lock word lives in the low or the high half of the aligned 8-byte word
// holding it (elements are 8-aligned, the lock 4-aligned). It is locked
// while its lowest byte is 1; every access to it is a 64-bit atomic on that
// word, like every other access to the map's data.
static_assert(std::endian::native == std::endian::little,
              "the lock bit is placed for a little-endian word");
struct LockWord {
  uintptr_t word;  // the aligned 8-byte word holding the lock
  uint64_t mask;   // the lock's four bytes in it
  uint64_t held;   // the value of those bytes while held
};
LockWord LockWordOf(const void* value, uint32_t lock_offset) {
  const uintptr_t at = reinterpret_cast<uintptr_t>(value) + lock_offset;
  const unsigned shift = static_cast<unsigned>(at % 8) * 8;
  return {at - at % 8, uint64_t{0xffffffff} << shift, uint64_t{1} << shift};
}
inline void CpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield" ::: "memory");
#endif
}
}  // namespace

void ArrayMap::SpinLock(void* value) const {
  if (attr_.spin_lock_offset < 0) return;
  const LockWord l =
      LockWordOf(value, static_cast<uint32_t>(attr_.spin_lock_offset));
  auto w = Word(l.word);
  uint64_t old = w.load(std::memory_order_relaxed);
  for (;;) {
    // Test, then test-and-set: spinners only read while the lock is held.
    if ((old & l.mask) == 0) {
      // Acquire: the holder's copies see every word the previous holder
      // stored before its release. A failed CAS (the lock was taken, or a
      // value byte sharing the word changed) reloads `old`.
      if (w.compare_exchange_weak(old, old | l.held,
                                  std::memory_order_acquire,
                                  std::memory_order_relaxed)) {
        return;
      }
      continue;
    }
    CpuRelax();
    old = w.load(std::memory_order_relaxed);
  }
}

void ArrayMap::SpinUnlock(void* value) const {
  if (attr_.spin_lock_offset < 0) return;
  const LockWord l =
      LockWordOf(value, static_cast<uint32_t>(attr_.spin_lock_offset));
  // Release: publishes the critical section's stores to the next holder.
  // An RMW, so value bytes sharing the word that unlocked writers merged in
  // meanwhile are kept.
  Word(l.word).fetch_and(~l.mask, std::memory_order_release);
}

void ArrayMap::WriteValueLocked(uint8_t* slot, const uint8_t* value) const {
  SpinLock(slot);
  WriteValue(slot, value);
  SpinUnlock(slot);
}

void ArrayMap::CopyValueLocked(uint32_t key, void* out) const {
  // Only ARRAY maps have a lock (PERCPU_ARRAY refuses one at creation).
  uint8_t* slot = data_ + key * elem_size_;
  auto* dst = static_cast<uint8_t*>(out);
  SpinLock(slot);
  ReadValue(slot, dst, attr_.value_size);
  SpinUnlock(slot);
  // The copy shows the lock word as zero (check_and_init_map_value).
  std::memset(dst + attr_.spin_lock_offset, 0, kSpinLockSize);
}

void ArrayMap::WriteValue(uint8_t* slot, const uint8_t* value) const {
  if (attr_.spin_lock_offset < 0) {
    AtomicStoreBytes(slot, value, attr_.value_size);
    return;
  }
  // copy_map_value skips the lock word.
  const uint32_t lock = static_cast<uint32_t>(attr_.spin_lock_offset);
  AtomicStoreBytes(slot, value, lock);
  AtomicStoreBytes(slot + lock + kSpinLockSize, value + lock + kSpinLockSize,
                   attr_.value_size - lock - kSpinLockSize);
}

long ArrayMap::UpdateElemOnCpu(uint32_t key, const void* value, uint64_t flags,
                               uint32_t cpu) const {
  // arraymap.c array_map_update_elem, the program-side entry for both types.
  if ((flags & ~kFLock) > kExist) return -EINVAL;
  if (key >= attr_.max_entries) return -E2BIG;
  if (flags & kNoexist) return -EEXIST;
  if ((flags & kFLock) && attr_.spin_lock_offset < 0) return -EINVAL;
  if (cpu >= cpus_) return -EINVAL;
  uint8_t* slot = data_ + (percpu() ? cpu * cpu_stride_ : 0) + key * elem_size_;
  // copy_map_value_locked takes the element's lock around the copy.
  if (flags & kFLock) {
    WriteValueLocked(slot, static_cast<const uint8_t*>(value));
  } else {
    WriteValue(slot, static_cast<const uint8_t*>(value));
  }
  return 0;
}

// ---- MapFd ----

namespace {
// The syscall layer's write permission: the fd mode, and not frozen
// (map_get_sys_perms drops write once frozen).
bool SysWritable(bool can_write, const ArrayMap& map) {
  return can_write && !map.frozen();
}
}  // namespace

// Every check in the kernel's order (syscall.c map_lookup_elem). Since 6.19
// the read permission comes first; since 7.0 (Options::percpu_cpu_flags)
// the flags are checked by bpf_map_check_op_flags(BPF_F_LOCK | BPF_F_CPU).
int MapFd::LookupChecked(MapFd fd, uint32_t key, void* value,
                         uint64_t flags) {
  // Before 6.19 the flags come before the read permission
  // (Options::lookup_read_permission_first): any bit but BPF_F_LOCK.
  const bool cpu_flags = fd.map_->percpu_cpu_flags_;
  if (!fd.map_->lookup_read_permission_first_ && (flags & ~kFLock)) {
    return EINVAL;
  }
  if (!fd.can_read_) return EPERM;
  if (int err = fd.map_->CheckOpFlags(flags, kFLock | kFCpu)) return err;
  if (key >= fd.max_entries_) return ENOENT;
  if (cpu_flags && (flags & kFCpu)) {
    fd.map_->CopyValueOnCpu(key, static_cast<uint32_t>(flags >> 32), value);
    return 0;
  }
  // bpf_map_copy_value: copy_map_value_locked under BPF_F_LOCK.
  if (flags & kFLock) {
    fd.map_->CopyValueLocked(key, value);
  } else {
    fd.map_->CopyValue(key, value);
  }
  return 0;
}

// Every check in the kernel's order (syscall.c map_update_elem).
int MapFd::UpdateChecked(MapFd fd, uint32_t key, const void* value,
                         uint64_t flags) {
  // Relaxed: the frozen bit publishes nothing; coherence of the one state
  // word already makes every update that happens after Freeze() see it.
  if (!fd.can_write_ || fd.map_->frozen()) return EPERM;
  if (fd.map_->percpu_cpu_flags_) {
    // bpf_map_check_op_flags(flags, ~0).
    if (int err = fd.map_->CheckOpFlags(flags, ~uint64_t{0})) return err;
  } else if ((flags & kFLock) && !fd.has_lock_) {
    return EINVAL;
  }
  return fd.UpdateValue(key, static_cast<const uint8_t*>(value), flags);
}

int MapFd::Delete(uint32_t) const {
  if (!SysWritable(can_write_, *map_)) return EPERM;
  return EINVAL;  // array_map_delete_elem
}

int MapFd::LookupAndDelete(uint32_t, void*, uint64_t flags) const {
  if (flags && !map_->lookup_and_delete_takes_flags_) return EINVAL;
  if (flags & ~kFLock) return EINVAL;
  if (!can_read_ || !SysWritable(can_write_, *map_)) return EPERM;
  if ((flags & kFLock) && map_->attr_.spin_lock_offset < 0) return EINVAL;
  return kEnotsupp;
}

int MapFd::GetNextKey(const uint32_t* key, uint32_t* next_key) const {
  if (!can_read_) return EPERM;
  // array_map_get_next_key: NULL or out of range restarts at 0.
  uint32_t index = key ? *key : UINT32_MAX;
  if (index >= map_->attr_.max_entries) {
    *next_key = 0;
    return 0;
  }
  if (index == map_->attr_.max_entries - 1) return ENOENT;
  *next_key = index + 1;
  return 0;
}

int MapFd::LookupBatch(const uint32_t* in_batch, uint32_t* out_batch,
                       uint32_t* keys, void* values, uint32_t* count,
                       uint64_t elem_flags, uint64_t /*flags*/) const {
  if (!can_read_) return EPERM;
  if (map_->percpu() && !map_->percpu_array_batch_ops_) return kEnotsupp;
  if (int err = map_->CheckOpFlags(elem_flags, kFLock | kFCpu)) return err;
  const uint32_t max = *count;
  if (max == 0) return 0;
  if (!map_->batch_buffer_kvmalloced_ &&
      uint64_t{map_->attr_.key_size} + map_->attr_.value_size >
          map_->page_size_ << 10) {
    *count = 0;
    return ENOMEM;
  }
  // The walk get-next-key would make, in closed form: from the key after
  // in_batch (0 for none or one out of range) up to count keys; ENOENT when
  // the end came first.
  const uint32_t entries = map_->attr_.max_entries;
  uint32_t start = 0;
  if (in_batch != nullptr && *in_batch < entries) {
    if (*in_batch == entries - 1) {
      *count = 0;
      return ENOENT;
    }
    start = *in_batch + 1;
  }
  const uint32_t n = std::min(max, entries - start);
  uint32_t filled = 0;
#if defined(AMC_WIDE_COPIES)
  // Private memory: four keys per store.
  Wide next = _mm_add_epi32(_mm_set1_epi32(static_cast<int>(start)),
                            _mm_setr_epi32(0, 1, 2, 3));
  for (; filled + 4 <= n; filled += 4) {
    _mm_storeu_si128(reinterpret_cast<Wide*>(keys + filled), next);
    next = _mm_add_epi32(next, _mm_set1_epi32(4));
  }
#endif
  for (; filled < n; ++filled) keys[filled] = start + filled;
  auto* out = static_cast<uint8_t*>(values);
  if (map_->percpu_cpu_flags_ && (elem_flags & kFCpu)) {
    const uint32_t cpu = static_cast<uint32_t>(elem_flags >> 32);
    const uint64_t stride = map_->attr_.value_size;
    for (uint32_t i = 0; i < n; ++i) {
      map_->CopyValueOnCpu(start + i, cpu, out + i * stride);
    }
  } else if (elem_flags & kFLock) {
    // Each element under its own lock, as the kernel.
    const uint64_t stride = map_->value_buffer_size();
    for (uint32_t i = 0; i < n; ++i) {
      map_->CopyValueLocked(start + i, out + i * stride);
    }
  } else {
    map_->CopyValues(start, n, out);
  }
  *count = n;
  if (n > 0) *out_batch = start + n - 1;
  return n < max ? ENOENT : 0;
}

int MapFd::UpdateBatch(const uint32_t* keys, const void* values,
                       uint32_t* count, uint64_t elem_flags,
                       uint64_t /*flags*/) const {
  if (!SysWritable(can_write_, *map_)) return EPERM;
  if (map_->percpu() && !map_->percpu_array_batch_ops_) return kEnotsupp;
  if (int err = map_->CheckOpFlags(elem_flags, kFLock | kFCpu | kFAllCpus)) {
    return err;
  }
  const uint32_t n = *count;
  const uint64_t stride = map_->value_buffer_size(elem_flags);
  const auto* in = static_cast<const uint8_t*>(values);
  uint32_t applied = 0;
  int err = 0;
  if (elem_flags == 0 && percpu_write_limit_ != 0) {
    // PERCPU without flags, whole words per CPU: what UpdateValue does for
    // each key, without its per-key flag checks (E2BIG is the only answer
    // left to give).
    if (percpu_update_bytes_ == 8) {
      // One word per CPU; keys in order, a run of consecutive ones at a
      // time.
      while (applied < n) {
        const uint32_t key = keys[applied];
        if (key >= max_entries_) {
          err = E2BIG;
          break;
        }
        const uint32_t limit = std::min(n - applied, max_entries_ - key);
        uint32_t run = 1;
#if defined(AMC_WIDE_COPIES)
        // Four keys compared at a time (private memory).
        for (Wide want = _mm_add_epi32(_mm_set1_epi32(static_cast<int>(key)),
                                       _mm_setr_epi32(1, 2, 3, 4));
             run + 4 <= limit;
             run += 4, want = _mm_add_epi32(want, _mm_set1_epi32(4))) {
          const Wide got = _mm_loadu_si128(
              reinterpret_cast<const Wide*>(keys + applied + run));
          if (_mm_movemask_epi8(_mm_cmpeq_epi32(got, want)) != 0xffff) break;
        }
#endif
        while (run < limit && keys[applied + run] == key + run) ++run;
        StorePercpuWordRun(data_ + uint64_t{key} * 8, key, in, run, stride,
                           cpus_, cpu_stride_);
        applied += run;
        in += uint64_t{run} * stride;
      }
      *count = applied;
      return err;
    }
    for (; applied < n; ++applied, in += stride) {
      const uint32_t key = keys[applied];
      if (key >= max_entries_) {
        err = E2BIG;
        break;
      }
      internal::CopyPercpuIn(data_ + uint64_t{key} * elem_size_, in,
                             percpu_update_bytes_, elem_size_, cpus_,
                             cpu_stride_);
    }
    *count = applied;
    return err;
  }
  for (; applied < n; ++applied) {
    err = UpdateValue(keys[applied], in + applied * stride, elem_flags);
    if (err) break;
  }
  *count = applied;
  return err;
}

int MapFd::DeleteBatch(const uint32_t*, uint32_t*, uint64_t, uint64_t) const {
  if (!SysWritable(can_write_, *map_)) return EPERM;
  return kEnotsupp;
}

int MapFd::LookupAndDeleteBatch(const uint32_t*, uint32_t*, uint32_t*, void*,
                                uint32_t*, uint64_t, uint64_t) const {
  if (!can_read_ || !SysWritable(can_write_, *map_)) return EPERM;
  return kEnotsupp;
}

int MapFd::Freeze() const {
  // Maps with special fields (a bpf_spin_lock) cannot be frozen (since 6.2;
  // before, a lock map freezes like any other).
  if (map_->attr_.spin_lock_offset >= 0 && map_->spin_lock_freeze_refused_) {
    return kEnotsupp;
  }
  const bool needs_write = map_->freeze_needs_write_permission_;
  if (needs_write && !can_write_) return EPERM;
  auto& state = map_->state_;
  // Acquire pairs with Mapping::Reset's release: a count we read as zero
  // means those munmaps are done.
  uint64_t s = state.load(std::memory_order_acquire);
  do {
    if (needs_write && (s & ArrayMap::kFrozenBit)) return EPERM;  // no write perm
    if (s != 0) return EBUSY;  // writable mappings exist, or (before 6.5) frozen
  } while (!state.compare_exchange_weak(s, s | ArrayMap::kFrozenBit,
                                        std::memory_order_acq_rel,
                                        std::memory_order_acquire));
  return 0;
}

int MapFd::Mmap(uint64_t offset, uint64_t length, int prot, int flags,
                Mapping* out) const {
  const ArrayMap& m = *map_;
  const uint64_t page = m.page_size_;
  // mm/mmap.c do_mmap: alignment, length, overflow, address space.
  if (offset % page != 0) return EINVAL;
  if (length == 0) return EINVAL;
  const uint64_t len = RoundUp(length, page);
  if (len < length || len == 0) return ENOMEM;
  const uint64_t pgoff = offset / page;
  if (pgoff + len / page < pgoff) return EOVERFLOW;
  if (len > (uint64_t{1} << 47) - page) return ENOMEM;
  // file_mmap_ok(): the map's inode is not a regular file, so the mapping
  // may not reach past ULONG_MAX bytes (file_mmap_size_max).
  if (pgoff > (UINT64_MAX - len) / page) {
    return EOVERFLOW;
  }
  const bool write = prot & kProtWrite;
  bool shared = flags & kMapShared;
  // A shared writable mapping needs a writable fd; a shared mapping of a
  // read-only fd silently becomes private.
  if (shared) {
    if (write && !can_write_) return EACCES;
    if (!can_write_) shared = false;
  }
  if (!can_read_) return EACCES;
  // The bpf anon inode lives on a noexec superblock (since 6.15).
  if ((prot & kProtExec) && m.exec_mappings_refused_) return EPERM;
  // syscall.c bpf_map_mmap: PERCPU_ARRAY has no map_mmap, and a value with
  // special fields (a spin lock) cannot be mapped.
  if (m.percpu() || m.attr_.spin_lock_offset >= 0) return kEnotsupp;
  if (!shared) return EINVAL;
  if (write) {
    if (m.frozen()) return EPERM;
    if (m.attr_.map_flags & kFRdonlyProg) return EACCES;
  }
  // arraymap.c array_map_mmap.
  if (!(m.attr_.map_flags & kFMmapable)) return EINVAL;
  if (offset > m.mmap_region_size_ || len > m.mmap_region_size_ - offset) {
    return EINVAL;
  }
  if (write) {
    // Count the writer unless frozen meanwhile (pairs with Freeze's CAS).
    uint64_t s = m.state_.load(std::memory_order_acquire);
    do {
      if (s & ArrayMap::kFrozenBit) return EPERM;
    } while (!m.state_.compare_exchange_weak(s, s + 1,
                                             std::memory_order_acq_rel,
                                             std::memory_order_acquire));
  }
  // Options::mapping_views: a view of the data region, no new mapping (the
  // checks above already bound it by the region). Without a read-only view
  // (no /proc to reopen the memfd), a mapping as without the option.
  uint8_t* base = nullptr;
  if (m.mapping_views_) base = write ? m.data_ : m.ReadOnlyView();
  uint8_t* addr;
  if (base != nullptr) {
    addr = base + offset;
  } else {
    int fd = m.memfd_;
    if (!write) {
      // Without the read-only reopen (no /proc), fall back to the memfd:
      // the mapping is still read-only, only mprotect() could widen it.
      int ro = m.ReadOnlyMemfd();
      if (ro >= 0) fd = ro;
    }
    void* mem = mmap(nullptr, len, prot & (kProtRead | kProtWrite), MAP_SHARED,
                     fd, static_cast<off_t>(offset));
    if (mem == MAP_FAILED) {
      int err = errno;
      if (write) m.state_.fetch_sub(1, std::memory_order_release);
      return err;
    }
    addr = static_cast<uint8_t*>(mem);
  }
  Mapping mapping;
  mapping.map_ = map_;
  mapping.addr_ = addr;
  mapping.length_ = len;
  mapping.writable_ = write;
  mapping.view_ = base != nullptr;
  *out = std::move(mapping);
  return 0;
}

void ReleaseRecycledMemfds() { internal::ReleaseCachedMemfds(); }

}  // namespace amc::impl
