// The concurrent invariants on the real kernel: threads pinned one per CPU
// run the oracle's SYSCALL programs (BPF_PROG_TEST_RUN) and syscall ops on
// one map at once. AMC_CONCURRENCY_OPS sets the ops per run (default 2^20).
#include <gtest/gtest.h>
#include <linux/bpf.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <vector>

#include "backends/registry.h"
#include "concurrency/history.h"
#include "concurrency/kernel_prog.h"
#include "concurrency/runner.h"
#include "concurrency/values.h"
#include "oracle_kernel/kernel_backend.h"

namespace amc::concurrency {
namespace {

using core::MapSpec;
using core::MapType;

double Seconds(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() -
                                       since)
      .count();
}

class KernelInvariantsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    core::Availability a = backend_.Probe();
    if (!a.available) {
      backends::Selection s;
      s.unavailable.emplace_back("kernel", a.reason);
      std::string missing = backends::MissingRequiredBackends(s);
      if (!missing.empty()) FAIL() << missing;
      GTEST_SKIP() << a.reason;
    }
    cpus_ = UsableCpus();
    ASSERT_FALSE(cpus_.empty());
    total_ops_ = EnvCount("AMC_CONCURRENCY_OPS", uint64_t{1} << 20);
    per_thread_ = total_ops_ / cpus_.size();
  }

  std::unique_ptr<core::MapInstance> Create(const MapSpec& spec) {
    core::CreateResult c = backend_.Create(spec);
    EXPECT_EQ(c.err, 0) << core::ErrnoName(c.err);
    return std::move(c.map);
  }

  oracle_kernel::RawProgram Program(core::MapInstance* map,
                                    const core::Op& op) {
    std::optional<oracle_kernel::RawProgram> raw =
        oracle_kernel::RawProgramFor(map, op);
    EXPECT_TRUE(raw.has_value());
    if (!raw) return {};
    EXPECT_EQ(raw->err, 0) << core::ErrnoName(raw->err);
    return *raw;
  }

  oracle_kernel::KernelBackend backend_;
  std::vector<uint32_t> cpus_;
  uint64_t total_ops_ = 0;
  uint64_t per_thread_ = 0;
};

TEST_F(KernelInvariantsTest,
       SyscallProgramsRefuseRepeatAndRunOnCpuSoEachRunIsOneOpOnTheCallersCpu) {
  MapSpec spec;
  auto map = Create(spec);
  ASSERT_TRUE(map);
  auto raw = Program(map.get(), core::ProgAtomicAdd{0, 0, 0, 1});
  ProgCtx ctx;
  ctx.delta = 1;
  EXPECT_EQ(TestRun(raw.prog_fd, &ctx, 2), EINVAL);
  EXPECT_EQ(TestRunOnCpu(raw.prog_fd, &ctx, 0), EINVAL);
  EXPECT_EQ(TestRun(raw.prog_fd, &ctx), 0);
  EXPECT_EQ(ctx.old, 0u);
  uint64_t value = 0;
  ASSERT_EQ(SysLookup(raw.map_fd, 0, &value, 0), 0);
  EXPECT_EQ(value, 1u);
}

TEST_F(KernelInvariantsTest,
       ConcurrentAtomicAddsOnOneArrayElementSumExactlyAndHandOutEachOldOnce) {
  MapSpec spec;
  spec.value_size = 16;
  spec.max_entries = 4;
  auto map = Create(spec);
  ASSERT_TRUE(map);
  auto raw = Program(map.get(), core::ProgAtomicAdd{0, 1, 8, 1});
  ASSERT_GE(raw.prog_fd, 0);
  std::vector<std::vector<uint64_t>> olds(cpus_.size());
  std::atomic<uint64_t> failures{0};
  auto start = std::chrono::steady_clock::now();
  ASSERT_EQ(RunPinned(cpus_,
                      [&](size_t index, uint32_t) {
                        auto& mine = olds[index];
                        mine.reserve(per_thread_);
                        for (uint64_t i = 0; i < per_thread_; ++i) {
                          ProgCtx ctx;
                          ctx.key = 1;
                          ctx.delta = 1;
                          if (TestRun(raw.prog_fd, &ctx) != 0 || ctx.null ||
                              ctx.ret != 0) {
                            failures.fetch_add(1, std::memory_order_relaxed);
                            continue;
                          }
                          mine.push_back(ctx.old);
                        }
                      }),
            0);
  double seconds = Seconds(start);
  ASSERT_EQ(failures.load(), 0u);
  const uint64_t total = per_thread_ * cpus_.size();
  std::vector<bool> seen(total, false);
  for (const auto& mine : olds) {
    for (size_t i = 0; i < mine.size(); ++i) {
      ASSERT_LT(mine[i], total);
      ASSERT_FALSE(seen[mine[i]]) << "old value " << mine[i] << " twice";
      seen[mine[i]] = true;
      if (i > 0) {
        ASSERT_LT(mine[i - 1], mine[i]);
      }
    }
  }
  for (uint32_t key = 0; key < spec.max_entries; ++key) {
    uint64_t value[2] = {};
    ASSERT_EQ(SysLookup(raw.map_fd, key, value, 0), 0);
    EXPECT_EQ(value[0], 0u) << "key " << key;
    EXPECT_EQ(value[1], key == 1 ? total : 0) << "key " << key;
  }
  std::printf("kernel: %llu concurrent atomic adds on %zu CPUs in %.2f s\n",
              static_cast<unsigned long long>(total), cpus_.size(), seconds);
  RecordProperty("ops", std::to_string(total));
}

TEST_F(KernelInvariantsTest,
       EachCpusSlotOfAPercpuElementHoldsExactlyThatCpusAdds) {
  MapSpec spec;
  spec.type = MapType::kPercpuArray;
  spec.value_size = 8;
  spec.max_entries = 2;
  auto map = Create(spec);
  ASSERT_TRUE(map);
  auto raw = Program(map.get(), core::ProgAtomicAdd{0, 1, 0, 1});
  ASSERT_GE(raw.prog_fd, 0);
  std::atomic<uint64_t> wrong{0};
  auto start = std::chrono::steady_clock::now();
  ASSERT_EQ(RunPinned(cpus_,
                      [&](size_t, uint32_t cpu) {
                        const uint64_t delta = cpu + 1;
                        for (uint64_t i = 0; i < per_thread_; ++i) {
                          ProgCtx ctx;
                          ctx.key = 1;
                          ctx.delta = delta;
                          // Nobody else writes this CPU's slot: the old
                          // value is exactly our own adds so far.
                          if (TestRun(raw.prog_fd, &ctx) != 0 || ctx.null ||
                              ctx.old != i * delta) {
                            wrong.fetch_add(1, std::memory_order_relaxed);
                          }
                        }
                      }),
            0);
  double seconds = Seconds(start);
  EXPECT_EQ(wrong.load(), 0u);
  const uint32_t possible = backend_.Env().possible_cpus;
  for (uint32_t key = 0; key < spec.max_entries; ++key) {
    std::vector<uint64_t> slots(possible);
    ASSERT_EQ(SysLookup(raw.map_fd, key, slots.data(), 0), 0);
    for (uint32_t cpu = 0; cpu < possible; ++cpu) {
      bool used = false;
      for (uint32_t c : cpus_) used |= c == cpu;
      EXPECT_EQ(slots[cpu], key == 1 && used ? per_thread_ * (cpu + 1) : 0)
          << "key " << key << " cpu " << cpu;
    }
  }
  std::printf("kernel: %llu concurrent per-CPU adds on %zu CPUs in %.2f s\n",
              static_cast<unsigned long long>(per_thread_ * cpus_.size()),
              cpus_.size(), seconds);
}

// Value: a bpf_spin_lock in word 0, words 1..7 self-checking.
TEST_F(KernelInvariantsTest, LockedReadersNeverSeeATornValue) {
  constexpr uint32_t kWords = 8;
  MapSpec spec;
  spec.value_size = kWords * 8;
  spec.max_entries = 1;
  spec.spin_lock_offset = 0;
  auto map = Create(spec);
  ASSERT_TRUE(map);
  auto update = Program(map.get(), core::ProgUpdate{0, 0, {}, BPF_F_LOCK});
  ASSERT_GE(update.prog_fd, 0);
  uint8_t initial[kWords * 8] = {};
  FillValue(initial, kWords, 1, 0);
  ASSERT_EQ(SysUpdate(update.map_fd, 0, initial, BPF_F_LOCK), 0);
  const size_t n = cpus_.size();
  std::atomic<uint64_t> failures{0}, torn{0}, reads{0}, prog_writes{0};
  auto start = std::chrono::steady_clock::now();
  ASSERT_EQ(
      RunPinned(cpus_,
                [&](size_t index, uint32_t) {
                  uint8_t value[kWords * 8] = {};
                  uint64_t my_reads = 0, my_torn = 0, my_prog = 0;
                  uint32_t gen = static_cast<uint32_t>(index) + 1;
                  for (uint64_t i = 0; i < per_thread_; ++i) {
                    if (i % 2 == 0) {
                      FillValue(value, kWords, 1, gen);
                      gen += static_cast<uint32_t>(n);
                      // Thread 0 alone owns the `in` scratch map, so every
                      // fourth of its writes goes through the program.
                      if (index == 0 && i % 8 == 0) {
                        ProgCtx ctx;
                        ctx.flags = BPF_F_LOCK;
                        if (SysUpdate(update.in_fd, 0, value, 0) != 0 ||
                            TestRun(update.prog_fd, &ctx) != 0 ||
                            ctx.ret != 0) {
                          failures.fetch_add(1, std::memory_order_relaxed);
                        }
                        ++my_prog;
                      } else if (SysUpdate(update.map_fd, 0, value,
                                           BPF_F_LOCK) != 0) {
                        failures.fetch_add(1, std::memory_order_relaxed);
                      }
                    } else {
                      if (SysLookup(update.map_fd, 0, value, BPF_F_LOCK) !=
                          0) {
                        failures.fetch_add(1, std::memory_order_relaxed);
                        continue;
                      }
                      ++my_reads;
                      if (!CheckValue(value, kWords, 1).whole) ++my_torn;
                    }
                  }
                  reads.fetch_add(my_reads);
                  torn.fetch_add(my_torn);
                  prog_writes.fetch_add(my_prog);
                }),
      0);
  double seconds = Seconds(start);
  EXPECT_EQ(failures.load(), 0u);
  EXPECT_EQ(torn.load(), 0u) << "of " << reads.load() << " locked reads";
  EXPECT_GT(prog_writes.load(), 0u);
  std::printf(
      "kernel: %llu locked ops (%llu locked reads, %llu program writes), "
      "%llu torn, in %.2f s\n",
      static_cast<unsigned long long>(per_thread_ * n),
      static_cast<unsigned long long>(reads.load()),
      static_cast<unsigned long long>(prog_writes.load()),
      static_cast<unsigned long long>(torn.load()), seconds);
}

// Without BPF_F_LOCK the kernel promises nothing about wide values: this
// measures how often a reader sees a mix of two writes, and checks only that
// every op succeeds and that the value is whole once the writers stop.
TEST_F(KernelInvariantsTest, UnlockedWideValuesTearAtAMeasuredRate) {
  // The run's ops are split between the two sizes.
  per_thread_ /= 2;
  for (uint32_t words : {8u, 128u}) {
    MapSpec spec;
    spec.value_size = words * 8;
    spec.max_entries = 1;
    auto map = Create(spec);
    ASSERT_TRUE(map);
    auto raw = Program(map.get(), core::ProgLookup{0, 0});
    std::vector<uint8_t> initial(words * 8);
    FillValue(initial.data(), words, 0, 0);
    ASSERT_EQ(SysUpdate(raw.map_fd, 0, initial.data(), 0), 0);
    std::atomic<uint64_t> failures{0}, torn{0}, word_torn{0}, reads{0};
    const size_t n = cpus_.size();
    auto start = std::chrono::steady_clock::now();
    ASSERT_EQ(
        RunPinned(cpus_,
                  [&](size_t index, uint32_t) {
                    std::vector<uint8_t> value(words * 8);
                    // With one CPU, one thread alternates; else thread 0
                    // writes and the others read.
                    const bool writer = index == 0;
                    const bool reader = n == 1 || index != 0;
                    uint32_t gen = 1;
                    uint64_t my_reads = 0, my_torn = 0, my_word_torn = 0;
                    for (uint64_t i = 0; i < per_thread_; ++i) {
                      if (writer && (!reader || i % 2 == 0)) {
                        FillValue(value.data(), words, 0, gen++);
                        if (SysUpdate(raw.map_fd, 0, value.data(), 0) != 0) {
                          failures.fetch_add(1, std::memory_order_relaxed);
                        }
                        continue;
                      }
                      if (SysLookup(raw.map_fd, 0, value.data(), 0) != 0) {
                        failures.fetch_add(1, std::memory_order_relaxed);
                        continue;
                      }
                      ++my_reads;
                      ValueCheck c = CheckValue(value.data(), words, 0);
                      if (!c.whole) ++my_torn;
                      if (c.word_torn) ++my_word_torn;
                    }
                    reads.fetch_add(my_reads);
                    torn.fetch_add(my_torn);
                    word_torn.fetch_add(my_word_torn);
                  }),
        0);
    double seconds = Seconds(start);
    EXPECT_EQ(failures.load(), 0u);
    EXPECT_GT(reads.load(), 0u);
    std::vector<uint8_t> last(words * 8);
    ASSERT_EQ(SysLookup(raw.map_fd, 0, last.data(), 0), 0);
    EXPECT_TRUE(CheckValue(last.data(), words, 0).whole);
    std::printf(
        "kernel: value_size %u without BPF_F_LOCK: %llu of %llu reads torn "
        "(%.4f%%; %llu inside a word), %llu ops in %.2f s\n",
        words * 8, static_cast<unsigned long long>(torn.load()),
        static_cast<unsigned long long>(reads.load()),
        reads.load() ? 100.0 * torn.load() / reads.load() : 0.0,
        static_cast<unsigned long long>(word_torn.load()),
        static_cast<unsigned long long>(per_thread_ * n), seconds);
    RecordProperty("torn_" + std::to_string(words * 8),
                   std::to_string(torn.load()) + "/" +
                       std::to_string(reads.load()));
  }
}

// A PERCPU syscall lookup copies slot by slot, as does the update: a reader
// racing a writer may see some CPUs' slots of one update and some of
// another. Measured here (the linearizability checker relies on slots being
// separate objects); asserted: every op succeeds, each slot is whole once
// the writer stops.
TEST_F(KernelInvariantsTest, PercpuSyscallLookupsMixSlotsAtAMeasuredRate) {
  constexpr uint32_t kSlotWords = 8;
  MapSpec spec;
  spec.type = MapType::kPercpuArray;
  spec.value_size = kSlotWords * 8;
  spec.max_entries = 1;
  auto map = Create(spec);
  ASSERT_TRUE(map);
  auto raw = Program(map.get(), core::ProgLookup{0, 0});
  const uint32_t possible = backend_.Env().possible_cpus;
  const uint32_t words = kSlotWords * possible;
  std::vector<uint8_t> initial(words * 8);
  FillValue(initial.data(), words, 0, 0);
  ASSERT_EQ(SysUpdate(raw.map_fd, 0, initial.data(), 0), 0);
  std::atomic<uint64_t> failures{0}, mixed{0}, reads{0};
  const size_t n = cpus_.size();
  auto start = std::chrono::steady_clock::now();
  ASSERT_EQ(RunPinned(cpus_,
                      [&](size_t index, uint32_t) {
                        std::vector<uint8_t> value(words * 8);
                        const bool writer = index == 0;
                        const bool reader = n == 1 || index != 0;
                        uint32_t gen = 1;
                        uint64_t my_reads = 0, my_mixed = 0;
                        for (uint64_t i = 0; i < per_thread_; ++i) {
                          if (writer && (!reader || i % 2 == 0)) {
                            FillValue(value.data(), words, 0, gen++);
                            if (SysUpdate(raw.map_fd, 0, value.data(), 0)) {
                              failures.fetch_add(1);
                            }
                            continue;
                          }
                          if (SysLookup(raw.map_fd, 0, value.data(), 0)) {
                            failures.fetch_add(1);
                            continue;
                          }
                          ++my_reads;
                          if (!CheckValue(value.data(), words, 0).whole) {
                            ++my_mixed;
                          }
                        }
                        reads.fetch_add(my_reads);
                        mixed.fetch_add(my_mixed);
                      }),
            0);
  double seconds = Seconds(start);
  EXPECT_EQ(failures.load(), 0u);
  EXPECT_GT(reads.load(), 0u);
  std::vector<uint8_t> last(words * 8);
  ASSERT_EQ(SysLookup(raw.map_fd, 0, last.data(), 0), 0);
  EXPECT_TRUE(CheckValue(last.data(), words, 0).whole);
  std::printf(
      "kernel: PERCPU value_size %u x %u CPUs: %llu of %llu syscall lookups "
      "mixed or tore slots (%.4f%%), %llu ops in %.2f s\n",
      spec.value_size, possible,
      static_cast<unsigned long long>(mixed.load()),
      static_cast<unsigned long long>(reads.load()),
      reads.load() ? 100.0 * mixed.load() / reads.load() : 0.0,
      static_cast<unsigned long long>(per_thread_ * n), seconds);
}

// The kernel as a history subject: syscall lookups, updates and deletes,
// and the oracle's programs for atomic adds and deletes (program lookups and
// updates pass values through one shared scratch map, so they cannot run on
// two CPUs at once and are left out). One kernel map serves a whole
// campaign: each subject zeroes it first (as a fresh map would be).
class KernelSubject : public Subject {
 public:
  struct Shared {
    std::unique_ptr<core::MapInstance> map;
    uint64_t buffer = 0;
    uint32_t max_entries = 0;
    int map_fd = -1, add_fd = -1, delete_fd = -1;
  };
  static std::optional<Shared> Open(oracle_kernel::KernelBackend* backend,
                                    const MapSpec& spec) {
    core::CreateResult c = backend->Create(spec);
    if (c.err) return std::nullopt;
    auto add = oracle_kernel::RawProgramFor(c.map.get(),
                                            core::ProgAtomicAdd{0, 0, 0, 1});
    auto del = oracle_kernel::RawProgramFor(c.map.get(), core::ProgDelete{});
    if (!add || add->err || !del || del->err) return std::nullopt;
    Shared s;
    s.buffer = core::SyscallValueSize(spec, backend->Env());
    s.max_entries = spec.max_entries;
    s.map_fd = add->map_fd;
    s.add_fd = add->prog_fd;
    s.delete_fd = del->prog_fd;
    s.map = std::move(c.map);
    return s;
  }
  static std::unique_ptr<Subject> Make(const Shared& shared) {
    core::Bytes zero(shared.buffer, 0);
    for (uint32_t key = 0; key < shared.max_entries; ++key) {
      if (SysUpdate(shared.map_fd, key, zero.data(), 0) != 0) return nullptr;
    }
    auto s = std::unique_ptr<KernelSubject>(new KernelSubject);
    s->buffer_ = shared.buffer;
    s->map_fd_ = shared.map_fd;
    s->add_fd_ = shared.add_fd;
    s->delete_fd_ = shared.delete_fd;
    return s;
  }

  core::Result Run(const core::Op& op) override {
    using core::Result;
    if (const auto* o = std::get_if<core::Lookup>(&op)) {
      core::Bytes value(buffer_);
      if (int err = SysLookup(map_fd_, o->key, value.data(), o->flags)) {
        return Result::Errno(err);
      }
      Result r;
      r.value = std::move(value);
      return r;
    }
    if (const auto* o = std::get_if<core::Update>(&op)) {
      core::Bytes value = o->value;
      value.resize(buffer_);
      return Result::Errno(SysUpdate(map_fd_, o->key, value.data(), o->flags));
    }
    if (const auto* o = std::get_if<core::Delete>(&op)) {
      return Result::Errno(SysDelete(map_fd_, o->key));
    }
    ProgCtx ctx;
    if (const auto* o = std::get_if<core::ProgAtomicAdd>(&op)) {
      ctx.key = o->key;
      ctx.delta = o->delta;
      if (int err = TestRun(add_fd_, &ctx)) return Result::Errno(err);
      Result r;
      if (ctx.null) {
        r.null = true;
        return r;
      }
      r.old = ctx.old;
      return r;
    }
    if (const auto* o = std::get_if<core::ProgDelete>(&op)) {
      ctx.key = o->key;
      if (int err = TestRun(delete_fd_, &ctx)) return Result::Errno(err);
      return Result::Errno(static_cast<int>(-ctx.ret));
    }
    return Result::Errno(ENOSYS);
  }

 private:
  KernelSubject() = default;
  uint64_t buffer_ = 0;
  int map_fd_ = -1, add_fd_ = -1, delete_fd_ = -1;
};

TEST_F(KernelInvariantsTest, KernelHistoriesAreLinearizableAgainstTheModel) {
  std::vector<uint32_t> cpus = cpus_;
  if (cpus.size() > 8) cpus.resize(8);
  model::Params params = model::Params::ForEnvironment(backend_.Env());
  for (MapType type : {MapType::kArray, MapType::kPercpuArray}) {
    CampaignOptions o;
    o.spec.type = type;
    o.spec.value_size = 8;
    o.spec.max_entries = 2;
    o.histories = EnvCount("AMC_LIN_KERNEL_HISTORIES", 1000);
    o.ops_per_thread = 24 / cpus.size();
    o.program_values = false;
    o.seed = EnvCount("AMC_LIN_SEED", 1);
    std::optional<KernelSubject::Shared> shared =
        KernelSubject::Open(&backend_, o.spec);
    ASSERT_TRUE(shared.has_value());
    auto start = std::chrono::steady_clock::now();
    CampaignReport r = RunCampaign(
        [&](const MapSpec&) { return KernelSubject::Make(*shared); }, params,
        cpus, o);
    EXPECT_EQ(r.failure, "");
    EXPECT_EQ(r.histories, o.histories);
    std::printf(
        "kernel %s: %zu histories (%zu ops) linearizable, %llu search "
        "nodes, %.2f s\n",
        type == MapType::kArray ? "ARRAY" : "PERCPU_ARRAY", r.histories,
        r.ops, static_cast<unsigned long long>(r.nodes), Seconds(start));
  }
}

}  // namespace
}  // namespace amc::concurrency
