// tools/amc/run_command.cc: `amc run`, the differential campaign.
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <cstdio>
#include <random>
#include <thread>

#include "core/kernel_profile.h"
#include "core/ops_text.h"
#include "gen/special_values.h"
#include "tools/amc/args.h"
#include "tools/amc/campaign.h"
#include "tools/amc/cli_util.h"
#include "tools/amc/commands.h"
#include "tools/amc/limits.h"
#include "tools/amc/report.h"
#include "tools/amc/run_report.h"

namespace amc::cli {
namespace {

constexpr char kRunHelp[] = R"(usage: amc run [options]

Runs a differential campaign: random operation sequences, biased to the edges
of the array-map semantics, run on every selected backend; every result must
agree. Divergences are grouped by signature: what differs, not the values
(op kind, map type, the field that differs, each backend's answer class,
e.g. "op update ARRAY: errno: model E2BIG, faulty ENOENT"). The first
divergence of each signature is minimized, keeping its signature, and
written as an .ops file that `amc replay` fails on. A backend that creates a
map the reference refuses is then driven through the sequence's ops alone
(a robustness probe: nothing to compare with, but a crash, hang, overrun or
lost plug-in there is its own finding, "accepted invalid map (model E2BIG),
then crashed at op update ARRAY: ...").

Defaults: every available backend, both map types, 60 seconds, all cores,
a fresh seed (printed; pass it back with --seed to repeat the run).

options:
  --backends LIST      comma-separated backends (default: $AMC_BACKENDS if
                       set, else every available one; see `amc info`);
                       test-only ones run only when named; a named backend
                       that cannot run here is an error (exit 2)
  --allow-missing      run without the named backends that cannot run here
                       (they are listed with the reason)
  --seed N             campaign seed; sequence i depends only on N and i
  --sequences N        run N sequences, 1 or more (then no time limit
                       unless --time)
  --time SECONDS       stop after this long, more than 0 and at most 30 days
                       (default 60 without --sequences)
  --jobs N             parallel workers, each with its own backends
                       (default: all cores)
  --out DIR            where reproducers go (default: amc-out)
  --junit FILE         JUnit XML: a failing test case per divergence
                       signature (named by it), a passing one for the
                       campaign when nothing diverged, a skipped one per op
                       kind left out; seed, backends, kernel and amc version
                       as properties
  --json FILE          JSON summary
  --max-ops N          ops per sequence at most (default 32)
  --max-reproducers N  signatures to minimize and write a reproducer for
                       (default 100); later signatures are still counted
                       and listed
  --reproducers-per-signature N
                       reproducers per signature, from its first N
                       sequences (default 1)
  --possible-cpus N    run as on a machine with N possible CPUs, whatever
                       this one has (model, impl, plug-ins; the kernel runs
                       only where this machine matches, else it is left out
                       and the reason printed)
  --online-cpus M      of which CPUs 0..M-1 are online (default: all N)
  --page-size P        and P-byte pages (default: this machine's)
  --huge-maps          also draw maps past 4 GiB: a fifth of the specs sit
                       at the 32-bit boundaries of the size products the
                       kernel computes in 64 bits (elem_size * max_entries,
                       round_up(value_size, 8), per-CPU storage, the mmap
                       region), e.g. value_size 8 with 2^29 + 1 entries, and
                       their ops touch the first, last and wrap-around
                       elements (2^32 / elem_size and neighbours). The
                       model, impl and plug-ins keep them sparse (only what
                       is written costs memory) and their final states are
                       compared by chunk digests, streamed, so a run needs
                       no 4 GiB of memory; the kernel sits such maps out
                       (--kernel-map-limit). Off by default: a default run's
                       sequences stay as they were for every seed
  --no-special-values  do not draw the special-value table's edges
                       (gen/special_values.h: the constants the kernel
                       compares each field with, and their neighbours; on
                       by default, the summary says how many were drawn)
  --verbose            also list the special values no sequence drew
  --help               this text

Without --possible-cpus, a campaign without the kernel among its backends
rotates through several geometries (1, 3, 4 and 64 possible CPUs, some with
fewer online; 4 KiB and 64 KiB pages), sequence i in geometry i mod their
number; the summary says which ran.

exit status: 0 all backends agreed, 1 a divergence, 2 bad usage, nothing
checked (a named backend that cannot run, no sequence run), or a harness
error (amc itself failed: out of descriptors or memory, a refused read-back;
such sequences are printed, never minimized nor counted as divergences, and
the verdict is HARNESS ERROR whatever else happened), 130 interrupted
(SIGINT/SIGTERM) before the budget was spent without a divergence: such a
run prints no PASS, and its reports say "interrupted"
)";

std::atomic<bool> g_stop{false};

// SIGINT (Ctrl-C) and SIGTERM (what `timeout` and CI runners send) stop the
// campaign; the summary and the reports are still written. A second signal
// ends the process.
void OnInterrupt(int) {
  g_stop.store(true);
  std::signal(SIGINT, SIG_DFL);
  std::signal(SIGTERM, SIG_DFL);
}

std::string ProgressLine(const Progress& p, const CampaignOptions& o) {
  char buf[256];
  double ops_rate = p.elapsed > 0 ? p.ops / p.elapsed : 0;
  std::string left;
  if (o.seconds) {
    double remaining = std::max(0.0, *o.seconds - p.elapsed);
    left = std::to_string(static_cast<long>(remaining + 0.5)) + " s left";
  }
  if (o.sequences) {
    double rate = p.elapsed > 0 ? p.sequences / p.elapsed : 0;
    uint64_t todo = *o.sequences > p.sequences ? *o.sequences - p.sequences : 0;
    std::string eta =
        rate > 0
            ? std::to_string(static_cast<long>(todo / rate + 0.5)) + " s left"
            : "?";
    if (left.empty() || (rate > 0 && todo / rate < *o.seconds - p.elapsed))
      left = "~" + eta;
  }
  std::snprintf(buf, sizeof buf,
                "amc run: %llu sequences, %s ops/s, %llu divergences, %s",
                static_cast<unsigned long long>(p.sequences),
                Rate(ops_rate).c_str(),
                static_cast<unsigned long long>(p.divergences), left.c_str());
  std::string line = buf;
  if (p.harness_errors) {
    line += ", " + std::to_string(p.harness_errors) + " HARNESS ERRORS";
  }
  return line;
}

std::string HistogramLine(const std::map<std::string, uint64_t>& histogram) {
  std::vector<std::pair<std::string, uint64_t>> items(histogram.begin(),
                                                      histogram.end());
  std::stable_sort(
      items.begin(), items.end(),
      [](const auto& a, const auto& b) { return a.second > b.second; });
  std::string out;
  for (const auto& [name, count] : items) {
    out += (out.empty() ? "" : ", ") + name + " " + std::to_string(count);
  }
  return out.empty() ? "-" : out;
}

std::string JsonHistogram(const std::map<std::string, uint64_t>& histogram) {
  JsonList obj(true);
  for (const auto& [name, count] : histogram) obj.Int(name, count);
  return obj.Done();
}

}  // namespace

int RunCommand(int argc, char** argv) {
  Args args;
  std::string error = args.Parse(argc, argv, 2,
                                 {{"backends"},
                                  {"seed"},
                                  {"sequences"},
                                  {"time"},
                                  {"jobs"},
                                  {"out"},
                                  {"junit"},
                                  {"json"},
                                  {"max-ops"},
                                  {"max-reproducers"},
                                  {"reproducers-per-signature"},
                                  {"possible-cpus"},
                                  {"online-cpus"},
                                  {"page-size"},
                                  {"allow-missing", false},
                                  {"huge-maps", false},
                                  {"no-special-values", false},
                                  {"verbose", false},
                                  {"help", false}});
  if (!error.empty()) return UsageError("run", error);
  if (args.Has("help")) {
    std::fputs(kRunHelp, stdout);
    return kExitAgree;
  }
  if (!args.positional().empty()) {
    return UsageError("run",
                      "unexpected argument '" + args.positional()[0] + "'");
  }
  std::optional<uint64_t> seed, sequences, jobs, max_ops, max_repro,
      per_signature;
  std::optional<double> seconds;
  for (auto [name, out] : {std::pair{"seed", &seed},
                           {"sequences", &sequences},
                           {"jobs", &jobs},
                           {"max-ops", &max_ops},
                           {"max-reproducers", &max_repro},
                           {"reproducers-per-signature", &per_signature}}) {
    error = args.GetUint(name, out);
    if (!error.empty()) return UsageError("run", error);
  }
  std::optional<core::Environment> geometry;
  error = GeometryFromArgs(args, &geometry);
  if (!error.empty()) return UsageError("run", error);
  error = args.GetSeconds("time", &seconds);
  if (!error.empty()) return UsageError("run", error);
  // A budget that checks nothing (or overflows the clock) is a usage error,
  // never a run that passes having checked nothing.
  constexpr double kMaxSeconds = 30.0 * 24 * 3600;
  if (seconds && (*seconds <= 0 || *seconds > kMaxSeconds)) {
    return UsageError("run", "--time needs more than 0 and at most 2592000 "
                             "seconds (30 days)");
  }
  if (sequences && *sequences == 0) {
    return UsageError("run", "--sequences needs 1 or more");
  }
  if (jobs && (*jobs == 0 || *jobs > 1024)) {
    return UsageError("run", "--jobs needs a number from 1 to 1024");
  }
  if (max_ops && (*max_ops == 0 || *max_ops > 100000)) {
    return UsageError("run", "--max-ops needs a number from 1 to 100000");
  }

  CampaignOptions options;
  options.backend_list =
      args.Get("backends", backends::BackendListFromEnvironment());
  if (!seed) {
    std::random_device rd;
    seed = (uint64_t{rd()} << 32 | rd()) ^
           static_cast<uint64_t>(
               std::chrono::system_clock::now().time_since_epoch().count());
    seed = *seed % 1000000000000ull;  // short enough to retype
  }
  options.seed = *seed;
  options.sequences = sequences;
  options.seconds = seconds;
  if (!sequences && !seconds) options.seconds = 60;
  options.jobs = jobs ? static_cast<unsigned>(*jobs)
                      : std::max(1u, std::thread::hardware_concurrency());
  options.out_dir = args.Get("out", "amc-out");
  options.max_reproducers = max_repro ? *max_repro : 100;
  options.reproducers_per_signature = per_signature ? *per_signature : 1;
  // `amc --kernel-profile X` hands X over in AMC_KERNEL_PROFILE; every
  // command line this run prints carries it, and so does each reproducer.
  if (const char* profile = std::getenv("AMC_KERNEL_PROFILE")) {
    options.kernel_profile = profile;
  }
  options.collect_cases = args.Has("junit");
  options.stop = &g_stop;
  // Where reproducers (and reports) go is checked before any sequence runs,
  // never found unwritable after the whole campaign. The folder is made
  // only when a reproducer is written.
  if (std::string e = CheckOutputFolder(options.out_dir, /*create=*/false);
      !e.empty()) {
    return UsageError("run", "--out " + e);
  }
  for (const char* report : {"json", "junit"}) {
    if (!args.Has(report)) continue;
    if (std::string e = CheckOutputFile(args.Get(report)); !e.empty()) {
      return UsageError("run", std::string("--") + report + " " + e);
    }
  }
  // Descriptors and address space before anything runs: running out of
  // them mid-run would be harness errors on every sequence.
  {
    LimitCheck limits =
        EnsureLimits(options.jobs, MayRunKernel(options.backend_list));
    if (!limits.error.empty()) return UsageError("run", limits.error);
    if (!limits.note.empty()) std::printf("note: %s\n", limits.note.c_str());
  }

  backends::Selection selection =
      backends::SelectBackends(options.backend_list, geometry);
  if (!selection.error.empty()) return UsageError("run", selection.error);
  // A requested geometry leaves out the backends that cannot take it (the
  // kernel on another machine), with the reason; they are reported as not
  // running.
  for (const auto& left : selection.not_applicable) {
    selection.unavailable.push_back(left);
  }
  if (std::string missing = backends::MissingRequiredBackends(selection);
      !missing.empty()) {
    return UsageError("run", missing);
  }
  // A backend named with --backends that cannot run fails the run: a
  // campaign that quietly checked fewer backends than asked is no verdict
  // on the missing ones.
  if (args.Has("backends") && !args.Has("allow-missing")) {
    std::string why;
    for (const auto& [name, reason] : selection.unavailable) {
      why += "\n  " + name + ": " + reason;
    }
    if (!why.empty()) {
      return UsageError("run", "a named backend cannot run here (--allow-missing "
                               "runs without it):" + why);
    }
  }
  if (selection.available.empty()) {
    std::string why;
    for (const auto& [name, reason] : selection.unavailable) {
      why += "\n  " + name + ": " + reason;
    }
    return UsageError("run", "no selected backend can run here:" + why);
  }
  CampaignPlan plan = PlanCampaign(selection, max_ops ? *max_ops : 32);
  plan.gen.huge_maps = args.Has("huge-maps");
  plan.gen.special_values = !args.Has("no-special-values");
  // With AMC_REQUIRE_KERNEL=1, op kinds the kernel cannot run (program ops
  // before Linux 5.14) are a failure, not a quiet gap.
  for (const auto& b : selection.available) {
    std::vector<std::pair<std::string, std::string>> gaps;
    for (size_t k = 0; k < core::kOpKindCount; ++k) {
      auto kind = static_cast<core::OpKind>(k);
      if (b->Supports(kind)) continue;
      gaps.emplace_back(b->Name(), std::string("does not implement ") +
                                       core::OpKindName(kind) + ": " +
                                       b->UnsupportedReason(kind));
    }
    if (std::string missing = backends::MissingRequiredKinds(gaps);
        !missing.empty()) {
      return UsageError("run", missing);
    }
  }
  const auto unavailable = selection.unavailable;
  bool kernel_runs = false;
  for (const auto& b : selection.available) kernel_runs |= b->Name() == "kernel";
  selection.available.clear();  // workers make their own
  std::vector<std::pair<std::string, std::string>> geometries_dropped;
  if (geometry) {
    plan.geometries = {core::Geometry(*geometry)};
    plan.geometries[0].kernel_release = plan.gen.env.kernel_release;
  } else if (!kernel_runs) {
    plan.geometries = DefaultGeometries(plan.gen.env);
    geometries_dropped = FilterGeometries(options.backend_list,
                                          plan.backend_names, &plan.geometries);
  }
  std::string geometry_list;
  for (const auto& g : plan.geometries) {
    geometry_list += (geometry_list.empty() ? "" : "; ") + GeometryName(g);
  }
  if (geometry_list.empty()) geometry_list = "this machine's: " + GeometryName(plan.gen.env);

  // The list as the user gave it (plug-ins by path), else the names run.
  const std::string names = options.backend_list.empty()
                                ? Join(plan.backend_names, ",")
                                : options.backend_list;
  const std::string profile_arg =
      options.kernel_profile.empty() ? ""
                                     : " --kernel-profile " + options.kernel_profile;
  std::string repeat = names + profile_arg;
  if (sequences) repeat += " --sequences " + std::to_string(*sequences);
  if (geometry) {
    repeat += " --possible-cpus " + std::to_string(geometry->possible_cpus) +
              " --online-cpus " + std::to_string(geometry->Online()) +
              " --page-size " + std::to_string(geometry->page_size);
  }
  std::printf(
      "amc run: seed %llu (repeat with: amc run --seed %llu --backends %s)\n",
      static_cast<unsigned long long>(options.seed),
      static_cast<unsigned long long>(options.seed), repeat.c_str());
  std::string budget;
  if (sequences) budget = std::to_string(*sequences) + " sequences";
  if (options.seconds) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%g s", *options.seconds);
    budget += (budget.empty() ? "" : " or ") + std::string(buf);
  }
  std::printf("backends: %s; %u jobs; budget: %s; geometries: %s\n",
              Join(plan.backend_names, ", ").c_str(), options.jobs,
              budget.c_str(), geometry_list.c_str());
  // The release the run checks: its kernel profile, and where it came from.
  if (auto profile = core::SelectKernelProfile(plan.gen.env.kernel_release)) {
    const char* forced = std::getenv("AMC_KERNEL_PROFILE");
    std::printf("kernel profile: %s (%s)\n", profile->name.c_str(),
                forced && *forced
                    ? "--kernel-profile"
                    : plan.gen.env.kernel_release == core::HostEnvironment().kernel_release
                          ? ("this machine's release, Linux " +
                             plan.gen.env.kernel_release)
                                .c_str()
                          : ("Linux " + plan.gen.env.kernel_release +
                             ", the release a plug-in targets")
                                .c_str());
  }
  for (const auto& [name, reason] : unavailable) {
    std::printf("not running %s: %s\n", name.c_str(), reason.c_str());
  }
  for (const auto& [name, reason] : geometries_dropped) {
    std::printf("not running geometry %s: %s\n", name.c_str(), reason.c_str());
  }
  if (plan.backend_names.size() == 1) {
    std::printf(
        "note: only one backend can run, so nothing is compared but "
        "crashes and hangs\n");
  }
  std::fflush(stdout);

  const bool tty = isatty(STDERR_FILENO);
  options.progress_interval = tty ? 0.25 : 10;
  options.progress = [&](const Progress& p) {
    if (tty) {
      std::fprintf(stderr, "\r\033[K%s", ProgressLine(p, options).c_str());
    } else {
      std::fprintf(stderr, "%s\n", ProgressLine(p, options).c_str());
    }
    std::fflush(stderr);
  };
  std::signal(SIGINT, OnInterrupt);
  std::signal(SIGTERM, OnInterrupt);
  CampaignResult result = RunCampaign(plan, options);
  std::signal(SIGINT, SIG_DFL);
  std::signal(SIGTERM, SIG_DFL);
  if (tty) std::fprintf(stderr, "\r\033[K");
  if (!result.error.empty()) {
    std::fprintf(stderr, "amc run: %s\n", result.error.c_str());
    return kExitUsage;
  }

  // ---- summary ----
  const double elapsed = std::max(result.elapsed, 1e-9);
  std::printf(
      "\n%llu sequences, %llu ops in %.1f s: %s sequences/s, %s ops/s (wall "
      "clock%s)\n",
      static_cast<unsigned long long>(result.sequences),
      static_cast<unsigned long long>(result.ops), result.elapsed,
      Rate(result.sequences / elapsed).c_str(),
      Rate(result.ops / elapsed).c_str(), g_stop.load() ? "; interrupted" : "");
  std::vector<std::vector<std::string>> rows = {{"backend", "sequences", "ops",
                                                 "busy s", "sequences/s",
                                                 "ops/s", "sat out"}};
  for (const auto& t : result.backends) {
    double busy = t.busy_ns / 1e9;
    char busy_text[32];
    std::snprintf(busy_text, sizeof busy_text, "%.2f", busy);
    rows.push_back({t.name, std::to_string(t.sequences), std::to_string(t.ops),
                    busy_text, busy > 0 ? Rate(t.sequences / busy) : "-",
                    busy > 0 ? Rate(t.ops / busy) : "-",
                    std::to_string(t.left_out)});
  }
  std::printf(
      "per backend (busy s: time inside the backend, summed over jobs; "
      "rates per busy second):\n%s",
      FormatTable(rows).c_str());
  rows = {{"op kind", "ops"}};
  for (size_t k = 0; k < core::kOpKindCount; ++k) {
    rows.push_back({core::OpKindName(static_cast<core::OpKind>(k)),
                    std::to_string(result.ops_by_kind[k])});
  }
  std::printf("ops by kind:\n%s", FormatTable(rows).c_str());
  {
    const size_t total = gen::SpecialTable().size();
    size_t drawn = 0;
    std::string missing;
    for (size_t i = 0; i < total; ++i) {
      if (i < result.special_hits.size() && result.special_hits[i]) {
        ++drawn;
      } else {
        missing += "  " + gen::DescribeSpecial(i) + "\n";
      }
    }
    std::printf("special values drawn: %zu of %zu%s\n", drawn, total,
                plan.gen.special_values ? "" : " (--no-special-values)");
    if (args.Has("verbose") && !missing.empty()) {
      std::printf("special values not drawn:\n%s", missing.c_str());
    }
  }
  if (plan.geometries.empty()) {
    std::printf("geometries: %s\n", geometry_list.c_str());
  } else {
    rows = {{"geometry", "sequences"}};
    for (size_t g = 0; g < plan.geometries.size(); ++g) {
      rows.push_back({GeometryName(plan.geometries[g]),
                      std::to_string(result.sequences_by_geometry[g])});
    }
    std::printf("geometries:\n%s", FormatTable(rows).c_str());
  }
  std::printf("op results by errno:\n");
  for (const auto& t : result.backends) {
    std::printf("  %s: %s\n", t.name.c_str(), HistogramLine(t.errnos).c_str());
  }
  std::printf("map creation:\n");
  for (const auto& t : result.backends) {
    std::printf("  %s: %s\n", t.name.c_str(),
                HistogramLine(t.create_errnos).c_str());
  }
  std::printf("backends unavailable: %s\n", unavailable.empty() ? "none" : "");
  for (const auto& [name, reason] : unavailable) {
    std::printf("  %s: %s\n", name.c_str(), reason.c_str());
  }
  std::printf("op kinds and maps left out (not tested): %s\n",
              plan.left_out_kinds.empty() ? "none" : "");
  for (const auto& [kind, reason] : plan.left_out_kinds) {
    std::printf("  %s: %s\n", kind.c_str(), reason.c_str());
  }
  size_t files = 0;
  for (const auto& g : result.signatures) files += g.files.size();
  std::printf("divergences: %llu",
              static_cast<unsigned long long>(result.divergent_sequences));
  if (result.divergent_sequences) {
    std::printf(" in %zu signature%s (%zu reproducer%s written to %s/)",
                result.signatures.size(),
                result.signatures.size() == 1 ? "" : "s", files,
                files == 1 ? "" : "s", options.out_dir.c_str());
  }
  std::printf("\n");
  size_t listed = 0;
  for (const auto& g : result.signatures) {
    if (listed++ >= 20) break;
    std::printf("  %s\n    %llu sequence%s; first: sequence %llu: %s\n",
                g.signature.c_str(),
                static_cast<unsigned long long>(g.sequences),
                g.sequences == 1 ? "" : "s",
                static_cast<unsigned long long>(g.first_index),
                g.summary.c_str());
    for (const auto& file : g.files) {
      std::printf("    -> %s%s\n", file.c_str(),
                  &file == &g.files.front()
                      ? (" (minimized from " + std::to_string(g.ops_before) +
                         " to " + std::to_string(g.ops_after) + " ops" +
                         (g.minimization_stopped.empty()
                              ? ""
                              : "; minimization stopped " + g.minimization_stopped) +
                         ")")
                            .c_str()
                      : "");
    }
    if (!g.note.empty()) std::printf("    %s\n", g.note.c_str());
  }
  if (result.signatures.size() > 20) {
    std::printf("  ... and %zu more signatures (see --json)\n",
                result.signatures.size() - 20);
  }
  // Harness errors: amc itself failed on these sequences; no verdict on
  // them. The first few in full, then the count.
  constexpr size_t kHarnessErrorsShown = 5;
  std::printf("harness errors: %llu%s\n",
              static_cast<unsigned long long>(result.harness_errors),
              result.harness_errors
                  ? " (amc itself failed; not results of any backend, never "
                    "minimized nor written)"
                  : "");
  for (size_t i = 0;
       i < result.harness_error_records.size() && i < kHarnessErrorsShown;
       ++i) {
    const HarnessErrorRecord& h = result.harness_error_records[i];
    std::printf("  sequence %llu: HARNESS ERROR: %s\n",
                static_cast<unsigned long long>(h.index), h.message.c_str());
  }
  if (result.harness_errors > kHarnessErrorsShown) {
    std::printf("  ... and %llu more (see --json)\n",
                static_cast<unsigned long long>(result.harness_errors -
                                                kHarnessErrorsShown));
  }
  // The first reproducer in full, so that a log alone is enough to start.
  for (const auto& g : result.signatures) {
    if (g.files.empty()) continue;
    std::printf("\nfirst divergence, minimized:\n%s", g.report.c_str());
    std::printf("replay it with: amc replay --backends %s%s %s\n", names.c_str(),
                profile_arg.c_str(), g.files[0].c_str());
    break;
  }
  // The verdict: a divergence is a FAIL whatever else happened; otherwise a
  // run that checked nothing, or was stopped before its budget, has none.
  const bool interrupted = g_stop.load();
  int exit_code = kExitAgree;
  const char* verdict = "PASS: every backend agreed on every sequence";
  std::string harness_verdict;
  if (result.harness_errors > 0) {
    // amc could not do its part: whatever else happened, no verdict.
    exit_code = kExitUsage;
    harness_verdict =
        "HARNESS ERROR: amc itself failed on " +
        std::to_string(result.harness_errors) +
        " sequences (see above); no verdict (" +
        std::to_string(result.divergent_sequences) + " divergences)";
    verdict = harness_verdict.c_str();
  } else if (result.divergent_sequences > 0) {
    exit_code = kExitDiverge;
    verdict = interrupted ? "FAIL: backends diverged (run interrupted)"
                          : "FAIL: backends diverged";
  } else if (result.sequences == 0) {
    exit_code = kExitUsage;
    verdict = "NO VERDICT: no sequence was checked";
  } else if (interrupted) {
    exit_code = kExitInterrupted;
    verdict = "INTERRUPTED: no divergence in the sequences run before the "
              "stop; the budget was not spent, so no verdict";
  }
  std::printf("\n%s (seed %llu)\n", verdict,
              static_cast<unsigned long long>(options.seed));
  std::fflush(stdout);

  // ---- reports ----
  int report_status = exit_code;
  if (args.Has("junit")) {
    std::vector<TestCaseReport> cases = RunJUnitCases(plan, result, interrupted);
    if (result.harness_errors) {
      // One case under a stable name: amc itself failed, no verdict.
      TestCaseReport r;
      r.classname = "amc.run";
      r.name = "harness errors";
      r.error = std::to_string(result.harness_errors) +
                " sequences could not be checked because amc itself failed";
      for (size_t i = 0; i < result.harness_error_records.size() && i < 5; ++i) {
        const auto& h = result.harness_error_records[i];
        *r.error += "; sequence " + std::to_string(h.index) + ": " + h.message;
      }
      cases.push_back(std::move(r));
    }
    std::string e = WriteTextFile(
        args.Get("junit"),
        JUnitXml("amc run", cases, result.elapsed,
                 RunJUnitProperties(options, names)));
    if (!e.empty()) {
      std::fprintf(stderr, "amc run: %s\n", e.c_str());
      report_status = kExitUsage;
    }
  }
  if (args.Has("json")) {
    JsonList backends(false);
    for (const auto& t : result.backends) {
      double busy = t.busy_ns / 1e9;
      backends.Add(JsonList(true)
                       .Str("name", t.name)
                       .Int("sequences", t.sequences)
                       .Int("ops", t.ops)
                       .Num("busy_seconds", busy)
                       .Num("sequences_per_busy_second",
                            busy > 0 ? t.sequences / busy : 0)
                       .Num("ops_per_busy_second", busy > 0 ? t.ops / busy : 0)
                       .Int("sequences_sat_out", t.left_out)
                       .Raw("errnos", JsonHistogram(t.errnos))
                       .Raw("creation", JsonHistogram(t.create_errnos))
                       .Done());
    }
    JsonList kinds(true);
    for (size_t k = 0; k < core::kOpKindCount; ++k) {
      kinds.Int(core::OpKindName(static_cast<core::OpKind>(k)),
                result.ops_by_kind[k]);
    }
    JsonList geometries(false);
    for (size_t g = 0; g < plan.geometries.size(); ++g) {
      const core::Environment& e = plan.geometries[g];
      geometries.Add(JsonList(true)
                         .Int("possible_cpus", e.possible_cpus)
                         .Int("online_cpus", e.Online())
                         .Int("page_size", e.page_size)
                         .Int("sequences", result.sequences_by_geometry[g])
                         .Done());
    }
    JsonList unavail(false);
    for (const auto& [name, reason] : unavailable) {
      unavail.Add(
          JsonList(true).Str("name", name).Str("reason", reason).Done());
    }
    JsonList left_out(false);
    for (const auto& [kind, reason] : plan.left_out_kinds) {
      left_out.Add(
          JsonList(true).Str("kind", kind).Str("reason", reason).Done());
    }
    JsonList signatures(false);
    for (const auto& g : result.signatures) {
      JsonList files(false);
      for (const auto& f : g.files) files.Add(JsonString(f));
      signatures.Add(JsonList(true)
                         .Str("signature", g.signature)
                         .Int("sequences", g.sequences)
                         .Int("seed", options.seed)
                         .Int("first_sequence", g.first_index)
                         .Str("summary", g.summary)
                         .Str("reproducer", g.files.empty() ? "" : g.files[0])
                         .Raw("reproducers", files.Done())
                         .Str("note", g.note)
                         .Int("ops_before", g.ops_before)
                         .Int("ops_after", g.ops_after)
                         .Done());
    }
    JsonList divergences(false);
    for (const auto& d : result.divergences) {
      divergences.Add(
          JsonList(true)
              .Int("sequence", d.index)
              .Str("signature", d.signature)
              .Str("summary", d.summary)
              .Str("file", d.file)
              .Str("note", d.note)
              .Raw("same_as", d.same_as ? std::to_string(*d.same_as) : "null")
              .Int("same_kind_later", d.same_as ? 0
                                      : result.same_counts.count(d.index)
                                          ? result.same_counts.at(d.index)
                                          : 0)
              .Int("ops_before", d.ops_before)
              .Int("ops_after", d.ops_after)
              .Str("minimization_stopped", d.minimization_stopped)
              .Done());
    }
    JsonList harness_list(false);
    for (const auto& h : result.harness_error_records) {
      harness_list.Add(JsonList(true)
                           .Int("sequence", h.index)
                           .Str("message", h.message)
                           .Done());
    }
    std::string json =
        JsonList(true)
            .Str("command", "run")
            .Str("amc_version", AmcVersion())
            .Int("seed", options.seed)
            .Int("jobs", options.jobs)
            .Int("sequences", result.sequences)
            .Int("ops", result.ops)
            .Num("seconds", result.elapsed)
            .Raw("budget_seconds",
                 options.seconds ? JsonNumber(*options.seconds) : "null")
            .Num("sequences_per_second", result.sequences / elapsed)
            .Num("ops_per_second", result.ops / elapsed)
            .Bool("interrupted", g_stop.load())
            .Raw("backends", backends.Done())
            .Raw("ops_by_kind", kinds.Done())
            .Int("special_values_drawn",
                 std::count(result.special_hits.begin(),
                            result.special_hits.end(), true))
            .Int("special_values_total", gen::SpecialTable().size())
            .Raw("geometries", geometries.Done())
            .Raw("unavailable", unavail.Done())
            .Raw("left_out_kinds", left_out.Done())
            .Int("divergent_sequences", result.divergent_sequences)
            .Raw("signatures", signatures.Done())
            .Str("kernel_profile", options.kernel_profile)
            .Raw("divergences", divergences.Done())
            .Int("harness_errors", result.harness_errors)
            .Raw("harness_error_list", harness_list.Done())
            .Int("exit_code", static_cast<uint64_t>(exit_code))
            .Done();
    std::string e = WriteTextFile(args.Get("json"), json + "\n");
    if (!e.empty()) {
      std::fprintf(stderr, "amc run: %s\n", e.c_str());
      report_status = kExitUsage;
    }
  }
  if (exit_code == kExitDiverge || exit_code == kExitInterrupted) return exit_code;
  return report_status == kExitAgree ? exit_code : report_status;
}

}  // namespace amc::cli
