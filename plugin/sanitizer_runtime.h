// plugin/sanitizer_runtime.h: what a plug-in built with AddressSanitizer
// (and UBSan) needs from the child process that loads it, and how a
// sanitizer's report in that child's stderr becomes a finding.
//
// A shared library built with clang's -fsanitize=address carries no copy
// of the runtime: it calls __asan_init and expects the program to have it.
// amc is an ordinary program, so its plug-in child would fail to dlopen such
// a library ("undefined symbol: __asan_..."). PlanSanitizerRuntime reads the
// plug-in's ELF dynamic section and symbols and answers which runtime the
// child must preload (LD_PRELOAD) and which sanitizer options it runs with.
//
// Invariant: a plug-in without sanitizer instrumentation gets an empty plan
// (its child's environment is exactly the parent's); AMC_PLUGIN_PRELOAD,
// when set, is preloaded whatever the plug-in holds.
#ifndef AMC_PLUGIN_SANITIZER_RUNTIME_H_
#define AMC_PLUGIN_SANITIZER_RUNTIME_H_

#include <string>
#include <vector>

namespace amc::plugin {

// What an ELF shared object says about sanitizers.
struct SanitizerNeeds {
  bool readable = false;    // an ELF64 file whose dynamic symbols were read
  bool asan = false;        // instrumented for AddressSanitizer
  bool ubsan = false;       // calls UBSan's handlers (__ubsan_handle_*)
  // A DT_NEEDED entry naming a sanitizer runtime ("libasan.so.8" from gcc,
  // "libclang_rt.asan-x86_64.so" from clang -shared-libasan), or "".
  std::string needed_runtime;
};
SanitizerNeeds ReadSanitizerNeeds(const std::string& path);

struct SanitizerPlan {
  // "" when nothing is preloaded; else the LD_PRELOAD entry.
  std::string preload;
  // Environment entries ("NAME=value") the child gets in place of the
  // parent's ones of the same name; empty for a plug-in with no sanitizer.
  std::vector<std::string> env;
  // Set when the plug-in needs a runtime that could not be found (the
  // child would fail to load it): says what to install or set.
  std::string error;
};

// The plan for a child that loads `path`. Reads AMC_PLUGIN_PRELOAD,
// ASAN_OPTIONS, UBSAN_OPTIONS and LD_PRELOAD from this process's
// environment. No runtime is preloaded when this process already has one
// (amc built with -fsanitize=address).
SanitizerPlan PlanSanitizerRuntime(const std::string& path);

// The sanitizer runtime clang's -print-file-name gives for
// libclang_rt.asan-x86_64.so, as found when amc was configured, then under
// /usr/lib/llvm-*/; "" when there is none.
std::string FindClangAsanRuntime();

// The first sanitizer report in `stderr_text` (from its "ERROR:
// AddressSanitizer" / "ERROR: LeakSanitizer" / "runtime error:" line):
// that line, the access line, the first `frames` stack frames and the
// SUMMARY line. "" when the text holds none.
std::string ExtractSanitizerReport(const std::string& stderr_text,
                                   size_t frames = 8);

}  // namespace amc::plugin

#endif  // AMC_PLUGIN_SANITIZER_RUNTIME_H_
