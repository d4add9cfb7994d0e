// core/kernel_profile.cc: the profile table and release parsing.
#include "core/kernel_profile.h"

#include <cstdlib>

namespace amc::core {
namespace {

// major * 1000 + minor of "M.m...", or -1.
int MajorMinor(const std::string& release) {
  size_t i = 0;
  int major = 0, minor = 0;
  if (i >= release.size() || !isdigit(static_cast<unsigned char>(release[i]))) return -1;
  while (i < release.size() && isdigit(static_cast<unsigned char>(release[i]))) {
    major = major * 10 + (release[i++] - '0');
    if (major > 100000) return -1;
  }
  if (i >= release.size() || release[i] != '.') return -1;
  ++i;
  if (i >= release.size() || !isdigit(static_cast<unsigned char>(release[i]))) return -1;
  while (i < release.size() && isdigit(static_cast<unsigned char>(release[i]))) {
    minor = minor * 10 + (release[i++] - '0');
    if (minor > 999) return -1;
  }
  return major * 1000 + minor;
}

}  // namespace

const std::vector<KernelProfile>& AllKernelProfiles() {
  static const std::vector<KernelProfile> kProfiles = {
      {"6.1-6.11", /*exec_mappings_refused=*/false,
       /*freeze_needs_write_permission=*/false},
      {"6.12-6.14", /*exec_mappings_refused=*/false,
       /*freeze_needs_write_permission=*/true},
      {"6.15+", /*exec_mappings_refused=*/true,
       /*freeze_needs_write_permission=*/true},
  };
  return kProfiles;
}

std::optional<KernelProfile> KernelProfileByName(const std::string& name) {
  for (const KernelProfile& p : AllKernelProfiles()) {
    if (p.name == name) return p;
  }
  return std::nullopt;
}

KernelProfile KernelProfileForRelease(const std::string& release) {
  int version = MajorMinor(release);
  if (version < 0 || version >= 6015) return AllKernelProfiles()[2];
  if (version >= 6012) return AllKernelProfiles()[1];
  return AllKernelProfiles()[0];
}

std::optional<KernelProfile> SelectKernelProfile(const std::string& release,
                                                 std::string* error) {
  const char* forced = std::getenv("AMC_KERNEL_PROFILE");
  if (forced && *forced) {
    auto p = KernelProfileByName(forced);
    if (!p && error) {
      std::string names;
      for (const auto& q : AllKernelProfiles()) names += (names.empty() ? "" : ", ") + q.name;
      *error = std::string("unknown kernel profile '") + forced + "' (known: " + names + ")";
    }
    return p;
  }
  return KernelProfileForRelease(release);
}

}  // namespace amc::core
