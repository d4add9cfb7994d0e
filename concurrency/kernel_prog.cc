// concurrency/kernel_prog.cc: one thin wrapper per bpf() command.
#include "concurrency/kernel_prog.h"

#include <linux/bpf.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace amc::concurrency {
namespace {

uint64_t Ptr(const void* p) { return reinterpret_cast<uintptr_t>(p); }

int Bpf(int cmd, union bpf_attr* attr) {
  if (syscall(__NR_bpf, cmd, attr, sizeof *attr) < 0) return errno;
  return 0;
}

}  // namespace

int TestRun(int prog_fd, ProgCtx* ctx, uint32_t repeat) {
  union bpf_attr attr;
  std::memset(&attr, 0, sizeof attr);
  attr.test.prog_fd = prog_fd;
  attr.test.ctx_in = Ptr(ctx);
  attr.test.ctx_size_in = sizeof *ctx;
  attr.test.repeat = repeat;
  return Bpf(BPF_PROG_TEST_RUN, &attr);
}

int TestRunOnCpu(int prog_fd, ProgCtx* ctx, uint32_t cpu) {
  union bpf_attr attr;
  std::memset(&attr, 0, sizeof attr);
  attr.test.prog_fd = prog_fd;
  attr.test.ctx_in = Ptr(ctx);
  attr.test.ctx_size_in = sizeof *ctx;
  attr.test.flags = BPF_F_TEST_RUN_ON_CPU;
  attr.test.cpu = cpu;
  return Bpf(BPF_PROG_TEST_RUN, &attr);
}

int SysLookup(int map_fd, uint32_t key, void* value, uint64_t flags) {
  union bpf_attr attr;
  std::memset(&attr, 0, sizeof attr);
  attr.map_fd = map_fd;
  attr.key = Ptr(&key);
  attr.value = Ptr(value);
  attr.flags = flags;
  return Bpf(BPF_MAP_LOOKUP_ELEM, &attr);
}

int SysUpdate(int map_fd, uint32_t key, const void* value, uint64_t flags) {
  union bpf_attr attr;
  std::memset(&attr, 0, sizeof attr);
  attr.map_fd = map_fd;
  attr.key = Ptr(&key);
  attr.value = Ptr(value);
  attr.flags = flags;
  return Bpf(BPF_MAP_UPDATE_ELEM, &attr);
}

int SysDelete(int map_fd, uint32_t key) {
  union bpf_attr attr;
  std::memset(&attr, 0, sizeof attr);
  attr.map_fd = map_fd;
  attr.key = Ptr(&key);
  return Bpf(BPF_MAP_DELETE_ELEM, &attr);
}

}  // namespace amc::concurrency
