// oracle_kernel/programs.h: the BPF programs behind the kernel backend's
// program-side ops, assembled in process for one map and loaded with one raw
// BPF_PROG_LOAD each.
//
// Each program is a BPF_PROG_TYPE_SYSCALL program (sleepable, run with
// BPF_PROG_TEST_RUN) taking a ProgContext (kernel_backend.h) that it reads
// its inputs from and writes its report into. The programs are those of
// progs/array_ops.bpf.c, instruction for instruction in effect: that file
// stays the readable source of what each does; this one writes the same
// calls as instructions, with the map fds and the load-time constants
// (value_size, the atomic add's offset) as immediates. Loading them raw
// instead of through libbpf keeps the verifier's view the same (the real
// map, its value_size and flags) and drops what libbpf added around every
// load: an ELF parse, a BTF load, a .rodata map created, written, frozen and
// bound to the program, and a dozen descriptor shuffles.
//
// Besides the five single-kind programs there is one program serving the
// lookup, update and delete kinds together, dispatched on ProgContext::op:
// it is accepted exactly when each of its kinds' programs would be (the
// verifier explores every branch), so a map loads it once instead of three
// programs; when the verifier refuses it, the kinds are loaded one by one
// and each kind's own refusal is its op's answer.
#ifndef AMC_ORACLE_KERNEL_PROGRAMS_H_
#define AMC_ORACLE_KERNEL_PROGRAMS_H_

#include <cstdint>
#include <string>

namespace amc::oracle_kernel {

enum class ProgKind : int {
  kLookup,
  kLookupPercpu,
  kUpdate,
  kDelete,
  kAtomicAdd,
  kLookupUpdateDelete,  // the three dispatched on ProgContext::op
};
inline constexpr int kProgKinds = 6;
// "prog_lookup", ... as in progs/array_ops.bpf.c; "prog_multi" for the last.
const char* ProgName(ProgKind kind);

// ProgContext::op values for kLookupUpdateDelete.
inline constexpr uint64_t kMultiLookup = 0;
inline constexpr uint64_t kMultiUpdate = 1;
inline constexpr uint64_t kMultiDelete = 2;

// How a program is run, and so where it reports.
enum class ProgFace {
  // BPF_PROG_TYPE_SYSCALL: run by BPF_PROG_TEST_RUN on the caller's CPU
  // (the caller pins itself to the op's CPU), reports into its context.
  kSyscall,
  // BPF_PROG_TYPE_RAW_TRACEPOINT: run by BPF_PROG_TEST_RUN with
  // BPF_F_TEST_RUN_ON_CPU on the op's CPU (the kernel runs it there, by an
  // IPI when it is another CPU: no migration of the caller). Its context is
  // read-only, so it reports into the `res` map (ProgReport) and returns
  // kReported. A tracing program may not use a map with a bpf_spin_lock
  // (the verifier refuses it), and may be refused where a SYSCALL program
  // is not: the backend loads it only as a faster stand-in, and loads the
  // SYSCALL program whenever this one is refused.
  kOnCpu,
};
inline constexpr uint32_t kReported = 1;

// What a kOnCpu program writes into `res`: ProgContext's report fields.
struct ProgReport {
  int64_t ret = 0;
  uint64_t null = 0;
  uint64_t addr = 0;
  uint64_t old = 0;
};
static_assert(sizeof(ProgReport) == 32, "four u64");

// The fds a program refers to: the map under test (`target`), the
// one-entry scratch maps `in` (values into prog_update) and `out` (values
// out of lookups), and for kOnCpu the one-entry ProgReport map `res`.
struct ProgMaps {
  int target = -1;
  int in = -1;
  int out = -1;
  int res = -1;
};

// Loads program `kind` for a map of `value_size` (the atomic add at
// `offset`, which must be 8-aligned and inside the value: the backend
// answers other offsets itself). Returns the program fd, or -errno of the
// kernel's BPF_PROG_LOAD. `name` becomes the program's name (for leak
// checks).
int LoadProgram(ProgKind kind, ProgFace face, const ProgMaps& maps,
                uint32_t value_size, uint32_t offset, const std::string& name);

}  // namespace amc::oracle_kernel

#endif  // AMC_ORACLE_KERNEL_PROGRAMS_H_
