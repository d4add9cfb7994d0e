// differential_fuzzer: decodes any bytes into a bounded operation sequence,
// runs it on every backend selected by AMC_BACKENDS (default: all available,
// the kernel included when privileged), and on the first disagreement prints
// every backend's result and the .ops reproducer, then aborts.
#include <cstdio>
#include <cstdlib>

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

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  Harness();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (auto report = Harness().Check(data, size)) {
    std::fprintf(stderr, "%s", report->c_str());
    std::fflush(stderr);
    std::abort();
  }
  return 0;
}

bool amc::fuzzers::ToOps(const uint8_t* data, size_t size,
                         const std::string& source,
                         const std::string& record_with, std::string* out) {
  *out = Harness().ToOps(data, size, source, record_with);
  return true;
}
