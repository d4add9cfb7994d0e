// plugin/export_backend.h: the other direction of plugin/amc_plugin.h: any
// core::Backend of this project exported as a plug-in table. The shipped
// examples (examples/plugin_impl: the optimized impl; examples/plugin_faulty)
// and the loader tests' plug-ins are built with it; a runtime written in
// another language implements the C table itself (docs/plugins.md).
//
// Invariant: the table forwards every call to a core::MapInstance and
// converts arguments and results exactly as plugin/direct_backend.cc does
// the other way, so loading an exported backend gives back the same
// results (checked by plugin_test over generated sequences).
#ifndef AMC_PLUGIN_EXPORT_BACKEND_H_
#define AMC_PLUGIN_EXPORT_BACKEND_H_

#include <functional>
#include <memory>

#include "core/backend.h"
#include "plugin/amc_plugin.h"

namespace amc::plugin {

using BackendFactory =
    std::function<std::unique_ptr<core::Backend>(const core::Environment&)>;

// Fills `table` (abi_version, struct_size, every function) so that each map
// is created by a backend from `make(env)`. `supported_ops` and the reasons
// for the kinds it leaves out are the caller's. One exported table per
// shared library (the factory is process-global).
void ExportBackend(amc_plugin* table, const char* name, uint32_t supported_ops,
                   BackendFactory make);

}  // namespace amc::plugin

#endif  // AMC_PLUGIN_EXPORT_BACKEND_H_
