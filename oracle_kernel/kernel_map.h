// oracle_kernel/kernel_map.h: one kernel map as the backend holds it
// (KernelMapHandle: fds, scratch maps, loaded programs), the pool that caches
// them between sequences (KernelPool), and what kernel_map.cc offers the rest
// of the backend: a sequence's MapInstance over a handle, the state read-back
// and the verified reset. Internal to oracle_kernel, not exported.
#ifndef AMC_ORACLE_KERNEL_KERNEL_MAP_H_
#define AMC_ORACLE_KERNEL_KERNEL_MAP_H_

#include <array>
#include <atomic>
#include <cstdint>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <utility>

#include "core/backend.h"
#include "oracle_kernel/kernel_backend.h"
#include "oracle_kernel/kernel_calls.h"
#include "oracle_kernel/programs.h"

namespace amc::oracle_kernel::internal {

// ---- programs (programs.h) ----

struct LoadedProgram {
  bool tried = false;
  int err = 0;  // the load's errno
  Fd fd;
  ProgFace face = ProgFace::kSyscall;
};
constexpr int Index(ProgKind kind) { return static_cast<int>(kind); }
constexpr int Index(ProgFace face) { return static_cast<int>(face); }

// One kernel map with its fds, scratch maps and loaded programs; cached per
// spec between sequences.
struct KernelMapHandle {
  core::MapSpec spec;
  Fd fd;     // the creation fd: its mode follows BPF_F_RDONLY / BPF_F_WRONLY
  // A read-write fd by id (BPF_MAP_GET_FD_BY_ID, open_flags 0) when the
  // creation fd is not one (BPF_F_RDONLY / BPF_F_WRONLY); else unset.
  Fd rw_fd;
  int rw() const { return rw_fd.valid() ? rw_fd.get() : fd.get(); }
  Fd in_fd, out_fd;  // one-entry ARRAY scratch maps for program values
  std::shared_ptr<Fd> res;  // the pool's ProgReport map, for kOnCpu programs
  std::array<std::array<LoadedProgram, kProgKinds>, 2> progs;  // by face
  // prog_atomic_add, one per offset (the offset is a load-time constant)
  // and face.
  std::map<std::pair<uint32_t, int>, LoadedProgram> atomic_by_offset;
  bool frozen = false;

  KernelMapHandle() = default;
  KernelMapHandle(const KernelMapHandle&) = delete;
  KernelMapHandle& operator=(const KernelMapHandle&) = delete;
  void DropPrograms() {
    for (auto& face : progs) {
      for (auto& p : face) p = LoadedProgram{};
    }
    atomic_by_offset.clear();
  }
};

class KernelPool {
 public:
  explicit KernelPool(size_t capacity) : capacity_(capacity) {}
  ~KernelPool() { Drop(); }

  std::unique_ptr<KernelMapHandle> Take(const core::MapSpec& spec) {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto it = idle_.begin(); it != idle_.end(); ++it) {
      if ((*it)->spec == spec) {
        auto h = std::move(*it);
        idle_.erase(it);
        return h;
      }
    }
    return nullptr;
  }
  void Give(std::unique_ptr<KernelMapHandle> h) {
    std::unique_ptr<KernelMapHandle> evicted;
    std::lock_guard<std::mutex> lock(mu_);
    if (h->frozen) {  // cannot be reset: destroyed here
      KeepScratch(h.get());
      return;
    }
    idle_.push_front(std::move(h));
    if (idle_.size() > capacity_) {
      evicted = std::move(idle_.back());
      idle_.pop_back();
      KeepScratch(evicted.get());
    }
  }
  // A pair of scratch maps for programs on maps of `value_size`, from a
  // destroyed map; false when none is idle.
  bool TakeScratch(uint32_t value_size, Fd* in, Fd* out) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = scratch_.find(value_size);
    if (it == scratch_.end()) return false;
    *in = std::move(it->second.first);
    *out = std::move(it->second.second);
    scratch_.erase(it);
    return true;
  }
  void Drop() {
    std::list<std::unique_ptr<KernelMapHandle>> gone;
    std::multimap<uint32_t, std::pair<Fd, Fd>> scratch;
    std::shared_ptr<Fd> res;
    std::lock_guard<std::mutex> lock(mu_);
    gone.swap(idle_);
    scratch.swap(scratch_);
    res.swap(res_);
  }
  // Whether program ops run as kOnCpu programs where the verifier takes
  // them (set from the probe: ProbeFacts::on_cpu_err).
  void SetOnCpu(bool on) { on_cpu_.store(on, std::memory_order_relaxed); }
  bool OnCpu() const { return on_cpu_.load(std::memory_order_relaxed); }
  // The ProgReport map the kOnCpu programs of this backend report into
  // (made on first use; shared by the maps whose programs refer to it, so
  // it lives while any of them does); null with `*err` set when creating it
  // failed.
  std::shared_ptr<Fd> Res(int* err) {
    std::lock_guard<std::mutex> lock(mu_);
    if (!res_) {
      core::MapSpec s;
      s.type = core::MapType::kArray;
      s.value_size = sizeof(ProgReport);
      s.max_entries = 1;
      int fd = CreateMap(s, KernelBackend::MapName());
      if (fd < 0) {
        *err = -fd;
        return nullptr;
      }
      res_ = std::make_shared<Fd>(fd);
    }
    return res_;
  }
  KernelStats stats() {
    std::lock_guard<std::mutex> lock(mu_);
    return stats_;
  }
  template <typename F>
  void Count(F f) {
    std::lock_guard<std::mutex> lock(mu_);
    f(stats_);
  }

 private:
  std::mutex mu_;
  size_t capacity_;
  // Keeps the scratch maps of a map being destroyed (mu_ held). They hold
  // nothing a later program reads before writing it (`in` is written
  // before every prog_update, `out` read only after a lookup wrote it), so
  // any map of the same value_size may use them.
  void KeepScratch(KernelMapHandle* h) {
    if (!h->in_fd.valid() || !h->out_fd.valid()) return;
    if (scratch_.size() >= kMaxIdleScratch) return;
    scratch_.emplace(h->spec.value_size,
                     std::make_pair(std::move(h->in_fd), std::move(h->out_fd)));
  }
  static constexpr size_t kMaxIdleScratch = 8;

  std::list<std::unique_ptr<KernelMapHandle>> idle_;
  // Idle scratch map pairs (`in`, `out`) by value_size.
  std::multimap<uint32_t, std::pair<Fd, Fd>> scratch_;
  std::shared_ptr<Fd> res_;
  std::atomic<bool> on_cpu_{false};
  KernelStats stats_;
};

// The mmap data region of a BPF_F_MMAPABLE map of `spec`: its values, in
// whole pages.
uint64_t MmapRegionSize(const core::MapSpec& spec,
                        const core::Environment& env);

// BPF_MAP_LOOKUP_BATCH-style call with buffers sized for at most `count`
// elements (never more than max_entries can be copied); values are packed
// KeyValueSize(elem_flags) apart.
core::Result BatchLookupLike(int cmd, int fd, const core::MapSpec& spec,
                             const core::Environment& env,
                             std::optional<uint32_t> in_batch, uint32_t count,
                             uint64_t elem_flags, uint64_t flags);

// Writes zeros everywhere (batch update through the read-write fd, and the
// data region through a writable mapping), then reads everything back.
bool ResetAndVerify(const KernelMapHandle& h, const core::Environment& env);

// A sequence's map over `h` (given back to `pool` when it is destroyed).
// RawProgramFor (kernel_backend.h) reaches its programs.
std::unique_ptr<core::MapInstance> NewKernelMap(
    std::unique_ptr<KernelMapHandle> h, std::shared_ptr<KernelPool> pool,
    const core::Environment& env);

}  // namespace amc::oracle_kernel::internal

#endif  // AMC_ORACLE_KERNEL_KERNEL_MAP_H_
