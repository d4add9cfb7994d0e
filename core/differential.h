// core/differential.h: the one check every driver calls. Runs a sequence on
// several backends op by op, stops at the first op whose results differ (or
// that contradicts a recorded expectation), and otherwise compares the final
// map states as a backstop.
//
// Unit tests, properties, fuzzers, corpus replay and the amc tool differ
// only in how they report a Divergence, never in how they find one.
//
// Robustness probe: when the reference (the first backend, or the recorded
// expectation) refuses a map that another backend creates, that creation
// divergence is reported, and the sequence's ops then run on the backends
// that created the map, alone: the reference has no map, so nothing is
// compared, but a crash, hang, overrun or lost plug-in there replaces the
// creation divergence with a Kind::kProbe one at that op ("accepted invalid
// map (model E2BIG), then crashed at update ARRAY: ..."), whose reproducer
// is the ops up to it. A runtime that accepts a map the kernel refuses is
// often one whose size arithmetic wrapped; this is where that shows.
//
// A harness error (core/harness_error.h: HarnessError or std::bad_alloc
// thrown by a backend's Create, Execute or ReadState) stops the run with no
// Divergence; RunOutcome::harness_error / DifferentialRun::harness_error()
// say which backend failed where. It is never a verdict on any backend.
#ifndef AMC_CORE_DIFFERENTIAL_H_
#define AMC_CORE_DIFFERENTIAL_H_

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/backend.h"
#include "core/op.h"

namespace amc::core {

struct Divergence {
  enum class Kind {
    kCreate,       // creation results differ
    kOp,           // one op's results differ
    kFinalState,   // every op agreed, the final contents do not
    kExpectation,  // a backend contradicts the recorded expectation
    // A backend failed outside every op (crashed, hung or exited while
    // destroying a map or reading the final state): Backend::
    // TakeFailureReport. `sides` holds that backend's short account.
    kBackendFailure,
    // The reference refused the map, a backend created it, and running the
    // ops on that backend alone made it crash, hang, overrun a buffer or go
    // lost (a pseudo-errno, core/result.h) at `step`, or fail outside the
    // ops (step -1). `field` says what was accepted ("accepted invalid map
    // (model E2BIG)"); `detail` holds the creation divergence's summary.
    kProbe,
  };
  Kind kind = Kind::kOp;
  // Index into Sequence::steps of the op (kOp, kExpectation on an op);
  // -1 for creation and the final state.
  int step = -1;
  // Every backend's result at that point, printed, in backend order; for
  // kExpectation the first entry is "expected".
  std::vector<std::pair<std::string, std::string>> sides;
  // For kFinalState: where the first difference is (key, cpu, byte).
  std::string detail;
  // How a backend failed (Backend::TakeFailureReport: its signal or exit
  // status, the tail of its stderr), for the report; "" when none did.
  // Varies from run to run: never part of what makes two divergences alike.
  std::string backend_failure;

  // What Signature() is made of, filled where the divergence is made
  // (core/signature.h): the map type, the kind of the diverging op, the
  // field that differs ("errno", "padding bytes", "count", ...) and each
  // side's result class ("E2BIG", "ok", "differs", "lower"), never values.
  std::optional<MapType> map_type;
  std::optional<OpKind> op_kind;
  std::string field;
  std::vector<std::pair<std::string, std::string>> classes;

  // Names the bug, not the values: "op update ARRAY: errno: model E2BIG,
  // faulty ENOENT". Two sequences that hit the same fault with other keys,
  // values or sizes have the same signature; campaigns group by it and the
  // minimizer keeps it (core/signature.h).
  std::string Signature() const;

  // A readable report: what differs, every side, and the sequence so far.
  std::string Report(const Sequence& seq) const;
  // One line: "step 3 (update): model E2BIG, kernel ENOENT".
  std::string Summary(const Sequence& seq) const;
};

// The sequence that reproduces a divergence: the ops up to and including the
// diverging one, without expectations.
Sequence Reproducer(const Sequence& seq, const Divergence& divergence);

struct BackendOutcome {
  std::string name;
  int create_err = 0;
  // One result per step that ran (all steps, unless a divergence stopped
  // the run early).
  std::vector<Result> results;
};

struct RunOutcome {
  std::optional<Divergence> divergence;
  // Set when the harness itself failed ("kernel at step 3 (lookup): ..."):
  // the run stopped, and no backend's result counts. Never with a
  // divergence.
  std::optional<std::string> harness_error;
  std::vector<BackendOutcome> backends;
  // Backends left out of this sequence and why (an op kind they do not
  // support). Reported, never silent.
  std::vector<std::pair<std::string, std::string>> left_out;
  size_t steps_run = 0;
  bool ok() const { return !divergence.has_value() && !harness_error; }
  // What went wrong, for a failed test's message: "HARNESS ERROR: ..." or
  // the divergence's Report; "" when ok().
  std::string FailureReport(const Sequence& seq) const;
};

struct RunOptions {
  // Check recorded expectations (Sequence::expect_create / Step::expect).
  bool check_expectations = true;
  // Compare final states after the last op.
  bool compare_final_state = true;
  // Run the ops on a backend that created a map the reference refused
  // (the robustness probe, above).
  bool probe_accepted_invalid = true;
};

// Ops whose output buffer is larger than this are not run by the robustness
// probe (a lookup of a 3 GiB value would make amc hold 3 GiB for an answer
// nothing compares); their input buffers (update values) are passed as
// given, padded with zeros the plug-in host maps lazily.
inline constexpr uint64_t kProbeMaxOutputBytes = uint64_t{64} << 20;

// RunDifferential op by op, for drivers that produce each op just before it
// runs (the fuzzer decodes op i only once op i-1 agreed, so it never builds
// a Sequence nor keeps results). RunDifferential is this class in a loop:
// the checks, their order and the Divergence they report are the same.
//
//   DifferentialRun run(spec, backends, expect_create, options);
//   for (size_t i = 0; run.running() && i < n; ++i) run.Step(i, op_i, expect_i);
//   run.Finish();
//   if (run.divergence()) ...
class DifferentialRun {
 public:
  // Creates the map on every backend of `backends` (each must implement
  // every op kind it will be given) and compares the creation results.
  DifferentialRun(const MapSpec& spec, const std::vector<Backend*>& backends,
                  const std::optional<int>& expect_create,
                  const RunOptions& options = {});
  DifferentialRun(const DifferentialRun&) = delete;
  DifferentialRun& operator=(const DifferentialRun&) = delete;
  ~DifferentialRun();

  // True while ops can run: creation agreed, succeeded, nothing has
  // diverged and the harness has not failed; or, in the robustness probe,
  // while the backends that accepted the refused map have not failed.
  bool running() const { return running_; }
  // True while (or after) ops run as the robustness probe.
  bool probing() const { return !probed_.empty(); }
  // Ops the probe did not run (output buffer past kProbeMaxOutputBytes).
  size_t probe_skipped() const { return probe_skipped_; }
  // Destroys every map, then takes each backend's failure report
  // (Backend::TakeFailureReport): a failure no result showed becomes a
  // kBackendFailure divergence when there is none yet, else it is added to
  // the divergence's backend_failure. RunDifferential calls it last.
  void ReleaseMaps();
  // Runs `op` (step `index` of the sequence) on every map and compares the
  // results with each other and with `expect`. False when it diverged (or
  // the run had already stopped).
  bool Step(size_t index, const Op& op, const std::optional<Result>& expect);
  // After the last op: compares the final states (RunOptions). False when
  // they differ.
  bool Finish();

  const std::optional<Divergence>& divergence() const { return divergence_; }
  // Set when the harness failed (a backend threw HarnessError or
  // std::bad_alloc): which backend, where, and what. No divergence then.
  const std::optional<std::string>& harness_error() const {
    return harness_error_;
  }
  // Each backend's creation errno, in backend order.
  const std::vector<int>& create_errs() const { return create_errs_; }
  // Each backend's result of the last Step, in backend order; moved out by
  // RunDifferential.
  std::vector<Result>& last_results() { return results_; }

 private:
  std::vector<std::pair<std::string, std::string>> OpSides() const;
  std::vector<std::string> Names() const;
  // Records a harness error of backend `b` at `where` and stops the run.
  void FailHarness(size_t b, const std::string& where, const std::string& what);
  // Finish() for states past kStreamedStateBytes (core/state_digest.h).
  bool FinishStreamed();
  // Takes `backend`'s failure report into divergence_; true when it made a
  // new kBackendFailure divergence.
  bool AddFailureReport(Backend* backend);
  // After a creation divergence: the backends that created what the
  // reference (`ref_name` answering `ref_err`) refused run the ops alone.
  void StartProbe(const std::string& ref_name, int ref_err);
  // Step() in the probe.
  bool ProbeStep(size_t index, const Op& op);
  // Replaces the creation divergence with a kProbe one: backend `b`
  // answered `result_text` (a pseudo-errno named `cls`) at `index`.
  void ProbeFinding(size_t b, int index, const Op* op, const std::string& cls,
                    const std::string& result_text);

  MapSpec spec_;
  std::vector<Backend*> backends_;
  RunOptions options_;
  std::vector<std::unique_ptr<MapInstance>> maps_;
  std::vector<int> create_errs_;
  std::vector<Result> results_;
  std::optional<Divergence> divergence_;
  std::optional<std::string> harness_error_;
  bool running_ = false;
  // The robustness probe: the backends it runs, and what was accepted.
  std::vector<size_t> probed_;
  std::string probe_accepted_;
  size_t probe_skipped_ = 0;
};

// Runs `seq` on every backend in `backends` (already probed as available).
// The first backend is the reference the others are compared with.
RunOutcome RunDifferential(const Sequence& seq,
                           const std::vector<Backend*>& backends,
                           const RunOptions& options = {});

// Where two states first differ, in words ("key 2 cpu 1 byte 5: 00 vs 07").
std::string DescribeStateDifference(const MapSpec& spec, const Environment& env,
                                    const MapState& a, const MapState& b);

}  // namespace amc::core

#endif  // AMC_CORE_DIFFERENTIAL_H_
