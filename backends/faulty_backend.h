// backends/faulty_backend.h: the reference model with deliberate faults. It
// exists to prove that properties, fuzzers and `amc run` catch, group and
// shrink real mistakes; it is registered but never in the default set, so it
// runs only when named: `faulty` has one fault (updates past the end answer
// ENOENT instead of E2BIG, on both map types), `faulty-multi` four, each
// confined to one map type so that each is one divergence signature.
#ifndef AMC_BACKENDS_FAULTY_BACKEND_H_
#define AMC_BACKENDS_FAULTY_BACKEND_H_

#include <cstdint>
#include <memory>
#include <string>

#include "core/backend.h"
#include "model/model_backend.h"

namespace amc::backends {

// The planted faults, one bit each.
enum FaultBits : uint32_t {
  // Syscall update past the end: ENOENT where Linux answers E2BIG.
  kFaultUpdatePastEndEnoent = 1u << 0,
  // The same, on ARRAY maps only.
  kFaultArrayUpdatePastEndEnoent = 1u << 1,
  // ARRAY: update with BPF_NOEXIST of an existing key: EINVAL, not EEXIST.
  kFaultArrayNoexistEinval = 1u << 2,
  // PERCPU_ARRAY: a syscall lookup's padding bytes (value_size not a
  // multiple of 8) come back 0xaa instead of zero.
  kFaultPercpuLookupPadding = 1u << 3,
  // ARRAY: a successful lookup_batch reports one key fewer in count.
  kFaultArrayBatchCountShort = 1u << 4,
};
inline constexpr uint32_t kFaultsMulti =
    kFaultArrayUpdatePastEndEnoent | kFaultArrayNoexistEinval |
    kFaultPercpuLookupPadding | kFaultArrayBatchCountShort;

class FaultyBackend : public core::Backend {
 public:
  explicit FaultyBackend(model::Params params,
                         uint32_t faults = kFaultUpdatePastEndEnoent,
                         std::string name = "faulty")
      : inner_(std::move(params)), faults_(faults), name_(std::move(name)) {}
  std::string Name() const override { return name_; }
  core::Availability Probe() override { return {}; }
  core::Environment Env() const override { return inner_.Env(); }
  core::CreateResult Create(const core::MapSpec& spec) override;

 private:
  model::ModelBackend inner_;
  uint32_t faults_;
  std::string name_;
};

}  // namespace amc::backends

#endif  // AMC_BACKENDS_FAULTY_BACKEND_H_
