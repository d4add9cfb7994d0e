// core/ops_text.h: the .ops text format, readable and writable by a person.
//
//   # where the case came from (comment lines are kept)
//   env possible_cpus=2 page_size=4096 kernel=6.18.44
//   (or `env possible_cpus=4 online_cpus=2 page_size=4096`: CPUs 0-1 online;
//   without online_cpus= every possible CPU is online)
//   map type=ARRAY key_size=4 value_size=8 max_entries=4 flags=0 -> ok
//   update key=1 value=0102030405060708 flags=BPF_ANY -> ok
//   lookup key=1 flags=0 -> ok value=0102030405060708
//   update key=4 value=00*8 flags=BPF_NOEXIST -> E2BIG
//   prog_lookup cpu=0 key=9 -> ok null
//
// Numbers are decimal or 0x-hex. Flags are names joined by '|' (numbers
// allowed: BPF_F_LOCK|0x10). The upper 32 bits of element flags, where
// BPF_F_CPU carries a CPU number, are written `CPU(n)` (n decimal):
// `lookup key=0 flags=BPF_F_CPU|CPU(3)` asks for CPU 3's value, and
// `flags=CPU(1)` is 1 << 32 without BPF_F_CPU. Any 64-bit pattern prints
// this way (the low bits by name, unnamed ones in hex, then CPU(n)); older
// files with the upper bits as a number (0x100000000) parse unchanged.
// Bytes are hex, in '+'-joined segments
// where `ab*16` repeats a byte; `-` is empty. Optional keys are a number or
// `null`. Fields left out take their default (0, empty, null); the optional
// `-> RESULT` is the expected result: `ok` or an errno name, then the
// result's fields (value= next= count= out= keys= aligned= old=, and `null`).
//
// Invariant: Print(Parse(text)) parses back to the same Sequence, and
// Parse(Print(seq)) == seq for every Sequence. Parse never crashes on any
// input; a malformed file is rejected with its name, line and what was
// expected.
#ifndef AMC_CORE_OPS_TEXT_H_
#define AMC_CORE_OPS_TEXT_H_

#include <string>
#include <string_view>
#include <variant>

#include "core/op.h"

namespace amc::core {

struct ParseError {
  std::string file;
  int line = 0;  // 1-based; 0 when the file could not be read at all
  std::string message;
  // "file:line: message".
  std::string ToString() const;
};

// Parses a whole .ops file. `file` names it in errors.
std::variant<Sequence, ParseError> ParseOps(std::string_view text,
                                            const std::string& file);
// Reads and parses a file from disk. Only a regular file of at most
// kMaxOpsFileBytes is read: a FIFO, socket, device or folder is refused by
// its type without blocking ("x.ops: not a regular file (FIFO)"), and a
// failure names the reason ("x.ops: cannot open: Permission denied").
std::variant<Sequence, ParseError> ReadOpsFile(const std::string& path);

// `text` for an error message: at most `max_chars` of it, then
// "... (N bytes)" when it was longer. Every input token an error quotes
// goes through it.
std::string CutForMessage(std::string_view text, size_t max_chars = 80);
// "FIFO", "socket", "character device", "directory", ... for st_mode.
std::string FileTypeName(unsigned mode);

// Prints a sequence as .ops text (comments, env, map, one op per line,
// with expectations where present).
std::string PrintOps(const Sequence& seq);

// Single pieces, for reports: "update key=1 value=01 flags=BPF_ANY".
std::string PrintOp(const Op& op);
// "ok value=0102", "ENOENT", "ok null".
std::string PrintResult(const Result& result);
std::string PrintSpec(const MapSpec& spec);
std::string PrintBytes(const std::vector<uint8_t>& bytes);
std::string PrintElemFlags(uint64_t flags);
std::string PrintMapFlags(uint32_t flags);

// Limits that keep any parsed input small: bytes per field, bytes in all.
inline constexpr size_t kMaxParsedFieldBytes = 4u << 20;
inline constexpr size_t kMaxParsedTotalBytes = 16u << 20;
// Limits on the text: a whole .ops file, and one line (room for two fields
// of kMaxParsedFieldBytes written in hex, an op's and its result's).
inline constexpr size_t kMaxOpsFileBytes = 64u << 20;
inline constexpr size_t kMaxOpsLineBytes = 4 * kMaxParsedFieldBytes + (64u << 10);

}  // namespace amc::core

#endif  // AMC_CORE_OPS_TEXT_H_
