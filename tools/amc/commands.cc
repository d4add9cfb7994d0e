// tools/amc/commands.cc: `amc replay`, `amc record`, `amc minimize`,
// `amc info` and the top-level dispatch (`amc run` is in run_command.cc).
#include "tools/amc/commands.h"

#include <sys/utsname.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
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
#include "tools/amc/args.h"
#include "tools/amc/cli_util.h"
#include "tools/amc/expect_minimize.h"
#include "tools/amc/record.h"
#include "tools/amc/report.h"
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
  info       kernel, privileges, CPUs, page size, backends, kernel features

`amc COMMAND --help` describes each. Exit status: 0 all agree, 1 a divergence
or failed expectation, 2 bad usage or unreadable input.

Every command also takes --kernel-profile NAME: the model (and the impl) then
answer as that kernel profile (`amc info` lists them: 6.1, 6.2-6.4, ..., 7.2+),
or as the profile of a release given instead of a name (--kernel-profile 7.1),
instead of the one of the running kernel's release or a case's recorded release.
)";

constexpr char kReplayHelp[] = R"(usage: amc replay [options] PATH...

Replays .ops files (folders: every *.ops below them) on the selected backends.
A file's recorded expectations are checked on every backend, and the backends
must agree with each other. Prints one line per failing file with the first
differing op, then counts.

options:
  --backends LIST   comma-separated backends (default: $AMC_BACKENDS if set,
                    else every available one)
  --junit FILE      JUnit XML, one test case per file
  --json FILE       JSON summary
  --verbose         also print a line per passing file
  --help            this text

exit status: 0 all passed, 1 a file failed, 2 bad usage, a missing path or a
malformed file (named with its line)
)";

constexpr char kRecordHelp[] = R"(usage: amc record [options] PATH... --out DIR

Runs each .ops file (folders: every *.ops below them) on the real kernel and
writes it to DIR with the kernel's results as expectations and the kernel's
environment (possible CPUs, page size, release) as its env line. Needs the
kernel backend: root, or CAP_BPF (see `amc info`).

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

exit status: 0 recorded, 2 bad usage, unreadable input, no kernel access, or
a file not recorded
)";

constexpr char kMinimizeHelp[] = R"(usage: amc minimize [options] FILE

Shrinks a failing .ops case. A disagreement between backends is minimized by
delta debugging over the ops and then over the spec and the values (fewer ops,
smaller max_entries and value_size, simpler values); a failed recorded
expectation by removing ops only, each keeping its recorded result.

options:
  --backends LIST      backends to run (default: $AMC_BACKENDS if set, else
                       every available one)
  --out FILE           write the minimized case here (default: stdout)
  --max-attempts N     runs of the case at most (default 4000)
  --help               this text

exit status: 1 the case fails (minimized case written), 0 it does not fail
(nothing to minimize), 2 bad usage or unreadable input
)";

constexpr char kInfoHelp[] = R"(usage: amc info

Prints the kernel release, this process's BPF privileges, possible CPUs, page
size, each backend's availability (with the reason when it cannot run), and
which array-map features the running kernel has, probed with real bpf() calls.

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
  if (args.positional().empty())
    return UsageError("replay", "no .ops file or folder given");
  std::vector<std::string> files;
  if (!backends::CollectOpsFiles(args.positional(), &files, &error)) {
    return UsageError("replay", error);
  }
  if (files.empty()) {
    return UsageError("replay",
                      "no .ops files under " + Join(args.positional(), ", "));
  }
  backends::Replayer replayer(
      args.Get("backends", backends::BackendListFromEnvironment()));
  error = replayer.SelectionError();
  if (!error.empty()) return UsageError("replay", error);

  size_t passed = 0, failed = 0, unreadable = 0, skipped = 0;
  std::map<std::string, std::string> not_run;  // backend -> reason (first seen)
  std::map<std::string, std::string> left_out;
  std::vector<TestCaseReport> cases;
  Clock::time_point start = Clock::now();
  for (const std::string& file : files) {
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
    std::string line;
    if (out.parse_error) {
      ++unreadable;
      line = "ERROR " + out.parse_error->ToString();
      tc.error = out.parse_error->ToString();
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
    } else if (out.skipped()) {
      // A selected backend could not run some op kind of the file: not a
      // pass for it, whatever the others did.
      ++skipped;
      std::string why;
      for (const auto& [name, reason] : out.run.left_out) {
        why += (why.empty() ? "" : "; ") + name + " " + reason;
      }
      std::string ran = out.backends_run.empty()
                            ? std::string("nothing else ran")
                            : "checked on " + Join(out.backends_run, ", ");
      line = "SKIP " + file + ": " + why + " (" + ran + ")";
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
      files.size(), passed, failed, unreadable, skipped);
  for (const auto& [name, reason] : not_run) {
    std::printf("  not run on %s: %s\n", name.c_str(), reason.c_str());
  }
  for (const auto& [name, reason] : left_out) {
    std::printf("  %s sat out some files: %s\n", name.c_str(), reason.c_str());
  }
  const int exit_code = unreadable ? kExitUsage
                        : failed   ? kExitDiverge
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
    for (const auto& c : cases) {
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
                   .Done());
    }
    JsonList unavailable(false);
    for (const auto& [name, reason] : not_run) {
      unavailable.Add(
          JsonList(true).Str("name", name).Str("reason", reason).Done());
    }
    std::string json = JsonList(true)
                           .Str("command", "replay")
                           .Int("files", files.size())
                           .Int("passed", passed)
                           .Int("failed", failed)
                           .Int("unreadable", unreadable)
                           .Int("skipped", skipped)
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
  for (const std::string& p : args.positional()) {
    std::vector<std::string> files;
    if (!backends::CollectOpsFiles({p}, &files, &error))
      return UsageError("record", error);
    bool folder = fs::is_directory(p);
    for (const auto& f : files) {
      fs::path rel = folder ? fs::relative(f, p) : fs::path(f).filename();
      jobs.emplace_back(f, fs::path(args.Get("out")) / rel);
    }
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
  KernelRecorder recorder;
  if (!recorder.unavailable().empty()) {
    std::fprintf(stderr, "amc record: cannot record: %s\n",
                 recorder.unavailable().c_str());
    return kExitUsage;
  }
  size_t not_recorded = 0;
  for (size_t i = 0; i < jobs.size(); ++i) {
    std::string why;
    std::optional<core::Sequence> recorded =
        recorder.Record(sequences[i], &why);
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
  std::printf("recorded %zu files on kernel %s\n", jobs.size() - not_recorded,
              ReadableKernelRelease().c_str());
  if (not_recorded) {
    std::fprintf(stderr,
                 "amc record: %zu file(s) NOT recorded: they hold ops this "
                 "kernel cannot run (see above)%s\n",
                 not_recorded,
                 args.Has("allow-unrunnable") ? "; --allow-unrunnable: not an error" : "");
    if (!args.Has("allow-unrunnable")) return kExitUsage;
  }
  return kExitAgree;
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
  if (!std::filesystem::exists(file))
    return UsageError("minimize", file + ": no such file");
  auto parsed = core::ReadOpsFile(file);
  if (auto* e = std::get_if<core::ParseError>(&parsed)) {
    std::fprintf(stderr, "amc minimize: %s\n", e->ToString().c_str());
    return kExitUsage;
  }
  core::Sequence seq = std::get<core::Sequence>(std::move(parsed));
  backends::Selection selection = backends::SelectBackends(
      args.Get("backends", backends::BackendListFromEnvironment()), seq.env);
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
  if (outcome.ok()) {
    std::fprintf(stderr,
                 "amc minimize: %s passes on %s (expectations and agreement); "
                 "nothing to minimize\n",
                 file.c_str(), Join(names, ", ").c_str());
    return kExitAgree;
  }
  const core::Divergence& d = *outcome.divergence;
  std::fprintf(stderr, "amc minimize: %s fails: %s\n", file.c_str(),
               FirstDifference(seq, d).c_str());
  core::Sequence minimized;
  size_t attempts = 0;
  std::string how;
  if (d.kind == core::Divergence::Kind::kExpectation) {
    minimized = MinimizeExpectationFailure(
        seq, outcome, backends, max_attempts ? *max_attempts : 4000, &attempts);
    how = "removing ops (recorded expectations kept)";
  } else {
    gen::MinimizeOptions options;
    if (max_attempts) options.max_attempts = *max_attempts;
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
                               " attempts, backends " + Join(names, ",") + ")");
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
  return kExitDiverge;
}

// ------------------------------------------------------------------ info

int InfoCommand(int argc, char** argv) {
  Args args;
  std::string error = args.Parse(argc, argv, 2, {{"help", false}});
  if (!error.empty()) return UsageError("info", error);
  if (WantsHelp(args, kInfoHelp)) return kExitAgree;
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

int Main(int argc, char** argv) {
  if (std::string error = TakeKernelProfile(argc, argv); !error.empty()) {
    std::fprintf(stderr, "amc: %s\n", error.c_str());
    return kExitUsage;
  }
  if (argc < 2 || std::string(argv[1]) == "--help" ||
      std::string(argv[1]) == "help" || std::string(argv[1]) == "-h") {
    std::fputs(kMainHelp, argc < 2 ? stderr : stdout);
    return argc < 2 ? kExitUsage : kExitAgree;
  }
  const std::string command = argv[1];
  if (command == "run") return RunCommand(argc, argv);
  if (command == "replay") return ReplayCommand(argc, argv);
  if (command == "record") return RecordCommand(argc, argv);
  if (command == "minimize") return MinimizeCommand(argc, argv);
  if (command == "info") return InfoCommand(argc, argv);
  std::fprintf(stderr, "amc: unknown command '%s'\n\n%s", command.c_str(),
               kMainHelp);
  return kExitUsage;
}

}  // namespace amc::cli
