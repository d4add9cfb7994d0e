// impl/memfd_cache.cc: see memfd_cache.h.
#include "memfd_cache.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cstring>
#include <mutex>
#include <vector>

namespace amc::impl::internal {
namespace {

constexpr size_t kMaxRegions = 16;
constexpr uint64_t kMaxBytes = uint64_t{4} << 20;

struct Cache {
  std::mutex mu;
  std::vector<MemfdRegion> regions;
  uint64_t bytes = 0;
};

// Never destroyed: maps may be destroyed during static destruction. What it
// holds at exit is bounded (kMaxBytes) and reclaimed with the process.
Cache& TheCache() {
  static Cache* cache = new Cache;
  return *cache;
}

void Release(const MemfdRegion& r) {
  munmap(r.data, r.bytes);
  if (r.ro_view != nullptr) munmap(r.ro_view, r.bytes);
  if (r.ro_fd >= 0) close(r.ro_fd);
  close(r.fd);
}

}  // namespace

bool TakeCachedMemfd(uint64_t bytes, MemfdRegion* out) {
  Cache& cache = TheCache();
  std::lock_guard<std::mutex> lock(cache.mu);
  for (size_t i = cache.regions.size(); i-- > 0;) {
    if (cache.regions[i].bytes != bytes) continue;
    *out = cache.regions[i];
    cache.regions.erase(cache.regions.begin() + static_cast<ptrdiff_t>(i));
    cache.bytes -= bytes;
    return true;
  }
  return false;
}

void CacheOrReleaseMemfd(const MemfdRegion& region) {
  if (region.bytes > kMemfdCacheMaxRegionBytes) {
    Release(region);
    return;
  }
  Cache& cache = TheCache();
  {
    std::lock_guard<std::mutex> lock(cache.mu);
    if (cache.regions.size() < kMaxRegions &&
        cache.bytes + region.bytes <= kMaxBytes) {
      // No other thread can reach the region any more: plain zeroing.
      std::memset(region.data, 0, region.bytes);
      cache.regions.push_back(region);
      cache.bytes += region.bytes;
      return;
    }
  }
  Release(region);
}

void ReleaseCachedMemfds() {
  Cache& cache = TheCache();
  std::vector<MemfdRegion> regions;
  {
    std::lock_guard<std::mutex> lock(cache.mu);
    regions.swap(cache.regions);
    cache.bytes = 0;
  }
  for (const MemfdRegion& r : regions) Release(r);
}

}  // namespace amc::impl::internal
