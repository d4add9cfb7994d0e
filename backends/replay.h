// backends/replay.h: replays .ops files against the selected backends,
// checking recorded expectations and agreement. Conformance tests, corpus
// replay and `amc replay` all use it.
//
// Invariant: a file is never silently skipped. It passes, fails with a
// divergence, fails to parse (naming file and line), or reports which
// backends could not run it and why.
#ifndef AMC_BACKENDS_REPLAY_H_
#define AMC_BACKENDS_REPLAY_H_

#include <map>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "backends/registry.h"
#include "core/differential.h"
#include "core/ops_text.h"

namespace amc::backends {

struct ReplayOutcome {
  std::string path;
  std::optional<core::ParseError> parse_error;
  std::optional<core::Sequence> sequence;
  core::RunOutcome run;
  // The backends that ran the case (not those left out of it).
  std::vector<std::string> backends_run;
  // Selected backends that cannot run here at all, with the reason.
  std::vector<std::pair<std::string, std::string>> unavailable;
  // Selected backends that run here but cannot check this case (recorded in
  // another environment or for another kernel profile), with the reason.
  std::vector<std::pair<std::string, std::string>> not_applicable;
  // Non-empty when a required backend (AMC_REQUIRE_KERNEL) could not run.
  std::string required_missing;

  bool ok() const {
    return !parse_error && run.ok() && required_missing.empty();
  }
  // A selected backend that runs here sat the case out (an op kind or map
  // it cannot run, e.g. program ops on Linux 5.10, or a case recorded for
  // another kernel profile): the file is not a pass for it.
  bool skipped() const {
    return ok() && (!run.left_out.empty() || !not_applicable.empty());
  }
  // Every backend that sat the case out and why ("plugin:x.so does not
  // implement mmap: ...; kernel: the case was recorded on ..."), or "".
  std::string SkipReason() const;
  // "[ note ] ..." lines for the backends that did not check the case
  // (unavailable here, or recorded elsewhere), for test logs; "" if none.
  std::string Notes() const;
  // One line: "PASS path (model, kernel)", "SKIP path: kernel does not
  // implement prog_lookup: ... (checked on model)", or "FAIL path: step 3 ...".
  std::string Line() const;
};

class Replayer {
 public:
  // `backend_list` as for SelectBackends ("" = every backend).
  explicit Replayer(std::string backend_list) : list_(std::move(backend_list)) {}

  ReplayOutcome ReplayFile(const std::string& path);
  ReplayOutcome ReplaySequence(const core::Sequence& seq,
                               const std::string& name);
  // Error from selecting backends (an unknown name), or "".
  std::string SelectionError();

 private:
  Selection& SelectionFor(const std::optional<core::Environment>& env);
  std::string list_;
  // Backends are made once per recorded environment (none = this machine):
  // possible CPUs, page size and kernel release (it picks the profile).
  std::map<std::tuple<uint32_t, uint32_t, uint32_t, std::string>, Selection> by_env_;
  std::optional<Selection> host_;
};

// An entry a folder walk could not take: a symlink loop, an unreadable
// folder, a dangling link, an .ops name that is not a regular file.
struct WalkProblem {
  std::string path;
  std::string reason;  // "Permission denied", "not a regular file (FIFO)"
};

// Expands files and folders (recursively, *.ops, sorted, following symlinks
// but never around a loop) into file paths; a path given directly is kept
// whatever its type (ReadOpsFile refuses what is not a regular file).
// Returns false and sets `error` for a path that cannot be stat'ed (one that
// does not exist, a symlink loop). Entries found inside folders that cannot
// be walked go to `problems`, each named; without `problems` the first of
// them is the error (false), so no caller skips one silently.
bool CollectOpsFiles(const std::vector<std::string>& paths,
                     std::vector<std::string>* files, std::string* error,
                     std::vector<WalkProblem>* problems = nullptr);

}  // namespace amc::backends

#endif  // AMC_BACKENDS_REPLAY_H_
