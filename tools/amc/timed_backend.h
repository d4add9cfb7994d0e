// tools/amc/timed_backend.h: a decorator that measures the time a backend
// spends creating maps and running ops, so `amc run` can report ops per
// second per backend even though the differential runner interleaves them.
//
// Invariant: answers exactly as the wrapped backend (name, probe, env,
// support, every result); only the clock readings are added. A timer is
// owned by one worker thread, like the backend it measures.
#ifndef AMC_TOOLS_AMC_TIMED_BACKEND_H_
#define AMC_TOOLS_AMC_TIMED_BACKEND_H_

#include <chrono>
#include <cstdint>
#include <memory>

#include "core/backend.h"

namespace amc::cli {

struct BackendTimer {
  uint64_t busy_ns = 0;
  bool enabled = true;  // off while minimizing, so figures are the campaign's
};

class TimedBackend : public core::Backend {
 public:
  TimedBackend(std::unique_ptr<core::Backend> inner, BackendTimer* timer)
      : inner_(std::move(inner)), timer_(timer) {}
  std::string Name() const override { return inner_->Name(); }
  core::Availability Probe() override { return inner_->Probe(); }
  core::Environment Env() const override { return inner_->Env(); }
  bool Supports(core::OpKind kind) const override {
    return inner_->Supports(kind);
  }
  std::string UnsupportedReason(core::OpKind kind) const override {
    return inner_->UnsupportedReason(kind);
  }
  std::string UnsupportedSpec(const core::MapSpec& spec) const override {
    return inner_->UnsupportedSpec(spec);
  }
  std::string SitsOut(const core::MapSpec& spec) override {
    return inner_->SitsOut(spec);
  }
  core::CreateResult Create(const core::MapSpec& spec) override;
  std::string TakeFailureReport() override {
    return inner_->TakeFailureReport();
  }
  void Restart() override { inner_->Restart(); }

 private:
  std::unique_ptr<core::Backend> inner_;
  BackendTimer* timer_;
};

// Adds the time between construction and destruction to a timer.
class ScopedTimer {
 public:
  explicit ScopedTimer(BackendTimer* timer)
      : timer_(timer), start_(std::chrono::steady_clock::now()) {}
  ~ScopedTimer() {
    if (timer_->enabled) {
      timer_->busy_ns += static_cast<uint64_t>(
          std::chrono::duration_cast<std::chrono::nanoseconds>(
              std::chrono::steady_clock::now() - start_)
              .count());
    }
  }

 private:
  BackendTimer* timer_;
  std::chrono::steady_clock::time_point start_;
};

class TimedMap : public core::MapInstance {
 public:
  TimedMap(std::unique_ptr<core::MapInstance> inner, BackendTimer* timer)
      : inner_(std::move(inner)), timer_(timer) {}
  ~TimedMap() override {
    ScopedTimer t(timer_);
    inner_.reset();
  }
  core::Result Execute(const core::Op& op) override {
    ScopedTimer t(timer_);
    return inner_->Execute(op);
  }
  core::MapState ReadState() override {
    ScopedTimer t(timer_);
    return inner_->ReadState();
  }
  void ReadStateChunk(core::StatePart part, uint64_t offset, uint64_t length,
                      uint8_t* out) override {
    ScopedTimer t(timer_);
    inner_->ReadStateChunk(part, offset, length, out);
  }
  std::vector<uint64_t> StateDigests(core::StatePart part, uint64_t offset,
                                     uint64_t length, uint64_t chunk) override {
    ScopedTimer t(timer_);
    return inner_->StateDigests(part, offset, length, chunk);
  }
  void Recycle(core::Result&& r) override { inner_->Recycle(std::move(r)); }

 private:
  std::unique_ptr<core::MapInstance> inner_;
  BackendTimer* timer_;
};

inline core::CreateResult TimedBackend::Create(const core::MapSpec& spec) {
  core::CreateResult created;
  {
    ScopedTimer t(timer_);
    created = inner_->Create(spec);
  }
  if (created.map) {
    created.map = std::make_unique<TimedMap>(std::move(created.map), timer_);
  }
  return created;
}

}  // namespace amc::cli

#endif  // AMC_TOOLS_AMC_TIMED_BACKEND_H_
