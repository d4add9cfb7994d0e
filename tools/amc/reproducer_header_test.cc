#include "tools/amc/reproducer_header.h"

#include <gtest/gtest.h>

namespace amc::cli {
namespace {

TEST(ReproducerHeaderTest, ReadsBackendsAndProfileAsAmcRunWritesThem) {
  ReproducerHeader h = ReadReproducerHeader({
      "amc run divergence: sequence 4 of seed 3 (amc run --backends "
      "model,plugin:/tmp/x.so --kernel-profile 6.12 --seed 3)",
      "backends: model, plugin",
      "kernel profile: 6.12",
      "reproduce: amc replay --backends model,plugin:/tmp/x.so --kernel-profile "
      "6.12 THIS_FILE",
  });
  EXPECT_EQ(h.backends, "model,plugin:/tmp/x.so");
  EXPECT_EQ(h.kernel_profile, "6.12");
}

TEST(ReproducerHeaderTest, HeaderWithoutOptionsNamesNothing) {
  ReproducerHeader h = ReadReproducerHeader({"a case written by hand", "backends: model"});
  EXPECT_EQ(h.backends, "");
  EXPECT_EQ(h.kernel_profile, "");
}

TEST(ReproducerHeaderTest, OlderRunHeaderWithoutProfileGivesBackendsOnly) {
  ReproducerHeader h = ReadReproducerHeader(
      {"amc run divergence: sequence 0 of seed 1 (amc run --backends model,faulty --seed 1)",
       "reproduce: amc replay --backends model,faulty THIS_FILE"});
  EXPECT_EQ(h.backends, "model,faulty");
  EXPECT_EQ(h.kernel_profile, "");
}

}  // namespace
}  // namespace amc::cli
