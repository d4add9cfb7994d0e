// The linearizability checker: on hand-made histories (linearizable and
// not), on histories recorded from the real impl under pinned threads
// (AMC_LIN_HISTORIES per map type, default 2000), and on deliberately broken
// impl variants, which it must catch and print.
#include "concurrency/linearizability.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <thread>

#include "concurrency/history.h"
#include "concurrency/runner.h"

namespace amc::concurrency {
namespace {

using core::Bytes;
using core::MapSpec;
using core::MapType;
using core::Result;

Bytes Word(uint64_t v) {
  Bytes b(8);
  std::memcpy(b.data(), &v, 8);
  return b;
}
Result Value(uint64_t v) {
  Result r;
  r.value = Word(v);
  return r;
}
Result ProgValue(uint64_t v) {
  Result r = Value(v);
  r.aligned = true;
  return r;
}
Result Old(uint64_t v) {
  Result r;
  r.old = v;
  return r;
}
HistoryOp H(uint32_t thread, uint64_t invoke, uint64_t ret, core::Op op,
            Result result) {
  HistoryOp h;
  h.op = std::move(op);
  h.result = std::move(result);
  h.invoke_ns = invoke;
  h.return_ns = ret;
  h.thread = thread;
  return h;
}

model::Params TwoCpus() {
  model::Params p = model::Params::Host();
  p.env.possible_cpus = 2;
  return p;
}

MapSpec Array(uint32_t max_entries = 2) {
  MapSpec spec;
  spec.value_size = 8;
  spec.max_entries = max_entries;
  return spec;
}

Verdict Check(const std::vector<HistoryOp>& history,
              const MapSpec& spec = Array()) {
  CheckResult r = CheckLinearizable(spec, TwoCpus(), history);
  EXPECT_TRUE(r.error.empty()) << r.error;
  return r.verdict;
}

TEST(LinearizabilityTest, SequentialUpdateThenLookupIsLinearizable) {
  std::vector<HistoryOp> h = {
      H(0, 0, 1, core::Update{0, Word(5), 0}, {}),
      H(1, 2, 3, core::Lookup{0, 0}, Value(5)),
  };
  CheckResult r = CheckLinearizable(Array(), TwoCpus(), h);
  EXPECT_EQ(r.verdict, Verdict::kLinearizable);
  EXPECT_EQ(r.order, (std::vector<size_t>{0, 1}));
}

TEST(LinearizabilityTest, LookupOfAValueNeverWrittenIsNotLinearizable) {
  EXPECT_EQ(Check({H(0, 0, 1, core::Lookup{0, 0}, Value(7))}),
            Verdict::kNotLinearizable);
}

TEST(LinearizabilityTest, StaleLookupAfterAnUpdateReturnedIsNotLinearizable) {
  EXPECT_EQ(Check({
                H(0, 0, 1, core::Update{0, Word(5), 0}, {}),
                H(1, 2, 3, core::Lookup{0, 0}, Value(0)),
            }),
            Verdict::kNotLinearizable);
}

TEST(LinearizabilityTest, LookupsOverlappingAnUpdateMaySeeOldThenNew) {
  EXPECT_EQ(Check({
                H(0, 0, 10, core::Update{0, Word(5), 0}, {}),
                H(1, 1, 2, core::ProgLookup{1, 0}, ProgValue(0)),
                H(1, 3, 4, core::ProgLookup{1, 0}, ProgValue(5)),
            }),
            Verdict::kLinearizable);
}

TEST(LinearizabilityTest, LookupsOverlappingAnUpdateCannotSeeNewThenOld) {
  EXPECT_EQ(Check({
                H(0, 0, 10, core::Update{0, Word(5), 0}, {}),
                H(1, 1, 2, core::ProgLookup{1, 0}, ProgValue(5)),
                H(1, 3, 4, core::ProgLookup{1, 0}, ProgValue(0)),
            }),
            Verdict::kNotLinearizable);
}

TEST(LinearizabilityTest, ConcurrentAtomicAddsMayLinearizeInEitherOrder) {
  EXPECT_EQ(Check({
                H(0, 0, 10, core::ProgAtomicAdd{0, 0, 0, 1}, Old(2)),
                H(1, 0, 10, core::ProgAtomicAdd{1, 0, 0, 2}, Old(0)),
                H(0, 11, 12, core::Lookup{0, 0}, Value(3)),
            }),
            Verdict::kLinearizable);
}

TEST(LinearizabilityTest, TwoAtomicAddsReturningTheSameOldAreNotLinearizable) {
  std::vector<HistoryOp> h = {
      H(0, 0, 10, core::ProgAtomicAdd{0, 0, 0, 1}, Old(0)),
      H(1, 0, 10, core::ProgAtomicAdd{1, 0, 0, 1}, Old(0)),
  };
  CheckResult r = CheckLinearizable(Array(), TwoCpus(), h);
  EXPECT_EQ(r.verdict, Verdict::kNotLinearizable);
  EXPECT_EQ(r.key, 0u);
  EXPECT_EQ(r.ops.size(), 2u);
  EXPECT_NE(FormatHistory(h, r.ops).find("prog_atomic_add"),
            std::string::npos);
}

TEST(LinearizabilityTest, ArrayDeleteMustAnswerEinval) {
  EXPECT_EQ(Check({H(0, 0, 1, core::ProgDelete{0, 0}, Result::Errno(EINVAL)),
                   H(1, 0, 1, core::Delete{1}, Result::Errno(EINVAL))}),
            Verdict::kLinearizable);
  EXPECT_EQ(Check({H(0, 0, 1, core::Delete{0}, {})}),
            Verdict::kNotLinearizable);
}

TEST(LinearizabilityTest, KeysAreCheckedApartAndTheFailingKeyIsNamed) {
  std::vector<HistoryOp> h = {
      H(0, 0, 1, core::Update{0, Word(5), 0}, {}),
      H(1, 2, 3, core::Lookup{0, 0}, Value(5)),
      H(0, 4, 5, core::Update{1, Word(6), 0}, {}),
      H(1, 6, 7, core::Lookup{1, 0}, Value(5)),
  };
  CheckResult r = CheckLinearizable(Array(), TwoCpus(), h);
  EXPECT_EQ(r.verdict, Verdict::kNotLinearizable);
  EXPECT_EQ(r.key, 1u);
  EXPECT_EQ(r.ops, (std::vector<size_t>{2, 3}));
}

TEST(LinearizabilityTest, PercpuSlotsAreSeparateStateOfOneKey) {
  MapSpec spec = Array();
  spec.type = MapType::kPercpuArray;
  EXPECT_EQ(Check({H(0, 0, 1, core::ProgAtomicAdd{0, 0, 0, 4}, Old(0)),
                   H(1, 2, 3, core::ProgLookupPercpu{1, 0, 1}, ProgValue(0)),
                   H(1, 4, 5, core::ProgLookupPercpu{1, 0, 0}, ProgValue(4))},
                  spec),
            Verdict::kLinearizable);
  EXPECT_EQ(Check({H(0, 0, 1, core::ProgAtomicAdd{0, 0, 0, 4}, Old(0)),
                   H(1, 2, 3, core::ProgLookupPercpu{1, 0, 1}, ProgValue(4))},
                  spec),
            Verdict::kNotLinearizable);
  Result both;
  both.value = Word(4);
  both.value->resize(16, 0);
  EXPECT_EQ(Check({H(0, 0, 1, core::ProgAtomicAdd{0, 0, 0, 4}, Old(0)),
                   H(1, 2, 3, core::Lookup{0, 0}, both)},
                  spec),
            Verdict::kLinearizable);
}

TEST(LinearizabilityTest,
     PercpuSyscallLookupMixingSlotsOfTwoUpdatesPassesOnlySlotBySlot) {
  MapSpec spec = Array();
  spec.type = MapType::kPercpuArray;
  auto both = [](uint64_t a, uint64_t b) {
    Bytes v = Word(a);
    Bytes w = Word(b);
    v.insert(v.end(), w.begin(), w.end());
    return v;
  };
  Result mixed;
  mixed.value = both(1, 4);  // slot 0 of the first update, slot 1 of the second
  std::vector<HistoryOp> h = {
      H(0, 0, 1, core::Update{0, both(1, 2), 0}, {}),
      H(0, 2, 10, core::Update{0, both(3, 4), 0}, {}),
      H(1, 3, 9, core::Lookup{0, 0}, mixed),
  };
  EXPECT_EQ(CheckLinearizable(spec, TwoCpus(), h).verdict,
            Verdict::kLinearizable);
  CheckOptions whole;
  whole.percpu_whole_values = true;
  EXPECT_EQ(CheckLinearizable(spec, TwoCpus(), h, whole).verdict,
            Verdict::kNotLinearizable);
  // Slot by slot is still checked: slot 1 cannot go back to 2 after 4.
  h.push_back(H(1, 11, 12, core::ProgLookupPercpu{1, 0, 1}, ProgValue(2)));
  CheckResult r = CheckLinearizable(spec, TwoCpus(), h);
  EXPECT_EQ(r.verdict, Verdict::kNotLinearizable);
  EXPECT_EQ(r.slot, 1u);
}

TEST(LinearizabilityTest, TooManyOpsOnOneKeyOrAnUnsupportedOpIsInvalid) {
  std::vector<HistoryOp> h;
  for (uint64_t i = 0; i < 25; ++i) {
    h.push_back(H(0, 2 * i, 2 * i + 1, core::Lookup{0, 0}, Value(0)));
  }
  CheckResult r = CheckLinearizable(Array(), TwoCpus(), h);
  EXPECT_EQ(r.verdict, Verdict::kInvalid);
  EXPECT_NE(r.error.find("more than 24"), std::string::npos) << r.error;
  r = CheckLinearizable(Array(), TwoCpus(),
                        {H(0, 0, 1, core::Freeze{}, {})});
  EXPECT_EQ(r.verdict, Verdict::kInvalid);
}

TEST(LinearizabilityTest, ManyConcurrentOpsSearchStaysSmallWithMemoization) {
  // 24 concurrent atomic adds of 1: 24! orders, but only 25 states.
  std::vector<HistoryOp> h;
  for (uint64_t i = 0; i < 24; ++i) {
    h.push_back(H(static_cast<uint32_t>(i % 2), 0, 100,
                  core::ProgAtomicAdd{static_cast<uint32_t>(i % 2), 0, 0, 1},
                  Old(23 - i)));
  }
  CheckResult r = CheckLinearizable(Array(), TwoCpus(), h);
  EXPECT_EQ(r.verdict, Verdict::kLinearizable);
  EXPECT_LT(r.nodes, 1000u);
}

// ---- recorded histories of the impl, and broken variants ----

class RecordedTest : public ::testing::Test {
 protected:
  void SetUp() override {
    cpus_ = UsableCpus();
    ASSERT_FALSE(cpus_.empty());
    // A history holds at most 24 ops per key: up to 8 threads, 24 / threads
    // ops each.
    if (cpus_.size() > 8) cpus_.resize(8);
    params_ = model::Params::Host();
  }
  CampaignReport Campaign(const SubjectFactory& make, MapType type,
                          size_t histories, uint32_t keys, uint64_t seed,
                          bool syscall_updates = true) {
    CampaignOptions o;
    o.syscall_updates = syscall_updates;
    o.spec = Array(2);
    o.spec.type = type;
    o.histories = histories;
    o.ops_per_thread = 24 / cpus_.size();
    o.keys = keys;
    o.seed = seed;
    auto start = std::chrono::steady_clock::now();
    CampaignReport r = RunCampaign(make, params_, cpus_, o);
    double seconds = std::chrono::duration<double>(
                         std::chrono::steady_clock::now() - start)
                         .count();
    std::printf(
        "%s: %zu histories (%zu ops, %zu threads) checked, %llu search "
        "nodes, %.2f s\n",
        type == MapType::kArray ? "ARRAY" : "PERCPU_ARRAY", r.histories,
        r.ops, cpus_.size(), static_cast<unsigned long long>(r.nodes),
        seconds);
    return r;
  }
  std::vector<uint32_t> cpus_;
  model::Params params_;
};

std::unique_ptr<Subject> MakeImpl(const MapSpec& spec) {
  return ImplSubject::Create(spec);
}

TEST_F(RecordedTest, ImplArrayHistoriesAreLinearizable) {
  CampaignReport r =
      Campaign(MakeImpl, MapType::kArray,
               EnvCount("AMC_LIN_HISTORIES", 2000), 2,
               EnvCount("AMC_LIN_SEED", 1));
  EXPECT_EQ(r.failure, "");
  EXPECT_GT(r.ops, 0u);
}

TEST_F(RecordedTest, ImplPercpuArrayHistoriesAreLinearizable) {
  CampaignReport r =
      Campaign(MakeImpl, MapType::kPercpuArray,
               EnvCount("AMC_LIN_HISTORIES", 2000), 2,
               EnvCount("AMC_LIN_SEED", 1) + 1);
  EXPECT_EQ(r.failure, "");
  EXPECT_GT(r.ops, 0u);
}

// The restartable-sequence add (Options::percpu_add = kRseq; TSan builds
// have none and check the atomic add here too). Its contract covers
// writers on the slot's own CPU only, so the histories leave out syscall
// updates: every write is a program op on the thread's own CPU's slot,
// every other op a read (syscall lookups and lookup_percpu of other CPUs'
// slots race with the adds).
TEST_F(RecordedTest, ImplPercpuArrayRseqAddHistoriesAreLinearizable) {
  bool rseq_used = false;
  SubjectFactory make = [&](const MapSpec& spec) -> std::unique_ptr<Subject> {
    impl::Options options;
    options.percpu_add = impl::PercpuAdd::kRseq;
    auto subject = ImplSubject::Create(spec, options);
    if (subject && subject->map().rseq_add()) rseq_used = true;
    return subject;
  };
  CampaignReport r =
      Campaign(make, MapType::kPercpuArray,
               EnvCount("AMC_LIN_HISTORIES", 2000), 2,
               EnvCount("AMC_LIN_SEED", 1) + 2, /*syscall_updates=*/false);
  EXPECT_EQ(r.failure, "");
  EXPECT_GT(r.ops, 0u);
  std::printf("add path: %s (rseq registration: %s)\n",
              rseq_used ? "rseq" : "atomic", impl::RseqRegistration());
#if defined(AMC_IMPL_RSEQ_ADD)
  EXPECT_TRUE(rseq_used) << "the rseq add was never used";
#endif
}

// Broken: the atomic add is an atomic load, a pause, then an atomic store
// (data-race-free, so TSan stays quiet; only the lost update shows).
class RacyAddSubject : public ImplSubject {
 public:
  static std::unique_ptr<Subject> Make(const MapSpec& spec) {
    auto base = ImplSubject::Create(spec);
    if (!base) return nullptr;
    return std::unique_ptr<Subject>(new RacyAddSubject(std::move(*base)));
  }
  explicit RacyAddSubject(ImplSubject&& base) : ImplSubject(std::move(base)) {}

 protected:
  bool AtomicAdd(uint32_t key, uint32_t offset, uint64_t delta,
                 uint64_t* old) override {
    auto* elem = static_cast<uint8_t*>(map().Lookup(key));
    if (elem == nullptr) return false;
    std::atomic_ref<uint64_t> word(
        *reinterpret_cast<uint64_t*>(elem + offset));
    uint64_t before = word.load(std::memory_order_relaxed);
    auto until = std::chrono::steady_clock::now() + std::chrono::microseconds(2);
    while (std::chrono::steady_clock::now() < until) {
    }
    word.store(before + delta, std::memory_order_relaxed);
    *old = before;
    return true;
  }
};

// Broken: each CPU's first program lookup of a key is cached and served
// again ever after.
class StaleLookupSubject : public ImplSubject {
 public:
  static std::unique_ptr<Subject> Make(const MapSpec& spec) {
    auto base = ImplSubject::Create(spec);
    if (!base) return nullptr;
    return std::unique_ptr<Subject>(new StaleLookupSubject(std::move(*base)));
  }
  explicit StaleLookupSubject(ImplSubject&& base)
      : ImplSubject(std::move(base)),
        cache_(map().possible_cpus() * map().max_entries()) {}

 protected:
  Result ProgLookup(uint32_t key) override {
    // Each slot is touched only by the thread pinned to its CPU.
    auto& cached = cache_[map().CurrentCpu() * map().max_entries() + key];
    if (!cached) cached = ImplSubject::ProgLookup(key);
    return *cached;
  }

 private:
  std::vector<std::optional<Result>> cache_;
};

TEST_F(RecordedTest, CatchesAnAtomicAddThatIsALoadThenAStore) {
  if (cpus_.size() < 2) GTEST_SKIP() << "needs two CPUs to race";
  CampaignReport r =
      Campaign(RacyAddSubject::Make, MapType::kArray, 2000, 1, 7);
  ASSERT_NE(r.failure, "") << "the racy add was not caught";
  std::printf("caught after %zu histories:\n%s", r.histories,
              r.failure.c_str());
}

TEST_F(RecordedTest, CatchesALookupThatServesAStaleCachedValue) {
  CampaignReport r =
      Campaign(StaleLookupSubject::Make, MapType::kArray, 2000, 1, 9);
  ASSERT_NE(r.failure, "") << "the stale lookup was not caught";
  std::printf("caught after %zu histories:\n%s", r.histories,
              r.failure.c_str());
}

}  // namespace
}  // namespace amc::concurrency
