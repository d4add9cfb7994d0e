/*
 * examples/plugin_sanitized/plugin_overflow.c: the minimal C plug-in
 * (plugin/testing/minimal_plugin.c) with one planted memory-safety fault,
 * for running a plug-in under AddressSanitizer inside amc's plug-in child
 * (docs/plugins.md, "Plug-ins under sanitizers").
 *
 * The fault: a syscall update of an ARRAY map's LAST key also sets a
 * "dirty" byte one past the end of the map's heap block. Every answer stays
 * right, and without a sanitizer nothing crashes: the block is allocated
 * rounded up to 16 bytes, and glibc's chunk for such a size has 8 bytes of
 * slack behind it. Built with -fsanitize=address, the write is reported at
 * that update: amc reports "SANITIZER" at the op, with ASan's report.
 */
#include <stddef.h>
#include <stdint.h>

static uint64_t planted_block_bytes(uint64_t bytes) {
  return (bytes + 15) & ~(uint64_t)15;
}
struct amc_map;
static int32_t planted_update(struct amc_map *m, uint32_t key,
                              const uint8_t *value);

#define MINIMAL_ALLOC_BYTES(bytes) planted_block_bytes(bytes)
#define MINIMAL_PLANTED_UPDATE(m, key, value) planted_update(m, key, value)
#define MINIMAL_NAME "minimal C plug-in, planted heap overflow"
#include "plugin/testing/minimal_plugin.c"

static int32_t planted_update(struct amc_map *m, uint32_t key,
                              const uint8_t *value) {
  (void)value;
  uint64_t block = planted_block_bytes(m->elem_size * m->spec.max_entries);
  /* Blocks past glibc's mmap threshold end at a page boundary: left alone,
   * so that the unsanitized build never faults. */
  if (key + 1 == m->spec.max_entries && block < (64u << 10)) {
    m->data[block] = 1; /* one byte past the heap block */
  }
  return 0;
}
