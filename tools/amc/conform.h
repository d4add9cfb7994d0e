// tools/amc/conform.h: `amc conform`, the per-rule compliance report of one
// implementation (see kConformHelp in conform.cc).
#ifndef AMC_TOOLS_AMC_CONFORM_H_
#define AMC_TOOLS_AMC_CONFORM_H_

#include <string>

namespace amc::cli {

// The folder holding conformance/cases and corpus/ that `amc conform` and
// `amc replay` use when given no PATH: $AMC_DATA_DIR if set; else
// BIN/../share/amc (the installed layout) when it holds conformance/; else
// the source tree, but only for an amc inside the build tree it was built
// in; else BIN/../share/amc all the same (missing: the caller says so).
std::string DataDir();

int ConformCommand(int argc, char** argv);

}  // namespace amc::cli

#endif  // AMC_TOOLS_AMC_CONFORM_H_
