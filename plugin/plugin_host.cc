// plugin/plugin_host.cc: choosing the program a plug-in's child execs.
#include "plugin/plugin_host.h"

#include <sys/auxv.h>
#include <sys/stat.h>
#include <unistd.h>

#include <climits>
#include <cstdlib>
#include <cstring>

namespace amc::plugin {
namespace {

bool IsExecutableFile(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
         access(path.c_str(), X_OK) == 0;
}

std::string SelfPath() {
  char buf[PATH_MAX];
  ssize_t n = readlink(kSelfExe, buf, sizeof(buf) - 1);
  if (n <= 0) return "";
  return std::string(buf, static_cast<size_t>(n));
}

}  // namespace

bool IsStaticProgram() {
  // The kernel passes the program interpreter's load address as AT_BASE,
  // and 0 when the program has none (static, static-pie).
  return getauxval(AT_BASE) == 0;
}

ChildProgram ChooseChildProgram(const char* host_var, bool is_static,
                                const std::string& self_path) {
  ChildProgram c;
  c.path = kSelfExe;
  if (host_var && std::strcmp(host_var, "self") == 0) return c;
  if (host_var && *host_var) {
    if (!IsExecutableFile(host_var)) {
      c.error = std::string(kPluginHostVar) + "=" + host_var +
                " is not an executable file (it names the plug-in host, "
                "amc-plugin-host, that runs a plug-in's child process; "
                "'self' runs amc itself)";
      return c;
    }
    c.path = host_var;
    c.note = std::string("the child ran the plug-in host ") + host_var +
             " (" + kPluginHostVar + ")";
    return c;
  }
  if (!is_static) return c;
  std::string dir = self_path.substr(0, self_path.find_last_of('/') + 1);
  std::string host = dir.empty() ? "" : dir + kPluginHostRelative;
  if (!host.empty() && IsExecutableFile(host)) {
    c.path = host;
    c.note = "the child ran the plug-in host " + host;
    return c;
  }
  c.note = "amc is statically linked and found no plug-in host at " +
           (host.empty() ? std::string("BIN/") + kPluginHostRelative : host) +
           ", so the child ran the static amc, whose dlopen cannot start "
           "every plug-in (a Go runtime crashes): install amc-plugin-host "
           "there (the release bundle and the package have it) or set " +
           kPluginHostVar + " to its path";
  return c;
}

ChildProgram ChooseChildProgram() {
  return ChooseChildProgram(std::getenv(kPluginHostVar), IsStaticProgram(),
                            SelfPath());
}

}  // namespace amc::plugin
