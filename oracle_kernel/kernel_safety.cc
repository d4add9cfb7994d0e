// oracle_kernel/kernel_safety.cc: kernel safety, the per-map memory bound:
// what a map of a spec makes the kernel allocate, the bound from the
// environment (AMC_KERNEL_MAP_LIMIT), and which specs the kernel backend sits
// out rather than ask the kernel for.
#include <sys/sysinfo.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>

#include "core/harness_error.h"
#include "oracle_kernel/kernel_backend.h"
#include "oracle_kernel/kernel_calls.h"

namespace amc::oracle_kernel {

using core::MapSpec;
using core::MapType;
using internal::CreateMap;
using internal::OlderThan;

uint64_t KernelMapBytes(const MapSpec& spec, uint32_t possible_cpus) {
  const unsigned __int128 elem = (uint64_t{spec.value_size} + 7) / 8 * 8;
  unsigned __int128 bytes = elem * spec.max_entries;
  if (spec.type == MapType::kPercpuArray) bytes *= possible_cpus;
  return bytes > UINT64_MAX ? UINT64_MAX : static_cast<uint64_t>(bytes);
}

std::optional<uint64_t> ParseByteCount(const std::string& text) {
  if (text.empty() || text.size() > 20) return std::nullopt;
  size_t digits = 0;
  while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') {
    ++digits;
  }
  if (digits == 0) return std::nullopt;
  unsigned shift = 0;
  const std::string suffix = text.substr(digits);
  if (suffix == "K" || suffix == "k") shift = 10;
  else if (suffix == "M" || suffix == "m") shift = 20;
  else if (suffix == "G" || suffix == "g") shift = 30;
  else if (!suffix.empty()) return std::nullopt;
  const unsigned long long n = std::strtoull(text.substr(0, digits).c_str(),
                                             nullptr, 10);
  if (digits > 19 || n > (UINT64_MAX >> shift)) return std::nullopt;
  return static_cast<uint64_t>(n) << shift;
}

std::optional<uint64_t> KernelMapLimitFromEnvironment(std::string* error) {
  const char* value = std::getenv("AMC_KERNEL_MAP_LIMIT");
  if (!value || !*value) return kDefaultKernelMapLimit;
  std::optional<uint64_t> bytes = ParseByteCount(value);
  if (!bytes || *bytes == 0) {
    *error = std::string("bad kernel map limit '") + value +
             "': give bytes, more than 0, optionally with a K, M or G suffix";
    return std::nullopt;
  }
  return bytes;
}

namespace {
// "3 GiB", "64 MiB", "512 KiB", "100 bytes".
std::string ByteText(uint64_t bytes) {
  const char* units[] = {"bytes", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  size_t u = 0;
  double v = static_cast<double>(bytes);
  while (v >= 1024 && u + 1 < sizeof units / sizeof *units) {
    v /= 1024;
    ++u;
  }
  char buf[48];
  std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.4g %s", v, units[u]);
  return buf;
}
}  // namespace

std::string KernelBackend::SitsOut(const MapSpec& spec) {
  const uint64_t bytes = KernelMapBytes(spec, env_.possible_cpus);
  if (bytes <= map_limit_) return "";
  // array_map_alloc_check (kernel/bpf/arraymap.c) refuses these before
  // anything is allocated, whatever the size: the kernel answers at once.
  if (spec.max_entries == 0 || spec.key_size != 4 || spec.value_size == 0) {
    return "";
  }
  // Before 5.11, array_map_alloc refuses a map whose cost reaches
  // U32_MAX - PAGE_SIZE with E2BIG before allocating (the memlock charge).
  if (OlderThan(env_.kernel_release, 5, 11) &&
      bytes >= UINT32_MAX - uint64_t{env_.page_size}) {
    return "";
  }
  // An ARRAY's values are one vmalloc area, and vmalloc refuses at once a
  // size above the machine's RAM (mm/vmalloc.c, __vmalloc_node_range: "size
  // >> PAGE_SHIFT > totalram_pages()", on every release): ENOMEM with
  // nothing allocated. (A PERCPU_ARRAY allocates each element on its own,
  // so a huge one does hold the kernel.)
  if (spec.type == core::MapType::kArray) {
    struct sysinfo info {};
    if (sysinfo(&info) == 0 &&
        bytes / info.mem_unit > static_cast<uint64_t>(info.totalram)) {
      return "";
    }
  }
  // Every other check before the allocation does not depend on
  // max_entries: ask the kernel with one entry. A refusal there is the
  // checks' answer, which the real creation gives at once too.
  MapSpec one = spec;
  one.max_entries = 1;
  int fd = -1;
  try {
    fd = CreateMap(one, MapName());
  } catch (const core::HarnessError&) {
    return "";  // the real creation reports it (as a harness error)
  }
  if (fd < 0) return "";
  close(fd);
  return "sits out this map: the kernel would allocate " + ByteText(bytes) +
         " for it, above --kernel-map-limit " + ByteText(map_limit_) +
         " (kernel safety: a huge map can hold the kernel in allocation for "
         "minutes)";
}

}  // namespace amc::oracle_kernel
