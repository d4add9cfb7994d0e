// fuzzers/replay_main.cc: the main() every fuzz target links in ordinary
// builds, so fuzzers build and run everywhere (ctest replays their seed
// corpora) without libFuzzer.
//
//   X_replay FILE|DIR...                    run each input once (dirs recursed)
//   X_replay --to-ops [--record-with=NAME] FILE
//                                           print the input as a .ops case
//
// Arguments starting with '-' other than these are libFuzzer flags and are
// ignored, so a libFuzzer command line also works here.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "fuzzers/fuzz_target.h"

extern "C" __attribute__((weak)) int LLVMFuzzerInitialize(int* argc, char*** argv);

namespace {

bool ReadFile(const std::string& path, std::vector<uint8_t>* bytes) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  bytes->assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  return true;
}

int Usage(const char* argv0) {
  std::fprintf(stderr,
               "usage: %s FILE|DIR...\n"
               "       %s --to-ops [--record-with=BACKEND] FILE\n",
               argv0, argv0);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  if (LLVMFuzzerInitialize) LLVMFuzzerInitialize(&argc, &argv);
  bool to_ops = false;
  std::string record_with;
  std::vector<std::string> paths;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--to-ops") {
      to_ops = true;
    } else if (arg.rfind("--record-with=", 0) == 0) {
      record_with = arg.substr(14);
    } else if (arg == "--help" || arg == "-h") {
      return Usage(argv[0]);
    } else if (!arg.empty() && arg[0] == '-') {
      continue;  // a libFuzzer flag
    } else {
      paths.push_back(arg);
    }
  }
  if (paths.empty()) return Usage(argv[0]);

  if (to_ops) {
    if (paths.size() != 1) return Usage(argv[0]);
    std::vector<uint8_t> bytes;
    if (!ReadFile(paths[0], &bytes)) {
      std::fprintf(stderr, "cannot read %s\n", paths[0].c_str());
      return 1;
    }
    std::string name = std::filesystem::path(paths[0]).filename().string();
    std::string out;
    bool ok = amc::fuzzers::ToOps(bytes.data(), bytes.size(), name, record_with, &out);
    std::fprintf(ok ? stdout : stderr, "%s%s", out.c_str(), ok ? "" : "\n");
    return ok ? 0 : 1;
  }

  std::vector<std::string> files;
  for (const std::string& path : paths) {
    std::error_code ec;
    if (std::filesystem::is_directory(path, ec)) {
      // error_code forms throughout: a symlink loop or an unreadable folder
      // is named and ends the run, never an uncaught filesystem_error.
      std::filesystem::recursive_directory_iterator it(path, ec), end;
      for (; !ec && it != end; it.increment(ec)) {
        std::error_code entry_ec;
        if (it->is_regular_file(entry_ec)) files.push_back(it->path().string());
        if (entry_ec) {
          std::fprintf(stderr, "%s: %s\n", it->path().c_str(),
                       entry_ec.message().c_str());
          return 1;
        }
      }
      if (ec) {
        std::fprintf(stderr, "%s: %s\n", path.c_str(), ec.message().c_str());
        return 1;
      }
    } else if (std::filesystem::exists(path, ec)) {
      files.push_back(path);
    } else {
      std::fprintf(stderr, "no such file or directory: %s\n", path.c_str());
      return 1;
    }
  }
  std::sort(files.begin(), files.end());
  for (const std::string& file : files) {
    std::vector<uint8_t> bytes;
    if (!ReadFile(file, &bytes)) {
      std::fprintf(stderr, "cannot read %s\n", file.c_str());
      return 1;
    }
    LLVMFuzzerTestOneInput(bytes.data(), bytes.size());
  }
  std::printf("%s: ran %zu inputs\n", argv[0], files.size());
  return files.empty() ? 1 : 0;
}
