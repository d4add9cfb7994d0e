// tools/amc/campaign.cc: workers, tallies and reproducers of `amc run`.
#include "tools/amc/campaign.h"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <memory>
#include <mutex>
#include <set>
#include <thread>

#include "core/differential.h"
#include "core/ops_text.h"
#include "gen/chooser.h"
#include "gen/minimize.h"
#include "tools/amc/report.h"
#include "tools/amc/timed_backend.h"

namespace amc::cli {
namespace {

using Clock = std::chrono::steady_clock;

// How long one divergence may be minimized.
constexpr auto kMinimizeTimeLimit = std::chrono::seconds(15);

double Seconds(Clock::duration d) {
  return std::chrono::duration<double>(d).count();
}

std::string JoinNames(const std::vector<std::string>& names, const char* sep) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : sep) + n;
  return out;
}

// State shared by the workers; everything else is per worker.
struct Shared {
  const CampaignPlan* plan;
  const CampaignOptions* options;
  Clock::time_point start;
  std::optional<Clock::time_point> deadline;
  std::atomic<uint64_t> next{0};
  std::atomic<uint64_t> sequences{0};
  std::atomic<uint64_t> ops{0};
  std::atomic<uint64_t> divergences{0};
  std::atomic<bool> failed{false};

  std::mutex mu;  // guards everything below
  std::string error;
  size_t reproducers_written = 0;
  size_t records = 0;  // divergence records kept, all workers
  // Divergence signature -> the first sequence that showed it.
  std::map<std::string, uint64_t> by_signature;
  // First sequence of a kind -> later sequences that diverged that way.
  std::map<uint64_t, uint64_t> same_counts;

  bool ShouldStop() const {
    if (failed.load(std::memory_order_relaxed)) return true;
    if (options->stop && options->stop->load(std::memory_order_relaxed))
      return true;
    return deadline && Clock::now() >= *deadline;
  }
};

struct WorkerResult {
  std::map<std::string, BackendTally> tallies;
  std::array<uint64_t, core::kOpKindCount> ops_by_kind{};
  std::vector<DivergenceRecord> divergences;
  std::map<uint64_t, CaseBlock> blocks;  // by first index
  std::vector<uint64_t> by_geometry;
};

// What kind of divergence this is: its kind, the kind of op, and every
// backend's answer ("op update: model E2BIG | faulty ENOENT").
std::string Signature(const core::Sequence& seq, const core::Divergence& d) {
  std::string out = std::to_string(static_cast<int>(d.kind)) + " ";
  if (d.step >= 0 && static_cast<size_t>(d.step) < seq.steps.size()) {
    out += core::OpKindName(core::KindOf(seq.steps[d.step].op));
  }
  for (const auto& [name, text] : d.sides) out += " | " + name + " " + text;
  return out;
}

// Minimizes one divergence on the worker's backends and writes its file.
// Returns nullopt for a repeat of a known kind past
// options.max_divergence_records (counted in same_counts only).
std::optional<DivergenceRecord> Reproduce(
    Shared& shared, const std::vector<core::Backend*>& backends,
    std::vector<BackendTimer>& timers, uint64_t index,
    const core::Sequence& seq, const core::Divergence& d) {
  const CampaignOptions& options = *shared.options;
  DivergenceRecord record;
  record.index = index;
  record.summary = d.Summary(seq);
  record.ops_before = seq.steps.size();
  const std::string signature = Signature(seq, d);
  {
    std::lock_guard<std::mutex> lock(shared.mu);
    // One reproducer per kind of divergence: the same op kind answered the
    // same different ways is, as far as anyone can tell here, the same bug.
    auto it = shared.by_signature.find(signature);
    if (it != shared.by_signature.end()) {
      ++shared.same_counts[it->second];
      if (shared.records >= options.max_divergence_records) return std::nullopt;
      ++shared.records;
      record.same_as = it->second;
      record.report = d.Report(seq);
      return record;
    }
    shared.by_signature.emplace(signature, index);
    ++shared.records;
    if (shared.reproducers_written >= options.max_reproducers) {
      record.note = "not minimized: already " +
                    std::to_string(options.max_reproducers) +
                    " reproducers (--max-reproducers)";
      record.report = d.Report(seq);
      return record;
    }
    ++shared.reproducers_written;  // reserved now, so the cap holds across jobs
  }
  for (auto& t : timers) t.enabled = false;
  gen::MinimizeStats stats;
  // Bounded in time too: on the kernel each attempt costs milliseconds, and
  // the campaign's budget should not stretch by minutes.
  const auto same = gen::SameDivergence(backends, seq, d);
  const Clock::time_point give_up = Clock::now() + kMinimizeTimeLimit;
  bool timed_out = false;
  // Every attempt, and the reproducer's check, starts from fresh backends
  // (a new plug-in child), as `amc replay` of the file will: what a
  // backend kept from earlier sequences must not make or break a case.
  core::RestartAll(backends);
  const bool fresh = same(seq);
  core::Sequence minimized = seq;
  if (fresh) {
    minimized = gen::Minimize(
        seq,
        [&](const core::Sequence& candidate) {
          if (Clock::now() >= give_up) {
            timed_out = true;
            return false;
          }
          core::RestartAll(backends);
          return same(candidate);
        },
        {}, &stats);
  }
  core::RunOptions run_options;
  run_options.check_expectations = false;
  core::RestartAll(backends);
  core::RunOutcome again =
      core::RunDifferential(minimized, backends, run_options);
  for (auto& t : timers) t.enabled = true;
  // Did not diverge the same way (or at all) from fresh backends: the
  // file is written for the record, marked flaky.
  const bool flaky = !fresh || !again.divergence;
  core::Sequence repro = minimized;
  if (again.divergence) {
    repro = core::Reproducer(minimized, *again.divergence);
    record.report = again.divergence->Report(minimized);
  } else {
    // Flaky: keep the original so that nothing is lost.
    repro = core::Reproducer(seq, d);
    record.report = d.Report(seq);
  }
  record.ops_after = repro.steps.size();
  repro.env = core::Geometry(CampaignGeometry(*shared.plan, index));
  // As the user gave the list (plug-ins by path), so the line can be rerun.
  const std::string names = options.backend_list.empty()
                                ? JoinNames(shared.plan->backend_names, ",")
                                : options.backend_list;
  repro.comments = {
      "amc run divergence: sequence " + std::to_string(index) + " of seed " +
          std::to_string(options.seed) + " (amc run --backends " + names +
          " --seed " + std::to_string(options.seed) + ")",
      "backends: " + JoinNames(shared.plan->backend_names, ", "),
      "divergence: " + (again.divergence ? again.divergence->Summary(minimized)
                                         : record.summary),
      "as generated: " + record.summary,
      fresh ? "minimized from " + std::to_string(record.ops_before) +
                  " to " + std::to_string(record.ops_after) + " ops in " +
                  std::to_string(stats.attempts) + " attempts" +
                  (timed_out ? " (stopped at the time limit)" : "")
            : "not minimized: it did not reproduce in a fresh child",
      "reproduce: amc replay --backends " + names + " THIS_FILE",
  };
  if (flaky) {
    repro.comments.push_back(
        std::string("flaky: did not reproduce in a fresh child (fresh "
                    "backends") +
        (fresh ? ", once minimized)" : "); not minimized") +
        ": state kept from earlier sequences mattered");
  }
  std::lock_guard<std::mutex> lock(shared.mu);
  std::error_code ec;
  std::filesystem::create_directories(options.out_dir, ec);
  std::string path = (std::filesystem::path(options.out_dir) /
                      ("seed" + std::to_string(options.seed) + "-seq" +
                       std::to_string(index) + ".ops"))
                         .string();
  std::string error = WriteTextFile(path, core::PrintOps(repro));
  if (!error.empty()) {
    record.note = error;
    return record;
  }
  record.file = path;
  if (flaky) {
    record.note = "flaky: did not reproduce in a fresh child; written "
                  "anyway to " + path;
  }
  return record;
}

void Worker(Shared& shared, WorkerResult& out) {
  const CampaignOptions& options = *shared.options;
  const CampaignPlan& plan = *shared.plan;
  const std::vector<std::string>& names = plan.backend_names;
  std::vector<BackendTimer> timers(names.size());
  // One set of backends per geometry (one made for this machine without
  // geometries); backend i of every set adds to timers[i].
  const size_t sets = std::max<size_t>(1, plan.geometries.size());
  std::vector<std::vector<std::unique_ptr<core::Backend>>> timed(sets);
  std::vector<std::vector<core::Backend*>> ptr_sets(sets);
  for (size_t g = 0; g < sets; ++g) {
    backends::Selection selection =
        plan.geometries.empty()
            ? backends::SelectBackends(options.backend_list)
            : backends::SelectBackends(options.backend_list,
                                       plan.geometries[g]);
    std::vector<std::string> got;
    for (auto& b : selection.available) got.push_back(b->Name());
    if (!selection.error.empty() || got != names) {
      std::lock_guard<std::mutex> lock(shared.mu);
      shared.error = selection.error.empty()
                         ? "a worker found different backends available (" +
                               JoinNames(got, ", ") +
                               ") than the first probe (" +
                               JoinNames(names, ", ") + ")"
                         : selection.error;
      shared.failed = true;
      return;
    }
    for (size_t i = 0; i < selection.available.size(); ++i) {
      timed[g].push_back(std::make_unique<TimedBackend>(
          std::move(selection.available[i]), &timers[i]));
      ptr_sets[g].push_back(timed[g].back().get());
    }
  }
  for (const auto& name : names) out.tallies[name].name = name;
  out.by_geometry.assign(plan.geometries.size(), 0);

  while (!shared.ShouldStop()) {
    uint64_t index = shared.next.fetch_add(1, std::memory_order_relaxed);
    if (options.sequences && index >= *options.sequences) break;
    const size_t g = plan.geometries.empty() ? 0 : index % sets;
    const std::vector<core::Backend*>& ptrs = ptr_sets[g];
    if (!plan.geometries.empty()) ++out.by_geometry[g];
    core::Sequence seq = CampaignSequence(plan, options.seed, index);
    Clock::time_point t0 = Clock::now();
    core::RunOutcome outcome = core::RunDifferential(seq, ptrs);
    double seconds = Seconds(Clock::now() - t0);

    for (const auto& bo : outcome.backends) {
      BackendTally& t = out.tallies[bo.name];
      ++t.sequences;
      t.ops += bo.results.size();
      ++t.create_errnos[bo.create_err ? core::ErrnoName(bo.create_err)
                                      : "created"];
      for (const auto& r : bo.results)
        ++t.errnos[r.err ? core::ErrnoName(r.err) : "ok"];
    }
    for (const auto& [name, why] : outcome.left_out)
      ++out.tallies[name].left_out;
    for (size_t k = 0; k < outcome.steps_run; ++k) {
      ++out.ops_by_kind[static_cast<size_t>(core::KindOf(seq.steps[k].op))];
    }
    if (options.collect_cases) {
      CaseBlock& block = out.blocks[index / kCaseBlock * kCaseBlock];
      block.first = index / kCaseBlock * kCaseBlock;
      ++block.sequences;
      block.agreed += outcome.divergence ? 0 : 1;
      block.ops += outcome.steps_run;
      block.seconds += seconds;
    }
    if (outcome.divergence) {
      shared.divergences.fetch_add(1, std::memory_order_relaxed);
      std::optional<DivergenceRecord> record =
          Reproduce(shared, ptrs, timers, index, seq, *outcome.divergence);
      if (record) {
        record->seconds = seconds;
        out.divergences.push_back(std::move(*record));
      }
    }
    shared.ops.fetch_add(outcome.steps_run, std::memory_order_relaxed);
    shared.sequences.fetch_add(1, std::memory_order_relaxed);
  }
  for (size_t i = 0; i < names.size(); ++i) {
    out.tallies[names[i]].busy_ns += timers[i].busy_ns;
  }
  // Backends (and the kernel's cached maps) are released here, on the
  // thread that used them.
  timed.clear();
}

}  // namespace

uint64_t SequenceSeed(uint64_t campaign_seed, uint64_t index) {
  uint64_t z = campaign_seed + 0x9e3779b97f4a7c15ull * (index + 1);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

std::vector<core::Environment> DefaultGeometries(const core::Environment& host) {
  std::vector<core::Environment> out = {core::Geometry(host)};
  const core::Environment kRotation[] = {
      {1, 4096, "", 1},      {3, 4096, "", 2},       {4, 4096, "", 2},
      {4, 65536, "", 4},     {64, 4096, "", 61},     {64, 65536, "", 64},
  };
  for (const core::Environment& g : kRotation) {
    if (std::find(out.begin(), out.end(), g) == out.end()) out.push_back(g);
  }
  return out;
}

std::string GeometryName(const core::Environment& env) {
  std::string out = std::to_string(env.possible_cpus) + " possible";
  if (env.Online() != env.possible_cpus) {
    out += "/" + std::to_string(env.Online()) + " online";
  }
  out += env.possible_cpus == 1 ? " CPU, " : " CPUs, ";
  if (env.page_size % 1024 == 0) {
    out += std::to_string(env.page_size / 1024) + " KiB pages";
  } else {
    out += std::to_string(env.page_size) + "-byte pages";
  }
  return out;
}

std::vector<std::pair<std::string, std::string>> FilterGeometries(
    const std::string& list, const std::vector<std::string>& names,
    std::vector<core::Environment>* geometries) {
  std::vector<std::pair<std::string, std::string>> dropped;
  std::vector<core::Environment> kept;
  for (const core::Environment& g : *geometries) {
    backends::Selection s = backends::SelectBackends(list, g);
    std::vector<std::string> got;
    for (auto& b : s.available) got.push_back(b->Name());
    if (s.error.empty() && got == names) {
      kept.push_back(g);
      continue;
    }
    std::string why = s.error;
    for (const auto& [name, reason] : s.not_applicable) {
      why += (why.empty() ? "" : "; ") + name + ": " + reason;
    }
    for (const auto& [name, reason] : s.unavailable) {
      why += (why.empty() ? "" : "; ") + name + ": " + reason;
    }
    if (why.empty()) why = "backends " + JoinNames(got, ", ") + " only";
    dropped.emplace_back(GeometryName(g), why);
  }
  *geometries = std::move(kept);
  return dropped;
}

const core::Environment& CampaignGeometry(const CampaignPlan& plan,
                                          uint64_t index) {
  if (plan.geometries.empty()) return plan.gen.env;
  return plan.geometries[index % plan.geometries.size()];
}

CampaignPlan PlanCampaign(const backends::Selection& selection,
                          size_t max_ops) {
  CampaignPlan plan;
  plan.gen.max_ops = max_ops;
  if (!selection.available.empty()) {
    plan.gen.env = selection.available[0]->Env();
  }
  for (const auto& b : selection.available)
    plan.backend_names.push_back(b->Name());
  for (size_t k = 0; k < core::kOpKindCount; ++k) {
    auto kind = static_cast<core::OpKind>(k);
    std::vector<std::string> lacking;
    for (const auto& b : selection.available) {
      if (b->Supports(kind)) continue;
      // A plug-in may say why (its capability mask's reason).
      std::string reason = b->UnsupportedReason(kind);
      lacking.push_back(b->Name() +
                        (reason.empty() ? "" : " (" + reason + ")"));
    }
    if (!lacking.empty()) {
      plan.gen.kinds.reset(k);
      plan.left_out_kinds.emplace_back(
          core::OpKindName(kind),
          "not run by " + JoinNames(lacking, ", "));
    }
  }
  return plan;
}

core::Sequence CampaignSequence(const CampaignPlan& plan, uint64_t seed,
                                uint64_t index) {
  gen::RandomChooser chooser(SequenceSeed(seed, index));
  if (plan.geometries.empty()) return gen::GenerateSequence(chooser, plan.gen);
  gen::GenOptions options = plan.gen;
  options.env = CampaignGeometry(plan, index);
  return gen::GenerateSequence(chooser, options);
}

CampaignResult RunCampaign(const CampaignPlan& plan,
                           const CampaignOptions& options) {
  Shared shared;
  shared.plan = &plan;
  shared.options = &options;
  shared.start = Clock::now();
  if (options.seconds) {
    shared.deadline =
        shared.start + std::chrono::duration_cast<Clock::duration>(
                           std::chrono::duration<double>(*options.seconds));
  }
  unsigned jobs = std::max(1u, options.jobs);
  std::vector<WorkerResult> results(jobs);
  std::vector<std::thread> threads;
  std::atomic<unsigned> running{jobs};
  for (unsigned j = 0; j < jobs; ++j) {
    threads.emplace_back([&, j] {
      Worker(shared, results[j]);
      running.fetch_sub(1);
    });
  }
  auto progress = [&] {
    Progress p;
    p.sequences = shared.sequences.load();
    p.ops = shared.ops.load();
    p.divergences = shared.divergences.load();
    p.elapsed = Seconds(Clock::now() - shared.start);
    return p;
  };
  while (running.load() > 0) {
    auto step = std::chrono::duration_cast<Clock::duration>(
        std::chrono::duration<double>(options.progress_interval));
    auto wake = Clock::now() + step;
    while (running.load() > 0 && Clock::now() < wake) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    if (running.load() > 0 && options.progress) options.progress(progress());
  }
  for (auto& t : threads) t.join();

  CampaignResult result;
  result.error = shared.error;
  result.elapsed = Seconds(Clock::now() - shared.start);
  result.sequences = shared.sequences.load();
  result.ops = shared.ops.load();
  for (const auto& name : plan.backend_names) {
    BackendTally total;
    total.name = name;
    for (const auto& w : results) {
      auto it = w.tallies.find(name);
      if (it == w.tallies.end()) continue;
      const BackendTally& t = it->second;
      total.sequences += t.sequences;
      total.ops += t.ops;
      total.busy_ns += t.busy_ns;
      total.left_out += t.left_out;
      for (const auto& [k, v] : t.errnos) total.errnos[k] += v;
      for (const auto& [k, v] : t.create_errnos) total.create_errnos[k] += v;
    }
    result.backends.push_back(std::move(total));
  }
  std::map<uint64_t, CaseBlock> blocks;
  result.sequences_by_geometry.assign(plan.geometries.size(), 0);
  for (auto& w : results) {
    for (size_t g = 0; g < w.by_geometry.size(); ++g)
      result.sequences_by_geometry[g] += w.by_geometry[g];
    for (size_t k = 0; k < core::kOpKindCount; ++k)
      result.ops_by_kind[k] += w.ops_by_kind[k];
    for (auto& d : w.divergences) result.divergences.push_back(std::move(d));
    for (const auto& [first, b] : w.blocks) {
      CaseBlock& into = blocks[first];
      into.first = first;
      into.sequences += b.sequences;
      into.agreed += b.agreed;
      into.ops += b.ops;
      into.seconds += b.seconds;
    }
  }
  for (const auto& [first, b] : blocks) result.case_blocks.push_back(b);
  result.divergent_sequences = shared.divergences.load();
  result.same_counts = shared.same_counts;
  std::sort(result.divergences.begin(), result.divergences.end(),
            [](const auto& a, const auto& b) { return a.index < b.index; });
  return result;
}

}  // namespace amc::cli
