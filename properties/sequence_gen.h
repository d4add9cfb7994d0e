// properties/sequence_gen.h: RapidCheck generators for core::Sequence, built
// on gen/ so that properties, fuzzers and `amc run` share one notion of an
// interesting sequence.
//
// A sequence is generated as data RapidCheck knows how to shrink: one byte
// string that gen::GenerateSpec decodes into the map spec, and one byte
// string per op that gen::GenerateOp decodes against that spec. Shrinking
// removes whole ops and lowers bytes toward zero, which gen/ decodes as its
// lowest (simplest) choice, so a counterexample shrinks to few, plain ops.
//
// Invariant: every generated Sequence is bounded like gen::GenerateSequence
// (at most options.max_ops ops, maps within options.max_map_bytes), and
// prints (showValue) as .ops text that parses back to itself, ready to paste
// into corpus/regressions/.
#ifndef AMC_PROPERTIES_SEQUENCE_GEN_H_
#define AMC_PROPERTIES_SEQUENCE_GEN_H_

#include <ostream>
#include <vector>

#include <rapidcheck.h>

#include "core/backend.h"
#include "core/op.h"
#include "gen/generator.h"

namespace amc::core {
// RapidCheck finds this by argument-dependent lookup: counterexamples print
// as .ops text.
void showValue(const Sequence& seq, std::ostream& os);
}  // namespace amc::core

namespace amc::properties {

// Sequences for the environment in `options` (the backends' environment).
rc::Gen<core::Sequence> GenSequence(const gen::GenOptions& options);

// Options for sequences run on `backends` (their common environment is the
// first backend's).
gen::GenOptions OptionsFor(const std::vector<core::Backend*>& backends);

}  // namespace amc::properties

#endif  // AMC_PROPERTIES_SEQUENCE_GEN_H_
