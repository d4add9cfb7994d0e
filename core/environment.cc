// core/environment.cc: reads this machine's possible and online CPUs, page
// size and kernel release.
#include <sys/utsname.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "core/map_spec.h"

namespace amc::core {

std::optional<uint32_t> ParseCpuListCount(const std::string& text) {
  uint32_t count = 0;
  std::stringstream in(text);
  std::string range;
  bool any = false;
  while (std::getline(in, range, ',')) {
    while (!range.empty() && (range.back() == '\n' || range.back() == ' ')) {
      range.pop_back();
    }
    if (range.empty()) continue;
    unsigned long first = 0, last = 0;
    char* end = nullptr;
    first = std::strtoul(range.c_str(), &end, 10);
    if (end == range.c_str()) return std::nullopt;
    last = first;
    if (*end == '-') {
      const char* second = end + 1;
      last = std::strtoul(second, &end, 10);
      if (end == second) return std::nullopt;
    }
    if (*end != '\0' || last < first || last - first > 65535) {
      return std::nullopt;
    }
    count += static_cast<uint32_t>(last - first + 1);
    any = true;
  }
  if (!any) return std::nullopt;
  return count;
}

namespace {

std::string ReadLine(const char* path) {
  std::ifstream in(path);
  std::string line;
  if (in) std::getline(in, line);
  return line;
}

}  // namespace

bool CpuListIsPrefix(const std::string& text) {
  std::string t = text;
  while (!t.empty() && (t.back() == '\n' || t.back() == ' ')) t.pop_back();
  if (t == "0") return true;
  if (t.rfind("0-", 0) != 0) return false;
  return t.size() > 2 &&
         t.find_first_not_of("0123456789", 2) == std::string::npos;
}

bool HostOnlineIsPrefix() {
  return CpuListIsPrefix(ReadLine("/sys/devices/system/cpu/online"));
}

Environment HostEnvironment() {
  Environment env;
  if (auto count = ParseCpuListCount(ReadLine("/sys/devices/system/cpu/possible"))) {
    env.possible_cpus = *count;
  }
  if (auto count = ParseCpuListCount(ReadLine("/sys/devices/system/cpu/online"))) {
    if (*count < env.possible_cpus) env.online_cpus = *count;
  }
  long page = sysconf(_SC_PAGESIZE);
  if (page > 0) env.page_size = static_cast<uint32_t>(page);
  struct utsname names {};
  if (uname(&names) == 0) env.kernel_release = names.release;
  return env;
}

}  // namespace amc::core
