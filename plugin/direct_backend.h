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
  const amc_plugin* table = nullptr;
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

 private:
  const amc_plugin* table_;
  std::string name_;
  core::Environment env_;
};

}  // namespace amc::plugin

#endif  // AMC_PLUGIN_DIRECT_BACKEND_H_
