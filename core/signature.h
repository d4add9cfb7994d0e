// core/signature.h: divergence signatures. A signature names what differs,
// never the values: where (map creation, an op of some kind, the final
// state, a recorded expectation), the map type, the field that differs and
// each side's result class:
//
//   op update ARRAY: errno: model E2BIG, faulty ENOENT
//   op lookup PERCPU_ARRAY: padding bytes: faulty differs (vs model)
//   op lookup_batch ARRAY: count: faulty lower (vs model)
//   create PERCPU_ARRAY: errno: model EACCES, plugin EINVAL
//   final state ARRAY: value bytes: impl differs (vs model)
//
// Invariant: a signature holds no key, value, size, count or step number, so
// the same fault reached with other keys, values or sizes has the same
// signature; faults that differ in the op kind, the map type, the field or
// an answer's class have different ones. Crashes, hangs and lost plug-ins
// are errno classes (CRASH_SIGSEGV, HANG, LOST) like any other.
#ifndef AMC_CORE_SIGNATURE_H_
#define AMC_CORE_SIGNATURE_H_

#include <string>
#include <vector>

#include "core/differential.h"

namespace amc::core {

// The field (and classes) of an op whose results differ: `results[i]` is
// side `names[i]`'s; with `expected`, that is the reference (side
// "expected"), else results[0]. Sets d's map_type, op_kind, field, classes.
void ClassifyOpDivergence(const MapSpec& spec, const Environment& env,
                          const Op& op, const std::vector<std::string>& names,
                          const std::vector<Result>& results,
                          const Result* expected, Divergence* d);

// Creation errnos that differ (0 = created); `expected` as above.
void ClassifyCreateDivergence(const MapSpec& spec,
                              const std::vector<std::string>& names,
                              const std::vector<int>& errs,
                              const int* expected, Divergence* d);

// Final states that differ: whether value bytes, padding bytes, the mmap
// region or the state's size differ, and which sides differ from states[0].
void ClassifyStateDivergence(const MapSpec& spec, const Environment& env,
                             const std::vector<std::string>& names,
                             const std::vector<MapState>& states,
                             Divergence* d);

// "ARRAY", "PERCPU_ARRAY" (as in .ops files), or the type's number.
std::string MapTypeName(MapType type);

}  // namespace amc::core

#endif  // AMC_CORE_SIGNATURE_H_
