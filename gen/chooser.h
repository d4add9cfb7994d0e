// gen/chooser.h: where a generator's choices come from. The same generator
// code draws from a seeded PRNG (amc run, randomized tests) or from fuzzer
// bytes (libFuzzer), so a fuzz input and a seed describe sequences the same
// way.
//
// Invariant: every call returns a value in the asked range, whatever the
// source holds; an exhausted byte source keeps answering the lowest choice,
// so any byte string decodes to a valid, bounded sequence.
#ifndef AMC_GEN_CHOOSER_H_
#define AMC_GEN_CHOOSER_H_

#include <cstddef>
#include <cstdint>
#include <random>

namespace amc::gen {

class Chooser {
 public:
  virtual ~Chooser() = default;
  // A uniform-ish value in [lo, hi] (inclusive). lo <= hi.
  virtual uint64_t Range(uint64_t lo, uint64_t hi) = 0;
  // True with probability about percent/100.
  bool Percent(uint32_t percent) { return Range(0, 99) < percent; }
  uint8_t Byte() { return static_cast<uint8_t>(Range(0, 255)); }
  // One of the n items of an array.
  template <class T, size_t N>
  const T& Pick(const T (&items)[N]) {
    return items[Range(0, N - 1)];
  }
};

// Choices from a seeded 64-bit Mersenne Twister.
class RandomChooser : public Chooser {
 public:
  explicit RandomChooser(uint64_t seed) : engine_(seed) {}
  uint64_t Range(uint64_t lo, uint64_t hi) override {
    if (lo >= hi) return lo;
    uint64_t span = hi - lo;
    if (span == UINT64_MAX) return engine_();
    return lo + engine_() % (span + 1);
  }

 private:
  std::mt19937_64 engine_;
};

// Choices read from a byte string (fuzzer input), little-endian, only as
// many bytes as the range needs.
//
// Final, with the base's helpers repeated as direct calls: generator code
// compiled for a BytesChooser (gen/generator.cc) inlines Range, so the
// constant ranges of most draws (Percent's 0..99) cost a multiply, not a
// virtual call and a division.
class BytesChooser final : public Chooser {
 public:
  BytesChooser(const uint8_t* data, size_t size) : data_(data), size_(size) {}
  uint64_t Range(uint64_t lo, uint64_t hi) override {
    if (lo >= hi) return lo;
    uint64_t span = hi - lo;
    uint64_t value = 0;
    for (uint64_t need = span; need != 0 && pos_ < size_; need >>= 8) {
      value = (value << 8) | data_[pos_++];
    }
    // value % (span + 1). A span known at compile time (inlined draws)
    // costs a multiply, with no branch on the random byte; otherwise no
    // division when value is in range already, a 32-bit one when both fit
    // (the usual case).
#if defined(__GNUC__)
    if (__builtin_constant_p(span) && span < UINT32_MAX) {
      return lo + static_cast<uint32_t>(value) % static_cast<uint32_t>(span + 1);
    }
#endif
    if (value <= span) return lo + value;
    if (span < UINT32_MAX) {
      return lo + static_cast<uint32_t>(value) % static_cast<uint32_t>(span + 1);
    }
    return lo + value % (span + 1);
  }
  bool Percent(uint32_t percent) { return BytesChooser::Range(0, 99) < percent; }
  uint8_t Byte() { return static_cast<uint8_t>(BytesChooser::Range(0, 255)); }
  template <class T, size_t N>
  const T& Pick(const T (&items)[N]) {
    return items[BytesChooser::Range(0, N - 1)];
  }
  bool exhausted() const { return pos_ >= size_; }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
};

}  // namespace amc::gen

#endif  // AMC_GEN_CHOOSER_H_
