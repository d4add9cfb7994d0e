// core/names.cc: symbolic names for errnos and op kinds.
#include <cstdlib>
#include <utility>

#include "core/op.h"
#include "core/result.h"

namespace amc::core {
namespace {

// Linux errno numbers (include/uapi/asm-generic/errno*.h) and the
// kernel-internal ones that can reach user space (include/linux/errno.h),
// among them ENOTSUPP (524), which BPF returns for unsupported commands.
constexpr std::pair<int, const char*> kErrnoNames[] = {
    {1, "EPERM"},
    {2, "ENOENT"},
    {3, "ESRCH"},
    {4, "EINTR"},
    {5, "EIO"},
    {6, "ENXIO"},
    {7, "E2BIG"},
    {8, "ENOEXEC"},
    {9, "EBADF"},
    {10, "ECHILD"},
    {11, "EAGAIN"},
    {12, "ENOMEM"},
    {13, "EACCES"},
    {14, "EFAULT"},
    {15, "ENOTBLK"},
    {16, "EBUSY"},
    {17, "EEXIST"},
    {18, "EXDEV"},
    {19, "ENODEV"},
    {20, "ENOTDIR"},
    {21, "EISDIR"},
    {22, "EINVAL"},
    {23, "ENFILE"},
    {24, "EMFILE"},
    {25, "ENOTTY"},
    {26, "ETXTBSY"},
    {27, "EFBIG"},
    {28, "ENOSPC"},
    {29, "ESPIPE"},
    {30, "EROFS"},
    {31, "EMLINK"},
    {32, "EPIPE"},
    {33, "EDOM"},
    {34, "ERANGE"},
    {35, "EDEADLK"},
    {36, "ENAMETOOLONG"},
    {37, "ENOLCK"},
    {38, "ENOSYS"},
    {39, "ENOTEMPTY"},
    {40, "ELOOP"},
    {42, "ENOMSG"},
    {43, "EIDRM"},
    {44, "ECHRNG"},
    {45, "EL2NSYNC"},
    {46, "EL3HLT"},
    {47, "EL3RST"},
    {48, "ELNRNG"},
    {49, "EUNATCH"},
    {50, "ENOCSI"},
    {51, "EL2HLT"},
    {52, "EBADE"},
    {53, "EBADR"},
    {54, "EXFULL"},
    {55, "ENOANO"},
    {56, "EBADRQC"},
    {57, "EBADSLT"},
    {59, "EBFONT"},
    {60, "ENOSTR"},
    {61, "ENODATA"},
    {62, "ETIME"},
    {63, "ENOSR"},
    {64, "ENONET"},
    {65, "ENOPKG"},
    {66, "EREMOTE"},
    {67, "ENOLINK"},
    {68, "EADV"},
    {69, "ESRMNT"},
    {70, "ECOMM"},
    {71, "EPROTO"},
    {72, "EMULTIHOP"},
    {73, "EDOTDOT"},
    {74, "EBADMSG"},
    {75, "EOVERFLOW"},
    {76, "ENOTUNIQ"},
    {77, "EBADFD"},
    {78, "EREMCHG"},
    {79, "ELIBACC"},
    {80, "ELIBBAD"},
    {81, "ELIBSCN"},
    {82, "ELIBMAX"},
    {83, "ELIBEXEC"},
    {84, "EILSEQ"},
    {85, "ERESTART"},
    {86, "ESTRPIPE"},
    {87, "EUSERS"},
    {88, "ENOTSOCK"},
    {89, "EDESTADDRREQ"},
    {90, "EMSGSIZE"},
    {91, "EPROTOTYPE"},
    {92, "ENOPROTOOPT"},
    {93, "EPROTONOSUPPORT"},
    {94, "ESOCKTNOSUPPORT"},
    {95, "EOPNOTSUPP"},
    {96, "EPFNOSUPPORT"},
    {97, "EAFNOSUPPORT"},
    {98, "EADDRINUSE"},
    {99, "EADDRNOTAVAIL"},
    {100, "ENETDOWN"},
    {101, "ENETUNREACH"},
    {102, "ENETRESET"},
    {103, "ECONNABORTED"},
    {104, "ECONNRESET"},
    {105, "ENOBUFS"},
    {106, "EISCONN"},
    {107, "ENOTCONN"},
    {108, "ESHUTDOWN"},
    {109, "ETOOMANYREFS"},
    {110, "ETIMEDOUT"},
    {111, "ECONNREFUSED"},
    {112, "EHOSTDOWN"},
    {113, "EHOSTUNREACH"},
    {114, "EALREADY"},
    {115, "EINPROGRESS"},
    {116, "ESTALE"},
    {117, "EUCLEAN"},
    {118, "ENOTNAM"},
    {119, "ENAVAIL"},
    {120, "EISNAM"},
    {121, "EREMOTEIO"},
    {122, "EDQUOT"},
    {123, "ENOMEDIUM"},
    {124, "EMEDIUMTYPE"},
    {125, "ECANCELED"},
    {126, "ENOKEY"},
    {127, "EKEYEXPIRED"},
    {128, "EKEYREVOKED"},
    {129, "EKEYREJECTED"},
    {130, "EOWNERDEAD"},
    {131, "ENOTRECOVERABLE"},
    {132, "ERFKILL"},
    {512, "ERESTARTSYS"},
    {513, "ERESTARTNOINTR"},
    {514, "ERESTARTNOHAND"},
    {515, "ENOIOCTLCMD"},
    {516, "ERESTART_RESTARTBLOCK"},
    {517, "EPROBE_DEFER"},
    {518, "EOPENSTALE"},
    {519, "ENOPARAM"},
    {521, "EBADHANDLE"},
    {522, "ENOTSYNC"},
    {523, "EBADCOOKIE"},
    {524, "ENOTSUPP"},
    {525, "ETOOSMALL"},
    {526, "ESERVERFAULT"},
    {527, "EBADTYPE"},
    {528, "EJUKEBOX"},
    {529, "EIOCBQUEUED"},
    {530, "ERECALLCONFLICT"},
    {531, "ENOGRACE"},
};

constexpr const char* kOpKindNames[] = {
    "lookup",          "update",        "delete",
    "lookup_and_delete", "get_next_key", "lookup_batch",
    "lookup_and_delete_batch", "update_batch", "delete_batch",
    "freeze",          "mmap",          "mmap_read",
    "mmap_write",      "munmap",        "prog_lookup",
    "prog_update",     "prog_delete",   "prog_lookup_percpu",
    "prog_atomic_add",
};
static_assert(sizeof(kOpKindNames) / sizeof(kOpKindNames[0]) == kOpKindCount);

// The harness pseudo-errnos of core/result.h.
constexpr std::pair<int, const char*> kHarnessNames[] = {
    {kErrCrashedBase + 4, "CRASH_SIGILL"},  {kErrCrashedBase + 5, "CRASH_SIGTRAP"},
    {kErrCrashedBase + 6, "CRASH_SIGABRT"}, {kErrCrashedBase + 7, "CRASH_SIGBUS"},
    {kErrCrashedBase + 8, "CRASH_SIGFPE"},  {kErrCrashedBase + 9, "CRASH_SIGKILL"},
    {kErrCrashedBase + 11, "CRASH_SIGSEGV"}, {kErrHung, "HANG"},
    {kErrOverrun, "OVERRUN"},               {kErrLost, "LOST"},
    {kErrSanitizer, "SANITIZER"},
};

}  // namespace

std::string ErrnoName(int err) {
  if (err == 0) return "ok";
  for (const auto& [code, name] : kHarnessNames) {
    if (code == err) return name;
  }
  if (err > kErrCrashedBase && err < kErrCrashedBase + 65) {
    return "CRASH_SIG" + std::to_string(err - kErrCrashedBase);
  }
  for (const auto& [code, name] : kErrnoNames) {
    if (code == err) return name;
  }
  return std::to_string(err);
}

std::optional<int> ErrnoFromName(const std::string& name) {
  if (name == "ok") return 0;
  for (const auto& [code, n] : kHarnessNames) {
    if (name == n) return code;
  }
  for (const auto& [code, n] : kErrnoNames) {
    if (name == n) return code;
  }
  // Aliases that print under another name.
  if (name == "EWOULDBLOCK") return 11;
  if (name == "ENOTSUP") return 95;
  if (name == "EDEADLOCK") return 35;
  if (name.empty() || name.size() > 9) return std::nullopt;
  int value = 0;
  for (char c : name) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + (c - '0');
  }
  return value;
}

const char* OpKindName(OpKind kind) {
  return kOpKindNames[static_cast<size_t>(kind)];
}

std::optional<OpKind> OpKindFromName(const std::string& name) {
  for (size_t i = 0; i < kOpKindCount; ++i) {
    if (name == kOpKindNames[i]) return static_cast<OpKind>(i);
  }
  return std::nullopt;
}

bool IsProgramOp(OpKind kind) {
  return kind >= OpKind::kProgLookup;
}

bool Sequence::HasExpectations() const {
  if (expect_create.has_value()) return true;
  for (const Step& step : steps) {
    if (step.expect.has_value()) return true;
  }
  return false;
}

}  // namespace amc::core
