// backends/replay.cc: file replay on top of the differential runner.
#include "backends/replay.h"

#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace amc::backends {

std::string ReplayOutcome::SkipReason() const {
  std::string why;
  for (const auto& [name, reason] : run.left_out) {
    why += (why.empty() ? "" : "; ") + name + " " + reason;
  }
  for (const auto& [name, reason] : not_applicable) {
    why += (why.empty() ? "" : "; ") + name + ": " + reason;
  }
  return why;
}

std::string ReplayOutcome::Notes() const {
  std::string out;
  for (const auto& [name, reason] : unavailable) {
    out += "[ note ] not run on " + name + ": " + reason + "\n";
  }
  for (const auto& [name, reason] : not_applicable) {
    out += "[ note ] " + name + " cannot check this case: " + reason + "\n";
  }
  return out;
}

std::string ReplayOutcome::Line() const {
  if (parse_error) return "FAIL " + parse_error->ToString();
  std::string names;
  for (const auto& n : backends_run) names += (names.empty() ? "" : ", ") + n;
  std::string out;
  if (!required_missing.empty()) {
    out = "FAIL " + path + ": " + required_missing;
  } else if (run.harness_error) {
    out = "ERROR " + path + ": HARNESS ERROR: " + *run.harness_error;
  } else if (!run.ok()) {
    out = "FAIL " + path + ": " + run.divergence->Summary(*sequence);
  } else if (skipped()) {
    out = "SKIP " + path + ": " + SkipReason() + " (" +
          (names.empty() ? "nothing else ran" : "checked on " + names) + ")";
  } else {
    out = "PASS " + path + " (" + names + ")";
  }
  for (const auto& [name, reason] : unavailable) {
    out += "\n  not run on " + name + ": " + reason;
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
  out.not_applicable = selection.not_applicable;
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

namespace {

bool EndsWithOps(const std::string& name) {
  return name.size() >= 4 && name.compare(name.size() - 4, 4, ".ops") == 0;
}

// Walks `dir` (already stat'ed as `st`), adding *.ops regular files to
// `found`. `ancestors` holds the (device, inode) of every folder from the
// top down to `dir`: a symlink leading back to one of them is a loop.
void Walk(const std::string& dir, std::vector<std::pair<dev_t, ino_t>>& ancestors,
          std::vector<std::string>* found, std::vector<WalkProblem>* problems) {
  DIR* d = opendir(dir.c_str());
  if (!d) {
    problems->push_back({dir, std::string("cannot read folder: ") +
                                  std::strerror(errno)});
    return;
  }
  std::vector<std::string> names;
  while (true) {
    errno = 0;
    struct dirent* e = readdir(d);
    if (!e) {
      if (errno != 0) {
        problems->push_back({dir, std::string("cannot read folder: ") +
                                      std::strerror(errno)});
      }
      break;
    }
    std::string name = e->d_name;
    if (name != "." && name != "..") names.push_back(std::move(name));
  }
  closedir(d);
  std::sort(names.begin(), names.end());
  for (const std::string& name : names) {
    const std::string path = dir + (dir.back() == '/' ? "" : "/") + name;
    struct stat st;
    if (stat(path.c_str(), &st) != 0) {
      // A symlink loop (ELOOP), a dangling link, an entry gone meanwhile.
      problems->push_back({path, std::strerror(errno)});
      continue;
    }
    if (S_ISDIR(st.st_mode)) {
      auto id = std::make_pair(st.st_dev, st.st_ino);
      if (std::find(ancestors.begin(), ancestors.end(), id) != ancestors.end()) {
        problems->push_back(
            {path, "symlink loop: leads back to a folder above it (not followed)"});
        continue;
      }
      ancestors.push_back(id);
      Walk(path, ancestors, found, problems);
      ancestors.pop_back();
    } else if (EndsWithOps(name)) {
      if (S_ISREG(st.st_mode)) {
        found->push_back(path);
      } else {
        problems->push_back(
            {path, "not a regular file (" + core::FileTypeName(st.st_mode) + ")"});
      }
    }
  }
}

}  // namespace

bool CollectOpsFiles(const std::vector<std::string>& paths,
                     std::vector<std::string>* files, std::string* error,
                     std::vector<WalkProblem>* problems) {
  std::vector<WalkProblem> own;
  std::vector<WalkProblem>* into = problems ? problems : &own;
  for (const std::string& p : paths) {
    struct stat st;
    if (stat(p.c_str(), &st) != 0) {
      *error = p + ": " + (errno == ENOENT ? std::string("no such file or folder")
                                           : std::strerror(errno));
      return false;
    }
    if (S_ISDIR(st.st_mode)) {
      std::vector<std::string> found;
      std::vector<std::pair<dev_t, ino_t>> ancestors = {{st.st_dev, st.st_ino}};
      Walk(p, ancestors, &found, into);
      std::sort(found.begin(), found.end());
      files->insert(files->end(), found.begin(), found.end());
    } else {
      files->push_back(p);  // whatever it is: ReadOpsFile names its type
    }
  }
  if (!problems && !own.empty()) {
    *error = own[0].path + ": " + own[0].reason;
    if (own.size() > 1) {
      *error += " (and " + std::to_string(own.size() - 1) + " more)";
    }
    return false;
  }
  return true;
}

}  // namespace amc::backends
