// tools/amc/limits.cc: RLIMIT_NOFILE and RLIMIT_AS at start-up.
#include "tools/amc/limits.h"

#include <sys/resource.h>

namespace amc::cli {
namespace {

// The process itself: stdio, report files, the registry's probes, plug-in
// children's pipes.
constexpr uint64_t kMargin = 64;
// A kernel job: up to 8 cached maps and the live one (KernelBackend's
// cache), each with its creation fd, its read-write fd, two scratch maps
// and a few loaded programs (a program fd and its .rodata map each).
constexpr uint64_t kKernelMapsPerJob = 9;
constexpr uint64_t kKernelFdsPerMap = 16;
// A job without the kernel: the impl's memfds (a map and its read-only
// reopen, the memfd cache) and the model's nothing.
constexpr uint64_t kUserFdsPerJob = 16;

std::string Number(rlim_t v) {
  return v == RLIM_INFINITY ? std::string("unlimited") : std::to_string(v);
}

}  // namespace

bool MayRunKernel(const std::string& backend_list) {
  return backend_list.empty() ||
         backend_list.find("kernel") != std::string::npos;
}

uint64_t DescriptorsNeeded(unsigned jobs, bool kernel) {
  const uint64_t per_job =
      kernel ? kKernelMapsPerJob * kKernelFdsPerMap + kUserFdsPerJob
             : kUserFdsPerJob;
  return kMargin + uint64_t{jobs} * per_job;
}

LimitCheck EnsureLimits(unsigned jobs, bool kernel) {
  LimitCheck out;
  const uint64_t need = DescriptorsNeeded(jobs, kernel);
  struct rlimit nofile;
  if (getrlimit(RLIMIT_NOFILE, &nofile) == 0 &&
      nofile.rlim_cur != RLIM_INFINITY && nofile.rlim_cur < need) {
    {
      if (nofile.rlim_max != RLIM_INFINITY && nofile.rlim_max < need) {
        out.error = "this run needs " + std::to_string(need) +
                    " file descriptors (" + std::to_string(jobs) + " job" +
                    (jobs == 1 ? "" : "s") +
                    (kernel ? " with the kernel backend" : "") +
                    ") but RLIMIT_NOFILE's hard limit is " +
                    Number(nofile.rlim_max) +
                    " (raise it, e.g. ulimit -n " + std::to_string(need) +
                    ", or run fewer --jobs)";
        return out;
      }
      struct rlimit raised = {static_cast<rlim_t>(need), nofile.rlim_max};
      if (setrlimit(RLIMIT_NOFILE, &raised) != 0) {
        out.error = "this run needs " + std::to_string(need) +
                    " file descriptors; raising RLIMIT_NOFILE from " +
                    Number(nofile.rlim_cur) + " failed";
        return out;
      }
      out.note = "raised the file descriptor limit (RLIMIT_NOFILE) from " +
                 Number(nofile.rlim_cur) + " to " + std::to_string(need);
    }
  }
  struct rlimit as;
  if (getrlimit(RLIMIT_AS, &as) == 0 && as.rlim_cur != RLIM_INFINITY) {
    if (!out.note.empty()) out.note += "; ";
    out.note += "the address space is limited (RLIMIT_AS " +
                Number(as.rlim_cur) +
                " bytes): an allocation that fails under it is reported as a "
                "HARNESS ERROR, never as a result";
  }
  return out;
}

}  // namespace amc::cli
