// plugin/plugin_backend.h: a plug-in (plugin/amc_plugin.h) as an ordinary
// core::Backend named "plugin:<file name>", run in a child process so that
// a plug-in that crashes, hangs or corrupts memory cannot take the campaign
// down. `--backends model,plugin:PATH` makes one through the registry.
//
// Isolation: one child per backend (fork, then exec of this same program
// (/proc/self/exe), or of the plug-in host a static amc uses
// (plugin/plugin_host.h), whose start-up hook sees AMC_PLUGIN_CHILD_* in its
// environment and serves the plug-in instead of running main; the child
// then dlopens the plug-in; this process never runs plug-in code). The exec
// matters: a forked copy of a multi-threaded process may inherit locks held
// by its other threads (a sanitizer's allocator among them) and hang; a new
// program image holds none. Only where the exec fails (no /proc) does the
// forked copy serve directly. Requests and replies go over a socket
// pair, each reply bounded by a timeout. When the child dies on a signal,
// the op being run gets core::kErrCrashedBase + signal ("CRASH_SIGSEGV");
// when it does not answer in time it is killed and the op gets
// core::kErrHung ("HANG"); a write past an output buffer gives
// core::kErrOverrun; a child a sanitizer stopped (an ASan or UBSan report
// in its stderr) gives core::kErrSanitizer ("SANITIZER"), the report's
// first lines attached. These pseudo-errnos differ from every real answer, so
// the differential runner reports a divergence at that op, with the
// sequence; the next Create() starts a fresh child, so the run goes on.
//
// Plug-ins built with -fsanitize=address[,undefined]: the child gets the
// sanitizer runtime preloaded and its options (plugin/sanitizer_runtime.h,
// docs/plugins.md "Plug-ins under sanitizers").
//
// Invariant: every child this class starts is reaped (on destruction, on a
// crash, after a hang); no fd or process outlives the backend.
#ifndef AMC_PLUGIN_PLUGIN_BACKEND_H_
#define AMC_PLUGIN_PLUGIN_BACKEND_H_

#include <bitset>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "core/backend.h"
#include "plugin/amc_plugin.h"

namespace amc::plugin {

struct PluginOptions {
  // Bound on each reply (creation, one op, a state read). Default: the
  // AMC_PLUGIN_TIMEOUT_MS environment variable, else 10000.
  int timeout_ms = 0;
  // Bound on loading the plug-in (dlopen, its constructors, the table),
  // counted from the moment the child reports it is running, so a slow
  // start-up (a loaded machine, a sanitizer runtime) never counts. Default:
  // AMC_PLUGIN_LOAD_TIMEOUT_MS, else the larger of timeout_ms and 20000.
  int load_timeout_ms = 0;
};

class PluginBackend : public core::Backend {
 public:
  // Starts a child that loads `path` (refused with a message for a missing
  // file or symbol, an ABI version mismatch or an inconsistent table).
  // `env`: the environment to answer as (default: this machine's).
  static std::unique_ptr<PluginBackend> Open(
      const std::string& path, const std::optional<core::Environment>& env,
      std::string* error, PluginOptions options = {});
  ~PluginBackend() override;

  std::string Name() const override { return name_; }
  core::Availability Probe() override { return availability_; }
  // The environment it answers as; its kernel_release is the plug-in's
  // target_release when it declares one (ABI 3).
  core::Environment Env() const override;
  core::CreateResult Create(const core::MapSpec& spec) override;
  bool Supports(core::OpKind kind) const override {
    return supported_ops_ & (1u << static_cast<unsigned>(kind));
  }
  // A map type or creation flag the plug-in declares unsupported (ABI 3).
  std::string UnsupportedSpec(const core::MapSpec& spec) const override;
  // The Linux release the plug-in means to match (amc_plugin.
  // target_release), or "" for the release amc runs on.
  const std::string& target_release() const { return target_release_; }
  // The ABI version the plug-in was built against (amc_plugin.abi_version).
  uint32_t abi_version() const { return abi_version_; }
  // Its declarations as an amc_plugin (only the ABI 3 fields are set).
  const amc_plugin& declarations() const { return declared_; }

  // The plug-in's own name for itself (amc_plugin.name).
  const std::string& implementation_name() const { return impl_name_; }
  // Why the plug-in leaves `kind` out ("" when it implements it).
  std::string UnsupportedReason(core::OpKind kind) const override;
  // Every failure of a child so far (what TakeFailureReport handed out),
  // first lines only.
  const std::vector<std::string>& incidents() const { return incidents_; }
  // "CRASH_SIGSEGV while destroying a map\n<pid, signal or status>\n<the
  // tail of the child's stderr>", each failure since the last call.
  std::string TakeFailureReport() override;
  // Ends the child (and its process group) now; the next Create() starts
  // a fresh one.
  void Restart() override;
  // The child's process id (its process group's), -1 when none runs.
  int child_pid() const { return pid_; }

  // Internals shared with the map proxies.
  struct Reply;
  // Sends `request`; on a failure, records it as happening `context`
  // ("while destroying a map").
  Reply Call(const std::string& request, const std::string& context);
  uint64_t generation() const { return generation_; }
  // Records a failure for TakeFailureReport (and incidents()): a stable
  // first line ("CRASH_SIGSEGV while destroying a map"), then details.
  // Called on the backend's thread, outside Call.
  void AddFailure(const std::string& first_line, const std::string& details);

 private:
  PluginBackend() = default;
  bool Spawn(std::string* error);
  // Reaps the child and its group; returns the pseudo-errno and sets
  // `*death` to how it died.
  int Fail(int err, std::string* death);
  // Ends the child: `graceful` closes its socket and gives it a second to
  // exit first. Either way its process group is killed.
  void Stop(bool graceful);
  // Kills the group, reaps the child; `*status` its wait status. Returns
  // false when the child had to be killed.
  bool EndChild(int grace_ms, int* status);
  std::string StderrTail();
  // The last `bytes` of the child's stderr (after the tail kept from before
  // the file was emptied).
  std::string StderrText(size_t bytes);

  std::string path_;
  // "NAME=value" entries the child gets in place of the parent's: a
  // sanitized plug-in's runtime (LD_PRELOAD) and options
  // (plugin/sanitizer_runtime.h); empty for an ordinary plug-in.
  std::vector<std::string> child_env_;
  std::string name_;
  std::string impl_name_;
  core::Environment env_;
  PluginOptions options_;
  core::Availability availability_;
  uint32_t supported_ops_ = 0;
  std::vector<std::string> reasons_;
  std::string target_release_;
  std::string types_reason_;
  std::string flags_reason_;
  amc_plugin declared_{};
  uint32_t abi_version_ = 0;
  std::vector<std::string> incidents_;
  std::string pending_failures_;  // for TakeFailureReport
  std::mutex mu_;  // one request at a time on the socket
  int fd_ = -1;
  int pid_ = -1;
  int stderr_fd_ = -1;      // the child's stderr: a memory file
  std::string stderr_kept_;  // its tail from before the file was emptied
  uint64_t calls_ = 0;
  int last_exit_status_ = -1;  // set by Fail: the child's, -1 if none
  uint64_t generation_ = 0;  // bumped whenever a child goes away
};

struct PluginBackend::Reply {
  int err = 0;  // 0, or a pseudo-errno: the child crashed / hung / was lost
  std::string payload;
};

// The op kinds every backend in `backends` implements: what a generator may
// produce for them (gen::GenOptions::kinds).
std::bitset<core::kOpKindCount> CommonKinds(
    const std::vector<core::Backend*>& backends);

// One op kind a backend leaves out, and why.
struct LeftOutKind {
  std::string backend;
  core::OpKind kind;
  std::string reason;
};
// Every kind some backend in `backends` leaves out, for summaries (so that
// a pass never hides missing coverage), with Backend::UnsupportedReason()
// ("not implemented" when a backend gives none).
std::vector<LeftOutKind> LeftOutKinds(
    const std::vector<core::Backend*>& backends);
// "plugin:libx.so leaves out mmap (no mmap support), ..." or "".
std::string DescribeLeftOutKinds(const std::vector<LeftOutKind>& left_out);

// In a plug-in child this program was exec'd as (its environment names the
// plug-in), serves it and never returns; else returns at once. Runs before
// main in every program that links the loader; the plug-in host's main
// (plugin/plugin_host_main.cc) calls it too.
void ServeIfPluginChild();

// For the registry: the path in a "plugin:PATH" backend entry, or nullopt.
std::optional<std::string> PluginPathOf(const std::string& entry);

}  // namespace amc::plugin

#endif  // AMC_PLUGIN_PLUGIN_BACKEND_H_
