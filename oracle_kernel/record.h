// oracle_kernel/record.h: kernel truth as a file. Runs a sequence on the real
// kernel and returns it with the kernel's results as its expectations, so
// that machines without privileges replay against recorded kernel truth.
//
// Invariant: the returned sequence has the same spec and ops as the input;
// expect_create and every step's expect are exactly what the kernel gave,
// env is this machine's (possible CPUs, page size, kernel release), and one
// comment line names the kernel release and the recorder's privileges.
#ifndef AMC_ORACLE_KERNEL_RECORD_H_
#define AMC_ORACLE_KERNEL_RECORD_H_

#include <optional>
#include <string>

#include "core/op.h"
#include "oracle_kernel/kernel_backend.h"

namespace amc::oracle_kernel {

struct Recording {
  std::optional<core::Sequence> sequence;  // set on success
  std::string error;                       // why not (kernel unavailable)
  // The harness failed (core/harness_error.h): `error` says where. Never a
  // file the kernel cannot run; always a failed recording.
  bool harness_error = false;
};

// Records `seq` on `backend` (probed by the caller), or on a fresh
// KernelBackend (probed here) when `backend` is null. Steps after the map
// failed to be created are kept without expectations. Earlier "recorded on
// Linux" comment lines are replaced, other comments kept.
Recording RecordOnKernel(const core::Sequence& seq,
                         KernelBackend* backend = nullptr);

// The comment line a recording carries ("recorded on Linux 6.18.44 by
// oracle_kernel (possible_cpus=2 page_size=4096, uid=0 CAP_BPF ...)").
std::string RecordedComment(const core::Environment& env);

}  // namespace amc::oracle_kernel

#endif  // AMC_ORACLE_KERNEL_RECORD_H_
