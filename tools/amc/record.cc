// tools/amc/record.cc: recording through oracle_kernel's RecordOnKernel when
// it is part of the tree, else through the registry's kernel backend.
#include "tools/amc/record.h"

#if __has_include("oracle_kernel/record.h")
#include "oracle_kernel/record.h"
#define AMC_CLI_HAVE_KERNEL_RECORD 1
#endif

#include "backends/registry.h"
#include "core/harness_error.h"
#include "tools/amc/sysinfo.h"

namespace amc::cli {

bool KernelMapLimitValid(std::string* error) {
#ifdef AMC_CLI_HAVE_KERNEL_RECORD
  return oracle_kernel::KernelMapLimitFromEnvironment(error).has_value();
#else
  (void)error;
  return true;
#endif
}

KernelRecorder::KernelRecorder() {
  backends::Selection selection = backends::SelectBackends("kernel");
  if (!selection.error.empty()) {
    unavailable_ = "this build has no kernel backend (" + selection.error + ")";
  } else if (selection.available.empty()) {
    std::string reason = selection.unavailable.empty()
                             ? std::string("not available")
                             : selection.unavailable[0].second;
    unavailable_ = "the kernel backend cannot run here: " + reason +
                   " (this process has " + ReadPrivileges().Describe() +
                   "; recording needs CAP_BPF and CAP_SYS_ADMIN (the kernel "
                   "backend reads maps back with BPF_MAP_GET_FD_BY_ID), and "
                   "CAP_PERFMON for program ops; root has them all)";
  } else {
    kernel_ = std::move(selection.available[0]);
  }
}

KernelRecorder::~KernelRecorder() = default;

std::optional<core::Sequence> KernelRecorder::Record(const core::Sequence& seq,
                                                     std::string* error,
                                                     bool* harness_error) {
  if (harness_error) *harness_error = false;
#ifdef AMC_CLI_HAVE_KERNEL_RECORD
  oracle_kernel::Recording recording = oracle_kernel::RecordOnKernel(
      seq, dynamic_cast<oracle_kernel::KernelBackend*>(kernel_.get()));
  if (!recording.sequence) *error = recording.error;
  if (harness_error) *harness_error = recording.harness_error;
  return recording.sequence;
#else
  const std::string prefix = "recorded on Linux ";
  core::Sequence out = seq;
  out.env = kernel_->Env();
  out.comments.clear();
  for (const auto& c : seq.comments) {
    if (c.rfind(prefix, 0) != 0) out.comments.push_back(c);
  }
  out.comments.push_back(prefix + out.env->kernel_release + " by amc record");
  try {
    core::CreateResult created = kernel_->Create(seq.spec);
    if (created.err == 0 && !created.map) {
      throw core::HarnessError("the kernel backend created no map");
    }
    out.expect_create = created.err;
    for (core::Step& step : out.steps) {
      step.expect.reset();
      if (created.map) step.expect = created.map->Execute(step.op);
    }
  } catch (const core::HarnessError& e) {
    *error = std::string("HARNESS ERROR (nothing recorded): ") + e.what();
    if (harness_error) *harness_error = true;
    return std::nullopt;
  }
  return out;
#endif
}

}  // namespace amc::cli
