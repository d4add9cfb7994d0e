// concurrency/kernel_prog.h: raw bpf() calls for concurrent drivers of the
// kernel backend's programs (oracle_kernel::RawProgramFor): one
// BPF_PROG_TEST_RUN of a SYSCALL program, and syscall lookup / update.
//
// Invariant: each call is one bpf() syscall and returns 0 or the positive
// errno it set; nothing here holds state, so any thread may call it.
// BPF_PROG_TEST_RUN of a SYSCALL program takes no `repeat` and no
// BPF_F_TEST_RUN_ON_CPU (the kernel refuses both with EINVAL), so a program
// runs once per call, on the CPU the calling thread is on.
#ifndef AMC_CONCURRENCY_KERNEL_PROG_H_
#define AMC_CONCURRENCY_KERNEL_PROG_H_

#include <cstdint>

#include "oracle_kernel/kernel_backend.h"

namespace amc::concurrency {

// The embedded programs' context (oracle_kernel/kernel_backend.h).
using ProgCtx = oracle_kernel::ProgContext;

// One run of `prog_fd` on the calling thread's CPU; the program's writes to
// its context come back in *ctx. `repeat` > 1 asks the kernel for repeats
// (refused for SYSCALL programs; exposed so a test can show it).
int TestRun(int prog_fd, ProgCtx* ctx, uint32_t repeat = 0);
// The same with BPF_F_TEST_RUN_ON_CPU and `cpu` (refused for SYSCALL
// programs; exposed so a test can show it: pinning the thread is the way).
int TestRunOnCpu(int prog_fd, ProgCtx* ctx, uint32_t cpu);
int SysLookup(int map_fd, uint32_t key, void* value, uint64_t flags);
int SysUpdate(int map_fd, uint32_t key, const void* value, uint64_t flags);
int SysDelete(int map_fd, uint32_t key);

}  // namespace amc::concurrency

#endif  // AMC_CONCURRENCY_KERNEL_PROG_H_
