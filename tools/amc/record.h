// tools/amc/record.h: recording a sequence on the real kernel for
// `amc record`: the kernel's creation errno and every op's result become the
// sequence's expectations, and the kernel's environment (possible CPUs, page
// size, release) its `env` line.
//
// The recorder is reached through this one function so that it can switch to
// oracle_kernel's own recording function in a few lines once that is on main;
// until then it drives the registry's "kernel" backend through the Backend
// interface, which records the same results.
//
// Invariant: a recorder that is not available says why (the missing
// privilege, or that this build has no kernel backend) and records nothing.
#ifndef AMC_TOOLS_AMC_RECORD_H_
#define AMC_TOOLS_AMC_RECORD_H_

#include <functional>
#include <memory>
#include <string>

#include "core/backend.h"
#include "core/op.h"

namespace amc::cli {

class KernelRecorder {
 public:
  // Probes the kernel backend once.
  KernelRecorder();
  ~KernelRecorder();
  // "" when recording works here, otherwise the reason.
  const std::string& unavailable() const { return unavailable_; }
  // `seq` with expect_create, every step's expect and env set from the
  // kernel (earlier expectations are replaced).
  core::Sequence Record(const core::Sequence& seq);

 private:
  std::string unavailable_;
  std::unique_ptr<core::Backend> kernel_;
};

}  // namespace amc::cli

#endif  // AMC_TOOLS_AMC_RECORD_H_
