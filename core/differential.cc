// core/differential.cc: the differential runner and its reports.
#include "core/differential.h"

#include <cstdio>
#include <memory>
#include <new>

#include "core/coverage.h"
#include "core/harness_error.h"
#include "core/ops_text.h"
#include "core/signature.h"
#include "core/state_digest.h"

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
    case Divergence::Kind::kProbe:
      return "a backend accepted a map the reference refused, then failed";
  }
  return "?";
}

// The bytes an op makes a backend return (its output buffer), for the
// probe's bound; the largest a flag could make it.
uint64_t OutputBytes(const MapSpec& spec, const Environment& env, const Op& op) {
  const uint64_t vbuf = SyscallValueSize(spec, env);
  switch (KindOf(op)) {
    case OpKind::kLookup:
    case OpKind::kLookupAndDelete:
      return vbuf;
    case OpKind::kLookupBatch:
      return vbuf * std::get<LookupBatch>(op).count;
    case OpKind::kLookupAndDeleteBatch:
      return vbuf * std::get<LookupAndDeleteBatch>(op).count;
    case OpKind::kMmapRead:
      return std::get<MmapRead>(op).length;
    case OpKind::kProgLookup:
    case OpKind::kProgLookupPercpu:
      return spec.value_size;
    default:
      return 0;
  }
}

// "crashed" (CRASH_*), "hung", "overran a buffer", "was lost".
std::string FailureVerb(int err) {
  if (err == kErrHung) return "hung";
  if (err == kErrOverrun) return "overran a buffer";
  if (err == kErrLost) return "was lost";
  return "crashed";
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
        StartProbe("expected", *expect_create);
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
      StartProbe(backends_[0]->Name(), create_errs_[0]);
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

void DifferentialRun::StartProbe(const std::string& ref_name, int ref_err) {
  if (!options_.probe_accepted_invalid || ref_err == 0) return;
  for (size_t b = 0; b < maps_.size(); ++b) {
    if (create_errs_[b] == 0 && maps_[b]) probed_.push_back(b);
  }
  probe_accepted_ = "accepted invalid map (" + ref_name + " " +
                    ErrnoName(ref_err) + ")";
  running_ = !probed_.empty();
}

void DifferentialRun::ProbeFinding(size_t b, int index, const Op* op,
                                   const std::string& cls,
                                   const std::string& result_text) {
  Divergence d;
  d.kind = Divergence::Kind::kProbe;
  d.step = index;
  d.sides.emplace_back(backends_[b]->Name(), result_text);
  // What the creation looked like: the divergence this finding replaces.
  std::string created;
  for (const auto& side : divergence_->sides) {
    created += (created.empty() ? "" : ", ") + side.first + " " + side.second;
  }
  d.detail = "map creation: " + created + "; then the ops ran on " +
             backends_[b]->Name() + " alone";
  if (probe_skipped_) {
    d.detail += " (" + std::to_string(probe_skipped_) +
                " ops with outputs past " +
                std::to_string(kProbeMaxOutputBytes >> 20) + " MiB not run)";
  }
  d.map_type = spec_.type;
  if (op) d.op_kind = KindOf(*op);
  d.field = probe_accepted_;
  d.classes.emplace_back(backends_[b]->Name(), cls);
  d.backend_failure = divergence_->backend_failure;
  divergence_ = std::move(d);
  running_ = false;
}

AMC_NO_COVERAGE
bool DifferentialRun::ProbeStep(size_t index, const Op& op) {
  if (OutputBytes(spec_, backends_[0]->Env(), op) > kProbeMaxOutputBytes) {
    ++probe_skipped_;
    return true;
  }
  for (size_t b : probed_) {
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
    if (results_[b].err >= kErrCrashedBase) {
      ProbeFinding(b, static_cast<int>(index), &op, ErrnoName(results_[b].err),
                   PrintResult(results_[b]));
      return false;
    }
  }
  return true;
}

AMC_NO_COVERAGE
bool DifferentialRun::Step(size_t index, const Op& op,
                           const std::optional<Result>& expect) {
  if (!running_) return false;
  if (probing()) return ProbeStep(index, op);
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
  // The probe compares nothing: the reference has no map.
  if (probing()) return false;
  if (!options_.compare_final_state || maps_.size() < 2) return true;
  {
    const uint64_t page = backends_[0]->Env().page_size;
    const uint64_t values =
        SyscallValueSize(spec_, backends_[0]->Env()) * spec_.max_entries;
    const uint64_t region =
        page ? (ElemSize(spec_) * spec_.max_entries + page - 1) / page * page : 0;
    if (values > kStreamedStateBytes || region > kStreamedStateBytes) {
      return FinishStreamed();
    }
  }
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

AMC_NO_COVERAGE
bool DifferentialRun::FinishStreamed() {
  const Environment env = backends_[0]->Env();
  const uint64_t per_key = SyscallValueSize(spec_, env);
  const uint64_t elem = ElemSize(spec_);
  const uint64_t page = env.page_size;
  struct Part {
    StatePart part;
    uint64_t size;
    uint64_t unit;
  };
  std::vector<Part> parts = {
      {StatePart::kValues, per_key * spec_.max_entries, per_key}};
  // The mapped data region, as ReadState gives it: mmapable ARRAY maps
  // without a lock.
  if (spec_.type == MapType::kArray && (spec_.map_flags & kBpfFMmapable) &&
      !spec_.spin_lock_offset && page) {
    parts.push_back({StatePart::kMmapData,
                     (elem * spec_.max_entries + page - 1) / page * page,
                     elem});
  }
  std::vector<uint8_t> ref(0), other(0);
  for (const Part& p : parts) {
    const uint64_t chunk = StateChunkFor(p.unit);
    const uint64_t window =
        chunk * std::max<uint64_t>(1, kStateWindowBytes / chunk);
    ref.resize(std::min(chunk, p.size));
    for (uint64_t from = 0; from < p.size; from += window) {
      const uint64_t span = std::min(window, p.size - from);
      // Every other backend's digests of this window's chunks, one request
      // each; then the reference's, chunk by chunk while each is in cache.
      std::vector<std::vector<uint64_t>> theirs(maps_.size());
      for (size_t b = 1; b < maps_.size(); ++b) {
        try {
          theirs[b] = maps_[b]->StateDigests(p.part, from, span, chunk);
        } catch (const HarnessError& e) {
          FailHarness(b, "final state read", e.what());
          return false;
        } catch (const std::bad_alloc&) {
          FailHarness(b, "final state read", "out of memory (std::bad_alloc)");
          return false;
        }
      }
      for (Backend* b : backends_) {
        if (AddFailureReport(b)) return false;
      }
      for (uint64_t at = from; at < from + span; at += chunk) {
        const uint64_t n = std::min(chunk, from + span - at);
        const size_t index = (at - from) / chunk;
        std::vector<uint64_t> digests(maps_.size());
        try {
          maps_[0]->ReadStateChunk(p.part, at, n, ref.data());
        } catch (const HarnessError& e) {
          FailHarness(0, "final state read", e.what());
          return false;
        }
        digests[0] = StateDigest(ref.data(), n);
        for (size_t b = 1; b < maps_.size(); ++b) {
          digests[b] =
              index < theirs[b].size() ? theirs[b][index] : ~digests[0];
        }
        for (size_t b = 1; b < maps_.size(); ++b) {
          if (digests[b] == digests[0]) continue;
          // Where: this chunk's bytes, read from both sides.
          other.assign(n, 0);
          try {
            maps_[b]->ReadStateChunk(p.part, at, n, other.data());
          } catch (const HarnessError& e) {
            FailHarness(b, "final state read", e.what());
            return false;
          }
          MapState a, x;
          std::vector<uint8_t> mine(ref.begin(), ref.begin() + n);
          if (p.part == StatePart::kValues) {
            a.values = std::move(mine);
            x.values = other;
          } else {
            a.mmap_data = std::move(mine);
            x.mmap_data = other;
          }
          Divergence d;
          d.kind = Divergence::Kind::kFinalState;
          const std::vector<uint8_t>& pa =
              p.part == StatePart::kValues ? a.values : *a.mmap_data;
          const std::vector<uint8_t>& px =
              p.part == StatePart::kValues ? x.values : *x.mmap_data;
          uint64_t i = 0;
          while (i < n && pa[i] == px[i]) ++i;
          const uint64_t global = at + i;
          std::string where;
          if (p.part == StatePart::kValues) {
            where = "key " + std::to_string(per_key ? global / per_key : 0);
            uint64_t in_key = per_key ? global % per_key : global;
            if (spec_.type == MapType::kPercpuArray && elem) {
              where += " cpu " + std::to_string(in_key / elem);
              in_key %= elem;
            }
            where += " byte " + std::to_string(in_key);
          } else {
            where = "mmap data offset " + std::to_string(global);
          }
          if (i < n) {
            where += ": " + Hex2(pa[i]) + " vs " + Hex2(px[i]);
          } else {
            where += ": the same bytes, another digest (a harness fault)";
          }
          d.detail = backends_[0]->Name() + " vs " + backends_[b]->Name() +
                     ": " + where + " (a state of " + std::to_string(p.size) +
                     " bytes, compared in chunks of " + std::to_string(chunk) +
                     ")";
          for (size_t k = 0; k < maps_.size(); ++k) {
            d.sides.emplace_back(
                backends_[k]->Name(),
                k == 0 || digests[k] == digests[0]
                    ? "chunk digest " + std::to_string(digests[0])
                    : "chunk digest " + std::to_string(digests[k]));
          }
          std::vector<MapState> states(maps_.size(), a);
          states[b] = x;
          // Classified on this chunk: it starts at a key (StateChunkFor), so
          // value and padding bytes fall where they do in the whole state.
          ClassifyStateDivergence(spec_, env, Names(), states, &d);
          divergence_ = std::move(d);
          return false;
        }
      }
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
  // A probed backend that failed outside the ops (destroying the map it
  // should not have created) is a probe finding, when no op was one.
  if (probing() && divergence_ && divergence_->kind != Divergence::Kind::kProbe) {
    for (size_t b : probed_) {
      std::string report = backends_[b]->TakeFailureReport();
      if (report.empty()) continue;
      const std::string first = report.substr(0, report.find('\n'));
      ProbeFinding(b, -1, nullptr, first.substr(0, first.find(' ')), first);
      divergence_->backend_failure += (divergence_->backend_failure.empty() ? "" : "\n") +
                                      backends_[b]->Name() + ": " + report;
      break;
    }
  }
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
