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

}  // namespace amc::cli

#endif  // AMC_TOOLS_AMC_CLI_UTIL_H_
