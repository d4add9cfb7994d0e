// Kernel operations per second through the kernel backend, for every op kind
// single and batched, and the oracle's per-op overhead as a ratio against the
// equivalent raw bpf() call on an identical map measured in the same run
// (counter `x_raw`: oracle time / raw time; `raw_ns`: the raw call's time).
// Times are wall-clock (UseRealTime), like the ratio's own measurements.
// Program ops have no raw bpf() equivalent of their own: their baseline is a
// raw BPF_MAP_LOOKUP_ELEM (they cost a test run, two affinity changes and a
// scratch-map syscall).
#include <benchmark/benchmark.h>
#include <linux/bpf.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <functional>
#include <memory>

#include "oracle_kernel/kernel_backend.h"

namespace amc::oracle_kernel {
namespace {

using core::MapSpec;
using core::MapType;
using Clock = std::chrono::steady_clock;

KernelBackend& Kernel() {
  static KernelBackend* kernel = new KernelBackend();
  return *kernel;
}

bool Available(benchmark::State& state) {
  static const core::Availability a = Kernel().Probe();
  if (!a.available)
    state.SkipWithError(("kernel unavailable: " + a.reason).c_str());
  return a.available;
}

long Bpf(int cmd, union bpf_attr* attr) {
  return syscall(__NR_bpf, cmd, attr, sizeof(*attr));
}
uint64_t Ptr(const void* p) { return reinterpret_cast<uintptr_t>(p); }

// A raw map identical to `spec`, for the baseline.
class RawMap {
 public:
  explicit RawMap(const MapSpec& spec) {
    union bpf_attr attr;
    std::memset(&attr, 0, sizeof attr);
    attr.map_type = static_cast<uint32_t>(spec.type);
    attr.key_size = spec.key_size;
    attr.value_size = spec.value_size;
    attr.max_entries = spec.max_entries;
    attr.map_flags = spec.map_flags;
    fd_ = static_cast<int>(Bpf(BPF_MAP_CREATE, &attr));
  }
  ~RawMap() {
    if (fd_ >= 0) close(fd_);
  }
  int fd() const { return fd_; }

 private:
  int fd_ = -1;
};

// Nanoseconds per call of `raw`, measured over enough calls.
double RawNs(const std::function<void()>& raw) {
  constexpr int kCalls = 20000;
  for (int i = 0; i < 1000; ++i) raw();
  auto start = Clock::now();
  for (int i = 0; i < kCalls; ++i) raw();
  return std::chrono::duration<double, std::nano>(Clock::now() - start)
             .count() /
         kCalls;
}

// Runs `op` through the oracle in the timed loop, then reports ops/s
// (items = elements touched) and the ratio against `raw`.
void RunOp(benchmark::State& state, const MapSpec& spec, const core::Op& op,
           uint64_t elements, const std::function<void(int fd)>& raw) {
  if (!Available(state)) return;
  core::CreateResult created = Kernel().Create(spec);
  if (created.err) {
    state.SkipWithError("map creation failed");
    return;
  }
  core::MapInstance& map = *created.map;
  map.Execute(op);  // loads the op's program, if any, outside the timing
  auto start = Clock::now();
  for (auto _ : state) {
    core::Result r = map.Execute(op);
    benchmark::DoNotOptimize(r);
  }
  double oracle_ns =
      std::chrono::duration<double, std::nano>(Clock::now() - start).count() /
      std::max<int64_t>(state.iterations(), 1);
  RawMap raw_map(spec);
  double raw_ns = RawNs([&] { raw(raw_map.fd()); });
  state.SetItemsProcessed(state.iterations() * elements);
  state.counters["raw_ns"] = raw_ns;
  state.counters["x_raw"] = oracle_ns / raw_ns;
}

MapSpec Array(uint32_t max_entries = 256, uint32_t value_size = 8,
              uint32_t flags = 0) {
  return MapSpec{MapType::kArray, 4, value_size,  max_entries,
                 flags,           0, std::nullopt};
}
MapSpec Percpu(uint32_t max_entries = 256, uint32_t value_size = 8) {
  return MapSpec{MapType::kPercpuArray, 4, value_size, max_entries, 0, 0,
                 std::nullopt};
}
core::Environment Env() { return Kernel().Env(); }

void RawLookup(int fd, uint32_t key, uint64_t value_bytes) {
  static thread_local std::vector<uint8_t> value;
  value.resize(value_bytes);
  union bpf_attr attr;
  std::memset(&attr, 0, sizeof attr);
  attr.map_fd = fd;
  attr.key = Ptr(&key);
  attr.value = Ptr(value.data());
  Bpf(BPF_MAP_LOOKUP_ELEM, &attr);
}
void RawUpdate(int fd, uint32_t key, uint64_t value_bytes) {
  static thread_local std::vector<uint8_t> value;
  value.resize(value_bytes, 1);
  union bpf_attr attr;
  std::memset(&attr, 0, sizeof attr);
  attr.map_fd = fd;
  attr.key = Ptr(&key);
  attr.value = Ptr(value.data());
  Bpf(BPF_MAP_UPDATE_ELEM, &attr);
}
void RawSimple(int cmd, int fd, uint32_t key) {
  uint32_t next = 0;
  uint8_t value[4096];
  union bpf_attr attr;
  std::memset(&attr, 0, sizeof attr);
  attr.map_fd = fd;
  attr.key = Ptr(&key);
  if (cmd == BPF_MAP_GET_NEXT_KEY) attr.next_key = Ptr(&next);
  if (cmd == BPF_MAP_LOOKUP_AND_DELETE_ELEM) attr.value = Ptr(value);
  Bpf(cmd, &attr);
}
void RawBatch(int cmd, int fd, uint32_t count, uint64_t value_bytes) {
  static thread_local std::vector<uint32_t> keys;
  static thread_local std::vector<uint8_t> values;
  keys.resize(count);
  for (uint32_t i = 0; i < count; ++i) keys[i] = i;
  values.resize(count * value_bytes);
  uint32_t out = 0;
  union bpf_attr attr;
  std::memset(&attr, 0, sizeof attr);
  attr.batch.map_fd = fd;
  attr.batch.keys = Ptr(keys.data());
  attr.batch.values = Ptr(values.data());
  attr.batch.count = count;
  if (cmd == BPF_MAP_LOOKUP_BATCH || cmd == BPF_MAP_LOOKUP_AND_DELETE_BATCH) {
    attr.batch.out_batch = Ptr(&out);
  }
  Bpf(cmd, &attr);
}

// ---- syscall side ----

void BM_Lookup(benchmark::State& state) {
  MapSpec spec = state.range(0) ? Percpu() : Array();
  uint64_t vs = core::SyscallValueSize(spec, Env());
  RunOp(state, spec, core::Lookup{7, 0}, 1,
        [vs](int fd) { RawLookup(fd, 7, vs); });
}
BENCHMARK(BM_Lookup)->ArgName("percpu")->Arg(0)->Arg(1)->UseRealTime();

void BM_Update(benchmark::State& state) {
  MapSpec spec = state.range(0) ? Percpu() : Array();
  uint64_t vs = core::SyscallValueSize(spec, Env());
  RunOp(state, spec, core::Update{7, core::Bytes(vs, 1), 0}, 1,
        [vs](int fd) { RawUpdate(fd, 7, vs); });
}
BENCHMARK(BM_Update)->ArgName("percpu")->Arg(0)->Arg(1)->UseRealTime();

void BM_Delete(benchmark::State& state) {
  RunOp(state, Array(), core::Delete{7}, 1,
        [](int fd) { RawSimple(BPF_MAP_DELETE_ELEM, fd, 7); });
}
BENCHMARK(BM_Delete)->UseRealTime();

void BM_LookupAndDelete(benchmark::State& state) {
  RunOp(state, Array(), core::LookupAndDelete{7, 0}, 1,
        [](int fd) { RawSimple(BPF_MAP_LOOKUP_AND_DELETE_ELEM, fd, 7); });
}
BENCHMARK(BM_LookupAndDelete)->UseRealTime();

void BM_GetNextKey(benchmark::State& state) {
  RunOp(state, Array(), core::GetNextKey{7}, 1,
        [](int fd) { RawSimple(BPF_MAP_GET_NEXT_KEY, fd, 7); });
}
BENCHMARK(BM_GetNextKey)->UseRealTime();

void BM_LookupBatch(benchmark::State& state) {
  uint32_t n = static_cast<uint32_t>(state.range(0));
  MapSpec spec = state.range(1) ? Percpu() : Array();
  uint64_t vs = core::SyscallValueSize(spec, Env());
  RunOp(state, spec, core::LookupBatch{std::nullopt, n, 0, 0}, n,
        [n, vs](int fd) { RawBatch(BPF_MAP_LOOKUP_BATCH, fd, n, vs); });
}
BENCHMARK(BM_LookupBatch)
    ->ArgNames({"count", "percpu"})
    ->ArgsProduct({{1, 16, 256}, {0, 1}})
    ->UseRealTime();

void BM_UpdateBatch(benchmark::State& state) {
  uint32_t n = static_cast<uint32_t>(state.range(0));
  MapSpec spec = state.range(1) ? Percpu() : Array();
  uint64_t vs = core::SyscallValueSize(spec, Env());
  core::UpdateBatch op;
  for (uint32_t i = 0; i < n; ++i) op.keys.push_back(i);
  op.values.assign(n * vs, 2);
  RunOp(state, spec, op, n,
        [n, vs](int fd) { RawBatch(BPF_MAP_UPDATE_BATCH, fd, n, vs); });
}
BENCHMARK(BM_UpdateBatch)
    ->ArgNames({"count", "percpu"})
    ->ArgsProduct({{1, 16, 256}, {0, 1}})
    ->UseRealTime();

void BM_LookupAndDeleteBatch(benchmark::State& state) {
  RunOp(state, Array(), core::LookupAndDeleteBatch{std::nullopt, 16, 0, 0}, 16,
        [](int fd) { RawBatch(BPF_MAP_LOOKUP_AND_DELETE_BATCH, fd, 16, 8); });
}
BENCHMARK(BM_LookupAndDeleteBatch)->UseRealTime();

void BM_DeleteBatch(benchmark::State& state) {
  core::DeleteBatch op;
  for (uint32_t i = 0; i < 16; ++i) op.keys.push_back(i);
  RunOp(state, Array(), op, 16,
        [](int fd) { RawBatch(BPF_MAP_DELETE_BATCH, fd, 16, 8); });
}
BENCHMARK(BM_DeleteBatch)->UseRealTime();

// Freeze is one-shot: each iteration freezes a fresh map (creation untimed;
// the frozen map is destroyed, not cached).
void BM_Freeze(benchmark::State& state) {
  if (!Available(state)) return;
  double oracle_ns = 0;
  for (auto _ : state) {
    state.PauseTiming();
    core::CreateResult created = Kernel().Create(Array(4));
    state.ResumeTiming();
    auto start = Clock::now();
    core::Result r = created.map->Execute(core::Freeze{});
    oracle_ns +=
        std::chrono::duration<double, std::nano>(Clock::now() - start).count();
    benchmark::DoNotOptimize(r);
    state.PauseTiming();
    created.map.reset();
    state.ResumeTiming();
  }
  std::vector<std::unique_ptr<RawMap>> raws;
  for (int i = 0; i < 2000; ++i)
    raws.push_back(std::make_unique<RawMap>(Array(4)));
  auto start = Clock::now();
  for (auto& m : raws) {
    union bpf_attr attr;
    std::memset(&attr, 0, sizeof attr);
    attr.map_fd = m->fd();
    Bpf(BPF_MAP_FREEZE, &attr);
  }
  double raw_ns =
      std::chrono::duration<double, std::nano>(Clock::now() - start).count() /
      raws.size();
  state.SetItemsProcessed(state.iterations());
  state.counters["raw_ns"] = raw_ns;
  state.counters["x_raw"] =
      oracle_ns / std::max<int64_t>(state.iterations(), 1) / raw_ns;
}
BENCHMARK(BM_Freeze)->UseRealTime();

// ---- mmap ----

// One mmap + munmap pair per iteration (two ops).
void BM_MmapMunmap(benchmark::State& state) {
  if (!Available(state)) return;
  MapSpec spec = Array(512, 8, core::kBpfFMmapable);
  core::CreateResult created = Kernel().Create(spec);
  core::MapInstance& map = *created.map;
  core::Mmap mmap_op{0, 0, 4096, core::kProtRead | core::kProtWrite, true};
  auto start = Clock::now();
  for (auto _ : state) {
    benchmark::DoNotOptimize(map.Execute(mmap_op));
    benchmark::DoNotOptimize(map.Execute(core::Munmap{0}));
  }
  double oracle_ns =
      std::chrono::duration<double, std::nano>(Clock::now() - start).count() /
      std::max<int64_t>(state.iterations(), 1);
  RawMap raw(spec);
  double raw_ns = RawNs([&] {
    void* p =
        mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, raw.fd(), 0);
    if (p != MAP_FAILED) munmap(p, 4096);
  });
  state.SetItemsProcessed(state.iterations() * 2);
  state.counters["raw_ns"] = raw_ns;
  state.counters["x_raw"] = oracle_ns / raw_ns;
}
BENCHMARK(BM_MmapMunmap)->UseRealTime();

void BM_MmapReadWrite(benchmark::State& state) {
  if (!Available(state)) return;
  bool write = state.range(0);
  core::CreateResult created =
      Kernel().Create(Array(512, 8, core::kBpfFMmapable));
  core::MapInstance& map = *created.map;
  map.Execute(core::Mmap{0, 0, 4096, core::kProtRead | core::kProtWrite, true});
  core::Op op = write ? core::Op(core::MmapWrite{0, 64, core::Bytes(8, 3)})
                      : core::Op(core::MmapRead{0, 64, 8});
  for (auto _ : state) benchmark::DoNotOptimize(map.Execute(op));
  state.SetItemsProcessed(state.iterations());
  map.Execute(core::Munmap{0});
}
BENCHMARK(BM_MmapReadWrite)->ArgName("write")->Arg(0)->Arg(1)->UseRealTime();

// ---- program side ----

void RunProg(benchmark::State& state, const MapSpec& spec, const core::Op& op) {
  RunOp(state, spec, op, 1, [](int fd) { RawLookup(fd, 7, 8); });
}
void BM_ProgLookup(benchmark::State& state) {
  RunProg(state, state.range(0) ? Percpu() : Array(), core::ProgLookup{1, 7});
}
BENCHMARK(BM_ProgLookup)->ArgName("percpu")->Arg(0)->Arg(1)->UseRealTime();
void BM_ProgUpdate(benchmark::State& state) {
  RunProg(state, state.range(0) ? Percpu() : Array(),
          core::ProgUpdate{1, 7, core::Bytes(8, 4), 0});
}
BENCHMARK(BM_ProgUpdate)->ArgName("percpu")->Arg(0)->Arg(1)->UseRealTime();
void BM_ProgDelete(benchmark::State& state) {
  RunProg(state, Array(), core::ProgDelete{1, 7});
}
BENCHMARK(BM_ProgDelete)->UseRealTime();
void BM_ProgLookupPercpu(benchmark::State& state) {
  RunProg(state, Percpu(), core::ProgLookupPercpu{0, 7, 1});
}
BENCHMARK(BM_ProgLookupPercpu)->UseRealTime();
void BM_ProgAtomicAdd(benchmark::State& state) {
  RunProg(state, state.range(0) ? Percpu() : Array(),
          core::ProgAtomicAdd{1, 7, 0, 1});
}
BENCHMARK(BM_ProgAtomicAdd)->ArgName("percpu")->Arg(0)->Arg(1)->UseRealTime();

// ---- map life cycle: create (or reuse after a verified reset) ----

void BM_CreateReuse(benchmark::State& state) {
  if (!Available(state)) return;
  MapSpec spec = Percpu(static_cast<uint32_t>(state.range(0)));
  Kernel().Create(spec);  // warm the cache
  for (auto _ : state) {
    core::CreateResult created = Kernel().Create(spec);
    benchmark::DoNotOptimize(created.err);
  }
  state.SetItemsProcessed(state.iterations());
  double raw_ns = RawNs([&] { RawMap m(spec); });
  state.counters["raw_ns"] = raw_ns;  // a raw BPF_MAP_CREATE + close
}
BENCHMARK(BM_CreateReuse)
    ->ArgName("max_entries")
    ->Arg(256)
    ->Arg(4096)
    ->UseRealTime();

}  // namespace
}  // namespace amc::oracle_kernel

BENCHMARK_MAIN();
