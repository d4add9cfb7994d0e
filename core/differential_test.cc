#include "core/differential.h"

#include <gtest/gtest.h>

#include <csignal>
#include <cstring>
#include <functional>

#include "core/ops_text.h"

namespace amc::core {
namespace {

// A backend whose every answer comes from the test.
class FakeBackend : public Backend {
 public:
  using OpFn = std::function<Result(const Op&, size_t index)>;
  FakeBackend(std::string name, int create_err, OpFn fn, MapState state = {})
      : name_(std::move(name)), create_err_(create_err), fn_(std::move(fn)),
        state_(std::move(state)) {}
  std::string Name() const override { return name_; }
  Availability Probe() override { return {}; }
  Environment Env() const override { return Environment{2, 4096, ""}; }
  bool Supports(OpKind kind) const override {
    return kind != unsupported_;
  }
  CreateResult Create(const MapSpec&) override {
    CreateResult r;
    r.err = create_err_;
    if (r.err == 0) r.map = std::make_unique<Map>(this);
    return r;
  }
  OpKind unsupported_ = OpKind::kProgAtomicAdd;

 private:
  struct Map : MapInstance {
    explicit Map(FakeBackend* b) : b(b) {}
    Result Execute(const Op& op) override { return b->fn_(op, n++); }
    MapState ReadState() override { return b->state_; }
    FakeBackend* b;
    size_t n = 0;
  };
  std::string name_;
  int create_err_;
  OpFn fn_;
  MapState state_;
};

Result Ok(const Op&, size_t) { return {}; }

Sequence ThreeLookups() {
  Sequence seq;
  seq.spec.max_entries = 2;
  for (uint32_t k = 0; k < 3; ++k) seq.steps.push_back({Lookup{k, 0}, {}});
  return seq;
}

TEST(DifferentialTest, AgreeingBackendsGiveNoDivergence) {
  FakeBackend a("a", 0, Ok), b("b", 0, Ok);
  RunOutcome out = RunDifferential(ThreeLookups(), {&a, &b});
  EXPECT_TRUE(out.ok());
  EXPECT_EQ(out.steps_run, 3u);
  ASSERT_EQ(out.backends.size(), 2u);
  EXPECT_EQ(out.backends[1].results.size(), 3u);
}

TEST(DifferentialTest, FirstDifferingOpIsReportedWithBothSidesAndReproducer) {
  FakeBackend a("model", 0, Ok);
  FakeBackend b("kernel", 0, [](const Op&, size_t i) {
    return i == 1 ? Result::Errno(ENOENT) : Result{};
  });
  Sequence seq = ThreeLookups();
  RunOutcome out = RunDifferential(seq, {&a, &b});
  ASSERT_FALSE(out.ok());
  const Divergence& d = *out.divergence;
  EXPECT_EQ(d.kind, Divergence::Kind::kOp);
  EXPECT_EQ(d.step, 1);
  EXPECT_EQ(out.steps_run, 2u);
  EXPECT_EQ(d.Summary(seq), "step 1 (lookup): model ok, kernel ENOENT");
  std::string report = d.Report(seq);
  EXPECT_NE(report.find("model  : ok"), std::string::npos) << report;
  EXPECT_NE(report.find("kernel : ENOENT"), std::string::npos) << report;
  Sequence repro = Reproducer(seq, d);
  EXPECT_EQ(repro.steps.size(), 2u);
  EXPECT_NE(report.find(PrintOps(repro)), std::string::npos);
}

TEST(DifferentialTest, CreationDifferenceStopsTheRun) {
  FakeBackend a("a", 0, Ok), b("b", EINVAL, Ok);
  RunOutcome out = RunDifferential(ThreeLookups(), {&a, &b});
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.divergence->kind, Divergence::Kind::kCreate);
  EXPECT_EQ(out.divergence->Summary(ThreeLookups()),
            "map creation: a created, b EINVAL");
  EXPECT_TRUE(Reproducer(ThreeLookups(), *out.divergence).steps.empty());
}

TEST(DifferentialTest, ReferenceCreatingWhatAnotherRefusesRunsNoProbe) {
  size_t calls = 0;
  FakeBackend a("a", 0, [&](const Op&, size_t) { ++calls; return Result{}; });
  FakeBackend b("b", EINVAL, Ok);
  RunOutcome out = RunDifferential(ThreeLookups(), {&a, &b});
  EXPECT_EQ(out.divergence->kind, Divergence::Kind::kCreate);
  EXPECT_EQ(calls, 0u);
  EXPECT_EQ(out.steps_run, 0u);
}

TEST(DifferentialTest, AcceptedInvalidMapIsDrivenAloneAndItsCrashIsTheFinding) {
  size_t ref_calls = 0;
  FakeBackend a("model", E2BIG, [&](const Op&, size_t) {
    ++ref_calls;
    return Result{};
  });
  FakeBackend b("plugin", 0, [](const Op&, size_t i) {
    return i == 1 ? Result::Errno(kErrCrashedBase + SIGSEGV) : Result{};
  });
  Sequence seq = ThreeLookups();
  RunOutcome out = RunDifferential(seq, {&a, &b});
  ASSERT_TRUE(out.divergence);
  const Divergence& d = *out.divergence;
  EXPECT_EQ(d.kind, Divergence::Kind::kProbe);
  EXPECT_EQ(d.step, 1);
  EXPECT_EQ(ref_calls, 0u);
  EXPECT_EQ(d.Signature(),
            "accepted invalid map (model E2BIG), then crashed at op lookup "
            "ARRAY: plugin CRASH_SIGSEGV");
  EXPECT_NE(d.Summary(seq).find("map creation: model E2BIG, plugin created"),
            std::string::npos)
      << d.Summary(seq);
  EXPECT_EQ(Reproducer(seq, d).steps.size(), 2u);
}

TEST(DifferentialTest, AcceptedInvalidMapThatSurvivesTheOpsStaysACreationDivergence) {
  size_t calls = 0;
  FakeBackend a("model", E2BIG, Ok);
  FakeBackend b("plugin", 0, [&](const Op&, size_t) { ++calls; return Result{}; });
  RunOutcome out = RunDifferential(ThreeLookups(), {&a, &b});
  ASSERT_TRUE(out.divergence);
  EXPECT_EQ(out.divergence->kind, Divergence::Kind::kCreate);
  EXPECT_EQ(out.divergence->Signature(),
            "create ARRAY: errno: model E2BIG, plugin created");
  EXPECT_EQ(calls, 3u);
  EXPECT_EQ(out.steps_run, 3u);
  EXPECT_TRUE(Reproducer(ThreeLookups(), *out.divergence).steps.empty());
}

TEST(DifferentialTest, ProbeHangAgainstARecordedRefusalIsAFinding) {
  FakeBackend b("plugin", 0, [](const Op&, size_t) { return Result::Errno(kErrHung); });
  Sequence seq = ThreeLookups();
  seq.expect_create = E2BIG;
  RunOutcome out = RunDifferential(seq, {&b});
  ASSERT_TRUE(out.divergence);
  EXPECT_EQ(out.divergence->Signature(),
            "accepted invalid map (expected E2BIG), then hung at op lookup "
            "ARRAY: plugin HANG");
}

TEST(DifferentialTest, ProbeDoesNotRunOpsWithHugeOutputsNorWhenDisabled) {
  size_t calls = 0;
  FakeBackend a("model", E2BIG, Ok);
  FakeBackend b("plugin", 0, [&](const Op&, size_t) { ++calls; return Result{}; });
  Sequence seq = ThreeLookups();
  seq.spec.value_size = 0x80000008u;  // a lookup would return 2 GiB
  seq.steps.push_back({Update{0, Bytes(8, 1), 0}, {}});
  RunOutcome out = RunDifferential(seq, {&a, &b});
  EXPECT_EQ(calls, 1u);  // only the update
  RunOptions no_probe;
  no_probe.probe_accepted_invalid = false;
  calls = 0;
  out = RunDifferential(seq, {&a, &b}, no_probe);
  EXPECT_EQ(calls, 0u);
  EXPECT_EQ(out.divergence->kind, Divergence::Kind::kCreate);
}

// A map past kStreamedStateBytes whose state is zero but for one byte,
// read only in chunks (ReadState would fail the test).
class ChunkedBackend : public Backend {
 public:
  ChunkedBackend(std::string name, uint64_t odd_offset)
      : name_(std::move(name)), odd_offset_(odd_offset) {}
  std::string Name() const override { return name_; }
  Availability Probe() override { return {}; }
  Environment Env() const override { return Environment{2, 4096, ""}; }
  CreateResult Create(const MapSpec&) override {
    CreateResult r;
    r.map = std::make_unique<Map>(this);
    return r;
  }
  size_t whole_reads = 0;
  uint64_t bytes_read = 0;

 private:
  struct Map : MapInstance {
    explicit Map(ChunkedBackend* b) : b(b) {}
    Result Execute(const Op&) override { return {}; }
    MapState ReadState() override {
      ++b->whole_reads;
      return {};
    }
    void ReadStateChunk(StatePart part, uint64_t offset, uint64_t length,
                        uint8_t* out) override {
      b->bytes_read += length;
      std::memset(out, 0, length);
      if (part == StatePart::kValues && b->odd_offset_ >= offset &&
          b->odd_offset_ < offset + length) {
        out[b->odd_offset_ - offset] = 7;
      }
    }
    ChunkedBackend* b;
  };
  std::string name_;
  uint64_t odd_offset_;
};

TEST(DifferentialTest, HugeStatesAreComparedInChunksAndTheDifferenceLocated) {
  Sequence seq;
  seq.spec.value_size = 8;
  seq.spec.max_entries = 1u << 24;  // 128 MiB of values
  const uint64_t odd = (uint64_t{1} << 24) * 8 - 5;  // last key, byte 3
  ChunkedBackend a("model", UINT64_MAX), same("impl", UINT64_MAX),
      other("plugin", odd);
  RunOutcome agree = RunDifferential(seq, {&a, &same});
  EXPECT_TRUE(agree.ok()) << agree.FailureReport(seq);
  RunOutcome out = RunDifferential(seq, {&a, &other});
  ASSERT_TRUE(out.divergence);
  EXPECT_EQ(out.divergence->kind, Divergence::Kind::kFinalState);
  EXPECT_NE(out.divergence->detail.find("key 16777215 byte 3: 00 vs 07"),
            std::string::npos)
      << out.divergence->detail;
  EXPECT_EQ(out.divergence->Signature(),
            "final state ARRAY: value bytes: plugin differ from model");
  EXPECT_EQ(a.whole_reads + same.whole_reads + other.whole_reads, 0u);
}

TEST(DifferentialTest, BothRefusingCreationAlikeAgree) {
  FakeBackend a("a", E2BIG, Ok), b("b", E2BIG, Ok);
  EXPECT_TRUE(RunDifferential(ThreeLookups(), {&a, &b}).ok());
}

TEST(DifferentialTest, ExpectationMismatchNamesExpectedFirst) {
  FakeBackend a("a", 0, Ok);
  Sequence seq = ThreeLookups();
  seq.steps[2].expect = Result::Errno(ENOENT);
  RunOutcome out = RunDifferential(seq, {&a});
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.divergence->kind, Divergence::Kind::kExpectation);
  EXPECT_EQ(out.divergence->Summary(seq), "step 2 (lookup): expected ENOENT, a ok");
  RunOptions no_check;
  no_check.check_expectations = false;
  EXPECT_TRUE(RunDifferential(seq, {&a}, no_check).ok());
}

TEST(DifferentialTest, CreationExpectationIsChecked) {
  FakeBackend a("a", 0, Ok);
  Sequence seq = ThreeLookups();
  seq.expect_create = EINVAL;
  RunOutcome out = RunDifferential(seq, {&a});
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.divergence->Summary(seq), "map creation: expected EINVAL, a created");
}

TEST(DifferentialTest, FinalStateDifferenceSaysWhere) {
  MapState s1{{0, 0, 0, 0, 0, 0, 0, 0}, std::nullopt};
  MapState s2{{0, 0, 0, 0, 0, 7, 0, 0}, std::nullopt};
  FakeBackend a("a", 0, Ok, s1), b("b", 0, Ok, s2);
  Sequence seq = ThreeLookups();
  seq.spec.value_size = 4;
  RunOutcome out = RunDifferential(seq, {&a, &b});
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.divergence->kind, Divergence::Kind::kFinalState);
  EXPECT_EQ(out.divergence->detail, "a vs b: key 1 byte 1: 00 vs 07");
}

TEST(DifferentialTest, PerCpuStateDifferenceNamesTheCpu) {
  MapSpec spec;
  spec.type = MapType::kPercpuArray;
  spec.value_size = 4;  // elem 8, two CPUs: 16 bytes per key
  MapState a{std::vector<uint8_t>(32, 0), std::nullopt};
  MapState b = a;
  b.values[16 + 8 + 5] = 1;  // key 1, cpu 1, byte 5 (padding)
  EXPECT_EQ(DescribeStateDifference(spec, Environment{2, 4096, ""}, a, b),
            "key 1 cpu 1 byte 5: 00 vs 01");
}

TEST(DifferentialTest, BackendWithoutAnOpKindIsLeftOutAndSaysWhy) {
  FakeBackend a("a", 0, Ok), b("b", 0, Ok);
  b.unsupported_ = OpKind::kLookup;
  RunOutcome out = RunDifferential(ThreeLookups(), {&a, &b});
  EXPECT_TRUE(out.ok());
  ASSERT_EQ(out.left_out.size(), 1u);
  EXPECT_EQ(out.left_out[0].first, "b");
  EXPECT_EQ(out.left_out[0].second, "does not implement lookup");
  EXPECT_EQ(out.backends.size(), 1u);
}

TEST(ResultBuffersTest, ALargeBufferComesBackForTheSameSizeOnly) {
  ResultBuffers buffers;
  Result r;
  r.value = std::vector<uint8_t>(4096, 7);
  const uint8_t* storage = r.value->data();
  buffers.Keep(std::move(r));
  EXPECT_NE(buffers.TakeBytes(4095).data(), storage);
  std::vector<uint8_t> again = buffers.TakeBytes(4096);
  EXPECT_EQ(again.data(), storage);
  EXPECT_EQ(again.size(), 4096u);
  // Taken once: the next one is new, and zeroed.
  std::vector<uint8_t> fresh = buffers.TakeBytes(4096);
  EXPECT_NE(fresh.data(), storage);
  EXPECT_EQ(fresh, std::vector<uint8_t>(4096, 0));
  // Small buffers are not kept.
  std::vector<uint8_t> small(8, 1);
  const uint8_t* small_storage = small.data();
  buffers.KeepBytes(std::move(small));
  EXPECT_NE(buffers.TakeBytes(8).data(), small_storage);
}

TEST(DifferentialTest, EachResultGoesBackToItsMapBeforeTheNextOp) {
  struct Map : MapInstance {
    Result Execute(const Op&) override {
      Result r;
      r.value = std::vector<uint8_t>{static_cast<uint8_t>(executed++)};
      return r;
    }
    void Recycle(Result&& r) override {
      if (r.value) recycled.push_back((*r.value)[0]);
    }
    MapState ReadState() override { return {}; }
    int executed = 0;
    std::vector<int> recycled;
  };
  struct OneMap : Backend {
    std::string Name() const override { return "one"; }
    Availability Probe() override { return {}; }
    Environment Env() const override { return {}; }
    CreateResult Create(const MapSpec&) override {
      CreateResult c;
      auto m = std::make_unique<Map>();
      map = m.get();
      c.map = std::move(m);
      return c;
    }
    Map* map = nullptr;
  } backend;
  MapSpec spec;
  DifferentialRun run(spec, {&backend}, std::nullopt);
  for (size_t i = 0; i < 3; ++i) ASSERT_TRUE(run.Step(i, Lookup{0, 0}, std::nullopt));
  EXPECT_EQ(backend.map->recycled, (std::vector<int>{0, 1}));
}

TEST(DifferentialTest, EveryDivergenceTheRunnerMakesCarriesItsSignature) {
  FakeBackend a("model", 0, Ok);
  FakeBackend b("kernel", 0, [](const Op&, size_t i) {
    return i == 1 ? Result::Errno(ENOENT) : Result{};
  });
  RunOutcome op = RunDifferential(ThreeLookups(), {&a, &b});
  ASSERT_FALSE(op.ok());
  EXPECT_EQ(op.divergence->Signature(),
            "op lookup ARRAY: errno: model ok, kernel ENOENT");
  FakeBackend refuses("kernel", EPERM, Ok);
  RunOutcome create = RunDifferential(ThreeLookups(), {&a, &refuses});
  ASSERT_FALSE(create.ok());
  EXPECT_EQ(create.divergence->Signature(),
            "create ARRAY: errno: model created, kernel EPERM");
  MapState s1, s2;
  s1.values = {0, 0, 0, 0, 0, 0, 0, 0};
  s2.values = {0, 0, 0, 0, 0, 0, 0, 9};
  FakeBackend x("model", 0, Ok, s1), y("impl", 0, Ok, s2);
  RunOutcome state = RunDifferential(ThreeLookups(), {&x, &y});
  ASSERT_FALSE(state.ok());
  EXPECT_EQ(state.divergence->Signature(),
            "final state ARRAY: value bytes: impl differ from model");
}

}  // namespace
}  // namespace amc::core
