// Kernel campaign throughput: a fixed slice of `amc run`'s own sequences
// (the campaign's generator, seed and op mix: CampaignSequence) run through
// the differential runner with every check (creation, each op's result,
// the final state), on the model alone and on model+kernel, in the same
// process. Each backend is wrapped in the timer `amc run` uses for its
// per-backend figures (tools/amc/timed_backend.h), so the counters are the
// run summary's "sequences per busy second":
//   model_seq_per_s   the model alone,
//   kernel_seq_per_s  the kernel, beside the model,
//   kernel_vs_model   their ratio (kernel / model).
// Run pinned to one CPU, like the measurement:
//   taskset -c 1 build/default/bench/kernel_campaign_bench
#include <benchmark/benchmark.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "backends/registry.h"
#include "core/differential.h"
#include "tools/amc/campaign.h"
#include "tools/amc/timed_backend.h"

namespace amc::cli {
namespace {

constexpr uint64_t kSeed = 9;          // the seed
constexpr uint64_t kSliceSequences = 200;  // sequences per iteration

struct Slice {
  CampaignPlan plan;
  std::vector<core::Sequence> sequences;
};

// The campaign's sequences 0..kSliceSequences-1 for model,kernel; null when
// the kernel cannot run here.
const Slice* TheSlice(std::string* why) {
  static std::string reason;
  static const Slice* slice = [] () -> const Slice* {
    backends::Selection selection = backends::SelectBackends("model,kernel");
    if (selection.available.size() != 2) {
      reason = "model and kernel are not both available";
      for (const auto& [name, r] : selection.unavailable) {
        reason += "; " + name + ": " + r;
      }
      return nullptr;
    }
    auto* s = new Slice;
    s->plan = PlanCampaign(selection, 32);
    for (uint64_t i = 0; i < kSliceSequences; ++i) {
      s->sequences.push_back(CampaignSequence(s->plan, kSeed, i));
    }
    return s;
  }();
  *why = reason;
  return slice;
}

std::unique_ptr<core::Backend> Make(const std::string& name) {
  backends::Selection s = backends::SelectBackends(name);
  return s.available.empty() ? nullptr : std::move(s.available[0]);
}

// Runs the slice; adds each backend's busy time to `timers`.
void RunSlice(const Slice& slice, const std::vector<core::Backend*>& backends,
              benchmark::State& state) {
  for (const core::Sequence& seq : slice.sequences) {
    core::RunOutcome out = core::RunDifferential(seq, backends);
    if (out.harness_error) {
      state.SkipWithError(("harness error: " + *out.harness_error).c_str());
      return;
    }
    if (out.divergence) {
      state.SkipWithError(("divergence: " + out.divergence->Report(seq))
                              .c_str());
      return;
    }
  }
}

void BM_CampaignSlice(benchmark::State& state) {
  std::string why;
  const Slice* slice = TheSlice(&why);
  if (!slice) {
    state.SkipWithError(why.c_str());
    return;
  }
  BackendTimer model_alone, model_beside, kernel;
  TimedBackend model_a(Make("model"), &model_alone);
  TimedBackend model_b(Make("model"), &model_beside);
  TimedBackend kernel_b(Make("kernel"), &kernel);
  uint64_t sequences = 0;
  for (auto _ : state) {
    RunSlice(*slice, {&model_a}, state);
    RunSlice(*slice, {&model_b, &kernel_b}, state);
    sequences += slice->sequences.size();
  }
  const double n = static_cast<double>(sequences);
  const double model_rate = n / (model_alone.busy_ns / 1e9);
  const double kernel_rate = n / (kernel.busy_ns / 1e9);
  state.counters["model_seq_per_s"] = model_rate;
  state.counters["kernel_seq_per_s"] = kernel_rate;
  state.counters["kernel_vs_model"] = kernel_rate / model_rate;
  state.counters["kernel_us_per_seq"] = kernel.busy_ns / 1e3 / n;
}
BENCHMARK(BM_CampaignSlice)->Unit(benchmark::kMillisecond)->Iterations(3);

}  // namespace
}  // namespace amc::cli

BENCHMARK_MAIN();
