// tools/amc/commands.h: the amc subcommands. Each takes the whole argv (its
// own name at argv[1]) and returns the process exit code:
//   0  every backend agreed (and met every recorded expectation),
//   1  a divergence or a failed expectation,
//   2  bad usage or unreadable input (unknown backend or option, missing
//      path, malformed .ops file: the message names file and line).
// Results go to stdout, progress and errors to stderr.
#ifndef AMC_TOOLS_AMC_COMMANDS_H_
#define AMC_TOOLS_AMC_COMMANDS_H_

namespace amc::cli {

inline constexpr int kExitAgree = 0;
inline constexpr int kExitDiverge = 1;
inline constexpr int kExitUsage = 2;
// A run stopped by SIGINT / SIGTERM before its budget, with no divergence.
inline constexpr int kExitInterrupted = 130;

int RunCommand(int argc, char** argv);
int ReplayCommand(int argc, char** argv);
int RecordCommand(int argc, char** argv);
int MinimizeCommand(int argc, char** argv);
int InfoCommand(int argc, char** argv);
// Top level: dispatches on argv[1]; `amc`, `amc --help`, `amc help`.
int Main(int argc, char** argv);

}  // namespace amc::cli

#endif  // AMC_TOOLS_AMC_COMMANDS_H_
