// gen/minimize.cc: ddmin over ops, then greedy simplification of fields.
#include "gen/minimize.h"

#include <algorithm>
#include <map>
#include <set>

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

// A key that may be NULL: a smaller number (NULL stays NULL: it is a case
// of its own).
void ShrinkOptional(Search& s, core::Sequence& best,
                    const std::function<std::optional<uint32_t>&(core::Sequence&)>& field) {
  if (!field(best)) return;
  ShrinkNumber<uint32_t>(s, best, [&field](core::Sequence& q) -> uint32_t& { return *field(q); });
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

// Calls fn on every key number the ops name (single keys, optional keys,
// in_batch, batch key lists).
void ForEachKey(core::Sequence& seq, const std::function<void(uint32_t&)>& fn) {
  for (core::Step& step : seq.steps) {
    std::visit(
        [&](auto& op) {
          using T = std::decay_t<decltype(op)>;
          if constexpr (requires(T t) { t.key; }) {
            if constexpr (std::is_same_v<decltype(op.key), uint32_t>) {
              fn(op.key);
            } else {
              if (op.key) fn(*op.key);
            }
          }
          if constexpr (requires(T t) { t.in_batch; }) {
            if (op.in_batch) fn(*op.in_batch);
          }
          if constexpr (requires(T t) { t.keys; }) {
            for (uint32_t& k : op.keys) fn(k);
          }
        },
        step.op);
  }
}

// Fewer entries with the keys moved along: the in-range keys the ops use are
// renumbered 0, 1, 2... in order, keys past the end stay as far past the new
// end, so that a 1754-entry map whose ops touch keys 3 and 1753 becomes a
// 2-entry map touching 0 and 1 (max_entries alone could not shrink: key 1753
// would fall out of range).
void ShrinkEntries(Search& s, core::Sequence& best) {
  const uint32_t old = best.spec.max_entries;
  std::set<uint32_t> used;
  ForEachKey(best, [&](uint32_t& k) {
    if (k < old) used.insert(k);
  });
  const uint32_t least = std::max<uint32_t>(1, static_cast<uint32_t>(used.size()));
  std::vector<uint32_t> sizes;
  for (uint32_t m : {least, least + 1, old / 2, old - 1}) {
    if (m >= least && m < old && std::find(sizes.begin(), sizes.end(), m) == sizes.end()) {
      sizes.push_back(m);
    }
  }
  std::map<uint32_t, uint32_t> rank;
  for (uint32_t k : used) rank.emplace(k, static_cast<uint32_t>(rank.size()));
  for (uint32_t m : sizes) {
    if (s.exhausted()) return;
    core::Sequence candidate = best;
    candidate.spec.max_entries = m;
    ForEachKey(candidate, [&](uint32_t& k) {
      k = k < old ? rank[k] : k - old + m;
    });
    if (s.Try(best, candidate)) return;
  }
}

void SimplifySpec(Search& s, core::Sequence& best) {
  ShrinkEntries(s, best);
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

// Simpler bytes of the same length: all zero, else only the first 1, 2, 4...
// bytes kept (the rest zero), else the shortest repeating pattern of the
// first 1, 2, 4... bytes; the first that keeps the failure.
void SimplifyBytes(Search& s, core::Sequence& best,
                   const std::function<core::Bytes&(core::Sequence&)>& field) {
  ZeroBytes(s, best, field);
  const size_t len = field(best).size();
  auto zero_from = [&](size_t k) {
    const core::Bytes& b = field(best);
    return std::all_of(b.begin() + std::min(k, b.size()), b.end(),
                       [](uint8_t x) { return x == 0; });
  };
  for (size_t k = 1; k < len && !s.exhausted() && !zero_from(k); k *= 2) {
    core::Sequence candidate = best;
    core::Bytes& b = field(candidate);
    std::fill(b.begin() + k, b.end(), 0);
    if (s.Try(best, candidate)) return;
  }
  if (zero_from(1)) return;
  for (size_t p = 1; p < len && !s.exhausted(); p *= 2) {
    core::Sequence candidate = best;
    core::Bytes& b = field(candidate);
    for (size_t i = p; i < b.size(); ++i) b[i] = b[i % p];
    if (s.Try(best, candidate)) break;
  }
}

// A value buffer cut to what the map reads of it: value_size, or the whole
// syscall buffer when the environment is known (backends pad or truncate
// every buffer to that size, so a longer one only makes the case harder to
// read: `value=00*32768` on a 1-byte map).
void TruncateBytes(Search& s, core::Sequence& best, size_t per_key,
                   const std::function<core::Bytes&(core::Sequence&)>& field) {
  std::vector<size_t> lengths = {best.spec.value_size};
  if (best.env) {
    lengths.push_back(core::SyscallValueSize(best.spec, *best.env) * per_key);
  }
  lengths[0] *= per_key;
  std::sort(lengths.begin(), lengths.end());
  for (size_t n : lengths) {
    if (s.exhausted() || n >= field(best).size()) continue;
    core::Sequence candidate = best;
    field(candidate).resize(n);
    if (s.Try(best, candidate)) return;
  }
}

// Fewer keys in a batch (and their values): halves, then single keys.
template <class T>
void ShrinkBatch(Search& s, core::Sequence& best, size_t i) {
  auto get = [i](core::Sequence& q) -> T& { return std::get<T>(q.steps[i].op); };
  size_t chunk = std::max<size_t>(1, get(best).keys.size() / 2);
  while (!s.exhausted() && get(best).keys.size() > 1) {
    bool removed = false;
    for (size_t start = 0; start < get(best).keys.size() && !s.exhausted();) {
      core::Sequence candidate = best;
      T& op = get(candidate);
      const size_t n = op.keys.size();
      if (n <= 1) break;
      const size_t end = std::min(start + chunk, n);
      if constexpr (requires(T t) { t.values; }) {
        const size_t stride = op.values.size() % n == 0 ? op.values.size() / n : 0;
        if (stride) {
          op.values.erase(op.values.begin() + start * stride,
                          op.values.begin() + end * stride);
        }
      }
      op.keys.erase(op.keys.begin() + start, op.keys.begin() + end);
      if (s.Try(best, candidate)) {
        removed = true;
      } else {
        start += chunk;
      }
    }
    if (chunk == 1 && !removed) break;
    if (!removed) chunk /= 2;
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
          if constexpr (requires(T t) { t.key; }) {
            if constexpr (!std::is_same_v<decltype(op.key), uint32_t>) {
              ShrinkOptional(s, best, [get](core::Sequence& q) -> std::optional<uint32_t>& { return get(q).key; });
            }
          }
          if constexpr (requires(T t) { t.in_batch; }) {
            ShrinkOptional(s, best, [get](core::Sequence& q) -> std::optional<uint32_t>& { return get(q).in_batch; });
          }
          if constexpr (requires(T t) { t.keys; }) {
            ShrinkBatch<T>(s, best, i);
            for (size_t k = 0; k < get(best).keys.size() && !s.exhausted(); ++k) {
              ShrinkNumber<uint32_t>(s, best, [get, k](core::Sequence& q) -> uint32_t& { return get(q).keys[k]; });
            }
          }
          if constexpr (requires(T t) { t.value; }) {
            auto field = [get](core::Sequence& q) -> core::Bytes& { return get(q).value; };
            TruncateBytes(s, best, 1, field);
            SimplifyBytes(s, best, field);
          }
          if constexpr (requires(T t) { t.values; }) {
            auto field = [get](core::Sequence& q) -> core::Bytes& { return get(q).values; };
            TruncateBytes(s, best, get(best).keys.size(), field);
            SimplifyBytes(s, best, field);
          }
          if constexpr (requires(T t) { t.bytes; }) {
            SimplifyBytes(s, best, [get](core::Sequence& q) -> core::Bytes& { return get(q).bytes; });
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
  // Rounds until nothing changes (at most three): simplifying fields can
  // make more ops removable, and fewer ops more fields.
  for (int round = 0; round < 3 && !search.exhausted(); ++round) {
    const core::Sequence before = best;
    RemoveOps(search, best);
    SimplifySpec(search, best);
    SimplifyOps(search, best);
    if (best == before) break;
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
  (void)original;
  const std::string signature = divergence.Signature();
  return [backends, signature](const core::Sequence& candidate) {
    core::RunOptions options;
    options.check_expectations = false;
    core::RunOutcome out = core::RunDifferential(candidate, backends, options);
    return !out.ok() && out.divergence->Signature() == signature;
  };
}

}  // namespace amc::gen
