// examples/plugin_online_cpus: a plug-in with ONE deliberate, documented
// fault, the one a user-space runtime is known to have made:
//
//   FAULT: per-CPU storage and per-CPU value buffers are sized by the ONLINE
//   CPUs (amc_env.online_cpus, as sysconf(_SC_NPROCESSORS_ONLN) gives),
//   where Linux sizes them by the POSSIBLE CPUs (num_possible_cpus(),
//   /sys/devices/system/cpu/possible). A syscall lookup of a PERCPU_ARRAY
//   then returns only the online CPUs' slots, and an update drops the rest.
//
// On a machine (or geometry) where every possible CPU is online the fault
// cannot show; amc's default campaign rotates through geometries with fewer
// online CPUs than possible ones, so `amc run --backends
// model,plugin:PATH` catches it and names the per-CPU buffer:
//   lookup key=0 -> ... (model vs plugin:...: per-CPU buffer: CPU 2's slot
//   byte 0: 01 vs 00 (4 possible CPUs, 2 online))
// Everything else is the reference model (model/), exported through
// plugin/export_backend.h.
#include "model/model_backend.h"
#include "plugin/amc_plugin.h"
#include "plugin/export_backend.h"

namespace {

amc_plugin table;

const amc_plugin* Build() {
  amc::plugin::ExportBackend(
      &table,
      "amc example: the model with per-CPU storage sized by online CPUs",
      AMC_OP_ALL, [](const amc::core::Environment& env) {
        amc::model::Params params = amc::model::Params::Host();
        params.env = env;
        params.env.possible_cpus = env.Online();  // FAULT
        params.env.online_cpus = 0;
        return std::unique_ptr<amc::core::Backend>(
            std::make_unique<amc::model::ModelBackend>(params));
      });
  return &table;
}

}  // namespace

extern "C" AMC_PLUGIN_EXPORT const amc_plugin* amc_plugin_get(void) {
  static const amc_plugin* built = Build();
  return built;
}
