// tools/amc/record.cc: recording through the registry's kernel backend.
#include "tools/amc/record.h"

#include "backends/registry.h"
#include "tools/amc/sysinfo.h"

namespace amc::cli {

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
                   "; recording needs CAP_BPF, or CAP_SYS_ADMIN, for BPF maps "
                   "and SYSCALL programs)";
  } else {
    kernel_ = std::move(selection.available[0]);
  }
}

KernelRecorder::~KernelRecorder() = default;

core::Sequence KernelRecorder::Record(const core::Sequence& seq) {
  core::Sequence out = seq;
  out.env = kernel_->Env();
  core::CreateResult created = kernel_->Create(seq.spec);
  if (created.err == 0 && !created.map) created.err = EFAULT;
  out.expect_create = created.err;
  for (core::Step& step : out.steps) step.expect.reset();
  if (created.err != 0) return out;
  for (core::Step& step : out.steps) step.expect = created.map->Execute(step.op);
  return out;
}

}  // namespace amc::cli
