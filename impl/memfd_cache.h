// impl/memfd_cache.h: a small process-wide cache of the memfd regions of
// destroyed BPF_F_MMAPABLE maps (internal to amc_impl), so that creating a
// mappable map can skip memfd_create + ftruncate + mmap and destroying one
// munmap + close, when the creator asked for it (Options::recycle_memfd).
//
// Invariant: a cached region is all zero bytes, has no mapping other than
// its own `data` and `ro_view` (which no view uses any more), and is handed
// out once: to a map asking for exactly its size. The cache holds at most
// kMaxRegions regions and kMaxBytes bytes; what does not fit is released at
// once.
#ifndef AMC_IMPL_MEMFD_CACHE_H_
#define AMC_IMPL_MEMFD_CACHE_H_

#include <cstdint>

namespace amc::impl::internal {

struct MemfdRegion {
  int fd = -1;
  int ro_fd = -1;  // the read-only reopen, or -1
  uint8_t* data = nullptr;  // `bytes` bytes, MAP_SHARED of fd
  uint64_t bytes = 0;
  // Options::mapping_views: the read-only mapping of ro_fd's `bytes` bytes
  // that read-only views point into, or null.
  uint8_t* ro_view = nullptr;
};

inline constexpr uint64_t kMemfdCacheMaxRegionBytes = uint64_t{256} << 10;

// A cached region of exactly `bytes` bytes, or false.
bool TakeCachedMemfd(uint64_t bytes, MemfdRegion* out);
// Zeroes `region` and keeps it, or releases it (munmap, close) when the
// cache is full or the region too large. The caller must hold no mapping
// of it but `data`.
void CacheOrReleaseMemfd(const MemfdRegion& region);
// Releases every cached region (munmap, close); regions in use stay theirs.
void ReleaseCachedMemfds();

}  // namespace amc::impl::internal

#endif  // AMC_IMPL_MEMFD_CACHE_H_
