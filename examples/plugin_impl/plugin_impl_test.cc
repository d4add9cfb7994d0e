#include <gtest/gtest.h>

#include "core/differential.h"
#include "core/ops_text.h"
#include "gen/generator.h"
#include "model/model_backend.h"
#include "plugin/plugin_backend.h"

namespace amc::plugin {
namespace {

TEST(PluginImplExampleTest, ImplementsEveryOpKindUnderItsOwnName) {
  std::string error;
  auto b = PluginBackend::Open(AMC_PLUGIN_IMPL_PATH, std::nullopt, &error);
  ASSERT_NE(b, nullptr) << error;
  EXPECT_EQ(b->Name(), "plugin:libamc_plugin_impl.so");
  EXPECT_TRUE(b->Probe().available) << b->Probe().reason;
  for (size_t k = 0; k < core::kOpKindCount; ++k) {
    EXPECT_TRUE(b->Supports(static_cast<core::OpKind>(k)));
  }
}

TEST(PluginImplExampleTest, RefusesAnEnvironmentWithAnotherPageSize) {
  core::Environment env = core::HostEnvironment();
  env.page_size *= 4;
  std::string error;
  auto b = PluginBackend::Open(AMC_PLUGIN_IMPL_PATH, env, &error);
  ASSERT_NE(b, nullptr) << error;
  EXPECT_FALSE(b->Probe().available);
  EXPECT_NE(b->Probe().reason.find("mappings are real"), std::string::npos);
}

TEST(PluginImplExampleTest, AgreesWithTheModelOnGeneratedSequences) {
  core::Environment env = core::HostEnvironment();
  env.possible_cpus = 3;  // emulated: per-CPU layouts differ from the host's
  std::string error;
  auto b = PluginBackend::Open(AMC_PLUGIN_IMPL_PATH, env, &error);
  ASSERT_NE(b, nullptr) << error;
  model::Params p = model::Params::Host();
  p.env = env;
  model::ModelBackend model(p);
  std::vector<core::Backend*> backends = {&model, b.get()};
  gen::GenOptions o;
  o.env = env;
  o.kinds = CommonKinds(backends);
  gen::RandomChooser c(2024);
  size_t ops = 0;
  for (int i = 0; i < 2000; ++i) {
    core::Sequence seq = gen::GenerateSequence(c, o);
    core::RunOutcome out = core::RunDifferential(seq, backends);
    ASSERT_TRUE(out.ok()) << out.divergence->Report(seq);
    ops += out.steps_run;
  }
  EXPECT_GT(ops, 10000u);
  EXPECT_TRUE(b->incidents().empty());
}

}  // namespace
}  // namespace amc::plugin
