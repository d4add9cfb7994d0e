// concurrency/linearizability.h: a linearizability checker for concurrent
// histories of array-map ops, in the Wing-Gong style with Lowe's
// memoization (as Porcupine does), against the reference model run
// sequentially.
//
// A history is a set of completed ops, each with the monotonic times just
// before it was invoked and just after it returned. It is linearizable when
// some total order of its ops (1) respects real time: an op that returned
// before another was invoked comes first, and (2) gives, when the model runs
// the ops in that order on a fresh map, exactly the results recorded. Array
// elements are independent objects, so the history is split by key and each
// key's ops are checked alone (linearizability is compositional).
//
// Per-CPU values: the kernel copies a PERCPU_ARRAY syscall value buffer slot
// by slot with no lock (arraymap.c bpf_percpu_array_copy and
// bpf_percpu_array_update), so a syscall lookup racing a syscall update may
// return some CPUs' slots from before it and some from after, and so may
// the impl (each word is atomic, not the buffer). Each CPU's slot of a key
// is then its own object: by default (CheckOptions::percpu_whole_values
// false) a successful syscall lookup or update of a PERCPU key is checked as
// one read or write per slot, at the same times, and the history is split
// by (key, slot).
//
// The search tries, at each step, every pending op that no other pending op
// must precede; it memoizes (set of ops already placed, model state of the
// key) pairs that led nowhere, and caches each (state, op) step of the
// model. Cost is bounded by 2^n states per key; histories must keep at most
// CheckOptions::max_ops_per_key ops per key (24 by default).
//
// Invariant: kLinearizable comes with a witness order that the model
// accepts; kNotLinearizable means no order exists (the search was complete).
#ifndef AMC_CONCURRENCY_LINEARIZABILITY_H_
#define AMC_CONCURRENCY_LINEARIZABILITY_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/map_spec.h"
#include "core/op.h"
#include "core/result.h"
#include "model/model_backend.h"

namespace amc::concurrency {

// One completed op of a concurrent history.
struct HistoryOp {
  // Supported: Lookup, Update, Delete (syscall side) and ProgLookup,
  // ProgLookupPercpu, ProgUpdate, ProgDelete, ProgAtomicAdd (program side,
  // `cpu` = the CPU the thread ran on).
  core::Op op;
  core::Result result;
  uint64_t invoke_ns = 0;  // monotonic time just before the call
  uint64_t return_ns = 0;  // monotonic time just after it returned
  uint32_t thread = 0;
};

struct CheckOptions {
  size_t max_ops_per_key = 24;  // per partition (key, or key and slot); <= 32
  // PERCPU syscall lookups and updates as single atomic ops over every slot
  // (stronger than the kernel promises; see above).
  bool percpu_whole_values = false;
};

enum class Verdict { kLinearizable, kNotLinearizable, kInvalid };

struct CheckResult {
  Verdict verdict = Verdict::kInvalid;
  // kLinearizable: a witness, indices into the history, partition by
  // partition (an op split into per-CPU slots appears once per slot).
  std::vector<size_t> order;
  // kNotLinearizable: the key (and per-CPU slot, when split) whose ops
  // admit no order, and those ops (history indices, in invoke order).
  std::optional<uint32_t> key;
  std::optional<uint32_t> slot;
  std::vector<size_t> ops;
  // kInvalid: why the history cannot be checked (unsupported op, too many
  // ops for a key, a spec the model refuses).
  std::string error;
  // Search nodes expanded (a measure of the work done).
  uint64_t nodes = 0;
};

// Checks `history`, recorded on a map freshly created from `spec` (every
// value zero); the model answers with `params` (its possible CPUs must be
// the ones the history's per-CPU values were recorded with). The spec must
// allow syscall lookups and updates (no BPF_F_RDONLY / BPF_F_WRONLY): the
// checker sets and reads model states through them.
CheckResult CheckLinearizable(const core::MapSpec& spec,
                              const model::Params& params,
                              const std::vector<HistoryOp>& history,
                              const CheckOptions& options = {});

// The ops at `which` (all when empty), in invoke order, one per line:
// "t<thread> [invoke, return] us  <op>  -> <result>", times relative to the
// earliest invoke. For counterexamples.
std::string FormatHistory(const std::vector<HistoryOp>& history,
                          const std::vector<size_t>& which = {});

// The key an op acts on, or nullopt for an op the checker does not support.
std::optional<uint32_t> HistoryKey(const core::Op& op);

}  // namespace amc::concurrency

#endif  // AMC_CONCURRENCY_LINEARIZABILITY_H_
