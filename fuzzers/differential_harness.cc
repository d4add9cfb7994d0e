#include "fuzzers/differential_harness.h"

#include <malloc.h>

#include <algorithm>
#include <cstdlib>

#include "core/coverage.h"
#include "core/harness_error.h"
#include "core/ops_text.h"
#include "gen/chooser.h"
#include "gen/minimize.h"
#include "plugin/direct_backend.h"
#include "plugin/plugin_backend.h"

namespace amc::fuzzers {

namespace {

// The "a,b,c" list as entries.
std::vector<std::string> SplitList(const std::string& list) {
  std::vector<std::string> out;
  size_t at = 0;
  while (at <= list.size()) {
    size_t comma = std::min(list.find(',', at), list.size());
    if (comma > at) out.push_back(list.substr(at, comma - at));
    at = comma + 1;
  }
  return out;
}

bool PluginsInChildAsked() {
  const char* child = std::getenv("AMC_FUZZ_PLUGIN_CHILD");
  return child && std::string(child) == "1";
}

// A plug-in in this process that owns what LoadPlugin gave (the table
// DirectBackend reads lives as long as the backend).
class InProcessPlugin final : public plugin::DirectBackend {
 public:
  InProcessPlugin(plugin::LoadedPlugin loaded, std::string name,
                  core::Environment env)
      : DirectBackend(loaded.table, std::move(name), std::move(env)),
        loaded_(std::move(loaded)) {}

 private:
  plugin::LoadedPlugin loaded_;
};

}  // namespace

DifferentialHarness::DifferentialHarness(const std::string& backend_list,
                                         const HarnessOptions& options) {
  run_options_.compare_final_state = options.compare_final_state;
  // plug-ins (plugin:PATH) load into this process (plugin::DirectBackend),
  // unless the options ask for a child: the plug-in's own coverage
  // counters and compare hooks then feed the fuzzer, and its crash is the
  // fuzzer's crash, with an input to reproduce it.
  struct InProcess {
    size_t position;
    std::unique_ptr<core::Backend> backend;
  };
  std::vector<InProcess> in_process;
  std::string rest;
  std::string target_release;
  const std::vector<std::string> entries = SplitList(backend_list);
  bool has_kernel = false;
  for (const std::string& e : entries) has_kernel = has_kernel || e == "kernel";
  for (const std::string& entry : entries) {
    std::optional<std::string> path = plugin::PluginPathOf(entry);
    if (!path || !options.plugins_in_process || PluginsInChildAsked()) {
      rest += (rest.empty() ? "" : ",") + entry;
      continue;
    }
    plugin::LoadedPlugin loaded;
    if (!plugin::LoadPlugin(*path, &loaded, &error_)) return;
    const amc_plugin* table = loaded.table;
    if (table->target_release && *table->target_release &&
        target_release.empty()) {
      target_release = table->target_release;
    }
    core::Environment env = core::HostEnvironment();
    if (table->target_release && *table->target_release) {
      env.kernel_release = table->target_release;
    }
    size_t slash = path->find_last_of('/');
    in_process.push_back(InProcess{
        SplitList(rest).size() + in_process.size(),
        std::make_unique<InProcessPlugin>(
            std::move(loaded),
            "plugin:" + (slash == std::string::npos ? *path
                                                    : path->substr(slash + 1)),
            env)});
  }
  // As for plug-ins in a child (backends::SelectBackends): the release a
  // plug-in targets is the one the others answer as, with no kernel.
  std::optional<core::Environment> env;
  if (!has_kernel && !target_release.empty()) {
    env = core::HostEnvironment();
    env->kernel_release = target_release;
  }
  if (!rest.empty() || in_process.empty()) {
    selection_ = backends::SelectBackends(rest, env);
  }
  if (!selection_.error.empty()) {
    error_ = selection_.error;
    return;
  }
  for (InProcess& p : in_process) {
    core::Availability a = p.backend->Probe();
    if (!a.available) {
      selection_.unavailable.emplace_back(p.backend->Name(), a.reason);
      continue;
    }
    size_t at = std::min(p.position, selection_.available.size());
    selection_.available.insert(selection_.available.begin() + at,
                                std::move(p.backend));
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
