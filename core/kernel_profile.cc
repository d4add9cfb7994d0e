// core/kernel_profile.cc: the profile table and release parsing.
#include "core/kernel_profile.h"

#include <cstdlib>
#include <utility>

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

// Linux's ENOTSUPP (kernel-internal, not in the C library's errno.h).
constexpr int kEnotsupp = 524;

KernelProfile Profile(std::string name, bool before_6_2, bool before_6_5,
                      bool before_6_6, bool before_6_15) {
  KernelProfile p;
  p.name = std::move(name);
  p.exec_mappings_refused = !before_6_15;
  p.freeze_needs_write_permission = !before_6_5;
  p.misaligned_spin_lock_refused = !before_6_2;
  p.spin_lock_refuses_wronly_prog = !before_6_2;
  p.spin_lock_wrong_map_type_errno = before_6_2 ? kEnotsupp : EOPNOTSUPP;
  p.spin_lock_freeze_refused = !before_6_2;
  p.sleepable_programs_refuse_spin_lock = before_6_6;
  return p;
}

}  // namespace

// The boundaries are the releases of the cited changes (kernel_profile.h):
// 6.2 (spin-lock fields in btf_record; struct metas at BTF load), 6.5
// (freeze needs a writable fd), 6.6 (spin locks in sleepable programs),
// 6.15 (noexec anon inodes). The matrix boots 6.1, 6.12 and the host's
// 6.18; the profiles in between follow from the citations alone.
const std::vector<KernelProfile>& AllKernelProfiles() {
  static const std::vector<KernelProfile> kProfiles = {
      //       name        <6.2   <6.5   <6.6   <6.15
      Profile("6.1",       true,  true,  true,  true),
      Profile("6.2-6.4",   false, true,  true,  true),
      Profile("6.5",       false, false, true,  true),
      Profile("6.6-6.14",  false, false, false, true),
      Profile("6.15+",     false, false, false, false),
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
  const auto& all = AllKernelProfiles();
  if (version < 0 || version >= 6015) return all[4];
  if (version >= 6006) return all[3];
  if (version >= 6005) return all[2];
  if (version >= 6002) return all[1];
  return all[0];
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
