// Throughput of the differential fuzz target and the harness's own cost.
//
//   BM_Decode                  baseline: bytes -> Sequence only
//   BM_Check/<backends>        decode + run on those backends (= fuzzer exec),
//                              each backend alone and with the model
//                              on inputs of 28..36 ops; items/s = exec/s
//   BM_Check/.../no_final_state, max_map_bytes:1M
//                              what the final-state comparison and the
//                              fuzzer's map bound cost
//   BM_RawBpfLookup/Update     bpf(2) on an ARRAY map, nothing else
//   BM_KernelBackendLookup/Update
//                              the same op through the "kernel" backend's
//                              MapInstance::Execute (when registered and
//                              available), to compare with the raw syscall
//
// Ratios are printed at the end (exec/s vs decode-only, kernel backend vs raw
// syscall). Run without sanitizers (the fuzz-perf or default preset) on an
// otherwise idle core, e.g.
//   taskset -c 0 build/fuzz-perf/fuzzers/throughput_benchmark
// To compare two builds, run them alternately on that core: this VM's
// speed drifts over minutes (fuzzers/README.md).
#include <benchmark/benchmark.h>
#include <linux/bpf.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstring>
#include <map>

#include "backends/registry.h"
#include "fuzzers/differential_harness.h"
#include "gen/chooser.h"

namespace amc::fuzzers {
namespace {

// Deterministic inputs that decode to 28..36 ops.
const std::vector<std::vector<uint8_t>>& Inputs32() {
  static const auto* inputs = [] {
    auto* out = new std::vector<std::vector<uint8_t>>;
    DifferentialHarness decoder("model");
    gen::RandomChooser c(32);
    while (out->size() < 256) {
      std::vector<uint8_t> bytes(c.Range(300, 800));
      for (uint8_t& b : bytes) b = c.Byte();
      size_t ops = decoder.Decode(bytes.data(), bytes.size()).steps.size();
      if (ops >= 28 && ops <= 36) out->push_back(std::move(bytes));
    }
    return out;
  }();
  return *inputs;
}

void BM_Decode(benchmark::State& state) {
  DifferentialHarness harness("model");
  const auto& inputs = Inputs32();
  size_t i = 0, ops = 0;
  for (auto _ : state) {
    const auto& in = inputs[i++ % inputs.size()];
    core::Sequence seq = harness.Decode(in.data(), in.size());
    ops += seq.steps.size();
    benchmark::DoNotOptimize(seq);
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["ops/input"] = double(ops) / state.iterations();
}

void BM_Check(benchmark::State& state, std::string list, HarnessOptions options) {
  DifferentialHarness harness(list, options);
  if (!harness.error().empty()) {
    state.SkipWithError(harness.error().c_str());
    return;
  }
  const auto& inputs = Inputs32();
  size_t i = 0, diverged = 0;
  for (auto _ : state) {
    const auto& in = inputs[i++ % inputs.size()];
    if (harness.Check(in.data(), in.size())) ++diverged;
  }
  state.SetItemsProcessed(state.iterations());
  // A divergence stops the run at that op, so a high share flatters exec/s.
  state.counters["diverged"] = double(diverged) / state.iterations();
}

// ---- one op: raw bpf(2) vs the kernel backend ----

int Bpf(int cmd, union bpf_attr* attr) {
  return static_cast<int>(syscall(__NR_bpf, cmd, attr, sizeof(*attr)));
}

struct RawMap {
  int fd = -1;
  RawMap() {
    union bpf_attr attr;
    std::memset(&attr, 0, sizeof(attr));
    attr.map_type = BPF_MAP_TYPE_ARRAY;
    attr.key_size = 4;
    attr.value_size = 8;
    attr.max_entries = 4;
    fd = Bpf(BPF_MAP_CREATE, &attr);
  }
  ~RawMap() {
    if (fd >= 0) close(fd);
  }
};

void BM_RawBpf(benchmark::State& state, bool update) {
  RawMap map;
  if (map.fd < 0) {
    state.SkipWithError("BPF_MAP_CREATE failed (no CAP_BPF?)");
    return;
  }
  uint32_t key = 1;
  uint64_t value = 0x0102030405060708;
  for (auto _ : state) {
    union bpf_attr attr;
    std::memset(&attr, 0, sizeof(attr));
    attr.map_fd = map.fd;
    attr.key = reinterpret_cast<uint64_t>(&key);
    attr.value = reinterpret_cast<uint64_t>(&value);
    attr.flags = BPF_ANY;
    int rc = Bpf(update ? BPF_MAP_UPDATE_ELEM : BPF_MAP_LOOKUP_ELEM, &attr);
    benchmark::DoNotOptimize(rc);
    benchmark::DoNotOptimize(value);
  }
  state.SetItemsProcessed(state.iterations());
}

void BM_KernelBackend(benchmark::State& state, bool update) {
  backends::Selection selection = backends::SelectBackends("kernel");
  if (selection.available.size() != 1) {
    state.SkipWithError(selection.error.empty()
                            ? ("kernel backend unavailable: " +
                               (selection.unavailable.empty()
                                    ? std::string("?")
                                    : selection.unavailable[0].second))
                                  .c_str()
                            : selection.error.c_str());
    return;
  }
  core::MapSpec spec;  // ARRAY, key 4, value 8, 4 entries
  core::CreateResult created = selection.available[0]->Create(spec);
  if (!created.map) {
    state.SkipWithError("kernel backend could not create the map");
    return;
  }
  core::Op op = update ? core::Op(core::Update{1, core::Bytes(8, 7), core::kBpfAny})
                       : core::Op(core::Lookup{1, 0});
  for (auto _ : state) {
    core::Result r = created.map->Execute(op);
    benchmark::DoNotOptimize(r);
  }
  state.SetItemsProcessed(state.iterations());
}

void RegisterAll() {
  benchmark::RegisterBenchmark("BM_Decode", BM_Decode);
  std::vector<std::string> lists = {"model"};
  std::string every;
  for (const auto& entry : backends::AllBackends()) {
    if (!entry.in_default_set) continue;
    every += (every.empty() ? "" : ",") + entry.name;
    if (entry.name != "model") {
      // Alone too: what each backend costs by itself (no final-state
      // comparison with a single backend).
      lists.push_back(entry.name);
      lists.push_back("model," + entry.name);
    }
  }
  if (every != "model" && std::find(lists.begin(), lists.end(), every) == lists.end()) {
    lists.push_back(every);
  }
  for (const std::string& list : lists) {
    benchmark::RegisterBenchmark(("BM_Check/" + list).c_str(), BM_Check, list,
                                 HarnessOptions{});
  }
  // What the fuzzer's own bounds cost: smaller maps, no final-state check.
  HarnessOptions big_maps;
  big_maps.max_map_bytes = 1 << 20;
  HarnessOptions no_final;
  no_final.compare_final_state = false;
  benchmark::RegisterBenchmark("BM_Check/model/max_map_bytes:1M", BM_Check,
                               std::string("model"), big_maps);
  benchmark::RegisterBenchmark("BM_Check/model,impl/no_final_state", BM_Check,
                               std::string("model,impl"), no_final);
  benchmark::RegisterBenchmark("BM_Check/model/no_final_state", BM_Check,
                               std::string("model"), no_final);
  benchmark::RegisterBenchmark("BM_RawBpfLookup", BM_RawBpf, false);
  benchmark::RegisterBenchmark("BM_KernelBackendLookup", BM_KernelBackend, false);
  benchmark::RegisterBenchmark("BM_RawBpfUpdate", BM_RawBpf, true);
  benchmark::RegisterBenchmark("BM_KernelBackendUpdate", BM_KernelBackend, true);
}

// Prints the ratios the issue asks about.
class RatioReporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    ConsoleReporter::ReportRuns(runs);
    for (const Run& run : runs) {
      if (!run.error_occurred) ns_[run.benchmark_name()] = run.GetAdjustedCPUTime();
    }
  }
  void Finalize() override {
    ConsoleReporter::Finalize();
    auto have = [&](const std::string& n) { return ns_.count(n) != 0; };
    for (const auto& [name, ns] : ns_) {
      if (name.rfind("BM_Check/", 0) == 0) {
        std::printf("%-36s %10.0f exec/s  (%.1fx the decode-only baseline's time)\n",
                    name.c_str(), 1e9 / ns, have("BM_Decode") ? ns / ns_["BM_Decode"] : 0.0);
      }
    }
    for (const char* op : {"Lookup", "Update"}) {
      std::string raw = std::string("BM_RawBpf") + op;
      std::string kb = std::string("BM_KernelBackend") + op;
      if (have(raw) && have(kb)) {
        std::printf("%s: raw bpf() %.0f ns, kernel backend %.0f ns: harness cost %+.1f%% of the syscall\n",
                    op, ns_[raw], ns_[kb], 100.0 * (ns_[kb] - ns_[raw]) / ns_[raw]);
      }
    }
  }

 private:
  std::map<std::string, double> ns_;
};

}  // namespace
}  // namespace amc::fuzzers

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  // As the fuzzer does (LLVMFuzzerInitialize); AMC_DEFAULT_MALLOC=1 to compare.
  if (!getenv("AMC_DEFAULT_MALLOC")) amc::fuzzers::TuneAllocatorForFuzzing();
  amc::fuzzers::RegisterAll();
  amc::fuzzers::RatioReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();
  return 0;
}
