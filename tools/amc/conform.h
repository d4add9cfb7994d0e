// tools/amc/conform.h: `amc conform`, the per-rule compliance report of one
// implementation (see kConformHelp in conform.cc).
#ifndef AMC_TOOLS_AMC_CONFORM_H_
#define AMC_TOOLS_AMC_CONFORM_H_

namespace amc::cli {

int ConformCommand(int argc, char** argv);

}  // namespace amc::cli

#endif  // AMC_TOOLS_AMC_CONFORM_H_
