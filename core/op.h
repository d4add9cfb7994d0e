// core/op.h: the operation language. One Op is one thing a user or a BPF
// program can do to an array map; a Sequence is a map spec plus ops, the one
// value that properties generate, fuzzers decode, the corpus stores and every
// backend executes.
//
// Invariant: ops are plain data with no backend knowledge. Every field a
// caller could get wrong (flags, keys past the end, odd lengths) is kept raw
// so that any bit pattern can be tried; its meaning is a result.
#ifndef AMC_CORE_OP_H_
#define AMC_CORE_OP_H_

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "core/map_spec.h"
#include "core/result.h"

namespace amc::core {

using Bytes = std::vector<uint8_t>;

// ---- syscall side (bpf(2) commands on the map fd) ----

// BPF_MAP_LOOKUP_ELEM.
struct Lookup {
  uint32_t key = 0;
  uint64_t flags = 0;
  bool operator==(const Lookup&) const = default;
};
// BPF_MAP_UPDATE_ELEM; `value` is the whole syscall value buffer
// (SyscallValueSize bytes; a backend pads or truncates it to that size).
struct Update {
  uint32_t key = 0;
  Bytes value;
  uint64_t flags = 0;
  bool operator==(const Update&) const = default;
};
// BPF_MAP_DELETE_ELEM.
struct Delete {
  uint32_t key = 0;
  bool operator==(const Delete&) const = default;
};
// BPF_MAP_LOOKUP_AND_DELETE_ELEM.
struct LookupAndDelete {
  uint32_t key = 0;
  uint64_t flags = 0;
  bool operator==(const LookupAndDelete&) const = default;
};
// BPF_MAP_GET_NEXT_KEY; no key means a NULL key pointer.
struct GetNextKey {
  std::optional<uint32_t> key;
  bool operator==(const GetNextKey&) const = default;
};
// BPF_MAP_LOOKUP_BATCH; no in_batch means a NULL in_batch pointer.
struct LookupBatch {
  std::optional<uint32_t> in_batch;
  uint32_t count = 0;
  uint64_t elem_flags = 0;
  uint64_t flags = 0;
  bool operator==(const LookupBatch&) const = default;
};
// BPF_MAP_LOOKUP_AND_DELETE_BATCH.
struct LookupAndDeleteBatch {
  std::optional<uint32_t> in_batch;
  uint32_t count = 0;
  uint64_t elem_flags = 0;
  uint64_t flags = 0;
  bool operator==(const LookupAndDeleteBatch&) const = default;
};
// BPF_MAP_UPDATE_BATCH: count = keys.size(); `values` is keys.size() syscall
// value buffers packed back to back (a backend pads or truncates).
struct UpdateBatch {
  std::vector<uint32_t> keys;
  Bytes values;
  uint64_t elem_flags = 0;
  uint64_t flags = 0;
  bool operator==(const UpdateBatch&) const = default;
};
// BPF_MAP_DELETE_BATCH: count = keys.size().
struct DeleteBatch {
  std::vector<uint32_t> keys;
  uint64_t elem_flags = 0;
  uint64_t flags = 0;
  bool operator==(const DeleteBatch&) const = default;
};
// BPF_MAP_FREEZE.
struct Freeze {
  bool operator==(const Freeze&) const = default;
};

// ---- mmap of the map fd ----
// A sequence holds up to kMappingSlots mappings, named by slot.
inline constexpr uint32_t kMappingSlots = 4;
inline constexpr uint32_t kProtRead = 1;   // PROT_READ
inline constexpr uint32_t kProtWrite = 2;  // PROT_WRITE
inline constexpr uint32_t kProtExec = 4;   // PROT_EXEC

// mmap(NULL, length, prot, shared ? MAP_SHARED : MAP_PRIVATE, fd, offset).
// Harness conventions (the same in every backend, see MappingTable):
// a slot >= kMappingSlots or already holding a mapping gives EBUSY without
// calling mmap.
struct Mmap {
  uint32_t slot = 0;
  uint64_t offset = 0;
  uint64_t length = 0;
  uint32_t prot = kProtRead;
  bool shared = true;
  bool operator==(const Mmap&) const = default;
};
// Reads `length` bytes at `offset` through the mapping in `slot`.
// Harness conventions: empty slot -> EBADF; an access outside the mapping or
// one the protection forbids (it would fault) -> EFAULT, nothing touched.
struct MmapRead {
  uint32_t slot = 0;
  uint64_t offset = 0;
  uint64_t length = 0;
  bool operator==(const MmapRead&) const = default;
};
// Writes `bytes` at `offset` through the mapping in `slot` (same conventions).
struct MmapWrite {
  uint32_t slot = 0;
  uint64_t offset = 0;
  Bytes bytes;
  bool operator==(const MmapWrite&) const = default;
};
// munmap of the whole mapping in `slot`; empty slot -> EBADF.
struct Munmap {
  uint32_t slot = 0;
  bool operator==(const Munmap&) const = default;
};

// ---- program side: a BPF program running on `cpu` calls a helper ----
// Harness convention for every program op: a cpu that is not an ONLINE CPU
// (cpu >= Environment::Online(): past the possible CPUs, or possible but
// offline) gives EINVAL; nothing is loaded or run. The harness pins the
// program's thread with sched_setaffinity, which refuses a CPU that is not
// online with EINVAL (taskset on a 7.3 guest booted `-smp 4` with
// `maxcpus=2`: CPUs 2-3 possible and offline). Syscall ops are not limited
// by it: lookups and updates read and write every possible CPU's slot, and
// bpf_map_lookup_percpu_elem reaches a possible-but-offline target CPU's
// slot (NULL only from nr_cpu_ids on). Recorded: corpus/geometries/.

// bpf_map_lookup_elem(map, &key); the program then reads value_size bytes
// through the pointer. Result: null, or the bytes and the pointer alignment.
struct ProgLookup {
  uint32_t cpu = 0;
  uint32_t key = 0;
  bool operator==(const ProgLookup&) const = default;
};
// bpf_map_update_elem(map, &key, value, flags); `value` is value_size bytes.
struct ProgUpdate {
  uint32_t cpu = 0;
  uint32_t key = 0;
  Bytes value;
  uint64_t flags = 0;
  bool operator==(const ProgUpdate&) const = default;
};
// bpf_map_delete_elem(map, &key).
struct ProgDelete {
  uint32_t cpu = 0;
  uint32_t key = 0;
  bool operator==(const ProgDelete&) const = default;
};
// bpf_map_lookup_percpu_elem(map, &key, target_cpu), then a read of
// value_size bytes through the pointer.
struct ProgLookupPercpu {
  uint32_t cpu = 0;
  uint32_t key = 0;
  uint32_t target_cpu = 0;
  bool operator==(const ProgLookupPercpu&) const = default;
};
// p = bpf_map_lookup_elem(map, &key); if (p) old = __sync_fetch_and_add(
// (u64 *)(p + offset), delta). Harness convention: an offset that is not
// 8-aligned or with offset + 8 > value_size gives EACCES (the verifier's
// answer to an out-of-bounds or misaligned access); nothing runs.
struct ProgAtomicAdd {
  uint32_t cpu = 0;
  uint32_t key = 0;
  uint32_t offset = 0;
  uint64_t delta = 0;
  bool operator==(const ProgAtomicAdd&) const = default;
};

using Op = std::variant<Lookup, Update, Delete, LookupAndDelete, GetNextKey,
                        LookupBatch, LookupAndDeleteBatch, UpdateBatch,
                        DeleteBatch, Freeze, Mmap, MmapRead, MmapWrite, Munmap,
                        ProgLookup, ProgUpdate, ProgDelete, ProgLookupPercpu,
                        ProgAtomicAdd>;

// Stable kind index (the variant index) and its text name ("lookup",
// "update_batch", "prog_atomic_add", ...).
enum class OpKind : uint8_t {
  kLookup, kUpdate, kDelete, kLookupAndDelete, kGetNextKey, kLookupBatch,
  kLookupAndDeleteBatch, kUpdateBatch, kDeleteBatch, kFreeze, kMmap,
  kMmapRead, kMmapWrite, kMunmap, kProgLookup, kProgUpdate, kProgDelete,
  kProgLookupPercpu, kProgAtomicAdd,
};
inline constexpr size_t kOpKindCount = std::variant_size_v<Op>;

inline OpKind KindOf(const Op& op) { return static_cast<OpKind>(op.index()); }
const char* OpKindName(OpKind kind);
std::optional<OpKind> OpKindFromName(const std::string& name);
// True for ops that run inside a BPF program.
bool IsProgramOp(OpKind kind);

// One op with an optional expected result (recorded on a kernel or written
// by hand from the spec).
struct Step {
  Op op;
  std::optional<Result> expect;
  bool operator==(const Step&) const = default;
};

// A map spec plus the ops to run on it.
struct Sequence {
  MapSpec spec;
  // Expected creation errno (0 = created), when recorded.
  std::optional<int> expect_create;
  std::vector<Step> steps;
  // Where the case came from, which kernel recorded it: kept verbatim.
  std::vector<std::string> comments;
  // The environment the expectations were recorded in, if any. Expectations
  // are checked against backends instantiated for this environment.
  std::optional<Environment> env;

  bool operator==(const Sequence&) const = default;
  bool HasExpectations() const;
};

}  // namespace amc::core

#endif  // AMC_CORE_OP_H_
