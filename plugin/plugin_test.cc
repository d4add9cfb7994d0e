#include <dirent.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <functional>
#include <thread>
#include <vector>

#include "core/differential.h"
#include "core/ops_text.h"
#include "gen/generator.h"
#include "gen/minimize.h"
#include "model/model_backend.h"
#include "plugin/plugin_backend.h"

namespace amc::plugin {
namespace {

const core::Environment kEnv{2, 4096, ""};

// The test plug-ins written in C (plugin/testing/minimal_plugin.c) follow
// Linux 6.15-6.18's rules, so the model here, and the model exported as a
// plug-in (whose child inherits this variable), answer as that profile
// whatever the host runs.
constexpr char kPluginsProfile[] = "6.15-6.18";
const bool kProfilePinned = setenv("AMC_KERNEL_PROFILE", kPluginsProfile, 1) == 0;

std::unique_ptr<PluginBackend> MustOpen(const std::string& path,
                                        PluginOptions options = {}) {
  std::string error;
  auto b = PluginBackend::Open(path, kEnv, &error, options);
  EXPECT_NE(b, nullptr) << error;
  return b;
}

std::string OpenError(const std::string& path) {
  std::string error;
  auto b = PluginBackend::Open(path, kEnv, &error);
  EXPECT_EQ(b, nullptr);
  return error;
}

model::ModelBackend Model() {
  model::Params p;
  p.env = kEnv;
  EXPECT_TRUE(kProfilePinned);
  p.profile = *core::KernelProfileByName(kPluginsProfile);
  return model::ModelBackend(p);
}

core::Sequence Seq(std::vector<core::Op> ops, core::MapSpec spec = {}) {
  core::Sequence seq;
  seq.spec = spec;
  for (auto& op : ops) seq.steps.push_back(core::Step{std::move(op), {}});
  return seq;
}

std::string SideOf(const core::Divergence& d, const std::string& name) {
  for (const auto& [who, what] : d.sides) {
    if (who == name) return what;
  }
  return "<no side " + name + ">";
}

// The command lines of this process's living children.
std::vector<std::string> ChildCommandLines() {
  std::vector<std::string> out;
  DIR* d = opendir("/proc");
  if (!d) return out;
  const std::string self = std::to_string(getpid());
  while (dirent* e = readdir(d)) {
    std::string pid = e->d_name;
    if (pid.find_first_not_of("0123456789") != std::string::npos) continue;
    FILE* f = std::fopen(("/proc/" + pid + "/stat").c_str(), "r");
    if (!f) continue;
    char buf[512] = {};
    size_t n = std::fread(buf, 1, sizeof buf - 1, f);
    std::fclose(f);
    // "pid (comm) state ppid ...": the comm may hold spaces; skip past ')'.
    std::string stat(buf, n);
    size_t close = stat.rfind(')');
    if (close == std::string::npos) continue;
    char state = 0;
    long ppid = 0;
    if (std::sscanf(stat.c_str() + close + 1, " %c %ld", &state, &ppid) != 2 ||
        std::to_string(ppid) != self || state == 'Z') {
      continue;
    }
    FILE* c = std::fopen(("/proc/" + pid + "/cmdline").c_str(), "r");
    if (!c) continue;
    n = std::fread(buf, 1, sizeof buf - 1, c);
    std::fclose(c);
    out.push_back(std::string(buf, strnlen(buf, n)));
  }
  closedir(d);
  return out;
}

// Living (not zombie) processes whose name is `comm`, with their process
// groups.
std::vector<std::pair<long, long>> ProcessesNamed(const std::string& comm) {
  std::vector<std::pair<long, long>> out;
  DIR* d = opendir("/proc");
  if (!d) return out;
  while (dirent* e = readdir(d)) {
    std::string pid = e->d_name;
    if (pid.find_first_not_of("0123456789") != std::string::npos) continue;
    FILE* f = std::fopen(("/proc/" + pid + "/stat").c_str(), "r");
    if (!f) continue;
    char buf[512] = {};
    size_t n = std::fread(buf, 1, sizeof buf - 1, f);
    std::fclose(f);
    std::string stat(buf, n);
    size_t open = stat.find('(');
    size_t close = stat.rfind(')');
    if (open == std::string::npos || close == std::string::npos) continue;
    char state = 0;
    long ppid = 0, pgid = 0;
    if (stat.substr(open + 1, close - open - 1) != comm ||
        std::sscanf(stat.c_str() + close + 1, " %c %ld %ld", &state, &ppid,
                    &pgid) != 3 ||
        state == 'Z') {
      continue;
    }
    out.emplace_back(std::stol(pid), pgid);
  }
  closedir(d);
  return out;
}

// Waits for `done` (an event), checking every 10 ms; gives up after 30 s,
// a bound no healthy machine comes near.
bool Eventually(const std::function<bool()>& done) {
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (!done()) {
    if (std::chrono::steady_clock::now() >= until) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return true;
}

TEST(PluginLoaderTest, ChildIsAFreshProgramImageNotAForkedCopy) {
  auto before = ChildCommandLines();
  auto b = MustOpen(AMC_TEST_PLUGIN_FULL_PATH);
  ASSERT_NE(b, nullptr);
  auto after = ChildCommandLines();
  // A forked copy would carry this test's own command line.
  EXPECT_EQ(std::count(after.begin(), after.end(), "amc-plugin-child"),
            std::count(before.begin(), before.end(), "amc-plugin-child") + 1);
}

TEST(PluginLoaderTest, AbiVersionMismatchIsRefusedNamingBothVersions) {
  std::string error = OpenError(AMC_TEST_PLUGIN_BAD_ABI_PATH);
  EXPECT_NE(error.find("plug-in ABI version 999 does not match this amc's ABI "
                       "version 3 (it loads 1 to 3"),
            std::string::npos)
      << error;
  EXPECT_NE(error.find(AMC_TEST_PLUGIN_BAD_ABI_PATH), std::string::npos);
}

TEST(PluginLoaderTest, LibraryWithoutEntrySymbolIsRefused) {
  std::string error = OpenError(AMC_TEST_PLUGIN_NO_SYMBOL_PATH);
  EXPECT_NE(error.find("no symbol 'amc_plugin_get'"), std::string::npos)
      << error;
}

TEST(PluginLoaderTest, MissingFileIsRefusedWithTheLoaderMessage) {
  std::string error = OpenError("/nonexistent/libnothing.so");
  EXPECT_NE(error.find("/nonexistent/libnothing.so: cannot load"),
            std::string::npos)
      << error;
}

TEST(PluginLoaderTest, LeftOutKindWithoutReasonIsRefused) {
  std::string error = OpenError(AMC_TEST_PLUGIN_NO_REASON_PATH);
  EXPECT_NE(error.find("leaves out freeze without a reason"), std::string::npos)
      << error;
}

TEST(PluginLoaderTest, BackendIsNamedAfterTheFileAndKnowsTheImplementation) {
  auto b = MustOpen(AMC_TEST_PLUGIN_FULL_PATH);
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(b->Name(), "plugin:libamc_test_plugin_full.so");
  EXPECT_EQ(b->implementation_name(), "amc test plug-in");
  EXPECT_TRUE(b->Probe().available);
  EXPECT_EQ(b->Env(), kEnv);
  for (size_t k = 0; k < core::kOpKindCount; ++k) {
    EXPECT_TRUE(b->Supports(static_cast<core::OpKind>(k)));
  }
}

TEST(PluginLoaderTest, CapabilityMaskDecidesSupportsAndCarriesReasons) {
  auto b = MustOpen(AMC_TEST_PLUGIN_PARTIAL_PATH);
  ASSERT_NE(b, nullptr);
  EXPECT_FALSE(b->Supports(core::OpKind::kMmap));
  EXPECT_FALSE(b->Supports(core::OpKind::kProgAtomicAdd));
  EXPECT_TRUE(b->Supports(core::OpKind::kLookup));
  EXPECT_TRUE(b->Supports(core::OpKind::kProgLookup));
  EXPECT_EQ(b->UnsupportedReason(core::OpKind::kProgAtomicAdd),
            "no atomics in this VM");
  EXPECT_EQ(b->UnsupportedReason(core::OpKind::kLookup), "");

  auto model = Model();
  std::vector<core::Backend*> backends = {&model, b.get()};
  auto kinds = CommonKinds(backends);
  EXPECT_EQ(kinds.count(), core::kOpKindCount - 5);
  EXPECT_FALSE(kinds.test(static_cast<size_t>(core::OpKind::kMunmap)));
  auto left_out = LeftOutKinds(backends);
  ASSERT_EQ(left_out.size(), 5u);
  EXPECT_EQ(left_out[0].backend, "plugin:libamc_test_plugin_partial.so");
  EXPECT_EQ(DescribeLeftOutKinds(left_out),
            "plugin:libamc_test_plugin_partial.so leaves out mmap (maps are "
            "not mappable here), mmap_read (maps are not mappable here), "
            "mmap_write (maps are not mappable here), munmap (maps are not "
            "mappable here), prog_atomic_add (no atomics in this VM)");
}

TEST(PluginLoaderTest, SequencesGeneratedForCommonKindsRunOnPartialPlugin) {
  auto b = MustOpen(AMC_TEST_PLUGIN_PARTIAL_PATH);
  ASSERT_NE(b, nullptr);
  auto model = Model();
  std::vector<core::Backend*> backends = {&model, b.get()};
  gen::GenOptions o;
  o.env = kEnv;
  o.kinds = CommonKinds(backends);
  gen::RandomChooser c(11);
  size_t ops = 0;
  for (int i = 0; i < 300; ++i) {
    core::Sequence seq = gen::GenerateSequence(c, o);
    core::RunOutcome out = core::RunDifferential(seq, backends);
    ASSERT_TRUE(out.ok()) << out.divergence->Report(seq);
    ASSERT_TRUE(out.left_out.empty()) << core::PrintOps(seq);
    ops += out.steps_run;
  }
  EXPECT_GT(ops, 1000u);
}

TEST(PluginLoaderTest, RecordedSequenceWithUnsupportedKindLeavesPluginOut) {
  auto b = MustOpen(AMC_TEST_PLUGIN_PARTIAL_PATH);
  ASSERT_NE(b, nullptr);
  auto model = Model();
  core::MapSpec spec;
  spec.map_flags = core::kBpfFMmapable;
  core::RunOutcome out = core::RunDifferential(
      Seq({core::Mmap{0, 0, 4096, core::kProtRead, true}}, spec),
      {&model, b.get()});
  ASSERT_EQ(out.left_out.size(), 1u);
  EXPECT_EQ(out.left_out[0].first, "plugin:libamc_test_plugin_partial.so");
  // The plug-in's own reason for the gap is carried along.
  EXPECT_EQ(out.left_out[0].second,
            "does not implement mmap: maps are not mappable here");
}

TEST(PluginLoaderTest,
     ModelExportedAsPluginAgreesWithModelOnGeneratedSequences) {
  auto b = MustOpen(AMC_TEST_PLUGIN_FULL_PATH);
  ASSERT_NE(b, nullptr);
  auto model = Model();
  std::vector<core::Backend*> backends = {&model, b.get()};
  gen::GenOptions o;
  o.env = kEnv;
  gen::RandomChooser c(3);
  std::vector<size_t> seen(core::kOpKindCount, 0);
  for (int i = 0; i < 1500; ++i) {
    core::Sequence seq = gen::GenerateSequence(c, o);
    core::RunOutcome out = core::RunDifferential(seq, backends);
    ASSERT_TRUE(out.ok()) << out.divergence->Report(seq);
    for (size_t s = 0; s < out.steps_run; ++s) {
      ++seen[static_cast<size_t>(core::KindOf(seq.steps[s].op))];
    }
  }
  for (size_t k = 0; k < core::kOpKindCount; ++k) {
    EXPECT_GT(seen[k], 0u) << core::OpKindName(static_cast<core::OpKind>(k));
  }
  EXPECT_TRUE(b->incidents().empty());
}

TEST(PluginLoaderTest, PlainCPluginAgreesWithModelOnTheKindsItImplements) {
  auto b = MustOpen(AMC_TEST_PLUGIN_MINIMAL_C_PATH);
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(b->implementation_name(), "minimal C plug-in");
  EXPECT_FALSE(b->Supports(core::OpKind::kUpdateBatch));
  EXPECT_EQ(b->UnsupportedReason(core::OpKind::kProgAtomicAdd),
            "this VM has no atomic instructions");
  auto model = Model();
  std::vector<core::Backend*> backends = {&model, b.get()};
  gen::GenOptions o;
  o.env = kEnv;
  o.kinds = CommonKinds(backends);
  EXPECT_EQ(o.kinds.count(), 9u);
  gen::RandomChooser c(17);
  size_t ops = 0;
  for (int i = 0; i < 1500; ++i) {
    core::Sequence seq = gen::GenerateSequence(c, o);
    core::RunOutcome out = core::RunDifferential(seq, backends);
    ASSERT_TRUE(out.ok()) << out.divergence->Report(seq);
    ASSERT_TRUE(out.left_out.empty());
    ops += out.steps_run;
  }
  EXPECT_GT(ops, 5000u);
}

TEST(PluginLoaderTest, SpinLockMapsAgreeThroughBothPlugins) {
  auto parsed = core::ParseOps(
      "map type=ARRAY key_size=4 value_size=12 max_entries=2 flags=0 "
      "spin_lock=4\n"
      "update key=1 value=0102030405060708090a0b0c flags=BPF_F_LOCK\n"
      "lookup key=1 flags=BPF_F_LOCK\n"
      "prog_lookup cpu=0 key=1\n"
      "lookup_and_delete key=1 flags=BPF_F_LOCK\n"
      "freeze\n",
      "inline");
  ASSERT_TRUE(std::holds_alternative<core::Sequence>(parsed))
      << std::get<core::ParseError>(parsed).ToString();
  const auto& seq = std::get<core::Sequence>(parsed);
  auto model = Model();
  for (const char* path :
       {AMC_TEST_PLUGIN_FULL_PATH, AMC_TEST_PLUGIN_MINIMAL_C_PATH}) {
    auto b = MustOpen(path);
    ASSERT_NE(b, nullptr);
    core::RunOutcome out = core::RunDifferential(seq, {&model, b.get()});
    ASSERT_TRUE(out.ok()) << out.divergence->Report(seq);
    ASSERT_EQ(out.backends[1].results.size(), 5u);
    EXPECT_EQ(core::PrintResult(out.backends[1].results[1]),
              "ok value=0102030400000000090a0b0c");
    EXPECT_EQ(out.backends[1].results[4].err, 524);
  }
}

TEST(PluginIsolationTest, FailurePseudoErrnosPrintAndParseByName) {
  EXPECT_EQ(core::ErrnoName(core::kErrCrashedBase + SIGSEGV), "CRASH_SIGSEGV");
  EXPECT_EQ(core::ErrnoName(core::kErrCrashedBase + SIGABRT), "CRASH_SIGABRT");
  EXPECT_EQ(core::ErrnoName(core::kErrCrashedBase + SIGUSR1), "CRASH_SIG10");
  EXPECT_EQ(core::ErrnoName(core::kErrHung), "HANG");
  EXPECT_EQ(core::ErrnoName(core::kErrOverrun), "OVERRUN");
  EXPECT_EQ(core::ErrnoName(core::kErrLost), "LOST");
  EXPECT_EQ(core::ErrnoFromName("HANG"), core::kErrHung);
  EXPECT_EQ(core::ErrnoFromName("CRASH_SIGSEGV"),
            core::kErrCrashedBase + SIGSEGV);
}

TEST(PluginIsolationTest, SegfaultOnAnOpIsReportedAtThatOpAndTheRunGoesOn) {
  auto b = MustOpen(AMC_TEST_PLUGIN_CRASH_PATH);
  ASSERT_NE(b, nullptr);
  auto model = Model();
  std::vector<core::Backend*> backends = {&model, b.get()};
  core::Sequence seq =
      Seq({core::Update{1, {1, 2, 3}, 0}, core::Freeze{}, core::Lookup{1, 0}});
  core::RunOutcome out = core::RunDifferential(seq, backends);
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.divergence->kind, core::Divergence::Kind::kOp);
  EXPECT_EQ(out.divergence->step, 1);
  EXPECT_EQ(SideOf(*out.divergence, b->Name()), "CRASH_SIGSEGV");
  EXPECT_NE(out.divergence->Summary(seq).find("step 1 (freeze)"),
            std::string::npos)
      << out.divergence->Summary(seq);
  EXPECT_NE(out.divergence->Report(seq).find("freeze"), std::string::npos);

  // The same backend runs the next sequence in a fresh child.
  core::RunOutcome next = core::RunDifferential(
      Seq({core::Update{0, {9}, 0}, core::Lookup{0, 0}}), backends);
  EXPECT_TRUE(next.ok()) << next.divergence->Report(seq);
}

TEST(PluginIsolationTest, HangIsReportedAfterTheTimeBoundAndTheChildKilled) {
  // The bound only has to exceed an answering op's round trip on a loaded
  // machine; loading the plug-in is bounded separately, from when the child
  // is up.
  PluginOptions options;
  options.timeout_ms = 1000;
  auto b = MustOpen(AMC_TEST_PLUGIN_HANG_PATH, options);
  ASSERT_NE(b, nullptr);
  auto model = Model();
  std::vector<core::Backend*> backends = {&model, b.get()};
  core::Sequence seq = Seq({core::Lookup{0, 0}, core::GetNextKey{0}});
  auto start = std::chrono::steady_clock::now();
  core::RunOutcome out = core::RunDifferential(seq, backends);
  auto took = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.divergence->step, 1);
  EXPECT_EQ(SideOf(*out.divergence, b->Name()), "HANG");
  EXPECT_GE(took, std::chrono::milliseconds(1000));
  EXPECT_NE(out.divergence->backend_failure.find(
                "HANG during get_next_key\nthe child process "),
            std::string::npos)
      << out.divergence->backend_failure;
  EXPECT_NE(out.divergence->backend_failure.find(
                "gave no answer within 1000 ms and was killed"),
            std::string::npos)
      << out.divergence->backend_failure;
  std::printf(
      "hang reported after %lld ms (bound 1000 ms)\n",
      static_cast<long long>(
          std::chrono::duration_cast<std::chrono::milliseconds>(took).count()));
  core::RunOutcome next =
      core::RunDifferential(Seq({core::Lookup{0, 0}}), backends);
  EXPECT_TRUE(next.ok());
}

TEST(PluginIsolationTest, WritePastAnOutputBufferIsReportedAsOverrun) {
  auto b = MustOpen(AMC_TEST_PLUGIN_OVERRUN_PATH);
  ASSERT_NE(b, nullptr);
  auto model = Model();
  core::RunOutcome out = core::RunDifferential(
      Seq({core::Update{0, {1}, 0}, core::Lookup{0, 0}}), {&model, b.get()});
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.divergence->step, 1);
  EXPECT_EQ(SideOf(*out.divergence, b->Name()), "OVERRUN");
}

TEST(PluginIsolationTest, DestroyedBackendsLeaveNoChildAndNoDescriptor) {
  auto count_fds = [] {
    int n = 0;
    if (DIR* d = opendir("/proc/self/fd")) {
      while (readdir(d)) ++n;
      closedir(d);
    }
    return n;
  };
  int before = count_fds();
  {
    PluginOptions options;
    options.timeout_ms = 1000;
    auto crash = MustOpen(AMC_TEST_PLUGIN_CRASH_PATH);
    auto hang = MustOpen(AMC_TEST_PLUGIN_HANG_PATH, options);
    auto full = MustOpen(AMC_TEST_PLUGIN_FULL_PATH);
    ASSERT_TRUE(crash && hang && full);
    auto model = Model();
    core::RunDifferential(Seq({core::Freeze{}}), {&model, crash.get()});
    core::RunDifferential(Seq({core::GetNextKey{}}), {&model, hang.get()});
    auto created = full->Create(core::MapSpec{});
    ASSERT_EQ(created.err, 0);
    EXPECT_EQ(created.map->Execute(core::Update{0, {1}, 0}).err, 0);
  }
  EXPECT_EQ(count_fds(), before);
  EXPECT_EQ(waitpid(-1, nullptr, WNOHANG), -1);
  EXPECT_EQ(errno, ECHILD);
}

TEST(PluginIsolationTest, CrashInDestroyIsAFindingWithItsSignalNeverAPass) {
  auto b = MustOpen(AMC_TEST_PLUGIN_CRASH_DESTROY_PATH);
  ASSERT_NE(b, nullptr);
  auto model = Model();
  core::Sequence seq = Seq({core::Update{1, {1, 2, 3}, 0}, core::Lookup{1, 0}});
  core::RunOutcome out = core::RunDifferential(seq, {&model, b.get()});
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.steps_run, 2u);
  EXPECT_EQ(out.divergence->kind, core::Divergence::Kind::kBackendFailure);
  EXPECT_EQ(SideOf(*out.divergence, b->Name()),
            "CRASH_SIGSEGV while destroying a map");
  EXPECT_NE(out.divergence->backend_failure.find("was killed by SIGSEGV"),
            std::string::npos)
      << out.divergence->backend_failure;
  const std::string report = out.divergence->Report(seq);
  EXPECT_NE(report.find("a backend failed outside an op"), std::string::npos)
      << report;
  EXPECT_NE(report.find("backend failure: plugin:libamc_test_plugin_crash_"
                        "destroy.so: CRASH_SIGSEGV while destroying a map"),
            std::string::npos)
      << report;
  // The whole sequence reproduces it.
  EXPECT_EQ(core::Reproducer(seq, *out.divergence).steps.size(), 2u);
  EXPECT_EQ(out.divergence->Summary(seq),
            "outside the ops: plugin:libamc_test_plugin_crash_destroy.so "
            "CRASH_SIGSEGV while destroying a map");
  // Nothing is left over for the next sequence, which crashes afresh.
  EXPECT_EQ(b->TakeFailureReport(), "");
  core::RunOutcome next =
      core::RunDifferential(Seq({core::Lookup{0, 0}}), {&model, b.get()});
  ASSERT_FALSE(next.ok());
  EXPECT_EQ(next.divergence->kind, core::Divergence::Kind::kBackendFailure);
}

TEST(PluginIsolationTest, CrashInAStateReadIsAFindingNotAStateDifference) {
  auto b = MustOpen(AMC_TEST_PLUGIN_CRASH_STATE_PATH);
  ASSERT_NE(b, nullptr);
  auto model = Model();
  core::RunOutcome out = core::RunDifferential(
      Seq({core::Update{0, {7}, 0}}), {&model, b.get()});
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.divergence->kind, core::Divergence::Kind::kBackendFailure);
  EXPECT_EQ(SideOf(*out.divergence, b->Name()),
            "CRASH_SIGSEGV while reading the final map state");
  EXPECT_EQ(out.divergence->detail, "");
}

TEST(PluginIsolationTest, ExitInAnOpSaysItsStatusAndTheEndOfItsStderr) {
  auto b = MustOpen(AMC_TEST_PLUGIN_EXIT_OP_PATH);
  ASSERT_NE(b, nullptr);
  auto model = Model();
  core::Sequence seq = Seq({core::Lookup{0, 0}, core::GetNextKey{0}});
  core::RunOutcome out = core::RunDifferential(seq, {&model, b.get()});
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.divergence->kind, core::Divergence::Kind::kOp);
  EXPECT_EQ(out.divergence->step, 1);
  EXPECT_EQ(SideOf(*out.divergence, b->Name()), "LOST");
  const std::string& why = out.divergence->backend_failure;
  EXPECT_NE(why.find("LOST (exit status 3) during get_next_key\n"),
            std::string::npos)
      << why;
  EXPECT_NE(why.find("exited with status 3; the end of its stderr:\n"
                     "test plug-in: get_next_key gives up, exit(3)"),
            std::string::npos)
      << why;
  EXPECT_NE(out.divergence->Report(seq).find("exit(3)"), std::string::npos);
}

TEST(PluginIsolationTest, EverythingAPluginStartsEndsWithItsChild) {
  const std::string sleeper = "amc-slp-" + std::to_string(getpid() % 100000);
  ASSERT_EQ(setenv("AMC_TEST_SLEEPER_NAME", sleeper.c_str(), 1), 0);
  auto none_left = [&] { return ProcessesNamed(sleeper).empty(); };
  {
    auto b = MustOpen(AMC_TEST_PLUGIN_FORK_PATH);
    ASSERT_NE(b, nullptr);
    auto model = Model();
    for (int i = 0; i < 3; ++i) {
      core::RunOutcome out = core::RunDifferential(
          Seq({core::Update{0, {1}, 0}}), {&model, b.get()});
      EXPECT_TRUE(out.ok()) << out.divergence->Report(Seq({}));
    }
    // (Each sleeper names itself once it runs: wait for that event.)
    auto count_is = [&](size_t n) {
      return [&, n] { return ProcessesNamed(sleeper).size() == n; };
    };
    ASSERT_TRUE(Eventually(count_is(3)));
    auto living = ProcessesNamed(sleeper);
    for (const auto& [pid, pgid] : living) EXPECT_EQ(pgid, b->child_pid());
    // Restart (a fresh child per reproducer) ends them.
    b->Restart();
    EXPECT_TRUE(Eventually(none_left));
    core::RunOutcome out = core::RunDifferential(
        Seq({core::Update{0, {1}, 0}}), {&model, b.get()});
    EXPECT_TRUE(out.ok());
    EXPECT_TRUE(Eventually(count_is(1)));
  }
  // So does destroying the backend.
  EXPECT_TRUE(Eventually(none_left));
  // And the child's death, however it dies: the guard ends the group.
  auto b = MustOpen(AMC_TEST_PLUGIN_FORK_PATH);
  ASSERT_NE(b, nullptr);
  ASSERT_EQ(b->Create(core::MapSpec{}).err, 0);
  ASSERT_TRUE(Eventually([&] { return ProcessesNamed(sleeper).size() == 1; }));
  // (Not through the backend: as a SIGKILL of amc would, via the child's
  // PR_SET_PDEATHSIG.)
  ASSERT_EQ(kill(b->child_pid(), SIGKILL), 0);
  EXPECT_TRUE(Eventually(none_left));
  unsetenv("AMC_TEST_SLEEPER_NAME");
}

TEST(PluginIsolationTest, StateKeptAcrossMapsIsGoneAfterRestart) {
  auto b = MustOpen(AMC_TEST_PLUGIN_STATEFUL_PATH);
  ASSERT_NE(b, nullptr);
  auto model = Model();
  core::Sequence seq = Seq({core::Update{0, {1}, 0}, core::Lookup{0, 0}});
  // One child: its fifth map crashes it.
  for (int i = 0; i < 4; ++i) {
    ASSERT_TRUE(core::RunDifferential(seq, {&model, b.get()}).ok());
  }
  core::RunOutcome fifth = core::RunDifferential(seq, {&model, b.get()});
  ASSERT_FALSE(fifth.ok());
  EXPECT_EQ(fifth.divergence->kind, core::Divergence::Kind::kCreate);
  EXPECT_EQ(SideOf(*fifth.divergence, b->Name()), "CRASH_SIGSEGV");
  EXPECT_NE(fifth.divergence->backend_failure.find(
                "CRASH_SIGSEGV while creating a map"),
            std::string::npos)
      << fifth.divergence->backend_failure;
  // A fresh child for each sequence never gets there.
  for (int i = 0; i < 10; ++i) {
    b->Restart();
    core::RunOutcome out = core::RunDifferential(seq, {&model, b.get()});
    ASSERT_TRUE(out.ok()) << i << ": " << out.divergence->Report(seq);
  }
}

TEST(PluginIsolationTest, WorkerThreadsEachRunTheirOwnPluginChild) {
  std::vector<std::thread> workers;
  std::atomic<int> agreed{0};
  for (int w = 0; w < 3; ++w) {
    workers.emplace_back([w, &agreed] {
      std::string error;
      auto b = PluginBackend::Open(AMC_TEST_PLUGIN_FULL_PATH, kEnv, &error);
      if (!b) return;
      auto model = Model();
      std::vector<core::Backend*> backends = {&model, b.get()};
      gen::GenOptions o;
      o.env = kEnv;
      gen::RandomChooser c(100 + w);
      for (int i = 0; i < 150; ++i) {
        core::Sequence seq = gen::GenerateSequence(c, o);
        if (core::RunDifferential(seq, backends).ok()) ++agreed;
      }
    });
  }
  for (auto& t : workers) t.join();
  EXPECT_EQ(agreed.load(), 3 * 150);
}

TEST(PluginFaultyExampleTest, NoexistFaultIsCaughtAndMinimizedToOneUpdate) {
  auto b = MustOpen(AMC_PLUGIN_FAULTY_PATH);
  ASSERT_NE(b, nullptr);
  auto model = Model();
  std::vector<core::Backend*> backends = {&model, b.get()};
  gen::GenOptions o;
  o.env = kEnv;
  o.kinds = CommonKinds(backends);
  gen::RandomChooser c(1);
  auto start = std::chrono::steady_clock::now();
  std::optional<core::Sequence> failing;
  std::optional<core::Divergence> divergence;
  int tried = 0;
  for (; tried < 2000 && !failing; ++tried) {
    core::Sequence seq = gen::GenerateSequence(c, o);
    core::RunOutcome out = core::RunDifferential(seq, backends);
    if (!out.ok()) {
      failing = seq;
      divergence = out.divergence;
    }
  }
  ASSERT_TRUE(failing.has_value());
  gen::MinimizeStats stats;
  core::Sequence small = gen::Minimize(
      *failing, gen::SameDivergence(backends, *failing, *divergence), {},
      &stats);
  auto took = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - start);
  std::printf(
      "caught after %d sequences, minimized %zu -> %zu ops in %zu "
      "attempts; %lld ms in all\n%s",
      tried, stats.ops_before, stats.ops_after, stats.attempts,
      static_cast<long long>(took.count()), core::PrintOps(small).c_str());
  ASSERT_EQ(small.steps.size(), 1u) << core::PrintOps(small);
  const auto* update = std::get_if<core::Update>(&small.steps[0].op);
  ASSERT_NE(update, nullptr) << core::PrintOps(small);
  EXPECT_EQ(update->flags, core::kBpfNoexist);
  EXPECT_EQ(small.spec.type, core::MapType::kArray);
  core::RunOutcome again = core::RunDifferential(small, backends);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(SideOf(*again.divergence, "model"), "EEXIST");
  EXPECT_EQ(SideOf(*again.divergence, b->Name()), "EINVAL");
}


TEST(PluginStateTest, AMapPast4GiBIsComparedThroughTheChildInChunks) {
  // 8 * (2^29 + 1) = 2^32 + 8 bytes of values: more than one message may
  // hold (kMaxFrame), so only chunks and digests cross the socket. The
  // child's first state request reads the plug-in's whole state (4 GiB of
  // zeros), which a sanitizer build on a loaded machine does in more than
  // the default 10 s per reply: this test is about the protocol, not speed.
  PluginOptions options;
  options.timeout_ms = 300000;
  auto b = MustOpen(AMC_TEST_PLUGIN_FULL_PATH, options);
  ASSERT_NE(b, nullptr);
  model::ModelBackend model = Model();
  core::MapSpec spec;
  spec.value_size = 8;
  spec.max_entries = (1u << 29) + 1;
  const uint32_t wrap = 1u << 29;
  core::Sequence seq = Seq({core::Update{wrap, {1, 2, 3, 4, 5, 6, 7, 8}, 0},
                            core::Update{0, {9}, 0}},
                           spec);
  core::RunOutcome same = core::RunDifferential(seq, {&model, b.get()});
  EXPECT_TRUE(same.ok()) << same.FailureReport(seq);
  // The same through the proxy by hand: the bytes at 2^32, and a digest
  // that differs from the model's once the plug-in's map holds another
  // byte there.
  auto created = b->Create(spec);
  ASSERT_EQ(created.err, 0);
  ASSERT_EQ(created.map->Execute(core::Update{wrap, {1, 2, 3, 4, 5, 6, 7, 8}, 0}).err, 0);
  std::vector<uint8_t> chunk(16, 0xee);
  created.map->ReadStateChunk(core::StatePart::kValues, (uint64_t{1} << 32) - 8,
                              16, chunk.data());
  EXPECT_EQ(chunk, (std::vector<uint8_t>{0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4, 5, 6,
                                         7, 8}));
  auto mine = model.Create(spec);
  ASSERT_EQ(mine.err, 0);
  const uint64_t at = (uint64_t{1} << 32) - (uint64_t{1} << 20);
  std::vector<uint64_t> theirs =
      created.map->StateDigests(core::StatePart::kValues, at, uint64_t{2} << 20,
                                uint64_t{1} << 20);
  std::vector<uint64_t> ours =
      mine.map->StateDigests(core::StatePart::kValues, at, uint64_t{2} << 20,
                             uint64_t{1} << 20);
  ASSERT_EQ(theirs.size(), 2u);
  ASSERT_EQ(ours.size(), 2u);
  EXPECT_EQ(theirs[0], ours[0]);  // zeros alike
  EXPECT_NE(theirs[1], ours[1]);  // the written key
}

}  // namespace
}  // namespace amc::plugin
