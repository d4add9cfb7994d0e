// The load-time checks of a plug-in's table across ABI versions: what an
// ABI 3 table may declare (target release, map types and flags left out),
// and that an older, shorter table still loads and reads as declaring
// nothing.
#include <gtest/gtest.h>

#include "plugin/direct_backend.h"

namespace amc::plugin {
namespace {

int32_t Create(const amc_map_spec*, const amc_env*, amc_map**) { return 22; }
void Destroy(amc_map*) {}
void ReadState(amc_map*, uint8_t*, uint8_t*) {}

// A valid ABI 3 table that implements no op kind (each with a reason).
amc_plugin Table() {
  amc_plugin t{};
  t.abi_version = AMC_PLUGIN_ABI_VERSION;
  t.struct_size = sizeof(amc_plugin);
  t.name = "declarations test";
  for (auto& why : t.unsupported_reason) why = "not here";
  t.create = Create;
  t.destroy = Destroy;
  t.read_state = ReadState;
  return t;
}

std::string Refusal(const amc_plugin& t) {
  std::string error;
  return ValidateTable(&t, &error) ? "" : error;
}

TEST(PluginAbiTest, PlainTableOfThisAbiIsAccepted) {
  EXPECT_EQ(Refusal(Table()), "");
}

TEST(PluginAbiTest, DeclaredMasksNeedTheirReasons) {
  amc_plugin t = Table();
  t.unsupported_map_types = AMC_MAP_TYPE_BIT(AMC_MAP_TYPE_PERCPU_ARRAY);
  EXPECT_NE(Refusal(t).find("unsupported_map_types_reason"), std::string::npos);
  t.unsupported_map_types_reason = "no per-CPU storage";
  EXPECT_EQ(Refusal(t), "");
  t.unsupported_map_flags = 1u << 10;
  EXPECT_NE(Refusal(t).find("unsupported_map_flags_reason"), std::string::npos);
  t.unsupported_map_flags_reason = "";
  EXPECT_NE(Refusal(t).find("unsupported_map_flags_reason"), std::string::npos);
  t.unsupported_map_flags_reason = "no mmap";
  EXPECT_EQ(Refusal(t), "");
}

TEST(PluginAbiTest, LeavingOutBothArrayTypesOrAnUnknownTypeIsRefused) {
  amc_plugin t = Table();
  t.unsupported_map_types_reason = "why";
  t.unsupported_map_types = AMC_MAP_TYPE_BIT(AMC_MAP_TYPE_ARRAY) |
                            AMC_MAP_TYPE_BIT(AMC_MAP_TYPE_PERCPU_ARRAY);
  EXPECT_NE(Refusal(t).find("both map types"), std::string::npos);
  t.unsupported_map_types = AMC_MAP_TYPE_BIT(1);  // BPF_MAP_TYPE_HASH
  EXPECT_NE(Refusal(t).find("other than ARRAY"), std::string::npos);
}

TEST(PluginAbiTest, TargetReleaseMustBeALinuxRelease) {
  amc_plugin t = Table();
  t.target_release = "7.3";
  EXPECT_EQ(Refusal(t), "");
  t.target_release = "6.1.0-18-amd64";
  EXPECT_EQ(Refusal(t), "");
  t.target_release = "latest";
  EXPECT_NE(Refusal(t).find("target_release 'latest' is not a Linux release"),
            std::string::npos)
      << Refusal(t);
}

TEST(PluginAbiTest, OlderTableHasItsOwnSizeAndReadsAsDeclaringNothing) {
  amc_plugin t = Table();
  t.abi_version = 2;
  t.struct_size = sizeof(amc_plugin);
  EXPECT_NE(Refusal(t).find("of ABI version 2"), std::string::npos) << Refusal(t);
  t.struct_size = AMC_PLUGIN_STRUCT_SIZE_V2;
  // Whatever follows an ABI 2 table in memory is not its own.
  t.target_release = "not a release";
  t.unsupported_map_types = 0xffffffff;
  EXPECT_EQ(Refusal(t), "");
  amc_plugin whole = NormalizedTable(&t);
  EXPECT_EQ(whole.target_release, nullptr);
  EXPECT_EQ(whole.unsupported_map_types, 0u);
  EXPECT_EQ(whole.create, t.create);
}

TEST(PluginAbiTest, UnsupportedSpecNamesTheTypeOrTheFlagBits) {
  amc_plugin t = Table();
  t.unsupported_map_types = AMC_MAP_TYPE_BIT(AMC_MAP_TYPE_PERCPU_ARRAY);
  t.unsupported_map_types_reason = "no per-CPU storage";
  t.unsupported_map_flags = (1u << 10) | (1u << 7);
  t.unsupported_map_flags_reason = "no mmap, no program-side modes";
  core::MapSpec spec;
  EXPECT_EQ(UnsupportedSpecReason(t, spec), "");
  spec.map_flags = (1u << 10) | (1u << 3);
  EXPECT_EQ(UnsupportedSpecReason(t, spec),
            "does not implement map_flags 0x400: no mmap, no program-side modes");
  spec.type = core::MapType::kPercpuArray;
  EXPECT_EQ(UnsupportedSpecReason(t, spec),
            "does not implement map type PERCPU_ARRAY: no per-CPU storage");
}

}  // namespace
}  // namespace amc::plugin
