// fuzzers/differential_harness.h: the differential fuzz target as a plain
// library, so the libFuzzer binary, its replay main, the --to-ops converter
// and unit tests all run the same code.
//
// Invariant: any byte string decodes (gen::BytesChooser + GenerateSequence)
// to a valid sequence of at most HarnessOptions::max_ops ops whose maps
// stay within HarnessOptions::max_map_bytes; the harness never sees an input it must reject.
#ifndef AMC_FUZZERS_DIFFERENTIAL_HARNESS_H_
#define AMC_FUZZERS_DIFFERENTIAL_HARNESS_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "backends/registry.h"
#include "core/differential.h"
#include "core/op.h"
#include "gen/generator.h"

namespace amc::fuzzers {

struct HarnessOptions {
  size_t max_ops = 48;
  // Storage bound for any map the decoder may create (gen::GenOptions).
  // 16 KiB is room for every map the generator aims at an edge with: the
  // mmap page-crossing sizes (1 to 3 pages of elements, one more or fewer)
  // and a single value at the per-CPU limit (a map keeps at least one
  // entry, whatever its size). Larger maps reach no other rule, but every
  // exec copies them whole (batches, the final-state read on each backend):
  // 64 KiB ran 14% fewer execs per second, 1 MiB half. `amc run` and the
  // properties keep larger bounds. DifferentialHarnessTest pins the edges.
  uint64_t max_map_bytes = uint64_t{16} << 10;
  // Compare the backends' final map states after the last op.
  bool compare_final_state = true;
  // Load plug-ins (plugin:PATH) into this process (plugin::DirectBackend)
  // rather than a child (plugin::PluginBackend), so that a plug-in built
  // with -fsanitize=fuzzer-no-link feeds libFuzzer its coverage and
  // compares. AMC_FUZZ_PLUGIN_CHILD=1 in the environment makes it false.
  bool plugins_in_process = true;
};

class DifferentialHarness {
 public:
  static constexpr size_t kMaxOps = HarnessOptions{}.max_ops;

  // `backend_list` as for backends::SelectBackends ("" = every backend).
  explicit DifferentialHarness(const std::string& backend_list,
                               const HarnessOptions& options = {});

  // "" when usable; else why not (unknown backend, required kernel missing,
  // nothing available).
  const std::string& error() const { return error_; }
  const std::vector<core::Backend*>& backends() const { return backends_; }
  // Backends selected but unavailable here, and why.
  const std::vector<std::pair<std::string, std::string>>& unavailable() const {
    return selection_.unavailable;
  }

  // The sequence these bytes describe.
  core::Sequence Decode(const uint8_t* data, size_t size) const;
  // Decodes and runs `data`; returns the divergence report, or nothing when
  // every backend agreed. Throws core::HarnessError when amc itself failed
  // (core/harness_error.h): that is no finding, and the caller must not
  // report it as one (ToOps throws it too).
  std::optional<std::string> Check(const uint8_t* data, size_t size) const;

  // The readable .ops case for an input: on a divergence, the minimized
  // reproducer with comments saying where it came from; otherwise the whole
  // decoded sequence. With `record_with` (a backend name), every step gets
  // that backend's result as its recorded expectation.
  std::string ToOps(const uint8_t* data, size_t size, const std::string& source,
                    const std::string& record_with) const;

 private:
  backends::Selection selection_;
  std::vector<core::Backend*> backends_;
  gen::GenOptions options_;
  core::RunOptions run_options_;
  std::string error_;
};

// Keeps freed memory in the process (glibc: no mmap per large buffer, no
// trimming), so a fuzzer exec does not pay page faults for every value
// buffer and map it allocates. Call once at start-up; no effect under
// sanitizers, whose allocators ignore it.
void TuneAllocatorForFuzzing();

// Adds `recorder`'s results as expectations (and its environment) to `seq`.
// Returns "" or why recording failed.
std::string RecordExpectations(core::Sequence* seq, const std::string& recorder);

}  // namespace amc::fuzzers

#endif  // AMC_FUZZERS_DIFFERENTIAL_HARNESS_H_
