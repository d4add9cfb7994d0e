// Kernel safety: the kernel backend never asks the kernel for a map above
// its per-map memory bound (unless the kernel refuses it before allocating);
// such a sequence is sat out with the reason, promptly.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>

#include "backends/registry.h"
#include "core/differential.h"
#include "core/harness_error.h"
#include "model/model_backend.h"
#include "oracle_kernel/kernel_backend.h"
#include "oracle_kernel/record.h"
#include "oracle_kernel/require_kernel_test_util.h"

namespace amc::oracle_kernel {
namespace {

using core::MapSpec;
using core::MapType;

// 32 KiB values (the per-CPU limit), a million entries: 32 GiB per CPU.
MapSpec HugePercpu() {
  MapSpec spec;
  spec.type = MapType::kPercpuArray;
  spec.value_size = 32768;
  spec.max_entries = 1u << 20;
  return spec;
}

core::Sequence OneLookupOn(const MapSpec& spec) {
  core::Sequence seq;
  seq.spec = spec;
  seq.steps.push_back({core::Lookup{0, 0}, {}});
  return seq;
}

TEST(KernelSafetyTest, MapBytesAreRoundedValueTimesEntriesTimesCpusForPercpu) {
  MapSpec spec;
  spec.value_size = 5;
  spec.max_entries = 3;
  EXPECT_EQ(KernelMapBytes(spec, 4), 24u);
  spec.type = MapType::kPercpuArray;
  EXPECT_EQ(KernelMapBytes(spec, 4), 96u);
  EXPECT_EQ(KernelMapBytes(HugePercpu(), 64), uint64_t{2} << 40);
}

TEST(KernelSafetyTest, ByteCountsTakeKMGSuffixesAndRefuseTheRest) {
  EXPECT_EQ(ParseByteCount("67108864"), uint64_t{64} << 20);
  EXPECT_EQ(ParseByteCount("64M"), uint64_t{64} << 20);
  EXPECT_EQ(ParseByteCount("1G"), uint64_t{1} << 30);
  EXPECT_EQ(ParseByteCount("512k"), uint64_t{512} << 10);
  EXPECT_FALSE(ParseByteCount(""));
  EXPECT_FALSE(ParseByteCount("M"));
  EXPECT_FALSE(ParseByteCount("12MB"));
  EXPECT_FALSE(ParseByteCount("-1"));
  EXPECT_FALSE(ParseByteCount("99999999999999999999G"));
}

TEST(KernelSafetyTest, AHugePercpuMapIsSatOutPromptlyNeverRunNorDiverging) {
  KernelBackend kernel;
  REQUIRE_KERNEL(kernel);
  model::ModelBackend model{model::Params::Host()};
  core::Sequence seq = OneLookupOn(HugePercpu());
  auto start = std::chrono::steady_clock::now();
  core::RunOutcome out = core::RunDifferential(seq, {&model, &kernel});
  double seconds = std::chrono::duration<double>(
                       std::chrono::steady_clock::now() - start)
                       .count();
  EXPECT_LT(seconds, 5.0);
  EXPECT_FALSE(out.divergence.has_value()) << out.FailureReport(seq);
  EXPECT_FALSE(out.harness_error.has_value());
  ASSERT_EQ(out.left_out.size(), 1u);
  EXPECT_EQ(out.left_out[0].first, "kernel");
  EXPECT_NE(out.left_out[0].second.find("above --kernel-map-limit 64 MiB"),
            std::string::npos)
      << out.left_out[0].second;
  for (const auto& b : out.backends) EXPECT_NE(b.name, "kernel");
  // Asked directly, the backend refuses to create it: a harness error.
  EXPECT_THROW(kernel.Create(HugePercpu()), core::HarnessError);
  // And nothing is recorded for it.
  Recording rec = RecordOnKernel(seq, &kernel);
  EXPECT_FALSE(rec.sequence.has_value());
  EXPECT_NE(rec.error.find("above --kernel-map-limit"), std::string::npos)
      << rec.error;
}

TEST(KernelSafetyTest, AHugeMapTheKernelRefusesBeforeAllocatingStillRuns) {
  KernelBackend kernel;
  REQUIRE_KERNEL(kernel);
  model::ModelBackend model{model::Params::Host()};
  // Values past the per-CPU limit: array_map_alloc_check's E2BIG comes
  // before any allocation, so the kernel's answer is asked for.
  MapSpec spec = HugePercpu();
  spec.value_size = 40000;
  EXPECT_EQ(kernel.SitsOut(spec), "");
  core::RunOutcome out = core::RunDifferential(OneLookupOn(spec), {&model, &kernel});
  EXPECT_TRUE(out.ok()) << out.FailureReport(OneLookupOn(spec));
  EXPECT_TRUE(out.left_out.empty());
  ASSERT_EQ(out.backends.size(), 2u);
  EXPECT_EQ(out.backends[1].create_err, E2BIG);
}

TEST(KernelSafetyTest, AnArrayLargerThanTheMachinesMemoryRunsAndIsRefusedAtOnce) {
  KernelBackend kernel;
  REQUIRE_KERNEL(kernel);
  model::ModelBackend model{model::Params::Host()};
  // 2^48 bytes in one vmalloc area: refused before any page is allocated
  // (conformance/cases/create_too_big_for_memory.ops).
  MapSpec spec;
  spec.value_size = 65536;
  spec.max_entries = UINT32_MAX;
  EXPECT_EQ(kernel.SitsOut(spec), "");
  core::RunOutcome out = core::RunDifferential(OneLookupOn(spec), {&model, &kernel});
  EXPECT_TRUE(out.ok()) << out.FailureReport(OneLookupOn(spec));
  ASSERT_EQ(out.backends.size(), 2u);
  EXPECT_EQ(out.backends[1].create_err, ENOMEM);
  // The same bytes as a PERCPU_ARRAY are allocated element by element.
  spec.type = MapType::kPercpuArray;
  spec.value_size = 32768;
  EXPECT_NE(kernel.SitsOut(spec), "");
}

TEST(KernelSafetyTest, TheBoundIsConfigurable) {
  KernelBackend kernel;
  REQUIRE_KERNEL(kernel);
  MapSpec spec;
  spec.value_size = 8;
  spec.max_entries = 1u << 16;  // 512 KiB
  EXPECT_EQ(kernel.SitsOut(spec), "");
  kernel.SetKernelMapLimit(uint64_t{256} << 10);
  EXPECT_NE(kernel.SitsOut(spec).find("512 KiB for it, above --kernel-map-limit "
                                      "256 KiB"),
            std::string::npos)
      << kernel.SitsOut(spec);
  setenv("AMC_KERNEL_MAP_LIMIT", "256K", 1);
  KernelBackend from_env;
  unsetenv("AMC_KERNEL_MAP_LIMIT");
  EXPECT_EQ(from_env.KernelMapLimit(), uint64_t{256} << 10);
}

}  // namespace
}  // namespace amc::oracle_kernel
