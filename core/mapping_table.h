// core/mapping_table.h: the mmap slots of one map instance and the harness
// conventions every backend applies to them, so that all backends answer
// the same for accesses that would fault in a real process.
//
// Conventions (documented on the ops in core/op.h):
//   - Mmap into a slot >= kMappingSlots or one already in use -> EBUSY.
//   - MmapRead/MmapWrite/Munmap on an empty slot -> EBADF.
//   - An access outside [0, page-rounded length) of the mapping, a read
//     without PROT_READ or a write without PROT_WRITE -> EFAULT.
// Invariant: a slot is in use exactly while the backend holds a mapping.
#ifndef AMC_CORE_MAPPING_TABLE_H_
#define AMC_CORE_MAPPING_TABLE_H_

#include <cerrno>
#include <array>
#include <algorithm>
#include <cstdint>
#include <vector>

#include "core/op.h"

namespace amc::core {

struct MappingSlot {
  bool used = false;
  uint8_t* addr = nullptr;  // start of the mapping (backends may leave null)
  uint64_t offset = 0;      // file offset it maps
  uint64_t length = 0;      // page-rounded length
  uint32_t prot = 0;
};

class MappingTable {
 public:
  explicit MappingTable(uint32_t page_size) : page_size_(page_size) {}

  // 0, or EBUSY when `slot` cannot take a new mapping.
  int CheckFree(uint32_t slot) const {
    if (slot >= kMappingSlots || slots_[slot].used) return EBUSY;
    return 0;
  }
  void Put(uint32_t slot, uint8_t* addr, uint64_t offset, uint64_t length,
           uint32_t prot) {
    slots_[slot] = MappingSlot{true, addr, offset, RoundUp(length), prot};
  }
  // 0 and `*out` set, or EBADF / EFAULT per the conventions above.
  int Access(uint32_t slot, uint64_t offset, uint64_t length, bool write,
             const MappingSlot** out) const {
    if (slot >= kMappingSlots || !slots_[slot].used) return EBADF;
    const MappingSlot& m = slots_[slot];
    if (offset > m.length || length > m.length - offset) return EFAULT;
    if (!(m.prot & (write ? kProtWrite : kProtRead))) return EFAULT;
    *out = &m;
    return 0;
  }
  // 0 and the slot emptied (`*was` gets what it held), or EBADF.
  int Remove(uint32_t slot, MappingSlot* was) {
    if (slot >= kMappingSlots || !slots_[slot].used) return EBADF;
    *was = slots_[slot];
    slots_[slot] = MappingSlot{};
    return 0;
  }
  const std::array<MappingSlot, kMappingSlots>& slots() const {
    return slots_;
  }

 private:
  uint64_t RoundUp(uint64_t n) const {
    return (n + page_size_ - 1) / page_size_ * page_size_;
  }
  uint32_t page_size_;
  std::array<MappingSlot, kMappingSlots> slots_{};
};

// A syscall value buffer of exactly `size` bytes from what an op carries:
// zero-padded or truncated. Every backend sizes input buffers this way.
inline std::vector<uint8_t> FitBuffer(const std::vector<uint8_t>& bytes,
                                      uint64_t size) {
  std::vector<uint8_t> out(bytes.begin(),
                           bytes.begin() + std::min<uint64_t>(bytes.size(), size));
  out.resize(size, 0);
  return out;
}

// The same buffer without a copy where none is needed: long enough bytes are
// used in place (their first `size` bytes are the buffer); shorter ones are
// zero-padded into a copy, as FitBuffer makes it. `bytes` must outlive it.
class FittedBytes {
 public:
  FittedBytes(const std::vector<uint8_t>& bytes, uint64_t size) {
    if (bytes.size() >= size) {
      data_ = bytes.data();
    } else {
      padded_ = FitBuffer(bytes, size);
      data_ = padded_.data();
    }
  }
  const uint8_t* data() const { return data_; }

 private:
  std::vector<uint8_t> padded_;
  const uint8_t* data_;
};

}  // namespace amc::core

#endif  // AMC_CORE_MAPPING_TABLE_H_
