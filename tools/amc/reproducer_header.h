// tools/amc/reproducer_header.h: what a reproducer's header comments say
// about how to rerun it. `amc run` writes
//   # kernel profile: 6.12
//   # reproduce: amc replay --backends model,plugin:/x.so --kernel-profile 6.12 THIS_FILE
// and `amc minimize FILE` without --backends reruns the file as it says.
#ifndef AMC_TOOLS_AMC_REPRODUCER_HEADER_H_
#define AMC_TOOLS_AMC_REPRODUCER_HEADER_H_

#include <string>
#include <vector>

namespace amc::cli {

struct ReproducerHeader {
  std::string backends;        // the --backends list, "" when none is named
  std::string kernel_profile;  // the --kernel-profile, "" when none
};

// Reads the last `--backends` and `--kernel-profile` values named in
// `comments` (a .ops file's comment lines), and a "kernel profile: X" line.
ReproducerHeader ReadReproducerHeader(const std::vector<std::string>& comments);

}  // namespace amc::cli

#endif  // AMC_TOOLS_AMC_REPRODUCER_HEADER_H_
