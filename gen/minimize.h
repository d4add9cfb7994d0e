// gen/minimize.h: delta debugging of a failing sequence. Removes ops (in
// halves, then quarters, down to single ops), then simplifies the spec
// (fewer max_entries, smaller value_size, fewer flag bits) and the ops
// (zero values, smaller keys and counts, fewer flag bits), keeping every
// change after which the sequence still fails the same way.
//
// Invariant: the result still satisfies `still_fails`, and is never larger
// than the input (ops, max_entries, value_size).
#ifndef AMC_GEN_MINIMIZE_H_
#define AMC_GEN_MINIMIZE_H_

#include <cstddef>
#include <functional>
#include <vector>

#include "core/backend.h"
#include "core/differential.h"
#include "core/op.h"

namespace amc::gen {

struct MinimizeOptions {
  // Upper bound on predicate calls (each runs the sequence on every backend).
  size_t max_attempts = 4000;
  // Polled before each attempt: true ends the search at once (a signal, a
  // time budget), and the smallest failing sequence found so far is the
  // result. Unset: never.
  std::function<bool()> stop;
};

struct MinimizeStats {
  size_t attempts = 0;
  size_t ops_before = 0;
  size_t ops_after = 0;
  bool stopped = false;  // options.stop ended the search early
};

core::Sequence Minimize(
    const core::Sequence& failing,
    const std::function<bool(const core::Sequence&)>& still_fails,
    const MinimizeOptions& options = {}, MinimizeStats* stats = nullptr);

// A predicate for Minimize: the sequence still diverges on `backends` with the
// same kind of divergence, at an op of the same kind as `original`.
std::function<bool(const core::Sequence&)> SameDivergence(
    const std::vector<core::Backend*>& backends, const core::Sequence& original,
    const core::Divergence& divergence);

}  // namespace amc::gen

#endif  // AMC_GEN_MINIMIZE_H_
