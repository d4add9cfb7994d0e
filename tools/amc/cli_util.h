// tools/amc/cli_util.h: small helpers shared by the subcommands: usage
// errors, tables, joining names.
#ifndef AMC_TOOLS_AMC_CLI_UTIL_H_
#define AMC_TOOLS_AMC_CLI_UTIL_H_

#include <cstdio>
#include <string>
#include <vector>

namespace amc::cli {

// Prints "amc CMD: MESSAGE" and a pointer to --help on stderr; returns 2.
int UsageError(const std::string& command, const std::string& message);

// Left-aligned columns, two spaces apart; numbers read fine left-aligned too.
std::string FormatTable(const std::vector<std::vector<std::string>>& rows,
                        const std::string& indent = "  ");

std::string Join(const std::vector<std::string>& items, const std::string& sep);

// "12.3", "1234", "1.2M": short rates for progress lines and tables.
std::string Rate(double per_second);

// While one is alive, SIGINT and SIGTERM (what `timeout` and CI runners
// send) only raise a flag that the command polls between files or attempts,
// so it stops within one unit of work and still writes its summary and
// reports; a second signal ends the process at once. The destructor puts
// the default handlers back.
class StopOnSignals {
 public:
  StopOnSignals();
  ~StopOnSignals();
  StopOnSignals(const StopOnSignals&) = delete;
  StopOnSignals& operator=(const StopOnSignals&) = delete;
  bool stopped() const;
  // The signal that stopped the command ("SIGTERM"), or "".
  std::string signal_name() const;
};

// Checks before any work that `dir` can hold output: created (with its
// parents) if missing, and a file can be created and removed in it. With
// `create` false a missing `dir` is not made: its nearest existing parent
// must be a folder that takes a new file (so a run that writes nothing
// leaves nothing behind).
// Returns "" or "DIR: cannot create folder: Permission denied" /
// "DIR: not writable: Read-only file system" / "DIR: not a folder".
std::string CheckOutputFolder(const std::string& dir, bool create = true);
// The same for an output file: its folder must exist and take a new file,
// and an existing regular FILE must open for writing (it is not truncated
// here); a device or FIFO (/dev/stdout) is taken as given.
std::string CheckOutputFile(const std::string& file);

}  // namespace amc::cli

#endif  // AMC_TOOLS_AMC_CLI_UTIL_H_
