// tools/amc/cli_test_util.h: what the tests that run the real amc binary
// share: a shell command's exit status and output, and file contents.
#ifndef AMC_TOOLS_AMC_CLI_TEST_UTIL_H_
#define AMC_TOOLS_AMC_CLI_TEST_UTIL_H_

#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace amc::cli_test {

struct Ran {
  int status = -1;     // the exit status; -1 when killed by a signal
  std::string output;  // stdout and stderr together
};

// Runs `command` with /bin/sh, stderr joined to stdout.
inline Ran RunShell(const std::string& command) {
  Ran ran;
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  if (!pipe) return ran;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, pipe)) > 0) ran.output.append(buf, n);
  int status = pclose(pipe);
  ran.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return ran;
}

// Runs `command` with /bin/sh; returns its exit status (-1: a signal).
inline int Shell(const std::string& command) {
  int status = std::system(command.c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

inline std::string ReadFile(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace amc::cli_test

#endif  // AMC_TOOLS_AMC_CLI_TEST_UTIL_H_
