// tools/amc/record.h: recording a sequence on the real kernel for
// `amc record`: the kernel's creation errno and every op's result become the
// sequence's expectations, and the kernel's environment (possible CPUs, page
// size, release) its `env` line, with a "recorded on Linux ..." comment.
//
// When oracle_kernel/record.h is in the tree, recording is its
// RecordOnKernel (switched at compile time); otherwise the registry's
// "kernel" backend, if any, is driven through the Backend interface, which
// records the same results.
//
// Invariant: a recorder that is not available says why (the missing
// privilege, or that this build has no kernel backend) and records nothing.
#ifndef AMC_TOOLS_AMC_RECORD_H_
#define AMC_TOOLS_AMC_RECORD_H_

#include <memory>
#include <optional>
#include <string>

#include "core/backend.h"
#include "core/op.h"

namespace amc::cli {

// Whether AMC_KERNEL_MAP_LIMIT (set by --kernel-map-limit) is well formed
// for the kernel backend; false with `error` set otherwise.
bool KernelMapLimitValid(std::string* error);

class KernelRecorder {
 public:
  // Probes the kernel backend once.
  KernelRecorder();
  ~KernelRecorder();
  // "" when recording works here, otherwise the reason.
  const std::string& unavailable() const { return unavailable_; }
  // `seq` with expect_create, every step's expect and env set from the
  // kernel (earlier expectations and "recorded on" comments are replaced),
  // or nullopt with `error` set; `*harness_error` (when given) is set when
  // the harness failed (core/harness_error.h) rather than the file holding
  // ops the kernel cannot run: nothing is recorded from such a run.
  std::optional<core::Sequence> Record(const core::Sequence& seq,
                                       std::string* error,
                                       bool* harness_error = nullptr);

 private:
  std::string unavailable_;
  std::unique_ptr<core::Backend> kernel_;
};

}  // namespace amc::cli

#endif  // AMC_TOOLS_AMC_RECORD_H_
