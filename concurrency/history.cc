// concurrency/history.cc: ImplSubject, random ops, recording, campaigns.
#include "concurrency/history.h"

#include <atomic>
#include <cerrno>
#include <cstring>

#include "concurrency/runner.h"
#include "core/mapping_table.h"

namespace amc::concurrency {

using core::Bytes;
using core::Result;

std::unique_ptr<ImplSubject> ImplSubject::Create(
    const core::MapSpec& spec, const impl::Options& options) {
  impl::MapAttr attr;
  attr.type = static_cast<impl::MapType>(spec.type);
  attr.key_size = spec.key_size;
  attr.value_size = spec.value_size;
  attr.max_entries = spec.max_entries;
  attr.map_flags = spec.map_flags;
  attr.numa_node = spec.numa_node;
  if (spec.spin_lock_offset) attr.spin_lock_offset = *spec.spin_lock_offset;
  std::unique_ptr<impl::ArrayMap> map;
  if (impl::ArrayMap::Create(attr, options, &map) != 0) return nullptr;
  return std::unique_ptr<ImplSubject>(new ImplSubject(std::move(map)));
}

bool ImplSubject::AtomicAdd(uint32_t key, uint32_t offset, uint64_t delta,
                            uint64_t* old) {
  return map_->AtomicAdd(key, offset, delta, old);
}

Result ImplSubject::ProgLookup(uint32_t key) {
  Result r;
  void* p = map_->Lookup(key);
  if (p == nullptr) {
    r.null = true;
    return r;
  }
  r.value.emplace(map_->value_size());
  impl::AtomicLoadBytes(r.value->data(), p, map_->value_size());
  r.aligned = reinterpret_cast<uintptr_t>(p) % 8 == 0;
  return r;
}

Result ImplSubject::Run(const core::Op& op) {
  impl::ArrayMap& m = *map_;
  if (const auto* o = std::get_if<core::Lookup>(&op)) {
    Bytes value(m.value_buffer_size());
    if (int err = m.fd().Lookup(o->key, value.data(), o->flags)) {
      return Result::Errno(err);
    }
    Result r;
    r.value = std::move(value);
    return r;
  }
  if (const auto* o = std::get_if<core::Update>(&op)) {
    Bytes value = core::FitBuffer(o->value, m.value_buffer_size());
    return Result::Errno(m.fd().Update(o->key, value.data(), o->flags));
  }
  if (const auto* o = std::get_if<core::Delete>(&op)) {
    return Result::Errno(m.fd().Delete(o->key));
  }
  if (const auto* o = std::get_if<core::ProgLookup>(&op)) {
    return ProgLookup(o->key);
  }
  if (const auto* o = std::get_if<core::ProgLookupPercpu>(&op)) {
    // The verifier refuses bpf_map_lookup_percpu_elem on an ARRAY.
    if (!m.percpu()) return Result::Errno(EINVAL);
    Result r;
    void* p = m.LookupPercpu(o->key, o->target_cpu);
    if (p == nullptr) {
      r.null = true;
      return r;
    }
    r.value.emplace(m.value_size());
    impl::AtomicLoadBytes(r.value->data(), p, m.value_size());
    r.aligned = reinterpret_cast<uintptr_t>(p) % 8 == 0;
    return r;
  }
  if (const auto* o = std::get_if<core::ProgUpdate>(&op)) {
    Bytes value = core::FitBuffer(o->value, m.value_size());
    return Result::Errno(
        static_cast<int>(-m.UpdateElem(o->key, value.data(), o->flags)));
  }
  if (const auto* o = std::get_if<core::ProgDelete>(&op)) {
    return Result::Errno(static_cast<int>(-m.DeleteElem(o->key)));
  }
  if (const auto* o = std::get_if<core::ProgAtomicAdd>(&op)) {
    // The harness convention for an offset the verifier refuses.
    if (o->offset % 8 != 0 || uint64_t{o->offset} + 8 > m.value_size()) {
      return Result::Errno(EACCES);
    }
    Result r;
    uint64_t old = 0;
    if (!AtomicAdd(o->key, o->offset, o->delta, &old)) {
      r.null = true;
      return r;
    }
    r.old = old;
    return r;
  }
  return Result::Errno(ENOSYS);  // not a history op
}

std::vector<core::Op> RandomOps(const core::MapSpec& spec,
                                uint32_t possible_cpus,
                                const std::vector<uint32_t>& cpus,
                                uint32_t thread, size_t count, uint32_t keys,
                                bool program_values, std::mt19937_64* rng,
                                bool syscall_updates) {
  const bool percpu = spec.type == core::MapType::kPercpuArray;
  const uint32_t cpu = cpus[thread];
  const uint64_t buffer = core::SyscallValueSize(
      spec, core::Environment{possible_cpus, 4096, ""});
  std::vector<core::Op> ops;
  auto word = [&](size_t i, uint32_t slot) {
    // Unique per thread, op and slot; never zero.
    uint64_t w = (uint64_t{thread} + 1) << 48 | uint64_t{i + 1} << 16 | slot;
    Bytes b(8);
    std::memcpy(b.data(), &w, 8);
    return b;
  };
  for (size_t i = 0; i < count; ++i) {
    const uint32_t key = static_cast<uint32_t>((*rng)() % keys);
    uint32_t pick = static_cast<uint32_t>((*rng)() % 100);
    // Without program values, program lookups and updates become the
    // syscall ones (82..93 are syscall updates).
    if (!program_values && pick >= 30 && pick < 70) {
      pick = pick < 55 ? 70 : 82 + pick % 12;
    }
    if (pick < 30) {
      ops.push_back(core::ProgAtomicAdd{cpu, key, 0, 1 + (*rng)() % 7});
    } else if (pick < 45) {
      ops.push_back(core::ProgLookup{cpu, key});
    } else if (pick < 55 && percpu) {
      ops.push_back(core::ProgLookupPercpu{
          cpu, key, cpus[(*rng)() % cpus.size()]});
    } else if (pick < 55) {
      ops.push_back(core::Lookup{key, 0});
    } else if (pick < 70) {
      ops.push_back(core::ProgUpdate{cpu, key, word(i, 0), 0});
    } else if (pick < 82 || (pick < 94 && !syscall_updates)) {
      ops.push_back(core::Lookup{key, 0});
    } else if (pick < 94) {
      Bytes value;
      for (uint64_t at = 0; at < buffer; at += 8) {
        Bytes w = word(i, static_cast<uint32_t>(at / 8) + 1);
        value.insert(value.end(), w.begin(), w.end());
      }
      ops.push_back(core::Update{key, value, 0});
    } else if (pick < 97) {
      ops.push_back(core::ProgDelete{cpu, key});
    } else {
      ops.push_back(core::Delete{key});
    }
  }
  return ops;
}

namespace {

// One recorded op of the calling thread.
HistoryOp RecordOne(Subject* subject, const core::Op& op, uint32_t thread) {
  HistoryOp h;
  h.op = op;
  h.thread = thread;
  h.invoke_ns = InvokeNs();
  h.result = subject->Run(op);
  h.return_ns = ReturnNs();
  return h;
}

// Checks one history; false (and report->failure set) when it fails.
bool CheckOne(const CampaignOptions& options, const model::Params& params,
              size_t n, const std::vector<HistoryOp>& history,
              CampaignReport* report) {
  CheckResult check = CheckLinearizable(options.spec, params, history);
  ++report->histories;
  report->ops += history.size();
  report->nodes += check.nodes;
  if (check.verdict == Verdict::kInvalid) {
    report->failure = "history " + std::to_string(n) + ": " + check.error;
    return false;
  }
  if (check.verdict == Verdict::kNotLinearizable) {
    report->failure =
        "history " + std::to_string(n) + " is not linearizable on key " +
        std::to_string(*check.key) +
        (check.slot ? " (CPU " + std::to_string(*check.slot) + "'s slot)"
                    : std::string()) +
        ":\n" + FormatHistory(history, check.ops);
    return false;
  }
  return true;
}

}  // namespace

std::vector<HistoryOp> RecordHistory(
    Subject* subject, const std::vector<uint32_t>& cpus,
    const std::vector<std::vector<core::Op>>& ops) {
  std::vector<std::vector<HistoryOp>> per_thread(cpus.size());
  int err = RunPinned(cpus, [&](size_t index, uint32_t) {
    auto& mine = per_thread[index];
    mine.reserve(ops[index].size());
    for (const core::Op& op : ops[index]) {
      mine.push_back(RecordOne(subject, op, static_cast<uint32_t>(index)));
    }
  });
  std::vector<HistoryOp> history;
  if (err) return history;
  for (auto& mine : per_thread) {
    for (auto& h : mine) history.push_back(std::move(h));
  }
  return history;
}

namespace {

// Waits until `a` >= target: a spin of up to `spin_ns` (so threads on idle
// CPUs move together), then futex waits (so a loaded machine is not spun
// on). Acquire: what was written before the release that reached the
// target is visible after.
void WaitAtLeast(const std::atomic<uint32_t>& a, uint32_t target,
                 uint64_t spin_ns) {
  const uint64_t until = MonotonicNs() + spin_ns;
  for (uint32_t spin = 1;; ++spin) {
    if (a.load(std::memory_order_acquire) >= target) return;
    if (spin % 64 == 0 && MonotonicNs() > until) break;
  }
  for (uint32_t seen; (seen = a.load(std::memory_order_acquire)) < target;) {
    a.wait(seen, std::memory_order_acquire);
  }
}

}  // namespace

// One set of pinned threads serves every history. Thread 0 coordinates: it
// checks the last round, makes the next subject and ops and opens the round
// (`round`); each worker wakes and says so (`ready`); once all are awake
// thread 0 starts them together (`go`), so the ops really overlap; each
// thread counts itself out (`finished`). Release/acquire on `round` and
// `go` publishes the subject, ops and cleared buffers to the workers;
// acq_rel on `finished` publishes each worker's history to thread 0.
CampaignReport RunCampaign(const SubjectFactory& make,
                           const model::Params& params,
                           const std::vector<uint32_t>& cpus,
                           const CampaignOptions& options) {
  CampaignReport report;
  if (options.histories == 0 || cpus.empty()) return report;
  std::mt19937_64 rng(options.seed);
  const size_t n_threads = cpus.size();
  std::unique_ptr<Subject> subject;
  std::vector<std::vector<core::Op>> ops(n_threads);
  std::vector<std::vector<HistoryOp>> recorded(n_threads);
  std::atomic<uint32_t> round{0}, ready{0}, go{0}, finished{0};
  const uint32_t workers = static_cast<uint32_t>(n_threads - 1);
  bool stop = false;  // written by thread 0 before it opens a round
  int err = RunPinned(cpus, [&](size_t index, uint32_t) {
    for (uint32_t r = 1;; ++r) {
      if (index == 0) {
        if (r > 1) {
          WaitAtLeast(finished, static_cast<uint32_t>(n_threads * (r - 1)),
                      10000);
          std::vector<HistoryOp> history;
          for (auto& mine : recorded) {
            for (auto& h : mine) history.push_back(std::move(h));
            mine.clear();
          }
          if (!CheckOne(options, params, r - 2, history, &report) ||
              r - 1 == options.histories) {
            stop = true;
          }
        }
        if (!stop) {
          subject = make(options.spec);
          if (!subject) {
            report.failure = "the subject refuses the spec";
            stop = true;
          }
        }
        if (!stop) {
          for (uint32_t t = 0; t < n_threads; ++t) {
            ops[t] = RandomOps(options.spec, params.env.possible_cpus, cpus,
                               t, options.ops_per_thread, options.keys,
                               options.program_values, &rng,
                               options.syscall_updates);
          }
        }
        round.store(r, std::memory_order_release);
        round.notify_all();
        if (stop) return;
        WaitAtLeast(ready, workers * r, 100000);
        go.store(r, std::memory_order_release);
        go.notify_all();
      } else {
        WaitAtLeast(round, r, 10000);
        if (stop) return;
        ready.fetch_add(1, std::memory_order_release);
        ready.notify_one();
        WaitAtLeast(go, r, 100000);
      }
      for (const core::Op& op : ops[index]) {
        recorded[index].push_back(
            RecordOne(subject.get(), op, static_cast<uint32_t>(index)));
      }
      finished.fetch_add(1, std::memory_order_acq_rel);
      finished.notify_one();
    }
  });
  if (err) report.failure = "could not pin the threads";
  return report;
}

}  // namespace amc::concurrency
