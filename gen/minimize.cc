// gen/minimize.cc: ddmin over ops, then greedy simplification of fields.
#include "gen/minimize.h"

#include <algorithm>

namespace amc::gen {
namespace {

class Search {
 public:
  Search(const std::function<bool(const core::Sequence&)>& still_fails,
         size_t budget, const std::function<bool()>& stop)
      : still_fails_(still_fails), budget_(budget), stop_(stop) {}

  // Keeps `candidate` in `best` when it still fails.
  bool Try(core::Sequence& best, const core::Sequence& candidate) {
    if (!stopped_ && stop_ && stop_()) {
      stopped_ = true;
      budget_ = attempts_;  // exhausted: every loop ends
    }
    if (attempts_ >= budget_ || candidate == best) return false;
    ++attempts_;
    if (!still_fails_(candidate)) return false;
    best = candidate;
    return true;
  }
  bool exhausted() const { return attempts_ >= budget_; }
  size_t attempts() const { return attempts_; }
  bool stopped() const { return stopped_; }

 private:
  const std::function<bool(const core::Sequence&)>& still_fails_;
  size_t budget_;
  const std::function<bool()>& stop_;
  bool stopped_ = false;
  size_t attempts_ = 0;
};

void RemoveOps(Search& s, core::Sequence& best) {
  size_t chunk = std::max<size_t>(1, best.steps.size() / 2);
  while (chunk >= 1 && !s.exhausted()) {
    bool removed = false;
    for (size_t start = 0; start < best.steps.size() && !s.exhausted();) {
      core::Sequence candidate = best;
      size_t end = std::min(start + chunk, candidate.steps.size());
      candidate.steps.erase(candidate.steps.begin() + start,
                            candidate.steps.begin() + end);
      if (s.Try(best, candidate)) {
        removed = true;  // same start now names the next chunk
      } else {
        start += chunk;
      }
    }
    if (chunk == 1 && !removed) break;
    if (!removed) chunk /= 2;
  }
}

// Candidate smaller values for a number, smallest first.
std::vector<uint64_t> Smaller(uint64_t v) {
  std::vector<uint64_t> out;
  for (uint64_t c : {uint64_t{0}, uint64_t{1}, uint64_t{2}, v / 2, v - 1}) {
    if (c < v && std::find(out.begin(), out.end(), c) == out.end()) {
      out.push_back(c);
    }
  }
  return out;
}

template <class T>
void ShrinkNumber(Search& s, core::Sequence& best,
                  const std::function<T&(core::Sequence&)>& field) {
  bool progress = true;
  while (progress && !s.exhausted()) {
    progress = false;
    for (uint64_t c : Smaller(field(best))) {
      core::Sequence candidate = best;
      field(candidate) = static_cast<T>(c);
      if (s.Try(best, candidate)) {
        progress = true;
        break;
      }
    }
  }
}

template <class T>
void ClearBits(Search& s, core::Sequence& best,
               const std::function<T&(core::Sequence&)>& field) {
  for (int bit = 8 * sizeof(T) - 1; bit >= 0 && !s.exhausted(); --bit) {
    T mask = static_cast<T>(T{1} << bit);
    if (!(field(best) & mask)) continue;
    core::Sequence candidate = best;
    field(candidate) &= static_cast<T>(~mask);
    s.Try(best, candidate);
  }
}

void ZeroBytes(Search& s, core::Sequence& best,
               const std::function<core::Bytes&(core::Sequence&)>& field) {
  core::Bytes& bytes = field(best);
  if (std::all_of(bytes.begin(), bytes.end(), [](uint8_t b) { return b == 0; })) {
    return;
  }
  core::Sequence candidate = best;
  std::fill(field(candidate).begin(), field(candidate).end(), 0);
  s.Try(best, candidate);
}

void SimplifySpec(Search& s, core::Sequence& best) {
  ShrinkNumber<uint32_t>(s, best, [](core::Sequence& q) -> uint32_t& { return q.spec.max_entries; });
  ShrinkNumber<uint32_t>(s, best, [](core::Sequence& q) -> uint32_t& { return q.spec.value_size; });
  ClearBits<uint32_t>(s, best, [](core::Sequence& q) -> uint32_t& { return q.spec.map_flags; });
  ShrinkNumber<uint32_t>(s, best, [](core::Sequence& q) -> uint32_t& { return q.spec.numa_node; });
  if (best.spec.type == core::MapType::kPercpuArray) {
    core::Sequence candidate = best;
    candidate.spec.type = core::MapType::kArray;
    s.Try(best, candidate);
  }
}

void SimplifyOps(Search& s, core::Sequence& best) {
  for (size_t i = 0; i < best.steps.size() && !s.exhausted(); ++i) {
    std::visit(
        [&](auto& op) {
          using T = std::decay_t<decltype(op)>;
          auto get = [i](core::Sequence& q) -> T& { return std::get<T>(q.steps[i].op); };
          if constexpr (requires(T t) { t.key; }) {
            if constexpr (std::is_same_v<decltype(op.key), uint32_t>) {
              ShrinkNumber<uint32_t>(s, best, [get](core::Sequence& q) -> uint32_t& { return get(q).key; });
            }
          }
          if constexpr (requires(T t) { t.flags; }) {
            ClearBits<uint64_t>(s, best, [get](core::Sequence& q) -> uint64_t& { return get(q).flags; });
          }
          if constexpr (requires(T t) { t.elem_flags; }) {
            ClearBits<uint64_t>(s, best, [get](core::Sequence& q) -> uint64_t& { return get(q).elem_flags; });
          }
          if constexpr (requires(T t) { t.count; }) {
            ShrinkNumber<uint32_t>(s, best, [get](core::Sequence& q) -> uint32_t& { return get(q).count; });
          }
          if constexpr (requires(T t) { t.value; }) {
            ZeroBytes(s, best, [get](core::Sequence& q) -> core::Bytes& { return get(q).value; });
          }
          if constexpr (requires(T t) { t.values; }) {
            ZeroBytes(s, best, [get](core::Sequence& q) -> core::Bytes& { return get(q).values; });
          }
          if constexpr (requires(T t) { t.bytes; }) {
            ZeroBytes(s, best, [get](core::Sequence& q) -> core::Bytes& { return get(q).bytes; });
          }
          if constexpr (requires(T t) { t.cpu; }) {
            ShrinkNumber<uint32_t>(s, best, [get](core::Sequence& q) -> uint32_t& { return get(q).cpu; });
          }
          if constexpr (requires(T t) { t.delta; }) {
            ShrinkNumber<uint64_t>(s, best, [get](core::Sequence& q) -> uint64_t& { return get(q).delta; });
          }
        },
        best.steps[i].op);
  }
}

}  // namespace

core::Sequence Minimize(
    const core::Sequence& failing,
    const std::function<bool(const core::Sequence&)>& still_fails,
    const MinimizeOptions& options, MinimizeStats* stats) {
  core::Sequence best = failing;
  for (core::Step& step : best.steps) step.expect.reset();
  best.expect_create.reset();
  Search search(still_fails, options.max_attempts, options.stop);
  // Two rounds: simplifying fields can make more ops removable.
  for (int round = 0; round < 2 && !search.exhausted(); ++round) {
    size_t before = best.steps.size();
    core::MapSpec spec_before = best.spec;
    RemoveOps(search, best);
    SimplifySpec(search, best);
    SimplifyOps(search, best);
    if (best.steps.size() == before && best.spec == spec_before) break;
  }
  if (stats) {
    stats->attempts = search.attempts();
    stats->ops_before = failing.steps.size();
    stats->ops_after = best.steps.size();
    stats->stopped = search.stopped();
  }
  return best;
}

std::function<bool(const core::Sequence&)> SameDivergence(
    const std::vector<core::Backend*>& backends, const core::Sequence& original,
    const core::Divergence& divergence) {
  std::optional<core::OpKind> op_kind;
  if (divergence.step >= 0 &&
      static_cast<size_t>(divergence.step) < original.steps.size()) {
    op_kind = core::KindOf(original.steps[divergence.step].op);
  }
  core::Divergence::Kind kind = divergence.kind;
  return [backends, op_kind, kind](const core::Sequence& candidate) {
    core::RunOptions options;
    options.check_expectations = false;
    core::RunOutcome out = core::RunDifferential(candidate, backends, options);
    if (out.ok()) return false;
    const core::Divergence& d = *out.divergence;
    if (d.kind != kind) return false;
    if (op_kind && (d.step < 0 || core::KindOf(candidate.steps[d.step].op) != *op_kind)) {
      return false;
    }
    return true;
  };
}

}  // namespace amc::gen
