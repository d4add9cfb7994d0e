/*
 * examples/plugin_go/table.c: the plug-in table, in C memory as cgo's rules
 * require (C must never hold a Go pointer past a call). Each entry is a
 * small C function that forwards to a Go function exported from
 * plugin.go; the opaque amc_map pointer carries a cgo.Handle (a nonzero
 * integer naming the Go map), never a Go pointer.
 */
#include <stdint.h>

#include "_cgo_export.h"
#include "amc_plugin.h"

static uintptr_t handle(amc_map *m) { return (uintptr_t)m; }

static int32_t create(const amc_map_spec *spec, const amc_env *env,
                      amc_map **out) {
  uintptr_t h = 0;
  int32_t err = amcgoCreate((amc_map_spec *)spec, (amc_env *)env, &h);
  if (err == 0) *out = (amc_map *)h;
  return err;
}

static void destroy(amc_map *m) { amcgoDestroy(handle(m)); }

static void read_state(amc_map *m, uint8_t *values, uint8_t *mmap_data) {
  (void)mmap_data; /* always NULL: no mmap here */
  amcgoReadState(handle(m), values);
}

static int32_t lookup(amc_map *m, uint32_t key, uint64_t flags,
                      uint8_t *value) {
  return amcgoLookup(handle(m), key, flags, value);
}

static int32_t update(amc_map *m, uint32_t key, const uint8_t *value,
                      uint64_t flags) {
  return amcgoUpdate(handle(m), key, (uint8_t *)value, flags);
}

static int32_t delete_elem(amc_map *m, uint32_t key) {
  return amcgoDelete(handle(m), key);
}

static int32_t lookup_and_delete(amc_map *m, uint32_t key, uint64_t flags,
                                 uint8_t *value) {
  return amcgoLookupAndDelete(handle(m), key, flags, value);
}

static int32_t get_next_key(amc_map *m, const uint32_t *key,
                            uint32_t *next_key) {
  return amcgoGetNextKey(handle(m), (uint32_t *)key, next_key);
}

static int32_t freeze(amc_map *m) { return amcgoFreeze(handle(m)); }

static int32_t prog_lookup(amc_map *m, uint32_t cpu, uint32_t key,
                           uint8_t *value, uint32_t *flags) {
  return amcgoProgLookup(handle(m), cpu, key, value, flags);
}

static int32_t prog_update(amc_map *m, uint32_t cpu, uint32_t key,
                           const uint8_t *value, uint64_t flags) {
  return amcgoProgUpdate(handle(m), cpu, key, (uint8_t *)value, flags);
}

static int32_t prog_delete(amc_map *m, uint32_t cpu, uint32_t key) {
  return amcgoProgDelete(handle(m), cpu, key);
}

#define NO_BATCH "batch commands are not implemented in the Go example"
#define NO_MMAP "the Go example's maps live in a heap block that is not mappable"

static const amc_plugin kTable = {
    .abi_version = AMC_PLUGIN_ABI_VERSION,
    .struct_size = sizeof(amc_plugin),
    .name = "Go example plug-in (examples/plugin_go)",
    .supported_ops =
        AMC_OP_BIT(AMC_OP_LOOKUP) | AMC_OP_BIT(AMC_OP_UPDATE) |
        AMC_OP_BIT(AMC_OP_DELETE) | AMC_OP_BIT(AMC_OP_LOOKUP_AND_DELETE) |
        AMC_OP_BIT(AMC_OP_GET_NEXT_KEY) | AMC_OP_BIT(AMC_OP_FREEZE) |
        AMC_OP_BIT(AMC_OP_PROG_LOOKUP) | AMC_OP_BIT(AMC_OP_PROG_UPDATE) |
        AMC_OP_BIT(AMC_OP_PROG_DELETE),
    .unsupported_reason =
        {
            [AMC_OP_LOOKUP_BATCH] = NO_BATCH,
            [AMC_OP_LOOKUP_AND_DELETE_BATCH] = NO_BATCH,
            [AMC_OP_UPDATE_BATCH] = NO_BATCH,
            [AMC_OP_DELETE_BATCH] = NO_BATCH,
            [AMC_OP_MMAP] = NO_MMAP,
            [AMC_OP_MMAP_READ] = NO_MMAP,
            [AMC_OP_MMAP_WRITE] = NO_MMAP,
            [AMC_OP_MUNMAP] = NO_MMAP,
            [AMC_OP_PROG_LOOKUP_PERCPU] =
                "bpf_map_lookup_percpu_elem is not offered by the Go example",
            [AMC_OP_PROG_ATOMIC_ADD] = "the Go example has no atomic instructions",
        },
    .create = create,
    .destroy = destroy,
    .read_state = read_state,
    .lookup = lookup,
    .update = update,
    .delete_elem = delete_elem,
    .lookup_and_delete = lookup_and_delete,
    .get_next_key = get_next_key,
    .freeze = freeze,
    .prog_lookup = prog_lookup,
    .prog_update = prog_update,
    .prog_delete = prog_delete,
    /* The rules plugin.go implements are Linux 6.15-6.18's (no BPF_F_CPU,
     * which 7.0 added). */
    .target_release = "6.18",
};

AMC_PLUGIN_EXPORT const amc_plugin *amc_plugin_get(void) { return &kTable; }
