// backends/faulty_backend.cc: the model, with E2BIG on syscall updates past
// the end turned into ENOENT.
#include "backends/faulty_backend.h"

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <thread>

namespace amc::backends {
namespace {

class FaultyMap : public core::MapInstance {
 public:
  explicit FaultyMap(std::unique_ptr<core::MapInstance> inner)
      : inner_(std::move(inner)) {}
  core::Result Execute(const core::Op& op) override {
    core::Result r = inner_->Execute(op);
    if (std::holds_alternative<core::Update>(op) && r.err == E2BIG) {
      r.err = ENOENT;  // the deliberate fault
    }
    return r;
  }
  core::MapState ReadState() override { return inner_->ReadState(); }
  void Recycle(core::Result&& r) override { inner_->Recycle(std::move(r)); }

 private:
  std::unique_ptr<core::MapInstance> inner_;
};

}  // namespace

core::CreateResult FaultyBackend::Create(const core::MapSpec& spec) {
  // AMC_FAULTY_DELAY_MS=N makes each map creation take N ms more: a slow
  // backend whose divergences take long to minimize, for tests of time
  // budgets that must not depend on the machine's speed.
  static const long delay_ms = [] {
    const char* text = std::getenv("AMC_FAULTY_DELAY_MS");
    return text ? std::strtol(text, nullptr, 10) : 0L;
  }();
  if (delay_ms > 0) {
    std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
  }
  core::CreateResult r = inner_.Create(spec);
  if (r.map) r.map = std::make_unique<FaultyMap>(std::move(r.map));
  return r;
}

}  // namespace amc::backends
