// backends/replay.cc: file replay on top of the differential runner.
#include "backends/replay.h"

#include <algorithm>
#include <filesystem>

namespace amc::backends {

std::string ReplayOutcome::Line() const {
  if (parse_error) return "FAIL " + parse_error->ToString();
  std::string names;
  for (const auto& n : backends_run) names += (names.empty() ? "" : ", ") + n;
  std::string out;
  if (!required_missing.empty()) {
    out = "FAIL " + path + ": " + required_missing;
  } else if (!run.ok()) {
    out = "FAIL " + path + ": " + run.divergence->Summary(*sequence);
  } else if (skipped()) {
    out = "SKIP " + path + " (ran on " + (names.empty() ? "none" : names) +
          ")";
  } else {
    out = "PASS " + path + " (" + names + ")";
  }
  for (const auto& [name, reason] : unavailable) {
    out += "\n  not run on " + name + ": " + reason;
  }
  for (const auto& [name, reason] : run.left_out) {
    out += "\n  left out " + name + ": " + reason;
  }
  return out;
}

Selection& Replayer::SelectionFor(const std::optional<core::Environment>& env) {
  if (!env) {
    if (!host_) host_ = SelectBackends(list_);
    return *host_;
  }
  auto key = std::make_tuple(env->possible_cpus, env->Online(), env->page_size,
                             env->kernel_release);
  auto it = by_env_.find(key);
  if (it == by_env_.end()) {
    it = by_env_.emplace(key, SelectBackends(list_, env)).first;
  }
  return it->second;
}

std::string Replayer::SelectionError() { return SelectionFor(std::nullopt).error; }

ReplayOutcome Replayer::ReplaySequence(const core::Sequence& seq,
                                       const std::string& name) {
  ReplayOutcome out;
  out.path = name;
  out.sequence = seq;
  Selection& selection = SelectionFor(seq.env);
  out.unavailable = selection.unavailable;
  out.unavailable.insert(out.unavailable.end(), selection.not_applicable.begin(),
                         selection.not_applicable.end());
  out.required_missing = MissingRequiredBackends(selection);
  std::vector<core::Backend*> backends;
  for (auto& b : selection.available) backends.push_back(b.get());
  // Each file from fresh backends (a new plug-in child): a case's verdict
  // never depends on the files replayed before it.
  core::RestartAll(backends);
  out.run = core::RunDifferential(seq, backends);
  for (const auto& b : out.run.backends) out.backends_run.push_back(b.name);
  if (out.required_missing.empty()) {
    out.required_missing = MissingRequiredKinds(out.run.left_out);
  }
  return out;
}

ReplayOutcome Replayer::ReplayFile(const std::string& path) {
  auto parsed = core::ReadOpsFile(path);
  if (auto* error = std::get_if<core::ParseError>(&parsed)) {
    ReplayOutcome out;
    out.path = path;
    out.parse_error = *error;
    return out;
  }
  return ReplaySequence(std::get<core::Sequence>(parsed), path);
}

bool CollectOpsFiles(const std::vector<std::string>& paths,
                     std::vector<std::string>* files, std::string* error) {
  namespace fs = std::filesystem;
  for (const std::string& p : paths) {
    std::error_code ec;
    fs::file_status status = fs::status(p, ec);
    if (ec || !fs::exists(status)) {
      *error = p + ": no such file or folder";
      return false;
    }
    if (fs::is_directory(status)) {
      std::vector<std::string> found;
      for (auto it = fs::recursive_directory_iterator(p, ec);
           !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
        if (it->is_regular_file() && it->path().extension() == ".ops") {
          found.push_back(it->path().string());
        }
      }
      if (ec) {
        *error = p + ": " + ec.message();
        return false;
      }
      std::sort(found.begin(), found.end());
      files->insert(files->end(), found.begin(), found.end());
    } else {
      files->push_back(p);
    }
  }
  return true;
}

}  // namespace amc::backends
