// tools/amc/campaign.cc: workers, tallies and reproducers of `amc run`.
#include "tools/amc/campaign.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <mutex>
#include <new>
#include <set>
#include <sstream>
#include <system_error>
#include <thread>

#include "core/differential.h"
#include "core/ops_text.h"
#include "gen/chooser.h"
#include "gen/minimize.h"
#include "gen/special_values.h"
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
  std::atomic<uint64_t> harness_errors{0};
  std::atomic<bool> failed{false};

  std::mutex mu;  // guards everything below
  std::string error;
  size_t reproducers_written = 0;
  size_t signatures_with_files = 0;
  size_t records = 0;  // divergence records kept, all workers
  // Divergence signature -> its group (first sequence, count, files).
  std::map<std::string, SignatureGroup> by_signature;
  // First sequence of a signature -> later sequences that diverged that way.
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
  std::vector<HarnessErrorRecord> harness_errors;
  std::map<uint64_t, CaseBlock> blocks;  // by first index
  std::vector<uint64_t> by_geometry;
  std::vector<bool> special_hits;  // gen::SpecialTable() entries drawn
};

// A summary cut to a line's worth: a generated batch lookup can print a
// thousand keys, which belong in the reproducer, not in every report.
std::string Clip(const std::string& text) {
  constexpr size_t kMax = 400;
  if (text.size() <= kMax) return text;
  return text.substr(0, kMax) + "... (" + std::to_string(text.size() - kMax) +
         " more characters)";
}

// Adds the sanitizer report a backend failure carries (plugin/
// plugin_backend.cc: "... after a sanitizer report:" and its lines, up to
// the SUMMARY line) to `comments`: "sanitizer report:" then one comment per
// line. Nothing when there is none.
void AppendSanitizerReport(const std::string& failure,
                           std::vector<std::string>* comments) {
  size_t at = failure.find("after a sanitizer report:\n");
  if (at == std::string::npos) return;
  comments->push_back("sanitizer report:");
  std::istringstream in(failure.substr(failure.find('\n', at) + 1));
  for (std::string line; std::getline(in, line);) {
    comments->push_back("  " + line);
    if (line.rfind("SUMMARY:", 0) == 0) break;
  }
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
  record.summary = Clip(d.Summary(seq));
  record.ops_before = seq.steps.size();
  record.signature = d.Signature();
  {
    std::lock_guard<std::mutex> lock(shared.mu);
    // Reproducers per signature, not per sequence: the same op kind, map
    // type, field and answer classes is, as far as anyone can tell here,
    // the same bug, whatever keys, values and sizes reached it.
    auto it = shared.by_signature.find(record.signature);
    if (it != shared.by_signature.end()) {
      SignatureGroup& group = it->second;
      ++group.sequences;
      ++shared.same_counts[group.first_index];
      // A signature past --max-reproducers has no file and gets none.
      if (group.files_reserved == 0 ||
          group.files_reserved >= options.reproducers_per_signature) {
        if (shared.records >= options.max_divergence_records) return std::nullopt;
        ++shared.records;
        record.same_as = group.first_index;
        record.report = d.Report(seq);
        return record;
      }
      // Another reproducer of a known signature (--reproducers-per-signature).
      ++shared.records;
      record.same_as = group.first_index;
      ++group.files_reserved;
    } else {
      SignatureGroup group;
      group.signature = record.signature;
      group.first_index = index;
      group.sequences = 1;
      group.summary = record.summary;
      ++shared.records;
      if (shared.signatures_with_files >= options.max_reproducers) {
        group.note = "not minimized: already " +
                     std::to_string(options.max_reproducers) +
                     " signatures with reproducers (--max-reproducers)";
        record.note = group.note;
        record.report = d.Report(seq);
        shared.by_signature.emplace(record.signature, std::move(group));
        return record;
      }
      group.files_reserved = 1;  // reserved now: the caps hold across jobs
      ++shared.signatures_with_files;
      shared.by_signature.emplace(record.signature, std::move(group));
    }
    ++shared.reproducers_written;
  }
  for (auto& t : timers) t.enabled = false;
  gen::MinimizeStats stats;
  // Bounded in time too: on the kernel each attempt costs milliseconds, and
  // the campaign's budget should not stretch by minutes. --time is a hard
  // budget that minimization shares, and a signal stops it too; what was
  // found so far still fails the same way.
  const Clock::time_point give_up = Clock::now() + kMinimizeTimeLimit;
  gen::MinimizeOptions minimize_options;
  minimize_options.stop = [&] {
    const char* why = nullptr;
    if (options.stop && options.stop->load(std::memory_order_relaxed)) {
      why = "by a signal";
    } else if (shared.deadline && Clock::now() >= *shared.deadline) {
      why = "at the time budget (--time)";
    } else if (Clock::now() >= give_up) {
      why = "at its 15 s limit";
    } else if (shared.failed.load(std::memory_order_relaxed)) {
      why = "as a worker failed";
    }
    if (why) record.minimization_stopped = why;
    return why != nullptr;
  };
  const auto same = gen::SameDivergence(backends, seq, d);
  // Every attempt, and the reproducer's check, starts from fresh backends
  // (a new plug-in child), as `amc replay` of the file will: what a
  // backend kept from earlier sequences must not make or break a case.
  core::RestartAll(backends);
  const bool fresh = same(seq);
  core::Sequence minimized = seq;
  if (fresh) {
    // With its geometry, so that values can be cut to the syscall buffer
    // size.
    core::Sequence placed = seq;
    placed.env = core::Geometry(CampaignGeometry(*shared.plan, index));
    minimized = gen::Minimize(
        placed,
        [&](const core::Sequence& candidate) {
          core::RestartAll(backends);
          return same(candidate);
        },
        minimize_options, &stats);
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
  const std::string profile = options.kernel_profile.empty()
                                  ? ""
                                  : " --kernel-profile " + options.kernel_profile;
  repro.comments = {
      "amc run divergence: sequence " + std::to_string(index) + " of seed " +
          std::to_string(options.seed) + " (amc run --backends " + names +
          profile + " --seed " + std::to_string(options.seed) + ")",
      "backends: " + JoinNames(shared.plan->backend_names, ", "),
      "signature: " + record.signature,
      "divergence: " + (again.divergence
                            ? Clip(again.divergence->Summary(minimized))
                            : record.summary),
      "as generated: " + record.summary,
      fresh ? "minimized from " + std::to_string(record.ops_before) +
                  " to " + std::to_string(record.ops_after) + " ops in " +
                  std::to_string(stats.attempts) + " attempts" +
                  (record.minimization_stopped.empty()
                       ? ""
                       : " (minimization stopped " +
                             record.minimization_stopped +
                             ": a partial minimization)")
            : "not minimized: it did not reproduce in a fresh child",
      "reproduce: amc replay --backends " + names + profile + " THIS_FILE",
  };
  if (!options.kernel_profile.empty()) {
    repro.comments.insert(repro.comments.begin() + 2,
                          "kernel profile: " + options.kernel_profile);
  }
  if (flaky) {
    repro.comments.push_back(
        std::string("flaky: did not reproduce in a fresh child (fresh "
                    "backends") +
        (fresh ? ", once minimized)" : "); not minimized") +
        ": state kept from earlier sequences mattered");
  }
  // A sanitizer's report (a plug-in built with ASan or UBSan) goes with
  // the file: its error line, the access and the top frames.
  AppendSanitizerReport(
      again.divergence ? again.divergence->backend_failure : d.backend_failure,
      &repro.comments);
  std::lock_guard<std::mutex> lock(shared.mu);
  std::error_code ec;
  std::filesystem::create_directories(options.out_dir, ec);
  if (ec) {
    record.note = options.out_dir + ": cannot create folder: " + ec.message();
    return record;
  }
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
  SignatureGroup& group = shared.by_signature[record.signature];
  group.files.push_back(path);
  if (!record.same_as) {
    group.report = record.report;
    group.ops_before = record.ops_before;
    group.ops_after = record.ops_after;
    group.minimization_stopped = record.minimization_stopped;
  }
  if (flaky) {
    record.note = "flaky: did not reproduce in a fresh child; written "
                  "anyway to " + path;
    if (!record.same_as) group.note = record.note;
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
    core::Sequence seq;
    core::RunOutcome outcome;
    Clock::time_point t0 = Clock::now();
    try {
      seq = CampaignSequence(plan, options.seed, index);
      gen::MarkSpecialValues(seq, CampaignGeometry(plan, index),
                             &out.special_hits);
      outcome = core::RunDifferential(seq, ptrs);
    } catch (const std::bad_alloc&) {
      // Generating the sequence ran out of memory (RunDifferential turns
      // its own into harness errors).
      outcome = core::RunOutcome{};
      outcome.harness_error = "harness, generating the sequence: out of "
                              "memory (std::bad_alloc)";
    }
    double seconds = Seconds(Clock::now() - t0);
    if (outcome.harness_error) {
      // amc itself failed: counted and kept (the first ones) for the
      // summary, never minimized, never a reproducer, never a divergence.
      const uint64_t n =
          shared.harness_errors.fetch_add(1, std::memory_order_relaxed);
      if (n < kMaxHarnessErrorRecords) {
        out.harness_errors.push_back(
            HarnessErrorRecord{index, *outcome.harness_error});
      }
    }

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
      block.agreed += outcome.ok() ? 1 : 0;
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
  // Every geometry answers as the same release (its kernel profile).
  for (core::Environment& g : out) g.kernel_release = host.kernel_release;
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
  // Map types and creation flags some backend cannot create (a plug-in's
  // declaration) are never generated, and said so.
  for (const auto& b : selection.available) {
    for (const backends::UnsupportedMap& m : backends::UnsupportedMaps(*b)) {
      std::string what;
      if (m.is_type) {
        plan.gen.excluded_map_types |= 1u << static_cast<uint32_t>(m.type);
        what = m.type == core::MapType::kArray ? "ARRAY maps" : "PERCPU_ARRAY maps";
      } else {
        if (plan.gen.excluded_map_flags & m.flag) continue;
        plan.gen.excluded_map_flags |= m.flag;
        char hex[16];
        std::snprintf(hex, sizeof hex, "0x%x", m.flag);
        what = std::string("map_flags ") + hex;
      }
      plan.left_out_kinds.emplace_back(what, "not run by " + b->Name() + " (" +
                                                 m.reason + ")");
    }
  }

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
    try {
      threads.emplace_back([&, j] {
        Worker(shared, results[j]);
        running.fetch_sub(1);
      });
    } catch (const std::system_error& e) {
      // No thread (its stack did not fit: ulimit -v, or too many threads):
      // a harness error that stops the run, never an abort.
      {
        std::lock_guard<std::mutex> lock(shared.mu);
        shared.error = "HARNESS ERROR: cannot start worker thread " +
                       std::to_string(j + 1) + " of " + std::to_string(jobs) +
                       ": " + e.what() +
                       " (out of memory or address space? fewer --jobs)";
      }
      shared.failed = true;
      running.fetch_sub(jobs - j);
      break;
    }
  }
  auto progress = [&] {
    Progress p;
    p.sequences = shared.sequences.load();
    p.ops = shared.ops.load();
    p.divergences = shared.divergences.load();
    p.harness_errors = shared.harness_errors.load();
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
    result.special_hits.resize(gen::SpecialTable().size());
    for (size_t i = 0; i < w.special_hits.size(); ++i) {
      if (w.special_hits[i]) result.special_hits[i] = true;
    }
    for (auto& d : w.divergences) result.divergences.push_back(std::move(d));
    for (auto& h : w.harness_errors) {
      result.harness_error_records.push_back(std::move(h));
    }
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
  result.harness_errors = shared.harness_errors.load();
  std::sort(result.harness_error_records.begin(),
            result.harness_error_records.end(),
            [](const auto& a, const auto& b) { return a.index < b.index; });
  result.same_counts = shared.same_counts;
  for (auto& [signature, group] : shared.by_signature) {
    result.signatures.push_back(std::move(group));
  }
  // By first sequence: the order a run with one job meets them.
  std::sort(result.signatures.begin(), result.signatures.end(),
            [](const auto& a, const auto& b) {
              return a.first_index < b.first_index;
            });
  std::sort(result.divergences.begin(), result.divergences.end(),
            [](const auto& a, const auto& b) { return a.index < b.index; });
  return result;
}

}  // namespace amc::cli
