// core/state_digest.cc: chunk digests, and MapInstance's default chunk reads.
#include "core/state_digest.h"

#include <algorithm>
#include <cstring>

#include "core/backend.h"

namespace amc::core {

uint64_t StateDigest(const uint8_t* bytes, size_t n) {
  constexpr uint64_t kMul = 0x9e3779b97f4a7c15ull;
  uint64_t h = 0x243f6a8885a308d3ull ^ (n * kMul);
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t w;
    std::memcpy(&w, bytes + i, 8);
    h = (h ^ w) * kMul;
    h ^= h >> 29;
  }
  uint64_t tail = 0;
  std::memcpy(&tail, bytes + i, n - i);
  h = (h ^ tail ^ (uint64_t{n - i} << 56)) * kMul;
  h ^= h >> 32;
  return h;
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
  std::vector<uint8_t> buffer(std::min(chunk, length));
  for (uint64_t at = 0; at < length; at += chunk) {
    const uint64_t n = std::min(chunk, length - at);
    ReadStateChunk(part, offset + at, n, buffer.data());
    digests.push_back(StateDigest(buffer.data(), n));
  }
  return digests;
}

}  // namespace amc::core
