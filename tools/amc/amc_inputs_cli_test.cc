// Runs the real amc binary on hostile inputs and under signals (issue 18):
// FIFOs and devices are refused by name without blocking, folder walks
// survive symlink loops and unreadable entries, long tokens are cut, --out
// is checked before any work, and SIGTERM / --time stop minimization too.
// Nothing here times the machine: waits are for events (a line printed), and
// budgets are checked in the run's own report.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "tools/amc/cli_test_util.h"

namespace {

namespace fs = std::filesystem;

using amc::cli_test::ReadFile;
using amc::cli_test::Shell;

void WriteFile(const fs::path& p, const std::string& text) {
  std::ofstream(p) << text;
}

// A case the faulty backend gets wrong at its last step (six ops).
constexpr char kFailingCase[] =
    "map type=ARRAY key_size=4 value_size=8 max_entries=4 flags=0\n"
    "update key=1 value=0102030405060708 flags=BPF_ANY\n"
    "lookup key=1 flags=0\n"
    "delete key=2\n"
    "get_next_key key=null\n"
    "update key=3 value=ff*8 flags=BPF_ANY\n"
    "update key=9 value=ff*8 flags=BPF_ANY\n";

constexpr char kPassingCase[] =
    "map type=ARRAY key_size=4 value_size=8 max_entries=4 flags=0\n"
    "lookup key=1 flags=0\n";

class AmcInputsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("amc_inputs_test_" + std::to_string(getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    // Other users (the nobody runs below) may enter and read it.
    fs::permissions(dir_, fs::perms::owner_all | fs::perms::group_read |
                              fs::perms::group_exec | fs::perms::others_read |
                              fs::perms::others_exec);
    // A copy nobody can run, wherever the build tree is (a clone in a
    // private folder is out of nobody's reach).
    amc_ = (dir_ / "amc").string();
    fs::copy_file(AMC_BINARY, amc_);
    fs::permissions(amc_, fs::perms::owner_all | fs::perms::group_read |
                              fs::perms::group_exec | fs::perms::others_read |
                              fs::perms::others_exec);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string P(const std::string& name) const {
    return (dir_ / name).string();
  }
  // Runs amc with ARGS (stdout and stderr to LOG); returns its exit code.
  // `timeout 60` only keeps a regression from hanging the suite: a FIFO
  // that blocked would end as 124, never as the expected code.
  int Amc(const std::string& args, const std::string& log,
          const std::string& prefix = "") {
    return Shell(prefix + "timeout 60 " + amc_ + " " + args + " >" +
                 P(log) + " 2>&1");
  }
  fs::path dir_;
  std::string amc_;  // this test's copy of the binary
};

// Root may read and write everything: the permission cases run as nobody.
std::string AsNobody() {
  return geteuid() == 0 ? "setpriv --reuid=65534 --regid=65534 --clear-groups "
                        : "";
}

TEST_F(AmcInputsTest, FifoAndDeviceInputsAreRefusedByNameWithoutBlocking) {
  ASSERT_EQ(mkfifo(P("x.fifo").c_str(), 0600), 0);
  for (const std::string& input : {P("x.fifo"), std::string("/dev/zero")}) {
    const std::string type = input == "/dev/zero" ? "character device" : "FIFO";
    for (const std::string cmd : {std::string("replay --backends model"),
                                  std::string("minimize --backends model"),
                                  "record --out " + P("rec")}) {
      int rc = Amc(cmd + " " + input, "out.log");
      std::string out = ReadFile(P("out.log"));
      EXPECT_EQ(rc, 2) << cmd << " " << input << "\n" << out;
      EXPECT_NE(out.find(input + ": not a regular file (" + type + ")"),
                std::string::npos)
          << cmd << "\n"
          << out;
    }
  }
}

TEST_F(AmcInputsTest, SymlinkLoopsInAFolderAreNamedAndCountedNotAnAbort) {
  fs::create_directories(P("cases/sub"));
  WriteFile(P("cases/good.ops"), kPassingCase);
  fs::create_directory_symlink(P("cases"), P("cases/sub/up"));
  fs::create_symlink(P("cases/self.ops"), P("cases/self.ops"));
  int rc =
      Amc("replay --backends model " + P("cases") + " --json " + P("r.json"),
          "replay.log");
  std::string out = ReadFile(P("replay.log"));
  EXPECT_EQ(rc, 2) << out;
  EXPECT_NE(out.find("ERROR " + P("cases/sub/up") + ": symlink loop"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("ERROR " + P("cases/self.ops") +
                     ": Too many levels of symbolic links"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("replayed 3 files: 1 passed, 0 failed, 2 unreadable"),
            std::string::npos)
      << out;
  EXPECT_NE(ReadFile(P("r.json")).find("\"unreadable\":2"), std::string::npos);
  rc = Amc("record --out " + P("rec") + " " + P("cases"), "record.log");
  out = ReadFile(P("record.log"));
  EXPECT_EQ(rc, 2) << out;
  EXPECT_NE(out.find("ERROR " + P("cases/sub/up") + ": symlink loop"),
            std::string::npos)
      << out;
  EXPECT_FALSE(fs::exists(P("rec/good.ops")));
}

TEST_F(AmcInputsTest, AHugeBadTokenIsCutInTheMessage) {
  const std::string token(10u << 20, 'q');
  WriteFile(P("big.ops"),
            "map type=ARRAY key_size=4 value_size=8 "
            "max_entries=4\nlookup key=" +
                token + "\n");
  for (const char* cmd :
       {"replay --backends model", "minimize --backends model"}) {
    int rc = Amc(std::string(cmd) + " " + P("big.ops"), "out.log");
    std::string out = ReadFile(P("out.log"));
    EXPECT_EQ(rc, 2) << out.substr(0, 2000);
    EXPECT_LT(out.size(), 2000u) << out.substr(0, 2000);
    EXPECT_NE(out.find(P("big.ops") + ":2: lookup: field 'key': expected"),
              std::string::npos)
        << out.substr(0, 2000);
    EXPECT_NE(out.find("... (10485760 bytes)"), std::string::npos)
        << out.substr(0, 2000);
  }
}

TEST_F(AmcInputsTest, UnreadableFilesAndFoldersSayPermissionDenied) {
  fs::create_directories(P("cases/closed"));
  WriteFile(P("cases/secret.ops"), kPassingCase);
  WriteFile(P("cases/closed/inner.ops"), kPassingCase);
  fs::permissions(P("cases/secret.ops"), fs::perms::owner_read);
  fs::permissions(P("cases/closed"), fs::perms::owner_all);
  fs::permissions(P("cases"), fs::perms::owner_all | fs::perms::others_read |
                                  fs::perms::others_exec);
  int rc = Amc("replay --backends model " + P("cases/secret.ops"), "file.log",
               AsNobody());
  std::string out = ReadFile(P("file.log"));
  EXPECT_EQ(rc, 2) << out;
  EXPECT_NE(
      out.find(P("cases/secret.ops") + ": cannot open: Permission denied"),
      std::string::npos)
      << out;
  rc = Amc("replay --backends model " + P("cases"), "folder.log", AsNobody());
  out = ReadFile(P("folder.log"));
  EXPECT_EQ(rc, 2) << out;
  EXPECT_NE(out.find("ERROR " + P("cases/closed") +
                     ": cannot read folder: Permission denied"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("2 unreadable"), std::string::npos) << out;
}

// The check comes before the campaign: no seed line, no sequence, no
// kernel work, and the reason is the real one.
TEST_F(AmcInputsTest, UnwritableOutIsRefusedBeforeAnyWork) {
  fs::create_directories(P("ro"));  // 0755 root: nobody cannot write in it
  fs::create_directories(P("rw"));
  fs::permissions(P("rw"), fs::perms::all);
  WriteFile(P("case.ops"), kFailingCase);
  fs::permissions(P("case.ops"), fs::perms::owner_all | fs::perms::others_read);
  const std::string nobody = AsNobody();
  if (nobody.empty())
    fs::permissions(P("ro"), fs::perms::owner_read | fs::perms::owner_exec);
  struct Case {
    std::string args;
    std::string expect;
  } cases[] = {
      {"run --backends model --sequences 5 --out " + P("ro/out"),
       "--out " + P("ro/out") + ": cannot create folder: Permission denied"},
      {"run --backends model --sequences 5 --out " + P("rw/out") + " --json " +
           P("ro/r.json"),
       "--json " + P("ro/r.json") + ": cannot be written: " + P("ro") +
           ": not writable: Permission denied"},
      {"minimize --backends model,faulty " + P("case.ops") + " --out " +
           P("ro/min.ops"),
       "--out " + P("ro/min.ops") + ": cannot be written: " + P("ro") +
           ": not writable: Permission denied"},
      {"record --out " + P("ro/rec") + " " + P("case.ops"),
       "--out " + P("ro/rec") + ": cannot create folder: Permission denied"},
  };
  for (const Case& c : cases) {
    int rc = Amc(c.args, "out.log", nobody);
    std::string out = ReadFile(P("out.log"));
    EXPECT_EQ(rc, 2) << c.args << "\n" << out;
    EXPECT_NE(out.find(c.expect), std::string::npos) << c.args << "\n" << out;
    EXPECT_EQ(out.find("seed"), std::string::npos) << out;    // no campaign
    EXPECT_EQ(out.find("fails:"), std::string::npos) << out;  // no minimizing
  }
  // A path below a file cannot be a folder, for root too.
  WriteFile(P("afile"), "");
  int rc = Amc("run --backends model --sequences 5 --out " + P("afile/sub"),
               "file.log");
  EXPECT_EQ(rc, 2);
  EXPECT_NE(ReadFile(P("file.log")).find("Not a directory"), std::string::npos)
      << ReadFile(P("file.log"));
}

// Sequence 0 of seed 5 diverges on model,faulty and takes 175 attempts to
// minimize; with each faulty map creation slowed to 100 ms that is 17.5 s,
// far past a 2 s budget on any machine. The run's own report must show the
// budget kept and the minimization cut at it, with a reproducer that fails.
TEST_F(AmcInputsTest, TimeBudgetBoundsMinimizationToo) {
  int rc = Amc("run --backends model,faulty --time 2 --seed 5 --jobs 1 --out " +
                   P("out") + " --json " + P("run.json"),
               "run.log", "env AMC_FAULTY_DELAY_MS=100 ");
  std::string out = ReadFile(P("run.log"));
  EXPECT_EQ(rc, 1) << out;
  EXPECT_NE(out.find("minimization stopped at the time budget (--time)"),
            std::string::npos)
      << out;
  std::string check =
      "python3 -c \"import json,sys; d=json.load(open(sys.argv[1])); "
      "ds=d['divergences']; "
      "sys.exit(0 if d['budget_seconds']==2 and d['seconds'] < 3 and ds and "
      "ds[0]['minimization_stopped']=='at the time budget (--time)' else "
      "1)\" " +
      P("run.json");
  EXPECT_EQ(Shell(check), 0) << ReadFile(P("run.json"));
  rc = Amc("replay --backends model,faulty " + P("out"), "replay.log");
  EXPECT_EQ(rc, 1) << ReadFile(P("replay.log"));
}

// Minimizing the same divergence with 200 ms per attempt would run to its
// 15 s limit; SIGTERM, sent once the first progress line is out (10 s in,
// mid-minimization), must stop it before the next attempt.
TEST_F(AmcInputsTest, SigtermStopsRunMinimizationAndReportsIt) {
  std::string log = P("run.log");
  std::string script =
      "AMC_FAULTY_DELAY_MS=200 " + amc_ +
      " run --backends model,faulty --time 600 --seed 5 --jobs 1 --out " +
      P("out") + " --json " + P("run.json") + " >" + log +
      " 2>&1 & pid=$!; until grep -q 'sequences, .* ops/s' " + log +
      " || ! kill -0 $pid 2>/dev/null; do sleep 0.1; done; kill -TERM $pid; "
      "wait $pid";
  int rc = Shell(script);
  std::string out = ReadFile(log);
  EXPECT_EQ(rc, 1) << out;  // a divergence was found: FAIL, not INTERRUPTED
  EXPECT_NE(out.find("minimization stopped by a signal"), std::string::npos)
      << out;
  EXPECT_NE(out.find("FAIL: backends diverged (run interrupted)"),
            std::string::npos)
      << out;
  std::string check =
      "python3 -c \"import json,sys; d=json.load(open(sys.argv[1])); "
      "sys.exit(0 if d['interrupted'] and d['seconds'] < 15 and "
      "any(x['minimization_stopped']=='by a signal' for x in "
      "d['divergences']) else 1)\" " +
      P("run.json");
  EXPECT_EQ(Shell(check), 0) << ReadFile(P("run.json"));
}

// Each file takes 200 ms on the slowed faulty backend; the signal follows
// the first PASS line, so most files are left: replay says so, writes its
// JSON and exits 130.
TEST_F(AmcInputsTest, SigtermStopsReplayBetweenFiles) {
  fs::create_directories(P("cases"));
  for (int i = 0; i < 200; ++i) {
    WriteFile(P("cases/c" + std::to_string(1000 + i) + ".ops"), kPassingCase);
  }
  std::string log = P("replay.log");
  std::string script = "AMC_FAULTY_DELAY_MS=200 stdbuf -oL " +
                       amc_ +
                       " replay --verbose --backends model,faulty " +
                       P("cases") + " --json " + P("r.json") + " >" + log +
                       " 2>&1 & pid=$!; until grep -q '^PASS' " + log +
                       " || ! kill -0 $pid 2>/dev/null; do sleep 0.05; done; "
                       "kill -TERM $pid; wait $pid";
  int rc = Shell(script);
  std::string out = ReadFile(log);
  EXPECT_EQ(rc, 130) << out;
  EXPECT_NE(out.find("INTERRUPTED (SIGTERM)"), std::string::npos) << out;
  std::string json = ReadFile(P("r.json"));
  EXPECT_NE(json.find("\"interrupted\":true"), std::string::npos) << json;
  EXPECT_EQ(json.find("\"not_run\":0"), std::string::npos) << json;
}

// The search stops before its next attempt; the case written is the
// smallest found failing so far, marked partial, and it still fails.
TEST_F(AmcInputsTest, SigtermStopsMinimizeWithAPartialReproducer) {
  WriteFile(P("case.ops"), kFailingCase);
  std::string log = P("min.log");
  std::string script = "AMC_FAULTY_DELAY_MS=500 " + amc_ +
                       " minimize --backends model,faulty " + P("case.ops") +
                       " --out " + P("min.ops") + " >" + log +
                       " 2>&1 & pid=$!; until grep -q 'fails:' " + log +
                       " || ! kill -0 $pid 2>/dev/null; do sleep 0.05; done; "
                       "kill -TERM $pid; wait $pid";
  int rc = Shell(script);
  std::string out = ReadFile(log);
  EXPECT_EQ(rc, 130) << out;
  EXPECT_NE(out.find("INTERRUPTED (SIGTERM)"), std::string::npos) << out;
  EXPECT_NE(ReadFile(P("min.ops")).find("minimization stopped by SIGTERM"),
            std::string::npos)
      << ReadFile(P("min.ops"));
  rc = Amc("replay --backends model,faulty " + P("min.ops"), "replay.log");
  EXPECT_EQ(rc, 1) << ReadFile(P("replay.log"));
}

// Needs the kernel (root or CAP_BPF). The signal follows the first
// "recorded" line; 5000 files keep the command busy far longer than the
// shell takes to send it. Files recorded so far stay written.
TEST_F(AmcInputsTest, SigtermStopsRecordBetweenFiles) {
  fs::create_directories(P("cases"));
  for (int i = 0; i < 5000; ++i) {
    WriteFile(P("cases/c" + std::to_string(10000 + i) + ".ops"), kPassingCase);
  }
  std::string log = P("rec.log");
  std::string script = "stdbuf -oL " + amc_ +
                       " record --out " + P("rec") + " " + P("cases") + " >" +
                       log +
                       " 2>&1 & pid=$!; until grep -q "
                       "'^recorded\\|cannot record' " +
                       log +
                       " || ! kill -0 $pid 2>/dev/null; do sleep 0.02; done; "
                       "kill -TERM $pid 2>/dev/null; wait $pid";
  int rc = Shell(script);
  std::string out = ReadFile(log);
  if (out.find("cannot record") != std::string::npos) {
    GTEST_SKIP() << "no kernel recording here: " << out;
  }
  EXPECT_EQ(rc, 130) << out.substr(out.size() > 2000 ? out.size() - 2000 : 0);
  EXPECT_NE(out.find("INTERRUPTED (SIGTERM): "), std::string::npos);
  size_t written = 0;
  for (const auto& e : fs::directory_iterator(P("rec"))) {
    (void)e;
    ++written;
  }
  EXPECT_GT(written, 0u);
  EXPECT_LT(written, 5000u);
}

}  // namespace
