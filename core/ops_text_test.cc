#include "core/ops_text.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace amc::core {
namespace {

Sequence EveryOpKind() {
  Sequence seq;
  seq.comments = {"made by hand", "second line"};
  seq.env = Environment{2, 4096, "6.18.0-test"};
  seq.spec = MapSpec{MapType::kPercpuArray, 4, 12, 3,
                     kBpfFRdonlyProg | 0x80000000u, 0, std::nullopt};
  seq.expect_create = 0;
  Result full;
  full.err = 2;
  full.null = true;
  full.value = std::vector<uint8_t>{1, 2, 3, 0, 0, 0, 0, 0, 0, 0, 0, 9};
  full.next_key = 7;
  full.count = 3;
  full.out_batch = 2;
  full.keys = std::vector<uint32_t>{0, 1, 4294967295u};
  full.aligned = true;
  full.old = 18446744073709551615ull;
  seq.steps = {
      {Lookup{4294967295u, 0x100000004ull}, Result::Errno(2)},
      {Update{1, {0xde, 0xad}, kBpfNoexist | kBpfFLock}, Result{}},
      {Delete{2}, std::nullopt},
      {LookupAndDelete{0, 3}, Result::Errno(524)},
      {GetNextKey{std::nullopt}, std::nullopt},
      {GetNextKey{5}, std::nullopt},
      {LookupBatch{std::nullopt, 4, kBpfFLock, 1}, full},
      {LookupAndDeleteBatch{7, 0, 0, 0}, std::nullopt},
      {UpdateBatch{{0, 1}, std::vector<uint8_t>(48, 0xab), kBpfExist, 2},
       std::nullopt},
      {UpdateBatch{{}, {}, 0, 0}, std::nullopt},
      {DeleteBatch{{3}, 0, 0}, std::nullopt},
      {Freeze{}, Result::Errno(16)},
      {Mmap{1, 4096, 8192, kProtRead | kProtWrite, false}, std::nullopt},
      {Mmap{0, 0, 1, 0, true}, std::nullopt},
      {MmapRead{1, 10, 20}, std::nullopt},
      {MmapWrite{3, 7, {1, 1, 1, 1, 1, 1, 1, 1, 1, 2}}, std::nullopt},
      {Munmap{2}, std::nullopt},
      {ProgLookup{1, 9}, std::nullopt},
      {ProgUpdate{0, 1, {5}, kBpfExist}, std::nullopt},
      {ProgDelete{3, 4}, std::nullopt},
      {ProgLookupPercpu{0, 1, 99}, std::nullopt},
      {ProgAtomicAdd{1, 2, 8, 0xffffffffffffull}, std::nullopt},
  };
  return seq;
}

TEST(OpsTextTest, EveryOpKindIsCoveredByTheRoundTripCase) {
  std::vector<bool> seen(kOpKindCount, false);
  for (const Step& step : EveryOpKind().steps) {
    seen[static_cast<size_t>(KindOf(step.op))] = true;
  }
  for (size_t i = 0; i < kOpKindCount; ++i) {
    EXPECT_TRUE(seen[i]) << OpKindName(static_cast<OpKind>(i));
  }
}

TEST(OpsTextTest, PrintThenParseGivesTheSameSequence) {
  Sequence seq = EveryOpKind();
  std::string text = PrintOps(seq);
  auto parsed = ParseOps(text, "roundtrip.ops");
  ASSERT_TRUE(std::holds_alternative<Sequence>(parsed))
      << std::get<ParseError>(parsed).ToString() << "\n" << text;
  EXPECT_EQ(std::get<Sequence>(parsed), seq) << text;
  EXPECT_EQ(PrintOps(std::get<Sequence>(parsed)), text);
}

// Found by ops_parser_fuzzer: a line ending in "\r\r\n" kept a '\r' in its
// last value, which printed as a CRLF line end and so parsed back without it.
TEST(OpsTextTest, CarriageReturnsInsideALineSeparateTokens) {
  const std::string text =
      "env possible_cpus=2 page_size=4096 kernel=6.18.44\r\r\n"
      "map type=ARRAY key_size=4 value_size=8 max_entries=2 flags=0\r\r\n"
      "lookup\rkey=1 flags=0\r\n";
  auto parsed = ParseOps(text, "cr.ops");
  ASSERT_TRUE(std::holds_alternative<Sequence>(parsed))
      << std::get<ParseError>(parsed).ToString();
  const Sequence& seq = std::get<Sequence>(parsed);
  EXPECT_EQ(seq.env->kernel_release, "6.18.44");
  EXPECT_EQ(seq.spec.max_entries, 2u);
  ASSERT_EQ(seq.steps.size(), 1u);
  auto again = ParseOps(PrintOps(seq), "printed");
  ASSERT_TRUE(std::holds_alternative<Sequence>(again));
  EXPECT_EQ(std::get<Sequence>(again), seq);
  // A line of separators only is blank (UBSan caught tokens[0] of none).
  auto blank = ParseOps("\r\r\t\t", "blank.ops");
  ASSERT_TRUE(std::holds_alternative<ParseError>(blank));
  EXPECT_NE(std::get<ParseError>(blank).ToString().find("blank.ops"),
            std::string::npos);
}

TEST(OpsTextTest, OnlineCpusRoundTripAndAbsentMeansAllPossibleOnline) {
  const std::string text =
      "env possible_cpus=4 online_cpus=2 page_size=4096\n"
      "map type=PERCPU_ARRAY key_size=4 value_size=8 max_entries=2 flags=0 "
      "numa_node=0\n";
  auto parsed = ParseOps(text, "online.ops");
  ASSERT_TRUE(std::holds_alternative<Sequence>(parsed))
      << std::get<ParseError>(parsed).ToString();
  const Sequence& seq = std::get<Sequence>(parsed);
  EXPECT_EQ(seq.env->possible_cpus, 4u);
  EXPECT_EQ(seq.env->Online(), 2u);
  EXPECT_EQ(PrintOps(seq), text);
  EXPECT_EQ(Geometry(*seq.env).Online(), 2u);

  auto old = ParseOps(
      "env possible_cpus=4 page_size=4096\n"
      "map type=ARRAY\n", "old.ops");
  ASSERT_TRUE(std::holds_alternative<Sequence>(old));
  EXPECT_EQ(std::get<Sequence>(old).env->Online(), 4u);
  EXPECT_EQ(PrintOps(std::get<Sequence>(old)).find("online_cpus"),
            std::string::npos);

  auto all = ParseOps(
      "env possible_cpus=3 online_cpus=3 page_size=4096\nmap type=ARRAY\n",
      "all.ops");
  ASSERT_TRUE(std::holds_alternative<Sequence>(all));
  EXPECT_EQ(*std::get<Sequence>(all).env, (Environment{3, 4096, ""}));
  EXPECT_NE(*std::get<Sequence>(all).env, (Environment{3, 4096, "", 2}));

  auto too_many = ParseOps(
      "env possible_cpus=2 online_cpus=3 page_size=4096\nmap type=ARRAY\n",
      "bad.ops");
  ASSERT_TRUE(std::holds_alternative<ParseError>(too_many));
  EXPECT_NE(std::get<ParseError>(too_many).ToString().find("exceeds"),
            std::string::npos);
}

TEST(OpsTextTest, HandWrittenFileWithDefaultsAndNamesParses) {
  auto parsed = ParseOps(
      "# from the spec\n"
      "map type=ARRAY value_size=4 max_entries=2 flags=BPF_F_MMAPABLE|BPF_F_RDONLY_PROG\n"
      "update key=1 value=01+00*3 flags=BPF_NOEXIST -> EEXIST\n"
      "  lookup key=0x1   ->   ok value=00000000\n"
      "get_next_key -> ok next=0\n"
      "mmap length=4096 prot=PROT_READ|PROT_WRITE -> ok\n",
      "hand.ops");
  ASSERT_TRUE(std::holds_alternative<Sequence>(parsed))
      << std::get<ParseError>(parsed).ToString();
  const Sequence& seq = std::get<Sequence>(parsed);
  EXPECT_EQ(seq.spec.value_size, 4u);
  EXPECT_EQ(seq.spec.map_flags, kBpfFMmapable | kBpfFRdonlyProg);
  ASSERT_EQ(seq.steps.size(), 4u);
  EXPECT_EQ(std::get<Update>(seq.steps[0].op).value,
            (std::vector<uint8_t>{1, 0, 0, 0}));
  EXPECT_EQ(std::get<Update>(seq.steps[0].op).flags, kBpfNoexist);
  EXPECT_EQ(seq.steps[0].expect->err, EEXIST);
  EXPECT_EQ(std::get<Lookup>(seq.steps[1].op).key, 1u);
  EXPECT_FALSE(std::get<GetNextKey>(seq.steps[2].op).key.has_value());
  EXPECT_EQ(*seq.steps[2].expect->next_key, 0u);
  EXPECT_EQ(std::get<Mmap>(seq.steps[3].op).prot, kProtRead | kProtWrite);
  EXPECT_TRUE(std::get<Mmap>(seq.steps[3].op).shared);
}

std::string ErrorOf(const std::string& text) {
  auto parsed = ParseOps(text, "bad.ops");
  if (!std::holds_alternative<ParseError>(parsed)) return "(parsed)";
  return std::get<ParseError>(parsed).ToString();
}

TEST(OpsTextTest, MalformedFilesNameFileLineAndWhatWasExpected) {
  EXPECT_EQ(ErrorOf("map type=ARRAY\nlookup key=abc\n"),
            "bad.ops:2: lookup: field 'key': expected a 32-bit number, got 'abc'");
  EXPECT_EQ(ErrorOf("# c\n\nmap type=HASH\n"),
            "bad.ops:3: map type: expected ARRAY or PERCPU_ARRAY, got 'HASH'");
  EXPECT_EQ(ErrorOf("lookup key=1\n"),
            "bad.ops:1: operation before the 'map' line (the map comes first)");
  EXPECT_EQ(ErrorOf("map\nupdate key=1 colour=red\n"),
            "bad.ops:2: update: unknown field 'colour' (fields: key value flags)");
  EXPECT_EQ(ErrorOf("map\nlookup key=1 -> EWHAT\n"),
            "bad.ops:2: expected ok or an errno name after '->', got 'EWHAT'");
  EXPECT_EQ(ErrorOf("map\nupdate value=0\n"),
            "bad.ops:2: update: field 'value': expected hex bytes (like 0102, "
            "00*8, 01+00*7 or -), got '0'");
  EXPECT_EQ(ErrorOf("map\nmap\n"),
            "bad.ops:2: a second 'map' line (one map per file)");
  EXPECT_EQ(ErrorOf("# only a comment\n"),
            "bad.ops:1: no 'map' line: expected 'map type=ARRAY ...'");
  EXPECT_NE(ErrorOf("map\nfrobnicate\n").find("bad.ops:2: unknown operation 'frobnicate'"),
            std::string::npos);
  EXPECT_EQ(ErrorOf("map\nlookup key=1 key=2\n"),
            "bad.ops:2: field 'key' given twice");
  EXPECT_EQ(ErrorOf("map\nlookup key=99999999999\n"),
            "bad.ops:2: lookup: field 'key': expected a 32-bit number, got "
            "'99999999999'");
}

TEST(OpsTextTest, OversizedByteRunsAreRejectedNotAllocated) {
  EXPECT_NE(ErrorOf("map\nupdate value=00*99999999999\n").find("bad.ops:2"),
            std::string::npos);
}

TEST(OpsTextTest, MissingFileIsAnErrorNamingItAndTheReason) {
  auto parsed = ReadOpsFile("/nonexistent/x.ops");
  ASSERT_TRUE(std::holds_alternative<ParseError>(parsed));
  EXPECT_EQ(std::get<ParseError>(parsed).ToString(),
            "/nonexistent/x.ops: cannot open: No such file or directory");
}

std::string ReadError(const std::string& path) {
  auto parsed = ReadOpsFile(path);
  if (!std::holds_alternative<ParseError>(parsed)) return "(parsed)";
  return std::get<ParseError>(parsed).ToString();
}

std::string TempPath(const std::string& name) {
  return ::testing::TempDir() + "ops_text_test_" + std::to_string(getpid()) +
         "_" + name;
}

// A FIFO without a writer would block a plain open (and read) forever.
TEST(OpsTextTest, FifoIsRefusedByItsTypeWithoutBlocking) {
  const std::string path = TempPath("x.fifo");
  unlink(path.c_str());
  ASSERT_EQ(mkfifo(path.c_str(), 0600), 0) << std::strerror(errno);
  EXPECT_EQ(ReadError(path), path + ": not a regular file (FIFO)");
  unlink(path.c_str());
}

TEST(OpsTextTest, DevicesAndFoldersAreRefusedByTheirType) {
  EXPECT_EQ(ReadError("/dev/zero"),
            "/dev/zero: not a regular file (character device)");
  EXPECT_EQ(ReadError("/"), "/: not a regular file (directory)");
}

TEST(OpsTextTest, FileOverTheSizeLimitIsRefusedNamingTheLimit) {
  const std::string path = TempPath("big.ops");
  FILE* f = std::fopen(path.c_str(), "w");
  ASSERT_NE(f, nullptr);
  std::fclose(f);
  ASSERT_EQ(truncate(path.c_str(), kMaxOpsFileBytes + 1), 0);
  EXPECT_EQ(ReadError(path),
            path + ": file is " + std::to_string(kMaxOpsFileBytes + 1) +
                " bytes, over the limit of " + std::to_string(kMaxOpsFileBytes) +
                " bytes (64 MiB) for an .ops file");
  unlink(path.c_str());
}

TEST(OpsTextTest, LineOverTheLineLimitIsRefusedNamingTheLine) {
  std::string text = "map type=ARRAY\n# " + std::string(kMaxOpsLineBytes, 'x');
  auto parsed = ParseOps(text, "long.ops");
  ASSERT_TRUE(std::holds_alternative<ParseError>(parsed));
  EXPECT_EQ(std::get<ParseError>(parsed).ToString(),
            "long.ops:2: line is " + std::to_string(kMaxOpsLineBytes + 2) +
                " bytes, over the limit of " + std::to_string(kMaxOpsLineBytes) +
                " bytes per line");
}

TEST(OpsTextTest, LongBadTokensAreCutInErrors) {
  const std::string token(10u << 20, 'z');
  for (const std::string& text :
       {"map type=" + token + "\n", "map type=ARRAY\n" + token + "\n",
        "map type=ARRAY\nlookup key=" + token + "\n",
        "map type=ARRAY\nlookup " + token + "=1\n",
        "map type=ARRAY\nlookup key=1 -> " + token + "\n"}) {
    auto parsed = ParseOps(text, "bad.ops");
    ASSERT_TRUE(std::holds_alternative<ParseError>(parsed));
    std::string message = std::get<ParseError>(parsed).ToString();
    EXPECT_LT(message.size(), 400u) << message.substr(0, 400);
    EXPECT_NE(message.find(std::string(80, 'z') + "... (" +
                           std::to_string(token.size()) + " bytes)"),
              std::string::npos)
        << message;
  }
}

TEST(OpsTextTest, CutForMessageKeepsShortTextWhole) {
  EXPECT_EQ(CutForMessage("abc"), "abc");
  EXPECT_EQ(CutForMessage(std::string(81, 'a'), 80),
            std::string(80, 'a') + "... (81 bytes)");
}

TEST(OpsTextTest, BytesPrintWithRunsAndParseBack) {
  EXPECT_EQ(PrintBytes({}), "-");
  EXPECT_EQ(PrintBytes({1, 2}), "0102");
  EXPECT_EQ(PrintBytes(std::vector<uint8_t>(8, 0)), "00*8");
  std::vector<uint8_t> mixed = {1, 0, 0, 0, 0, 0, 0, 0, 0, 0xff};
  EXPECT_EQ(PrintBytes(mixed), "01+00*8+ff");
}

TEST(OpsTextTest, FlagsPrintByName) {
  EXPECT_EQ(PrintElemFlags(0), "BPF_ANY");
  EXPECT_EQ(PrintElemFlags(3), "BPF_NOEXIST|BPF_EXIST");
  EXPECT_EQ(PrintElemFlags(kBpfFLock | (uint64_t{1} << 40)),
            "BPF_F_LOCK|CPU(256)");
  EXPECT_EQ(PrintMapFlags(kBpfFMmapable | kBpfFRdonly),
            "BPF_F_RDONLY|BPF_F_MMAPABLE");
  EXPECT_EQ(PrintMapFlags(0), "0");
}

TEST(OpsTextTest, CpuOfBpfFCpuPrintsAsCpuInTheUpperBits) {
  EXPECT_EQ(PrintElemFlags(kBpfFCpu | (uint64_t{3} << 32)), "BPF_F_CPU|CPU(3)");
  EXPECT_EQ(PrintElemFlags(uint64_t{1} << 32), "CPU(1)");
  EXPECT_EQ(PrintElemFlags(kBpfFAllCpus), "BPF_F_ALL_CPUS");
  EXPECT_EQ(PrintElemFlags(UINT64_MAX),
            "BPF_NOEXIST|BPF_EXIST|BPF_F_LOCK|BPF_F_CPU|BPF_F_ALL_CPUS|"
            "0xffffffe0|CPU(4294967295)");
  EXPECT_EQ(PrintOp(Lookup{0, kBpfFCpu | (uint64_t{2} << 32)}),
            "lookup key=0 flags=BPF_F_CPU|CPU(2)");
}

TEST(OpsTextTest, ElemFlagsRoundTripForEveryBitPattern) {
  std::vector<uint64_t> patterns = {0, 1, 3, 8, 16, 24, 0xffffffff,
                                    uint64_t{1} << 32, UINT64_MAX,
                                    kBpfFCpu | (uint64_t{0xffffffff} << 32)};
  uint64_t x = 0x9e3779b97f4a7c15;
  for (int i = 0; i < 2000; ++i) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    patterns.push_back(x);
    patterns.push_back(x & 0xffffffff0000001f);
  }
  for (uint64_t flags : patterns) {
    Sequence seq;
    seq.steps.push_back({Update{1, {1, 2}, flags}, std::nullopt});
    seq.steps.push_back({Lookup{1, flags}, std::nullopt});
    seq.steps.push_back({LookupBatch{std::nullopt, 2, flags, flags}, std::nullopt});
    seq.steps.push_back({UpdateBatch{{0}, {1}, flags, flags}, std::nullopt});
    auto parsed = ParseOps(PrintOps(seq), "x.ops");
    ASSERT_TRUE(std::holds_alternative<Sequence>(parsed)) << PrintElemFlags(flags);
    EXPECT_EQ(std::get<Sequence>(parsed), seq) << PrintElemFlags(flags);
  }
}

TEST(OpsTextTest, CpuFlagsParseFromNamesNumbersAndOldFiles) {
  auto flags_of = [](const std::string& line) -> std::optional<uint64_t> {
    auto parsed = ParseOps("map\n" + line + "\n", "x.ops");
    if (!std::holds_alternative<Sequence>(parsed)) return std::nullopt;
    return std::get<Lookup>(std::get<Sequence>(parsed).steps[0].op).flags;
  };
  EXPECT_EQ(flags_of("lookup flags=BPF_F_CPU|CPU(5)"),
            kBpfFCpu | (uint64_t{5} << 32));
  EXPECT_EQ(flags_of("lookup flags=CPU(0x10)|BPF_F_LOCK"),
            kBpfFLock | (uint64_t{16} << 32));
  EXPECT_EQ(flags_of("lookup flags=BPF_F_LOCK|0x100000000"),
            kBpfFLock | (uint64_t{1} << 32));
  EXPECT_EQ(flags_of("lookup flags=CPU(4294967295)"), uint64_t{0xffffffff} << 32);
  EXPECT_EQ(flags_of("lookup flags=CPU(4294967296)"), std::nullopt);
  EXPECT_EQ(flags_of("lookup flags=CPU()"), std::nullopt);
  EXPECT_EQ(flags_of("lookup flags=CPU(1)|"), std::nullopt);
  EXPECT_EQ(flags_of("lookup flags=|CPU(1)"), std::nullopt);
  EXPECT_EQ(flags_of("lookup flags=BPF_F_CPU||CPU(1)"), std::nullopt);
}

}  // namespace
}  // namespace amc::core
