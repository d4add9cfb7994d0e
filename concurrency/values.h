// concurrency/values.h: self-checking wide values, so a reader detects a
// torn value without an oracle (concurrencykit's validator idea).
//
// A value written as generation g holds, in every 8-byte word i it covers,
// Word(g, i): g in the high half, a hash of g mixed with i in the low half.
// Invariant: a word read back either decodes (CheckWord gives its g) or was
// torn inside the word; a value whose words decode to one g is whole.
#ifndef AMC_CONCURRENCY_VALUES_H_
#define AMC_CONCURRENCY_VALUES_H_

#include <cstdint>
#include <cstring>
#include <optional>
#include <vector>

namespace amc::concurrency {

inline uint32_t GenHash(uint32_t g) { return g * 2654435761u ^ (g >> 13); }

inline uint64_t Word(uint32_t g, uint32_t i) {
  return uint64_t{g} << 32 | (GenHash(g) ^ (i * 0x9E3779B9u));
}

// The generation of word `w` found at index i, or nullopt when torn.
inline std::optional<uint32_t> CheckWord(uint64_t w, uint32_t i) {
  uint32_t g = static_cast<uint32_t>(w >> 32);
  if (Word(g, i) != w) return std::nullopt;
  return g;
}

// Fills words [first_word, words) of `value` (8 * words bytes) with g.
inline void FillValue(uint8_t* value, uint32_t words, uint32_t first_word,
                      uint32_t g) {
  for (uint32_t i = first_word; i < words; ++i) {
    uint64_t w = Word(g, i);
    std::memcpy(value + 8 * i, &w, 8);
  }
}

struct ValueCheck {
  bool whole = false;        // every word decodes to the same generation
  bool word_torn = false;    // some word is torn inside itself
  uint32_t generations = 0;  // distinct generations among the words
};

inline ValueCheck CheckValue(const uint8_t* value, uint32_t words,
                             uint32_t first_word) {
  ValueCheck c;
  std::vector<uint32_t> seen;
  for (uint32_t i = first_word; i < words; ++i) {
    uint64_t w;
    std::memcpy(&w, value + 8 * i, 8);
    std::optional<uint32_t> g = CheckWord(w, i);
    if (!g) {
      c.word_torn = true;
      continue;
    }
    bool known = false;
    for (uint32_t s : seen) known |= s == *g;
    if (!known) seen.push_back(*g);
  }
  c.generations = static_cast<uint32_t>(seen.size());
  c.whole = !c.word_torn && seen.size() == 1;
  return c;
}

}  // namespace amc::concurrency

#endif  // AMC_CONCURRENCY_VALUES_H_
