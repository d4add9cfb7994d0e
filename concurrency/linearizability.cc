// concurrency/linearizability.cc: the per-key search behind
// CheckLinearizable.
#include "concurrency/linearizability.h"

#include <algorithm>
#include <cstdio>
#include <map>
#include <memory>
#include <unordered_map>
#include <unordered_set>

#include "core/mapping_table.h"
#include "core/ops_text.h"

namespace amc::concurrency {
namespace {

using core::Bytes;
using core::Result;

// The model on one key: states interned as small ids, each (state, op)
// step computed once. A state is the key's syscall lookup buffer (ARRAY:
// the value; PERCPU: every CPU's slot), set and read through the model's
// own syscall update and lookup.
class ModelStepper {
 public:
  struct Step {
    Result result;
    uint32_t next = 0;
  };

  // `err` receives a creation or setup failure.
  ModelStepper(const core::MapSpec& spec, const model::Params& params,
               uint32_t key, std::string* err)
      : key_(key), in_range_(key < spec.max_entries) {
    model::ModelBackend backend(params);
    core::CreateResult c = backend.Create(spec);
    if (c.err) {
      *err = "the model refuses the spec: " + core::ErrnoName(c.err);
      return;
    }
    map_ = std::move(c.map);
    initial_ = Intern(ReadState());
  }

  bool ok() const { return map_ != nullptr; }
  uint32_t initial() const { return initial_; }

  const Step& Apply(uint32_t state, size_t op_index, const core::Op& op) {
    const uint64_t cache_key = uint64_t{state} << 32 | op_index;
    auto it = cache_.find(cache_key);
    if (it != cache_.end()) return it->second;
    if (in_range_) {
      map_->Execute(core::Update{key_, states_[state], 0});
    }
    Step step;
    step.result = map_->Execute(op);
    step.next = Intern(ReadState());
    return cache_.emplace(cache_key, std::move(step)).first->second;
  }

 private:
  Bytes ReadState() {
    if (!in_range_) return {};
    Result r = map_->Execute(core::Lookup{key_, 0});
    return r.value.value_or(Bytes{});
  }
  uint32_t Intern(Bytes state) {
    auto [it, added] = ids_.emplace(std::move(state), states_.size());
    if (added) states_.push_back(it->first);
    return it->second;
  }

  uint32_t key_;
  bool in_range_;
  std::unique_ptr<core::MapInstance> map_;
  uint32_t initial_ = 0;
  std::map<Bytes, uint32_t> ids_;
  std::vector<Bytes> states_;
  std::unordered_map<uint64_t, Step> cache_;
};

// What the search places: a history op, or one per-CPU slot of a PERCPU
// syscall lookup / update (then `op` and `result` are that slot's part).
struct SubOp {
  size_t origin = 0;  // index into the history
  core::Op op;
  Result result;
  uint64_t invoke_ns = 0;
  uint64_t return_ns = 0;
};

// Wing-Gong search over one partition's ops (sorted by invoke time),
// memoizing (placed set, state) pairs that failed.
class Search {
 public:
  Search(const std::vector<SubOp>& history, std::vector<size_t> ops,
         ModelStepper* model)
      : history_(history), ops_(std::move(ops)), model_(model) {}

  bool Run(std::vector<size_t>* order, uint64_t* nodes) {
    const uint32_t full =
        ops_.size() == 32 ? ~uint32_t{0} : (uint32_t{1} << ops_.size()) - 1;
    std::vector<size_t> path;
    bool found = Dfs(0, full, model_->initial(), &path);
    *nodes += nodes_;
    if (found) {
      for (size_t local : path) order->push_back(history_[ops_[local]].origin);
    }
    return found;
  }

 private:
  bool Dfs(uint32_t placed, uint32_t full, uint32_t state,
           std::vector<size_t>* path) {
    if (placed == full) return true;
    if (!failed_.insert(uint64_t{state} << 32 | placed).second) return false;
    ++nodes_;
    // An op may go next only if no other pending op returned before it was
    // invoked: its invoke time is at most the earliest pending return.
    uint64_t earliest_return = ~uint64_t{0};
    for (size_t i = 0; i < ops_.size(); ++i) {
      if (!(placed >> i & 1)) {
        earliest_return =
            std::min(earliest_return, history_[ops_[i]].return_ns);
      }
    }
    for (size_t i = 0; i < ops_.size(); ++i) {
      if (placed >> i & 1) continue;
      const SubOp& h = history_[ops_[i]];
      if (h.invoke_ns > earliest_return) break;  // sorted by invoke time
      const ModelStepper::Step& step = model_->Apply(state, ops_[i], h.op);
      if (!(step.result == h.result)) continue;
      path->push_back(i);
      if (Dfs(placed | uint32_t{1} << i, full, step.next, path)) return true;
      path->pop_back();
    }
    return false;
  }

  const std::vector<SubOp>& history_;
  std::vector<size_t> ops_;
  ModelStepper* model_;
  std::unordered_set<uint64_t> failed_;
  uint64_t nodes_ = 0;
};

}  // namespace

std::optional<uint32_t> HistoryKey(const core::Op& op) {
  return std::visit(
      [](const auto& o) -> std::optional<uint32_t> {
        using T = std::decay_t<decltype(o)>;
        if constexpr (std::is_same_v<T, core::Lookup> ||
                      std::is_same_v<T, core::Update> ||
                      std::is_same_v<T, core::Delete> ||
                      std::is_same_v<T, core::ProgLookup> ||
                      std::is_same_v<T, core::ProgLookupPercpu> ||
                      std::is_same_v<T, core::ProgUpdate> ||
                      std::is_same_v<T, core::ProgDelete> ||
                      std::is_same_v<T, core::ProgAtomicAdd>) {
          return o.key;
        } else {
          return std::nullopt;
        }
      },
      op);
}

namespace {

// Splits a successful PERCPU syscall lookup / update into one op per slot
// (see the header); everything else stays whole, in its key's slot-0
// partition unless it acts on one CPU's slot.
void Split(const core::MapSpec& spec, uint32_t possible_cpus, bool whole,
           size_t index, const HistoryOp& h, uint32_t key,
           std::map<std::pair<uint32_t, uint32_t>, std::vector<size_t>>* parts,
           std::vector<SubOp>* subs) {
  auto add = [&](uint32_t slot, core::Op op, Result result) {
    (*parts)[{key, slot}].push_back(subs->size());
    subs->push_back({index, std::move(op), std::move(result), h.invoke_ns,
                     h.return_ns});
  };
  const bool percpu = spec.type == core::MapType::kPercpuArray;
  const uint64_t elem = core::ElemSize(spec);
  const bool split = percpu && !whole && key < spec.max_entries &&
                     h.result.ok() && elem == spec.value_size;
  if (split && std::holds_alternative<core::Lookup>(h.op) && h.result.value &&
      h.result.value->size() == elem * possible_cpus) {
    for (uint32_t cpu = 0; cpu < possible_cpus; ++cpu) {
      Result r;
      r.value.emplace(h.result.value->begin() + cpu * elem,
                      h.result.value->begin() + (cpu + 1) * elem);
      r.aligned = true;
      add(cpu, core::ProgLookupPercpu{cpu, key, cpu}, std::move(r));
    }
    return;
  }
  if (split && std::holds_alternative<core::Update>(h.op)) {
    const auto& u = std::get<core::Update>(h.op);
    Bytes buffer = core::FitBuffer(u.value, elem * possible_cpus);
    for (uint32_t cpu = 0; cpu < possible_cpus; ++cpu) {
      Bytes slot(buffer.begin() + cpu * elem, buffer.begin() + (cpu + 1) * elem);
      add(cpu, core::ProgUpdate{cpu, key, std::move(slot), u.flags}, Result{});
    }
    return;
  }
  uint32_t slot = 0;
  if (percpu && !whole) {
    std::visit(
        [&](const auto& o) {
          using T = std::decay_t<decltype(o)>;
          if constexpr (std::is_same_v<T, core::ProgLookupPercpu>) {
            if (o.target_cpu < possible_cpus) slot = o.target_cpu;
          } else if constexpr (std::is_same_v<T, core::ProgLookup> ||
                               std::is_same_v<T, core::ProgUpdate> ||
                               std::is_same_v<T, core::ProgAtomicAdd>) {
            if (o.cpu < possible_cpus) slot = o.cpu;
          }
        },
        h.op);
  }
  add(slot, h.op, h.result);
}

}  // namespace

CheckResult CheckLinearizable(const core::MapSpec& spec,
                              const model::Params& params,
                              const std::vector<HistoryOp>& history,
                              const CheckOptions& options) {
  CheckResult out;
  const size_t limit = std::min<size_t>(options.max_ops_per_key, 32);
  std::map<std::pair<uint32_t, uint32_t>, std::vector<size_t>> parts;
  std::vector<SubOp> subs;
  for (size_t i = 0; i < history.size(); ++i) {
    std::optional<uint32_t> key = HistoryKey(history[i].op);
    if (!key) {
      out.error = "unsupported op: " + core::PrintOp(history[i].op);
      return out;
    }
    if (history[i].return_ns < history[i].invoke_ns) {
      out.error = "op returns before it is invoked: " +
                  core::PrintOp(history[i].op);
      return out;
    }
    Split(spec, params.env.possible_cpus, options.percpu_whole_values, i,
          history[i], *key, &parts, &subs);
  }
  for (auto& [part, ops] : parts) {
    if (ops.size() > limit) {
      out.error = "key " + std::to_string(part.first) + " has " +
                  std::to_string(ops.size()) + " ops, more than " +
                  std::to_string(limit);
      return out;
    }
    std::stable_sort(ops.begin(), ops.end(), [&](size_t a, size_t b) {
      return subs[a].invoke_ns < subs[b].invoke_ns;
    });
  }
  const bool sliced =
      spec.type == core::MapType::kPercpuArray && !options.percpu_whole_values;
  for (auto& [part, ops] : parts) {
    ModelStepper model(spec, params, part.first, &out.error);
    if (!model.ok()) return out;
    Search search(subs, ops, &model);
    if (!search.Run(&out.order, &out.nodes)) {
      out.verdict = Verdict::kNotLinearizable;
      out.order.clear();
      out.key = part.first;
      if (sliced) out.slot = part.second;
      for (size_t sub : ops) {
        if (out.ops.empty() || out.ops.back() != subs[sub].origin) {
          out.ops.push_back(subs[sub].origin);
        }
      }
      return out;
    }
  }
  out.verdict = Verdict::kLinearizable;
  return out;
}

std::string FormatHistory(const std::vector<HistoryOp>& history,
                          const std::vector<size_t>& which) {
  std::vector<size_t> ops = which;
  if (ops.empty()) {
    for (size_t i = 0; i < history.size(); ++i) ops.push_back(i);
  }
  std::stable_sort(ops.begin(), ops.end(), [&](size_t a, size_t b) {
    return history[a].invoke_ns < history[b].invoke_ns;
  });
  uint64_t origin = ~uint64_t{0};
  for (size_t i : ops) origin = std::min(origin, history[i].invoke_ns);
  std::string text;
  for (size_t i : ops) {
    const HistoryOp& h = history[i];
    char times[96];
    std::snprintf(times, sizeof times, "t%u [%9.3f, %9.3f] us  ", h.thread,
                  (h.invoke_ns - origin) / 1000.0,
                  (h.return_ns - origin) / 1000.0);
    text += times + core::PrintOp(h.op) + "  -> " +
            core::PrintResult(h.result) + "\n";
  }
  return text;
}

}  // namespace amc::concurrency
