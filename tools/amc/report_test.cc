#include "tools/amc/report.h"

#include <gtest/gtest.h>

namespace amc::cli {
namespace {

TEST(ReportTest, XmlEscapeRemovesMarkupAndForbiddenControlBytes) {
  EXPECT_EQ(XmlEscape("<a b=\"c\">&'\x01\x7f\xff\n"),
            "&lt;a b=&quot;c&quot;&gt;&amp;&apos;?\x7f?\n");
}

TEST(ReportTest, JsonStringEscapesQuotesBackslashesAndControlBytes) {
  EXPECT_EQ(JsonString("a\"b\\c\n\x01\xff"),
            "\"a\\\"b\\\\c\\n\\u0001\\u00ff\"");
}

TEST(ReportTest, JsonNumberPrintsNonFiniteAsZero) {
  EXPECT_EQ(JsonNumber(1.0 / 0.0), "0");
  EXPECT_EQ(JsonNumber(2.5), "2.500");
}

TEST(ReportTest, JsonListSeparatesMembersWithCommas) {
  EXPECT_EQ(JsonList(true).Int("a", 1).Str("b", "x").Bool("c", false).Done(),
            "{\"a\":1,\"b\":\"x\",\"c\":false}");
  EXPECT_EQ(JsonList(false).Add("1").Add("2").Done(), "[1,2]");
  EXPECT_EQ(JsonList(true).Done(), "{}");
}

TEST(ReportTest, JUnitCountsFailuresErrorsAndSkips) {
  std::vector<TestCaseReport> cases(4);
  cases[1].failure = "bad";
  cases[2].error = "unreadable";
  cases[3].skipped = "no backend";
  std::string xml = JUnitXml("suite", cases, 1);
  EXPECT_NE(xml.find("tests=\"4\" failures=\"1\" errors=\"1\" skipped=\"1\""),
            std::string::npos);
  EXPECT_NE(xml.find("<failure message=\"bad\">"), std::string::npos);
}

}  // namespace
}  // namespace amc::cli
