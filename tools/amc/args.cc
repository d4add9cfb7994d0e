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

std::string GeometryFromArgs(const Args& args,
                             std::optional<core::Environment>* out) {
  out->reset();
  std::optional<uint64_t> possible, online, page;
  for (auto [name, value] : {std::pair{"possible-cpus", &possible},
                             {"online-cpus", &online},
                             {"page-size", &page}}) {
    if (!args.Has(name)) continue;
    std::string error = args.GetUint(name, value);
    if (!error.empty()) return error;
  }
  if (!possible) {
    if (online || page) return "--online-cpus and --page-size need --possible-cpus";
    return "";
  }
  if (*possible == 0 || *possible > 4096) {
    return "--possible-cpus needs a number from 1 to 4096";
  }
  if (online && (*online == 0 || *online > *possible)) {
    return "--online-cpus needs a number from 1 to --possible-cpus (" +
           std::to_string(*possible) + ")";
  }
  if (page && (*page < 4096 || *page > (1u << 20) || (*page & (*page - 1)))) {
    return "--page-size needs a power of two from 4096 to 1048576";
  }
  core::Environment env;
  env.possible_cpus = static_cast<uint32_t>(*possible);
  env.online_cpus = static_cast<uint32_t>(online ? *online : *possible);
  env.page_size = page ? static_cast<uint32_t>(*page)
                       : core::HostEnvironment().page_size;
  *out = env;
  return "";
}

}  // namespace amc::cli
