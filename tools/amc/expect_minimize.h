// tools/amc/expect_minimize.h: minimizing a case that fails its recorded
// expectations (`amc minimize` on a recorded file). gen::Minimize drops
// expectations and rewrites ops, which only suits disagreements between
// backends; here ops are only removed, each keeping its recorded result.
//
// A candidate counts as failing the same way when, with expectations
// checked, every kept op before the failing one still meets its expectation
// on every backend, the failing op (with its expectation) is the same one,
// and the same backends contradict it with the same answers. Requiring the
// earlier expectations to hold is what keeps the recorded results meaningful
// after removals.
//
// Invariant: the result is a subsequence of the input's steps, ends at the
// failing step, and still fails that way.
#ifndef AMC_TOOLS_AMC_EXPECT_MINIMIZE_H_
#define AMC_TOOLS_AMC_EXPECT_MINIMIZE_H_

#include <cstddef>
#include <functional>
#include <vector>

#include "core/backend.h"
#include "core/differential.h"
#include "core/op.h"

namespace amc::cli {

// `outcome` is the run of `failing` with expectations checked; its
// divergence must be of kind kExpectation. `stop`, polled before each
// attempt, ends the search with the smallest failing case found so far.
core::Sequence MinimizeExpectationFailure(
    const core::Sequence& failing, const core::RunOutcome& outcome,
    const std::vector<core::Backend*>& backends, size_t max_attempts,
    size_t* attempts, const std::function<bool()>& stop = {});

}  // namespace amc::cli

#endif  // AMC_TOOLS_AMC_EXPECT_MINIMIZE_H_
