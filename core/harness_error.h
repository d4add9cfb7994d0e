// core/harness_error.h: the channel for "amc itself failed", kept apart from
// every result a backend gives.
//
// A backend throws HarnessError (from Create, Execute or ReadState) when the
// harness could not do its own part: its own descriptors ran out (EMFILE,
// ENFILE), its own allocations or mappings failed (ENOMEM, std::bad_alloc),
// a call it needs was refused for lack of a capability, or a read-back of
// state failed. It never throws it for an answer of the implementation under
// test: an errno that implementation returns for an op or a map creation is
// a Result (or CreateResult), whatever it is.
//
// core::DifferentialRun catches HarnessError and std::bad_alloc at its
// boundary: the run stops, no Divergence is made, and
// RunOutcome::harness_error says which backend failed at which step, so that
// drivers count and print it as its own class (never minimized, never
// written as a reproducer or a recorded expectation).
#ifndef AMC_CORE_HARNESS_ERROR_H_
#define AMC_CORE_HARNESS_ERROR_H_

#include <stdexcept>
#include <string>

namespace amc::core {

class HarnessError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace amc::core

#endif  // AMC_CORE_HARNESS_ERROR_H_
