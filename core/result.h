// core/result.h: what an operation returned, as a value. An errno is a
// result, not a harness error; errnos print by name (ENOTSUPP for 524).
//
// Invariant: two backends agree on an op exactly when their Results compare
// equal; every field a backend fills is part of that comparison, and fields
// an op does not produce stay empty in every backend.
#ifndef AMC_CORE_RESULT_H_
#define AMC_CORE_RESULT_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/coverage.h"

namespace amc::core {

struct Result {
  // Positive errno; 0 is success. Program helpers' negative returns are
  // stored negated, so -EINVAL from a helper is err == EINVAL here too.
  int err = 0;
  // Program lookups: the helper returned NULL.
  bool null = false;
  // Bytes read back: lookup value buffer, program lookup value, mmap read,
  // batch lookup values (count buffers packed).
  std::optional<std::vector<uint8_t>> value;
  // Get-next-key: the key written to next_key.
  std::optional<uint32_t> next_key;
  // Batch ops: attr.batch.count after the call.
  std::optional<uint32_t> count;
  // Batch lookups: out_batch, when the kernel wrote it.
  std::optional<uint32_t> out_batch;
  // Batch lookups: the keys written (count of them).
  std::optional<std::vector<uint32_t>> keys;
  // Program lookups: whether the returned pointer was 8-byte aligned.
  std::optional<bool> aligned;
  // Program atomic add: the value before the add.
  std::optional<uint64_t> old;

  // Every op's results are assigned and compared (core::DifferentialRun),
  // the same way for every input: no coverage (core/coverage.h).
  Result() = default;
  Result(const Result&) = default;
  Result(Result&&) = default;
  AMC_NO_COVERAGE Result& operator=(const Result&) = default;
  AMC_NO_COVERAGE Result& operator=(Result&&) = default;
  AMC_NO_COVERAGE bool operator==(const Result&) const = default;
  bool ok() const { return err == 0; }

  static Result Errno(int e) {
    Result r;
    r.err = e;
    return r;
  }
};

// Large value buffers of results a caller is done with (MapInstance::
// Recycle), kept so that a backend builds the next result of the same size
// without allocating and zeroing it: a 64 KiB lookup otherwise clears 64 KiB
// it then overwrites. One per map, used by one thread.
class ResultBuffers {
 public:
  // A buffer of n bytes. One kept of exactly that size is reused as it is
  // (contents unspecified: the caller writes every byte); otherwise a new
  // zeroed one.
  AMC_NO_COVERAGE std::vector<uint8_t> TakeBytes(size_t n) {
    for (auto& b : bytes_) {
      if (b.size() == n) {
        std::vector<uint8_t> out = std::move(b);
        b = std::move(bytes_.back());
        bytes_.pop_back();
        return out;
      }
    }
    return std::vector<uint8_t>(n);
  }
  // Keeps a large buffer (small ones cost little to make anew).
  AMC_NO_COVERAGE void KeepBytes(std::vector<uint8_t>&& b) {
    if (b.size() >= kKeepFrom && bytes_.size() < kKept) bytes_.push_back(std::move(b));
  }
  // Keeps the storage of r's value.
  AMC_NO_COVERAGE void Keep(Result&& r) {
    if (r.value) KeepBytes(std::move(*r.value));
  }

 private:
  static constexpr size_t kKept = 2;
  static constexpr size_t kKeepFrom = 1024;
  std::vector<std::vector<uint8_t>> bytes_;
};

// Harness pseudo-errnos, never a kernel errno (all >= 0x10000): a backend
// that runs out of process (plug-ins) reports with them that it failed
// instead of answering. Each prints by name and differs from every answer.
inline constexpr int kErrCrashedBase = 0x10000;  // + signal: "CRASH_SIGSEGV"
inline constexpr int kErrHung = 0x10100;         // no answer in time: "HANG"
inline constexpr int kErrOverrun = 0x10101;  // wrote past a buffer: "OVERRUN"
inline constexpr int kErrLost = 0x10102;     // exited or garbled: "LOST"
// stopped by its sanitizer (ASan, UBSan) with a report: "SANITIZER"
inline constexpr int kErrSanitizer = 0x10103;

// The errno's symbolic name ("ENOENT", "ENOTSUPP"); unknown ones print as
// their decimal number ("600").
std::string ErrnoName(int err);
// Inverse of ErrnoName; also accepts a decimal number.
std::optional<int> ErrnoFromName(const std::string& name);

// The whole observable contents of a map after a sequence: for every key
// 0..max_entries-1 in order, the syscall lookup buffer (ARRAY value_size
// bytes, PERCPU every CPU's slot with padding); for BPF_F_MMAPABLE arrays
// also the mappable data region, padding included.
struct MapState {
  std::vector<uint8_t> values;
  std::optional<std::vector<uint8_t>> mmap_data;
  AMC_NO_COVERAGE bool operator==(const MapState&) const = default;
};

}  // namespace amc::core

#endif  // AMC_CORE_RESULT_H_
