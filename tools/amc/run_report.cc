// tools/amc/run_report.cc: test cases and properties of a run's JUnit.
#include "tools/amc/run_report.h"

#include "core/kernel_profile.h"
#include "core/map_spec.h"

#include "amc_version.h"  // generated: cmake/write_version.cmake
#include "plugin/amc_plugin.h"

namespace amc::cli {

const char* AmcVersion() {
  return AMC_VERSION_NUMBER " (" AMC_GIT_REVISION ")";
}

std::string VersionText() {
  return std::string("amc ") + AMC_VERSION_NUMBER + "\ngit revision: " +
         AMC_GIT_REVISION + "\nplug-in ABI version: " +
         std::to_string(AMC_PLUGIN_ABI_VERSION) + " (loads plug-ins of " +
         std::to_string(AMC_PLUGIN_ABI_VERSION_MIN) + " to " +
         std::to_string(AMC_PLUGIN_ABI_VERSION) + ")\n";
}

std::vector<TestCaseReport> RunJUnitCases(const CampaignPlan& plan,
                                          const CampaignResult& result,
                                          bool interrupted) {
  std::vector<TestCaseReport> cases;
  const std::string classname = "amc.run";
  if (result.divergent_sequences == 0) {
    TestCaseReport r;
    r.classname = classname;
    r.name = "every backend agrees on every sequence";
    r.seconds = result.elapsed;
    if (result.sequences == 0) {
      r.error = "no sequence was checked";
    } else if (interrupted) {
      r.skipped = "interrupted before the budget was spent (" +
                  std::to_string(result.sequences) +
                  " sequences agreed): no verdict";
    }
    cases.push_back(std::move(r));
  }
  for (const SignatureGroup& g : result.signatures) {
    TestCaseReport r;
    r.classname = classname;
    r.name = g.signature;
    r.failure = g.signature;
    std::string& text = r.failure_text;
    text = std::to_string(g.sequences) + " sequence" +
           (g.sequences == 1 ? "" : "s") + " diverged this way; the first: " +
           "sequence " + std::to_string(g.first_index) + ": " + g.summary + "\n";
    for (const std::string& file : g.files) text += "reproducer: " + file + "\n";
    if (!g.note.empty()) text += g.note + "\n";
    text += g.report;
    cases.push_back(std::move(r));
  }
  for (const auto& [kind, reason] : plan.left_out_kinds) {
    TestCaseReport r;
    r.classname = classname + ".op_kinds";
    r.name = kind;
    r.skipped = "op kind " + kind + " left out: " + reason;
    cases.push_back(std::move(r));
  }
  return cases;
}

std::vector<std::pair<std::string, std::string>> RunJUnitProperties(
    const CampaignOptions& options, const std::string& backends) {
  const std::string release = core::HostEnvironment().kernel_release;
  std::string profile = options.kernel_profile;
  if (profile.empty()) {
    if (auto p = core::SelectKernelProfile(release)) profile = p->name;
  }
  return {{"seed", std::to_string(options.seed)},
          {"backends", backends},
          {"kernel_release", release},
          {"kernel_profile", profile},
          {"amc_version", AmcVersion()}};
}

}  // namespace amc::cli
