#include "plugin/sanitizer_runtime.h"

#include <dlfcn.h>
#include <elf.h>
#include <glob.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <sstream>

namespace amc::plugin {
namespace {

// The path `clang -print-file-name=libclang_rt.asan-x86_64.so` gave when
// amc was configured (plugin/CMakeLists.txt), or "".
#ifndef AMC_CLANG_ASAN_RUNTIME
#define AMC_CLANG_ASAN_RUNTIME ""
#endif

bool FileExists(const std::string& path) {
  return !path.empty() && access(path.c_str(), R_OK) == 0;
}

template <class T>
bool ReadAt(const std::string& file, uint64_t offset, T* out) {
  if (offset > file.size() || file.size() - offset < sizeof(T)) return false;
  std::memcpy(out, file.data() + offset, sizeof(T));
  return true;
}

// The NUL-terminated string at `offset` of the string table section
// `strtab`, or "" when it lies outside.
std::string StringAt(const std::string& file, const Elf64_Shdr& strtab,
                     uint64_t offset) {
  if (offset >= strtab.sh_size || strtab.sh_offset > file.size() ||
      file.size() - strtab.sh_offset < strtab.sh_size) {
    return "";
  }
  const char* begin = file.data() + strtab.sh_offset + offset;
  size_t room = strtab.sh_size - offset;
  return std::string(begin, strnlen(begin, room));
}

bool StartsWith(const std::string& s, const char* prefix) {
  return s.compare(0, std::strlen(prefix), prefix) == 0;
}

// Our own defaults first: a sanitizer reads its option string left to
// right, so the user's own options (appended) win.
std::string WithDefaults(const char* name, const char* defaults) {
  const char* user = std::getenv(name);
  std::string value = std::string(name) + "=" + defaults;
  if (user && *user) value += std::string(":") + user;
  return value;
}

}  // namespace

SanitizerNeeds ReadSanitizerNeeds(const std::string& path) {
  SanitizerNeeds needs;
  std::ifstream in(path, std::ios::binary);
  if (!in) return needs;
  std::string file((std::istreambuf_iterator<char>(in)),
                   std::istreambuf_iterator<char>());
  Elf64_Ehdr eh;
  if (!ReadAt(file, 0, &eh) || std::memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 ||
      eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_shentsize != sizeof(Elf64_Shdr)) {
    return needs;
  }
  std::vector<Elf64_Shdr> sections(eh.e_shnum);
  for (size_t i = 0; i < sections.size(); ++i) {
    if (!ReadAt(file, eh.e_shoff + i * sizeof(Elf64_Shdr), &sections[i])) {
      return needs;
    }
  }
  for (const Elf64_Shdr& sh : sections) {
    if (sh.sh_link >= sections.size()) continue;
    const Elf64_Shdr& strtab = sections[sh.sh_link];
    if (sh.sh_type == SHT_DYNSYM) {
      needs.readable = true;
      for (uint64_t at = sh.sh_offset + sizeof(Elf64_Sym);
           at + sizeof(Elf64_Sym) <= sh.sh_offset + sh.sh_size;
           at += sizeof(Elf64_Sym)) {
        Elf64_Sym sym;
        if (!ReadAt(file, at, &sym)) break;
        if (sym.st_shndx != SHN_UNDEF) continue;  // its own, not needed
        std::string name = StringAt(file, strtab, sym.st_name);
        if (name == "__asan_init" ||
            StartsWith(name, "__asan_version_mismatch_check")) {
          needs.asan = true;
        } else if (StartsWith(name, "__ubsan_handle_")) {
          needs.ubsan = true;
        }
      }
    } else if (sh.sh_type == SHT_DYNAMIC) {
      for (uint64_t at = sh.sh_offset;
           at + sizeof(Elf64_Dyn) <= sh.sh_offset + sh.sh_size;
           at += sizeof(Elf64_Dyn)) {
        Elf64_Dyn dyn;
        if (!ReadAt(file, at, &dyn) || dyn.d_tag == DT_NULL) break;
        if (dyn.d_tag != DT_NEEDED) continue;
        std::string name = StringAt(file, strtab, dyn.d_un.d_val);
        if (StartsWith(name, "libasan.so") ||
            StartsWith(name, "libclang_rt.asan")) {
          needs.needed_runtime = name;
          needs.asan = true;
        }
      }
    }
  }
  return needs;
}

std::string FindClangAsanRuntime() {
  if (FileExists(AMC_CLANG_ASAN_RUNTIME)) return AMC_CLANG_ASAN_RUNTIME;
  glob_t found{};
  std::string best;
  if (glob("/usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.asan-x86_64.so",
           0, nullptr, &found) == 0 && found.gl_pathc > 0) {
    // The last in glob's (sorted) order: the newest release as a rule.
    best = found.gl_pathv[found.gl_pathc - 1];
  }
  globfree(&found);
  return best;
}

SanitizerPlan PlanSanitizerRuntime(const std::string& path) {
  SanitizerPlan plan;
  const char* forced = std::getenv("AMC_PLUGIN_PRELOAD");
  SanitizerNeeds needs = ReadSanitizerNeeds(path);
  const bool have_asan = dlsym(RTLD_DEFAULT, "__asan_init") != nullptr;
  if (forced && *forced) {
    plan.preload = forced;
  } else if (needs.asan && !have_asan) {
    if (!needs.needed_runtime.empty() &&
        StartsWith(needs.needed_runtime, "libasan.so")) {
      // gcc's runtime: the dynamic loader finds it by its soname.
      plan.preload = needs.needed_runtime;
    } else {
      plan.preload = FindClangAsanRuntime();
      if (plan.preload.empty()) {
        plan.error = path +
                     " is built with AddressSanitizer, and no clang ASan "
                     "runtime (libclang_rt.asan-x86_64.so) was found to "
                     "preload into its child process: install clang, or set "
                     "AMC_PLUGIN_PRELOAD to the runtime's path";
        return plan;
      }
    }
  }
  if (!needs.asan && !needs.ubsan && plan.preload.empty()) return plan;
  if (!plan.preload.empty()) {
    const char* old = std::getenv("LD_PRELOAD");
    plan.env.push_back("LD_PRELOAD=" + plan.preload +
                       (old && *old ? std::string(":") + old : ""));
  }
  // A report stops the child (halt_on_error) with an exit status, not a
  // signal (abort_on_error=0): the parent reads the report from the
  // child's stderr. Leaks are not the op's fault (maps live on between
  // ops): off unless the user's ASAN_OPTIONS turn them on.
  plan.env.push_back(WithDefaults(
      "ASAN_OPTIONS",
      "abort_on_error=0:halt_on_error=1:detect_leaks=0:log_path=stderr:"
      "symbolize=1:print_summary=1"));
  plan.env.push_back(WithDefaults("UBSAN_OPTIONS",
                                  "halt_on_error=1:print_stacktrace=1:"
                                  "abort_on_error=0:log_path=stderr"));
  return plan;
}

std::string ExtractSanitizerReport(const std::string& stderr_text,
                                   size_t frames) {
  // A frame of a C++ template names every type: a line's worth is kept.
  constexpr size_t kMaxLine = 200;
  std::vector<std::string> lines;
  std::istringstream in(stderr_text);
  for (std::string line; std::getline(in, line);) {
    if (line.size() > kMaxLine) line = line.substr(0, kMaxLine) + "...";
    lines.push_back(line);
  }
  auto is_start = [](const std::string& l) {
    return l.find("ERROR: AddressSanitizer") != std::string::npos ||
           l.find("ERROR: LeakSanitizer") != std::string::npos ||
           l.find(": runtime error: ") != std::string::npos;
  };
  auto is_frame = [](const std::string& l) {
    size_t i = l.find_first_not_of(' ');
    return i != std::string::npos && l[i] == '#' && i + 1 < l.size() &&
           std::isdigit(static_cast<unsigned char>(l[i + 1]));
  };
  auto start = std::find_if(lines.begin(), lines.end(), is_start);
  if (start == lines.end()) return "";
  std::string out = *start;
  size_t kept_frames = 0;
  bool in_stack = false;
  auto it = start + 1;
  for (; it != lines.end(); ++it) {
    if (is_frame(*it)) {
      in_stack = true;
      if (kept_frames++ < frames) out += "\n" + *it;
    } else if (in_stack || it->empty() || StartsWith(*it, "SUMMARY:")) {
      break;  // the end of the first stack
    } else {
      out += "\n" + *it;  // "WRITE of size 1 at ... thread T0"
    }
  }
  if (kept_frames > frames) {
    out += "\n    (" + std::to_string(kept_frames - frames) + " more frames)";
  }
  for (; it != lines.end(); ++it) {
    if (StartsWith(*it, "SUMMARY:")) {
      out += "\n" + *it;
      break;
    }
  }
  return out;
}

}  // namespace amc::plugin
