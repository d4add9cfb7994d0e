#include "fuzzers/differential_harness.h"

#include <malloc.h>

#include "core/coverage.h"
#include "core/harness_error.h"
#include "core/ops_text.h"
#include "gen/chooser.h"
#include "gen/minimize.h"

namespace amc::fuzzers {

DifferentialHarness::DifferentialHarness(const std::string& backend_list,
                                         const HarnessOptions& options)
    : selection_(backends::SelectBackends(backend_list)) {
  run_options_.compare_final_state = options.compare_final_state;
  if (!selection_.error.empty()) {
    error_ = selection_.error;
    return;
  }
  error_ = backends::MissingRequiredBackends(selection_);
  for (auto& b : selection_.available) backends_.push_back(b.get());
  if (error_.empty() && backends_.empty()) error_ = "no backend is available";
  options_.max_ops = options.max_ops;
  options_.max_map_bytes = options.max_map_bytes;
  options_.env = backends_.empty() ? core::HostEnvironment() : backends_[0]->Env();
  for (core::Backend* backend : backends_) {
    for (size_t k = 0; k < core::kOpKindCount; ++k) {
      if (!backend->Supports(static_cast<core::OpKind>(k))) options_.kinds.reset(k);
    }
  }
}

core::Sequence DifferentialHarness::Decode(const uint8_t* data, size_t size) const {
  gen::BytesChooser chooser(data, size);
  return gen::GenerateSequence(chooser, options_);
}

AMC_NO_COVERAGE
std::optional<std::string> DifferentialHarness::Check(const uint8_t* data,
                                                      size_t size) const {
  // Decode and RunDifferential, fused: each op is drawn just before it runs
  // (into reused buffers), none after creation failed alike everywhere or
  // after a divergence, and nothing is printed unless one is found. Every
  // backend implements every kind the decoder draws (options_.kinds), so
  // none is left out, as in RunDifferential.
  gen::BytesChooser chooser(data, size);
  gen::SequenceDecoder decoder(chooser, options_);
  core::DifferentialRun run(decoder.spec(), backends_, std::nullopt,
                            run_options_);
  for (size_t i = 0; run.running() && !decoder.done(); ++i) {
    run.Step(i, decoder.Next(), std::nullopt);
  }
  run.Finish();
  // amc itself failed: never a finding (the fuzzer stops with its own
  // message instead of a crash artifact).
  if (run.harness_error()) throw core::HarnessError(*run.harness_error());
  if (!run.divergence()) return std::nullopt;
  // The report shows the whole sequence, decoded again (decoding is a pure
  // function of the bytes).
  return run.divergence()->Report(Decode(data, size));
}

void TuneAllocatorForFuzzing() {
#if defined(__GLIBC__)
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
#endif
}

std::string RecordExpectations(core::Sequence* seq, const std::string& recorder) {
  backends::Selection selection = backends::SelectBackends(recorder);
  if (!selection.error.empty()) return selection.error;
  if (selection.available.size() != 1) {
    return "cannot record with '" + recorder + "': " +
           (selection.unavailable.empty() ? std::string("not one backend")
                                          : selection.unavailable[0].second);
  }
  core::Backend& backend = *selection.available[0];
  seq->env = backend.Env();
  core::CreateResult created = backend.Create(seq->spec);
  seq->expect_create = created.err;
  for (core::Step& step : seq->steps) {
    step.expect.reset();
    if (created.map) step.expect = created.map->Execute(step.op);
  }
  seq->comments.push_back("expectations recorded on " + backend.Name() +
                          (seq->env->kernel_release.empty()
                               ? std::string()
                               : " (kernel " + seq->env->kernel_release + ")"));
  return "";
}

std::string DifferentialHarness::ToOps(const uint8_t* data, size_t size,
                                       const std::string& source,
                                       const std::string& record_with) const {
  core::Sequence seq = Decode(data, size);
  core::RunOutcome out = core::RunDifferential(seq, backends_, run_options_);
  std::string names;
  for (core::Backend* b : backends_) names += (names.empty() ? "" : ",") + b->Name();
  core::Sequence result;
  if (out.harness_error) {
    throw core::HarnessError(*out.harness_error);
  }
  if (out.ok()) {
    result = seq;
    result.comments.push_back("from differential_fuzzer input " + source +
                              ": no divergence on " + names);
  } else {
    gen::MinimizeStats stats;
    core::Sequence small = gen::Minimize(
        seq, gen::SameDivergence(backends_, seq, *out.divergence), {}, &stats);
    core::RunOutcome again = core::RunDifferential(small, backends_);
    result = again.ok() ? core::Reproducer(seq, *out.divergence)
                        : core::Reproducer(small, *again.divergence);
    result.comments.push_back("from differential_fuzzer input " + source +
                              ", minimized from " + std::to_string(stats.ops_before) +
                              " ops");
    result.comments.push_back(
        "divergence on " + names + ": " +
        (again.ok() ? out.divergence->Summary(seq) : again.divergence->Summary(small)));
  }
  if (!record_with.empty()) {
    std::string error = RecordExpectations(&result, record_with);
    if (!error.empty()) result.comments.push_back("could not record: " + error);
  }
  return core::PrintOps(result);
}

}  // namespace amc::fuzzers
