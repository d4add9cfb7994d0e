#include "plugin/sanitizer_runtime.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <string>

namespace amc::plugin {
namespace {

constexpr char kAsanReport[] =
    "some output of the plug-in\n"
    "=================================================================\n"
    "==4242==ERROR: AddressSanitizer: heap-buffer-overflow on address "
    "0x602000000058 at pc 0x7f0 bp 0x7ff sp 0x7fe\n"
    "WRITE of size 1 at 0x602000000058 thread T0\n"
    "    #0 0x7f01 in planted_update plugin_overflow.c:36:19\n"
    "    #1 0x7f02 in update minimal_plugin.c:190:12\n"
    "    #2 0x7f03 in amc::plugin::ProxyMap::Execute direct_backend.cc:300\n"
    "    #3 0x7f04 in main\n"
    "\n"
    "0x602000000058 is located 0 bytes to the right of 8-byte region\n"
    "allocated by thread T0 here:\n"
    "    #0 0x7f05 in calloc\n"
    "\n"
    "SUMMARY: AddressSanitizer: heap-buffer-overflow plugin_overflow.c:36:19 "
    "in planted_update\n"
    "Shadow bytes around the buggy address:\n"
    "  0x0c047fff8000: fa fa 00 fa fa fa fa fa\n";

TEST(SanitizerRuntimeTest, ReportKeepsTheErrorLineTheAccessTheTopFramesAndTheSummary) {
  std::string report = ExtractSanitizerReport(kAsanReport, 2);
  EXPECT_EQ(report,
            "==4242==ERROR: AddressSanitizer: heap-buffer-overflow on address "
            "0x602000000058 at pc 0x7f0 bp 0x7ff sp 0x7fe\n"
            "WRITE of size 1 at 0x602000000058 thread T0\n"
            "    #0 0x7f01 in planted_update plugin_overflow.c:36:19\n"
            "    #1 0x7f02 in update minimal_plugin.c:190:12\n"
            "    (2 more frames)\n"
            "SUMMARY: AddressSanitizer: heap-buffer-overflow "
            "plugin_overflow.c:36:19 in planted_update");
}

TEST(SanitizerRuntimeTest, UbsanRuntimeErrorIsAReport) {
  std::string report = ExtractSanitizerReport(
      "x.c:3:5: runtime error: signed integer overflow: 2147483647 + 1\n"
      "    #0 0x1 in f x.c:3:5\n"
      "SUMMARY: UndefinedBehaviorSanitizer: undefined-behavior x.c:3:5 in \n");
  EXPECT_EQ(report.substr(0, report.find('\n')),
            "x.c:3:5: runtime error: signed integer overflow: 2147483647 + 1");
  EXPECT_NE(report.find("#0 0x1 in f x.c:3:5"), std::string::npos);
  EXPECT_NE(report.find("SUMMARY: UndefinedBehaviorSanitizer"), std::string::npos);
}

TEST(SanitizerRuntimeTest, LongFrameLinesAreCut) {
  std::string frame = "    #0 0x1 in f<" + std::string(500, 'T') + ">";
  std::string report = ExtractSanitizerReport(
      "==1==ERROR: AddressSanitizer: SEGV on unknown address\n" + frame + "\n");
  std::string kept = report.substr(report.find('\n') + 1);
  EXPECT_EQ(kept, frame.substr(0, 200) + "...");
}

TEST(SanitizerRuntimeTest, StderrWithoutAReportGivesNothing) {
  EXPECT_EQ(ExtractSanitizerReport("Segmentation fault\nERROR: something else\n"),
            "");
  EXPECT_EQ(ExtractSanitizerReport(""), "");
}

TEST(SanitizerRuntimeTest, AnOrdinaryPluginNeedsNoSanitizer) {
  SanitizerNeeds needs = ReadSanitizerNeeds(AMC_TEST_PLUGIN_FULL_PATH);
  EXPECT_TRUE(needs.readable);
  if (AMC_PLAIN_BUILD) {
    EXPECT_FALSE(needs.asan);
    EXPECT_FALSE(needs.ubsan);
  }
  EXPECT_EQ(needs.needed_runtime, "");
}

TEST(SanitizerRuntimeTest, AFileThatIsNoElfIsNotReadable) {
  EXPECT_FALSE(ReadSanitizerNeeds("/proc/self/status").readable);
  EXPECT_FALSE(ReadSanitizerNeeds("/nonexistent/libx.so").readable);
}

TEST(SanitizerRuntimeTest, ForcedPreloadComesFirstAndUserOptionsComeLast) {
  setenv("AMC_PLUGIN_PRELOAD", "/opt/rt/libasan-x.so", 1);
  setenv("LD_PRELOAD", "libother.so", 1);
  setenv("ASAN_OPTIONS", "detect_leaks=1", 1);
  SanitizerPlan plan = PlanSanitizerRuntime(AMC_TEST_PLUGIN_FULL_PATH);
  unsetenv("AMC_PLUGIN_PRELOAD");
  unsetenv("LD_PRELOAD");
  unsetenv("ASAN_OPTIONS");
  EXPECT_EQ(plan.error, "");
  EXPECT_EQ(plan.preload, "/opt/rt/libasan-x.so");
  ASSERT_GE(plan.env.size(), 3u);
  EXPECT_EQ(plan.env[0], "LD_PRELOAD=/opt/rt/libasan-x.so:libother.so");
  EXPECT_EQ(plan.env[1].rfind("ASAN_OPTIONS=abort_on_error=0:halt_on_error=1:"
                              "detect_leaks=0:",
                              0),
            0u)
      << plan.env[1];
  EXPECT_EQ(plan.env[1].substr(plan.env[1].size() - 15), ":detect_leaks=1");
  EXPECT_EQ(plan.env[2].rfind("UBSAN_OPTIONS=halt_on_error=1:", 0), 0u);
}

TEST(SanitizerRuntimeTest, AnOrdinaryPluginGetsAnUnchangedEnvironment) {
  unsetenv("AMC_PLUGIN_PRELOAD");
  SanitizerPlan plan = PlanSanitizerRuntime(AMC_TEST_PLUGIN_FULL_PATH);
  EXPECT_EQ(plan.error, "");
  EXPECT_EQ(plan.preload, "");
  // (In a sanitizer build the test plug-ins are instrumented too: options,
  // but never a preload, since amc has the runtime itself.)
  SanitizerNeeds needs = ReadSanitizerNeeds(AMC_TEST_PLUGIN_FULL_PATH);
  if (!needs.asan && !needs.ubsan) {
    EXPECT_TRUE(plan.env.empty());
  }
}

}  // namespace
}  // namespace amc::plugin
