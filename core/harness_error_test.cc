#include "core/harness_error.h"

#include <gtest/gtest.h>

#include <functional>
#include <new>

#include "core/differential.h"

namespace amc::core {
namespace {

// A backend that throws where the test says: in Create, in the op at step
// `throw_at`, or in ReadState. What it throws comes from the test.
class ThrowingBackend : public Backend {
 public:
  using Thrower = std::function<void()>;
  ThrowingBackend(std::string name, Thrower thrower)
      : name_(std::move(name)), thrower_(std::move(thrower)) {}
  std::string Name() const override { return name_; }
  Availability Probe() override { return {}; }
  Environment Env() const override { return Environment{2, 4096, ""}; }
  CreateResult Create(const MapSpec&) override {
    if (in_create) thrower_();
    CreateResult r;
    r.map = std::make_unique<Map>(this);
    return r;
  }
  bool in_create = false;
  int throw_at = -1;
  bool in_read_state = false;
  std::vector<uint8_t> state_byte = {0};

 private:
  struct Map : MapInstance {
    explicit Map(ThrowingBackend* b) : b(b) {}
    Result Execute(const Op&) override {
      if (static_cast<int>(n++) == b->throw_at) b->thrower_();
      return Result::Errno(ENOENT);
    }
    MapState ReadState() override {
      if (b->in_read_state) b->thrower_();
      MapState s;
      s.values = b->state_byte;
      return s;
    }
    ThrowingBackend* b;
    size_t n = 0;
  };
  std::string name_;
  Thrower thrower_;
};

void ThrowEmfile() { throw HarnessError("bpf(BPF_MAP_GET_FD_BY_ID): EMFILE"); }
void ThrowBadAlloc() { throw std::bad_alloc(); }

Sequence ThreeLookups() {
  Sequence seq;
  seq.spec.max_entries = 2;
  for (uint32_t k = 0; k < 3; ++k) seq.steps.push_back({Lookup{k, 0}, {}});
  return seq;
}

TEST(HarnessErrorTest, AnOpThatThrowsHarnessErrorStopsTheRunWithoutADivergence) {
  ThrowingBackend model("model", ThrowEmfile);
  ThrowingBackend kernel("kernel", ThrowEmfile);
  kernel.throw_at = 1;
  RunOutcome out = RunDifferential(ThreeLookups(), {&model, &kernel});
  EXPECT_FALSE(out.ok());
  EXPECT_FALSE(out.divergence.has_value());
  ASSERT_TRUE(out.harness_error.has_value());
  EXPECT_EQ(*out.harness_error,
            "kernel, step 1 (lookup): bpf(BPF_MAP_GET_FD_BY_ID): EMFILE");
  EXPECT_EQ(out.steps_run, 1u);
  EXPECT_NE(out.FailureReport(ThreeLookups()).find("HARNESS ERROR"),
            std::string::npos);
}

TEST(HarnessErrorTest, AHarnessErrorInCreationIsNotACreationDivergence) {
  ThrowingBackend model("model", ThrowEmfile);
  ThrowingBackend kernel("kernel", ThrowEmfile);
  kernel.in_create = true;
  RunOutcome out = RunDifferential(ThreeLookups(), {&model, &kernel});
  EXPECT_FALSE(out.divergence.has_value());
  ASSERT_TRUE(out.harness_error.has_value());
  EXPECT_EQ(out.harness_error->rfind("kernel, map creation: ", 0), 0u)
      << *out.harness_error;
  EXPECT_EQ(out.steps_run, 0u);
}

TEST(HarnessErrorTest, BadAllocInAStateReadIsAHarnessErrorNotAnAbort) {
  ThrowingBackend model("model", ThrowBadAlloc);
  ThrowingBackend impl("impl", ThrowBadAlloc);
  model.in_read_state = true;
  impl.state_byte = {7};  // would be a final-state divergence if read
  RunOutcome out = RunDifferential(ThreeLookups(), {&model, &impl});
  EXPECT_FALSE(out.divergence.has_value());
  ASSERT_TRUE(out.harness_error.has_value());
  EXPECT_EQ(*out.harness_error,
            "model, final state read: out of memory (std::bad_alloc)");
  EXPECT_EQ(out.steps_run, 3u);
}

TEST(HarnessErrorTest, DifferentialRunStopsAndFinishFailsAfterAHarnessError) {
  ThrowingBackend a("a", ThrowBadAlloc), b("b", ThrowBadAlloc);
  b.throw_at = 0;
  DifferentialRun run(ThreeLookups().spec, {&a, &b}, std::nullopt);
  EXPECT_TRUE(run.running());
  EXPECT_FALSE(run.Step(0, Lookup{0, 0}, std::nullopt));
  EXPECT_FALSE(run.running());
  EXPECT_FALSE(run.Finish());
  EXPECT_FALSE(run.divergence().has_value());
  EXPECT_TRUE(run.harness_error().has_value());
}

TEST(HarnessErrorTest, WithoutAThrowTheSameBackendsStillFindADivergence) {
  ThrowingBackend a("a", ThrowBadAlloc), b("b", ThrowBadAlloc);
  b.state_byte = {7};
  RunOutcome out = RunDifferential(ThreeLookups(), {&a, &b});
  EXPECT_FALSE(out.harness_error.has_value());
  ASSERT_TRUE(out.divergence.has_value());
  EXPECT_EQ(out.divergence->kind, Divergence::Kind::kFinalState);
}

}  // namespace
}  // namespace amc::core
