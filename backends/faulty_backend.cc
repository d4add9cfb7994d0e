// backends/faulty_backend.cc: the model, with the planted faults of
// FaultBits applied to its answers.
#include "backends/faulty_backend.h"

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <thread>

namespace amc::backends {
namespace {

class FaultyMap : public core::MapInstance {
 public:
  FaultyMap(std::unique_ptr<core::MapInstance> inner, const core::MapSpec& spec,
            uint32_t faults)
      : inner_(std::move(inner)), spec_(spec), faults_(faults) {}
  core::Result Execute(const core::Op& op) override {
    core::Result r = inner_->Execute(op);
    const bool array = spec_.type == core::MapType::kArray;
    if (const auto* update = std::get_if<core::Update>(&op)) {
      if (r.err == E2BIG && ((faults_ & kFaultUpdatePastEndEnoent) ||
                             (array && (faults_ & kFaultArrayUpdatePastEndEnoent)))) {
        r.err = ENOENT;
      }
      if (array && (faults_ & kFaultArrayNoexistEinval) && r.err == EEXIST &&
          (update->flags & 3) == core::kBpfNoexist) {
        r.err = EINVAL;
      }
    }
    if (std::holds_alternative<core::Lookup>(op) && !array &&
        (faults_ & kFaultPercpuLookupPadding) && r.ok() && r.value) {
      const uint64_t elem = core::ElemSize(spec_);
      if (elem && r.value->size() % elem == 0) {
        for (size_t i = 0; i < r.value->size(); ++i) {
          if (i % elem >= spec_.value_size) (*r.value)[i] = 0xaa;
        }
      }
    }
    if (std::holds_alternative<core::LookupBatch>(op) && array &&
        (faults_ & kFaultArrayBatchCountShort) && r.ok() && r.count &&
        *r.count > 0) {
      --*r.count;
    }
    return r;
  }
  core::MapState ReadState() override { return inner_->ReadState(); }
  void Recycle(core::Result&& r) override { inner_->Recycle(std::move(r)); }

 private:
  std::unique_ptr<core::MapInstance> inner_;
  core::MapSpec spec_;
  uint32_t faults_;
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
  if (r.map) r.map = std::make_unique<FaultyMap>(std::move(r.map), spec, faults_);
  return r;
}

}  // namespace amc::backends
