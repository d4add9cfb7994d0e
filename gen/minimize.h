// gen/minimize.h: delta debugging of a failing sequence. Removes ops (in
// halves, then quarters, down to single ops), then simplifies the spec
// (fewer max_entries with the keys renumbered along, smaller value_size,
// fewer flag bits) and the ops (fewer batch keys, smaller keys and counts,
// fewer flag bits, values cut to the map's value size and made zero, or
// zero past their first bytes, or the shortest repeating pattern), in rounds
// until nothing changes, keeping every change after which the sequence
// still fails the same way.
//
// "The same way" (SameDivergence) is the same divergence signature
// (core::Divergence::Signature): the same op kind, map type, differing field
// and answer classes, so the minimizer never trades the bug it was given
// for another one (an EACCES creation case for an EINVAL one).
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

// A predicate for Minimize: the sequence still diverges on `backends` with
// the signature of `divergence` (found on `original`).
std::function<bool(const core::Sequence&)> SameDivergence(
    const std::vector<core::Backend*>& backends, const core::Sequence& original,
    const core::Divergence& divergence);

}  // namespace amc::gen

#endif  // AMC_GEN_MINIMIZE_H_
