// oracle_kernel/record.cc: recording a sequence's kernel results.
#include "oracle_kernel/record.h"

#include <linux/capability.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <memory>
#include <new>

#include "core/harness_error.h"

namespace amc::oracle_kernel {
namespace {
constexpr const char kRecordedPrefix[] = "recorded on Linux ";

// "uid=0 CAP_BPF CAP_PERFMON CAP_SYS_ADMIN": who recorded, with the
// capabilities results depend on (CAP_PERFMON / CAP_SYS_ADMIN decide the
// power-of-two rounding of array_map_alloc).
std::string Privileges() {
  std::string out = "uid=" + std::to_string(getuid());
  struct __user_cap_header_struct header = {_LINUX_CAPABILITY_VERSION_3, 0};
  struct __user_cap_data_struct data[2] = {};
  if (syscall(SYS_capget, &header, data) != 0) return out + " caps=unknown";
  const std::pair<int, const char*> caps[] = {
      {39, "CAP_BPF"}, {38, "CAP_PERFMON"}, {21, "CAP_SYS_ADMIN"}};
  bool any = false;
  for (const auto& [cap, name] : caps) {
    if ((data[cap / 32].effective >> (cap % 32)) & 1) {
      out += std::string(" ") + name;
      any = true;
    }
  }
  return any ? out : out + " (no BPF capabilities)";
}
}  // namespace

std::string RecordedComment(const core::Environment& env) {
  return std::string(kRecordedPrefix) + env.kernel_release +
         " by oracle_kernel (possible_cpus=" +
         std::to_string(env.possible_cpus) +
         (env.Online() != env.possible_cpus
              ? " online_cpus=" + std::to_string(env.Online())
              : std::string()) +
         " page_size=" + std::to_string(env.page_size) + ", " + Privileges() +
         ")";
}

Recording RecordOnKernel(const core::Sequence& seq, KernelBackend* backend) {
  Recording out;
  std::unique_ptr<KernelBackend> own;
  if (!backend) {
    own = std::make_unique<KernelBackend>(0);
    core::Availability availability = own->Probe();
    if (!availability.available) {
      out.error = "kernel backend unavailable: " + availability.reason;
      return out;
    }
    backend = own.get();
  }
  // An op the kernel cannot run here (a program op on a kernel without
  // SYSCALL programs) has no kernel answer to record: a refused program
  // load is not one.
  for (const core::Step& step : seq.steps) {
    core::OpKind kind = core::KindOf(step.op);
    if (!backend->Supports(kind)) {
      out.error = std::string("cannot record ") + core::OpKindName(kind) +
                  " ops on this kernel: " + backend->UnsupportedReason(kind);
      return out;
    }
  }
  // A map above the kernel backend's memory bound is not asked of the
  // kernel (kernel safety): nothing to record.
  if (std::string why = backend->SitsOut(seq.spec); !why.empty()) {
    out.error = "the kernel backend " + why;
    return out;
  }
  core::Sequence rec;
  rec.spec = seq.spec;
  for (const std::string& c : seq.comments) {
    if (c.rfind(kRecordedPrefix, 0) != 0) rec.comments.push_back(c);
  }
  core::Environment env = backend->Env();
  rec.comments.push_back(RecordedComment(env));
  rec.env = env;
  // A harness error (core/harness_error.h) is no kernel answer: nothing is
  // recorded for the sequence, and the error says why.
  try {
    core::CreateResult created = backend->Create(seq.spec);
    if (created.err == 0 && !created.map) {
      throw core::HarnessError("the kernel backend created no map and gave "
                               "no errno");
    }
    rec.expect_create = created.err;
    for (size_t i = 0; i < seq.steps.size(); ++i) {
      const core::Step& step = seq.steps[i];
      core::Step s{step.op, std::nullopt};
      try {
        if (created.map) s.expect = created.map->Execute(step.op);
      } catch (const core::HarnessError& e) {
        throw core::HarnessError("step " + std::to_string(i) + " (" +
                                 core::OpKindName(core::KindOf(step.op)) +
                                 "): " + e.what());
      }
      rec.steps.push_back(std::move(s));
    }
  } catch (const core::HarnessError& e) {
    out.error = std::string("HARNESS ERROR (nothing recorded): ") + e.what();
    out.harness_error = true;
    return out;
  } catch (const std::bad_alloc&) {
    out.error = "HARNESS ERROR (nothing recorded): out of memory";
    out.harness_error = true;
    return out;
  }
  out.sequence = std::move(rec);
  return out;
}

}  // namespace amc::oracle_kernel
