// plugin/plugin_backend.cc: the parent side (request, wait with a bound,
// reap) and the child side (load the plug-in, serve requests) of plug-in
// isolation.
#include "plugin/plugin_backend.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "core/ops_text.h"
#include "core/state_digest.h"
#include "plugin/direct_backend.h"
#include "plugin/plugin_host.h"
#include "plugin/sanitizer_runtime.h"

namespace amc::plugin {
namespace {

// ---- wire format: little helpers for length-prefixed binary messages ----

// kStateChunk and kStateDigests read a huge map's final state a chunk at a
// time (core/state_digest.h): the child digests the chunks itself, and
// sends bytes only for a chunk whose digest differed, so no message grows
// with the map (a whole state of 2^32 bytes or more is past kMaxFrame).
enum Command : uint8_t {
  kCreate = 1, kExecute = 2, kState = 3, kDestroy = 4,
  kStateChunk = 5,    // id, part, offset, length -> bytes
  kStateDigests = 6,  // id, part, offset, length, chunk -> count, digests
};

class Writer {
 public:
  Writer& U8(uint8_t v) { return Raw(&v, 1); }
  Writer& U32(uint32_t v) { return Raw(&v, 4); }
  Writer& U64(uint64_t v) { return Raw(&v, 8); }
  Writer& Str(const std::string& s) {
    U64(s.size());
    return Raw(s.data(), s.size());
  }
  Writer& Bytes(const std::vector<uint8_t>& b) {
    U64(b.size());
    return Raw(b.data(), b.size());
  }
  std::string Take() { return std::move(out_); }

 private:
  Writer& Raw(const void* p, size_t n) {
    out_.append(static_cast<const char*>(p), n);
    return *this;
  }
  std::string out_;
};

class Reader {
 public:
  explicit Reader(const std::string& in) : in_(in) {}
  bool ok() const { return ok_; }
  uint8_t U8() {
    uint8_t v = 0;
    Raw(&v, 1);
    return v;
  }
  uint32_t U32() {
    uint32_t v = 0;
    Raw(&v, 4);
    return v;
  }
  uint64_t U64() {
    uint64_t v = 0;
    Raw(&v, 8);
    return v;
  }
  std::string Str() {
    uint64_t n = U64();
    if (!ok_ || n > in_.size() - at_) {
      ok_ = false;
      return "";
    }
    std::string s = in_.substr(at_, n);
    at_ += n;
    return s;
  }
  std::vector<uint8_t> Bytes() {
    std::string s = Str();
    return std::vector<uint8_t>(s.begin(), s.end());
  }

 private:
  void Raw(void* p, size_t n) {
    if (!ok_ || n > in_.size() - at_) {
      ok_ = false;
      return;
    }
    std::memcpy(p, in_.data() + at_, n);
    at_ += n;
  }
  const std::string& in_;
  size_t at_ = 0;
  bool ok_ = true;
};

void PutResult(Writer& w, const core::Result& r) {
  w.U32(static_cast<uint32_t>(r.err)).U8(r.null);
  w.U8(r.value.has_value());
  if (r.value) w.Bytes(*r.value);
  w.U8(r.next_key.has_value()).U32(r.next_key.value_or(0));
  w.U8(r.count.has_value()).U32(r.count.value_or(0));
  w.U8(r.out_batch.has_value()).U32(r.out_batch.value_or(0));
  w.U8(r.keys.has_value());
  if (r.keys) {
    w.U64(r.keys->size());
    for (uint32_t k : *r.keys) w.U32(k);
  }
  w.U8(r.aligned.has_value()).U8(r.aligned.value_or(false));
  w.U8(r.old.has_value()).U64(r.old.value_or(0));
}

bool GetResult(Reader& rd, core::Result* r) {
  r->err = static_cast<int>(rd.U32());
  r->null = rd.U8();
  if (rd.U8()) r->value = rd.Bytes();
  if (rd.U8())
    r->next_key = rd.U32();
  else
    rd.U32();
  if (rd.U8())
    r->count = rd.U32();
  else
    rd.U32();
  if (rd.U8())
    r->out_batch = rd.U32();
  else
    rd.U32();
  if (rd.U8()) {
    uint64_t n = rd.U64();
    r->keys.emplace();
    for (uint64_t i = 0; i < n && rd.ok(); ++i) r->keys->push_back(rd.U32());
  }
  if (rd.U8())
    r->aligned = rd.U8() != 0;
  else
    rd.U8();
  if (rd.U8())
    r->old = rd.U64();
  else
    rd.U64();
  return rd.ok();
}

void PutSpec(Writer& w, const core::MapSpec& s) {
  w.U32(static_cast<uint32_t>(s.type)).U32(s.key_size).U32(s.value_size);
  w.U32(s.max_entries).U32(s.map_flags).U32(s.numa_node);
  w.U8(s.spin_lock_offset.has_value()).U32(s.spin_lock_offset.value_or(0));
}

core::MapSpec GetSpec(Reader& rd) {
  core::MapSpec s;
  s.type = static_cast<core::MapType>(rd.U32());
  s.key_size = rd.U32();
  s.value_size = rd.U32();
  s.max_entries = rd.U32();
  s.map_flags = rd.U32();
  s.numa_node = rd.U32();
  bool lock = rd.U8();
  uint32_t off = rd.U32();
  if (lock) s.spin_lock_offset = off;
  return s;
}

// An op travels as its .ops line (the format round-trips every op).
std::string OpText(const core::Op& op) {
  core::Sequence seq;
  seq.steps.push_back(core::Step{op, std::nullopt});
  return core::PrintOps(seq);
}

std::optional<core::Op> ParseOpText(const std::string& text) {
  auto parsed = core::ParseOps(text, "<plugin request>");
  auto* seq = std::get_if<core::Sequence>(&parsed);
  if (!seq || seq->steps.size() != 1) return std::nullopt;
  return seq->steps[0].op;
}

// ---- framing: u64 length, then the bytes ----

bool WriteAll(int fd, const char* p, size_t n) {
  while (n > 0) {
    ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    p += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}

bool SendFrame(int fd, const std::string& payload) {
  // One write per frame: the peer wakes once, not once for the length.
  uint64_t n = payload.size();
  std::string frame(reinterpret_cast<const char*>(&n), 8);
  frame += payload;
  return WriteAll(fd, frame.data(), frame.size());
}

enum class ReadStatus { kOk, kClosed, kTimeout };

// Reads exactly n bytes before `deadline` (none: wait forever).
ReadStatus ReadAll(
    int fd, char* p, size_t n,
    std::optional<std::chrono::steady_clock::time_point> deadline) {
  while (n > 0) {
    if (deadline) {
      // Rounded up, and a poll that ends empty re-checks the clock: the
      // child is declared hung only once the whole bound has passed, never
      // a fraction of a millisecond before it.
      auto left = std::chrono::ceil<std::chrono::milliseconds>(
                      *deadline - std::chrono::steady_clock::now())
                      .count();
      if (left <= 0) return ReadStatus::kTimeout;
      pollfd pfd{fd, POLLIN, 0};
      int ready =
          poll(&pfd, 1, static_cast<int>(std::min<long>(left, 1 << 30)));
      if (ready < 0 && errno == EINTR) continue;
      if (ready == 0) continue;
      if (ready < 0) return ReadStatus::kClosed;
    }
    ssize_t r = read(fd, p, n);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return ReadStatus::kClosed;
    p += r;
    n -= static_cast<size_t>(r);
  }
  return ReadStatus::kOk;
}

constexpr uint64_t kMaxFrame = uint64_t{1} << 32;

ReadStatus RecvFrame(
    int fd, std::string* out,
    std::optional<std::chrono::steady_clock::time_point> deadline) {
  uint64_t n = 0;
  ReadStatus s = ReadAll(fd, reinterpret_cast<char*>(&n), 8, deadline);
  if (s != ReadStatus::kOk) return s;
  if (n > kMaxFrame) return ReadStatus::kClosed;
  out->assign(n, '\0');
  return ReadAll(fd, out->data(), n, deadline);
}

// ---- the child ----

// The first frame a child sends, as soon as it runs (before the plug-in
// loads): the load bound counts from here.
constexpr uint8_t kChildUp = 2;

// Forks the guard of this child's process group: it waits for this process
// to die (PR_SET_PDEATHSIG), however it dies, then kills the group, itself
// included, so that nothing the plug-in started outlives the child. Holds
// no descriptor, so the socket closes when the child dies.
void StartGroupGuard() {
  if (getpgrp() != getpid()) return;  // not a group of our own: leave it
  sigset_t wake, old;
  sigemptyset(&wake);
  sigaddset(&wake, SIGUSR1);
  sigprocmask(SIG_BLOCK, &wake, &old);
  const pid_t child = getpid();
  pid_t guard = fork();
  if (guard == 0) {
    close_range(0, ~0u, 0);
    prctl(PR_SET_NAME, "amc-plugin-grd");
    prctl(PR_SET_PDEATHSIG, SIGUSR1);
    if (getppid() == child) {
      int sig = 0;
      while (sigwait(&wake, &sig) != 0) {
      }
    }
    kill(0, SIGKILL);
    _exit(0);
  }
  sigprocmask(SIG_SETMASK, &old, nullptr);
}

[[noreturn]] void ServeChild(int fd, const std::string& path,
                             const core::Environment& env) {
  // A fault kills the child by its signal even where a sanitizer runtime
  // installed handlers that would turn it into an exit code.
  for (int sig : {SIGSEGV, SIGBUS, SIGFPE, SIGILL}) signal(sig, SIG_DFL);
  StartGroupGuard();
  {
    Writer up;
    up.U8(kChildUp);
    if (!SendFrame(fd, up.Take())) _exit(0);
  }
  LoadedPlugin loaded;
  std::string error;
  Writer hello;
  if (!LoadPlugin(path, &loaded, &error)) {
    hello.U8(0).Str(error);
    SendFrame(fd, hello.Take());
    _exit(0);
  }
  const amc_plugin* t = loaded.table;
  DirectBackend backend(t, "", env);
  core::Availability availability = backend.Probe();
  hello.U8(1).Str(t->name ? t->name : "").U32(t->supported_ops);
  for (size_t k = 0; k < core::kOpKindCount; ++k) {
    const char* why = t->unsupported_reason[k];
    hello.Str((t->supported_ops & AMC_OP_BIT(k)) || !why ? "" : why);
  }
  hello.U8(availability.available).Str(availability.reason);
  // ABI 3 declarations (zero / empty for older tables: NormalizedTable).
  hello.Str(t->target_release ? t->target_release : "")
      .U32(t->unsupported_map_types)
      .Str(t->unsupported_map_types_reason ? t->unsupported_map_types_reason
                                           : "")
      .U32(t->unsupported_map_flags)
      .Str(t->unsupported_map_flags_reason ? t->unsupported_map_flags_reason
                                           : "")
      .U32(t->abi_version);
  if (!SendFrame(fd, hello.Take())) _exit(0);

  std::map<uint32_t, std::unique_ptr<core::MapInstance>> maps;
  uint32_t next_id = 1;
  std::string request;
  while (RecvFrame(fd, &request, std::nullopt) == ReadStatus::kOk) {
    Reader rd(request);
    Writer reply;
    switch (rd.U8()) {
      case kCreate: {
        core::CreateResult created = backend.Create(GetSpec(rd));
        uint32_t id = 0;
        if (created.err == 0) {
          id = next_id++;
          maps[id] = std::move(created.map);
        }
        reply.U32(static_cast<uint32_t>(created.err)).U32(id);
        break;
      }
      case kExecute: {
        uint32_t id = rd.U32();
        auto op = ParseOpText(rd.Str());
        auto it = maps.find(id);
        core::Result r = (op && it != maps.end())
                             ? it->second->Execute(*op)
                             : core::Result::Errno(core::kErrLost);
        PutResult(reply, r);
        break;
      }
      case kState: {
        auto it = maps.find(rd.U32());
        core::MapState s;
        if (it != maps.end()) s = it->second->ReadState();
        reply.Bytes(s.values).U8(s.mmap_data.has_value());
        if (s.mmap_data) reply.Bytes(*s.mmap_data);
        break;
      }
      case kStateChunk: {
        auto it = maps.find(rd.U32());
        const auto part = static_cast<core::StatePart>(rd.U8());
        const uint64_t offset = rd.U64();
        const uint64_t length = rd.U64();
        std::vector<uint8_t> bytes;
        if (it != maps.end() && length <= core::kStateChunkBytes * 4) {
          bytes.resize(length);
          it->second->ReadStateChunk(part, offset, length, bytes.data());
        }
        reply.Bytes(bytes);
        break;
      }
      case kStateDigests: {
        auto it = maps.find(rd.U32());
        const auto part = static_cast<core::StatePart>(rd.U8());
        const uint64_t offset = rd.U64();
        const uint64_t length = rd.U64();
        const uint64_t chunk = rd.U64();
        std::vector<uint64_t> digests;
        if (it != maps.end()) {
          digests = it->second->StateDigests(part, offset, length, chunk);
        }
        reply.U32(static_cast<uint32_t>(digests.size()));
        for (uint64_t d : digests) reply.U64(d);
        break;
      }
      case kDestroy:
        maps.erase(rd.U32());
        break;
      default:
        _exit(3);
    }
    if (!SendFrame(fd, reply.Take())) break;
  }
  _exit(0);  // the parent closed the socket; no map needs tidying
}

int EnvMs(const char* name, int otherwise) {
  const char* v = std::getenv(name);
  if (v && std::atoi(v) > 0) return std::atoi(v);
  return otherwise;
}

// Bound on a child's start-up (exec, a sanitizer runtime's start): no
// plug-in code runs before the child reports it is up, so this only has to
// outlast a loaded machine.
constexpr int kStartUpMs = 120000;

// The tail of a child's stderr that a report carries.
constexpr size_t kTailLines = 20;
constexpr size_t kTailBytes = 4096;
// How much of a child's stderr is searched for a sanitizer report (a
// report with its shadow map runs to a few KiB).
constexpr size_t kReportBytes = 64 << 10;
// Past this size the stderr file is emptied (its tail kept).
constexpr off_t kStderrFileCap = off_t{1} << 20;

std::string SignalName(int sig) {
  const char* abbrev = sigabbrev_np(sig);
  return abbrev ? std::string("SIG") + abbrev : "signal " + std::to_string(sig);
}

// The last kTailLines lines of `text`, at most kTailBytes of them.
std::string TailOf(std::string_view text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == '\0'))
    text.remove_suffix(1);
  if (text.size() > kTailBytes) text.remove_prefix(text.size() - kTailBytes);
  size_t lines = 0;
  for (size_t i = text.size(); i-- > 0;) {
    if (text[i] == '\n' && ++lines == kTailLines) {
      text.remove_prefix(i + 1);
      break;
    }
  }
  return std::string(text);
}

// ---- exec'd child: how the parent tells the new program image to serve ----

constexpr char kChildPathVar[] = "AMC_PLUGIN_CHILD_PATH";
constexpr char kChildEnvVar[] = "AMC_PLUGIN_CHILD_ENV";
constexpr int kChildFd = 3;

// "possible_cpus page_size online_cpus kernel_release" (the release may
// hold spaces).
std::string EncodeEnvironment(const core::Environment& env) {
  return std::to_string(env.possible_cpus) + " " +
         std::to_string(env.page_size) + " " + std::to_string(env.Online()) +
         " " + env.kernel_release;
}

std::optional<core::Environment> DecodeEnvironment(const char* text) {
  core::Environment env;
  char* end = nullptr;
  unsigned long cpus = std::strtoul(text, &end, 10);
  if (end == text || *end != ' ') return std::nullopt;
  const char* rest = end + 1;
  unsigned long page = std::strtoul(rest, &end, 10);
  if (end == rest || *end != ' ') return std::nullopt;
  rest = end + 1;
  unsigned long online = std::strtoul(rest, &end, 10);
  if (end == rest || *end != ' ') return std::nullopt;
  env.possible_cpus = static_cast<uint32_t>(cpus);
  env.page_size = static_cast<uint32_t>(page);
  env.online_cpus = static_cast<uint32_t>(online);
  env.kernel_release = end + 1;
  return env;
}

// Runs before main in every program that links the loader: in a child the
// loader exec'd, serve the plug-in on fd 3 and never return.
__attribute__((constructor)) void ServeIfExecedPluginChild() {
  const char* path = std::getenv(kChildPathVar);
  const char* env_text = std::getenv(kChildEnvVar);
  if (!path || !env_text) return;
  std::string plugin_path = path;
  std::optional<core::Environment> env = DecodeEnvironment(env_text);
  // Not inherited by anything the plug-in might start.
  unsetenv(kChildPathVar);
  unsetenv(kChildEnvVar);
  if (!env) _exit(0);  // the parent sees the socket close: "failed loading"
  ServeChild(kChildFd, plugin_path, *env);
}

// What the child execs with, all built before fork (a forked copy of a
// multi-threaded process must not allocate).
struct ExecPlan {
  ChildProgram program;  // /proc/self/exe or the plug-in host
  std::vector<std::string> strings;
  std::vector<char*> argv;
  std::vector<char*> envp;
};

// The name part of "NAME=value".
std::string_view EnvName(std::string_view entry) {
  return entry.substr(0, entry.find('='));
}

// `extra_env` ("NAME=value": a sanitizer runtime's LD_PRELOAD and options)
// replaces the parent's entries of the same names.
ExecPlan PlanExec(const std::string& path, const core::Environment& env,
                  const std::vector<std::string>& extra_env) {
  ExecPlan plan;
  plan.program = ChooseChildProgram();
  plan.strings.push_back("amc-plugin-child");
  plan.strings.push_back(std::string(kChildPathVar) + "=" + path);
  plan.strings.push_back(std::string(kChildEnvVar) + "=" +
                         EncodeEnvironment(env));
  for (const std::string& e : extra_env) plan.strings.push_back(e);
  for (char** e = environ; *e; ++e) {
    bool replaced = false;
    for (const std::string& x : extra_env) {
      replaced = replaced || EnvName(x) == EnvName(*e);
    }
    if (!replaced && std::strncmp(*e, "AMC_PLUGIN_CHILD_", 17) != 0) {
      plan.strings.push_back(*e);
    }
  }
  plan.argv = {plan.strings[0].data(), nullptr};
  for (size_t i = 1; i < plan.strings.size(); ++i) {
    plan.envp.push_back(plan.strings[i].data());
  }
  plan.envp.push_back(nullptr);
  return plan;
}

std::string BaseName(const std::string& path) {
  size_t slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// ---- one map, living in the child ----

class ProxyMap : public core::MapInstance {
 public:
  ProxyMap(PluginBackend* backend, uint32_t id)
      : backend_(backend), id_(id), generation_(backend->generation()) {}

  ~ProxyMap() override {
    if (!alive()) return;
    Writer w;
    w.U8(kDestroy).U32(id_);
    backend_->Call(w.Take(), "while destroying a map");
  }

  core::Result Execute(const core::Op& op) override {
    if (!alive()) return core::Result::Errno(dead_err_ ? dead_err_ : core::kErrLost);
    Writer w;
    w.U8(kExecute).U32(id_).Str(OpText(op));
    auto reply = backend_->Call(
        w.Take(), std::string("during ") +
                      core::OpKindName(core::KindOf(op)));
    if (reply.err) {
      dead_err_ = reply.err;
      return core::Result::Errno(reply.err);
    }
    Reader rd(reply.payload);
    core::Result r;
    if (!GetResult(rd, &r)) {
      backend_->AddFailure(std::string("LOST: a garbled answer during ") +
                               core::OpKindName(core::KindOf(op)),
                           "");
      return core::Result::Errno(core::kErrLost);
    }
    return r;
  }

  core::MapState ReadState() override {
    if (!alive()) return {};
    Writer w;
    w.U8(kState).U32(id_);
    auto reply = backend_->Call(w.Take(), "while reading the final map state");
    if (reply.err) {
      dead_err_ = reply.err;
      return {};
    }
    Reader rd(reply.payload);
    core::MapState s;
    s.values = rd.Bytes();
    if (rd.U8()) s.mmap_data = rd.Bytes();
    return s;
  }

  // Chunks of a huge state (core/state_digest.h). A child that died
  // answers nothing: the bytes stay zero and the digests empty, which the
  // runner reports with the child's failure report.
  void ReadStateChunk(core::StatePart part, uint64_t offset, uint64_t length,
                      uint8_t* out) override {
    std::memset(out, 0, length);
    if (!alive()) return;
    Writer w;
    w.U8(kStateChunk).U32(id_).U8(static_cast<uint8_t>(part)).U64(offset).U64(length);
    auto reply = backend_->Call(w.Take(), "while reading the final map state");
    if (reply.err) {
      dead_err_ = reply.err;
      return;
    }
    Reader rd(reply.payload);
    std::vector<uint8_t> bytes = rd.Bytes();
    if (!bytes.empty()) {
      std::memcpy(out, bytes.data(), std::min<uint64_t>(bytes.size(), length));
    }
  }

  std::vector<uint64_t> StateDigests(core::StatePart part, uint64_t offset,
                                     uint64_t length, uint64_t chunk) override {
    if (!alive()) return {};
    Writer w;
    w.U8(kStateDigests).U32(id_).U8(static_cast<uint8_t>(part)).U64(offset)
        .U64(length).U64(chunk);
    auto reply = backend_->Call(w.Take(), "while reading the final map state");
    if (reply.err) {
      dead_err_ = reply.err;
      return {};
    }
    Reader rd(reply.payload);
    const uint32_t count = rd.U32();
    if (!rd.ok() || count > (uint32_t{1} << 20)) return {};
    std::vector<uint64_t> digests(count);
    for (uint64_t& d : digests) d = rd.U64();
    if (!rd.ok()) return {};
    return digests;
  }

 private:
  bool alive() const {
    return backend_->generation() == generation_ && dead_err_ == 0;
  }
  PluginBackend* backend_;
  uint32_t id_;
  uint64_t generation_;
  // Set when the child died under this map (what every later op answers).
  int dead_err_ = 0;
};

}  // namespace

void ServeIfPluginChild() { ServeIfExecedPluginChild(); }

std::unique_ptr<PluginBackend> PluginBackend::Open(
    const std::string& path, const std::optional<core::Environment>& env,
    std::string* error, PluginOptions options) {
  std::unique_ptr<PluginBackend> b(new PluginBackend());
  b->path_ = path;
  b->name_ = "plugin:" + BaseName(path);
  b->env_ = env ? *env : core::HostEnvironment();
  b->options_ = options;
  if (b->options_.timeout_ms <= 0)
    b->options_.timeout_ms = EnvMs("AMC_PLUGIN_TIMEOUT_MS", 10000);
  if (b->options_.load_timeout_ms <= 0) {
    b->options_.load_timeout_ms = EnvMs(
        "AMC_PLUGIN_LOAD_TIMEOUT_MS", std::max(b->options_.timeout_ms, 20000));
  }
  // A plug-in built with a sanitizer gets its runtime and options.
  SanitizerPlan sanitizer = PlanSanitizerRuntime(path);
  if (!sanitizer.error.empty()) {
    *error = sanitizer.error;
    return nullptr;
  }
  b->child_env_ = std::move(sanitizer.env);
  if (!b->Spawn(error)) return nullptr;
  return b;
}

PluginBackend::~PluginBackend() { Stop(/*graceful=*/true); }

bool PluginBackend::Spawn(std::string* error) {
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
    *error = "socketpair: " + core::ErrnoName(errno);
    return false;
  }
  // The child's stderr, kept for reports (O_APPEND: emptying it restarts
  // the child's writes at offset 0).
  int err_fd = memfd_create("amc-plugin-stderr", MFD_CLOEXEC);
  if (err_fd < 0) {
    *error = "memfd_create: " + core::ErrnoName(errno);
    close(sv[0]);
    close(sv[1]);
    return false;
  }
  fcntl(err_fd, F_SETFL, fcntl(err_fd, F_GETFL) | O_APPEND);
  ExecPlan exec_plan = PlanExec(path_, env_, child_env_);
  if (!exec_plan.program.error.empty()) {
    *error = path_ + ": " + exec_plan.program.error;
    close(sv[0]);
    close(sv[1]);
    close(err_fd);
    return false;
  }
  // Appended to a load failure the exec target may explain.
  const std::string host_note =
      exec_plan.program.note.empty() ? "" : " [" + exec_plan.program.note + "]";
  fflush(nullptr);  // nothing buffered is written twice
  pid_t parent = getpid();
  pid_t pid = fork();
  if (pid < 0) {
    *error = "fork: " + core::ErrnoName(errno);
    close(sv[0]);
    close(sv[1]);
    close(err_fd);
    return false;
  }
  if (pid == 0) {
    // The child: a process group of its own (everything the plug-in starts
    // ends with it); die with the parent; keep only stdio (stderr into the
    // memory file) and our socket, so other children's sockets see their
    // end closed when the parent closes.
    setpgid(0, 0);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(0);
    signal(SIGPIPE, SIG_DFL);
    dup2(err_fd, STDERR_FILENO);  // the copy is not close-on-exec
    if (sv[1] != kChildFd) {
      dup2(sv[1], kChildFd);
    } else {
      fcntl(kChildFd, F_SETFD, 0);
    }
    close_range(kChildFd + 1, ~0u, 0);
    execve(exec_plan.program.path.c_str(), exec_plan.argv.data(),
           exec_plan.envp.data());
    // No /proc: serve from this copy (safe when the parent has one thread).
    ServeChild(kChildFd, path_, env_);
  }
  setpgid(pid, pid);  // also here: no signal may reach it in its old group
  close(sv[1]);
  fd_ = sv[0];
  pid_ = pid;
  stderr_fd_ = err_fd;
  stderr_kept_.clear();
  auto load_error = [&](ReadStatus s, const char* what, int bound_ms) {
    std::string death;
    int err = Fail(s == ReadStatus::kTimeout ? core::kErrHung : core::kErrLost,
                   &death);
    *error = path_ + ": the plug-in's child process failed " + what + " (" +
             core::ErrnoName(err) + "; bound " + std::to_string(bound_ms) +
             " ms): " + death + host_note;
    return false;
  };
  std::string hello;
  ReadStatus s = RecvFrame(
      fd_, &hello,
      std::chrono::steady_clock::now() + std::chrono::milliseconds(kStartUpMs));
  if (s != ReadStatus::kOk || hello.size() != 1 || hello[0] != kChildUp) {
    return load_error(s, "to start", kStartUpMs);
  }
  s = RecvFrame(fd_, &hello,
                std::chrono::steady_clock::now() +
                    std::chrono::milliseconds(options_.load_timeout_ms));
  if (s != ReadStatus::kOk) {
    return load_error(s, "while loading", options_.load_timeout_ms);
  }
  Reader rd(hello);
  if (!rd.U8()) {
    *error = rd.Str() + host_note;
    Stop(/*graceful=*/true);
    return false;
  }
  impl_name_ = rd.Str();
  supported_ops_ = rd.U32();
  reasons_.clear();
  for (size_t k = 0; k < core::kOpKindCount; ++k) reasons_.push_back(rd.Str());
  availability_.available = rd.U8();
  availability_.reason = rd.Str();
  declared_ = amc_plugin{};
  target_release_ = rd.Str();
  declared_.unsupported_map_types = rd.U32();
  types_reason_ = rd.Str();
  declared_.unsupported_map_flags = rd.U32();
  flags_reason_ = rd.Str();
  abi_version_ = rd.U32();
  declared_.unsupported_map_types_reason = types_reason_.c_str();
  declared_.unsupported_map_flags_reason = flags_reason_.c_str();
  if (!rd.ok()) {
    *error = path_ + ": garbled hello from the plug-in's child process";
    Stop(/*graceful=*/true);
    return false;
  }
  return true;
}

bool PluginBackend::EndChild(int grace_ms, int* status) {
  // Wait (without reaping: the id must stay the group's) for the child to
  // end on its own, then kill the group: what the plug-in started, and the
  // child itself when it did not end.
  bool ended = false;
  auto until = std::chrono::steady_clock::now() +
               std::chrono::milliseconds(grace_ms);
  for (int i = 0; !ended; ++i) {
    siginfo_t info{};
    int r = waitid(P_PID, static_cast<id_t>(pid_), &info,
                   WEXITED | WNOHANG | WNOWAIT);
    if (r < 0 && errno == EINTR) continue;
    ended = r < 0 || info.si_pid == pid_;
    if (ended || std::chrono::steady_clock::now() >= until) break;
    std::this_thread::sleep_for(std::chrono::microseconds(i < 50 ? 100 : 2000));
  }
  kill(-pid_, SIGKILL);
  if (!ended) kill(pid_, SIGKILL);
  *status = 0;
  while (waitpid(pid_, status, 0) < 0 && errno == EINTR) {
  }
  return ended;
}

int PluginBackend::Fail(int err, std::string* death) {
  death->clear();
  last_exit_status_ = -1;
  if (pid_ > 0) {
    const bool hung = err == core::kErrHung;
    const int pid = pid_;
    int status = 0;
    // The socket closed because the child is dying (a sanitizer may still
    // be writing its report): give it time to end before deciding it is
    // stuck (it closed the socket and lives on).
    bool ended = EndChild(hung ? 0 : 5000, &status);
    if (!ended) {
      *death = hung ? "gave no answer within " +
                          std::to_string(options_.timeout_ms) +
                          " ms and was killed"
                    : "closed its socket without exiting and was killed";
    } else if (WIFSIGNALED(status)) {
      // A signal we did not send is the plug-in's crash.
      err = core::kErrCrashedBase + WTERMSIG(status);
      *death = "was killed by " + SignalName(WTERMSIG(status));
    } else if (WIFEXITED(status)) {
      err = core::kErrLost;
      last_exit_status_ = WEXITSTATUS(status);
      *death = "exited with status " + std::to_string(WEXITSTATUS(status));
    }
    *death = "the child process " + std::to_string(pid) + " " + *death;
    // A sanitizer that stopped the child (an exit status, or a signal
    // where its options say abort) left a report: that, not the tail
    // (mostly its shadow-memory map), is what the finding carries.
    std::string report =
        ended ? ExtractSanitizerReport(StderrText(kReportBytes)) : "";
    if (!report.empty()) {
      err = core::kErrSanitizer;
      *death += " after a sanitizer report:\n" + report;
    } else {
      std::string tail = StderrTail();
      if (!tail.empty()) *death += "; the end of its stderr:\n" + tail;
    }
  }
  if (fd_ >= 0) close(fd_);
  if (stderr_fd_ >= 0) close(stderr_fd_);
  fd_ = -1;
  stderr_fd_ = -1;
  pid_ = -1;
  ++generation_;
  return err;
}

void PluginBackend::Stop(bool graceful) {
  if (pid_ > 0) {
    close(fd_);  // the child sees EOF and exits
    fd_ = -1;
    int status = 0;
    EndChild(graceful ? 1000 : 0, &status);
  }
  if (stderr_fd_ >= 0) close(stderr_fd_);
  stderr_fd_ = -1;
  pid_ = -1;
  ++generation_;
}

void PluginBackend::Restart() {
  std::lock_guard<std::mutex> lock(mu_);
  Stop(/*graceful=*/false);
}

std::string PluginBackend::StderrTail() {
  return TailOf(StderrText(kTailBytes));
}

std::string PluginBackend::StderrText(size_t bytes) {
  std::string text = stderr_kept_;
  struct stat st{};
  if (stderr_fd_ >= 0 && fstat(stderr_fd_, &st) == 0 && st.st_size > 0) {
    off_t from = std::max<off_t>(0, st.st_size - static_cast<off_t>(bytes));
    std::string buf(static_cast<size_t>(st.st_size - from), '\0');
    ssize_t n = pread(stderr_fd_, buf.data(), buf.size(), from);
    if (n > 0) text += buf.substr(0, static_cast<size_t>(n));
  }
  return text;
}

void PluginBackend::AddFailure(const std::string& first_line,
                               const std::string& details) {
  incidents_.push_back(first_line);
  if (!pending_failures_.empty()) pending_failures_ += "\n";
  pending_failures_ += first_line;
  if (!details.empty()) pending_failures_ += "\n" + details;
}

std::string PluginBackend::TakeFailureReport() {
  std::lock_guard<std::mutex> lock(mu_);
  return std::exchange(pending_failures_, std::string());
}

PluginBackend::Reply PluginBackend::Call(const std::string& request,
                                         const std::string& context) {
  std::lock_guard<std::mutex> lock(mu_);
  Reply reply;
  if (pid_ <= 0) {
    reply.err = core::kErrLost;
    return reply;
  }
  // Now and then, keep the stderr file small (a chatty plug-in).
  struct stat st{};
  if (++calls_ % 256 == 0 && fstat(stderr_fd_, &st) == 0 &&
      st.st_size > kStderrFileCap) {
    stderr_kept_ = StderrTail();
    if (ftruncate(stderr_fd_, 0) != 0) stderr_kept_.clear();
  }
  ReadStatus s = ReadStatus::kClosed;
  if (SendFrame(fd_, request)) {
    auto deadline = std::chrono::steady_clock::now() +
                    std::chrono::milliseconds(options_.timeout_ms);
    s = RecvFrame(fd_, &reply.payload, deadline);
  }
  if (s != ReadStatus::kOk) {
    std::string death;
    reply.err = Fail(s == ReadStatus::kTimeout ? core::kErrHung
                                               : core::kErrLost,
                     &death);
    std::string what = core::ErrnoName(reply.err);
    if (last_exit_status_ >= 0) {
      what += " (exit status " + std::to_string(last_exit_status_) + ")";
    }
    AddFailure(what + " " + context, death);
  }
  return reply;
}

core::CreateResult PluginBackend::Create(const core::MapSpec& spec) {
  core::CreateResult out;
  if (pid_ <= 0) {
    // No child (the first map after a crash, a hang or Restart()): start
    // a fresh one.
    std::string error;
    if (!Spawn(&error)) {
      AddFailure("LOST: no fresh child could start", error);
      out.err = core::kErrLost;
      return out;
    }
  }
  Writer w;
  w.U8(kCreate);
  PutSpec(w, spec);
  Reply reply = Call(w.Take(), "while creating a map");
  if (reply.err) {
    out.err = reply.err;
    return out;
  }
  Reader rd(reply.payload);
  out.err = static_cast<int>(rd.U32());
  uint32_t id = rd.U32();
  if (!rd.ok()) {
    AddFailure("LOST: a garbled answer while creating a map", "");
    out.err = core::kErrLost;
  } else if (out.err == 0) {
    out.map = std::make_unique<ProxyMap>(this, id);
  }
  return out;
}

core::Environment PluginBackend::Env() const {
  core::Environment env = env_;
  if (!target_release_.empty()) env.kernel_release = target_release_;
  return env;
}

std::string PluginBackend::UnsupportedSpec(const core::MapSpec& spec) const {
  return UnsupportedSpecReason(declared_, spec);
}

std::string PluginBackend::UnsupportedReason(core::OpKind kind) const {
  size_t k = static_cast<size_t>(kind);
  return k < reasons_.size() ? reasons_[k] : "";
}

std::bitset<core::kOpKindCount> CommonKinds(
    const std::vector<core::Backend*>& backends) {
  std::bitset<core::kOpKindCount> kinds;
  kinds.set();
  for (core::Backend* b : backends) {
    for (size_t k = 0; k < core::kOpKindCount; ++k) {
      if (!b->Supports(static_cast<core::OpKind>(k))) kinds.reset(k);
    }
  }
  return kinds;
}

std::vector<LeftOutKind> LeftOutKinds(
    const std::vector<core::Backend*>& backends) {
  std::vector<LeftOutKind> out;
  for (core::Backend* b : backends) {
    for (size_t k = 0; k < core::kOpKindCount; ++k) {
      auto kind = static_cast<core::OpKind>(k);
      if (b->Supports(kind)) continue;
      std::string reason = b->UnsupportedReason(kind);
      if (reason.empty()) reason = "not implemented";
      out.push_back(LeftOutKind{b->Name(), kind, reason});
    }
  }
  return out;
}

std::string DescribeLeftOutKinds(const std::vector<LeftOutKind>& left_out) {
  std::string out;
  std::string last;
  for (const auto& l : left_out) {
    if (l.backend != last) {
      out += (out.empty() ? "" : "; ") + l.backend + " leaves out ";
      last = l.backend;
    } else {
      out += ", ";
    }
    out += std::string(core::OpKindName(l.kind)) + " (" + l.reason + ")";
  }
  return out;
}

std::optional<std::string> PluginPathOf(const std::string& entry) {
  static const std::string kPrefix = "plugin:";
  if (entry.compare(0, kPrefix.size(), kPrefix) != 0) return std::nullopt;
  return entry.substr(kPrefix.size());
}

}  // namespace amc::plugin
