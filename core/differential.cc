// core/differential.cc: the differential runner and its reports.
#include "core/differential.h"

#include <cstdio>
#include <memory>

#include "core/ops_text.h"

namespace amc::core {
namespace {

std::string Hex2(uint8_t b) {
  char buf[3];
  std::snprintf(buf, sizeof buf, "%02x", b);
  return buf;
}

std::string CreateText(int err) { return err == 0 ? "created" : ErrnoName(err); }

const char* KindName(Divergence::Kind kind) {
  switch (kind) {
    case Divergence::Kind::kCreate: return "map creation differs";
    case Divergence::Kind::kOp: return "results differ";
    case Divergence::Kind::kFinalState: return "final map contents differ";
    case Divergence::Kind::kExpectation: return "recorded expectation not met";
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

std::string Divergence::Summary(const Sequence& seq) const {
  std::string out;
  if (step >= 0 && static_cast<size_t>(step) < seq.steps.size()) {
    out = "step " + std::to_string(step) + " (" +
          OpKindName(KindOf(seq.steps[step].op)) + "): ";
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
  out += "reproducer (.ops):\n" + PrintOps(Reproducer(seq, *this));
  return out;
}

RunOutcome RunDifferential(const Sequence& seq,
                           const std::vector<Backend*>& backends,
                           const RunOptions& options) {
  RunOutcome outcome;
  std::vector<Backend*> active;
  for (Backend* b : backends) {
    std::string missing;
    for (const Step& step : seq.steps) {
      if (!b->Supports(KindOf(step.op))) {
        missing = std::string("does not implement ") +
                  OpKindName(KindOf(step.op));
        break;
      }
    }
    if (!missing.empty()) {
      outcome.left_out.emplace_back(b->Name(), missing);
    } else {
      active.push_back(b);
    }
  }
  const bool check = options.check_expectations;

  // Creation.
  std::vector<std::unique_ptr<MapInstance>> maps;
  for (Backend* b : active) {
    CreateResult created = b->Create(seq.spec);
    if (created.err == 0 && !created.map) created.err = EFAULT;
    outcome.backends.push_back(BackendOutcome{b->Name(), created.err, {}});
    maps.push_back(std::move(created.map));
  }
  auto create_sides = [&] {
    std::vector<std::pair<std::string, std::string>> sides;
    for (const auto& bo : outcome.backends) {
      sides.emplace_back(bo.name, CreateText(bo.create_err));
    }
    return sides;
  };
  if (check && seq.expect_create) {
    for (const auto& bo : outcome.backends) {
      if (bo.create_err != *seq.expect_create) {
        Divergence d;
        d.kind = Divergence::Kind::kExpectation;
        d.sides = create_sides();
        d.sides.insert(d.sides.begin(),
                       {"expected", CreateText(*seq.expect_create)});
        outcome.divergence = d;
        return outcome;
      }
    }
  }
  for (const auto& bo : outcome.backends) {
    if (bo.create_err != outcome.backends[0].create_err) {
      Divergence d;
      d.kind = Divergence::Kind::kCreate;
      d.sides = create_sides();
      outcome.divergence = d;
      return outcome;
    }
  }
  if (active.empty() || outcome.backends[0].create_err != 0) {
    return outcome;  // all refused creation alike: nothing more to run
  }

  // Ops.
  for (size_t i = 0; i < seq.steps.size(); ++i) {
    const Step& step = seq.steps[i];
    for (size_t b = 0; b < maps.size(); ++b) {
      outcome.backends[b].results.push_back(maps[b]->Execute(step.op));
    }
    outcome.steps_run = i + 1;
    auto op_sides = [&] {
      std::vector<std::pair<std::string, std::string>> sides;
      for (const auto& bo : outcome.backends) {
        sides.emplace_back(bo.name, PrintResult(bo.results.back()));
      }
      return sides;
    };
    if (check && step.expect) {
      for (const auto& bo : outcome.backends) {
        if (!(bo.results.back() == *step.expect)) {
          Divergence d;
          d.kind = Divergence::Kind::kExpectation;
          d.step = static_cast<int>(i);
          d.sides = op_sides();
          d.sides.insert(d.sides.begin(),
                         {"expected", PrintResult(*step.expect)});
          outcome.divergence = d;
          return outcome;
        }
      }
    }
    for (const auto& bo : outcome.backends) {
      if (!(bo.results.back() == outcome.backends[0].results.back())) {
        Divergence d;
        d.kind = Divergence::Kind::kOp;
        d.step = static_cast<int>(i);
        d.sides = op_sides();
        outcome.divergence = d;
        return outcome;
      }
    }
  }

  // Final state.
  if (options.compare_final_state && maps.size() > 1) {
    std::vector<MapState> states;
    for (auto& m : maps) states.push_back(m->ReadState());
    for (size_t b = 1; b < states.size(); ++b) {
      if (!(states[b] == states[0])) {
        Divergence d;
        d.kind = Divergence::Kind::kFinalState;
        d.detail = outcome.backends[0].name + " vs " +
                   outcome.backends[b].name + ": " +
                   DescribeStateDifference(seq.spec, active[0]->Env(),
                                           states[0], states[b]);
        for (size_t k = 0; k < states.size(); ++k) {
          d.sides.emplace_back(outcome.backends[k].name,
                               PrintBytes(states[k].values));
        }
        outcome.divergence = d;
        return outcome;
      }
    }
  }
  return outcome;
}

}  // namespace amc::core
