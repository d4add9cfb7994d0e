// tools/amc/args.h: command-line parsing for the amc subcommands. Options are
// declared up front (name, whether they take a value); anything else is a
// usage error, never silently ignored.
//
// Invariant: Parse either fills every given option and positional argument or
// returns a message naming the offending argument (the caller exits 2).
#ifndef AMC_TOOLS_AMC_ARGS_H_
#define AMC_TOOLS_AMC_ARGS_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/map_spec.h"

namespace amc::cli {

struct OptionSpec {
  std::string name;  // without the leading "--"
  bool takes_value = true;
};

class Args {
 public:
  // Parses argv[first..argc). Accepts "--name value", "--name=value" and
  // "--flag"; "--" ends options. Returns "" or a usage error.
  std::string Parse(int argc, char** argv, int first,
                    const std::vector<OptionSpec>& specs);

  bool Has(const std::string& name) const { return values_.count(name) > 0; }
  std::string Get(const std::string& name,
                  const std::string& fallback = "") const;
  const std::vector<std::string>& positional() const { return positional_; }

  // Reads an unsigned number option ("" = absent). Returns "" or an error.
  std::string GetUint(const std::string& name,
                      std::optional<uint64_t>* out) const;
  // Reads a non-negative decimal number of seconds.
  std::string GetSeconds(const std::string& name,
                         std::optional<double>* out) const;

 private:
  std::map<std::string, std::string> values_;
  std::vector<std::string> positional_;
};

// The geometry of --possible-cpus N [--online-cpus M] [--page-size P]:
// nullopt without --possible-cpus (and then the other two are an error);
// online defaults to N, the page size to this machine's. N at most 4096, M
// from 1 to N, P a power of two from 4096 to 1 MiB. Returns "" or an error.
std::string GeometryFromArgs(const Args& args,
                             std::optional<core::Environment>* out);

}  // namespace amc::cli

#endif  // AMC_TOOLS_AMC_ARGS_H_
