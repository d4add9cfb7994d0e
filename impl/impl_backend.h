// impl/impl_backend.h: the optimized lock-free array maps (amc/array_map.h)
// as a core::Backend named "impl", so they run in the conformance suite,
// properties, fuzzers and corpus replay like every backend.
//
// Invariant: the adapter adds only the harness conventions of core/op.h
// (mmap slots via core::MappingTable, program ops' CPU and load-time
// verifier rules); every map semantic comes from the library itself.
#ifndef AMC_IMPL_IMPL_BACKEND_H_
#define AMC_IMPL_IMPL_BACKEND_H_

#include <optional>
#include <string>

#include "core/backend.h"
#include "core/kernel_profile.h"

namespace amc::impl {

class ImplBackend : public core::Backend {
 public:
  // `env`, when given, makes the maps answer as on a machine with that many
  // possible CPUs. The page size is always this machine's (mappings are
  // real), so a different one shows in Env() and the registry skips us.
  explicit ImplBackend(const std::optional<core::Environment>& env = {});
  // Releases the memfds its maps' recycling kept (ReleaseRecycledMemfds).
  ~ImplBackend() override;
  std::string Name() const override { return "impl"; }
  core::Availability Probe() override { return {}; }
  core::Environment Env() const override { return env_; }
  core::CreateResult Create(const core::MapSpec& spec) override;

 private:
  core::Environment env_;
  // Release-dependent answers follow the profile of env_'s release (or
  // AMC_KERNEL_PROFILE), as the model's do.
  core::KernelProfile profile_;
};

}  // namespace amc::impl

#endif  // AMC_IMPL_IMPL_BACKEND_H_
