// differential_fuzzer: decodes any bytes into a bounded operation sequence,
// runs it on every backend selected by AMC_BACKENDS (default: all available,
// the kernel included when privileged), and on the first disagreement prints
// every backend's result and the .ops reproducer, then aborts. A harness
// error (amc itself failed) is no finding: it is printed and the process
// exits with status 2 without a crash artifact.
#include <cstdio>
#include <cstdlib>

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

extern "C" int LLVMFuzzerInitialize(int*, char***) {
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
