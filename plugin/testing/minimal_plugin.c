/*
 * plugin/testing/minimal_plugin.c: a plug-in written in plain C from
 * plugin/amc_plugin.h and docs/plugins.md alone, without any other project
 * code: the proof that the header is enough. It implements the syscall
 * element ops, get-next-key, freeze and the program helpers lookup / update
 * / delete for ARRAY and PERCPU_ARRAY, and leaves out batches, mmap,
 * bpf_map_lookup_percpu_elem and atomics with a reason each. plugin_test
 * checks it agrees with the model over generated sequences.
 *
 * Storage: one calloc'ed block, CPU-major for PERCPU (cpu * max_entries +
 * key) * elem_size, every element 8-byte aligned.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "amc_plugin.h"  /* -I PREFIX/include/amc: pkg-config amc-plugin */

#define ENOTSUPP_KERNEL 524

/* Hooks for the planted-fault variants that include this file
 * (examples/plugin_sanitized): here they change nothing. */
#ifndef MINIMAL_ALLOC_BYTES
#define MINIMAL_ALLOC_BYTES(bytes) (bytes)
#endif
#ifndef MINIMAL_PLANTED_UPDATE
#define MINIMAL_PLANTED_UPDATE(m, key, value) 0
#endif
#ifndef MINIMAL_NAME
#define MINIMAL_NAME "minimal C plug-in"
#endif

/* map_flags bits (include/uapi/linux/bpf.h). */
#define F_NUMA_NODE (1u << 2)
#define F_RDONLY (1u << 3)
#define F_WRONLY (1u << 4)
#define F_RDONLY_PROG (1u << 7)
#define F_WRONLY_PROG (1u << 8)
#define F_MMAPABLE (1u << 10)
#define F_PRESERVE_ELEMS (1u << 11)
#define F_INNER_MAP (1u << 12)
#define F_TOKEN_FD (1u << 16)
#define CREATE_FLAG_MASK                                            \
  (F_NUMA_NODE | F_MMAPABLE | F_RDONLY | F_WRONLY | F_RDONLY_PROG | \
   F_WRONLY_PROG | F_PRESERVE_ELEMS | F_INNER_MAP)
/* element flags */
#define NOEXIST 1u
#define EXIST 2u
#define ELEM_F_LOCK 4u

struct amc_map {
  amc_map_spec spec;
  uint32_t cpus; /* slots per key: possible CPUs for PERCPU, else 1 */
  uint64_t elem_size;
  uint8_t *data;
  int frozen;
};

static int percpu(const amc_map *m) {
  return m->spec.map_type == AMC_MAP_TYPE_PERCPU_ARRAY;
}
static int has_lock(const amc_map *m) { return m->spec.spin_lock_offset >= 0; }
static int fd_can_read(const amc_map *m) {
  return !(m->spec.map_flags & F_WRONLY);
}
static int sys_can_write(const amc_map *m) {
  return !(m->spec.map_flags & F_RDONLY) && !m->frozen;
}
static uint8_t *slot(const amc_map *m, uint32_t key, uint32_t cpu) {
  return m->data + ((uint64_t)cpu * m->spec.max_entries + key) * m->elem_size;
}
static uint64_t vbuf(const amc_map *m) {
  return percpu(m) ? m->elem_size * m->cpus : m->spec.value_size;
}

/* value_size bytes into one slot; the bpf_spin_lock word is never written. */
static void write_value(amc_map *m, uint8_t *to, const uint8_t *from) {
  if (!has_lock(m)) {
    memcpy(to, from, m->spec.value_size);
    return;
  }
  uint32_t lock = (uint32_t)m->spec.spin_lock_offset;
  memcpy(to, from, lock);
  memcpy(to + lock + 4, from + lock + 4, m->spec.value_size - lock - 4);
}

static int32_t create(const amc_map_spec *s, const amc_env *env,
                      amc_map **out) {
  int pcpu = s->map_type == AMC_MAP_TYPE_PERCPU_ARRAY;
  uint32_t flags = s->map_flags;
  /* A lock comes with BTF, loaded before the map: its refusals come first
   * (a lock past the value's end EINVAL, a misaligned one EFAULT). */
  if (s->spin_lock_offset >= 0) {
    if ((uint64_t)s->spin_lock_offset + 4 > s->value_size) return EINVAL;
    if (s->spin_lock_offset % 4 != 0) return EFAULT;
  }
  int token = (flags & F_TOKEN_FD) != 0;
  flags &= ~F_TOKEN_FD;
  if (s->map_type != AMC_MAP_TYPE_ARRAY && !pcpu) return EINVAL;
  if ((flags & F_RDONLY) && (flags & F_WRONLY)) return EINVAL;
  /* numa_node 0xffffffff is NUMA_NO_NODE: no node, as without the flag. */
  int numa = (flags & F_NUMA_NODE) && s->numa_node != 0xffffffffu;
  if (numa && s->numa_node >= 1) return EINVAL;
  if (s->max_entries == 0 || s->key_size != 4 || s->value_size == 0 ||
      (flags & ~CREATE_FLAG_MASK) ||
      ((flags & F_RDONLY_PROG) && (flags & F_WRONLY_PROG)) ||
      (pcpu && numa))
    return EINVAL;
  if (pcpu && (flags & (F_MMAPABLE | F_INNER_MAP))) return EINVAL;
  if (flags & F_PRESERVE_ELEMS) return EINVAL;
  if (s->value_size > INT_MAX) return E2BIG;
  uint64_t elem = ((uint64_t)s->value_size + 7) & ~(uint64_t)7;
  if (pcpu && elem > 32768) return E2BIG;
  if (token) return EINVAL;
  uint64_t cpus = pcpu ? env->possible_cpus : 1;
  uint64_t bytes = elem * s->max_entries * cpus;
  uint64_t memory = (uint64_t)sysconf(_SC_PHYS_PAGES) * sysconf(_SC_PAGESIZE);
  if (bytes > memory) return ENOMEM;
  /* map_check_btf: a value with a lock refuses the *_PROG restrictions,
   * then per-CPU maps. */
  if (s->spin_lock_offset >= 0) {
    if (flags & (F_RDONLY_PROG | F_WRONLY_PROG)) return EACCES;
    if (pcpu) return EOPNOTSUPP;
  }
  amc_map *m = calloc(1, sizeof *m);
  if (!m) return ENOMEM;
  m->data = calloc(1, MINIMAL_ALLOC_BYTES(bytes));
  if (!m->data) {
    free(m);
    return ENOMEM;
  }
  m->spec = *s;
  m->cpus = (uint32_t)cpus;
  m->elem_size = elem;
  *out = m;
  return 0;
}

static void destroy(amc_map *m) {
  free(m->data);
  free(m);
}

/* The syscall value buffer of one key; the lock word reads as zero. */
static void copy_out(const amc_map *m, uint32_t key, uint8_t *out) {
  if (percpu(m)) {
    for (uint32_t cpu = 0; cpu < m->cpus; ++cpu)
      memcpy(out + cpu * m->elem_size, slot(m, key, cpu), m->elem_size);
  } else {
    memcpy(out, slot(m, key, 0), m->spec.value_size);
    if (has_lock(m)) memset(out + m->spec.spin_lock_offset, 0, 4);
  }
}

static void read_state(amc_map *m, uint8_t *values, uint8_t *mmap_data) {
  (void)mmap_data; /* always NULL: this plug-in does not implement mmap */
  for (uint32_t k = 0; k < m->spec.max_entries; ++k)
    copy_out(m, k, values + k * vbuf(m));
}

static int32_t lookup(amc_map *m, uint32_t key, uint64_t flags,
                      uint8_t *value) {
  if (flags & ~(uint64_t)ELEM_F_LOCK) return EINVAL;
  if (!fd_can_read(m)) return EPERM;
  if ((flags & ELEM_F_LOCK) && !has_lock(m)) return EINVAL;
  if (key >= m->spec.max_entries) return ENOENT;
  copy_out(m, key, value);
  return 0;
}

/* The map's own update checks (ARRAY from the syscall; both types from a
 * program). */
static int32_t array_update_checks(amc_map *m, uint32_t key, uint64_t flags) {
  if ((flags & ~(uint64_t)ELEM_F_LOCK) > EXIST) return EINVAL;
  if (key >= m->spec.max_entries) return E2BIG;
  if (flags & NOEXIST) return EEXIST;
  if ((flags & ELEM_F_LOCK) && !has_lock(m)) return EINVAL;
  return 0;
}

static int32_t update(amc_map *m, uint32_t key, const uint8_t *value,
                      uint64_t flags) {
  if (!sys_can_write(m)) return EPERM;
  if ((flags & ELEM_F_LOCK) && !has_lock(m)) return EINVAL;
  if (!percpu(m)) {
    int32_t err = array_update_checks(m, key, flags);
    if (err) return err;
    write_value(m, slot(m, key, 0), value);
    return MINIMAL_PLANTED_UPDATE(m, key, value);
  }
  /* PERCPU compares the whole flags word, and copies every CPU's slot with
   * its padding. */
  if (flags > EXIST) return EINVAL;
  if (key >= m->spec.max_entries) return E2BIG;
  if (flags == NOEXIST) return EEXIST;
  for (uint32_t cpu = 0; cpu < m->cpus; ++cpu)
    memcpy(slot(m, key, cpu), value + cpu * m->elem_size, m->elem_size);
  return 0;
}

static int32_t delete_elem(amc_map *m, uint32_t key) {
  (void)key;
  if (!sys_can_write(m)) return EPERM;
  return EINVAL; /* array elements cannot be deleted */
}

static int32_t lookup_and_delete(amc_map *m, uint32_t key, uint64_t flags,
                                 uint8_t *value) {
  (void)key;
  (void)value;
  if (flags & ~(uint64_t)ELEM_F_LOCK) return EINVAL;
  if (!fd_can_read(m) || !sys_can_write(m)) return EPERM;
  if ((flags & ELEM_F_LOCK) && !has_lock(m)) return EINVAL;
  return ENOTSUPP_KERNEL;
}

static int32_t get_next_key(amc_map *m, const uint32_t *key,
                            uint32_t *next_key) {
  if (!fd_can_read(m)) return EPERM;
  uint32_t index = key ? *key : UINT32_MAX;
  if (index >= m->spec.max_entries) {
    *next_key = 0;
    return 0;
  }
  if (index == m->spec.max_entries - 1) return ENOENT;
  *next_key = index + 1;
  return 0;
}

static int32_t freeze(amc_map *m) {
  if (has_lock(m)) return ENOTSUPP_KERNEL;
  if (!sys_can_write(m)) return EPERM; /* also when already frozen */
  m->frozen = 1;
  return 0;
}

static uint32_t prog_slot_cpu(const amc_map *m, uint32_t cpu) {
  return percpu(m) ? cpu : 0;
}

static int32_t prog_lookup(amc_map *m, uint32_t cpu, uint32_t key,
                           uint8_t *value, uint32_t *flags) {
  if (m->spec.map_flags & F_WRONLY_PROG) return EACCES; /* verifier */
  /* Reading the whole value would read the lock: the verifier refuses. */
  if (has_lock(m)) return EACCES;
  if (key >= m->spec.max_entries) {
    *flags = AMC_PROG_NULL;
    return 0;
  }
  const uint8_t *p = slot(m, key, prog_slot_cpu(m, cpu));
  memcpy(value, p, m->spec.value_size);
  *flags = ((uintptr_t)p % 8 == 0) ? AMC_PROG_ALIGNED : 0;
  return 0;
}

static int32_t prog_update(amc_map *m, uint32_t cpu, uint32_t key,
                           const uint8_t *value, uint64_t flags) {
  if (m->spec.map_flags & F_RDONLY_PROG) return EACCES; /* verifier */
  int32_t err = array_update_checks(m, key, flags);
  if (err) return err;
  write_value(m, slot(m, key, prog_slot_cpu(m, cpu)), value);
  return 0;
}

static int32_t prog_delete(amc_map *m, uint32_t cpu, uint32_t key) {
  (void)cpu;
  (void)key;
  if (m->spec.map_flags & F_RDONLY_PROG) return EACCES; /* verifier */
  return EINVAL;
}

#define NO_MMAP "this runtime's maps cannot be mapped"
#define NO_BATCH "batch commands are not implemented yet"

static const amc_plugin kTable = {
    .abi_version = AMC_PLUGIN_ABI_VERSION,
    .struct_size = sizeof(amc_plugin),
    .name = MINIMAL_NAME,
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
            [AMC_OP_PROG_LOOKUP_PERCPU] = "helper not offered by this VM",
            [AMC_OP_PROG_ATOMIC_ADD] = "this VM has no atomic instructions",
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
    /* The rules it implements are Linux 6.15-6.18's (no BPF_F_CPU). */
    .target_release = "6.18",
};

AMC_PLUGIN_EXPORT const amc_plugin *amc_plugin_get(void) { return &kTable; }
