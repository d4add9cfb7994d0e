// tools/amc/reproducer_header.cc: options named in header comments.
#include "tools/amc/reproducer_header.h"

#include <sstream>

namespace amc::cli {

ReproducerHeader ReadReproducerHeader(const std::vector<std::string>& comments) {
  ReproducerHeader out;
  for (const std::string& line : comments) {
    const std::string kProfileLine = "kernel profile: ";
    if (line.rfind(kProfileLine, 0) == 0) {
      std::istringstream rest(line.substr(kProfileLine.size()));
      rest >> out.kernel_profile;
    }
    std::istringstream words(line);
    std::string word;
    while (words >> word) {
      std::string* into = word == "--backends"         ? &out.backends
                          : word == "--kernel-profile" ? &out.kernel_profile
                                                       : nullptr;
      std::string value;
      if (into && words >> value) {
        while (!value.empty() && (value.back() == ')' || value.back() == ',')) {
          value.pop_back();
        }
        *into = value;
      }
    }
  }
  return out;
}

}  // namespace amc::cli
