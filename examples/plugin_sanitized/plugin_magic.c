/*
 * examples/plugin_sanitized/plugin_magic.c: the minimal C plug-in
 * (plugin/testing/minimal_plugin.c) with one planted fault that random
 * generation almost never reaches, for coverage-guided fuzzing of a plug-in
 * (docs/plugins.md, "Fuzzing a plug-in with libFuzzer").
 *
 * The fault: a syscall update of key 0 of an ARRAY map whose value begins
 * with the bytes 5a 17 c3 9e answers E2BIG instead of storing it. A
 * generated value starts with them about once in 2^32 updates; built with
 * -fsanitize=fuzzer-no-link and loaded in the differential fuzzer's
 * process, the memcmp is traced (its operands go to libFuzzer's table of
 * recent compares) and libFuzzer writes the bytes into the input.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

struct amc_map;
static int32_t planted_update(struct amc_map *m, uint32_t key,
                              const uint8_t *value);

#define MINIMAL_PLANTED_UPDATE(m, key, value) planted_update(m, key, value)
#define MINIMAL_NAME "minimal C plug-in, planted magic-value fault"
#include "plugin/testing/minimal_plugin.c"

static int32_t planted_update(struct amc_map *m, uint32_t key,
                              const uint8_t *value) {
  static const uint8_t kMagic[4] = {0x5a, 0x17, 0xc3, 0x9e};
  if (m->spec.value_size >= sizeof kMagic &&
      memcmp(value, kMagic, sizeof kMagic) == 0 && key == 0) {
    return E2BIG;
  }
  return 0;
}
