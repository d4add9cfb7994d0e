// examples/plugin_faulty: a plug-in with ONE deliberate, documented fault,
// to show that the suite catches and minimizes a real mistake in a runtime:
//
//   FAULT: BPF_MAP_UPDATE_ELEM with BPF_NOEXIST on a key that exists (every
//   key below max_entries, ARRAY and PERCPU_ARRAY alike) answers EINVAL,
//   where Linux answers EEXIST.
//
// Everything else is the reference model (model/), exported through
// plugin/export_backend.h. `amc run --backends model,plugin:PATH` exits 1
// and writes a reproducer that minimizes to one line:
//   update key=0 value=... flags=BPF_NOEXIST -> model EEXIST, plugin EINVAL
#include <cerrno>

#include "model/model_backend.h"
#include "plugin/amc_plugin.h"
#include "plugin/export_backend.h"

namespace {

amc_plugin table;
int32_t (*model_update)(amc_map*, uint32_t, const uint8_t*, uint64_t) = nullptr;

int32_t FaultyUpdate(amc_map* map, uint32_t key, const uint8_t* value,
                     uint64_t flags) {
  int32_t err = model_update(map, key, value, flags);
  if (err == EEXIST && flags == 1 /* BPF_NOEXIST */) return EINVAL;  // FAULT
  return err;
}

const amc_plugin* Build() {
  amc::plugin::ExportBackend(
      &table, "amc example: the model with one fault (NOEXIST -> EINVAL)",
      AMC_OP_ALL, [](const amc::core::Environment& env) {
        amc::model::Params params = amc::model::Params::Host();
        params.env = env;
        return std::unique_ptr<amc::core::Backend>(
            std::make_unique<amc::model::ModelBackend>(params));
      });
  model_update = table.update;
  table.update = FaultyUpdate;
  return &table;
}

}  // namespace

extern "C" AMC_PLUGIN_EXPORT const amc_plugin* amc_plugin_get(void) {
  static const amc_plugin* built = Build();
  return built;
}
