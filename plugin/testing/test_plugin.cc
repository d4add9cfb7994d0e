// plugin/testing/test_plugin.cc: the loader tests' plug-ins, one shared
// library per AMC_TEST_PLUGIN_* mode, all the reference model exported
// through plugin/export_backend.h plus one misbehaviour:
//   FULL           every op kind, no fault (agrees with the model)
//   PARTIAL        leaves out the mmap kinds and prog_atomic_add, with reasons
//   CRASH          segfaults on freeze
//   HANG           never returns from get_next_key
//   OVERRUN        lookup writes 16 bytes past the value buffer
//   BAD_ABI        declares ABI version 999
//   NO_REASON      leaves out freeze without a reason
//   NO_SYMBOL      exports no amc_plugin_get
//   TARGET_7_3     every op kind, answering as Linux 7.3 (target_release)
//   NO_PERCPU      declares PERCPU_ARRAY maps and BPF_F_MMAPABLE unsupported
//   ABI_V2         a table built against ABI 2 (shorter, no declarations)
//   FAULTY_MULTI   the four planted faults of backends/faulty_backend.h's
//                  kFaultsMulti, each its own divergence signature
// and the hostile ones, which fail outside an op or outlive it:
//   CRASH_DESTROY  segfaults destroying a map
//   CRASH_STATE    segfaults reading the final state
//   EXIT_OP        writes a line to stderr and exit(3)s on get_next_key
//   FORK           each create forks a process that sleeps forever, named
//                  $AMC_TEST_SLEEPER_NAME (default amc-sleeper)
//   STATEFUL       keeps state across maps: segfaults creating the 5th map
//                  of its process
#include <sys/prctl.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "backends/faulty_backend.h"
#include "model/model_backend.h"
#include "plugin/amc_plugin.h"
#include "plugin/export_backend.h"

namespace {

using amc::core::Backend;
using amc::core::Environment;

std::unique_ptr<Backend> MakeModel(const Environment& env) {
  amc::model::Params params = amc::model::Params::Host();
  params.env = env;
#ifdef AMC_TEST_PLUGIN_FAULTY_MULTI
  return std::make_unique<amc::backends::FaultyBackend>(
      params, amc::backends::kFaultsMulti, "faulty-multi");
#endif
#ifdef AMC_TEST_PLUGIN_TARGET_7_3
  // Answers as the release it declares, whatever amc's own profile.
  params.profile = amc::core::KernelProfileForRelease("7.3");
#endif
  return std::make_unique<amc::model::ModelBackend>(params);
}

amc_plugin table;
int32_t (*model_freeze)(amc_map*) = nullptr;
int32_t (*model_get_next_key)(amc_map*, const uint32_t*, uint32_t*) = nullptr;
int32_t (*model_lookup)(amc_map*, uint32_t, uint64_t, uint8_t*) = nullptr;
int32_t (*model_create)(const amc_map_spec*, const amc_env*,
                        amc_map**) = nullptr;

[[noreturn]] void Segfault() {
  volatile int* nowhere = nullptr;
  *nowhere = 1;
  __builtin_trap();
}
[[maybe_unused]] void CrashingDestroy(amc_map*) { Segfault(); }
[[maybe_unused]] void CrashingReadState(amc_map*, uint8_t*, uint8_t*) {
  Segfault();
}
[[maybe_unused]] int32_t ExitingGetNextKey(amc_map*, const uint32_t*,
                                           uint32_t*) {
  std::fprintf(stderr, "test plug-in: get_next_key gives up, exit(3)\n");
  std::fflush(stderr);
  std::exit(3);
}
[[maybe_unused]] int32_t ForkingCreate(const amc_map_spec* spec,
                                       const amc_env* env, amc_map** out) {
  if (fork() == 0) {
    const char* name = std::getenv("AMC_TEST_SLEEPER_NAME");
    prctl(PR_SET_NAME, name ? name : "amc-sleeper");
    for (;;) pause();
  }
  return model_create(spec, env, out);
}
[[maybe_unused]] int32_t StatefulCreate(const amc_map_spec* spec,
                                        const amc_env* env, amc_map** out) {
  static int created = 0;
  if (++created == 5) Segfault();
  return model_create(spec, env, out);
}

[[maybe_unused]] int32_t CrashingFreeze(amc_map*) {
  volatile int* nowhere = nullptr;
  *nowhere = 1;
  return 0;
}
[[maybe_unused]] int32_t HangingGetNextKey(amc_map*, const uint32_t*,
                                           uint32_t*) {
  for (;;) pause();
}
[[maybe_unused]] int32_t OverrunningLookup(amc_map* m, uint32_t key,
                                           uint64_t flags, uint8_t* value) {
  uint8_t scratch[1 << 16];
  int32_t err = model_lookup(m, key, flags, scratch);
  // Writes 16 bytes more than an 8-byte ARRAY value buffer holds.
  if (err == 0) std::memset(value, 0x77, 8 + 16);
  return err;
}

const amc_plugin* Build() {
  uint32_t ops = AMC_OP_ALL;
#ifdef AMC_TEST_PLUGIN_PARTIAL
  ops &= ~(AMC_OP_BIT(AMC_OP_MMAP) | AMC_OP_BIT(AMC_OP_MMAP_READ) |
           AMC_OP_BIT(AMC_OP_MMAP_WRITE) | AMC_OP_BIT(AMC_OP_MUNMAP) |
           AMC_OP_BIT(AMC_OP_PROG_ATOMIC_ADD));
#endif
#ifdef AMC_TEST_PLUGIN_NO_REASON
  ops &= ~AMC_OP_BIT(AMC_OP_FREEZE);
#endif
  amc::plugin::ExportBackend(&table, "amc test plug-in", ops, MakeModel);
  model_freeze = table.freeze;
  model_get_next_key = table.get_next_key;
  model_lookup = table.lookup;
  model_create = table.create;
#ifdef AMC_TEST_PLUGIN_CRASH_DESTROY
  table.destroy = CrashingDestroy;
#endif
#ifdef AMC_TEST_PLUGIN_CRASH_STATE
  table.read_state = CrashingReadState;
#endif
#ifdef AMC_TEST_PLUGIN_EXIT_OP
  table.get_next_key = ExitingGetNextKey;
#endif
#ifdef AMC_TEST_PLUGIN_FORK
  table.create = ForkingCreate;
#endif
#ifdef AMC_TEST_PLUGIN_STATEFUL
  table.create = StatefulCreate;
#endif
#ifdef AMC_TEST_PLUGIN_PARTIAL
  table.unsupported_reason[AMC_OP_MMAP] = "maps are not mappable here";
  table.unsupported_reason[AMC_OP_MMAP_READ] = "maps are not mappable here";
  table.unsupported_reason[AMC_OP_MMAP_WRITE] = "maps are not mappable here";
  table.unsupported_reason[AMC_OP_MUNMAP] = "maps are not mappable here";
  table.unsupported_reason[AMC_OP_PROG_ATOMIC_ADD] = "no atomics in this VM";
  table.mmap = nullptr;
  table.prog_atomic_add = nullptr;
#endif
#ifdef AMC_TEST_PLUGIN_CRASH
  table.freeze = CrashingFreeze;
#endif
#ifdef AMC_TEST_PLUGIN_HANG
  table.get_next_key = HangingGetNextKey;
#endif
#ifdef AMC_TEST_PLUGIN_OVERRUN
  table.lookup = OverrunningLookup;
#endif
#ifdef AMC_TEST_PLUGIN_BAD_ABI
  table.abi_version = 999;
#endif
#ifdef AMC_TEST_PLUGIN_TARGET_7_3
  table.target_release = "7.3";
#endif
#ifdef AMC_TEST_PLUGIN_NO_PERCPU
  table.unsupported_map_types = AMC_MAP_TYPE_BIT(AMC_MAP_TYPE_PERCPU_ARRAY);
  table.unsupported_map_types_reason = "no per-CPU storage in this runtime";
  table.unsupported_map_flags = 1u << 10;  // BPF_F_MMAPABLE
  table.unsupported_map_flags_reason = "maps are not mappable here";
#endif
#ifdef AMC_TEST_PLUGIN_ABI_V2
  // What a plug-in built against the ABI 2 header hands over: the version
  // and size of that header's table (the fields after it are not its own).
  table.abi_version = 2;
  table.struct_size = AMC_PLUGIN_STRUCT_SIZE_V2;
  table.target_release = "garbage amc must not read";
#endif
  return &table;
}

}  // namespace

#ifndef AMC_TEST_PLUGIN_NO_SYMBOL
extern "C" AMC_PLUGIN_EXPORT const amc_plugin* amc_plugin_get(void) {
  static const amc_plugin* built = Build();
  return built;
}
#else
extern "C" AMC_PLUGIN_EXPORT const amc_plugin* amc_plugin_get_misspelled(void) {
  return Build();
}
#endif
