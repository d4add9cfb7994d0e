// plugin/plugin_host.h: which program a plug-in's child process execs.
//
// The child is a fresh program image that serves one plug-in (see
// plugin_backend.h). By default that image is amc itself (/proc/self/exe).
// A statically linked amc (the release bundle's, `amc_static`) makes a
// static child, and glibc's dlopen from a static program cannot start every
// plug-in: a Go -buildmode=c-shared library's runtime crashes while
// loading. So a static amc execs the small dynamically linked plug-in host
// (`amc-plugin-host`, plugin/plugin_host_main.cc) that the bundle and the
// package install beside it, at BIN/../libexec/amc/amc-plugin-host.
//
//   AMC_PLUGIN_HOST=PATH   exec PATH (any amc build's host, or amc itself)
//   AMC_PLUGIN_HOST=self   exec /proc/self/exe, even from a static amc
//   unset                  a static amc execs BIN/../libexec/amc/amc-plugin-host
//                          when it is executable, else itself; a dynamic amc
//                          execs itself
//
// Invariant: the host is only ever exec'd with the same protocol as the
// amc that chose it (they come from one build, one install or one bundle);
// AMC_PLUGIN_HOST is for pointing a build tree's amc_static at its host.
#ifndef AMC_PLUGIN_PLUGIN_HOST_H_
#define AMC_PLUGIN_PLUGIN_HOST_H_

#include <string>

namespace amc::plugin {

inline constexpr char kSelfExe[] = "/proc/self/exe";
inline constexpr char kPluginHostVar[] = "AMC_PLUGIN_HOST";
// Relative to the directory of the amc executable.
inline constexpr char kPluginHostRelative[] = "../libexec/amc/amc-plugin-host";

struct ChildProgram {
  std::string path;  // what execve runs: kSelfExe or a host
  // Set when a plug-in's failure to load may come from the choice: a static
  // amc with no host where one was looked for, or a named host. Appended to
  // load errors.
  std::string note;
  // Set when AMC_PLUGIN_HOST names something that cannot be exec'd: the
  // plug-in is refused with this message rather than served elsewhere.
  std::string error;
};

// The choice from its inputs: `host_var` is AMC_PLUGIN_HOST (nullptr when
// unset); `is_static` says this program has no program interpreter;
// `self_path` is its resolved path ("" when unknown).
ChildProgram ChooseChildProgram(const char* host_var, bool is_static,
                                const std::string& self_path);
// The same for this process.
ChildProgram ChooseChildProgram();

// True when this process was started without a program interpreter
// (statically linked).
bool IsStaticProgram();

}  // namespace amc::plugin

#endif  // AMC_PLUGIN_PLUGIN_HOST_H_
