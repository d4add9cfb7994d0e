// differential_fuzzer: decodes any bytes into a bounded operation sequence,
// runs it on every backend selected by AMC_BACKENDS (default: all available,
// the kernel included when privileged), and on the first disagreement prints
// every backend's result and the .ops reproducer, then aborts. A harness
// error (amc itself failed) is no finding: it is printed and the process
// exits with status 2 without a crash artifact.
//
// AMC_BACKENDS=model,plugin:PATH loads the plug-in into this process
// (HarnessOptions::plugins_in_process), so a plug-in built with
// -fsanitize=fuzzer-no-link guides the fuzzer with its own coverage
// (docs/plugins.md, "Fuzzing a plug-in with libFuzzer").
//
// Under libFuzzer the length control is off by default (-len_control=0,
// -max_len=1024, as differential_fuzzer.options says for OSS-Fuzz): with
// libFuzzer's default, inputs stayed at 38 bytes or less for minutes, too
// short for a spin-lock map and an update with BPF_NOEXIST | BPF_F_LOCK.
// Flags on the command line win.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "core/harness_error.h"
#include "fuzzers/differential_harness.h"
#include "fuzzers/fuzz_target.h"

namespace {

const amc::fuzzers::DifferentialHarness& Harness() {
  static const auto* harness = [] {
    amc::fuzzers::TuneAllocatorForFuzzing();
    auto* h = new amc::fuzzers::DifferentialHarness(
        amc::backends::BackendListFromEnvironment());
    if (!h->error().empty()) {
      std::fprintf(stderr, "differential_fuzzer: %s\n", h->error().c_str());
      std::exit(1);
    }
    std::string names;
    for (auto* b : h->backends()) names += (names.empty() ? "" : ",") + b->Name();
    std::fprintf(stderr, "differential_fuzzer: backends %s\n", names.c_str());
    for (const auto& [name, reason] : h->unavailable()) {
      std::fprintf(stderr, "differential_fuzzer: not running %s: %s\n",
                   name.c_str(), reason.c_str());
    }
    return h;
  }();
  return *harness;
}

// Defined by libFuzzer (LLVM 13 and later), absent from the replay main.
extern "C" __attribute__((weak)) int LLVMFuzzerRunDriver(
    int* argc, char*** argv, int (*callback)(const uint8_t*, size_t));

// Appends each default flag the command line does not give.
void AddDefaultFlags(int* argc, char*** argv) {
  static const char* const kDefaults[][2] = {{"-len_control=", "0"},
                                             {"-max_len=", "1024"}};
  static std::vector<std::string> added;
  static std::vector<char*> args;
  args.assign(*argv, *argv + *argc);
  for (const auto& [name, value] : kDefaults) {
    bool given = false;
    for (int i = 1; i < *argc; ++i) {
      given = given || std::strncmp((*argv)[i], name, std::strlen(name)) == 0;
    }
    if (!given) added.push_back(std::string(name) + value);
  }
  if (added.empty()) return;
  for (std::string& flag : added) args.push_back(flag.data());
  args.push_back(nullptr);
  *argc = static_cast<int>(args.size() - 1);
  *argv = args.data();
}

extern "C" int LLVMFuzzerInitialize(int* argc, char*** argv) {
  if (LLVMFuzzerRunDriver != nullptr && argc && argv) AddDefaultFlags(argc, argv);
  Harness();
  return 0;
}

// Exit status of a run stopped by a harness error: not a crash, so no
// artifact is written (libFuzzer's atexit hook is bypassed by _Exit).
constexpr int kHarnessErrorExit = 2;

[[noreturn]] void StopOnHarnessError(const char* what) {
  std::fprintf(stderr,
               "differential_fuzzer: HARNESS ERROR (amc itself failed; not a "
               "finding, no crash artifact): %s\n",
               what);
  std::fflush(stderr);
  std::_Exit(kHarnessErrorExit);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::optional<std::string> report;
  try {
    report = Harness().Check(data, size);
  } catch (const amc::core::HarnessError& e) {
    StopOnHarnessError(e.what());
  }
  if (report) {
    std::fprintf(stderr, "%s", report->c_str());
    std::fflush(stderr);
    std::abort();
  }
  return 0;
}

bool amc::fuzzers::ToOps(const uint8_t* data, size_t size,
                         const std::string& source,
                         const std::string& record_with, std::string* out) {
  try {
    *out = Harness().ToOps(data, size, source, record_with);
  } catch (const amc::core::HarnessError& e) {
    *out = std::string("HARNESS ERROR (amc itself failed): ") + e.what();
    return false;
  }
  return true;
}
