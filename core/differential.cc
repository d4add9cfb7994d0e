// core/differential.cc: the differential runner and its reports.
#include "core/differential.h"

#include <cstdio>
#include <memory>
#include <new>

#include "core/coverage.h"
#include "core/harness_error.h"
#include "core/ops_text.h"
#include "core/signature.h"

namespace amc::core {
namespace {

std::string Hex2(uint8_t b) {
  char buf[3];
  std::snprintf(buf, sizeof buf, "%02x", b);
  return buf;
}

std::string CreateText(int err) { return err == 0 ? "created" : ErrnoName(err); }

std::string StepName(size_t index, const Op& op) {
  return "step " + std::to_string(index) + " (" + OpKindName(KindOf(op)) + ")";
}

const char* KindName(Divergence::Kind kind) {
  switch (kind) {
    case Divergence::Kind::kCreate: return "map creation differs";
    case Divergence::Kind::kOp: return "results differ";
    case Divergence::Kind::kFinalState: return "final map contents differ";
    case Divergence::Kind::kExpectation: return "recorded expectation not met";
    case Divergence::Kind::kBackendFailure: return "a backend failed outside an op";
  }
  return "?";
}

}  // namespace

std::string DescribeStateDifference(const MapSpec& spec, const Environment& env,
                                    const MapState& a, const MapState& b) {
  if (a.values.size() != b.values.size()) {
    return "value bytes: " + std::to_string(a.values.size()) + " vs " +
           std::to_string(b.values.size());
  }
  uint64_t per_key = SyscallValueSize(spec, env);
  for (size_t i = 0; i < a.values.size(); ++i) {
    if (a.values[i] == b.values[i]) continue;
    std::string where = "key " + std::to_string(per_key ? i / per_key : 0);
    uint64_t in_key = per_key ? i % per_key : i;
    if (spec.type == MapType::kPercpuArray) {
      uint64_t elem = ElemSize(spec);
      where += " cpu " + std::to_string(in_key / elem);
      in_key %= elem;
    }
    return where + " byte " + std::to_string(in_key) + ": " +
           Hex2(a.values[i]) + " vs " + Hex2(b.values[i]);
  }
  if (a.mmap_data.has_value() != b.mmap_data.has_value()) {
    return std::string("mmap data: ") + (a.mmap_data ? "present" : "absent") +
           " vs " + (b.mmap_data ? "present" : "absent");
  }
  if (a.mmap_data) {
    const auto& x = *a.mmap_data;
    const auto& y = *b.mmap_data;
    if (x.size() != y.size()) {
      return "mmap data bytes: " + std::to_string(x.size()) + " vs " +
             std::to_string(y.size());
    }
    for (size_t i = 0; i < x.size(); ++i) {
      if (x[i] != y[i]) {
        return "mmap data offset " + std::to_string(i) + ": " + Hex2(x[i]) +
               " vs " + Hex2(y[i]);
      }
    }
  }
  return "no difference";
}

// Where two per-CPU syscall values differ, by CPU slot ("per-CPU buffer:
// CPU 2's slot byte 0: 03 vs 00 (4 possible CPUs, 2 online)"), so that a
// runtime that sizes its per-CPU storage by online CPUs is named as such;
// "" when the results hold no such values.
static std::string DescribePercpuValueDifference(const MapSpec& spec,
                                          const Environment& env,
                                          const Result& a, const Result& b) {
  if (spec.type != MapType::kPercpuArray || !a.value || !b.value) return "";
  const std::string cpus = " (" + std::to_string(env.possible_cpus) +
                           " possible CPUs, " + std::to_string(env.Online()) +
                           " online)";
  const Bytes& x = *a.value;
  const Bytes& y = *b.value;
  if (x.size() != y.size()) {
    return "per-CPU buffer of " + std::to_string(x.size()) + " vs " +
           std::to_string(y.size()) + " bytes" + cpus;
  }
  if (x.size() != SyscallValueSize(spec, env)) return "";
  const uint64_t elem = ElemSize(spec);
  for (size_t i = 0; i < x.size(); ++i) {
    if (x[i] == y[i]) continue;
    return "per-CPU buffer: CPU " + std::to_string(i / elem) + "'s slot byte " +
           std::to_string(i % elem) + ": " + Hex2(x[i]) + " vs " + Hex2(y[i]) +
           cpus;
  }
  return "";
}

Sequence Reproducer(const Sequence& seq, const Divergence& divergence) {
  Sequence out;
  out.spec = seq.spec;
  out.env = seq.env;
  size_t keep = seq.steps.size();
  if (divergence.kind == Divergence::Kind::kCreate) keep = 0;
  if (divergence.step >= 0) keep = static_cast<size_t>(divergence.step) + 1;
  for (size_t i = 0; i < keep && i < seq.steps.size(); ++i) {
    out.steps.push_back(Step{seq.steps[i].op, std::nullopt});
  }
  return out;
}

std::string RunOutcome::FailureReport(const Sequence& seq) const {
  if (harness_error) {
    return "HARNESS ERROR (amc itself failed; not a result of any backend): " +
           *harness_error + "\n";
  }
  return divergence ? divergence->Report(seq) : "";
}

std::string Divergence::Summary(const Sequence& seq) const {
  std::string out;
  if (step >= 0 && static_cast<size_t>(step) < seq.steps.size()) {
    out = "step " + std::to_string(step) + " (" +
          OpKindName(KindOf(seq.steps[step].op)) + "): ";
  } else if (kind == Kind::kBackendFailure) {
    out = "outside the ops: ";
  } else if (kind == Kind::kCreate ||
             (kind == Kind::kExpectation && step < 0 && detail.empty())) {
    out = "map creation: ";
  } else {
    out = "final state: ";
  }
  for (size_t i = 0; i < sides.size(); ++i) {
    if (i) out += ", ";
    out += sides[i].first + " " + sides[i].second;
  }
  if (!detail.empty()) out += " (" + detail + ")";
  return out;
}

std::string Divergence::Report(const Sequence& seq) const {
  std::string out = std::string("DIVERGENCE: ") + KindName(kind);
  if (step >= 0 && static_cast<size_t>(step) < seq.steps.size()) {
    out += " at step " + std::to_string(step) + ": " +
           PrintOp(seq.steps[step].op);
  }
  out += "\n";
  size_t width = 0;
  for (const auto& side : sides) width = std::max(width, side.first.size());
  for (const auto& side : sides) {
    out += "  " + side.first + std::string(width - side.first.size(), ' ') +
           " : " + side.second + "\n";
  }
  if (!detail.empty()) out += "  first difference: " + detail + "\n";
  if (!backend_failure.empty()) {
    out += "  backend failure: ";
    for (char c : backend_failure) {
      out += c;
      if (c == '\n') out += "    ";
    }
    out += "\n";
  }
  out += "reproducer (.ops):\n" + PrintOps(Reproducer(seq, *this));
  return out;
}

AMC_NO_COVERAGE
DifferentialRun::DifferentialRun(const MapSpec& spec,
                                 const std::vector<Backend*>& backends,
                                 const std::optional<int>& expect_create,
                                 const RunOptions& options)
    : spec_(spec), backends_(backends), options_(options) {
  maps_.reserve(backends_.size());
  create_errs_.reserve(backends_.size());
  for (size_t b = 0; b < backends_.size(); ++b) {
    CreateResult created;
    try {
      created = backends_[b]->Create(spec_);
    } catch (const HarnessError& e) {
      FailHarness(b, "map creation", e.what());
      return;
    } catch (const std::bad_alloc&) {
      FailHarness(b, "map creation", "out of memory (std::bad_alloc)");
      return;
    }
    if (created.err == 0 && !created.map) created.err = EFAULT;
    create_errs_.push_back(created.err);
    maps_.push_back(std::move(created.map));
  }
  results_.resize(backends_.size());
  auto create_sides = [&] {
    std::vector<std::pair<std::string, std::string>> sides;
    for (size_t b = 0; b < backends_.size(); ++b) {
      sides.emplace_back(backends_[b]->Name(), CreateText(create_errs_[b]));
    }
    return sides;
  };
  if (options_.check_expectations && expect_create) {
    for (int err : create_errs_) {
      if (err != *expect_create) {
        Divergence d;
        d.kind = Divergence::Kind::kExpectation;
        d.sides = create_sides();
        d.sides.insert(d.sides.begin(), {"expected", CreateText(*expect_create)});
        ClassifyCreateDivergence(spec_, Names(), create_errs_, &*expect_create, &d);
        divergence_ = std::move(d);
        return;
      }
    }
  }
  for (int err : create_errs_) {
    if (err != create_errs_[0]) {
      Divergence d;
      d.kind = Divergence::Kind::kCreate;
      d.sides = create_sides();
      ClassifyCreateDivergence(spec_, Names(), create_errs_, nullptr, &d);
      divergence_ = std::move(d);
      return;
    }
  }
  // All refused creation alike: nothing more to run.
  running_ = !backends_.empty() && create_errs_[0] == 0;
}

DifferentialRun::~DifferentialRun() = default;

std::vector<std::string> DifferentialRun::Names() const {
  std::vector<std::string> names;
  for (Backend* b : backends_) names.push_back(b->Name());
  return names;
}

void DifferentialRun::FailHarness(size_t b, const std::string& where,
                                  const std::string& what) {
  harness_error_ = backends_[b]->Name() + ", " + where + ": " + what;
  running_ = false;
}

std::vector<std::pair<std::string, std::string>> DifferentialRun::OpSides() const {
  std::vector<std::pair<std::string, std::string>> sides;
  for (size_t b = 0; b < backends_.size(); ++b) {
    sides.emplace_back(backends_[b]->Name(), PrintResult(results_[b]));
  }
  return sides;
}

AMC_NO_COVERAGE
bool DifferentialRun::Step(size_t index, const Op& op,
                           const std::optional<Result>& expect) {
  if (!running_) return false;
  for (size_t b = 0; b < maps_.size(); ++b) {
    try {
      maps_[b]->Recycle(std::move(results_[b]));
      results_[b] = maps_[b]->Execute(op);
    } catch (const HarnessError& e) {
      FailHarness(b, StepName(index, op), e.what());
      return false;
    } catch (const std::bad_alloc&) {
      FailHarness(b, StepName(index, op), "out of memory (std::bad_alloc)");
      return false;
    }
  }
  if (options_.check_expectations && expect) {
    for (const Result& r : results_) {
      if (!(r == *expect)) {
        Divergence d;
        d.kind = Divergence::Kind::kExpectation;
        d.step = static_cast<int>(index);
        d.sides = OpSides();
        d.sides.insert(d.sides.begin(), {"expected", PrintResult(*expect)});
        ClassifyOpDivergence(spec_, backends_[0]->Env(), op, Names(), results_,
                             &*expect, &d);
        divergence_ = std::move(d);
        running_ = false;
        return false;
      }
    }
  }
  for (size_t b = 1; b < results_.size(); ++b) {
    if (!(results_[b] == results_[0])) {
      Divergence d;
      d.kind = Divergence::Kind::kOp;
      d.step = static_cast<int>(index);
      d.sides = OpSides();
      ClassifyOpDivergence(spec_, backends_[0]->Env(), op, Names(), results_,
                           nullptr, &d);
      std::string where = DescribePercpuValueDifference(
          spec_, backends_[0]->Env(), results_[0], results_[b]);
      if (!where.empty()) {
        d.detail = backends_[0]->Name() + " vs " + backends_[b]->Name() +
                   ": " + where;
      }
      divergence_ = std::move(d);
      running_ = false;
      return false;
    }
  }
  return true;
}

AMC_NO_COVERAGE
bool DifferentialRun::Finish() {
  if (!running_) return !divergence_ && !harness_error_;
  running_ = false;
  if (!options_.compare_final_state || maps_.size() < 2) return true;
  std::vector<MapState> states;
  states.reserve(maps_.size());
  for (size_t b = 0; b < maps_.size(); ++b) {
    try {
      states.push_back(maps_[b]->ReadState());
    } catch (const HarnessError& e) {
      FailHarness(b, "final state read", e.what());
      return false;
    } catch (const std::bad_alloc&) {
      FailHarness(b, "final state read", "out of memory (std::bad_alloc)");
      return false;
    }
  }
  // A backend that failed reading its state has no state to compare.
  for (Backend* b : backends_) {
    if (AddFailureReport(b)) return false;
  }
  for (size_t b = 1; b < states.size(); ++b) {
    if (!(states[b] == states[0])) {
      Divergence d;
      d.kind = Divergence::Kind::kFinalState;
      d.detail = backends_[0]->Name() + " vs " + backends_[b]->Name() + ": " +
                 DescribeStateDifference(spec_, backends_[0]->Env(), states[0],
                                         states[b]);
      for (size_t k = 0; k < states.size(); ++k) {
        d.sides.emplace_back(backends_[k]->Name(), PrintBytes(states[k].values));
      }
      ClassifyStateDivergence(spec_, backends_[0]->Env(), Names(), states, &d);
      divergence_ = std::move(d);
      return false;
    }
  }
  return true;
}

bool DifferentialRun::AddFailureReport(Backend* backend) {
  std::string report = backend->TakeFailureReport();
  if (report.empty()) return false;
  std::string text = backend->Name() + ": " + report;
  if (divergence_) {
    divergence_->backend_failure +=
        (divergence_->backend_failure.empty() ? "" : "\n") + text;
    return false;
  }
  Divergence d;
  d.kind = Divergence::Kind::kBackendFailure;
  d.sides.emplace_back(backend->Name(), report.substr(0, report.find('\n')));
  d.backend_failure = std::move(text);
  divergence_ = std::move(d);
  running_ = false;
  return true;
}

void DifferentialRun::ReleaseMaps() {
  maps_.clear();
  for (Backend* b : backends_) AddFailureReport(b);
}

RunOutcome RunDifferential(const Sequence& seq,
                           const std::vector<Backend*>& backends,
                           const RunOptions& options) {
  RunOutcome outcome;
  std::vector<Backend*> active;
  for (Backend* b : backends) {
    std::string missing = b->UnsupportedSpec(seq.spec);
    for (size_t i = 0; missing.empty() && i < seq.steps.size(); ++i) {
      const Step& step = seq.steps[i];
      if (!b->Supports(KindOf(step.op))) {
        missing = std::string("does not implement ") +
                  OpKindName(KindOf(step.op));
        std::string reason = b->UnsupportedReason(KindOf(step.op));
        if (!reason.empty()) missing += ": " + reason;
        break;
      }
    }
    if (missing.empty()) missing = b->SitsOut(seq.spec);
    if (!missing.empty()) {
      outcome.left_out.emplace_back(b->Name(), missing);
    } else {
      active.push_back(b);
    }
  }
  // std::bad_alloc in the runner itself (not inside a backend, which
  // DifferentialRun catches) is a harness error too, never an abort.
  try {
    DifferentialRun run(seq.spec, active, seq.expect_create, options);
    for (size_t b = 0; b < run.create_errs().size(); ++b) {
      outcome.backends.push_back(
          BackendOutcome{active[b]->Name(), run.create_errs()[b], {}});
    }
    for (size_t i = 0; i < seq.steps.size() && run.running(); ++i) {
      const bool stepped = run.Step(i, seq.steps[i].op, seq.steps[i].expect);
      if (!stepped && run.harness_error()) break;
      for (size_t b = 0; b < outcome.backends.size(); ++b) {
        outcome.backends[b].results.push_back(std::move(run.last_results()[b]));
      }
      outcome.steps_run = i + 1;
    }
    run.Finish();
    run.ReleaseMaps();
    outcome.divergence = run.divergence();
    outcome.harness_error = run.harness_error();
  } catch (const std::bad_alloc&) {
    outcome.divergence.reset();
    outcome.harness_error =
        "harness, after step " + std::to_string(outcome.steps_run) +
        ": out of memory (std::bad_alloc)";
  }
  return outcome;
}

}  // namespace amc::core
