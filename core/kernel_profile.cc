// core/kernel_profile.cc: the table of release-dependent changes, and the
// profiles and release parsing built from it.
#include "core/kernel_profile.h"

#include <algorithm>
#include <cstdlib>
#include <utility>

namespace amc::core {
namespace {

constexpr int V(int major, int minor) { return major * 1000 + minor; }

// Linux's ENOTSUPP (kernel-internal, not in the C library's errno.h).
constexpr int kEnotsupp = 524;

// One behaviour change: the release that brought it, and how a profile of a
// release before it differs from the newest answers (the field's default).
// kernel_profile.h cites the kernel change behind each field.
struct Change {
  int since;
  void (*before)(KernelProfile&);
};

const Change kProfileChanges[] = {
    // ---- changes between 5.10 and 6.1 (kernel_profile.h, "5.10") ----
    {V(5, 11), [](KernelProfile& p) { p.map_cost_charged_to_memlock = true; }},
    {V(5, 12), [](KernelProfile& p) { p.batch_buffer_kvmalloced = false; }},
    {V(5, 13), [](KernelProfile& p) { p.percpu_array_batch_ops = false; }},
    {V(5, 14), [](KernelProfile& p) { p.lookup_and_delete_takes_flags = false; }},
    {V(6, 0), [](KernelProfile& p) { p.value_size_bounded_by_int_max = false; }},
    // ---- 6.1 and later ----
    {V(6, 2), [](KernelProfile& p) {
       p.misaligned_spin_lock_refused = false;
       p.spin_lock_refuses_wronly_prog = false;
       p.spin_lock_wrong_map_type_errno = kEnotsupp;
       p.spin_lock_freeze_refused = false;
     }},
    {V(6, 5), [](KernelProfile& p) { p.freeze_needs_write_permission = false; }},
    {V(6, 6), [](KernelProfile& p) { p.sleepable_programs_refuse_spin_lock = true; }},
    {V(6, 15), [](KernelProfile& p) { p.exec_mappings_refused = false; }},
    {V(6, 19), [](KernelProfile& p) { p.lookup_read_permission_first = false; }},
    {V(7, 0), [](KernelProfile& p) {
       p.percpu_cpu_flags = false;
       p.percpu_update_writes_padding = true;
     }},
    {V(7, 2), [](KernelProfile& p) { p.create_rdonly_wronly_checked_last = false; }},
};

// The last minor release of each major line, for naming the release just
// before an X.0 boundary.
int PreviousRelease(int version) {
  int major = version / 1000, minor = version % 1000;
  if (minor > 0) return V(major, minor - 1);
  switch (major) {
    case 7: return V(6, 19);
    case 6: return V(5, 19);
    case 5: return V(4, 20);
    default: return V(major - 1, 0);
  }
}

std::string VersionName(int version) {
  return std::to_string(version / 1000) + "." + std::to_string(version % 1000);
}

// The distinct releases where something changed, oldest first.
std::vector<int> Boundaries() {
  std::vector<int> b;
  for (const Change& c : kProfileChanges) b.push_back(c.since);
  std::sort(b.begin(), b.end());
  b.erase(std::unique(b.begin(), b.end()), b.end());
  return b;
}

KernelProfile ProfileAt(int version) {
  KernelProfile p;
  for (const Change& c : kProfileChanges) {
    if (version < c.since) c.before(p);
  }
  return p;
}

std::vector<KernelProfile> BuildProfiles() {
  std::vector<int> b = Boundaries();
  std::vector<KernelProfile> out;
  // The oldest profile answers for every release before the first change,
  // and is named by the last of them.
  KernelProfile oldest = ProfileAt(PreviousRelease(b[0]));
  oldest.name = VersionName(PreviousRelease(b[0]));
  out.push_back(oldest);
  for (size_t i = 0; i < b.size(); ++i) {
    KernelProfile p = ProfileAt(b[i]);
    if (i + 1 == b.size()) {
      p.name = VersionName(b[i]) + "+";
    } else {
      int last = PreviousRelease(b[i + 1]);
      p.name = last == b[i] ? VersionName(b[i])
                            : VersionName(b[i]) + "-" + VersionName(last);
    }
    out.push_back(p);
  }
  return out;
}

}  // namespace

int ReleaseVersion(const std::string& release) {
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
  return V(major, minor);
}

const std::vector<KernelProfile>& AllKernelProfiles() {
  static const std::vector<KernelProfile> kProfiles = BuildProfiles();
  return kProfiles;
}

std::optional<KernelProfile> KernelProfileByName(const std::string& name) {
  for (const KernelProfile& p : AllKernelProfiles()) {
    if (p.name == name) return p;
  }
  if (ReleaseVersion(name) >= 0) return KernelProfileForRelease(name);
  return std::nullopt;
}

KernelProfile KernelProfileForRelease(const std::string& release) {
  int version = ReleaseVersion(release);
  const auto& all = AllKernelProfiles();
  if (version < 0) return all.back();
  std::vector<int> b = Boundaries();
  size_t index = std::upper_bound(b.begin(), b.end(), version) - b.begin();
  return all[index];
}

std::optional<KernelProfile> SelectKernelProfile(const std::string& release,
                                                 std::string* error) {
  const char* forced = std::getenv("AMC_KERNEL_PROFILE");
  if (forced && *forced) {
    auto p = KernelProfileByName(forced);
    if (!p && error) {
      std::string names;
      for (const auto& q : AllKernelProfiles()) names += (names.empty() ? "" : ", ") + q.name;
      *error = std::string("unknown kernel profile '") + forced +
               "' (known: " + names + ", or a release such as 7.1)";
    }
    return p;
  }
  return KernelProfileForRelease(release);
}

}  // namespace amc::core
