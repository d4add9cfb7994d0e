// concurrency/history.h: recording concurrent histories of the impl and
// checking them for linearizability against the model, many short ones per
// run (a campaign).
//
// A Subject runs one op (core::Op) and returns its Result in the form the
// model gives; ImplSubject does it through amc/array_map.h's helper face
// (program ops on the calling thread's current CPU: the recorder pins each
// thread, so that CPU is the op's `cpu`) and syscall face (MapFd). Test-only
// broken variants derive from it.
//
// Invariant: every recorded HistoryOp's times bracket the call (invoke time
// read before it, return time after, fenced: InvokeNs / ReturnNs), from one
// monotonic clock.
#ifndef AMC_CONCURRENCY_HISTORY_H_
#define AMC_CONCURRENCY_HISTORY_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "amc/array_map.h"
#include "concurrency/linearizability.h"
#include "core/map_spec.h"

namespace amc::concurrency {

// Runs ops on something that behaves like an array map. Run may be called
// from several threads at once.
class Subject {
 public:
  virtual ~Subject() = default;
  virtual core::Result Run(const core::Op& op) = 0;
};

// The impl itself. Owns its map.
class ImplSubject : public Subject {
 public:
  // nullptr when the impl refuses the spec.
  static std::unique_ptr<ImplSubject> Create(
      const core::MapSpec& spec, const impl::Options& options = {});
  core::Result Run(const core::Op& op) override;
  impl::ArrayMap& map() const { return *map_; }

 protected:
  explicit ImplSubject(std::unique_ptr<impl::ArrayMap> map)
      : map_(std::move(map)) {}
  // The program-side atomic add on this thread's CPU (the impl's
  // AtomicAdd); false for a bad key.
  virtual bool AtomicAdd(uint32_t key, uint32_t offset, uint64_t delta,
                         uint64_t* old);
  // The program-side lookup's read of the element this thread's CPU sees
  // (the impl's Lookup, then an atomic copy of value_size bytes).
  virtual core::Result ProgLookup(uint32_t key);

 private:
  std::unique_ptr<impl::ArrayMap> map_;
};

using SubjectFactory =
    std::function<std::unique_ptr<Subject>(const core::MapSpec&)>;

// `count` random single-word ops for the thread on cpus[thread] (update
// values are unique to the thread and op), on keys [0, keys) of `spec`
// (value_size 8): program atomic adds and deletes, syscall lookups, updates
// and deletes, and with `program_values` program lookups (and
// lookup_percpu) and updates. Without `syscall_updates` the syscall updates
// are syscall lookups instead (then no op writes another CPU's slot).
std::vector<core::Op> RandomOps(const core::MapSpec& spec,
                                uint32_t possible_cpus,
                                const std::vector<uint32_t>& cpus,
                                uint32_t thread, size_t count, uint32_t keys,
                                bool program_values, std::mt19937_64* rng,
                                bool syscall_updates = true);

// Runs ops[i] on a thread pinned to cpus[i], all at once, and returns the
// history (thread = index into cpus). Empty if pinning failed.
std::vector<HistoryOp> RecordHistory(
    Subject* subject, const std::vector<uint32_t>& cpus,
    const std::vector<std::vector<core::Op>>& ops);

struct CampaignOptions {
  core::MapSpec spec;          // value_size 8
  size_t histories = 1000;     // stop after this many (or the first failure)
  size_t ops_per_thread = 12;  // per history
  uint32_t keys = 2;           // keys the ops spread over
  uint64_t seed = 1;
  // Program lookups and updates too (off for subjects that cannot run them
  // concurrently, like the kernel's programs sharing one scratch map).
  bool program_values = true;
  // Syscall updates too (off for subjects whose per-CPU adds are exact only
  // against writers on the same CPU, like the impl's rseq add: then every
  // write is a program op on the thread's own CPU's slot).
  bool syscall_updates = true;
};

struct CampaignReport {
  size_t histories = 0;  // histories recorded and checked
  size_t ops = 0;        // ops in them
  uint64_t nodes = 0;    // search nodes expanded in total
  std::string failure;   // empty, or why the campaign stopped: the
                         // counterexample history, printed
};

// Records `histories` histories of fresh subjects (one per history, from
// `make`) on threads pinned to `cpus`, and checks each against the model
// with `params`.
CampaignReport RunCampaign(const SubjectFactory& make,
                           const model::Params& params,
                           const std::vector<uint32_t>& cpus,
                           const CampaignOptions& options);

}  // namespace amc::concurrency

#endif  // AMC_CONCURRENCY_HISTORY_H_
