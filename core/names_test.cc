#include <gtest/gtest.h>

#include "core/op.h"
#include "core/result.h"

namespace amc::core {
namespace {

TEST(NamesTest, ErrnosPrintByName) {
  EXPECT_EQ(ErrnoName(0), "ok");
  EXPECT_EQ(ErrnoName(2), "ENOENT");
  EXPECT_EQ(ErrnoName(7), "E2BIG");
  EXPECT_EQ(ErrnoName(524), "ENOTSUPP");
  EXPECT_EQ(ErrnoName(95), "EOPNOTSUPP");
  EXPECT_EQ(ErrnoName(11), "EAGAIN");
  EXPECT_EQ(ErrnoName(600), "600");
}

TEST(NamesTest, ErrnoNamesParseBack) {
  for (int e = 0; e < 1000; ++e) {
    auto back = ErrnoFromName(ErrnoName(e));
    ASSERT_TRUE(back.has_value()) << e;
    EXPECT_EQ(*back, e);
  }
  EXPECT_EQ(ErrnoFromName("EWOULDBLOCK"), 11);
  EXPECT_FALSE(ErrnoFromName("ENOSUCH").has_value());
}

TEST(NamesTest, OpKindNamesRoundTrip) {
  for (size_t i = 0; i < kOpKindCount; ++i) {
    auto kind = static_cast<OpKind>(i);
    EXPECT_EQ(OpKindFromName(OpKindName(kind)), kind);
  }
  EXPECT_TRUE(IsProgramOp(OpKind::kProgAtomicAdd));
  EXPECT_FALSE(IsProgramOp(OpKind::kMunmap));
}

TEST(NamesTest, CpuListCountsListedCpus) {
  EXPECT_EQ(ParseCpuListCount("0-1\n"), 2u);
  EXPECT_EQ(ParseCpuListCount("0"), 1u);
  EXPECT_EQ(ParseCpuListCount("0-3,8-9"), 6u);
  EXPECT_TRUE(CpuListIsPrefix("0-1\n"));
  EXPECT_TRUE(CpuListIsPrefix("0"));
  EXPECT_FALSE(CpuListIsPrefix("0,2-3"));
  EXPECT_FALSE(CpuListIsPrefix("1-3"));
  EXPECT_FALSE(CpuListIsPrefix(""));
  EXPECT_FALSE(ParseCpuListCount("").has_value());
  EXPECT_FALSE(ParseCpuListCount("3-1").has_value());
}

}  // namespace
}  // namespace amc::core
