// backends/registry.h: the one explicit list of every backend this build
// knows. Adding a backend here makes it run in every test, property, fuzzer,
// corpus case and amc campaign; nothing registers itself.
#ifndef AMC_BACKENDS_REGISTRY_H_
#define AMC_BACKENDS_REGISTRY_H_

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/backend.h"

namespace amc::backends {

struct BackendEntry {
  std::string name;
  std::string description;
  // Makes the backend. `env`, when given, asks for a backend that answers as
  // on a machine with that environment (possible CPUs, page size); backends
  // tied to this machine (the kernel) ignore it and report their own Env().
  std::function<std::unique_ptr<core::Backend>(
      const std::optional<core::Environment>& env)>
      make;
  // Whether an empty list ("every backend") includes it. Test-only backends
  // (the deliberately faulty one) run only when named.
  bool in_default_set = true;
};

// Every backend, in report order: the reference model first.
const std::vector<BackendEntry>& AllBackends();

struct Selection {
  std::vector<std::unique_ptr<core::Backend>> available;
  // Backends that were asked for (or are in the default set) but cannot run
  // here, with the reason.
  std::vector<std::pair<std::string, std::string>> unavailable;
  // Backends that run here but cannot check this case: it was recorded in
  // another environment (CPU count, page size, kernel profile), with why.
  // Unlike `unavailable`, never a reason for AMC_REQUIRE_KERNEL to fail.
  std::vector<std::pair<std::string, std::string>> not_applicable;
  // Set when the list named a backend that does not exist.
  std::string error;
};

// Makes the backends named in `list` ("model,impl,kernel"; empty = all),
// probes each, and sorts them into available / unavailable.
Selection SelectBackends(const std::string& list,
                         const std::optional<core::Environment>& env = {});

// With AMC_REQUIRE_KERNEL=1 (set by .ci/run), an unavailable kernel backend
// is an error, not a skip: returns the message, or "" when nothing is missing.
std::string MissingRequiredBackends(const Selection& selection);

// With AMC_REQUIRE_KERNEL=1, a kernel backend that runs but could not run
// an op kind of a case (`left_out`: backend name -> why, as
// core::RunOutcome::left_out has it, e.g. program ops on a kernel without
// SYSCALL programs) is an error too: returns the message, or "". A map the
// kernel sits out for kernel safety (--kernel-map-limit) is not.
std::string MissingRequiredKinds(
    const std::vector<std::pair<std::string, std::string>>& left_out);

// A map type or creation-flag bit `backend` cannot create at all (a plug-in's
// ABI 3 declaration), as Backend::UnsupportedSpec answers for a spec with
// only that type or bit.
struct UnsupportedMap {
  bool is_type = false;
  core::MapType type = core::MapType::kArray;  // when is_type
  uint32_t flag = 0;                           // else: the one flag bit
  std::string reason;
};
std::vector<UnsupportedMap> UnsupportedMaps(const core::Backend& backend);

// The list from the AMC_BACKENDS environment variable, or empty (= all).
std::string BackendListFromEnvironment();

}  // namespace amc::backends

#endif  // AMC_BACKENDS_REGISTRY_H_
