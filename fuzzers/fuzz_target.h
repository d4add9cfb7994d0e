// fuzzers/fuzz_target.h: what every amc fuzz target provides, so one replay
// main serves them all.
//
// A target defines LLVMFuzzerTestOneInput (and may define
// LLVMFuzzerInitialize) plus ToOps, which turns one input into a readable
// .ops case for corpus/regressions/.
#ifndef AMC_FUZZERS_FUZZ_TARGET_H_
#define AMC_FUZZERS_FUZZ_TARGET_H_

#include <cstddef>
#include <cstdint>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace amc::fuzzers {

// The .ops case for this input; `source` names it in a comment; with
// `record_with` the steps carry that backend's results as expectations.
// Returns false (with the reason in *out) when the input has no .ops form.
bool ToOps(const uint8_t* data, size_t size, const std::string& source,
           const std::string& record_with, std::string* out);

}  // namespace amc::fuzzers

#endif  // AMC_FUZZERS_FUZZ_TARGET_H_
