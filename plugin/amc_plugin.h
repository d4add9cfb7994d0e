/*
 * amc_plugin.h: the plug-in interface of amc, the conformance suite for eBPF
 * array maps (BPF_MAP_TYPE_ARRAY = 2, BPF_MAP_TYPE_PERCPU_ARRAY = 6).
 *
 * A plug-in is a shared library that exports ONE function, amc_plugin_get(),
 * returning a table of plain C functions that implement array maps the way
 * Linux does. amc loads it (`--backends model,plugin:/path/libx.so`), runs
 * generated and recorded operation sequences on it and on the reference
 * model (and the real kernel), and reports every difference in errno, bytes
 * or final contents as a minimized, replayable .ops case.
 *
 * Invariants of this interface:
 *   - Plain C99, fixed-width types, no callbacks into amc: implementable in
 *     C, C++, Rust (#[repr(C)], extern "C") and Go (cgo //export).
 *   - Every op function returns an errno as the kernel would: 0 for success,
 *     else a POSITIVE errno (EINVAL = 22, E2BIG = 7, ...; the kernel-internal
 *     ENOTSUPP is 524). Negative values are never valid.
 *   - amc owns every buffer it passes in; the plug-in owns its maps. A
 *     plug-in never keeps a pointer to an amc buffer after the call returns
 *     and never writes more than the documented size (amc puts guard bytes
 *     after every output buffer and reports an overrun).
 *   - amc calls the plug-in from ONE thread, in a child process of its own
 *     (a crash, a hang or an abort is reported with the op that caused it;
 *     it does not stop the campaign).
 *   - Harness conventions are applied by amc before calling the plug-in: the
 *     plug-in never sees a program op on a CPU >= online_cpus (amc answers
 *     EINVAL: programs run only on online CPUs), an atomic add at a misaligned or out-of-bounds offset (amc
 *     answers EACCES), more than AMC_MAPPING_SLOTS live mappings, or a
 *     mapping access outside the mapping or against its protection (amc
 *     answers EBUSY / EBADF / EFAULT).
 *
 * Versioning: AMC_PLUGIN_ABI_VERSION changes whenever this table or any
 * struct below changes. amc accepts a plug-in whose abi_version lies in
 * [AMC_PLUGIN_ABI_VERSION_MIN, AMC_PLUGIN_ABI_VERSION] and refuses any other,
 * with a message naming the numbers.
 *   1: the first interface.
 *   2: amc_env gained online_cpus (appended; amc always passes the whole
 *      struct, so a version-1 plug-in, which never reads it, still works).
 *   3: amc_plugin gained target_release, unsupported_map_types and
 *      unsupported_map_flags with their reasons (appended; a version-1 or
 *      -2 table, with its smaller struct_size, still loads and reads as
 *      "this machine's release, every map type and flag").
 */
#ifndef AMC_PLUGIN_H_
#define AMC_PLUGIN_H_

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define AMC_PLUGIN_ABI_VERSION 3u
/* The oldest abi_version this amc still loads. */
#define AMC_PLUGIN_ABI_VERSION_MIN 1u

/* The one symbol amc looks up with dlsym(). */
#define AMC_PLUGIN_ENTRY "amc_plugin_get"

/* Mark the entry function exported (build plug-ins with
 * -fvisibility=hidden and export only this). */
#if defined(__GNUC__)
#define AMC_PLUGIN_EXPORT __attribute__((visibility("default")))
#else
#define AMC_PLUGIN_EXPORT
#endif

/* ---- op kinds (the operation language of amc; bit numbers of the mask) - */
enum amc_op_kind {
  /* syscall side: bpf(2) commands on the map fd */
  AMC_OP_LOOKUP = 0,                  /* BPF_MAP_LOOKUP_ELEM */
  AMC_OP_UPDATE = 1,                  /* BPF_MAP_UPDATE_ELEM */
  AMC_OP_DELETE = 2,                  /* BPF_MAP_DELETE_ELEM */
  AMC_OP_LOOKUP_AND_DELETE = 3,       /* BPF_MAP_LOOKUP_AND_DELETE_ELEM */
  AMC_OP_GET_NEXT_KEY = 4,            /* BPF_MAP_GET_NEXT_KEY */
  AMC_OP_LOOKUP_BATCH = 5,            /* BPF_MAP_LOOKUP_BATCH */
  AMC_OP_LOOKUP_AND_DELETE_BATCH = 6, /* BPF_MAP_LOOKUP_AND_DELETE_BATCH */
  AMC_OP_UPDATE_BATCH = 7,            /* BPF_MAP_UPDATE_BATCH */
  AMC_OP_DELETE_BATCH = 8,            /* BPF_MAP_DELETE_BATCH */
  AMC_OP_FREEZE = 9,                  /* BPF_MAP_FREEZE */
  /* mmap of the map fd */
  AMC_OP_MMAP = 10,
  AMC_OP_MMAP_READ = 11,
  AMC_OP_MMAP_WRITE = 12,
  AMC_OP_MUNMAP = 13,
  /* program side: a BPF program on CPU `cpu` calls a helper */
  AMC_OP_PROG_LOOKUP = 14,        /* bpf_map_lookup_elem + read value */
  AMC_OP_PROG_UPDATE = 15,        /* bpf_map_update_elem */
  AMC_OP_PROG_DELETE = 16,        /* bpf_map_delete_elem */
  AMC_OP_PROG_LOOKUP_PERCPU = 17, /* bpf_map_lookup_percpu_elem + read */
  AMC_OP_PROG_ATOMIC_ADD = 18,    /* lookup + __sync_fetch_and_add (u64) */
  AMC_OP_KIND_COUNT = 19
};
#define AMC_OP_BIT(kind) (1u << (kind))
#define AMC_OP_ALL ((1u << AMC_OP_KIND_COUNT) - 1u)
/* Room for future kinds in unsupported_reason[]. */
#define AMC_OP_KIND_SLOTS 32

/* At most this many mappings of one map are live at a time. */
#define AMC_MAPPING_SLOTS 4

/* Map types and flags use the kernel's numbers (include/uapi/linux/bpf.h):
 * map_type 2 / 6; map_flags BPF_F_RDONLY = 1<<3, BPF_F_WRONLY = 1<<4,
 * BPF_F_RDONLY_PROG = 1<<7, BPF_F_WRONLY_PROG = 1<<8, BPF_F_MMAPABLE = 1<<10,
 * ...; element flags BPF_ANY 0, BPF_NOEXIST 1, BPF_EXIST 2, BPF_F_LOCK 4.
 * amc passes any bit pattern; answering it is part of the test. */
#define AMC_MAP_TYPE_ARRAY 2u
#define AMC_MAP_TYPE_PERCPU_ARRAY 6u
/* Bit of a map type in amc_plugin.unsupported_map_types. */
#define AMC_MAP_TYPE_BIT(type) (1u << (type))

/* prot bits of amc_plugin.mmap (as PROT_READ / PROT_WRITE / PROT_EXEC). */
#define AMC_PROT_READ 1u
#define AMC_PROT_WRITE 2u
#define AMC_PROT_EXEC 4u

/* ---- creation ---------------------------------------------------------- */

/* BPF_MAP_CREATE attributes. Any combination may arrive (key_size 0,
 * value_size 0xffffffff, unknown flags): refusing it with the kernel's errno
 * is the expected answer. */
typedef struct amc_map_spec {
  uint32_t map_type; /* AMC_MAP_TYPE_ARRAY or _PERCPU_ARRAY (or other) */
  uint32_t key_size;
  uint32_t value_size;
  uint32_t max_entries;
  uint32_t map_flags;
  uint32_t numa_node; /* meaningful with BPF_F_NUMA_NODE (1 << 2) */
  /* Offset of a struct bpf_spin_lock (4 bytes) in the value, as the kernel
   * learns it from BTF (any u32, checked like the rest), or -1 when the
   * value has none. */
  int64_t spin_lock_offset;
} amc_map_spec;

/* The machine the map must behave as if it ran on. Per-CPU value buffers
 * and per-CPU storage scale with possible_cpus (CPUs 0..possible_cpus-1);
 * programs run only on the online CPUs 0..online_cpus-1 (online_cpus <=
 * possible_cpus; fewer when CPUs are possible but offline, as after
 * `-smp 2,maxcpus=4`). Syscall lookups and updates still read and write
 * every possible CPU's slot, and bpf_map_lookup_percpu_elem may target an
 * offline one: never size per-CPU storage by online_cpus. mmap rounds to
 * page_size. */
typedef struct amc_env {
  uint32_t possible_cpus;
  uint32_t page_size;
  uint32_t online_cpus; /* since ABI 2 */
} amc_env;

/* One map: opaque to amc, defined by the plug-in. */
typedef struct amc_map amc_map;

/* Sizes used below (the kernel's):
 *   elem_size  = round_up(value_size, 8)
 *   VBUF       = the syscall value buffer of one key:
 *                ARRAY: value_size bytes;
 *                PERCPU_ARRAY: elem_size * possible_cpus bytes, CPU 0's slot
 *                first, each slot elem_size bytes (padding included).
 *   VBUF(f)    = the buffer of an op with element flags f: value_size
 *                bytes (one CPU's value) when f holds BPF_F_CPU (8) or
 *                BPF_F_ALL_CPUS (16), else VBUF. Linux 7.0+ takes these
 *                flags on a PERCPU_ARRAY (BPF_F_CPU's CPU in f's upper 32
 *                bits); older releases, and ARRAY maps, refuse them with
 *                EINVAL before touching the buffer. Applies to lookup,
 *                update and the batches (elem_flags), not to
 *                lookup_and_delete, which keeps VBUF.
 *   REGION     = the mmap-able data of a BPF_F_MMAPABLE ARRAY:
 *                round_up(max_entries * elem_size, page_size) bytes, element
 *                i at i * elem_size. */

/* ---- results of program lookups --------------------------------------- */
#define AMC_PROG_NULL 1u    /* the helper returned NULL */
#define AMC_PROG_ALIGNED 2u /* the returned pointer was 8-byte aligned */

/* ---- the table --------------------------------------------------------- */

typedef struct amc_plugin {
  /* AMC_PLUGIN_ABI_VERSION the plug-in was built with. Checked first. */
  uint32_t abi_version;
  /* sizeof(amc_plugin) as the plug-in was built; checked too. */
  uint32_t struct_size;
  /* Human-readable name and version of the implementation ("mymaps 1.2").
   * Static storage. Reports use "plugin:<file name>" as the backend name. */
  const char *name;

  /* Capability mask: AMC_OP_BIT(kind) for every kind implemented. amc never
   * generates, and never calls a function for, a kind outside the mask;
   * its function pointer may be NULL. Recorded cases that contain such a
   * kind are reported as "left out", never passed silently. */
  uint32_t supported_ops;
  /* For every kind NOT in the mask: a short reason, shown in every summary
   * ("no mmap: maps live in a hash table"). Static storage; NULL entries for
   * supported kinds. A missing reason is refused at load time. */
  const char *unsupported_reason[AMC_OP_KIND_SLOTS];

  /* Optional (NULL = can run anywhere). Whether the plug-in can behave as
   * on a machine with `env` (e.g. it can emulate 7 possible CPUs). Return 0
   * if so; else nonzero and a NUL-terminated reason in reason[0..cap). */
  int32_t (*probe)(const amc_env *env, char *reason, size_t cap);

  /* BPF_MAP_CREATE. Return 0 and set *out to a new map, or the errno the
   * kernel gives for `spec` (EINVAL, E2BIG, ENOMEM, ...) and leave *out
   * alone. `spec` and `env` are valid only during the call (copy them).
   * A new map's values are all zero. Required. */
  int32_t (*create)(const amc_map_spec *spec, const amc_env *env,
                    amc_map **out);
  /* Frees a map created by `create` and everything it holds. amc munmaps
   * every live mapping (see munmap) before. Required. */
  void (*destroy)(amc_map *map);
  /* Copies the whole contents, ignoring fd modes and freezing, for the
   * final comparison. Required.
   *   values:    max_entries * VBUF bytes; key k's VBUF at k * VBUF (as a
   *              syscall lookup would return it; a bpf_spin_lock word reads
   *              as zero).
   *   mmap_data: NULL, or REGION bytes to fill with the mappable data,
   *              padding included; non-NULL only for BPF_F_MMAPABLE ARRAY
   *              maps without a spin lock, of plug-ins that implement
   *              AMC_OP_MMAP.
   * Both buffers arrive zero-filled (amc has always passed them so), so a
   * plug-in may leave untouched elements unwritten: of a map of gigabytes,
   * amc's child then holds only the pages written. */
  void (*read_state)(amc_map *map, uint8_t *values, uint8_t *mmap_data);

  /* ---- syscall side. `fd` modes follow BPF_F_RDONLY / BPF_F_WRONLY of the
   * spec; BPF_MAP_FREEZE removes write permission from the syscall side. */

  /* BPF_MAP_LOOKUP_ELEM. On 0, write VBUF(flags) bytes to `value`. */
  int32_t (*lookup)(amc_map *map, uint32_t key, uint64_t flags, uint8_t *value);
  /* BPF_MAP_UPDATE_ELEM. `value` holds VBUF(flags) bytes. */
  int32_t (*update)(amc_map *map, uint32_t key, const uint8_t *value,
                    uint64_t flags);
  /* BPF_MAP_DELETE_ELEM. */
  int32_t (*delete_elem)(amc_map *map, uint32_t key);
  /* BPF_MAP_LOOKUP_AND_DELETE_ELEM. On 0, write VBUF bytes to `value`. */
  int32_t (*lookup_and_delete)(amc_map *map, uint32_t key, uint64_t flags,
                               uint8_t *value);
  /* BPF_MAP_GET_NEXT_KEY. `key` NULL means a NULL key pointer. On 0, set
   * *next_key. */
  int32_t (*get_next_key)(amc_map *map, const uint32_t *key,
                          uint32_t *next_key);
  /* BPF_MAP_LOOKUP_BATCH and BPF_MAP_LOOKUP_AND_DELETE_BATCH.
   *   in_batch: NULL (start) or the position to continue after.
   *   *count:   in: elements asked for; out: elements copied. Leave it
   *             unchanged when failing before the walk (flag or permission
   *             checks).
   *   keys:     room for min(*count, max_entries) keys.
   *   values:   room for min(*count, max_entries) * VBUF(elem_flags) bytes,
   *             packed.
   *   out_batch: set to the position to continue from (the last key
   *             copied) when at least one element was copied.
   * amc reports keys/values when the call returns 0 or ENOENT (the walk
   * ran; ENOENT = it reached the end), else only the errno and *count. */
  int32_t (*lookup_batch)(amc_map *map, const uint32_t *in_batch,
                          uint32_t *out_batch, uint32_t *keys, uint8_t *values,
                          uint32_t *count, uint64_t elem_flags, uint64_t flags);
  int32_t (*lookup_and_delete_batch)(amc_map *map, const uint32_t *in_batch,
                                     uint32_t *out_batch, uint32_t *keys,
                                     uint8_t *values, uint32_t *count,
                                     uint64_t elem_flags, uint64_t flags);
  /* BPF_MAP_UPDATE_BATCH: `keys` has *count keys, `values` *count *
   * VBUF(elem_flags) bytes. *count out: how many elements were applied (in order, stopping
   * at the first failure, whose errno is returned). */
  int32_t (*update_batch)(amc_map *map, const uint32_t *keys,
                          const uint8_t *values, uint32_t *count,
                          uint64_t elem_flags, uint64_t flags);
  /* BPF_MAP_DELETE_BATCH: `keys` has *count keys; *count out as above. */
  int32_t (*delete_batch)(amc_map *map, const uint32_t *keys, uint32_t *count,
                          uint64_t elem_flags, uint64_t flags);
  /* BPF_MAP_FREEZE. */
  int32_t (*freeze)(amc_map *map);

  /* ---- mmap. amc keeps the slot table; the plug-in sees a new mapping
   * only when a slot is free, and accesses only inside a live mapping with
   * the protection they need. */

  /* mmap(NULL, length, prot, shared ? MAP_SHARED : MAP_PRIVATE, fd, offset):
   * the kernel's checks (offset alignment, fd modes, frozen, ...). On 0 set
   * *handle to anything that names this mapping to the calls below (e.g. its
   * address); it covers round_up(length, page_size) bytes of the REGION
   * from `offset`, shared with the map's values. */
  int32_t (*mmap)(amc_map *map, uint64_t offset, uint64_t length, uint32_t prot,
                  uint32_t shared, void **handle);
  /* Reads `length` bytes at `offset` within the mapping into `out`
   * (`length` bytes). Always in range and permitted; return 0. */
  int32_t (*mmap_read)(amc_map *map, void *handle, uint64_t offset,
                       uint64_t length, uint8_t *out);
  /* Writes `length` bytes from `bytes` at `offset` within the mapping. */
  int32_t (*mmap_write)(amc_map *map, void *handle, uint64_t offset,
                        uint64_t length, const uint8_t *bytes);
  /* munmap of the whole mapping; return 0. */
  int32_t (*munmap)(amc_map *map, void *handle);

  /* ---- program side, running on CPU `cpu` (< online_cpus). Return what
   * the verifier refuses at load time as an errno (EACCES for a write to a
   * BPF_F_RDONLY_PROG map, EINVAL for lookup_percpu on an ARRAY), else 0
   * and the helper's outcome; a helper's negative return -E is returned as
   * E. PERCPU maps act on `cpu`'s slot. */

  /* bpf_map_lookup_elem, then a read of value_size bytes through the
   * pointer. *flags: AMC_PROG_NULL (nothing read), else AMC_PROG_ALIGNED
   * if the pointer was 8-byte aligned, and value_size bytes in `value`. */
  int32_t (*prog_lookup)(amc_map *map, uint32_t cpu, uint32_t key,
                         uint8_t *value, uint32_t *flags);
  /* bpf_map_update_elem: `value` holds value_size bytes. */
  int32_t (*prog_update)(amc_map *map, uint32_t cpu, uint32_t key,
                         const uint8_t *value, uint64_t flags);
  /* bpf_map_delete_elem. */
  int32_t (*prog_delete)(amc_map *map, uint32_t cpu, uint32_t key);
  /* bpf_map_lookup_percpu_elem(map, &key, target_cpu), then a read of
   * value_size bytes; *flags and `value` as prog_lookup. */
  int32_t (*prog_lookup_percpu)(amc_map *map, uint32_t cpu, uint32_t key,
                                uint32_t target_cpu, uint8_t *value,
                                uint32_t *flags);
  /* p = bpf_map_lookup_elem(map, &key); if (p) *old =
   * __sync_fetch_and_add((uint64_t *)(p + offset), delta). `offset` is
   * 8-aligned with offset + 8 <= value_size. *flags: AMC_PROG_NULL when p
   * was NULL (nothing added, *old untouched). */
  int32_t (*prog_atomic_add)(amc_map *map, uint32_t cpu, uint32_t key,
                             uint32_t offset, uint64_t delta, uint64_t *old,
                             uint32_t *flags);

  /* ---- since ABI 3: what the plug-in means to match ------------------- */

  /* The Linux release whose array maps this plug-in behaves like ("7.3",
   * "6.1", "5.10.262"), or NULL / "" for the release amc runs on. amc holds
   * the plug-in to that release's kernel profile (`amc info` lists them):
   * the reference model answers as that release, recorded cases of a
   * release with another profile are skipped for the plug-in with the
   * reason, and a run that also has the real kernel skips the plug-in
   * unless the two profiles are the same. Static storage. */
  const char *target_release;
  /* AMC_MAP_TYPE_BIT(type) for each of ARRAY and PERCPU_ARRAY that the
   * plug-in does not implement (0: both are). amc never creates a map of
   * such a type on the plug-in (maps of other, invalid types still arrive:
   * refusing them is part of the test); recorded cases that create one are
   * SKIPPED for the plug-in with the reason below. */
  uint32_t unsupported_map_types;
  const char *unsupported_map_types_reason; /* required when the mask is set */
  /* map_flags bits the plug-in does not implement (e.g. BPF_F_MMAPABLE =
   * 1 << 10); amc never sets them on the plug-in's maps, and recorded cases
   * that create a map with one are SKIPPED for it with the reason below. */
  uint32_t unsupported_map_flags;
  const char *unsupported_map_flags_reason; /* required when the mask is set */
} amc_plugin;

/* sizeof(amc_plugin) of tables built against ABI versions 1 and 2. */
#define AMC_PLUGIN_STRUCT_SIZE_V2 offsetof(amc_plugin, target_release)

/* The one exported symbol. Returns a table with static storage duration
 * (amc never frees it). Called once, right after dlopen(). */
typedef const amc_plugin *(*amc_plugin_get_fn)(void);
AMC_PLUGIN_EXPORT const amc_plugin *amc_plugin_get(void);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* AMC_PLUGIN_H_ */
