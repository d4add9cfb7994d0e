// tools/amc/commands.cc: `amc replay`, `amc record`, `amc minimize`,
// `amc info` and the top-level dispatch (`amc run` is in run_command.cc).
#include "tools/amc/commands.h"

#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <functional>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>

#include "backends/registry.h"
#include "backends/replay.h"
#include "core/differential.h"
#include "core/kernel_profile.h"
#include "core/ops_text.h"
#include "gen/minimize.h"
#include "plugin/plugin_backend.h"
#include "tools/amc/args.h"
#include "tools/amc/cli_util.h"
#include "tools/amc/conform.h"
#include "tools/amc/expect_minimize.h"
#include "tools/amc/limits.h"
#include "tools/amc/record.h"
#include "tools/amc/report.h"
#include "tools/amc/run_report.h"
#include "tools/amc/reproducer_header.h"
#include "tools/amc/sysinfo.h"

namespace amc::cli {
namespace {

using Clock = std::chrono::steady_clock;

constexpr char kMainHelp[] = R"(usage: amc COMMAND [options]

amc checks that every implementation of eBPF array maps (the reference model,
the optimized impl, the real kernel) gives the same result for every operation.

commands:
  run        differential campaign on random sequences (start here)
  replay     replay .ops files and folders: expectations and agreement
  record     record .ops files on the kernel, with its results as expectations
  minimize   shrink a failing .ops case
  conform    compliance report of one implementation: PASS/FAIL/SKIP per rule
  info       kernel, privileges, CPUs, page size, backends, kernel features

Backends (--backends LIST, or $AMC_BACKENDS): model, impl, kernel, faulty
(test only), and plugin:PATH, a shared library implementing
plugin/amc_plugin.h (docs/plugins.md), run in a child process of its own.

`amc COMMAND --help` describes each; `amc --version` prints the version,
the git revision and the plug-in ABI versions. Exit status: 0 all agree, 1 a
divergence or failed expectation, 2 bad usage or unreadable input.

Every command also takes --kernel-profile NAME: the model (and the impl) then
answer as that kernel profile (`amc info` lists them: 6.1, 6.2-6.4, ..., 7.2+),
or as the profile of a release given instead of a name (--kernel-profile 7.1),
instead of the one of the running kernel's release or a case's recorded release.

Every command also takes --kernel-map-limit BYTES (K, M, G suffixes; default
64M): the kernel backend does not create a map that would make the kernel
allocate more (value_size rounded to 8, times max_entries, times the possible
CPUs for PERCPU_ARRAY) unless the kernel refuses it before allocating; the
kernel sits such a sequence out with the reason (never a pass, never a
divergence), and `record` does not record it.
)";

constexpr char kReplayHelp[] = R"(usage: amc replay [options] [PATH...]

Replays .ops files (folders: every *.ops below them) on the selected backends.
Without PATH it replays the conformance cases of the data folder
($AMC_DATA_DIR, else BIN/../share/amc where amc is installed or unpacked).
A file's recorded expectations are checked on every backend, and the backends
must agree with each other. Prints one line per failing file with the first
differing op, then counts.

Verdicts: PASS (every selected backend that runs here ran the file and met
it), FAIL (a difference or a broken expectation), SKIP (a selected backend
could not run the file: an op kind, map type or map flag it does not
implement, which is printed per file, or a case recorded in another
environment or for another kernel profile, which is counted per backend),
ERROR (the file cannot be read or parsed). A SKIP is never a pass.

options:
  --backends LIST   comma-separated backends (default: $AMC_BACKENDS if set,
                    else every available one)
  --junit FILE      JUnit XML, one test case per file
  --json FILE       JSON summary
  --verbose         also print a line per passing file and per file a
                    backend could not check for its environment
  --help            this text

Only regular files are read (a FIFO or device is refused by name, without
waiting); a folder entry that cannot be walked (a symlink loop, an unreadable
folder) is an ERROR line of its own and counts as unreadable. A harness error
(amc itself failed on a file: out of descriptors or memory, a refused
read-back) is an ERROR line too, with no verdict on that file.

exit status: 0 none failed (some may be skipped), 1 a file failed, 2 bad
usage, a missing path, an unreadable or malformed file (named with its line)
or a harness error, 130 stopped by SIGINT or SIGTERM before every file was
replayed (the summary and reports are still written, marked interrupted)
)";

constexpr char kRecordHelp[] = R"(usage: amc record [options] PATH... --out DIR

Runs each .ops file (folders: every *.ops below them) on the real kernel and
writes it to DIR with the kernel's results as expectations and the kernel's
environment (possible CPUs, page size, release) as its env line. Needs the
kernel backend: root, or CAP_BPF together with CAP_SYS_ADMIN (maps are read
back with BPF_MAP_GET_FD_BY_ID) and CAP_PERFMON for program ops; `amc info`
says what is missing. Without them nothing is recorded (exit 2).

options:
  --out DIR           where recorded files go (required); a file keeps its
                      name, and its path below a folder argument
  --allow-unrunnable  files the kernel cannot run are still named SKIPPED
                      with the reason, but do not make the exit status 2
                      (the kernel matrix records every release's corpus so)
  --help              this text

A file holding an op kind the kernel cannot run here (program ops need
Linux 5.14; `amc info` lists the kinds) is not recorded: it is named as
SKIPPED with the reason, the others are recorded, and the exit status is 2
(0 with --allow-unrunnable).

--out is checked (created, writable) before any file is recorded. SIGINT or
SIGTERM stops between files: the files recorded so far stay written.

A harness error (amc itself failed: out of file descriptors or memory, a
refused read-back) records nothing for that file, is named as HARNESS ERROR,
and makes the exit status 2 even with --allow-unrunnable.

exit status: 0 recorded, 2 bad usage, unreadable input, no kernel access, or
a file not recorded, 130 stopped by SIGINT or SIGTERM
)";

constexpr char kMinimizeHelp[] = R"(usage: amc minimize [options] FILE

Shrinks a failing .ops case. A disagreement between backends is minimized by
delta debugging over the ops and then over the spec and the values (fewer ops,
smaller max_entries and value_size, simpler values); a failed recorded
expectation by removing ops only, each keeping its recorded result.

options:
  --backends LIST      backends to run (default: the --backends and
                       --kernel-profile in the file's header, as amc run
                       writes them; else $AMC_BACKENDS if set, else every
                       available one)
  --out FILE           write the minimized case here (default: stdout)
  --max-attempts N     runs of the case at most (default 4000)
  --help               this text

--out is checked (its folder takes a new file) before the search starts.
SIGINT or SIGTERM stops the search before its next attempt: the smallest case
found failing so far is written, marked as a partial minimization.

exit status: 1 the case fails (minimized case written), 0 it does not fail
(nothing to minimize), 2 bad usage or unreadable input, 130 stopped by SIGINT
or SIGTERM (the partial minimization is written)
)";

constexpr char kInfoHelp[] = R"(usage: amc info [--backends LIST]

Prints the kernel release, this process's BPF privileges, possible CPUs, page
size, each backend's availability (with the reason when it cannot run), and
which array-map features the running kernel has, probed with real bpf() calls.

options:
  --backends LIST   describe these backends instead of the built-in ones; a
                    plug-in (plugin:PATH) is described in full: its name, the
                    ABI version it was built against, the kernel release it
                    targets, and every op kind, map type and map flag it
                    leaves out, with its reasons

exit status: 0, or 2 on bad usage
)";

bool WantsHelp(const Args& args, const char* text) {
  if (!args.Has("help")) return false;
  std::fputs(text, stdout);
  return true;
}

// "step 3 update key=4 value=00*8 flags=BPF_ANY: model E2BIG, faulty ENOENT".
std::string FirstDifference(const core::Sequence& seq,
                            const core::Divergence& d) {
  std::string where;
  if (d.step >= 0 && static_cast<size_t>(d.step) < seq.steps.size()) {
    where = "step " + std::to_string(d.step) + " `" +
            core::PrintOp(seq.steps[d.step].op) + "`";
  } else if (d.kind == core::Divergence::Kind::kFinalState) {
    where = "final map contents";
  } else if (d.kind == core::Divergence::Kind::kBackendFailure) {
    where = "outside the ops";
  } else {
    where = "map creation `" + core::PrintSpec(seq.spec) + "`";
  }
  std::string sides;
  for (const auto& [name, text] : d.sides) {
    sides += (sides.empty() ? "" : ", ") + name + " " + text;
  }
  if (d.kind == core::Divergence::Kind::kFinalState)
    return where + ": " + d.detail;
  return where + ": " + sides;
}

std::string ReadableKernelRelease() {
  struct utsname u;
  if (uname(&u) != 0) return "unknown";
  return u.release;
}

std::string ReadFirstLine(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  return line;
}

}  // namespace

// ---------------------------------------------------------------- replay

int ReplayCommand(int argc, char** argv) {
  Args args;
  std::string error = args.Parse(
      argc, argv, 2,
      {{"backends"}, {"junit"}, {"json"}, {"verbose", false}, {"help", false}});
  if (!error.empty()) return UsageError("replay", error);
  if (WantsHelp(args, kReplayHelp)) return kExitAgree;
  std::vector<std::string> paths = args.positional();
  if (paths.empty()) {
    // No PATH: the conformance cases of the data folder (an installed amc's
    // share/amc), so an installed copy checks itself with no argument.
    const std::string cases = DataDir() + "/conformance/cases";
    std::error_code ec;
    if (!std::filesystem::is_directory(cases, ec)) {
      return UsageError("replay", "no .ops file or folder given, and no "
                                  "conformance cases at " + cases +
                                  " (set AMC_DATA_DIR)");
    }
    paths.push_back(cases);
  }
  std::vector<std::string> files;
  // Entries a folder walk could not take (symlink loops, unreadable
  // folders): each is an ERROR line and counts as unreadable.
  std::vector<backends::WalkProblem> walk_problems;
  if (!backends::CollectOpsFiles(paths, &files, &error, &walk_problems)) {
    return UsageError("replay", error);
  }
  if (files.empty() && walk_problems.empty()) {
    return UsageError("replay", "no .ops files under " + Join(paths, ", "));
  }
  const std::string backend_list =
      args.Get("backends", backends::BackendListFromEnvironment());
  {
    LimitCheck limits = EnsureLimits(1, MayRunKernel(backend_list));
    if (!limits.error.empty()) return UsageError("replay", limits.error);
    if (!limits.note.empty()) std::printf("note: %s\n", limits.note.c_str());
  }
  backends::Replayer replayer(backend_list);
  error = replayer.SelectionError();
  if (!error.empty()) return UsageError("replay", error);

  size_t passed = 0, failed = 0, unreadable = 0, skipped = 0;
  size_t harness_errors = 0;  // amc itself failed: no verdict on the file
  std::map<std::string, std::string> not_run;  // backend -> reason (first seen)
  std::map<std::string, std::string> left_out;
  // backend -> files it could not check (recorded in another environment
  // or for another kernel profile).
  std::map<std::string, size_t> sat_out_elsewhere;
  std::vector<TestCaseReport> cases;
  // cases index -> the signature of its divergence (failed files).
  std::map<size_t, std::string> signatures;
  Clock::time_point start = Clock::now();
  for (const auto& problem : walk_problems) {
    ++unreadable;
    std::string message = problem.path + ": " + problem.reason;
    std::printf("ERROR %s\n", message.c_str());
    TestCaseReport tc;
    tc.classname = "amc.replay";
    tc.name = problem.path;
    tc.error = message;
    cases.push_back(std::move(tc));
  }
  StopOnSignals stop;
  size_t replayed = 0;
  for (const std::string& file : files) {
    if (stop.stopped()) break;
    ++replayed;
    Clock::time_point t0 = Clock::now();
    backends::ReplayOutcome out = replayer.ReplayFile(file);
    TestCaseReport tc;
    tc.classname = "amc.replay";
    tc.name = file;
    tc.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
    for (const auto& [name, reason] : out.unavailable)
      not_run.emplace(name, reason);
    for (const auto& [name, reason] : out.run.left_out)
      left_out.emplace(name, reason);
    for (const auto& [name, reason] : out.not_applicable)
      ++sat_out_elsewhere[name];
    std::string line;
    if (out.parse_error) {
      ++unreadable;
      line = "ERROR " + out.parse_error->ToString();
      tc.error = out.parse_error->ToString();
    } else if (out.run.harness_error) {
      // Not a result of any backend: ERROR, never FAIL (nor PASS).
      ++harness_errors;
      line = "ERROR " + file + ": HARNESS ERROR (amc itself failed, no "
             "verdict): " + *out.run.harness_error;
      tc.error = "HARNESS ERROR: " + *out.run.harness_error;
    } else if (!out.required_missing.empty()) {
      ++failed;
      line = "FAIL " + file + ": " + out.required_missing;
      tc.failure = out.required_missing;
    } else if (!out.run.ok()) {
      ++failed;
      std::string first = FirstDifference(*out.sequence, *out.run.divergence);
      line = "FAIL " + file + ": " + first;
      // How a backend failed (signal or exit status, its stderr's end).
      const std::string& failure = out.run.divergence->backend_failure;
      if (!failure.empty()) line += "\n    ";
      for (char c : failure) {
        if (c == '\n') {
          line += "\n    ";
        } else {
          line += c;
        }
      }
      tc.failure = first;
      tc.failure_text = out.run.divergence->Report(*out.sequence);
      signatures[cases.size()] = out.run.divergence->Signature();
    } else if (out.skipped()) {
      // A selected backend could not run the file (an op kind, a map type
      // or flag, another environment or kernel profile): not a pass for
      // it, whatever the others did.
      ++skipped;
      std::string why = out.SkipReason();
      std::string ran = out.backends_run.empty()
                            ? std::string("nothing else ran")
                            : "checked on " + Join(out.backends_run, ", ");
      // Files another environment's or release's backends recorded are
      // counted per backend below; listed one by one with --verbose.
      if (!out.run.left_out.empty() || args.Has("verbose")) {
        line = "SKIP " + file + ": " + why + " (" + ran + ")";
      }
      tc.skipped = why;
    } else if (out.backends_run.empty()) {
      ++skipped;
      std::string why;
      for (const auto& [name, reason] : out.unavailable) {
        why += (why.empty() ? "" : "; ") + name + ": " + reason;
      }
      line = "SKIP " + file + ": no selected backend can run it (" + why + ")";
      tc.skipped = "no selected backend can run it (" + why + ")";
    } else {
      ++passed;
      if (args.Has("verbose")) {
        line = "PASS " + file + " (" + Join(out.backends_run, ", ") + ")";
      }
    }
    if (!line.empty()) std::printf("%s\n", line.c_str());
    cases.push_back(std::move(tc));
  }
  double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  std::printf(
      "replayed %zu files: %zu passed, %zu failed, %zu unreadable, %zu "
      "skipped\n",
      replayed + walk_problems.size(), passed, failed, unreadable, skipped);
  if (harness_errors) {
    std::printf("HARNESS ERROR: %zu files could not be checked because amc "
                "itself failed (see ERROR lines): no verdict on them\n",
                harness_errors);
  }
  for (const auto& [name, reason] : not_run) {
    std::printf("  not run on %s: %s\n", name.c_str(), reason.c_str());
  }
  for (const auto& [name, reason] : left_out) {
    std::printf("  %s sat out some files: %s\n", name.c_str(), reason.c_str());
  }
  for (const auto& [name, count] : sat_out_elsewhere) {
    std::printf(
        "  %s could not check %zu files recorded in another environment or "
        "kernel profile (skipped; --verbose lists them)\n",
        name.c_str(), count);
  }
  const bool interrupted = stop.stopped();
  if (interrupted) {
    std::printf(
        "INTERRUPTED (%s): %zu of %zu files replayed before the stop; the "
        "others were not run, so no verdict on them\n",
        stop.signal_name().c_str(), replayed, files.size());
  }
  const int exit_code = unreadable || harness_errors ? kExitUsage
                        : failed                      ? kExitDiverge
                        : interrupted                 ? kExitInterrupted
                                                      : kExitAgree;
  int status = exit_code;
  if (args.Has("junit")) {
    std::string e = WriteTextFile(args.Get("junit"),
                                  JUnitXml("amc replay", cases, seconds));
    if (!e.empty()) {
      std::fprintf(stderr, "amc replay: %s\n", e.c_str());
      status = std::max(status, kExitUsage);
    }
  }
  if (args.Has("json")) {
    JsonList list(false);
    for (size_t i = 0; i < cases.size(); ++i) {
      const TestCaseReport& c = cases[i];
      std::string result = c.error     ? "error"
                           : c.failure ? "fail"
                           : c.skipped ? "skip"
                                       : "pass";
      std::string message = c.error     ? *c.error
                            : c.failure ? *c.failure
                            : c.skipped ? *c.skipped
                                        : "";
      list.Add(JsonList(true)
                   .Str("file", c.name)
                   .Str("result", result)
                   .Str("message", message)
                   .Str("signature", signatures.count(i) ? signatures[i] : "")
                   .Done());
    }
    JsonList unavailable(false);
    for (const auto& [name, reason] : not_run) {
      unavailable.Add(
          JsonList(true).Str("name", name).Str("reason", reason).Done());
    }
    std::string json = JsonList(true)
                           .Str("command", "replay")
                           .Int("files", files.size() + walk_problems.size())
                           .Int("passed", passed)
                           .Int("failed", failed)
                           .Int("unreadable", unreadable)
                           .Int("skipped", skipped)
                           .Int("not_run", files.size() - replayed)
                           .Bool("interrupted", interrupted)
                           .Int("harness_errors", harness_errors)
                           .Num("seconds", seconds)
                           .Raw("unavailable", unavailable.Done())
                           .Raw("results", list.Done())
                           .Int("exit_code", static_cast<uint64_t>(exit_code))
                           .Done();
    std::string e = WriteTextFile(args.Get("json"), json + "\n");
    if (!e.empty()) {
      std::fprintf(stderr, "amc replay: %s\n", e.c_str());
      status = std::max(status, kExitUsage);
    }
  }
  return status;
}

// ---------------------------------------------------------------- record

int RecordCommand(int argc, char** argv) {
  Args args;
  std::string error = args.Parse(
      argc, argv, 2, {{"out"}, {"help", false}, {"allow-unrunnable", false}});
  if (!error.empty()) return UsageError("record", error);
  if (WantsHelp(args, kRecordHelp)) return kExitAgree;
  if (args.positional().empty())
    return UsageError("record", "no .ops file or folder given");
  if (!args.Has("out") || args.Get("out").empty()) {
    return UsageError("record", "--out DIR is required");
  }
  namespace fs = std::filesystem;
  // Input file -> output path (a folder argument keeps the path below it).
  std::vector<std::pair<std::string, fs::path>> jobs;
  std::vector<backends::WalkProblem> walk_problems;
  for (const std::string& p : args.positional()) {
    std::vector<std::string> files;
    if (!backends::CollectOpsFiles({p}, &files, &error, &walk_problems))
      return UsageError("record", error);
    bool folder = fs::is_directory(p);
    for (const auto& f : files) {
      fs::path rel = folder ? fs::relative(f, p) : fs::path(f).filename();
      jobs.emplace_back(f, fs::path(args.Get("out")) / rel);
    }
  }
  // Every entry a folder walk could not take is named, then the command
  // stops before any kernel work.
  for (const auto& problem : walk_problems) {
    std::fprintf(stderr, "amc record: ERROR %s: %s\n", problem.path.c_str(),
                 problem.reason.c_str());
  }
  if (!walk_problems.empty()) {
    std::fprintf(stderr, "amc record: %zu folder entries could not be read; "
                 "nothing recorded\n", walk_problems.size());
    return kExitUsage;
  }
  if (jobs.empty())
    return UsageError("record",
                      "no .ops files under " + Join(args.positional(), ", "));
  std::map<std::string, std::string> dest_of;  // output -> first input
  for (const auto& [file, dest] : jobs) {
    auto [it, fresh] = dest_of.emplace(dest.lexically_normal().string(), file);
    if (!fresh) {
      return UsageError("record", file + " and " + it->second +
                                      " would both be written to " + it->first);
    }
  }
  // Read everything first: a malformed file stops the command before any
  // kernel work.
  std::vector<core::Sequence> sequences;
  for (const auto& [file, dest] : jobs) {
    auto parsed = core::ReadOpsFile(file);
    if (auto* e = std::get_if<core::ParseError>(&parsed)) {
      std::fprintf(stderr, "amc record: %s\n", e->ToString().c_str());
      return kExitUsage;
    }
    sequences.push_back(std::get<core::Sequence>(std::move(parsed)));
  }
  {
    LimitCheck limits = EnsureLimits(1, /*kernel=*/true);
    if (!limits.error.empty()) return UsageError("record", limits.error);
    if (!limits.note.empty()) std::printf("note: %s\n", limits.note.c_str());
  }
  // --out is checked before any work (writable, or creatable), and made
  // only once the kernel can record at all: a refusal leaves nothing behind.
  if (std::string e = CheckOutputFolder(args.Get("out"), /*create=*/false);
      !e.empty()) {
    std::fprintf(stderr, "amc record: --out %s\n", e.c_str());
    return kExitUsage;
  }
  KernelRecorder recorder;
  if (!recorder.unavailable().empty()) {
    std::fprintf(stderr, "amc record: cannot record: %s\n",
                 recorder.unavailable().c_str());
    return kExitUsage;
  }
  if (std::string e = CheckOutputFolder(args.Get("out")); !e.empty()) {
    std::fprintf(stderr, "amc record: --out %s\n", e.c_str());
    return kExitUsage;
  }
  size_t not_recorded = 0, harness_errors = 0;
  StopOnSignals stop;
  for (size_t i = 0; i < jobs.size(); ++i) {
    if (stop.stopped()) {
      std::printf("INTERRUPTED (%s): %zu of %zu files handled before the "
                  "stop; the others were not recorded\n",
                  stop.signal_name().c_str(), i, jobs.size());
      return kExitInterrupted;
    }
    std::string why;
    bool harness_error = false;
    std::optional<core::Sequence> recorded =
        recorder.Record(sequences[i], &why, &harness_error);
    if (!recorded && harness_error) {
      // Never an expectation: the kernel did not answer, amc failed.
      std::fprintf(stderr, "amc record: HARNESS ERROR %s (not recorded): %s\n",
                   jobs[i].first.c_str(), why.c_str());
      ++harness_errors;
      continue;
    }
    if (!recorded) {
      // Nothing is written for it (a refused program load is no kernel
      // answer); the other files are still recorded, and the exit says so.
      std::fprintf(stderr, "amc record: SKIPPED %s (not recorded): %s\n",
                   jobs[i].first.c_str(), why.c_str());
      ++not_recorded;
      continue;
    }
    std::error_code ec;
    fs::create_directories(jobs[i].second.parent_path(), ec);
    std::string e =
        WriteTextFile(jobs[i].second.string(), core::PrintOps(*recorded));
    if (!e.empty()) {
      std::fprintf(stderr, "amc record: %s\n", e.c_str());
      return kExitUsage;
    }
    std::printf("recorded %s -> %s\n", jobs[i].first.c_str(),
                jobs[i].second.c_str());
  }
  std::printf("recorded %zu files on kernel %s\n",
              jobs.size() - not_recorded - harness_errors,
              ReadableKernelRelease().c_str());
  if (harness_errors) {
    std::fprintf(stderr,
                 "amc record: %zu file(s) NOT recorded because amc itself "
                 "failed (HARNESS ERROR, see above): exit 2\n",
                 harness_errors);
  }
  if (not_recorded) {
    std::fprintf(stderr,
                 "amc record: %zu file(s) NOT recorded: they hold ops this "
                 "kernel cannot run, or a map above --kernel-map-limit (see "
                 "above)%s\n",
                 not_recorded,
                 args.Has("allow-unrunnable") ? "; --allow-unrunnable: not an error" : "");
    if (!args.Has("allow-unrunnable")) return kExitUsage;
  }
  return harness_errors ? kExitUsage : kExitAgree;
}

// -------------------------------------------------------------- minimize

int MinimizeCommand(int argc, char** argv) {
  Args args;
  std::string error =
      args.Parse(argc, argv, 2,
                 {{"backends"}, {"out"}, {"max-attempts"}, {"help", false}});
  if (!error.empty()) return UsageError("minimize", error);
  if (WantsHelp(args, kMinimizeHelp)) return kExitAgree;
  if (args.positional().size() != 1) {
    return UsageError("minimize", "needs exactly one .ops FILE");
  }
  std::optional<uint64_t> max_attempts;
  error = args.GetUint("max-attempts", &max_attempts);
  if (!error.empty()) return UsageError("minimize", error);
  const std::string file = args.positional()[0];
  struct stat st;
  if (stat(file.c_str(), &st) != 0) {
    return UsageError("minimize",
                      file + ": " + (errno == ENOENT ? std::string("no such file")
                                                     : std::strerror(errno)));
  }
  // --out is checked before any attempt runs, not after the search.
  if (args.Has("out")) {
    if (std::string e = CheckOutputFile(args.Get("out")); !e.empty()) {
      std::fprintf(stderr, "amc minimize: --out %s\n", e.c_str());
      return kExitUsage;
    }
  }
  auto parsed = core::ReadOpsFile(file);
  if (auto* e = std::get_if<core::ParseError>(&parsed)) {
    std::fprintf(stderr, "amc minimize: %s\n", e->ToString().c_str());
    return kExitUsage;
  }
  core::Sequence seq = std::get<core::Sequence>(std::move(parsed));
  // Without --backends, the file is rerun as its header says (amc run
  // writes the backends and the kernel profile there).
  std::string list = args.Get("backends", "");
  if (!args.Has("backends")) {
    const ReproducerHeader header = ReadReproducerHeader(seq.comments);
    list = header.backends.empty() ? backends::BackendListFromEnvironment()
                                   : header.backends;
    if (!header.backends.empty()) {
      std::fprintf(stderr, "amc minimize: backends from %s's header: %s\n",
                   file.c_str(), list.c_str());
    }
    if (!header.kernel_profile.empty() && !std::getenv("AMC_KERNEL_PROFILE")) {
      if (!core::KernelProfileByName(header.kernel_profile)) {
        return UsageError("minimize", file + ": unknown kernel profile '" +
                                          header.kernel_profile + "' in its header");
      }
      setenv("AMC_KERNEL_PROFILE", header.kernel_profile.c_str(), 1);
      std::fprintf(stderr, "amc minimize: kernel profile from %s's header: %s\n",
                   file.c_str(), header.kernel_profile.c_str());
    }
  }
  backends::Selection selection = backends::SelectBackends(list, seq.env);
  if (!selection.error.empty()) return UsageError("minimize", selection.error);
  if (selection.available.empty()) {
    std::string why;
    for (const auto& [name, reason] : selection.unavailable)
      why += "\n  " + name + ": " + reason;
    return UsageError("minimize",
                      "no selected backend can run " + file + ":" + why);
  }
  std::vector<core::Backend*> backends;
  std::vector<std::string> names;
  for (auto& b : selection.available) {
    backends.push_back(b.get());
    names.push_back(b->Name());
  }
  core::RunOutcome outcome = core::RunDifferential(seq, backends);
  if (outcome.harness_error) {
    std::fprintf(stderr,
                 "amc minimize: HARNESS ERROR (amc itself failed, no verdict "
                 "on %s; nothing minimized): %s\n",
                 file.c_str(), outcome.harness_error->c_str());
    return kExitUsage;
  }
  if (outcome.ok()) {
    std::fprintf(stderr,
                 "amc minimize: %s passes on %s (expectations and agreement); "
                 "nothing to minimize\n",
                 file.c_str(), Join(names, ", ").c_str());
    return kExitAgree;
  }
  const core::Divergence& d = *outcome.divergence;
  // SIGINT / SIGTERM end the search before its next attempt; the smallest
  // failing case found so far is still written (it fails the same way).
  // Installed before the line below, which tells a watcher the search began.
  StopOnSignals stop;
  std::fprintf(stderr, "amc minimize: %s fails: %s\n", file.c_str(),
               FirstDifference(seq, d).c_str());
  core::Sequence minimized;
  size_t attempts = 0;
  std::string how;
  const std::function<bool()> stopped = [&stop] { return stop.stopped(); };
  if (d.kind == core::Divergence::Kind::kExpectation) {
    minimized = MinimizeExpectationFailure(
        seq, outcome, backends, max_attempts ? *max_attempts : 4000, &attempts,
        stopped);
    how = "removing ops (recorded expectations kept)";
  } else {
    gen::MinimizeOptions options;
    if (max_attempts) options.max_attempts = *max_attempts;
    options.stop = stopped;
    gen::MinimizeStats stats;
    // Each attempt from fresh backends (a new plug-in child per attempt).
    const auto same = gen::SameDivergence(backends, seq, d);
    core::Sequence found = gen::Minimize(
        seq,
        [&](const core::Sequence& candidate) {
          core::RestartAll(backends);
          return same(candidate);
        },
        options, &stats);
    core::RestartAll(backends);
    attempts = stats.attempts;
    core::RunOptions run_options;
    run_options.check_expectations = false;
    core::RunOutcome again =
        core::RunDifferential(found, backends, run_options);
    minimized =
        again.divergence ? core::Reproducer(found, *again.divergence) : found;
    minimized.comments = seq.comments;
    how = "delta debugging over ops, spec and values";
  }
  minimized.comments.push_back("minimized by amc minimize from " + file + " (" +
                               std::to_string(seq.steps.size()) + " -> " +
                               std::to_string(minimized.steps.size()) +
                               " ops, " + how + ", " +
                               std::to_string(attempts) +
                               " attempts, backends " + Join(names, ",") +
                               (std::getenv("AMC_KERNEL_PROFILE")
                                    ? std::string(", kernel profile ") +
                                          std::getenv("AMC_KERNEL_PROFILE")
                                    : std::string()) +
                               ")");
  const bool interrupted = stop.stopped();
  if (interrupted) {
    minimized.comments.push_back("minimization stopped by " +
                                 stop.signal_name() +
                                 " (a partial minimization: it still fails)");
  }
  core::RunOutcome check = core::RunDifferential(minimized, backends);
  if (check.divergence) {
    std::fprintf(stderr, "%s", check.divergence->Report(minimized).c_str());
  }
  std::fprintf(stderr, "amc minimize: %zu -> %zu ops in %zu attempts\n",
               seq.steps.size(), minimized.steps.size(), attempts);
  std::string text = core::PrintOps(minimized);
  if (args.Has("out")) {
    std::string e = WriteTextFile(args.Get("out"), text);
    if (!e.empty()) {
      std::fprintf(stderr, "amc minimize: %s\n", e.c_str());
      return kExitUsage;
    }
    std::fprintf(stderr, "amc minimize: wrote %s\n", args.Get("out").c_str());
  } else {
    std::fputs(text.c_str(), stdout);
  }
  if (interrupted) {
    std::fprintf(stderr,
                 "amc minimize: INTERRUPTED (%s): minimization stopped early; "
                 "the case written is the smallest found failing so far\n",
                 stop.signal_name().c_str());
    return kExitInterrupted;
  }
  return kExitDiverge;
}

// ------------------------------------------------------------------ info

// `amc info --backends LIST`: each backend of the list, a plug-in in full.
int DescribeBackends(const std::string& list) {
  backends::Selection selection = backends::SelectBackends(list);
  if (!selection.error.empty()) return UsageError("info", selection.error);
  for (const auto& [name, reason] : selection.unavailable) {
    std::printf("%s: unavailable: %s\n", name.c_str(), reason.c_str());
  }
  for (const auto& [name, reason] : selection.not_applicable) {
    std::printf("%s: left out of runs with these backends: %s\n",
                name.c_str(), reason.c_str());
  }
  for (const auto& b : selection.available) {
    std::printf("%s: available\n", b->Name().c_str());
    if (auto* p = dynamic_cast<plugin::PluginBackend*>(b.get())) {
      std::printf("  implementation: %s\n", p->implementation_name().c_str());
      std::printf("  plug-in ABI version: %u (this amc loads %u to %u)\n",
                  p->abi_version(), AMC_PLUGIN_ABI_VERSION_MIN,
                  AMC_PLUGIN_ABI_VERSION);
      std::printf("  targets: %s\n",
                  p->target_release().empty()
                      ? "the release amc runs on (no target_release)"
                      : ("Linux " + p->target_release()).c_str());
    }
    core::Environment env = b->Env();
    auto profile = core::SelectKernelProfile(env.kernel_release);
    std::printf("  answers as: Linux %s, kernel profile %s\n",
                env.kernel_release.empty() ? "(newest)" : env.kernel_release.c_str(),
                profile ? profile->name.c_str() : "?");
    std::printf("  op kinds left out:");
    bool any = false;
    for (size_t k = 0; k < core::kOpKindCount; ++k) {
      auto kind = static_cast<core::OpKind>(k);
      if (b->Supports(kind)) continue;
      std::string why = b->UnsupportedReason(kind);
      std::printf("\n    %s: %s", core::OpKindName(kind),
                  why.empty() ? "(no reason given)" : why.c_str());
      any = true;
    }
    std::printf("%s\n", any ? "" : " none");
    any = false;
    std::printf("  maps left out:");
    const auto maps = backends::UnsupportedMaps(*b);
    for (const backends::UnsupportedMap& m : maps) {
      std::printf("\n    %s", m.reason.c_str());
    }
    any = !maps.empty();
    std::printf("%s\n", any ? "" : " none");
  }
  return kExitAgree;
}

int InfoCommand(int argc, char** argv) {
  Args args;
  std::string error =
      args.Parse(argc, argv, 2, {{"backends"}, {"help", false}});
  if (!error.empty()) return UsageError("info", error);
  if (WantsHelp(args, kInfoHelp)) return kExitAgree;
  if (args.Has("backends")) return DescribeBackends(args.Get("backends"));
  if (!args.positional().empty()) {
    return UsageError("info",
                      "unexpected argument '" + args.positional()[0] + "'");
  }
  core::Environment env = core::HostEnvironment();
  std::printf("kernel release: %s\n", ReadableKernelRelease().c_str());
  std::printf("privileges: uid %u, %s\n", static_cast<unsigned>(geteuid()),
              ReadPrivileges().Describe().c_str());
  std::printf("possible CPUs: %u (/sys/devices/system/cpu/possible: %s)\n",
              env.possible_cpus,
              ReadFirstLine("/sys/devices/system/cpu/possible").c_str());
  std::printf("page size: %u\n", env.page_size);
  if (auto profile = core::SelectKernelProfile(env.kernel_release)) {
    std::printf("kernel profile: %s%s\n", profile->name.c_str(),
                std::getenv("AMC_KERNEL_PROFILE")
                    ? " (chosen with --kernel-profile)"
                    : " (from the release)");
  }
  {
    std::string names;
    for (const auto& p : core::AllKernelProfiles()) {
      names += (names.empty() ? "" : ", ") + p.name;
    }
    std::printf("kernel profiles known: %s\n", names.c_str());
  }
  std::printf("backends:\n");
  std::vector<std::vector<std::string>> rows;
  // backend -> (reason -> kinds), for the op kinds an available backend
  // cannot run here.
  std::vector<std::pair<std::string, std::map<std::string, std::string>>> gaps;
  for (const auto& entry : backends::AllBackends()) {
    auto backend = entry.make(std::nullopt);
    core::Availability a = backend->Probe();
    std::string state = a.available ? "available" : "unavailable: " + a.reason;
    if (!entry.in_default_set) state += " (runs only when named)";
    rows.push_back({entry.name, state, entry.description});
    if (!a.available || !entry.in_default_set) continue;
    std::map<std::string, std::string> by_reason;
    for (size_t k = 0; k < core::kOpKindCount; ++k) {
      auto kind = static_cast<core::OpKind>(k);
      if (backend->Supports(kind)) continue;
      std::string& kinds = by_reason[backend->UnsupportedReason(kind)];
      kinds += (kinds.empty() ? "" : ", ") + std::string(core::OpKindName(kind));
    }
    if (!by_reason.empty()) gaps.emplace_back(entry.name, by_reason);
  }
  std::printf("%s", FormatTable(rows).c_str());
  std::printf("op kinds unavailable:%s\n", gaps.empty() ? " none" : "");
  for (const auto& [name, by_reason] : gaps) {
    for (const auto& [reason, kinds] : by_reason) {
      std::printf("  %s cannot run %s: %s\n", name.c_str(), kinds.c_str(),
                  reason.empty() ? "(no reason given)" : reason.c_str());
    }
  }
  std::printf("kernel features (probed with bpf() calls):\n");
  rows.clear();
  for (const Feature& f : ProbeKernelFeatures()) {
    rows.push_back({f.name, FeatureStateName(f.state), f.detail});
  }
  std::printf("%s", FormatTable(rows).c_str());
  return kExitAgree;
}

// ------------------------------------------------------------------ main

// Takes `--kernel-profile NAME` (or `=NAME`) out of argv, checks the name and
// hands it to every backend through AMC_KERNEL_PROFILE. Returns "" or an error.
std::string TakeKernelProfile(int& argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    std::string value;
    int used = 0;
    if (arg == "--kernel-profile") {
      if (i + 1 >= argc) return "--kernel-profile needs a profile name";
      value = argv[i + 1];
      used = 2;
    } else if (arg.rfind("--kernel-profile=", 0) == 0) {
      value = arg.substr(std::string("--kernel-profile=").size());
      used = 1;
    } else {
      continue;
    }
    if (!core::KernelProfileByName(value)) {
      std::string names;
      for (const auto& p : core::AllKernelProfiles()) {
        names += (names.empty() ? "" : ", ") + p.name;
      }
      return "unknown kernel profile '" + value + "' (known: " + names + ")";
    }
    setenv("AMC_KERNEL_PROFILE", value.c_str(), 1);
    for (int j = i; j + used < argc; ++j) argv[j] = argv[j + used];
    argc -= used;
    --i;
  }
  std::string error;
  if (!core::SelectKernelProfile("", &error))
    return error;  // a bad AMC_KERNEL_PROFILE
  return "";
}

// Takes `--kernel-map-limit BYTES` (or `=BYTES`) out of argv, checks it and
// passes it to every kernel backend through AMC_KERNEL_MAP_LIMIT.
std::string TakeKernelMapLimit(int& argc, char** argv) {
  const std::string flag = "--kernel-map-limit";
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    std::string value;
    int used = 0;
    if (arg == flag) {
      if (i + 1 >= argc) return flag + " needs a number of bytes";
      value = argv[i + 1];
      used = 2;
    } else if (arg.rfind(flag + "=", 0) == 0) {
      value = arg.substr(flag.size() + 1);
      used = 1;
    } else {
      continue;
    }
    setenv("AMC_KERNEL_MAP_LIMIT", value.c_str(), 1);
    for (int j = i; j + used < argc; ++j) argv[j] = argv[j + used];
    argc -= used;
    --i;
  }
  std::string error;
  if (!KernelMapLimitValid(&error)) return error;
  return "";
}

int Main(int argc, char** argv) {
  if (std::string error = TakeKernelProfile(argc, argv); !error.empty()) {
    std::fprintf(stderr, "amc: %s\n", error.c_str());
    return kExitUsage;
  }
  if (std::string error = TakeKernelMapLimit(argc, argv); !error.empty()) {
    std::fprintf(stderr, "amc: %s\n", error.c_str());
    return kExitUsage;
  }
  if (argc < 2 || std::string(argv[1]) == "--help" ||
      std::string(argv[1]) == "help" || std::string(argv[1]) == "-h") {
    std::fputs(kMainHelp, argc < 2 ? stderr : stdout);
    return argc < 2 ? kExitUsage : kExitAgree;
  }
  const std::string command = argv[1];
  if (command == "--version" || command == "version") {
    std::fputs(VersionText().c_str(), stdout);
    return kExitAgree;
  }
  if (command == "run") return RunCommand(argc, argv);
  if (command == "replay") return ReplayCommand(argc, argv);
  if (command == "record") return RecordCommand(argc, argv);
  if (command == "minimize") return MinimizeCommand(argc, argv);
  if (command == "info") return InfoCommand(argc, argv);
  if (command == "conform") return ConformCommand(argc, argv);
  std::fprintf(stderr, "amc: unknown command '%s'\n\n%s", command.c_str(),
               kMainHelp);
  return kExitUsage;
}

}  // namespace amc::cli
