// tools/amc/run_report.h: the JUnit report of an `amc run` campaign, made
// for CI viewers: one test case per divergence signature (named by the
// signature alone: no seed, count or index, so the same bug keeps its name
// from run to run), one passing case for the campaign when nothing
// diverged, a skipped case per op kind left out (with the reason), and the
// run's seed, backends, kernel release and profile and amc version as
// <properties>.
//
// Invariant: the file's size grows with the number of distinct signatures
// and left-out kinds, never with the number of sequences or divergences.
#ifndef AMC_TOOLS_AMC_RUN_REPORT_H_
#define AMC_TOOLS_AMC_RUN_REPORT_H_

#include <string>
#include <utility>
#include <vector>

#include "tools/amc/campaign.h"
#include "tools/amc/report.h"

namespace amc::cli {

// The test cases of a finished campaign (`interrupted`: stopped by a signal
// before its budget).
std::vector<TestCaseReport> RunJUnitCases(const CampaignPlan& plan,
                                          const CampaignResult& result,
                                          bool interrupted);

// The <properties> of a run: seed, backends, kernel_release,
// kernel_profile, amc_version.
std::vector<std::pair<std::string, std::string>> RunJUnitProperties(
    const CampaignOptions& options, const std::string& backends);

// This build's version and the git revision of its sources ("0.1.0
// (v0.1.0-12-gabc1234)"; "unknown" outside a git checkout), as of its build.
const char* AmcVersion();
// What `amc --version` prints: the version, the git revision of the sources
// and the plug-in ABI versions this amc loads, one per line.
std::string VersionText();

}  // namespace amc::cli

#endif  // AMC_TOOLS_AMC_RUN_REPORT_H_
