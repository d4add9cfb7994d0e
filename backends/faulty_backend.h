// backends/faulty_backend.h: the reference model with one deliberate fault
// (updates past the end answer ENOENT instead of E2BIG). It exists to prove
// that properties, fuzzers and `amc run` catch and shrink a real mistake; it
// is registered but never in the default set, so it runs only when named
// (`--backends model,faulty`).
#ifndef AMC_BACKENDS_FAULTY_BACKEND_H_
#define AMC_BACKENDS_FAULTY_BACKEND_H_

#include <memory>

#include "core/backend.h"
#include "model/model_backend.h"

namespace amc::backends {

class FaultyBackend : public core::Backend {
 public:
  explicit FaultyBackend(model::Params params) : inner_(std::move(params)) {}
  std::string Name() const override { return "faulty"; }
  core::Availability Probe() override { return {}; }
  core::Environment Env() const override { return inner_.Env(); }
  core::CreateResult Create(const core::MapSpec& spec) override;

 private:
  model::ModelBackend inner_;
};

}  // namespace amc::backends

#endif  // AMC_BACKENDS_FAULTY_BACKEND_H_
