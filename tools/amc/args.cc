// tools/amc/args.cc: the option parser.
#include "tools/amc/args.h"

#include <cerrno>
#include <cmath>
#include <cstdlib>

namespace amc::cli {

std::string Args::Parse(int argc, char** argv, int first,
                        const std::vector<OptionSpec>& specs) {
  bool options_done = false;
  for (int i = first; i < argc; ++i) {
    std::string arg = argv[i];
    if (options_done || arg.size() < 2 || arg.compare(0, 2, "--") != 0) {
      if (!options_done && arg.size() >= 2 && arg[0] == '-' && arg != "-") {
        return "unknown option '" + arg + "'";
      }
      positional_.push_back(arg);
      continue;
    }
    if (arg == "--") {
      options_done = true;
      continue;
    }
    std::string name = arg.substr(2);
    std::optional<std::string> value;
    if (size_t eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
    }
    const OptionSpec* spec = nullptr;
    for (const auto& s : specs) {
      if (s.name == name) spec = &s;
    }
    if (!spec) return "unknown option '--" + name + "'";
    if (spec->takes_value) {
      if (!value) {
        if (i + 1 >= argc) return "option '--" + name + "' needs a value";
        value = argv[++i];
      }
    } else if (value) {
      return "option '--" + name + "' takes no value";
    }
    values_[name] = value.value_or("");
  }
  return "";
}

std::string Args::Get(const std::string& name,
                      const std::string& fallback) const {
  auto it = values_.find(name);
  return it == values_.end() ? fallback : it->second;
}

std::string Args::GetUint(const std::string& name,
                          std::optional<uint64_t>* out) const {
  auto it = values_.find(name);
  if (it == values_.end()) return "";
  const std::string& text = it->second;
  if (text.empty() || text[0] == '-' || text[0] == '+') {
    return "option '--" + name + "' needs an unsigned number, not '" + text +
           "'";
  }
  errno = 0;
  char* end = nullptr;
  unsigned long long v = std::strtoull(text.c_str(), &end, 0);
  if (errno != 0 || end == text.c_str() || *end != '\0') {
    return "option '--" + name + "' needs an unsigned number, not '" + text +
           "'";
  }
  *out = v;
  return "";
}

std::string Args::GetSeconds(const std::string& name,
                             std::optional<double>* out) const {
  auto it = values_.find(name);
  if (it == values_.end()) return "";
  const std::string& text = it->second;
  char* end = nullptr;
  double v = std::strtod(text.c_str(), &end);
  if (text.empty() || end == text.c_str() || *end != '\0' ||
      !std::isfinite(v) || v < 0) {
    return "option '--" + name + "' needs a number of seconds, not '" + text +
           "'";
  }
  *out = v;
  return "";
}

}  // namespace amc::cli
