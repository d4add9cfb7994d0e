// bench/impl_bench.cc: the impl's array maps beside three baselines in one
// process: a bounds-checked std::vector (the physical floor), a
// mutex-protected array, and the kernel's map through raw bpf() (skipped
// when not privileged). Ops: lookup (copy and pointer), update, atomic add,
// get-next-key and whole-map batch lookup; value sizes 8, 64, 4096; ARRAY
// and PERCPU_ARRAY; 1 and 2 threads (thread i pinned to CPU i).
//
// Every benchmark reports items_per_second over wall time (UseRealTime), so
// 2-thread rates are totals. A summary of the issue's target ratios is
// printed after the runs (SummaryReporter below).
#include <benchmark/benchmark.h>
#include <linux/bpf.h>
#include <sched.h>
#include <time.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "amc/array_map.h"

namespace {

using amc::impl::ArrayMap;
using amc::impl::MapType;

constexpr uint32_t kEntries = 256;  // power of two; half per thread
constexpr uint32_t kPart = kEntries / 2;
const uint32_t kValueSizes[] = {8, 64, 4096};

void Pin(const benchmark::State& state) {
  static const long cpus = sysconf(_SC_NPROCESSORS_ONLN);
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(state.thread_index() % cpus, &set);
  sched_setaffinity(0, sizeof(set), &set);
}

// Thread t works on keys [t * kPart, (t + 1) * kPart): no two threads write
// the same element, in every backend alike.
inline uint32_t Key(const benchmark::State& state, uint64_t i) {
  return static_cast<uint32_t>(i & (kPart - 1)) +
         static_cast<uint32_t>(state.thread_index()) * kPart;
}

std::string Name(const std::string& op, const std::string& backend,
                 MapType type, uint32_t value_size) {
  return op + "/" + backend + "/" +
         (type == MapType::kArray ? "array" : "percpu") + "/" +
         std::to_string(value_size);
}

// ---- backends under test ----

std::unique_ptr<ArrayMap> MakeImpl(
    MapType type, uint32_t value_size,
    amc::impl::PercpuAdd add = amc::impl::PercpuAdd::kAtomic) {
  amc::impl::MapAttr attr;
  attr.type = type;
  attr.value_size = value_size;
  attr.max_entries = kEntries;
  amc::impl::Options options;
  options.percpu_add = add;
  std::unique_ptr<ArrayMap> map;
  if (ArrayMap::Create(attr, options, &map) != 0) throw std::runtime_error("create");
  return map;
}

// Bounds-checked vector of elements of a compile-time size (stride
// round_up(VS, 8)): the physical floor, every copy a fixed-size memcpy.
template <uint32_t VS>
struct VectorArray {
  struct Elem {
    uint64_t words[(VS + 7) / 8];
  };
  static constexpr uint32_t value_size = VS;
  uint64_t* At(uint32_t key) { return data.at(key).words; }
  size_t size() const { return data.size(); }
  std::vector<Elem> data = std::vector<Elem>(kEntries);
};

template <uint32_t VS>
struct MutexArray {
  int Lookup(uint32_t key, void* out) {
    std::lock_guard<std::mutex> lock(mu);
    if (key >= kEntries) return ENOENT;
    std::memcpy(out, vec.At(key), vec.value_size);
    return 0;
  }
  int Update(uint32_t key, const void* in) {
    std::lock_guard<std::mutex> lock(mu);
    if (key >= kEntries) return E2BIG;
    std::memcpy(vec.At(key), in, vec.value_size);
    return 0;
  }
  std::mutex mu;
  VectorArray<VS> vec;
};

long Bpf(int cmd, union bpf_attr* attr) {
  return syscall(__NR_bpf, cmd, attr, sizeof(*attr));
}

struct KernelMap {
  KernelMap(MapType type, uint32_t value_size) {
    union bpf_attr attr;
    std::memset(&attr, 0, sizeof(attr));
    attr.map_type = static_cast<uint32_t>(type);
    attr.key_size = 4;
    attr.value_size = value_size;
    attr.max_entries = kEntries;
    fd = static_cast<int>(Bpf(BPF_MAP_CREATE, &attr));
  }
  ~KernelMap() {
    if (fd >= 0) close(fd);
  }
  int Lookup(uint32_t key, void* out) {
    union bpf_attr attr;
    std::memset(&attr, 0, sizeof(attr));
    attr.map_fd = fd;
    attr.key = reinterpret_cast<uint64_t>(&key);
    attr.value = reinterpret_cast<uint64_t>(out);
    return Bpf(BPF_MAP_LOOKUP_ELEM, &attr) == 0 ? 0 : errno;
  }
  int Update(uint32_t key, const void* in) {
    union bpf_attr attr;
    std::memset(&attr, 0, sizeof(attr));
    attr.map_fd = fd;
    attr.key = reinterpret_cast<uint64_t>(&key);
    attr.value = reinterpret_cast<uint64_t>(in);
    return Bpf(BPF_MAP_UPDATE_ELEM, &attr) == 0 ? 0 : errno;
  }
  int NextKey(const uint32_t* key, uint32_t* next) {
    union bpf_attr attr;
    std::memset(&attr, 0, sizeof(attr));
    attr.map_fd = fd;
    attr.key = reinterpret_cast<uint64_t>(key);
    attr.next_key = reinterpret_cast<uint64_t>(next);
    return Bpf(BPF_MAP_GET_NEXT_KEY, &attr) == 0 ? 0 : errno;
  }
  int LookupBatch(uint32_t* keys, void* values, uint32_t* count) {
    union bpf_attr attr;
    std::memset(&attr, 0, sizeof(attr));
    uint32_t out_batch = 0;
    attr.batch.out_batch = reinterpret_cast<uint64_t>(&out_batch);
    attr.batch.keys = reinterpret_cast<uint64_t>(keys);
    attr.batch.values = reinterpret_cast<uint64_t>(values);
    attr.batch.count = *count;
    attr.batch.map_fd = fd;
    long r = Bpf(BPF_MAP_LOOKUP_BATCH, &attr);
    *count = attr.batch.count;
    return r == 0 ? 0 : errno;
  }
  int fd = -1;
};

uint32_t PossibleCpus() {
  static const uint32_t n = amc::impl::HostPossibleCpus();
  return n;
}

uint64_t BufferSize(MapType type, uint32_t value_size) {
  uint64_t elem = (value_size + 7) / 8 * 8;
  return type == MapType::kPercpuArray ? elem * PossibleCpus() : value_size;
}

void Items(benchmark::State& state, uint64_t per_iteration = 1) {
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() *
                                               per_iteration));
}

uint64_t ThreadCpuNs() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000u +
         static_cast<uint64_t>(ts.tv_nsec);
}

// CPU nanoseconds each thread spent per item, averaged over threads. Unlike
// wall-time rates it does not depend on other load on the machine: a shared
// cache line shows up as more CPU per item whenever the threads overlap.
void CpuPerItem(benchmark::State& state, uint64_t cpu0) {
  double per = state.iterations() > 0
                   ? static_cast<double>(ThreadCpuNs() - cpu0) /
                         static_cast<double>(state.iterations())
                   : 0;
  state.counters["cpu_ns_per_item"] =
      benchmark::Counter(per, benchmark::Counter::kAvgThreads);
}

// Shared fixtures, made by thread 0 before the threads start their loops
// (Google Benchmark runs the loop only after every thread got here, and the
// fixtures live for the whole process).
template <class T>
T& Shared(const std::string& name, std::function<T*()> make) {
  static std::mutex mu;
  static std::map<std::string, std::unique_ptr<T>> all;
  std::lock_guard<std::mutex> lock(mu);
  auto& slot = all[name];
  if (!slot) slot.reset(make());
  return *slot;
}

// ---- benchmark bodies ----

template <uint32_t vs>
void RegisterSize() {
  for (MapType type : {MapType::kArray, MapType::kPercpuArray}) {
    {
      const std::string key = Name("", "", type, vs);
      auto impl = [type, key]() -> ArrayMap& {
        return Shared<ArrayMap>("impl" + key,
                                [&] { return MakeImpl(type, vs).release(); });
      };
      auto kernel = [type, key]() -> KernelMap& {
        return Shared<KernelMap>("kernel" + key,
                                 [&] { return new KernelMap(type, vs); });
      };
      const bool array = type == MapType::kArray;
      std::vector<benchmark::internal::Benchmark*> all;

      // lookup (copy)
      all.push_back(benchmark::RegisterBenchmark(
          Name("lookup_copy", "impl", type, vs).c_str(),
          [=](benchmark::State& state) {
            Pin(state);
            ArrayMap& map = impl();
            amc::impl::MapFd fd = map.fd();
            std::vector<uint64_t> out(BufferSize(type, vs) / 8 + 1);
            uint64_t i = 0;
            for (auto _ : state) {
              int err = fd.Lookup(Key(state, i++), out.data());
              benchmark::DoNotOptimize(err);
              benchmark::DoNotOptimize(out.data());
            }
            Items(state);
          }));
      all.push_back(benchmark::RegisterBenchmark(
          Name("lookup_copy", "kernel", type, vs).c_str(),
          [=](benchmark::State& state) {
            Pin(state);
            KernelMap& map = kernel();
            if (map.fd < 0) {
              state.SkipWithError("bpf(BPF_MAP_CREATE) failed: not privileged?");
              return;
            }
            std::vector<uint64_t> out(BufferSize(type, vs) / 8 + 1);
            uint64_t i = 0;
            for (auto _ : state) {
              benchmark::DoNotOptimize(map.Lookup(Key(state, i++), out.data()));
            }
            Items(state);
          }));
      // update
      all.push_back(benchmark::RegisterBenchmark(
          Name("update", "impl", type, vs).c_str(),
          [=](benchmark::State& state) {
            Pin(state);
            ArrayMap& map = impl();
            amc::impl::MapFd fd = map.fd();
            std::vector<uint64_t> in(BufferSize(type, vs) / 8 + 1, 7);
            uint64_t i = 0;
            for (auto _ : state) {
              in[0] = i;
              int err = fd.Update(Key(state, i++), in.data());
              benchmark::DoNotOptimize(err);
            }
            Items(state);
          }));
      all.push_back(benchmark::RegisterBenchmark(
          Name("update", "kernel", type, vs).c_str(),
          [=](benchmark::State& state) {
            Pin(state);
            KernelMap& map = kernel();
            if (map.fd < 0) {
              state.SkipWithError("bpf(BPF_MAP_CREATE) failed: not privileged?");
              return;
            }
            std::vector<uint64_t> in(BufferSize(type, vs) / 8 + 1, 7);
            uint64_t i = 0;
            for (auto _ : state) {
              in[0] = i;
              benchmark::DoNotOptimize(map.Update(Key(state, i++), in.data()));
            }
            Items(state);
          }));
      // pointer lookup (helper face)
      all.push_back(benchmark::RegisterBenchmark(
          Name("lookup_ptr", "impl", type, vs).c_str(),
          [=](benchmark::State& state) {
            Pin(state);
            ArrayMap& map = impl();
            uint64_t i = 0;
            for (auto _ : state) {
              void* p = map.Lookup(Key(state, i++));
              benchmark::DoNotOptimize(p);
            }
            Items(state);
          }));
      // atomic add on the u64 at offset 0 (PERCPU: this CPU's slot, every
      // thread on the same key)
      all.push_back(benchmark::RegisterBenchmark(
          Name("atomic_add", "impl", type, vs).c_str(),
          [=](benchmark::State& state) {
            Pin(state);
            ArrayMap& map = impl();
            uint64_t i = 0;
            const uint64_t cpu0 = ThreadCpuNs();
            for (auto _ : state) {
              bool ok = map.AtomicAdd(
                  array ? Key(state, i++) : static_cast<uint32_t>(i++ & 0), 0, 1);
              benchmark::DoNotOptimize(ok);
            }
            CpuPerItem(state, cpu0);
            Items(state);
          }));
      if (!array) {
        // The add through the restartable sequence (Options::percpu_add =
        // kRseq), on the keys plain_increment walks (Key(): one after
        // another), so the two compare the same access pattern: on one key
        // each add would wait for the previous one's store (store-to-load
        // forwarding, ~4 cycles here), a plain increment of one key too.
        auto rseq_map = [key]() -> ArrayMap& {
          return Shared<ArrayMap>("impl-rseq" + key, [&] {
            return MakeImpl(MapType::kPercpuArray, vs,
                            amc::impl::PercpuAdd::kRseq)
                .release();
          });
        };
        all.push_back(benchmark::RegisterBenchmark(
            Name("rseq_add", "impl", type, vs).c_str(),
            [=](benchmark::State& state) {
              Pin(state);
              ArrayMap& map = rseq_map();
              if (!map.rseq_add()) {
                state.SkipWithError("no rseq add in this build");
                return;
              }
              uint64_t i = 0;
              const uint64_t cpu0 = ThreadCpuNs();
              for (auto _ : state) {
                bool ok = map.AtomicAdd(Key(state, i++), 0, 1);
                benchmark::DoNotOptimize(ok);
              }
              CpuPerItem(state, cpu0);
              Items(state);
            }));
        // Whole-map batch update (items = elements copied).
        all.push_back(benchmark::RegisterBenchmark(
            Name("update_batch", "impl", type, vs).c_str(),
            [=](benchmark::State& state) {
              Pin(state);
              amc::impl::MapFd fd = impl().fd();
              std::vector<uint32_t> keys(kEntries);
              for (uint32_t k = 0; k < kEntries; ++k) keys[k] = k;
              std::vector<uint64_t> values(kEntries * BufferSize(type, vs) / 8 + 1,
                                           3);
              for (auto _ : state) {
                uint32_t count = kEntries;
                int err = fd.UpdateBatch(keys.data(), values.data(), &count);
                benchmark::DoNotOptimize(err);
              }
              Items(state, kEntries);
            }));
        // The copying floor of the PERCPU syscall face: memcpy of the same
        // bytes (one key's buffer: possible CPUs x round_up(value_size, 8)),
        // at a size the compiler cannot see, between two private buffers.
        all.push_back(benchmark::RegisterBenchmark(
            Name("memcpy", "baseline", type, vs).c_str(),
            [=](benchmark::State& state) {
              Pin(state);
              size_t bytes = BufferSize(type, vs);
              std::vector<uint64_t> from(bytes / 8 + 1, 5), to(bytes / 8 + 1);
              benchmark::DoNotOptimize(bytes);
              for (auto _ : state) {
                std::memcpy(to.data(), from.data(), bytes);
                benchmark::DoNotOptimize(to.data());
                benchmark::ClobberMemory();
              }
              Items(state);
            }));
        // ... and of a whole-map batch: one memcpy of every key's buffer
        // and its 4-byte key, the bytes a batch moves (items = elements,
        // as the batch benchmarks count them).
        all.push_back(benchmark::RegisterBenchmark(
            Name("memcpy_batch", "baseline", type, vs).c_str(),
            [=](benchmark::State& state) {
              Pin(state);
              size_t bytes = kEntries * (BufferSize(type, vs) + 4);
              std::vector<uint64_t> from(bytes / 8 + 1, 5), to(bytes / 8 + 1);
              benchmark::DoNotOptimize(bytes);
              for (auto _ : state) {
                std::memcpy(to.data(), from.data(), bytes);
                benchmark::DoNotOptimize(to.data());
                benchmark::ClobberMemory();
              }
              Items(state, kEntries);
            }));
      }
      if (array && vs == 8) {
        // Control for the per-CPU layout: every thread adds to the same
        // u64 of an ARRAY (one shared cache line).
        all.push_back(benchmark::RegisterBenchmark(
            Name("atomic_add_shared", "impl", type, vs).c_str(),
            [=](benchmark::State& state) {
              Pin(state);
              ArrayMap& map = impl();
              const uint64_t cpu0 = ThreadCpuNs();
              for (auto _ : state) {
                bool ok = map.AtomicAdd(0, 0, 1);
                benchmark::DoNotOptimize(ok);
              }
              CpuPerItem(state, cpu0);
              Items(state);
            }));
      }
      // get-next-key over the whole map
      all.push_back(benchmark::RegisterBenchmark(
          Name("get_next_key", "impl", type, vs).c_str(),
          [=](benchmark::State& state) {
            Pin(state);
            amc::impl::MapFd fd = impl().fd();
            uint32_t key = 0, next = 0;
            for (auto _ : state) {
              if (fd.GetNextKey(&key, &next) != 0) next = 0;
              key = next;
              benchmark::DoNotOptimize(key);
            }
            Items(state);
          }));
      all.push_back(benchmark::RegisterBenchmark(
          Name("get_next_key", "kernel", type, vs).c_str(),
          [=](benchmark::State& state) {
            Pin(state);
            KernelMap& map = kernel();
            if (map.fd < 0) {
              state.SkipWithError("bpf(BPF_MAP_CREATE) failed: not privileged?");
              return;
            }
            uint32_t key = 0, next = 0;
            for (auto _ : state) {
              if (map.NextKey(&key, &next) != 0) next = 0;
              key = next;
            }
            Items(state);
          }));
      // whole-map batch lookup (items = elements copied)
      all.push_back(benchmark::RegisterBenchmark(
          Name("lookup_batch", "impl", type, vs).c_str(),
          [=](benchmark::State& state) {
            Pin(state);
            amc::impl::MapFd fd = impl().fd();
            std::vector<uint32_t> keys(kEntries);
            std::vector<uint64_t> values(kEntries * BufferSize(type, vs) / 8 + 1);
            for (auto _ : state) {
              uint32_t count = kEntries, out = 0;
              int err = fd.LookupBatch(nullptr, &out, keys.data(),
                                       values.data(), &count);
              benchmark::DoNotOptimize(err);
              benchmark::DoNotOptimize(values.data());
            }
            Items(state, kEntries);
          }));
      all.push_back(benchmark::RegisterBenchmark(
          Name("lookup_batch", "kernel", type, vs).c_str(),
          [=](benchmark::State& state) {
            Pin(state);
            KernelMap& map = kernel();
            if (map.fd < 0) {
              state.SkipWithError("bpf(BPF_MAP_CREATE) failed: not privileged?");
              return;
            }
            std::vector<uint32_t> keys(kEntries);
            std::vector<uint64_t> values(kEntries * BufferSize(type, vs) / 8 + 1);
            for (auto _ : state) {
              uint32_t count = kEntries;
              benchmark::DoNotOptimize(
                  map.LookupBatch(keys.data(), values.data(), &count));
            }
            Items(state, kEntries);
          }));

      if (array) {
        // Baselines have ARRAY layout only.
        auto vec = [key]() -> VectorArray<vs>& {
          return Shared<VectorArray<vs>>(
              "vector" + key, [&] { return new VectorArray<vs>(); });
        };
        auto mutex = [key]() -> MutexArray<vs>& {
          return Shared<MutexArray<vs>>(
              "mutex" + key, [&] { return new MutexArray<vs>(); });
        };
        all.push_back(benchmark::RegisterBenchmark(
            Name("lookup_copy", "vector", type, vs).c_str(),
            [=](benchmark::State& state) {
              Pin(state);
              auto& v = vec();
              std::vector<uint64_t> out(vs / 8 + 1);
              uint64_t i = 0;
              for (auto _ : state) {
                std::memcpy(out.data(), v.At(Key(state, i++)), vs);
                benchmark::DoNotOptimize(out.data());
              }
              Items(state);
            }));
        all.push_back(benchmark::RegisterBenchmark(
            Name("lookup_copy", "mutex", type, vs).c_str(),
            [=](benchmark::State& state) {
              Pin(state);
              auto& m = mutex();
              std::vector<uint64_t> out(vs / 8 + 1);
              uint64_t i = 0;
              for (auto _ : state) {
                int err = m.Lookup(Key(state, i++), out.data());
                benchmark::DoNotOptimize(err);
                benchmark::DoNotOptimize(out.data());
              }
              Items(state);
            }));
        all.push_back(benchmark::RegisterBenchmark(
            Name("update", "vector", type, vs).c_str(),
            [=](benchmark::State& state) {
              Pin(state);
              auto& v = vec();
              std::vector<uint64_t> in(vs / 8 + 1, 7);
              uint64_t i = 0;
              for (auto _ : state) {
                in[0] = i;
                std::memcpy(v.At(Key(state, i++)), in.data(), vs);
                benchmark::ClobberMemory();
              }
              Items(state);
            }));
        all.push_back(benchmark::RegisterBenchmark(
            Name("update", "mutex", type, vs).c_str(),
            [=](benchmark::State& state) {
              Pin(state);
              auto& m = mutex();
              std::vector<uint64_t> in(vs / 8 + 1, 7);
              uint64_t i = 0;
              for (auto _ : state) {
                in[0] = i;
                benchmark::DoNotOptimize(m.Update(Key(state, i++), in.data()));
              }
              Items(state);
            }));
        all.push_back(benchmark::RegisterBenchmark(
            Name("lookup_ptr", "vector", type, vs).c_str(),
            [=](benchmark::State& state) {
              Pin(state);
              auto& v = vec();
              uint64_t i = 0;
              for (auto _ : state) {
                uint64_t* p = v.At(Key(state, i++));
                benchmark::DoNotOptimize(p);
              }
              Items(state);
            }));
        // Single-threaded plain increment: the floor for atomic add.
        all.push_back(benchmark::RegisterBenchmark(
            Name("plain_increment", "vector", type, vs).c_str(),
            [=](benchmark::State& state) {
              Pin(state);
              auto& v = vec();
              uint64_t i = 0;
              for (auto _ : state) {
                ++*v.At(Key(state, i++));
                benchmark::ClobberMemory();
              }
              Items(state);
            }));
        all.push_back(benchmark::RegisterBenchmark(
            Name("atomic_add", "mutex", type, vs).c_str(),
            [=](benchmark::State& state) {
              Pin(state);
              auto& m = mutex();
              uint64_t i = 0;
              for (auto _ : state) {
                std::lock_guard<std::mutex> lock(m.mu);
                ++*m.vec.At(Key(state, i++));
              }
              Items(state);
            }));
        all.push_back(benchmark::RegisterBenchmark(
            Name("get_next_key", "vector", type, vs).c_str(),
            [=](benchmark::State& state) {
              Pin(state);
              auto& v = vec();
              uint32_t key = 0;
              for (auto _ : state) {
                key = key + 1 < v.size() ? key + 1 : 0;
                benchmark::DoNotOptimize(key);
              }
              Items(state);
            }));
        all.push_back(benchmark::RegisterBenchmark(
            Name("lookup_batch", "vector", type, vs).c_str(),
            [=](benchmark::State& state) {
              Pin(state);
              auto& v = vec();
              std::vector<uint32_t> keys(kEntries);
              std::vector<uint8_t> values(size_t{kEntries} * vs);
              for (auto _ : state) {
                for (uint32_t k = 0; k < kEntries; ++k) {
                  keys[k] = k;
                  std::memcpy(&values[size_t{k} * vs], v.At(k), vs);
                }
                benchmark::DoNotOptimize(values.data());
              }
              Items(state, kEntries);
            }));
        all.push_back(benchmark::RegisterBenchmark(
            Name("lookup_batch", "mutex", type, vs).c_str(),
            [=](benchmark::State& state) {
              Pin(state);
              auto& m = mutex();
              std::vector<uint32_t> keys(kEntries);
              std::vector<uint8_t> values(size_t{kEntries} * vs);
              for (auto _ : state) {
                std::lock_guard<std::mutex> lock(m.mu);
                for (uint32_t k = 0; k < kEntries; ++k) {
                  keys[k] = k;
                  std::memcpy(&values[size_t{k} * vs], m.vec.At(k), vs);
                }
                benchmark::DoNotOptimize(values.data());
              }
              Items(state, kEntries);
            }));
      }
      for (auto* b : all) b->UseRealTime()->Threads(1)->Threads(2);
    }
  }
}

void RegisterAll() {
  RegisterSize<8>();
  RegisterSize<64>();
  RegisterSize<4096>();
}

// Prints runs as usual and keeps each run's rate for the summary.
class SummaryReporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    for (const Run& run : runs) {
      if (run.error_occurred) continue;
      auto it = run.counters.find("items_per_second");
      if (it == run.counters.end()) continue;
      auto per = run.counters.find("cpu_ns_per_item");
      if (per != run.counters.end() &&
          (run.run_type != Run::RT_Aggregate || run.aggregate_name == "median")) {
        cpu_per_item_[run.run_name.function_name + "@" +
                      std::to_string(run.threads)] = per->second.value;
      }
      std::string key =
          run.run_name.function_name + "@" + std::to_string(run.threads);
      // 1-thread rates over CPU time as well: on a machine shared with other
      // work, wall time counts the time we were preempted.
      double value = it->second.value;
      if (run.threads == 1 && run.GetAdjustedCPUTime() > 0) {
        double cpu_rate =
            value * run.GetAdjustedRealTime() / run.GetAdjustedCPUTime();
        if (run.run_type != Run::RT_Aggregate || run.aggregate_name == "median") {
          cpu_rates_[key] = cpu_rate;
        }
      }
      // With --benchmark_repetitions the median wins; otherwise the run.
      if (run.run_type == Run::RT_Aggregate) {
        if (run.aggregate_name == "median") {
          rates_[key] = it->second.value;
          medians_.insert(key);
        }
      } else if (!medians_.count(key)) {
        rates_[key] = it->second.value;
      }
    }
    ConsoleReporter::ReportRuns(runs);
  }
  // 0 when not measured.
  double Rate(const std::string& name, int threads) const {
    auto it = rates_.find(name + "@" + std::to_string(threads));
    return it == rates_.end() ? 0 : it->second;
  }
  // Thread CPU ns per item (benchmarks that measure it), 0 otherwise.
  double CpuPerItem(const std::string& name, int threads) const {
    auto it = cpu_per_item_.find(name + "@" + std::to_string(threads));
    return it == cpu_per_item_.end() ? 0 : it->second;
  }
  // Items per CPU-second of a 1-thread run.
  double CpuRate(const std::string& name) const {
    auto it = cpu_rates_.find(name + "@1");
    return it == cpu_rates_.end() ? 0 : it->second;
  }

 private:
  std::map<std::string, double> rates_;
  std::set<std::string> medians_;
  std::map<std::string, double> cpu_rates_;
  std::map<std::string, double> cpu_per_item_;
};

void Ratio(const SummaryReporter& r, const char* what, const std::string& a,
           int ta, const std::string& b, int tb, const char* op, double target) {
  // Both 1-thread: compare CPU-time rates (robust to other load);
  // otherwise wall-time totals.
  const bool cpu = ta == 1 && tb == 1;
  double ra = cpu ? r.CpuRate(a) : r.Rate(a, ta);
  double rb = cpu ? r.CpuRate(b) : r.Rate(b, tb);
  if (ra == 0 || rb == 0) {
    std::printf("  %-58s not measured (%s)\n", what, ra == 0 ? a.c_str() : b.c_str());
    return;
  }
  double ratio = ra / rb;
  bool met = op[0] == '>' ? ratio >= target : ratio <= target;
  std::printf("  %-62s %9.3f  (target %s %g; %s)  %s\n", what, ratio, op,
              target, cpu ? "cpu time" : "wall time", met ? "MET" : "NOT MET");
}

void PrintSummary(const SummaryReporter& r) {
  const MapType A = MapType::kArray, P = MapType::kPercpuArray;
  std::printf("\n== impl_bench summary: rate ratios (items/s, wall time) ==\n");
  // "within 1.5x of X" = impl rate >= X rate / 1.5, i.e. X/impl <= 1.5.
  Ratio(r, "vector / impl, 8-byte copy lookup (1 thread)",
        Name("lookup_copy", "vector", A, 8), 1,
        Name("lookup_copy", "impl", A, 8), 1, "<=", 1.5);
  Ratio(r, "vector / impl, 8-byte update (1 thread)",
        Name("update", "vector", A, 8), 1, Name("update", "impl", A, 8), 1,
        "<=", 1.5);
  Ratio(r, "vector index / impl pointer lookup, ARRAY (1 thread)",
        Name("lookup_ptr", "vector", A, 8), 1,
        Name("lookup_ptr", "impl", A, 8), 1, "<=", 1.5);
  Ratio(r, "vector index / impl pointer lookup, PERCPU (1 thread)",
        Name("lookup_ptr", "vector", A, 8), 1,
        Name("lookup_ptr", "impl", P, 8), 1, "<=", 1.5);
  Ratio(r, "impl / kernel, 8-byte copy lookup (1 thread)",
        Name("lookup_copy", "impl", A, 8), 1,
        Name("lookup_copy", "kernel", A, 8), 1, ">=", 1000);
  Ratio(r, "impl / kernel, 8-byte update (1 thread)",
        Name("update", "impl", A, 8), 1, Name("update", "kernel", A, 8), 1,
        ">=", 1000);
  Ratio(r, "plain increment / impl PERCPU current-CPU atomic add (1 thr)",
        Name("plain_increment", "vector", A, 8), 1,
        Name("atomic_add", "impl", P, 8), 1, "<=", 3);
  Ratio(r, "plain increment / impl PERCPU current-CPU rseq add (1 thr)",
        Name("plain_increment", "vector", A, 8), 1,
        Name("rseq_add", "impl", P, 8), 1, "<=", 2);
  std::printf("  (rseq registration of the main thread: %s)\n",
              amc::impl::RseqRegistration());
  // PERCPU syscall-face copies against memcpy of the same bytes.
  for (uint32_t vs : kValueSizes) {
    for (auto [op, base] : {std::pair<const char*, const char*>{
                                "lookup_copy", "memcpy"},
                            {"update", "memcpy"},
                            {"lookup_batch", "memcpy_batch"},
                            {"update_batch", "memcpy_batch"}}) {
      const std::string what = std::string("memcpy / impl PERCPU ") + op + ", " +
                               std::to_string(PossibleCpus()) + " CPUs x " +
                               std::to_string(vs) + " B";
      Ratio(r, what.c_str(), Name(base, "baseline", P, vs), 1,
            Name(op, "impl", P, vs), 1, "<=", 2);
    }
  }
  Ratio(r, "impl PERCPU atomic add, 2 threads / 1 thread (same key)",
        Name("atomic_add", "impl", P, 8), 2, Name("atomic_add", "impl", P, 8),
        1, ">=", 1.8);
  Ratio(r, "impl / mutex, 8-byte update, 2 threads",
        Name("update", "impl", A, 8), 2, Name("update", "mutex", A, 8), 2,
        ">=", 10);
  Ratio(r, "impl / mutex, 8-byte copy lookup, 2 threads",
        Name("lookup_copy", "impl", A, 8), 2,
        Name("lookup_copy", "mutex", A, 8), 2, ">=", 10);
  Ratio(r, "impl PERCPU / mutex ARRAY, atomic add, 2 threads",
        Name("atomic_add", "impl", P, 8), 2, Name("atomic_add", "mutex", A, 8),
        2, ">=", 10);
  // Load-independent view of the same target: CPU time per add with 2
  // threads over 1 thread; 2/1.8 = 1.11 is what 1.8x throughput on two free
  // CPUs allows. The shared-key ARRAY add shows what a shared line costs
  // when the threads do overlap.
  for (auto [label, name] :
       {std::pair<const char*, std::string>{
            "CPU per add 2 thr / 1 thr, PERCPU current CPU (same key)",
            Name("atomic_add", "impl", P, 8)},
        {"CPU per add 2 thr / 1 thr, ARRAY one shared u64 (control)",
         Name("atomic_add_shared", "impl", A, 8)}}) {
    double one = r.CpuPerItem(name, 1), two = r.CpuPerItem(name, 2);
    if (one > 0 && two > 0) {
      std::printf("  %-62s %9.3f  (%.2f -> %.2f ns; target <= 1.11 for the "
                  "PERCPU line)  %s\n",
                  label, two / one, one, two,
                  name.find("shared") != std::string::npos
                      ? "control"
                      : (two / one <= 1.11 ? "MET" : "NOT MET"));
    }
  }
  Ratio(r, "control: vector get-next-key 2 thr / 1 thr (no shared data)",
        Name("get_next_key", "vector", A, 8), 2,
        Name("get_next_key", "vector", A, 8), 1, ">=", 1.8);
  std::printf("\n  informational ratios (impl / baseline, higher is better; 1 thread:\n  cpu-time rates, 2 threads: wall-time totals):\n");
  for (uint32_t vs : kValueSizes) {
    for (const char* op : {"lookup_copy", "update", "lookup_batch",
                           "get_next_key"}) {
      for (int t : {1, 2}) {
        auto R = [&](const std::string& n, int threads) {
          return threads == 1 ? r.CpuRate(n) : r.Rate(n, threads);
        };
        double impl = R(Name(op, "impl", A, vs), t);
        double vec = R(Name(op, "vector", A, vs), t);
        double mtx = R(Name(op, "mutex", A, vs), t);
        double ker = R(Name(op, "kernel", A, vs), t);
        double pimpl = R(Name(op, "impl", P, vs), t);
        double pker = R(Name(op, "kernel", P, vs), t);
        std::printf(
            "  %-13s %4u B %d thr: impl %7.3g/s  vs vector %6.3f  vs mutex "
            "%7.2f  vs kernel %8.1f | percpu impl vs kernel %8.1f\n",
            op, vs, t, impl, vec ? impl / vec : 0, mtx ? impl / mtx : 0,
            ker ? impl / ker : 0, pker ? pimpl / pker : 0);
      }
    }
  }
  std::printf("\n  memory (data bytes held vs the kernel layout):\n");
  for (MapType type : {A, P}) {
    for (uint32_t vs : {8u, 12u, 64u, 4096u}) {
      for (uint32_t entries : {1u, 1000u, 100000u}) {
        amc::impl::MapAttr attr;
        attr.type = type;
        attr.value_size = vs;
        attr.max_entries = entries;
        std::unique_ptr<ArrayMap> map;
        if (ArrayMap::Create(attr, {}, &map) != 0) continue;
        uint64_t layout = map->elem_size() * entries *
                          (type == P ? map->possible_cpus() : 1);
        uint64_t held = map->storage_bytes();
        std::printf("  %-6s vs=%-5u n=%-6u layout %10llu held %10llu extra %6llu "
                    "(<= page %ld + header %zu: %s)\n",
                    type == A ? "array" : "percpu", vs, entries,
                    static_cast<unsigned long long>(layout),
                    static_cast<unsigned long long>(held),
                    static_cast<unsigned long long>(held - layout),
                    sysconf(_SC_PAGESIZE), sizeof(ArrayMap),
                    held - layout <= static_cast<uint64_t>(sysconf(_SC_PAGESIZE))
                        ? "MET"
                        : "NOT MET");
      }
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  RegisterAll();
  SummaryReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  PrintSummary(reporter);
  benchmark::Shutdown();
  return 0;
}
