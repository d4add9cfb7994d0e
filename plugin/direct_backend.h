// plugin/direct_backend.h: a plug-in (plugin/amc_plugin.h) loaded into THIS
// process and seen as a core::Backend. It is what the child process of
// PluginBackend runs; use PluginBackend (plugin_backend.h) everywhere else,
// since a faulty plug-in loaded here can crash its host.
//
// Invariant: the adapter adds only the harness conventions of core/op.h
// (program CPU check, atomic-add offset check, mmap slots and access faults)
// and the result shapes of core/result.h; every map semantic comes from the
// plug-in. Output buffers carry guard bytes; a write past one is reported
// as core::kErrOverrun on the op that did it.
#ifndef AMC_PLUGIN_DIRECT_BACKEND_H_
#define AMC_PLUGIN_DIRECT_BACKEND_H_

#include <array>
#include <memory>
#include <string>

#include "core/backend.h"
#include "plugin/amc_plugin.h"

namespace amc::plugin {

// The core::OpKind of each amc_op_kind have the same numbers.
static_assert(AMC_OP_KIND_COUNT == core::kOpKindCount);

// A dlopen()ed plug-in whose table passed every load-time check.
struct LoadedPlugin {
  void* handle = nullptr;  // from dlopen; never closed (see LoadPlugin)
  // The plug-in's table as this amc's amc_plugin (NormalizedTable): an older
  // table's missing fields read as zero.
  const amc_plugin* table = nullptr;
  std::shared_ptr<const amc_plugin> copy;
  std::string path;
};

// dlopen()s `path`, finds amc_plugin_get, checks the ABI version, the table
// size and that every supported kind has its functions and every other
// kind a reason. On failure returns false and a message naming the file
// and what is wrong. The library stays loaded for the life of the process
// (plug-ins may keep static state that outlives a map).
bool LoadPlugin(const std::string& path, LoadedPlugin* out, std::string* error);

// The load-time checks alone (for tables that are not in a file).
bool ValidateTable(const amc_plugin* table, std::string* error);

// A whole amc_plugin holding `table` (which passed ValidateTable): the
// fields its ABI version lacks are zero.
amc_plugin NormalizedTable(const amc_plugin* table);

// Why a plug-in with this table cannot create `spec` (a map type or a map
// flag it declares unsupported, with its reason), or "".
std::string UnsupportedSpecReason(const amc_plugin& table,
                                  const core::MapSpec& spec);

// The function a kind needs (NULL when missing), for messages.
const char* RequiredFunctionName(core::OpKind kind);

class DirectBackend : public core::Backend {
 public:
  DirectBackend(const amc_plugin* table, std::string name,
                core::Environment env)
      : table_(table), name_(std::move(name)), env_(std::move(env)) {}
  std::string Name() const override { return name_; }
  core::Availability Probe() override;
  core::Environment Env() const override { return env_; }
  core::CreateResult Create(const core::MapSpec& spec) override;
  bool Supports(core::OpKind kind) const override {
    return table_->supported_ops & AMC_OP_BIT(static_cast<unsigned>(kind));
  }
  std::string UnsupportedSpec(const core::MapSpec& spec) const override {
    return UnsupportedSpecReason(*table_, spec);
  }

 private:
  const amc_plugin* table_;
  std::string name_;
  core::Environment env_;
};

}  // namespace amc::plugin

#endif  // AMC_PLUGIN_DIRECT_BACKEND_H_
