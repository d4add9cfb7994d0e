// Runs the real amc binary under the limits and capabilities a careful user
// tries (prlimit, ulimit -v, capsh): amc refuses up front with the number
// or capability it needs, or reports harness errors, never a divergence or
// a recorded expectation made of its own failures.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <regex>
#include <string>

#include "tools/amc/cli_test_util.h"

namespace {

namespace fs = std::filesystem;

using amc::cli_test::Ran;

// Runs `command` with a shell; AMC in it stands for the binary.
Ran Sh(std::string command) {
  for (size_t at; (at = command.find("AMC")) != std::string::npos;) {
    command.replace(at, 3, AMC_BINARY);
  }
  return amc::cli_test::RunShell("/bin/sh -c '" + command + "'");
}

// Whether `amc info` lists the kernel backend as available (its table
// pads names to the longest one).
bool KernelAvailable(const std::string& info) {
  return std::regex_search(info, std::regex("\n  kernel +available"));
}

// Where the kernel must run (CI sets AMC_REQUIRE_KERNEL=1), a test that
// needs it fails instead of skipping.
bool KernelRequired() {
  const char* v = std::getenv("AMC_REQUIRE_KERNEL");
  return v && std::string(v) == "1";
}

bool Has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

class HarnessErrorCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("amc_harness_cli_" + std::to_string(getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  // ulimit -v cannot be tried under ASan/TSan: their shadow memory needs
  // far more address space than any such limit.
  static bool Sanitized() { return std::string(AMC_SANITIZER_NAME) != ""; }
  fs::path dir_;
};

TEST_F(HarnessErrorCliTest, LowDescriptorLimitRefusesUpFrontWithTheNumberNeeded) {
  if (Sh("command -v prlimit").status != 0) GTEST_SKIP() << "no prlimit";
  Ran ran = Sh("prlimit --nofile=64:64 AMC run --time 5 --backends model,impl "
               "--jobs 1 --out " + dir_.string());
  EXPECT_EQ(ran.status, 2) << ran.output;
  EXPECT_TRUE(Has(ran.output, "needs 80 file descriptors")) << ran.output;
  EXPECT_FALSE(Has(ran.output, "divergences:")) << ran.output;
  ran = Sh("prlimit --nofile=64:64 AMC run --time 5 --backends model,kernel "
           "--jobs 2 --out " + dir_.string());
  EXPECT_EQ(ran.status, 2) << ran.output;
  EXPECT_TRUE(Has(ran.output, "needs 384 file descriptors")) << ran.output;
  ran = Sh("prlimit --nofile=64:64 AMC replay --backends model,impl " +
           std::string(AMC_SOURCE_DIR) + "/conformance/cases");
  EXPECT_EQ(ran.status, 2) << ran.output;
  EXPECT_TRUE(Has(ran.output, "file descriptors")) << ran.output;
}

TEST_F(HarnessErrorCliTest, ASoftDescriptorLimitBelowTheNeedIsRaisedAndTheRunPasses) {
  if (Sh("command -v prlimit").status != 0) GTEST_SKIP() << "no prlimit";
  Ran ran = Sh("prlimit --nofile=70:4096 AMC run --sequences 30 --seed 4 "
               "--backends model,impl --jobs 1 --out " + dir_.string());
  EXPECT_EQ(ran.status, 0) << ran.output;
  EXPECT_TRUE(Has(ran.output, "from 70 to 80")) << ran.output;
}

TEST_F(HarnessErrorCliTest, AddressSpaceLimitInReplayIsAnErrorNotAFailure) {
  if (Sanitized()) GTEST_SKIP() << "ulimit -v under " << AMC_SANITIZER_NAME;
  // 240 MiB of values: the impl cannot allocate them under 150 MB.
  std::ofstream(dir_ / "big.ops")
      << "map type=ARRAY key_size=4 value_size=4096 max_entries=60000 "
         "flags=0 numa_node=0\nupdate key=59999 value=07 flags=BPF_ANY\n";
  const std::string file = (dir_ / "big.ops").string();
  Ran ran = Sh("AMC replay --backends model,impl " + file);
  ASSERT_EQ(ran.status, 0) << ran.output;
  ran = Sh("ulimit -v 150000; AMC replay --backends model,impl " + file);
  EXPECT_EQ(ran.status, 2) << ran.output;
  EXPECT_TRUE(Has(ran.output, "ERROR " + file + ": HARNESS ERROR")) << ran.output;
  EXPECT_TRUE(Has(ran.output, "impl, map creation")) << ran.output;
  EXPECT_FALSE(Has(ran.output, "FAIL")) << ran.output;
}

TEST_F(HarnessErrorCliTest, AddressSpaceLimitInRunGivesHarnessErrorsAndNoDivergence) {
  if (Sanitized()) GTEST_SKIP() << "ulimit -v under " << AMC_SANITIZER_NAME;
  Ran ran = Sh("ulimit -v 30000; AMC run --sequences 300 --seed 1 "
               "--backends model,impl --jobs 1 --json " +
               (dir_ / "r.json").string() + " --out " + (dir_ / "o").string());
  EXPECT_EQ(ran.status, 2) << ran.output;
  EXPECT_TRUE(Has(ran.output, "divergences: 0\n")) << ran.output;
  EXPECT_TRUE(Has(ran.output, "HARNESS ERROR: amc itself failed on"))
      << ran.output;
  EXPECT_FALSE(Has(ran.output, "PASS")) << ran.output;
  EXPECT_FALSE(fs::exists(dir_ / "o") && !fs::is_empty(dir_ / "o"));
  std::ifstream json(dir_ / "r.json");
  std::string text((std::istreambuf_iterator<char>(json)),
                   std::istreambuf_iterator<char>());
  EXPECT_TRUE(Has(text, "\"harness_errors\":")) << text;
  EXPECT_TRUE(Has(text, "\"divergent_sequences\":0,")) << text;
}

TEST_F(HarnessErrorCliTest, RecordWithoutCapSysAdminRefusesAndNamesTheCapability) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to drop CAP_SYS_ADMIN alone";
  if (Sh("command -v capsh").status != 0) {
    GTEST_SKIP() << "no capsh (Debian: libcap2-bin)";
  }
  if (!KernelAvailable(Sh("AMC info").output)) {
    ASSERT_FALSE(KernelRequired()) << "AMC_REQUIRE_KERNEL=1: the kernel backend cannot run";
    GTEST_SKIP() << "the kernel backend cannot run here even as root";
  }
  const std::string out = (dir_ / "rec").string();
  Ran ran = Sh("capsh --drop=cap_sys_admin -- -c \"AMC record " +
               std::string(AMC_SOURCE_DIR) + "/conformance/cases --out " + out +
               "\"");
  EXPECT_EQ(ran.status, 2) << ran.output;
  EXPECT_TRUE(Has(ran.output, "BPF_MAP_GET_FD_BY_ID needs CAP_SYS_ADMIN"))
      << ran.output;
  EXPECT_FALSE(fs::exists(out)) << "recorded without the capability";
  ran = Sh("capsh --drop=cap_sys_admin -- -c \"AMC run --sequences 5 "
           "--backends model,kernel --out " + out + "\"");
  EXPECT_EQ(ran.status, 2) << ran.output;
  EXPECT_TRUE(Has(ran.output, "CAP_SYS_ADMIN")) << ran.output;
  EXPECT_FALSE(Has(ran.output, "divergences:")) << ran.output;
}

TEST_F(HarnessErrorCliTest, AHugePercpuMapIsSatOutByTheKernelPromptlyAndNotRecorded) {
  if (!KernelAvailable(Sh("AMC info").output)) {
    ASSERT_FALSE(KernelRequired()) << "AMC_REQUIRE_KERNEL=1: the kernel backend cannot run";
    GTEST_SKIP() << "the kernel backend cannot run here";
  }
  const std::string file = (dir_ / "huge.ops").string();
  std::ofstream(file) << "map type=PERCPU_ARRAY key_size=4 value_size=32768 "
                         "max_entries=1048576 flags=0 numa_node=0\n"
                         "lookup key=0 flags=BPF_ANY\n";
  Ran ran = Sh("timeout 60 AMC replay --backends model,kernel " + file);
  EXPECT_NE(ran.status, 124) << "the kernel was asked for the map";
  EXPECT_TRUE(Has(ran.output, "SKIP " + file)) << ran.output;
  EXPECT_TRUE(Has(ran.output, "above --kernel-map-limit 64 MiB")) << ran.output;
  EXPECT_FALSE(Has(ran.output, "PASS")) << ran.output;
  ran = Sh("timeout 60 AMC record " + file + " --out " +
           (dir_ / "rec").string());
  EXPECT_EQ(ran.status, 2) << ran.output;
  EXPECT_FALSE(fs::exists(dir_ / "rec" / "huge.ops"));
  ran = Sh("AMC replay --kernel-map-limit 12MB --backends model " + file);
  EXPECT_EQ(ran.status, 2) << ran.output;
  EXPECT_TRUE(Has(ran.output, "bad kernel map limit")) << ran.output;
}

}  // namespace
