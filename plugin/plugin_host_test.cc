// plugin/plugin_host_test.cc: which program a plug-in's child execs
// (plugin/plugin_host.h).
#include "plugin/plugin_host.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

namespace amc::plugin {
namespace {

namespace fs = std::filesystem;

// A scratch prefix PREFIX/bin/amc with, optionally, the host beside it.
class PrefixTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "amc-host-test.XXXXXX");
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    prefix_ = tmpl;
    fs::create_directories(prefix_ / "bin");
    amc_ = (prefix_ / "bin" / "amc").string();
    host_ = prefix_ / "libexec" / "amc" / "amc-plugin-host";
  }
  void TearDown() override { fs::remove_all(prefix_); }

  void MakeHost(mode_t mode) {
    fs::create_directories(host_.parent_path());
    std::ofstream(host_) << "#!/bin/sh\n";
    ASSERT_EQ(chmod(host_.c_str(), mode), 0);
  }
  // The path amc computes: BIN/../libexec/amc/amc-plugin-host.
  std::string HostAsSeen() const {
    return (prefix_ / "bin").string() + "/" + kPluginHostRelative;
  }

  fs::path prefix_;
  fs::path host_;
  std::string amc_;
};

TEST_F(PrefixTest, DynamicAmcExecsItselfEvenWithAHostBesideIt) {
  MakeHost(0755);
  ChildProgram c = ChooseChildProgram(nullptr, /*is_static=*/false, amc_);
  EXPECT_EQ(c.path, kSelfExe);
  EXPECT_EQ(c.note, "");
  EXPECT_EQ(c.error, "");
}

TEST_F(PrefixTest, StaticAmcExecsTheHostInstalledBesideIt) {
  MakeHost(0755);
  ChildProgram c = ChooseChildProgram(nullptr, /*is_static=*/true, amc_);
  EXPECT_EQ(c.path, HostAsSeen());
  EXPECT_TRUE(fs::equivalent(c.path, host_));
  EXPECT_NE(c.note.find(HostAsSeen()), std::string::npos) << c.note;
  EXPECT_EQ(c.error, "");
}

TEST_F(PrefixTest, StaticAmcWithoutAHostExecsItselfAndSaysWhereItLooked) {
  ChildProgram c = ChooseChildProgram(nullptr, /*is_static=*/true, amc_);
  EXPECT_EQ(c.path, kSelfExe);
  EXPECT_EQ(c.error, "");
  EXPECT_NE(c.note.find("no plug-in host at " + HostAsSeen()),
            std::string::npos) << c.note;
  EXPECT_NE(c.note.find("AMC_PLUGIN_HOST"), std::string::npos) << c.note;
}

TEST_F(PrefixTest, StaticAmcIgnoresAHostThatIsNotExecutable) {
  MakeHost(0644);
  ChildProgram c = ChooseChildProgram(nullptr, /*is_static=*/true, amc_);
  EXPECT_EQ(c.path, kSelfExe);
  EXPECT_NE(c.note.find("no plug-in host"), std::string::npos) << c.note;
}

TEST_F(PrefixTest, TheVariableNamesTheHostForAnyAmc) {
  MakeHost(0755);
  for (bool is_static : {false, true}) {
    ChildProgram c = ChooseChildProgram(host_.c_str(), is_static, "");
    EXPECT_EQ(c.path, host_.string());
    EXPECT_NE(c.note.find(host_.string()), std::string::npos) << c.note;
    EXPECT_EQ(c.error, "");
  }
}

TEST_F(PrefixTest, SelfInTheVariableMakesAStaticAmcExecItself) {
  MakeHost(0755);
  ChildProgram c = ChooseChildProgram("self", /*is_static=*/true, amc_);
  EXPECT_EQ(c.path, kSelfExe);
  EXPECT_EQ(c.note, "");
  EXPECT_EQ(c.error, "");
}

TEST_F(PrefixTest, AVariableNamingNoExecutableIsAnErrorNamingIt) {
  std::string missing = (prefix_ / "nowhere").string();
  ChildProgram c = ChooseChildProgram(missing.c_str(), true, amc_);
  EXPECT_NE(c.error.find("AMC_PLUGIN_HOST=" + missing), std::string::npos)
      << c.error;
  MakeHost(0644);
  c = ChooseChildProgram(host_.c_str(), true, amc_);
  EXPECT_NE(c.error.find("not an executable file"), std::string::npos)
      << c.error;
  // A directory is not a host either.
  c = ChooseChildProgram(prefix_.c_str(), true, amc_);
  EXPECT_NE(c.error, "");
}

TEST(PluginHostTest, ThisTestProgramIsDynamicallyLinked) {
  // gtest binaries are ordinary dynamic programs; amc_static is checked
  // through the CLI test (plugin_host_cli_test.sh).
  EXPECT_FALSE(IsStaticProgram());
}

}  // namespace
}  // namespace amc::plugin
