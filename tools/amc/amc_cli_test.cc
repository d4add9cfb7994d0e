// Runs the real amc binary and checks what a user sees: exit codes, messages,
// reproducers, and that the JSON and JUnit reports parse.
#include <gtest/gtest.h>
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

using amc::cli_test::Ran;
using amc::cli_test::Shell;

// Runs amc with ARGS; ENV ("NAME=value ...") is set for amc only.
Ran Amc(const std::string& args, const std::string& env = "") {
  return amc::cli_test::RunShell((env.empty() ? "" : "env " + env + " ") +
                                 std::string(AMC_BINARY) + " " + args);
}

bool JsonValid(const fs::path& file) {
  return Shell("python3 -m json.tool '" + file.string() + "' >/dev/null") == 0;
}

// Parses the JUnit file with xml.etree and checks the count of <testcase>
// elements and of those holding a <failure>.
bool JUnitValid(const fs::path& file, int cases, int failures) {
  std::string script =
      "import sys, xml.etree.ElementTree as E\n"
      "r = E.parse(sys.argv[1]).getroot()\n"
      "c = r.findall('.//testcase')\n"
      "f = [t for t in c if t.find('failure') is not None]\n"
      "ok = (int(sys.argv[2]) < 0 or len(c) == int(sys.argv[2])) and "
      "(int(sys.argv[3]) < 0 and len(f) > 0 or len(f) == int(sys.argv[3]))\n"
      "sys.exit(0 if ok and r.tag == 'testsuites' else 1)\n";
  return Shell("python3 -c \"" + script + "\" '" + file.string() + "' " +
               std::to_string(cases) + " " + std::to_string(failures)) == 0;
}

std::string ReadFile(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void WriteFile(const fs::path& p, const std::string& text) {
  std::ofstream(p) << text;
}

class AmcCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("amc_cli_test_" + std::to_string(getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string P(const std::string& name) const {
    return (dir_ / name).string();
  }
  fs::path dir_;
};

constexpr char kFailingCase[] =
    "# a case the faulty backend gets wrong at step 4\n"
    "map type=ARRAY key_size=4 value_size=8 max_entries=4 flags=0\n"
    "update key=1 value=0102030405060708 flags=BPF_ANY\n"
    "lookup key=1 flags=0\n"
    "delete key=2\n"
    "get_next_key key=null\n"
    "update key=9 value=ff*8 flags=BPF_ANY\n"
    "lookup key=3 flags=0\n";

TEST_F(AmcCliTest, RunWithFewSequencesExitsZeroWithSummaryAndValidReports) {
  Ran r = Amc("run --sequences 60 --jobs 2 --seed 5 --out " + P("out") +
              " --json " + P("run.json") + " --junit " + P("run.xml"));
  EXPECT_EQ(r.status, 0) << r.output;
  for (const char* part :
       {"seed 5", "per backend", "ops by kind", "op results by errno",
        "map creation", "backends unavailable", "op kinds and maps left out (not tested)",
        "divergences: 0", "PASS"}) {
    EXPECT_NE(r.output.find(part), std::string::npos) << part << "\n"
                                                      << r.output;
  }
  EXPECT_TRUE(JsonValid(P("run.json")));
  EXPECT_NE(ReadFile(P("run.json")).find("\"sequences\":60"),
            std::string::npos);
  EXPECT_TRUE(JUnitValid(P("run.xml"), 1, 0));  // one block of sequences
  EXPECT_FALSE(fs::exists(P("out")));
}

TEST_F(AmcCliTest, RunIsReproducibleFromItsSeedWhateverTheJobs) {
  Ran one =
      Amc("run --backends model --sequences 50 --jobs 1 --seed 77 --json " +
          P("1.json"));
  Ran two =
      Amc("run --backends model --sequences 50 --jobs 2 --seed 77 --json " +
          P("2.json"));
  ASSERT_EQ(one.status, 0) << one.output;
  ASSERT_EQ(two.status, 0) << two.output;
  auto ops_part = [](const std::string& json) {
    size_t at = json.find("\"ops_by_kind\"");
    return json.substr(at, json.find('}', at) - at);
  };
  EXPECT_EQ(ops_part(ReadFile(P("1.json"))), ops_part(ReadFile(P("2.json"))));
}

TEST_F(AmcCliTest, RunWithAKernelProfileCarriesItIntoEveryCommandLineAndMinimizeReadsTheHeader) {
  Ran r = Amc("--kernel-profile 6.12 run --backends model,faulty-multi "
              "--sequences 300 --seed 3 --jobs 1 --out " + P("out"),
              "AMC_BACKENDS=");
  ASSERT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find("repeat with: amc run --seed 3 --backends "
                          "model,faulty-multi --kernel-profile 6.12"),
            std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("replay it with: amc replay --backends "
                          "model,faulty-multi --kernel-profile 6.12 "),
            std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find(" signatures ("), std::string::npos) << r.output;
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(P("out"))) files.push_back(e.path());
  ASSERT_FALSE(files.empty());
  const std::string text = ReadFile(files[0]);
  EXPECT_NE(text.find("# kernel profile: 6.12\n"), std::string::npos) << text;
  EXPECT_NE(text.find("# signature: op "), std::string::npos) << text;
  // No --backends and no AMC_BACKENDS: the header's backends and profile.
  Ran m = Amc("minimize " + files[0].string(), "AMC_BACKENDS=");
  EXPECT_EQ(m.status, 1) << m.output;
  EXPECT_NE(m.output.find("backends from " + files[0].string() +
                          "'s header: model,faulty-multi"),
            std::string::npos)
      << m.output;
  EXPECT_NE(m.output.find("kernel profile from " + files[0].string() +
                          "'s header: 6.12"),
            std::string::npos)
      << m.output;
}

TEST_F(AmcCliTest, FaultyBackendRunExitsOneWithAReproducerThatReplayFails) {
  Ran r =
      Amc("run --backends model,faulty --sequences 300 --seed 11 --out " +
          P("out") + " --json " + P("run.json") + " --junit " + P("run.xml"));
  ASSERT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find("FAIL"), std::string::npos);
  EXPECT_TRUE(JsonValid(P("run.json")));
  EXPECT_TRUE(JUnitValid(P("run.xml"), -1, -1));
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(P("out")))
    files.push_back(e.path());
  ASSERT_FALSE(files.empty());
  std::string text = ReadFile(files[0]);
  EXPECT_NE(text.find("# amc run divergence"), std::string::npos) << text;
  EXPECT_NE(text.find("seed 11"), std::string::npos) << text;
  Ran replay =
      Amc("replay --backends model,faulty " + files[0].string() + " --json " +
          P("replay.json") + " --junit " + P("replay.xml"));
  EXPECT_EQ(replay.status, 1) << replay.output;
  EXPECT_NE(replay.output.find("FAIL " + files[0].string() + ": step"),
            std::string::npos)
      << replay.output;
  EXPECT_NE(replay.output.find("faulty ENOENT"), std::string::npos)
      << replay.output;
  EXPECT_TRUE(JsonValid(P("replay.json")));
  EXPECT_TRUE(JUnitValid(P("replay.xml"), 1, 1));
  EXPECT_EQ(Amc("replay --backends model " + files[0].string()).status, 0);
}

TEST_F(AmcCliTest, AmcBackendsSelectsBackendsUnlessBackendsIsGiven) {
  WriteFile(P("case.ops"), kFailingCase);
  // The faulty backend runs only when named: through AMC_BACKENDS here.
  EXPECT_EQ(Amc("replay " + P("case.ops")).status, 0);
  Ran env_replay = Amc("replay " + P("case.ops"), "AMC_BACKENDS=model,faulty");
  EXPECT_EQ(env_replay.status, 1) << env_replay.output;
  EXPECT_NE(env_replay.output.find("faulty"), std::string::npos)
      << env_replay.output;
  EXPECT_EQ(Amc("replay --backends model " + P("case.ops"),
                "AMC_BACKENDS=model,faulty")
                .status,
            0);
  Ran run = Amc("run --sequences 300 --seed 11 --jobs 1 --out " + P("out"),
                "AMC_BACKENDS=model,faulty");
  EXPECT_EQ(run.status, 1) << run.output;
  // The repeat line names the list that was used.
  EXPECT_NE(run.output.find("--backends model,faulty"), std::string::npos)
      << run.output;
  EXPECT_EQ(Amc("minimize --out " + P("min.ops") + " " + P("case.ops"),
                "AMC_BACKENDS=model,faulty")
                .status,
            1);
}

TEST_F(AmcCliTest, UnknownBackendExitsTwoNamingIt) {
  for (const std::string cmd :
       {"run --sequences 1", "replay " AMC_SOURCE_DIR "/conformance/cases"}) {
    Ran r = Amc(cmd + " --backends model,nosuch");
    EXPECT_EQ(r.status, 2) << r.output;
    EXPECT_NE(r.output.find("unknown backend 'nosuch'"), std::string::npos)
        << r.output;
  }
}

TEST_F(AmcCliTest, MissingPathExitsTwoNamingIt) {
  for (const char* cmd : {"replay", "minimize", "record --out /tmp/x"}) {
    Ran r = Amc(std::string(cmd) + " " + P("nothing_here.ops"));
    EXPECT_EQ(r.status, 2) << cmd << r.output;
    EXPECT_NE(r.output.find(P("nothing_here.ops") + ": no such file"),
              std::string::npos)
        << cmd << r.output;
  }
}

TEST_F(AmcCliTest, ReplayWithoutPathReplaysTheDataFoldersConformanceCases) {
  // From its build tree amc's data folder is the source tree; AMC_DATA_DIR
  // overrides it, and a data folder without cases is a usage error.
  Ran r = Amc("replay --backends model");
  EXPECT_EQ(r.status, 0) << r.output;
  size_t cases = 0;
  for (const auto& e :
       fs::recursive_directory_iterator(AMC_SOURCE_DIR "/conformance/cases")) {
    cases += e.path().extension() == ".ops";
  }
  ASSERT_GT(cases, 0u);
  EXPECT_NE(r.output.find("replayed " + std::to_string(cases) + " files: "),
            std::string::npos)
      << r.output;
  fs::create_directories(P("data/conformance/cases"));
  WriteFile(P("data/conformance/cases/one.ops"),
            "map type=ARRAY key_size=4 value_size=8 max_entries=4\n"
            "lookup key=9 -> ENOENT\n");
  r = Amc("replay --backends model", "AMC_DATA_DIR=" + P("data") + " ");
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("replayed 1 files: 1 passed"), std::string::npos)
      << r.output;
  r = Amc("replay --backends model", "AMC_DATA_DIR=" + P("nodata") + " ");
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_NE(r.output.find("no conformance cases at " + P("nodata")),
            std::string::npos)
      << r.output;
}

TEST_F(AmcCliTest, MalformedOpsExitsTwoNamingFileAndLine) {
  WriteFile(P("bad.ops"),
            "# fine\nmap type=ARRAY key_size=4 value_size=8 "
            "max_entries=4\nupdate key=banana\n");
  for (const char* cmd : {"replay", "minimize", "record --out "}) {
    std::string extra =
        std::string(cmd) == "record --out " ? P("rec") + " " : "";
    Ran r = Amc(std::string(cmd) + extra + " " + P("bad.ops"));
    EXPECT_EQ(r.status, 2) << cmd << r.output;
    EXPECT_NE(r.output.find(P("bad.ops") + ":3:"), std::string::npos)
        << cmd << r.output;
  }
}

TEST_F(AmcCliTest, BadOptionsExitTwoWithAClearMessage) {
  struct Case {
    std::string args, message;
  } cases[] = {
      {"run --bogus", "unknown option '--bogus'"},
      {"run --sequences abc", "'--sequences' needs an unsigned number"},
      {"run --time -3", "'--time' needs a number of seconds"},
      {"run --jobs 0", "--jobs needs a number from 1"},
      {"run --time 0", "--time needs more than 0"},
      {"run --time 1e10", "at most 2592000 seconds"},
      {"run --sequences 0", "--sequences needs 1 or more"},
      {"run --seed", "'--seed' needs a value"},
      {"run extra", "unexpected argument 'extra'"},
      {"record " AMC_SOURCE_DIR "/conformance/cases", "--out DIR is required"},
      {"minimize a.ops b.ops", "needs exactly one"},
      {"info --what", "unknown option '--what'"},
      {"frobnicate", "unknown command 'frobnicate'"},
      {"", "usage: amc COMMAND"},
  };
  for (const auto& c : cases) {
    Ran r = Amc(c.args);
    EXPECT_EQ(r.status, 2) << c.args << "\n" << r.output;
    EXPECT_NE(r.output.find(c.message), std::string::npos) << c.args << "\n"
                                                           << r.output;
  }
}

// The signal comes once the campaign has printed its first progress line
// (an event, not a delay: the handlers are installed by then), so the run is
// stopped mid-budget on any machine.
TEST_F(AmcCliTest, InterruptedRunPrintsNoPassAndExits130) {
  for (const char* signal : {"INT", "TERM"}) {
    std::string log = P(std::string("run-") + signal + ".log");
    std::string script =
        std::string(AMC_BINARY) + " run --backends model,impl --time 600 --jobs 1 " +
        "--seed 3 --out " + P("out") + " --json " + P("run.json") + " >" + log +
        " 2>&1 & pid=$!; until grep -q 'sequences, .* ops/s' " + log +
        "; do sleep 0.1; done; kill -" + signal + " $pid; wait $pid";
    int rc = Shell(script);
    std::string out = ReadFile(log);
    EXPECT_EQ(rc, 130) << signal << "\n" << out;
    EXPECT_NE(out.find("INTERRUPTED: "), std::string::npos) << out;
    EXPECT_EQ(out.find("PASS"), std::string::npos) << out;
    EXPECT_NE(ReadFile(P("run.json")).find("\"interrupted\":true"),
              std::string::npos);
  }
}

// Without CAP_BPF (the nobody user) the kernel backend cannot run: naming it
// fails the run unless --allow-missing, which runs the others and names it.
TEST_F(AmcCliTest, NamedBackendThatCannotRunFailsUnlessAllowedMissing) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to run amc as another user";
  fs::permissions(dir_, fs::perms::all);
  // AMC_REQUIRE_KERNEL (set by CI) would make the missing kernel an error of
  // its own; this test is about --backends.
  const std::string as_nobody =
      "env -u AMC_REQUIRE_KERNEL setpriv --reuid=65534 --regid=65534 "
      "--clear-groups --inh-caps=-all ";
  std::string base = std::string(AMC_BINARY) +
                     " run --backends model,kernel --sequences 20 --seed 2 --out " +
                     P("out");
  int rc = Shell(as_nobody + base + " >" + P("named.log") + " 2>&1");
  std::string out = ReadFile(P("named.log"));
  EXPECT_EQ(rc, 2) << out;
  EXPECT_NE(out.find("a named backend cannot run here"), std::string::npos) << out;
  EXPECT_NE(out.find("kernel: "), std::string::npos) << out;
  rc = Shell(as_nobody + base + " --allow-missing >" + P("allowed.log") + " 2>&1");
  out = ReadFile(P("allowed.log"));
  EXPECT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("backends unavailable: "), std::string::npos) << out;
  EXPECT_NE(out.find("kernel"), std::string::npos) << out;
}

TEST_F(AmcCliTest, EveryCommandHasHelp) {
  for (const char* cmd : {"run", "replay", "record", "minimize", "info"}) {
    Ran r = Amc(std::string(cmd) + " --help");
    EXPECT_EQ(r.status, 0) << cmd;
    EXPECT_NE(r.output.find(std::string("usage: amc ") + cmd),
              std::string::npos)
        << r.output;
  }
  Ran r = Amc("--help");
  EXPECT_EQ(r.status, 0);
  EXPECT_NE(r.output.find("commands:"), std::string::npos);
}

TEST_F(AmcCliTest, ReplayOfTheConformanceCasesPassesWithValidReports) {
  Ran r = Amc("replay " AMC_SOURCE_DIR "/conformance/cases --json " +
              P("r.json") + " --junit " + P("r.xml"));
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("0 failed, 0 unreadable"), std::string::npos)
      << r.output;
  EXPECT_TRUE(JsonValid(P("r.json")));
  int files = 0;
  for (const auto& e :
       fs::directory_iterator(AMC_SOURCE_DIR "/conformance/cases")) {
    files += e.path().extension() == ".ops";
  }
  EXPECT_TRUE(JUnitValid(P("r.xml"), files, 0));
}

TEST_F(AmcCliTest, MinimizeShrinksADisagreementToAFileReplayStillFails) {
  WriteFile(P("case.ops"), kFailingCase);
  Ran r = Amc("minimize --backends model,faulty --out " + P("min.ops") + " " +
              P("case.ops"));
  EXPECT_EQ(r.status, 1) << r.output;
  std::string text = ReadFile(P("min.ops"));
  EXPECT_NE(text.find("minimized by amc minimize"), std::string::npos) << text;
  EXPECT_EQ(text.find("lookup key=3"), std::string::npos) << text;
  EXPECT_EQ(text.find("get_next_key"), std::string::npos) << text;
  EXPECT_NE(text.find("update key="), std::string::npos) << text;
  EXPECT_EQ(Amc("replay --backends model,faulty " + P("min.ops")).status, 1);
  EXPECT_EQ(Amc("minimize --backends model " + P("case.ops")).status, 0);
}

TEST_F(AmcCliTest, MinimizeKeepsTheRecordedExpectationThatFails) {
  WriteFile(
      P("exp.ops"),
      "map type=ARRAY key_size=4 value_size=8 max_entries=4 flags=0 -> ok\n"
      "update key=0 value=11*8 flags=BPF_ANY -> ok\n"
      "update key=1 value=22*8 flags=BPF_ANY -> ok\n"
      "lookup key=0 flags=0 -> ok value=11*8\n"
      "lookup key=1 flags=0 -> ok value=33*8\n"
      "lookup key=2 flags=0 -> ok value=00*8\n");
  Ran r = Amc("minimize --backends model " + P("exp.ops"));
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find("update key=1 value=22*8 flags=BPF_ANY -> ok\n"
                          "lookup key=1 flags=BPF_ANY -> ok value=33*8\n"),
            std::string::npos)
      << r.output;
  EXPECT_EQ(r.output.find("update key=0 value"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("lookup key=2"), std::string::npos) << r.output;
}

TEST_F(AmcCliTest, RecordWritesKernelExpectationsOrNamesTheMissingPrivilege) {
  Ran r = Amc("record --out " + P("rec") +
              " " AMC_SOURCE_DIR "/conformance/cases/update_array.ops");
  if (r.status == 2) {
    EXPECT_NE(r.output.find("cannot record"), std::string::npos) << r.output;
    EXPECT_TRUE(r.output.find("CAP_BPF") != std::string::npos ||
                r.output.find("no kernel backend") != std::string::npos)
        << r.output;
    return;
  }
  ASSERT_EQ(r.status, 0) << r.output;
  std::string text = ReadFile(P("rec/update_array.ops"));
  EXPECT_NE(text.find("kernel="), std::string::npos) << text;
  EXPECT_NE(text.find("# recorded on Linux "), std::string::npos) << text;
  EXPECT_EQ(Amc("replay " + P("rec")).status, 0);
}

TEST_F(AmcCliTest, InfoReportsMachineBackendsAndFeatures) {
  Ran r = Amc("info");
  EXPECT_EQ(r.status, 0) << r.output;
  for (const char* part : {"kernel release:", "privileges:", "CAP_BPF",
                           "possible CPUs:", "page size:", "model", "faulty",
                           "mmapable arrays", "batch ops on ARRAY",
                           "batch ops on PERCPU_ARRAY", "PERCPU_ARRAY maps",
                           "op kinds unavailable:", "SYSCALL programs",
                           "bpf_map_lookup_percpu_elem", "BPF_F_CPU"}) {
    EXPECT_NE(r.output.find(part), std::string::npos) << part << "\n"
                                                      << r.output;
  }
}

}  // namespace

namespace {

TEST(AmcVersionTest, VersionNamesTheReleaseTheRevisionAndThePluginAbi) {
  Ran r = Amc("--version");
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(r.output.rfind("amc 0.", 0), 0u) << r.output;
  EXPECT_NE(r.output.find("git revision: "), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("git revision: unknown"), std::string::npos)
      << "built from a git checkout\n"
      << r.output;
  EXPECT_NE(r.output.find("plug-in ABI version: 3 (loads plug-ins of 1 to 3)"),
            std::string::npos)
      << r.output;
}

}  // namespace
