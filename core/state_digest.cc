// core/state_digest.cc: chunk digests, and MapInstance's default chunk reads.
#include "core/state_digest.h"

#include <algorithm>
#include <cstring>

#include "core/backend.h"

namespace amc::core {

namespace {

constexpr uint64_t kMul = 0x9e3779b97f4a7c15ull;

uint64_t Mix(uint64_t h, uint64_t w) {
  h = (h ^ w) * kMul;
  return h ^ (h >> 29);
}

}  // namespace

uint64_t StateDigest(const uint8_t* bytes, size_t n) {
  // 64-byte blocks. A run of all-zero blocks (most of a huge map) enters the
  // digest as its length, checked with ORs alone: a 4 GiB state of zeros
  // digests at memory speed. Other blocks mix each word in.
  uint64_t h = Mix(0x243f6a8885a308d3ull, n);
  uint64_t zero_run = 0;
  size_t i = 0;
  for (; i + 64 <= n; i += 64) {
    uint64_t w[8];
    std::memcpy(w, bytes + i, 64);
    uint64_t any = 0;
    for (uint64_t x : w) any |= x;
    if (any == 0) {
      ++zero_run;
      continue;
    }
    if (zero_run) {
      h = Mix(h, zero_run | (uint64_t{1} << 63));
      zero_run = 0;
    }
    for (uint64_t x : w) h = Mix(h, x);
  }
  if (zero_run) h = Mix(h, zero_run | (uint64_t{1} << 63));
  for (; i + 8 <= n; i += 8) {
    uint64_t w;
    std::memcpy(&w, bytes + i, 8);
    h = Mix(h, w);
  }
  uint64_t tail = 0;
  std::memcpy(&tail, bytes + i, n - i);
  h = Mix(h, tail ^ (uint64_t{n - i} << 56));
  return h ^ (h >> 32);
}

bool AllZero(const uint8_t* bytes, size_t n) {
  size_t i = 0;
  for (; i + 64 <= n; i += 64) {
    uint64_t any = 0;
    for (int k = 0; k < 8; ++k) {
      uint64_t w;
      std::memcpy(&w, bytes + i + 8 * k, 8);
      any |= w;
    }
    if (any) return false;
  }
  for (; i < n; ++i) {
    if (bytes[i]) return false;
  }
  return true;
}

uint64_t StateChunkFor(uint64_t unit) {
  if (unit == 0 || unit >= kStateChunkBytes) return std::max<uint64_t>(unit, 1);
  return kStateChunkBytes / unit * unit;
}

void MapInstance::ReadStateChunk(StatePart part, uint64_t offset,
                                 uint64_t length, uint8_t* out) {
  MapState s = ReadState();
  const std::vector<uint8_t> none;
  const std::vector<uint8_t>& bytes =
      part == StatePart::kValues ? s.values
                                 : (s.mmap_data ? *s.mmap_data : none);
  std::memset(out, 0, length);
  if (offset < bytes.size()) {
    std::memcpy(out, bytes.data() + offset,
                std::min<uint64_t>(length, bytes.size() - offset));
  }
}

std::vector<uint64_t> MapInstance::StateDigests(StatePart part, uint64_t offset,
                                                uint64_t length, uint64_t chunk) {
  std::vector<uint64_t> digests;
  if (chunk == 0) return digests;
  // Kept across calls: a fresh 16 MiB buffer per chunk costs its page
  // faults every time.
  thread_local std::vector<uint8_t> buffer;
  if (buffer.size() < std::min(chunk, length)) buffer.resize(std::min(chunk, length));
  for (uint64_t at = 0; at < length; at += chunk) {
    const uint64_t n = std::min(chunk, length - at);
    ReadStateChunk(part, offset + at, n, buffer.data());
    digests.push_back(StateDigest(buffer.data(), n));
  }
  return digests;
}

}  // namespace amc::core
