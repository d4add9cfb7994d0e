// tools/amc/limits.h: the process limits a command needs, checked before it
// starts, so that running out of descriptors or address space is refused up
// front with the number needed instead of showing up as results.
//
// RLIMIT_NOFILE: the soft limit is raised to what the run needs (up to the
// hard limit); a hard limit below the need refuses the command (exit 2) and
// names the number. RLIMIT_AS (ulimit -v): when set, it is reported; an
// allocation that fails under it is a harness error (core/harness_error.h),
// never a result.
//
// Invariant: EnsureLimits either leaves the soft descriptor limit at or above
// DescriptorsNeeded, or returns why it cannot.
#ifndef AMC_TOOLS_AMC_LIMITS_H_
#define AMC_TOOLS_AMC_LIMITS_H_

#include <cstdint>
#include <string>

namespace amc::cli {

// Descriptors a run of `jobs` workers needs: a margin for the process
// (stdio, reports, plug-in pipes) plus, per job, the kernel backend's
// cached and live maps with their read-write fds, scratch maps and
// programs when the kernel runs, else the impl's memfds.
uint64_t DescriptorsNeeded(unsigned jobs, bool kernel);

struct LimitCheck {
  std::string error;  // non-empty: refuse (exit 2) with this
  std::string note;   // non-empty: print it (a limit raised, RLIMIT_AS set)
};

// Raises RLIMIT_NOFILE's soft limit to DescriptorsNeeded(jobs, kernel)
// when it is lower, and reports RLIMIT_AS.
LimitCheck EnsureLimits(unsigned jobs, bool kernel);

// Whether a --backends list (as for SelectBackends; "" = the default set)
// may run the kernel backend.
bool MayRunKernel(const std::string& backend_list);

}  // namespace amc::cli

#endif  // AMC_TOOLS_AMC_LIMITS_H_
