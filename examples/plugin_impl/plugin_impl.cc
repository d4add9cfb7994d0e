// examples/plugin_impl: the project's optimized array maps (impl/, the
// amc_impl library) exported as an amc plug-in. It implements every op kind
// and passes a default `amc run --backends model,plugin:PATH` (and against
// the kernel when privileged); it is the reference for runtime authors of
// what a complete plug-in answers (docs/plugins.md).
//
// The table's functions come from plugin/export_backend.h, which forwards
// each C call to the impl's core::Backend adapter (impl/impl_backend.h):
// the C header's contract is kept in one place for every exported backend.
#include <unistd.h>

#include <cstdio>

#include "impl/impl_backend.h"
#include "plugin/amc_plugin.h"
#include "plugin/export_backend.h"

namespace {

amc_plugin table;

// The impl's mappings are real, so it can only answer for this machine's
// page size; any number of possible CPUs is emulated.
int32_t Probe(const amc_env* env, char* reason, size_t cap) {
  long page = sysconf(_SC_PAGESIZE);
  if (env->page_size == static_cast<uint32_t>(page)) return 0;
  std::snprintf(reason, cap, "mappings are real: page size is %ld, not %u",
                page, env->page_size);
  return 1;
}

const amc_plugin* Build() {
  amc::plugin::ExportBackend(
      &table, "amc impl (lock-free user-space array maps)", AMC_OP_ALL,
      [](const amc::core::Environment& env) {
        return std::unique_ptr<amc::core::Backend>(
            std::make_unique<amc::impl::ImplBackend>(env));
      });
  table.probe = Probe;
  return &table;
}

}  // namespace

extern "C" AMC_PLUGIN_EXPORT const amc_plugin* amc_plugin_get(void) {
  static const amc_plugin* built = Build();
  return built;
}
