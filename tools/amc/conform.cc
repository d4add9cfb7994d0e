// tools/amc/conform.cc: `amc conform`, the compliance report of one
// implementation: every conformance case and regression case is a rule, and
// each rule PASSes, FAILs (with the first differing op) or is SKIPPED (with
// the reason) for the implementation under test; the score counts them.
#include "tools/amc/conform.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <regex>

#include "backends/replay.h"
#include "core/kernel_profile.h"
#include "tools/amc/args.h"
#include "tools/amc/cli_util.h"
#include "tools/amc/commands.h"
#include "tools/amc/report.h"

namespace amc::cli {
namespace {

namespace fs = std::filesystem;

constexpr char kConformHelp[] = R"(usage: amc conform --backends REFERENCE,SUBJECT [PATH...] [options]

The compliance report of one implementation (the SUBJECT, e.g.
plugin:/path/libx.so) against the REFERENCE (model, or model,kernel: every
backend but the last is a reference). Every .ops file is a rule: its leading
comment says what it checks, and the spec section it cites. Each rule is

  PASS  the subject ran the case and met every recorded expectation, in
        agreement with the references;
  FAIL  it did not (the first differing op is named);
  SKIP  the subject could not run the case: an op kind, map type or map flag
        it declares unsupported, or a case recorded in another environment
        or for another kernel profile than the one it targets (the reason
        is named). A SKIP is never a pass;
  ERROR the case could not be read or the harness failed (exit 2).

Without PATHs the rules are the conformance cases, the cases recorded in
other geometries, and the regression inputs as recorded on the newest Debian
kernel series of the subject's kernel profile (corpus/releases/SERIES; the
host-recorded corpus/regressions where no series has that profile), found
under the data folder: $AMC_DATA_DIR, else share/amc beside the folder of
the amc executable (BIN/../share/amc, where `cmake --install`, the Debian
package and the release bundle put them), else, for an amc run from its own
build tree only, the source tree.

Prints the score ("N of M rules pass, K skipped, F fail") and every FAIL and
SKIP line.

options:
  --backends LIST   the references and then the subject (required unless
                    $AMC_BACKENDS is set)
  --markdown FILE   the per-rule table for people
  --json FILE       the same for tools
  --junit FILE      JUnit XML, one test case per rule under a stable name
  --help            this text

exit status: 0 no rule failed (some may be skipped), 1 a rule failed, 2 bad
usage, an unreadable case or a harness error
)";

// The newest series folder under corpus/releases whose release has
// `profile` (the series are named by release: "6.18", "7.3").
std::string NewestSeriesOfProfile(const fs::path& releases,
                                  const core::KernelProfile& profile) {
  std::string best;
  int best_version = -1;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(releases, ec)) {
    if (!entry.is_directory(ec)) continue;
    std::string series = entry.path().filename().string();
    int version = core::ReleaseVersion(series);
    if (version < 0 || !(core::KernelProfileForRelease(series) == profile)) continue;
    if (version > best_version) {
      best_version = version;
      best = entry.path().string();
    }
  }
  return best;
}

struct Rule {
  std::string name;     // the file's path under the data folder, no .ops
  std::string file;
  std::string text;     // what it checks (its leading comment)
  std::string section;  // "3" for "spec section 3", or ""
  std::string verdict;  // PASS FAIL SKIP ERROR
  std::string detail;   // the first difference, the skip reason, the error
};

std::string Strip(std::string s) {
  size_t a = s.find_first_not_of("# \t");
  if (a == std::string::npos) return "";
  size_t b = s.find_last_not_of(" \t\r");
  return s.substr(a, b - a + 1);
}

// What the case checks: its comment lines up to the provenance ones.
std::string RuleText(const core::Sequence& seq) {
  std::string text;
  for (const std::string& raw : seq.comments) {
    std::string line = Strip(raw);
    if (line.rfind("recorded on", 0) == 0 || line.rfind("from ", 0) == 0 ||
        line.rfind("minimized", 0) == 0) {
      break;
    }
    text += (text.empty() ? "" : " ") + line;
  }
  if (text.size() > 300) text = text.substr(0, 297) + "...";
  return text;
}

std::string Section(const std::string& text) {
  static const std::regex kSection("spec section ([0-9]+)");
  std::smatch m;
  return std::regex_search(text, m, kSection) ? m[1].str() : "";
}

std::string MarkdownCell(std::string s) {
  std::string out;
  for (char c : s) {
    if (c == '|') out += "\\|";
    else if (c == '\n') out += " ";
    else out += c;
  }
  return out;
}

}  // namespace

std::string DataDir() {
  if (const char* dir = std::getenv("AMC_DATA_DIR"); dir && *dir) return dir;
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (ec) return AMC_SOURCE_DIR;  // no /proc: the build's own layout
  const fs::path installed = exe.parent_path().parent_path() / "share" / "amc";
  if (fs::is_directory(installed / "conformance", ec)) return installed.string();
  // The source tree only for the executable this build tree made: an amc
  // installed or unpacked elsewhere never reads the checkout it was built
  // from (which may be gone, or newer than the binary).
  const fs::path build = fs::weakly_canonical(AMC_BINARY_DIR, ec);
  const fs::path rel = exe.lexically_relative(build);
  if (!ec && !rel.empty() && rel.begin()->string() != "..") return AMC_SOURCE_DIR;
  return installed.string();
}

int ConformCommand(int argc, char** argv) {
  Args args;
  std::string error = args.Parse(
      argc, argv, 2,
      {{"backends"}, {"markdown"}, {"json"}, {"junit"}, {"help", false}});
  if (!error.empty()) return UsageError("conform", error);
  if (args.Has("help")) {
    std::fputs(kConformHelp, stdout);
    return kExitAgree;
  }
  const std::string list =
      args.Get("backends", backends::BackendListFromEnvironment());
  if (list.empty() || list.find(',') == std::string::npos) {
    return UsageError("conform",
                      "name a reference and the implementation under test: "
                      "--backends model,plugin:/path/libx.so");
  }
  backends::Selection selection = backends::SelectBackends(list);
  if (!selection.error.empty()) return UsageError("conform", selection.error);
  // Every listed backend must run: a reference or a subject that cannot is
  // a usage error, never a report of nothing.
  for (const auto& [name, reason] : selection.unavailable) {
    std::fprintf(stderr, "amc conform: %s cannot run here: %s\n", name.c_str(),
                 reason.c_str());
  }
  for (const auto& [name, reason] : selection.not_applicable) {
    std::fprintf(stderr, "amc conform: %s cannot be checked with the others: %s\n",
                 name.c_str(), reason.c_str());
  }
  if (!selection.unavailable.empty() || !selection.not_applicable.empty()) {
    return kExitUsage;
  }
  // The subject is the last backend of the list, under its report name.
  std::vector<std::string> names;  // references, then the subject
  for (const auto& b : selection.available) names.push_back(b->Name());
  const std::string subject = names.back();
  const core::Environment subject_env = selection.available.back()->Env();

  std::vector<std::string> paths = args.positional();
  const std::string data = DataDir();
  std::vector<std::string> roots;  // for rule names
  if (paths.empty()) {
    auto profile = core::SelectKernelProfile(subject_env.kernel_release);
    for (const char* sub : {"conformance/cases", "corpus/geometries"}) {
      fs::path p = fs::path(data) / sub;
      if (fs::is_directory(p)) paths.push_back(p.string());
    }
    // The regression inputs as recorded on the newest Debian series of the
    // subject's profile (corpus/releases/<series>); where no series has that
    // profile, as recorded on the machine that made them (corpus/regressions,
    // which then skips what the profile does not share).
    std::string series;
    if (profile) {
      series = NewestSeriesOfProfile(fs::path(data) / "corpus" / "releases", *profile);
    }
    fs::path regressions = fs::path(data) / "corpus" / "regressions";
    if (!series.empty()) {
      paths.push_back(series);
    } else if (fs::is_directory(regressions)) {
      paths.push_back(regressions.string());
    }
    if (paths.empty()) {
      return UsageError("conform", "no conformance cases under " + data +
                                       " (set AMC_DATA_DIR or give PATHs)");
    }
  }
  std::vector<std::string> files;
  if (!backends::CollectOpsFiles(paths, &files, &error)) {
    return UsageError("conform", error);
  }

  backends::Replayer replayer(list);
  std::vector<Rule> rules;
  std::map<std::string, size_t> counts;
  auto start = std::chrono::steady_clock::now();
  std::vector<TestCaseReport> cases;
  for (const std::string& file : files) {
    auto t0 = std::chrono::steady_clock::now();
    backends::ReplayOutcome out = replayer.ReplayFile(file);
    Rule rule;
    rule.file = file;
    std::string rel = fs::path(file).lexically_relative(data).string();
    if (rel.empty() || rel.rfind("..", 0) == 0) rel = file;
    rule.name = rel.size() > 4 ? rel.substr(0, rel.size() - 4) : rel;
    if (out.sequence) {
      rule.text = RuleText(*out.sequence);
      rule.section = Section(rule.text);
    }
    std::string subject_skip;
    for (const auto& [name, reason] : out.run.left_out) {
      if (name == subject) subject_skip = name + " " + reason;
    }
    for (const auto& [name, reason] : out.not_applicable) {
      if (name == subject) subject_skip = name + ": " + reason;
    }
    if (out.parse_error) {
      rule.verdict = "ERROR";
      rule.detail = out.parse_error->ToString();
    } else if (!out.required_missing.empty()) {
      rule.verdict = "ERROR";
      rule.detail = out.required_missing;
    } else if (!out.run.ok()) {
      rule.verdict = "FAIL";
      rule.detail = out.run.divergence->Summary(*out.sequence);
    } else if (!subject_skip.empty()) {
      rule.verdict = "SKIP";
      rule.detail = subject_skip;
    } else if (std::find(out.backends_run.begin(), out.backends_run.end(),
                         subject) == out.backends_run.end()) {
      rule.verdict = "SKIP";
      rule.detail = subject + " did not run it";
    } else if (out.backends_run.size() < 2) {
      rule.verdict = "SKIP";
      rule.detail = "no reference could check it: " + out.SkipReason();
    } else {
      rule.verdict = "PASS";
    }
    ++counts[rule.verdict];
    if (rule.verdict != "PASS") {
      std::printf("%-5s %s: %s\n", rule.verdict.c_str(), rule.name.c_str(),
                  rule.detail.c_str());
    }
    TestCaseReport tc;
    tc.classname = "amc.conform";
    tc.name = rule.name;
    tc.seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (rule.verdict == "FAIL") {
      tc.failure = rule.detail;
      tc.failure_text = out.run.divergence->Report(*out.sequence);
    } else if (rule.verdict == "SKIP") {
      tc.skipped = rule.detail;
    } else if (rule.verdict == "ERROR") {
      tc.error = rule.detail;
    }
    cases.push_back(std::move(tc));
    rules.push_back(std::move(rule));
  }
  double seconds = std::chrono::duration<double>(
                       std::chrono::steady_clock::now() - start).count();
  const size_t total = rules.size();
  auto profile = core::SelectKernelProfile(subject_env.kernel_release);
  const std::string references =
      Join(std::vector<std::string>(names.begin(), names.end() - 1), ",");
  char score[200];
  std::snprintf(score, sizeof score,
                "%zu of %zu rules pass, %zu skipped, %zu fail%s", counts["PASS"],
                total, counts["SKIP"], counts["FAIL"],
                counts["ERROR"] ? (", " + std::to_string(counts["ERROR"]) +
                                   " could not be checked")
                                      .c_str()
                                : "");
  std::printf("%s (kernel profile %s; references: %s): %s\n", subject.c_str(),
              profile ? profile->name.c_str() : "?", references.c_str(), score);

  int status = counts["ERROR"] ? kExitUsage : counts["FAIL"] ? kExitDiverge : kExitAgree;
  auto write = [&](const std::string& option, const std::string& text) {
    if (!args.Has(option)) return;
    std::string e = WriteTextFile(args.Get(option), text);
    if (!e.empty()) {
      std::fprintf(stderr, "amc conform: %s\n", e.c_str());
      status = std::max(status, kExitUsage);
    }
  };
  {
    std::string md = "# amc compliance report: " + subject + "\n\n";
    md += "- kernel profile: " + (profile ? profile->name : std::string("?")) +
          (subject_env.kernel_release.empty()
               ? ""
               : " (answers as Linux " + subject_env.kernel_release + ")") +
          "\n";
    md += "- references: " + references + "\n";
    md += "- **score: " + std::string(score) + "**\n\n";
    md += "| rule | spec | verdict | what it checks | detail |\n";
    md += "|---|---|---|---|---|\n";
    for (const Rule& r : rules) {
      md += "| " + MarkdownCell(r.name) + " | " +
            (r.section.empty() ? "" : "§" + r.section) + " | " + r.verdict +
            " | " + MarkdownCell(r.text) + " | " + MarkdownCell(r.detail) +
            " |\n";
    }
    write("markdown", md);
  }
  {
    JsonList list_json(false);
    for (const Rule& r : rules) {
      list_json.Add(JsonList(true)
                        .Str("name", r.name)
                        .Str("file", r.file)
                        .Str("rule", r.text)
                        .Str("spec_section", r.section)
                        .Str("verdict", r.verdict)
                        .Str("detail", r.detail)
                        .Done());
    }
    write("json", JsonList(true)
                      .Str("subject", subject)
                      .Str("references", references)
                      .Str("kernel_profile", profile ? profile->name : "")
                      .Raw("score", JsonList(true)
                                        .Int("pass", counts["PASS"])
                                        .Int("fail", counts["FAIL"])
                                        .Int("skip", counts["SKIP"])
                                        .Int("error", counts["ERROR"])
                                        .Int("rules", total)
                                        .Done())
                      .Raw("rules", list_json.Done())
                      .Done() +
                      "\n");
  }
  write("junit", JUnitXml("amc conform " + subject, cases, seconds));
  return status;
}

}  // namespace amc::cli
