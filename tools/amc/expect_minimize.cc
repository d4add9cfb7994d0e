// tools/amc/expect_minimize.cc: ddmin over steps with expectations kept.
#include "tools/amc/expect_minimize.h"

#include <algorithm>
#include <map>
#include <optional>
#include <string>

#include "core/ops_text.h"

namespace amc::cli {
namespace {

// Which backends contradict the expectation the run stopped at, and what
// each of them answered there.
std::map<std::string, std::string> Contradicting(
    const core::Sequence& seq, const core::RunOutcome& outcome) {
  std::map<std::string, std::string> out;
  const core::Divergence& d = *outcome.divergence;
  for (const auto& bo : outcome.backends) {
    if (d.step < 0) {
      if (seq.expect_create && bo.create_err != *seq.expect_create) {
        out.emplace(bo.name, core::ErrnoName(bo.create_err));
      }
    } else if (static_cast<size_t>(d.step) < bo.results.size() &&
               seq.steps[d.step].expect &&
               !(bo.results[d.step] == *seq.steps[d.step].expect)) {
      out.emplace(bo.name, core::PrintResult(bo.results[d.step]));
    }
  }
  return out;
}

}  // namespace

core::Sequence MinimizeExpectationFailure(
    const core::Sequence& failing, const core::RunOutcome& outcome,
    const std::vector<core::Backend*>& backends, size_t max_attempts,
    size_t* attempts, const std::function<bool()>& stop) {
  const core::Divergence& d = *outcome.divergence;
  core::Sequence best = failing;
  *attempts = 0;
  if (d.step < 0) {  // creation contradicts its expectation: no op matters
    best.steps.clear();
    return best;
  }
  best.steps.resize(static_cast<size_t>(d.step) + 1);
  const core::Step target = failing.steps[d.step];
  const std::map<std::string, std::string> who =
      Contradicting(failing, outcome);

  auto still_fails = [&](const core::Sequence& candidate) {
    ++*attempts;
    core::RunOutcome out = core::RunDifferential(candidate, backends);
    if (out.ok() ||
        out.divergence->kind != core::Divergence::Kind::kExpectation ||
        out.divergence->step < 0) {
      return false;
    }
    size_t step = static_cast<size_t>(out.divergence->step);
    return step + 1 == candidate.steps.size() &&
           candidate.steps[step] == target &&
           Contradicting(candidate, out) == who;
  };

  // Removes chunks of the steps before the failing one, halving the chunk
  // size down to single steps.
  size_t chunk = std::max<size_t>(1, (best.steps.size() - 1) / 2);
  bool stopped = false;
  auto more = [&] {
    if (!stopped && stop && stop()) stopped = true;
    return !stopped && *attempts < max_attempts;
  };
  while (more()) {
    bool removed = false;
    for (size_t start = 0; start + 1 < best.steps.size() && more();) {
      size_t end = std::min(start + chunk, best.steps.size() - 1);
      core::Sequence candidate = best;
      candidate.steps.erase(candidate.steps.begin() + start,
                            candidate.steps.begin() + end);
      if (still_fails(candidate)) {
        best = std::move(candidate);
        removed = true;
      } else {
        start = end;
      }
    }
    if (chunk == 1 && !removed) break;
    if (!removed) chunk = std::max<size_t>(1, chunk / 2);
  }
  return best;
}

}  // namespace amc::cli
