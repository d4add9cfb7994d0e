// Folder walks of CollectOpsFiles: loops, odd entries and unreadable folders
// are named, never fatal and never skipped silently.
#include "backends/replay.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace amc::backends {
namespace {

namespace fs = std::filesystem;

class CollectOpsFilesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("replay_test_" + std::to_string(getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "sub");
    std::ofstream(dir_ / "a.ops") << "map\n";
    std::ofstream(dir_ / "sub" / "b.ops") << "map\n";
    std::ofstream(dir_ / "sub" / "notes.txt") << "not a case\n";
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string P(const std::string& name) const {
    return (dir_ / name).string();
  }
  fs::path dir_;
};

TEST_F(CollectOpsFilesTest, SymlinkLoopsAreNamedAndTheRestIsStillFound) {
  fs::create_directory_symlink(dir_, dir_ / "sub" / "back_up");  // a cycle
  fs::create_symlink(dir_ / "self.ops", dir_ / "self.ops");      // ELOOP
  std::vector<std::string> files;
  std::vector<WalkProblem> problems;
  std::string error;
  ASSERT_TRUE(CollectOpsFiles({dir_.string()}, &files, &error, &problems))
      << error;
  EXPECT_EQ(files, (std::vector<std::string>{P("a.ops"), P("sub/b.ops")}));
  ASSERT_EQ(problems.size(), 2u);
  EXPECT_EQ(problems[0].path, P("self.ops"));
  EXPECT_EQ(problems[0].reason, "Too many levels of symbolic links");
  EXPECT_EQ(problems[1].path, P("sub/back_up"));
  EXPECT_NE(problems[1].reason.find("symlink loop"), std::string::npos);
}

TEST_F(CollectOpsFilesTest, NonRegularOpsEntriesAreNamedWithTheirType) {
  ASSERT_EQ(mkfifo(P("pipe.ops").c_str(), 0600), 0);
  std::vector<std::string> files;
  std::vector<WalkProblem> problems;
  std::string error;
  ASSERT_TRUE(CollectOpsFiles({dir_.string()}, &files, &error, &problems));
  EXPECT_EQ(files.size(), 2u);
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_EQ(problems[0].path, P("pipe.ops"));
  EXPECT_EQ(problems[0].reason, "not a regular file (FIFO)");
}

TEST_F(CollectOpsFilesTest, WithoutAProblemListAProblemIsTheError) {
  fs::create_directory_symlink(dir_ / "sub", dir_ / "sub" / "again");
  std::vector<std::string> files;
  std::string error;
  EXPECT_FALSE(CollectOpsFiles({dir_.string()}, &files, &error));
  EXPECT_NE(error.find(P("sub/again") + ": symlink loop"), std::string::npos)
      << error;
}

TEST_F(CollectOpsFilesTest,
       AGivenPathThatCannotBeStatedIsAnErrorWithItsReason) {
  fs::create_symlink(dir_ / "loop", dir_ / "loop");
  std::vector<std::string> files;
  std::string error;
  EXPECT_FALSE(CollectOpsFiles({P("loop")}, &files, &error));
  EXPECT_EQ(error, P("loop") + ": Too many levels of symbolic links");
  EXPECT_FALSE(CollectOpsFiles({P("none")}, &files, &error));
  EXPECT_EQ(error, P("none") + ": no such file or folder");
}

// Root reads any folder: the unreadable case needs another user.
TEST_F(CollectOpsFilesTest, UnreadableFolderIsNamedWithPermissionDenied) {
  fs::create_directory(dir_ / "closed");
  fs::permissions(dir_ / "closed", fs::perms::none);
  fs::permissions(dir_, fs::perms::owner_all | fs::perms::group_read |
                            fs::perms::group_exec | fs::perms::others_read |
                            fs::perms::others_exec);
  // Root reads every folder: the walk runs in a child that is nobody.
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    if (geteuid() == 0 && setresuid(65534, 65534, 65534) != 0) _exit(10);
    std::vector<std::string> files;
    std::vector<WalkProblem> problems;
    std::string error;
    if (!CollectOpsFiles({dir_.string()}, &files, &error, &problems)) _exit(11);
    if (problems.size() != 1) _exit(12);
    if (problems[0].reason != "cannot read folder: Permission denied") _exit(13);
    _exit(0);
  }
  int status = 0;
  waitpid(child, &status, 0);
  fs::permissions(dir_ / "closed", fs::perms::owner_all);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0)
      << "10: cannot become nobody, 11: the walk failed, 12: not one problem, "
         "13: another reason";
}

}  // namespace
}  // namespace amc::backends
