// The .ops text format round-trips for generated sequences, with recorded
// expectations, environments and comments.
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include "core/ops_text.h"
#include "model/model_backend.h"
#include "properties/sequence_gen.h"

namespace amc::properties {
namespace {

core::Sequence ParseBack(const std::string& text) {
  auto parsed = core::ParseOps(text, "generated");
  if (auto* error = std::get_if<core::ParseError>(&parsed)) {
    RC_FAIL(error->ToString() + "\n" + text);
  }
  return std::get<core::Sequence>(parsed);
}

RC_GTEST_PROP(OpsTextProperty, PrintedSequencesParseBackUnchanged, ()) {
  gen::GenOptions options;
  options.env = core::Environment{*rc::gen::inRange<uint32_t>(1, 9), 4096, ""};
  const core::Sequence seq = *GenSequence(options);
  RC_ASSERT(ParseBack(core::PrintOps(seq)) == seq);
}

RC_GTEST_PROP(OpsTextProperty, SequencesWithRecordedResultsParseBackUnchanged, ()) {
  model::Params params;
  params.env = core::Environment{*rc::gen::inRange<uint32_t>(1, 9),
                                 *rc::gen::element<uint32_t>(4096, 65536),
                                 *rc::gen::element<std::string>("", "6.18.0", "7.0.0-rc1")};
  gen::GenOptions options;
  options.env = params.env;
  core::Sequence seq = *GenSequence(options);
  seq.env = params.env;
  seq.comments = *rc::gen::container<std::vector<std::string>>(
      rc::gen::element<std::string>("from a property", "minimized: 3 ops", "", "x = y -> z"));
  core::CreateResult created = model::ModelBackend(params).Create(seq.spec);
  seq.expect_create = created.err;
  if (created.map) {
    for (core::Step& step : seq.steps) step.expect = created.map->Execute(step.op);
  } else {
    seq.steps.clear();
  }
  RC_ASSERT(ParseBack(core::PrintOps(seq)) == seq);
}

}  // namespace
}  // namespace amc::properties
