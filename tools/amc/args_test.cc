#include "tools/amc/args.h"

#include <gtest/gtest.h>

namespace amc::cli {
namespace {

std::string ParseArgs(Args& args, std::vector<std::string> words) {
  std::vector<char*> argv;
  for (auto& w : words) argv.push_back(w.data());
  return args.Parse(static_cast<int>(argv.size()), argv.data(), 0,
                    {{"seed"}, {"out"}, {"help", false}});
}

TEST(ArgsTest, AcceptsSpacedAndEqualsValuesAndPositionals) {
  Args args;
  EXPECT_EQ(ParseArgs(args, {"--seed", "7", "a.ops", "--out=dir", "--help"}),
            "");
  EXPECT_EQ(args.Get("seed"), "7");
  EXPECT_EQ(args.Get("out"), "dir");
  EXPECT_TRUE(args.Has("help"));
  EXPECT_EQ(args.positional(), std::vector<std::string>{"a.ops"});
}

TEST(ArgsTest, UnknownOptionIsAnErrorNamingIt) {
  Args args;
  EXPECT_NE(ParseArgs(args, {"--sede", "7"}).find("--sede"), std::string::npos);
  Args short_args;
  EXPECT_NE(ParseArgs(short_args, {"-x"}).find("-x"), std::string::npos);
}

TEST(ArgsTest, OptionMissingItsValueIsAnError) {
  Args args;
  EXPECT_NE(ParseArgs(args, {"--seed"}).find("needs a value"),
            std::string::npos);
}

TEST(ArgsTest, FlagGivenAValueIsAnError) {
  Args args;
  EXPECT_NE(ParseArgs(args, {"--help=yes"}).find("takes no value"),
            std::string::npos);
}

TEST(ArgsTest, DoubleDashMakesTheRestPositional) {
  Args args;
  EXPECT_EQ(ParseArgs(args, {"--", "--seed"}), "");
  EXPECT_EQ(args.positional(), std::vector<std::string>{"--seed"});
}

TEST(ArgsTest, UnsignedNumbersRejectSignsAndJunk) {
  for (const char* bad : {"-1", "+1", "12x", "", "99999999999999999999999"}) {
    Args args;
    ASSERT_EQ(ParseArgs(args, {"--seed", bad}), "");
    std::optional<uint64_t> v;
    EXPECT_NE(args.GetUint("seed", &v), "") << bad;
    EXPECT_FALSE(v.has_value());
  }
  Args args;
  ASSERT_EQ(ParseArgs(args, {"--seed", "0x10"}), "");
  std::optional<uint64_t> v;
  EXPECT_EQ(args.GetUint("seed", &v), "");
  EXPECT_EQ(v, 16u);
}

TEST(ArgsTest, SecondsRejectNegativeAndNonFinite) {
  for (const char* bad : {"-1", "inf", "nan", "1s"}) {
    Args args;
    ASSERT_EQ(ParseArgs(args, {"--seed", bad}), "");
    std::optional<double> v;
    EXPECT_NE(args.GetSeconds("seed", &v), "") << bad;
  }
}

}  // namespace
}  // namespace amc::cli

namespace amc::cli {
namespace {

std::string Geometry(std::vector<std::string> words,
                     std::optional<core::Environment>* out) {
  Args args;
  std::vector<char*> argv;
  for (auto& w : words) argv.push_back(w.data());
  std::string e = args.Parse(static_cast<int>(argv.size()), argv.data(), 0,
                             {{"possible-cpus"}, {"online-cpus"}, {"page-size"}});
  return e.empty() ? GeometryFromArgs(args, out) : e;
}

TEST(GeometryArgsTest, PossibleOnlineAndPageSizeMakeOneGeometry) {
  std::optional<core::Environment> g;
  EXPECT_EQ(Geometry({"--possible-cpus", "4", "--online-cpus", "2",
                      "--page-size", "65536"}, &g), "");
  ASSERT_TRUE(g);
  EXPECT_EQ(g->possible_cpus, 4u);
  EXPECT_EQ(g->Online(), 2u);
  EXPECT_EQ(g->page_size, 65536u);
  EXPECT_EQ(Geometry({"--possible-cpus", "3"}, &g), "");
  ASSERT_TRUE(g);
  EXPECT_EQ(g->Online(), 3u);
  EXPECT_EQ(Geometry({}, &g), "");
  EXPECT_FALSE(g);
}

TEST(GeometryArgsTest, ImpossibleGeometriesAreUsageErrors) {
  std::optional<core::Environment> g;
  EXPECT_NE(Geometry({"--possible-cpus", "2", "--online-cpus", "3"}, &g), "");
  EXPECT_NE(Geometry({"--possible-cpus", "0"}, &g), "");
  EXPECT_NE(Geometry({"--possible-cpus", "2", "--page-size", "5000"}, &g), "");
  EXPECT_NE(Geometry({"--online-cpus", "1"}, &g), "");
}

}  // namespace
}  // namespace amc::cli
