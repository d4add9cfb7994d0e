// ops_parser_fuzzer: the .ops parser never crashes or hangs on any text, and
// whatever it accepts prints and parses back to the same sequence (and
// prints the same way again).
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "core/ops_text.h"
#include "fuzzers/differential_harness.h"
#include "fuzzers/fuzz_target.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto parsed = amc::core::ParseOps(text, "input");
  const auto* seq = std::get_if<amc::core::Sequence>(&parsed);
  if (!seq) return 0;
  std::string printed = amc::core::PrintOps(*seq);
  auto again = amc::core::ParseOps(printed, "printed");
  const auto* seq2 = std::get_if<amc::core::Sequence>(&again);
  if (!seq2) {
    std::fprintf(stderr, "printed text does not parse: %s\n--- printed:\n%s",
                 std::get<amc::core::ParseError>(again).ToString().c_str(),
                 printed.c_str());
    std::abort();
  }
  if (!(*seq2 == *seq)) {
    std::fprintf(stderr, "parse(print(s)) != s\n--- printed:\n%s--- reprinted:\n%s",
                 printed.c_str(), amc::core::PrintOps(*seq2).c_str());
    std::abort();
  }
  std::string reprinted = amc::core::PrintOps(*seq2);
  if (reprinted != printed) {
    std::fprintf(stderr, "print is not stable\n--- first:\n%s--- second:\n%s",
                 printed.c_str(), reprinted.c_str());
    std::abort();
  }
  return 0;
}

bool amc::fuzzers::ToOps(const uint8_t* data, size_t size,
                         const std::string& source,
                         const std::string& record_with, std::string* out) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto parsed = amc::core::ParseOps(text, source);
  if (auto* error = std::get_if<amc::core::ParseError>(&parsed)) {
    *out = error->ToString();
    return false;
  }
  auto& seq = std::get<amc::core::Sequence>(parsed);
  seq.comments.push_back("from ops_parser_fuzzer input " + source);
  if (!record_with.empty()) {
    std::string error = amc::fuzzers::RecordExpectations(&seq, record_with);
    if (!error.empty()) {
      *out = error;
      return false;
    }
  }
  *out = amc::core::PrintOps(seq);
  return true;
}
