// backends/registry.cc: the list itself.
#include "backends/registry.h"

#include <algorithm>
#include <cstdlib>
#include <map>
#include <sstream>

#include "backends/faulty_backend.h"
#include "core/kernel_profile.h"
#include "impl/impl_backend.h"
#include "model/model_backend.h"
#include "oracle_kernel/kernel_backend.h"
#include "plugin/plugin_backend.h"

namespace amc::backends {

namespace {

model::Params ModelParams(const std::optional<core::Environment>& env) {
  return env ? model::Params::ForEnvironment(*env) : model::Params::Host();
}

// Why a backend with environment `have` cannot check a case recorded in
// `recorded`, or "" when it can: per-CPU buffers follow the CPU count, mmap
// limits the page size, and release-dependent answers the kernel profile.
std::string EnvironmentMismatch(const core::Environment& recorded,
                                const core::Environment& have) {
  // Programs run only on online CPUs, so a case recorded with another online
  // count cannot be checked either.
  if (have.possible_cpus != recorded.possible_cpus ||
      have.Online() != recorded.Online() ||
      have.page_size != recorded.page_size) {
    auto cpus = [](const core::Environment& e) {
      return std::to_string(e.possible_cpus) + " possible CPUs (" +
             std::to_string(e.Online()) + " online)";
    };
    return "the case's environment has " + cpus(recorded) + " and " +
           std::to_string(recorded.page_size) + "-byte pages; this backend has " +
           cpus(have) + " and " + std::to_string(have.page_size) + "-byte pages";
  }
  if (!recorded.kernel_release.empty()) {
    core::KernelProfile want = core::KernelProfileForRelease(recorded.kernel_release);
    core::KernelProfile got = core::KernelProfileForRelease(have.kernel_release);
    if (!(want == got)) {
      return "the case was recorded on Linux " + recorded.kernel_release +
             " (kernel profile " + want.name + "); this backend answers as " +
             (have.kernel_release.empty() ? "the newest release" : "Linux " + have.kernel_release) +
             " (profile " + got.name + ")";
    }
  }
  return "";
}

}  // namespace

const std::vector<BackendEntry>& AllBackends() {
  static const std::vector<BackendEntry> kAll = {
      {"model", "the reference model (model/)",
       [](const std::optional<core::Environment>& env) {
         return std::unique_ptr<core::Backend>(
             std::make_unique<model::ModelBackend>(ModelParams(env)));
       }},
      {"impl", "the optimized lock-free array maps (impl/)",
       [](const std::optional<core::Environment>& env) {
         return std::unique_ptr<core::Backend>(
             std::make_unique<impl::ImplBackend>(env));
       }},
      {"kernel", "the running kernel's maps and BPF programs (oracle_kernel/)",
       [](const std::optional<core::Environment>&) {
         return std::unique_ptr<core::Backend>(
             std::make_unique<oracle_kernel::KernelBackend>());
       }},
      {"faulty",
       "test only: the model with updates past the end answering ENOENT",
       [](const std::optional<core::Environment>& env) {
         return std::unique_ptr<core::Backend>(
             std::make_unique<FaultyBackend>(ModelParams(env)));
       },
       /*in_default_set=*/false},
      {"faulty-multi",
       "test only: the model with four faults (ARRAY update past the end "
       "ENOENT, ARRAY update NOEXIST EINVAL, PERCPU lookup padding 0xaa, "
       "ARRAY lookup_batch count one short)",
       [](const std::optional<core::Environment>& env) {
         return std::unique_ptr<core::Backend>(std::make_unique<FaultyBackend>(
             ModelParams(env), kFaultsMulti, "faulty-multi"));
       },
       /*in_default_set=*/false},
  };
  return kAll;
}

Selection SelectBackends(const std::string& list,
                         const std::optional<core::Environment>& env) {
  Selection out;
  std::vector<std::string> names;
  if (list.empty()) {
    for (const auto& e : AllBackends()) {
      if (e.in_default_set) names.push_back(e.name);
    }
  } else {
    std::stringstream in(list);
    std::string name;
    while (std::getline(in, name, ',')) {
      if (!name.empty()) names.push_back(name);
    }
  }
  // Plug-ins first: one that names the release it targets (ABI 3) sets the
  // release the model and the impl answer as, when neither a case's
  // environment nor the running kernel fixes it.
  std::map<std::string, std::unique_ptr<plugin::PluginBackend>> plugins;
  std::string target;
  const bool has_kernel =
      std::find(names.begin(), names.end(), "kernel") != names.end();
  for (const std::string& name : names) {
    auto path = plugin::PluginPathOf(name);
    if (!path || plugins.count(name)) continue;
    std::string why;
    auto opened = plugin::PluginBackend::Open(*path, env, &why);
    if (!opened) {
      out.error = "cannot load backend '" + name + "': " + why;
      return out;
    }
    if (target.empty()) target = opened->target_release();
    plugins.emplace(name, std::move(opened));
  }
  std::optional<core::Environment> make_env = env;
  if (!env && !has_kernel && !target.empty()) {
    make_env = core::HostEnvironment();
    make_env->kernel_release = target;
  }
  // The profile this selection checks against when no case environment is
  // given: a forced one (--kernel-profile), else the running kernel's or
  // the plug-ins' target release's.
  const std::string run_release = make_env ? make_env->kernel_release
                                           : core::HostEnvironment().kernel_release;
  for (const std::string& name : names) {
    std::unique_ptr<core::Backend> backend;
    if (auto it = plugins.find(name); it != plugins.end()) {
      backend = std::move(it->second);
      plugins.erase(it);
    }
    const BackendEntry* entry = nullptr;
    for (const auto& e : AllBackends()) {
      if (e.name == name) entry = &e;
    }
    if (!entry && !backend) {
      if (plugin::PluginPathOf(name)) {
        out.error = "backend '" + name + "' is named twice";
        return out;
      }
      std::string known;
      for (const auto& e : AllBackends()) known += (known.empty() ? "" : ", ") + e.name;
      out.error = "unknown backend '" + name + "' (known: " + known + ", plugin:PATH)";
      return out;
    }
    const bool is_plugin = backend != nullptr;
    if (!backend) backend = entry->make(make_env);
    core::Availability availability = backend->Probe();
    if (availability.available && is_plugin) {
      // A plug-in is held to the release it targets, or else to this
      // machine's: a case recorded on a release with another profile, or a
      // run checking another profile, leaves it out with the reason.
      const std::string& declared =
          static_cast<plugin::PluginBackend*>(backend.get())->target_release();
      core::Environment have = backend->Env();
      have.kernel_release =
          declared.empty() ? core::HostEnvironment().kernel_release : declared;
      std::string mismatch;
      if (env) {
        mismatch = EnvironmentMismatch(*env, have);
      } else {
        auto want = core::SelectKernelProfile(run_release);
        core::KernelProfile got = core::KernelProfileForRelease(have.kernel_release);
        if (want && !(*want == got)) {
          mismatch = "the plug-in answers as Linux " + have.kernel_release +
                     " (kernel profile " + got.name + "); this run checks kernel profile " +
                     want->name +
                     (std::getenv("AMC_KERNEL_PROFILE") && *std::getenv("AMC_KERNEL_PROFILE")
                          ? " (--kernel-profile)"
                          : has_kernel ? " (the running kernel's)" : "");
        }
      }
      if (!mismatch.empty()) {
        out.not_applicable.emplace_back(backend->Name(), mismatch);
        continue;
      }
    } else if (availability.available && env) {
      // The others answer as their Env() says (the kernel as itself).
      std::string mismatch = EnvironmentMismatch(*env, backend->Env());
      if (!mismatch.empty()) {
        out.not_applicable.emplace_back(backend->Name(), mismatch);
        continue;
      }
    }
    if (availability.available) {
      out.available.push_back(std::move(backend));
    } else {
      out.unavailable.emplace_back(name, availability.reason);
    }
  }
  return out;
}

std::string MissingRequiredBackends(const Selection& selection) {
  const char* required = std::getenv("AMC_REQUIRE_KERNEL");
  if (!required || std::string(required) != "1") return "";
  for (const auto& [name, reason] : selection.unavailable) {
    if (name == "kernel") {
      return "AMC_REQUIRE_KERNEL=1 but the kernel backend is unavailable: " +
             reason;
    }
  }
  return "";
}

std::string MissingRequiredKinds(
    const std::vector<std::pair<std::string, std::string>>& left_out) {
  const char* required = std::getenv("AMC_REQUIRE_KERNEL");
  if (!required || std::string(required) != "1") return "";
  for (const auto& [name, reason] : left_out) {
    // An op kind the kernel cannot run is a gap of this machine; a map the
    // kernel backend sits out for kernel safety (--kernel-map-limit) is a
    // choice, reported as SKIP, not a missing kernel.
    if (name == "kernel" && reason.rfind("does not implement", 0) == 0) {
      return "AMC_REQUIRE_KERNEL=1 but the kernel backend cannot run this "
             "case: it " + reason;
    }
  }
  return "";
}

std::vector<UnsupportedMap> UnsupportedMaps(const core::Backend& backend) {
  std::vector<UnsupportedMap> out;
  for (core::MapType type : {core::MapType::kArray, core::MapType::kPercpuArray}) {
    core::MapSpec probe;
    probe.type = type;
    if (std::string why = backend.UnsupportedSpec(probe); !why.empty()) {
      out.push_back({true, type, 0, why});
    }
  }
  // Flags are asked on a map type the backend can create.
  core::MapSpec base;
  if (!backend.UnsupportedSpec(base).empty()) base.type = core::MapType::kPercpuArray;
  for (uint32_t bit = 0; bit < 32; ++bit) {
    core::MapSpec probe = base;
    probe.map_flags = 1u << bit;
    if (std::string why = backend.UnsupportedSpec(probe); !why.empty()) {
      out.push_back({false, probe.type, probe.map_flags, why});
    }
  }
  return out;
}

std::string BackendListFromEnvironment() {
  const char* value = std::getenv("AMC_BACKENDS");
  return value ? value : "";
}

}  // namespace amc::backends
