// oracle_kernel/progs/array_ops.bpf.c: the BPF programs behind the kernel
// backend's program-side ops. Each SEC("syscall") program (a
// BPF_PROG_TYPE_SYSCALL program, run with BPF_PROG_TEST_RUN) calls one map
// helper on `target` and reports through its context.
//
// The maps are placeholders: the backend replaces each with a real map fd
// (bpf_map__reuse_fd) before loading, so the verifier checks every access
// against the real map's value_size and flags. `in` and `out` are one-entry
// ARRAY scratch maps with the target's value_size: values travel into a
// helper from `in` and out of an element pointer into `out`, which keeps
// every access bounded by the verifier's knowledge of map value sizes.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

// Set before loading: the target's value_size, and the atomic add's offset
// (a constant, as in a real program: `(u64 *)(p + offset)`).
const volatile __u32 kValueSize = 8;
const volatile __u32 kOffset = 0;

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 1);
  __uint(key_size, 4);
  __uint(value_size, 8);
} target SEC(".maps"), in SEC(".maps"), out SEC(".maps");

// Shared with oracle_kernel/kernel_backend.cc (ProgContext): plain u64
// fields only.
struct ctx {
  __u64 key;
  __u64 flags;
  __u64 target_cpu;
  __u64 offset;
  __u64 delta;
  __s64 ret;   // helper return value
  __u64 null;  // 1 when the lookup returned NULL
  __u64 addr;  // the element pointer, for the alignment check
  __u64 old;   // atomic add: the value before
};

static __always_inline void copy_out(struct ctx *c, void *p) {
  __u32 zero = 0;
  c->addr = (__u64)(long)p;
  c->ret = bpf_map_update_elem(&out, &zero, p, BPF_ANY);
}

SEC("syscall")
int prog_lookup(struct ctx *c) {
  __u32 key = c->key;
  void *p = bpf_map_lookup_elem(&target, &key);
  if (!p) {
    c->null = 1;
    return 0;
  }
  copy_out(c, p);
  return 0;
}

SEC("syscall")
int prog_lookup_percpu(struct ctx *c) {
  __u32 key = c->key;
  void *p = bpf_map_lookup_percpu_elem(&target, &key, c->target_cpu);
  if (!p) {
    c->null = 1;
    return 0;
  }
  copy_out(c, p);
  return 0;
}

SEC("syscall")
int prog_update(struct ctx *c) {
  __u32 zero = 0;
  __u32 key = c->key;
  void *value = bpf_map_lookup_elem(&in, &zero);
  if (!value) {
    c->ret = -1000;  // cannot happen: `in` has one entry
    return 0;
  }
  c->ret = bpf_map_update_elem(&target, &key, value, c->flags);
  return 0;
}

SEC("syscall")
int prog_delete(struct ctx *c) {
  __u32 key = c->key;
  c->ret = bpf_map_delete_elem(&target, &key);
  return 0;
}

SEC("syscall")
int prog_atomic_add(struct ctx *c) {
  __u32 key = c->key;
  __u64 off = kOffset;
  char *p = bpf_map_lookup_elem(&target, &key);
  if (!p) {
    c->null = 1;
    return 0;
  }
  if (kValueSize < 8 || off > kValueSize - 8 || (off & 7)) {
    c->ret = -1001;  // the backend checks the offset before running
    return 0;
  }
  c->addr = (__u64)(long)p;
  c->old = __sync_fetch_and_add((__u64 *)(p + off), c->delta);
  return 0;
}
