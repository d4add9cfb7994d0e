#include "oracle_kernel/programs.h"

#include <gtest/gtest.h>
#include <linux/bpf.h>
#include <sched.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstring>
#include <string>
#include <vector>

#include "core/map_spec.h"
#include "oracle_kernel/kernel_backend.h"

namespace amc::oracle_kernel {
namespace {

long Bpf(int cmd, union bpf_attr* attr) {
  return syscall(__NR_bpf, cmd, attr, sizeof *attr);
}

int MakeMap(uint32_t type, uint32_t value_size, uint32_t max_entries,
            uint32_t flags) {
  union bpf_attr attr;
  std::memset(&attr, 0, sizeof attr);
  attr.map_type = type;
  attr.key_size = 4;
  attr.value_size = value_size;
  attr.max_entries = max_entries;
  attr.map_flags = flags;
  return static_cast<int>(Bpf(BPF_MAP_CREATE, &attr));
}

int Lookup(int fd, uint32_t key, void* value) {
  union bpf_attr attr;
  std::memset(&attr, 0, sizeof attr);
  attr.map_fd = fd;
  attr.key = reinterpret_cast<uintptr_t>(&key);
  attr.value = reinterpret_cast<uintptr_t>(value);
  return Bpf(BPF_MAP_LOOKUP_ELEM, &attr) == 0 ? 0 : errno;
}

int Update(int fd, uint32_t key, const void* value) {
  union bpf_attr attr;
  std::memset(&attr, 0, sizeof attr);
  attr.map_fd = fd;
  attr.key = reinterpret_cast<uintptr_t>(&key);
  attr.value = reinterpret_cast<uintptr_t>(value);
  return Bpf(BPF_MAP_UPDATE_ELEM, &attr) == 0 ? 0 : errno;
}

// A map of `type` with its scratch maps, every element set to a pattern.
struct Maps {
  uint32_t value_size = 16;
  uint32_t cpus = 1;
  uint32_t per_key = 16;  // syscall buffer per key
  ProgMaps fds;
  std::vector<int> owned;
  Maps(uint32_t type, uint32_t flags, uint32_t possible) {
    const bool percpu = type == BPF_MAP_TYPE_PERCPU_ARRAY;
    cpus = percpu ? possible : 1;
    per_key = 16 * cpus;
    fds.target = MakeMap(type, value_size, 4, flags);
    fds.in = MakeMap(BPF_MAP_TYPE_ARRAY, value_size, 1, 0);
    fds.out = MakeMap(BPF_MAP_TYPE_ARRAY, value_size, 1, 0);
    fds.res = MakeMap(BPF_MAP_TYPE_ARRAY, sizeof(ProgReport), 1, 0);
    owned = {fds.target, fds.in, fds.out, fds.res};
    std::vector<uint8_t> in(value_size, 0x5a);
    Update(fds.in, 0, in.data());
    for (uint32_t key = 0; key < 4; ++key) {
      std::vector<uint8_t> v(per_key);
      for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<uint8_t>(key * 31 + i);
      Update(fds.target, key, v.data());
    }
  }
  ~Maps() {
    for (int fd : owned) {
      if (fd >= 0) close(fd);
    }
  }
  std::vector<uint8_t> State() const {
    std::vector<uint8_t> all;
    for (uint32_t key = 0; key < 4; ++key) {
      std::vector<uint8_t> v(per_key);
      Lookup(fds.target, key, v.data());
      all.insert(all.end(), v.begin(), v.end());
    }
    return all;
  }
  std::vector<uint8_t> Out() const {
    std::vector<uint8_t> v(value_size);
    Lookup(fds.out, 0, v.data());
    return v;
  }
};

// What one run of a program did: its report (element address reduced to
// its alignment), the copied-out value and the map afterwards.
struct Outcome {
  int run_err = 0;
  int64_t ret = 0;
  uint64_t null = 0;
  uint64_t aligned = 0;
  uint64_t old = 0;
  std::vector<uint8_t> out, state;
  bool operator==(const Outcome&) const = default;
};

Outcome RunOnce(ProgFace face, int prog, const Maps& m, ProgContext ctx,
            uint32_t cpu) {
  Outcome o;
  union bpf_attr attr;
  std::memset(&attr, 0, sizeof attr);
  attr.test.prog_fd = prog;
  attr.test.ctx_in = reinterpret_cast<uintptr_t>(&ctx);
  attr.test.ctx_size_in = sizeof ctx;
  cpu_set_t old_set, set;
  sched_getaffinity(0, sizeof old_set, &old_set);
  if (face == ProgFace::kOnCpu) {
    attr.test.flags = BPF_F_TEST_RUN_ON_CPU;
    attr.test.cpu = cpu;
  } else {
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    sched_setaffinity(0, sizeof set, &set);
  }
  o.run_err = Bpf(BPF_PROG_TEST_RUN, &attr) == 0 ? 0 : errno;
  sched_setaffinity(0, sizeof old_set, &old_set);
  if (face == ProgFace::kOnCpu) {
    EXPECT_EQ(attr.test.retval, kReported);
    ProgReport r;
    Lookup(m.fds.res, 0, &r);
    ctx.ret = r.ret;
    ctx.null = r.null;
    ctx.addr = r.addr;
    ctx.old = r.old;
  }
  o.ret = ctx.ret;
  o.null = ctx.null;
  o.aligned = ctx.addr % 8 == 0;
  o.old = ctx.old;
  o.out = m.Out();
  o.state = m.State();
  return o;
}

// The claim the backend rests on: where the verifier takes a kOnCpu
// program, it takes the SYSCALL program too, and both do the same to the
// same map on the same CPU.
TEST(ProgramsTest, OnCpuProgramsAnswerAsTheSyscallProgramsDo) {
  KernelBackend kernel;
  if (!kernel.Probe().available || kernel.Facts().on_cpu_err != 0) {
    GTEST_SKIP() << "needs the kernel and BPF_F_TEST_RUN_ON_CPU";
  }
  const uint32_t possible = kernel.Env().possible_cpus;
  const uint32_t online = kernel.Env().Online();
  struct Kind {
    ProgKind kind;
    uint64_t op;
  };
  const Kind kinds[] = {{ProgKind::kLookup, 0},
                        {ProgKind::kLookupPercpu, 0},
                        {ProgKind::kUpdate, 0},
                        {ProgKind::kDelete, 0},
                        {ProgKind::kAtomicAdd, 0},
                        {ProgKind::kLookupUpdateDelete, kMultiLookup},
                        {ProgKind::kLookupUpdateDelete, kMultiUpdate},
                        {ProgKind::kLookupUpdateDelete, kMultiDelete}};
  int compared = 0;
  for (uint32_t type : {BPF_MAP_TYPE_ARRAY, BPF_MAP_TYPE_PERCPU_ARRAY}) {
    for (uint32_t flags : {0u, uint32_t{BPF_F_RDONLY_PROG},
                           uint32_t{BPF_F_WRONLY_PROG}}) {
      for (const Kind& k : kinds) {
        for (uint32_t key : {1u, 4u}) {
          for (uint32_t cpu = 0; cpu < online; ++cpu) {
            Maps a(type, flags, possible), b(type, flags, possible);
            ASSERT_GE(a.fds.target, 0);
            ASSERT_GE(b.fds.target, 0);
            const uint32_t offset = k.kind == ProgKind::kAtomicAdd ? 8 : 0;
            int fast = LoadProgram(k.kind, ProgFace::kOnCpu, a.fds,
                                   a.value_size, offset, "amc_test");
            int slow = LoadProgram(k.kind, ProgFace::kSyscall, b.fds,
                                   b.value_size, offset, "amc_test");
            std::string what = std::string(ProgName(k.kind)) + " op " +
                               std::to_string(k.op) + " type " +
                               std::to_string(type) + " flags " +
                               std::to_string(flags);
            if (fast >= 0) {
              EXPECT_GE(slow, 0) << what << ": only the kOnCpu program loads";
            }
            if (fast >= 0 && slow >= 0) {
              ProgContext ctx;
              ctx.key = key;
              ctx.target_cpu = possible - 1;
              ctx.delta = 3;
              ctx.op = k.op;
              EXPECT_EQ(RunOnce(ProgFace::kOnCpu, fast, a, ctx, cpu),
                        RunOnce(ProgFace::kSyscall, slow, b, ctx, cpu))
                  << what << " key " << key << " cpu " << cpu;
              ++compared;
            }
            if (fast >= 0) close(fast);
            if (slow >= 0) close(slow);
          }
        }
      }
    }
  }
  EXPECT_GT(compared, 20);
}

}  // namespace
}  // namespace amc::oracle_kernel
