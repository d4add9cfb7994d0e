// core/environment.cc: reads this machine's possible CPUs, page size and
// kernel release.
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

Environment HostEnvironment() {
  Environment env;
  std::ifstream possible("/sys/devices/system/cpu/possible");
  std::string line;
  if (possible && std::getline(possible, line)) {
    if (auto count = ParseCpuListCount(line)) env.possible_cpus = *count;
  }
  long page = sysconf(_SC_PAGESIZE);
  if (page > 0) env.page_size = static_cast<uint32_t>(page);
  struct utsname names {};
  if (uname(&names) == 0) env.kernel_release = names.release;
  return env;
}

}  // namespace amc::core
