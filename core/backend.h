// core/backend.h: the one small interface every implementation of array-map
// semantics sits behind (the reference model, the optimized impl, the real
// kernel, plug-ins).
//
// Invariant: a Backend never sees fuzzer bytes or generator types, only
// core values. Creating a map is differential too: refusal is a CreateResult
// with an errno, not an exception.
//
// Harness errors (core/harness_error.h): Create, Execute and ReadState throw
// core::HarnessError when the backend's own machinery failed (its own fds:
// EMFILE/ENFILE; its own allocations or mappings: ENOMEM, bad_alloc; a call
// it needs refused for lack of a capability; a failed read-back), and only
// then. An errno the implementation under test answers is a result, never a
// HarnessError; a harness failure is never reported as a result.
#ifndef AMC_CORE_BACKEND_H_
#define AMC_CORE_BACKEND_H_

#include <memory>
#include <string>
#include <vector>

#include "core/map_spec.h"
#include "core/op.h"
#include "core/result.h"

namespace amc::core {

// Which part of a MapState a chunk read names.
enum class StatePart : uint8_t { kValues = 0, kMmapData = 1 };

// One live map of a backend. Destroying it releases everything the map
// holds (fds, mappings, programs' references).
class MapInstance {
 public:
  virtual ~MapInstance() = default;
  // Runs one op and returns what it gave. Never throws for any op value;
  // throws HarnessError only when the harness itself failed.
  virtual Result Execute(const Op& op) = 0;
  // Hands back a result of this map's that the caller is done with, so
  // that its buffers can serve later results (ResultBuffers). Optional:
  // the default drops it.
  virtual void Recycle(Result&& /*result*/) {}
  // Reads every key and CPU slot (see MapState), bypassing fd modes and
  // freezing, for the final comparison. A read-back that fails is a
  // HarnessError, never a state.
  virtual MapState ReadState() = 0;

  // Bytes [offset, offset + length) of ReadState().values (kValues) or of
  // its mmap_data (kMmapData), for states too large to read whole: the
  // differential runner compares a state of more than kStreamedStateBytes
  // (core/state_digest.h) chunk by chunk, by digest, never as one buffer.
  // The default reads the whole state on each call: a backend that can
  // hold maps of gigabytes (model, impl, plug-ins) overrides it.
  virtual void ReadStateChunk(StatePart part, uint64_t offset, uint64_t length,
                              uint8_t* out);
  // StateDigest (core/state_digest.h) of each `chunk`-byte piece of
  // [offset, offset + length) (the last piece may be shorter). The default
  // digests ReadStateChunk; a plug-in's proxy asks its child, so that only
  // digests cross the socket.
  virtual std::vector<uint64_t> StateDigests(StatePart part, uint64_t offset,
                                             uint64_t length, uint64_t chunk);
};

struct CreateResult {
  int err = 0;  // 0: `map` is set
  std::unique_ptr<MapInstance> map;
};

struct Availability {
  bool available = true;
  std::string reason;  // why not, precisely (privilege, sysctl, version)
};

class Backend {
 public:
  virtual ~Backend() = default;
  // Short name used in reports and in --backends ("model", "impl", "kernel").
  virtual std::string Name() const = 0;
  // Whether this backend can run here, and why not.
  virtual Availability Probe() = 0;
  // The environment results depend on (possible CPUs, page size, release).
  virtual Environment Env() const = 0;
  // BPF_MAP_CREATE: the implementation's answer as a CreateResult; throws
  // HarnessError when the harness could not ask (e.g. its own fds ran out
  // setting the map up).
  virtual CreateResult Create(const MapSpec& spec) = 0;
  // Whether this backend implements ops of `kind` (plug-ins may not).
  virtual bool Supports(OpKind /*kind*/) const { return true; }
  // Why ops of `kind` are not implemented, for summaries ("" = no reason
  // given, or supported). Decorators forward it with Supports().
  virtual std::string UnsupportedReason(OpKind /*kind*/) const { return ""; }
  // Why maps like `spec` cannot be created here at all (a plug-in that
  // declares a map type or a creation flag unsupported): "" = they can.
  // A sequence on such a spec leaves this backend out with the reason.
  virtual std::string UnsupportedSpec(const MapSpec& /*spec*/) const {
    return "";
  }
  // Why this backend sits out every sequence on `spec` ("" = it runs them),
  // e.g. the kernel backend's per-map memory bound: such a sequence reports
  // the backend as left out with this reason (RunOutcome::left_out), never
  // as a result. Decorators forward it.
  virtual std::string SitsOut(const MapSpec& /*spec*/) { return ""; }
  // How this backend's machinery failed since the last call, "" when it did
  // not: a crash, hang or exit outside any op (destroying a map, reading
  // the final state), which no result shows, and how a process that an op
  // reported as CRASH_*, HANG or LOST died (its signal or exit status and
  // the tail of its stderr). RunDifferential turns it into a
  // Divergence::Kind::kBackendFailure, or adds it to the divergence the
  // sequence already has. Decorators forward it.
  virtual std::string TakeFailureReport() { return ""; }
  // Forgets every state kept across maps, so that the next map behaves as
  // in a new process (a plug-in starts a fresh child): what a reproducer
  // and each minimization attempt run from. Decorators forward it.
  virtual void Restart() {}
};

// Restart() on each backend.
inline void RestartAll(const std::vector<Backend*>& backends) {
  for (Backend* b : backends) b->Restart();
}

}  // namespace amc::core

#endif  // AMC_CORE_BACKEND_H_
