// tools/amc/campaign.h: the differential campaign behind `amc run`. Worker
// threads draw sequence numbers from one counter; sequence i is generated
// from a RandomChooser seeded with SequenceSeed(seed, i), so the same seed
// gives the same sequences whatever --jobs is (with --sequences N, exactly
// the same run). Each worker owns its own backend instances (backends are
// not thread-safe; kernel maps and programs belong to the instance that made
// them), runs every sequence through core::RunDifferential, tallies results,
// and minimizes the first divergence of each signature with gen::Minimize
// on its own backends (at most 15 s each, never past --time, and a signal
// stops it), keeping that signature.
//
// Divergences are grouped by core::Divergence::Signature (op kind, map type,
// the field that differs, each backend's answer class; never values): one
// group per bug. Later sequences with a known signature point to its first
// one (same_as) instead of writing another file for the same bug, unless
// reproducers_per_signature asks for more.
//
// Memory stays bounded however long the run: passing sequences are kept only
// as counts per block of kCaseBlock consecutive indices, and at most
// max_divergence_records divergences keep a record (every new kind always
// does); later repeats of a known signature are counted in its group.
//
// A harness error (core/harness_error.h) is its own class: counted, the
// first ones kept with their message, never minimized nor written.
//
// Invariant: a divergence is never dropped: it is counted (per signature),
// each signature keeps its summary, and each signature (up to
// max_reproducers of them) gets its minimized reproducer written as an .ops
// file that `amc replay` fails on with that same signature.
#ifndef AMC_TOOLS_AMC_CAMPAIGN_H_
#define AMC_TOOLS_AMC_CAMPAIGN_H_

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "backends/registry.h"
#include "core/op.h"
#include "gen/generator.h"

namespace amc::cli {

// The seed of sequence `index` of a campaign (a SplitMix64 step).
uint64_t SequenceSeed(uint64_t campaign_seed, uint64_t index);

// What the selected backends allow: the generation environment (the first
// backend's) and the op kinds every backend implements; the others are left
// out with the reason.
//
// Geometries: with none, every sequence is generated for gen.env and runs on
// backends made for this machine. With some, sequence i is generated for
// and runs on backends made for geometries[i % size] (possible and online
// CPUs, page size), whatever this machine has; every backend in
// backend_names must run in each of them (FilterGeometries).
struct CampaignPlan {
  gen::GenOptions gen;
  std::vector<std::pair<std::string, std::string>> left_out_kinds;
  std::vector<std::string> backend_names;
  std::vector<core::Environment> geometries;
};
CampaignPlan PlanCampaign(const backends::Selection& selection, size_t max_ops);

// The geometries a default campaign rotates through when the kernel is not
// among its backends: 1, 3, 4 and 64 possible CPUs, some with fewer online,
// 4 KiB and 64 KiB pages; `host`'s own geometry first.
std::vector<core::Environment> DefaultGeometries(const core::Environment& host);

// "4 possible/2 online CPUs, 4 KiB pages".
std::string GeometryName(const core::Environment& env);

// Keeps the geometries in which SelectBackends(list, geometry) makes exactly
// the backends `names`; returns each dropped one's name and why.
std::vector<std::pair<std::string, std::string>> FilterGeometries(
    const std::string& list, const std::vector<std::string>& names,
    std::vector<core::Environment>* geometries);

// The geometry sequence `index` runs in (plan.gen.env without geometries).
const core::Environment& CampaignGeometry(const CampaignPlan& plan,
                                          uint64_t index);

// The sequence `index` of a campaign, as generated.
core::Sequence CampaignSequence(const CampaignPlan& plan, uint64_t seed,
                                uint64_t index);

struct Progress {
  uint64_t sequences = 0;
  uint64_t ops = 0;  // ops run (one op on every backend counts once)
  uint64_t divergences = 0;
  uint64_t harness_errors = 0;
  double elapsed = 0;
};

struct CampaignOptions {
  std::string backend_list;  // as for SelectBackends
  uint64_t seed = 0;
  std::optional<uint64_t> sequences;  // stop after this many
  std::optional<double> seconds;      // stop after this long
  unsigned jobs = 1;
  std::string out_dir;
  // Signatures that get minimized reproducers (later ones are counted and
  // summarized, not minimized), and files per signature.
  size_t max_reproducers = 100;
  size_t reproducers_per_signature = 1;
  // The --kernel-profile the run was given ("" for none): written into
  // every reproducer's header and its replay line.
  std::string kernel_profile;
  bool collect_cases = false;  // keep per-block case counts (JUnit)
  // Divergences beyond this many keep no record (only their kind's count),
  // unless they are the first of a new kind.
  size_t max_divergence_records = 1000;
  // Called on the calling thread about every `progress_interval` seconds.
  std::function<void(const Progress&)> progress;
  double progress_interval = 0.25;
  // Set (by a signal handler) to stop early; the run still reports.
  const std::atomic<bool>* stop = nullptr;
};

struct BackendTally {
  std::string name;
  uint64_t sequences = 0;
  uint64_t ops = 0;
  uint64_t busy_ns = 0;
  std::map<std::string, uint64_t> errnos;         // op results by errno
  std::map<std::string, uint64_t> create_errnos;  // creation results
  uint64_t left_out = 0;  // sequences this backend sat out
};

struct DivergenceRecord {
  uint64_t index = 0;
  std::string signature;  // core::Divergence::Signature
  std::string summary;  // Divergence::Summary of the generated sequence
  std::string report;   // Divergence::Report of the minimized reproducer
  std::string file;     // where the reproducer was written ("" if not)
  std::string note;     // why not minimized or not written
  // Set when an earlier sequence diverged the same way (its index); that
  // one's reproducer stands for this one.
  std::optional<uint64_t> same_as;
  double seconds = 0;  // the sequence's run, before minimizing
  size_t ops_before = 0;
  size_t ops_after = 0;
  // Why minimization ended early ("at the time budget (--time)", "by a
  // signal", "at its 15 s limit"), or "" when it ran to the end. The
  // reproducer still fails the same way.
  std::string minimization_stopped;
};

// The divergences of one signature.
struct SignatureGroup {
  std::string signature;
  uint64_t first_index = 0;  // the sequence minimized for it
  uint64_t sequences = 0;    // every sequence with this signature
  std::string summary;       // Divergence::Summary of the first, as generated
  std::string report;        // Divergence::Report of its minimized reproducer
  std::vector<std::string> files;  // reproducers written, the first's first
  std::string note;                // why none was written
  size_t files_reserved = 0;
  size_t ops_before = 0;
  size_t ops_after = 0;
  // Why the minimization of its reproducer stopped early ("" = it ran out
  // of simplifications).
  std::string minimization_stopped;
};

// A sequence the harness failed on (core/harness_error.h): no verdict on it.
struct HarnessErrorRecord {
  uint64_t index = 0;
  std::string message;  // RunOutcome::harness_error
};
// Harness errors beyond this many are only counted.
inline constexpr uint64_t kMaxHarnessErrorRecords = 100;

// Passing sequences are reported per block of this many consecutive
// indices; each diverging sequence is a case of its own.
inline constexpr uint64_t kCaseBlock = 1000;

// The sequences with indices [first, first + kCaseBlock) that ran.
struct CaseBlock {
  uint64_t first = 0;
  uint64_t sequences = 0;  // that ran
  uint64_t agreed = 0;     // of those, without a divergence
  uint64_t ops = 0;
  double seconds = 0;
};

struct CampaignResult {
  std::string error;  // a worker could not start (exit 2)
  uint64_t sequences = 0;
  uint64_t ops = 0;
  double elapsed = 0;
  std::vector<BackendTally> backends;  // in selection order
  std::array<uint64_t, core::kOpKindCount> ops_by_kind{};
  uint64_t divergent_sequences = 0;           // all of them
  // Sequences on which amc itself failed (never divergences), and the first
  // kMaxHarnessErrorRecords of them, by index.
  uint64_t harness_errors = 0;
  std::vector<HarnessErrorRecord> harness_error_records;
  std::vector<DivergenceRecord> divergences;  // recorded ones, by index
  // First sequence of each signature -> how many later ones diverged that
  // way (recorded or not).
  std::map<uint64_t, uint64_t> same_counts;
  // One per signature, by first sequence index.
  std::vector<SignatureGroup> signatures;
  std::vector<CaseBlock> case_blocks;  // by first index (collect_cases)
  // Sequences run per plan.geometries entry (empty without geometries).
  std::vector<uint64_t> sequences_by_geometry;
  // Which entries of the special-value table (gen/special_values.h) the
  // generated sequences held, by table index.
  std::vector<bool> special_hits;
};

CampaignResult RunCampaign(const CampaignPlan& plan,
                           const CampaignOptions& options);

}  // namespace amc::cli

#endif  // AMC_TOOLS_AMC_CAMPAIGN_H_
