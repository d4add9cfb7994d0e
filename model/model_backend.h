// model/model_backend.h: the reference model of BPF_MAP_TYPE_ARRAY and
// BPF_MAP_TYPE_PERCPU_ARRAY, the specification in code.
//
// Every rule follows the kernel's own checks in the kernel's order, and
// cites the function it mirrors (kernel/bpf/syscall.c, kernel/bpf/arraymap.c,
// mm/mmap.c, kernel/bpf/verifier.c). It is deliberately plain: a sparse byte
// store and straight-line checks, no cleverness. Lines marked
// `QUESTION(kernel)` are rules not yet confirmed against a running kernel.
//
// Invariant: results depend only on the spec, the ops and the Params below.
#ifndef AMC_MODEL_MODEL_BACKEND_H_
#define AMC_MODEL_MODEL_BACKEND_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "core/backend.h"
#include "core/kernel_profile.h"

namespace amc::model {

struct Params {
  core::Environment env;
  // Online NUMA nodes (nr_node_ids); numa_node >= this is EINVAL.
  uint32_t numa_nodes = 1;
  // bpf_bypass_spec_v1(): the creator has CAP_PERFMON or CAP_SYS_ADMIN, so
  // max_entries is not rounded up to a power of two.
  bool bypass_spec_v1 = true;
  // Storage larger than this fails with ENOMEM, as vmalloc would (an
  // approximation of the machine's memory; generators stay far below).
  uint64_t memory_limit_bytes = uint64_t{16} << 30;
  // Release-dependent behaviour (core/kernel_profile.h); default: newest.
  core::KernelProfile profile = core::AllKernelProfiles().back();

  // This machine's environment and memory, and the profile of its release
  // (or the one AMC_KERNEL_PROFILE names).
  static Params Host();
  // Params answering as on a machine with `env`: its CPUs, page size and,
  // when it names a kernel release, that release's profile (unless
  // AMC_KERNEL_PROFILE names one).
  static Params ForEnvironment(const core::Environment& env);
};

class ModelBackend : public core::Backend {
 public:
  explicit ModelBackend(Params params) : params_(std::move(params)) {}
  std::string Name() const override { return "model"; }
  core::Availability Probe() override { return {}; }
  core::Environment Env() const override { return params_.env; }
  core::CreateResult Create(const core::MapSpec& spec) override;

 private:
  Params params_;
};

// The model's answer to BPF_MAP_CREATE alone (0 or the errno), exposed for
// tests and for generators that want valid specs.
int ModelCreateErrno(const core::MapSpec& spec, const Params& params);

}  // namespace amc::model

#endif  // AMC_MODEL_MODEL_BACKEND_H_
