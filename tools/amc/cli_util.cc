// tools/amc/cli_util.cc
#include "tools/amc/cli_util.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <filesystem>

namespace amc::cli {

int UsageError(const std::string& command, const std::string& message) {
  std::fprintf(stderr, "amc %s: %s\n(see: amc %s --help)\n", command.c_str(),
               message.c_str(), command.c_str());
  return 2;
}

std::string FormatTable(const std::vector<std::vector<std::string>>& rows,
                        const std::string& indent) {
  std::vector<size_t> width;
  for (const auto& row : rows) {
    if (width.size() < row.size()) width.resize(row.size(), 0);
    for (size_t i = 0; i < row.size(); ++i)
      width[i] = std::max(width[i], row[i].size());
  }
  std::string out;
  for (const auto& row : rows) {
    std::string line = indent;
    for (size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size())
        line += std::string(width[i] - row[i].size() + 2, ' ');
    }
    out += line + "\n";
  }
  return out;
}

std::string Join(const std::vector<std::string>& items,
                 const std::string& sep) {
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) out += (i ? sep : "") + items[i];
  return out;
}

std::string Rate(double v) {
  char buf[32];
  if (v >= 1e6) {
    std::snprintf(buf, sizeof buf, "%.2fM", v / 1e6);
  } else if (v >= 100) {
    std::snprintf(buf, sizeof buf, "%.0f", v);
  } else {
    std::snprintf(buf, sizeof buf, "%.1f", v);
  }
  return buf;
}

namespace {

std::atomic<int> g_stop_signal{0};

void OnStopSignal(int sig) {
  g_stop_signal.store(sig);
  std::signal(SIGINT, SIG_DFL);
  std::signal(SIGTERM, SIG_DFL);
}

}  // namespace

StopOnSignals::StopOnSignals() {
  g_stop_signal.store(0);
  std::signal(SIGINT, OnStopSignal);
  std::signal(SIGTERM, OnStopSignal);
}

StopOnSignals::~StopOnSignals() {
  std::signal(SIGINT, SIG_DFL);
  std::signal(SIGTERM, SIG_DFL);
}

bool StopOnSignals::stopped() const { return g_stop_signal.load() != 0; }

std::string StopOnSignals::signal_name() const {
  switch (g_stop_signal.load()) {
    case 0: return "";
    case SIGINT: return "SIGINT";
    case SIGTERM: return "SIGTERM";
    default: return "signal " + std::to_string(g_stop_signal.load());
  }
}

std::string CheckOutputFolder(const std::string& dir, bool create) {
  if (dir.empty()) return "an empty output folder name";
  struct stat st;
  if (stat(dir.c_str(), &st) != 0) {
    if (errno != ENOENT) return dir + ": " + std::strerror(errno);
    if (!create) {
      std::filesystem::path up = std::filesystem::path(dir).lexically_normal();
      while (true) {
        up = up.has_relative_path() ? up.parent_path() : up;
        std::string at = up.empty() ? "." : up.string();
        if (stat(at.c_str(), &st) == 0) {
          if (!S_ISDIR(st.st_mode)) {
            return dir + ": cannot create folder: " + at + " is not a folder";
          }
          std::string probe = at + "/.amc-write-check-XXXXXX";
          int fd = mkstemp(probe.data());
          if (fd < 0) {
            return dir + ": cannot create folder: " + std::strerror(errno);
          }
          close(fd);
          unlink(probe.c_str());
          return "";
        }
        if (errno != ENOENT) return dir + ": " + at + ": " + std::strerror(errno);
        if (up.empty() || !up.has_relative_path()) return dir + ": no existing parent folder";
      }
    }
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec) return dir + ": cannot create folder: " + ec.message();
    if (stat(dir.c_str(), &st) != 0) return dir + ": " + std::strerror(errno);
  }
  if (!S_ISDIR(st.st_mode)) return dir + ": not a folder";
  std::string probe = dir + "/.amc-write-check-XXXXXX";
  int fd = mkstemp(probe.data());
  if (fd < 0) return dir + ": not writable: " + std::strerror(errno);
  close(fd);
  unlink(probe.c_str());
  return "";
}

std::string CheckOutputFile(const std::string& file) {
  if (file.empty()) return "an empty output file name";
  struct stat st;
  if (stat(file.c_str(), &st) == 0) {
    if (S_ISDIR(st.st_mode)) return file + ": is a folder, not a file";
    // /dev/stdout, a FIFO a reader waits on: written as given, not opened
    // here (opening a FIFO could wait for a reader).
    if (!S_ISREG(st.st_mode)) return "";
    int fd = open(file.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) return file + ": cannot write: " + std::strerror(errno);
    close(fd);
    return "";
  }
  if (errno != ENOENT) return file + ": " + std::strerror(errno);
  std::string parent = std::filesystem::path(file).parent_path().string();
  if (parent.empty()) parent = ".";
  if (stat(parent.c_str(), &st) != 0) {
    return file + ": folder " + parent + ": " + std::strerror(errno);
  }
  std::string error = CheckOutputFolder(parent);
  return error.empty() ? "" : file + ": cannot be written: " + error;
}

}  // namespace amc::cli
