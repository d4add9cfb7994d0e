// core/signature.cc: what differs, in classes rather than values.
#include "core/signature.h"

#include <functional>
#include <optional>
#include <utility>

namespace amc::core {
namespace {

using FieldClass = std::pair<std::string, std::string>;

// What one byte of a returned value is: part of a value, padding after a
// value inside an 8-byte slot, or value bytes of a CPU past the online ones.
enum class ByteClass { kValue, kPadding, kOfflineCpu };

ByteClass ClassOfValueByte(const MapSpec& spec, const Environment& env,
                           const Op& op, size_t len, size_t i) {
  const uint64_t elem = ElemSize(spec);
  const OpKind kind = KindOf(op);
  const bool syscall_read =
      kind == OpKind::kLookup || kind == OpKind::kLookupAndDelete ||
      kind == OpKind::kLookupBatch || kind == OpKind::kLookupAndDeleteBatch;
  if (syscall_read && spec.type == MapType::kPercpuArray) {
    // Per-CPU syscall buffers: every possible CPU's slot, value then padding
    // (a BPF_F_CPU lookup returns value_size bytes: no padding to name).
    const uint64_t per_key = SyscallValueSize(spec, env);
    if (per_key == 0 || elem == 0 || len % per_key != 0) return ByteClass::kValue;
    const uint64_t in_key = i % per_key;
    if (in_key % elem >= spec.value_size) return ByteClass::kPadding;
    if (env.Online() < env.possible_cpus && in_key / elem >= env.Online()) {
      return ByteClass::kOfflineCpu;
    }
    return ByteClass::kValue;
  }
  if (const auto* read = std::get_if<MmapRead>(&op)) {
    // The mapped data region: element i at i * elem, padded to 8 bytes.
    const uint64_t at = read->offset + i;
    if (elem && at < elem * spec.max_entries && at % elem >= spec.value_size) {
      return ByteClass::kPadding;
    }
  }
  return ByteClass::kValue;
}

// The strongest class among the bytes where `a` and `b` differ (same size).
std::string DifferingBytes(const std::vector<uint8_t>& a,
                           const std::vector<uint8_t>& b,
                           const std::function<ByteClass(size_t)>& class_of) {
  bool padding = false, offline = false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i] == b[i]) continue;
    switch (class_of(i)) {
      case ByteClass::kValue: return "value bytes";
      case ByteClass::kPadding: padding = true; break;
      case ByteClass::kOfflineCpu: offline = true; break;
    }
  }
  if (offline) return "value bytes of offline CPUs";
  return padding ? "padding bytes" : "value bytes";
}

template <class T>
std::optional<FieldClass> Presence(const char* field,
                                   const std::optional<T>& ref,
                                   const std::optional<T>& got,
                                   const std::string& ref_name) {
  if (ref.has_value() == got.has_value()) return std::nullopt;
  return FieldClass{field, std::string(got ? "present" : "missing") +
                               " where " + ref_name + (ref ? " has one" : " has none")};
}

// How `got` differs from `ref` (same errno), or nullopt when it does not.
std::optional<FieldClass> CompareResult(const MapSpec& spec,
                                        const Environment& env, const Op& op,
                                        const Result& ref, const Result& got,
                                        const std::string& ref_name) {
  const std::string vs = " than " + ref_name;
  if (ref.null != got.null) {
    return FieldClass{"null", std::string(got.null ? "null" : "non-null") +
                                  " where " + ref_name +
                                  (ref.null ? " null" : " non-null")};
  }
  if (auto p = Presence("value", ref.value, got.value, ref_name)) return p;
  if (ref.value && *ref.value != *got.value) {
    if (ref.value->size() != got.value->size()) {
      return FieldClass{"value length", (got.value->size() < ref.value->size()
                                             ? "shorter"
                                             : "longer") + vs};
    }
    const size_t len = ref.value->size();
    return FieldClass{DifferingBytes(*ref.value, *got.value,
                                     [&](size_t i) {
                                       return ClassOfValueByte(spec, env, op,
                                                               len, i);
                                     }),
                      "differs from " + ref_name};
  }
  if (auto p = Presence("next_key", ref.next_key, got.next_key, ref_name)) return p;
  if (ref.next_key != got.next_key) {
    return FieldClass{"next_key", "differs from " + ref_name};
  }
  if (auto p = Presence("count", ref.count, got.count, ref_name)) return p;
  if (ref.count != got.count) {
    return FieldClass{"count", (*got.count < *ref.count ? "lower" : "higher") + vs};
  }
  if (auto p = Presence("out_batch", ref.out_batch, got.out_batch, ref_name)) return p;
  if (ref.out_batch != got.out_batch) {
    return FieldClass{"out_batch", "differs from " + ref_name};
  }
  if (auto p = Presence("keys", ref.keys, got.keys, ref_name)) return p;
  if (ref.keys != got.keys) {
    if (ref.keys->size() != got.keys->size()) {
      return FieldClass{"keys", (got.keys->size() < ref.keys->size() ? "fewer"
                                                                     : "more") + vs};
    }
    return FieldClass{"keys", "differ from " + ref_name};
  }
  if (auto p = Presence("alignment", ref.aligned, got.aligned, ref_name)) return p;
  if (ref.aligned != got.aligned) {
    return FieldClass{"alignment",
                      std::string(*got.aligned ? "aligned" : "unaligned") +
                          " where " + ref_name +
                          (*ref.aligned ? " aligned" : " unaligned")};
  }
  if (auto p = Presence("old value", ref.old, got.old, ref_name)) return p;
  if (ref.old != got.old) return FieldClass{"old value", "differs from " + ref_name};
  return std::nullopt;
}

// Sets d's field and classes from each side's difference to side 0: the
// field is the first differing side's; a side that differs in another field
// names that field in its class.
void SetFieldClasses(const std::vector<std::string>& names,
                     const std::vector<std::optional<FieldClass>>& diffs,
                     Divergence* d) {
  d->field.clear();
  d->classes.clear();
  for (size_t i = 0; i < diffs.size(); ++i) {
    if (!diffs[i]) continue;
    if (d->field.empty()) d->field = diffs[i]->first;
    d->classes.emplace_back(names[i], diffs[i]->first == d->field
                                          ? diffs[i]->second
                                          : diffs[i]->first + " " + diffs[i]->second);
  }
}

std::string CreateClass(int err) { return err == 0 ? "created" : ErrnoName(err); }

std::string FirstWord(const std::string& text) {
  size_t end = text.find(' ');
  return end == std::string::npos ? text : text.substr(0, end);
}

}  // namespace

std::string MapTypeName(MapType type) {
  switch (type) {
    case MapType::kArray: return "ARRAY";
    case MapType::kPercpuArray: return "PERCPU_ARRAY";
  }
  return std::to_string(static_cast<uint32_t>(type));
}

void ClassifyOpDivergence(const MapSpec& spec, const Environment& env,
                          const Op& op, const std::vector<std::string>& names,
                          const std::vector<Result>& results,
                          const Result* expected, Divergence* d) {
  d->map_type = spec.type;
  d->op_kind = KindOf(op);
  std::vector<std::string> side_names;
  std::vector<const Result*> sides;
  if (expected) {
    side_names.push_back("expected");
    sides.push_back(expected);
  }
  for (size_t i = 0; i < results.size() && i < names.size(); ++i) {
    side_names.push_back(names[i]);
    sides.push_back(&results[i]);
  }
  if (sides.empty()) return;
  bool errno_differs = false;
  for (const Result* r : sides) errno_differs |= r->err != sides[0]->err;
  if (errno_differs) {
    d->field = "errno";
    d->classes.clear();
    for (size_t i = 0; i < sides.size(); ++i) {
      d->classes.emplace_back(side_names[i],
                              sides[i]->err ? ErrnoName(sides[i]->err) : "ok");
    }
    return;
  }
  std::vector<std::optional<FieldClass>> diffs(sides.size());
  for (size_t i = 1; i < sides.size(); ++i) {
    diffs[i] = CompareResult(spec, env, op, *sides[0], *sides[i], side_names[0]);
  }
  SetFieldClasses(side_names, diffs, d);
}

void ClassifyCreateDivergence(const MapSpec& spec,
                              const std::vector<std::string>& names,
                              const std::vector<int>& errs, const int* expected,
                              Divergence* d) {
  d->map_type = spec.type;
  d->op_kind.reset();
  d->field = "errno";
  d->classes.clear();
  if (expected) d->classes.emplace_back("expected", CreateClass(*expected));
  for (size_t i = 0; i < errs.size() && i < names.size(); ++i) {
    d->classes.emplace_back(names[i], CreateClass(errs[i]));
  }
}

void ClassifyStateDivergence(const MapSpec& spec, const Environment& env,
                             const std::vector<std::string>& names,
                             const std::vector<MapState>& states,
                             Divergence* d) {
  d->map_type = spec.type;
  d->op_kind.reset();
  if (states.empty()) return;
  const MapState& ref = states[0];
  const std::string& ref_name = names.empty() ? std::string() : names[0];
  const uint64_t elem = ElemSize(spec);
  const uint64_t per_key = SyscallValueSize(spec, env);
  std::vector<std::optional<FieldClass>> diffs(states.size());
  for (size_t b = 1; b < states.size(); ++b) {
    const MapState& got = states[b];
    if (got.values.size() != ref.values.size()) {
      diffs[b] = FieldClass{"state size", (got.values.size() < ref.values.size()
                                               ? "smaller than "
                                               : "larger than ") + ref_name};
    } else if (got.values != ref.values) {
      diffs[b] = FieldClass{
          DifferingBytes(ref.values, got.values,
                         [&](size_t i) {
                           if (spec.type != MapType::kPercpuArray || !per_key ||
                               !elem) {
                             return ByteClass::kValue;
                           }
                           return i % per_key % elem >= spec.value_size
                                      ? ByteClass::kPadding
                                      : ByteClass::kValue;
                         }),
          "differ from " + ref_name};
    } else if (got.mmap_data.has_value() != ref.mmap_data.has_value() ||
               (got.mmap_data && got.mmap_data->size() != ref.mmap_data->size())) {
      diffs[b] = FieldClass{"mmap region", "differs in size from " + ref_name};
    } else if (got.mmap_data != ref.mmap_data) {
      diffs[b] = FieldClass{
          "mmap " + DifferingBytes(*ref.mmap_data, *got.mmap_data,
                                   [&](size_t i) {
                                     return elem && i < elem * spec.max_entries &&
                                                    i % elem >= spec.value_size
                                                ? ByteClass::kPadding
                                                : ByteClass::kValue;
                                   }),
          "differ from " + ref_name};
    }
  }
  SetFieldClasses(names, diffs, d);
}

std::string Divergence::Signature() const {
  std::string out;
  if (kind == Kind::kProbe) {
    // "accepted invalid map (model E2BIG), then crashed at op update ARRAY:
    // plugin:x CRASH_SIGSEGV". The step number stays out (the invariant
    // above): the same wrap-around reached at op 3 or op 9 is one bug.
    const std::string cls = classes.empty() ? "" : classes[0].second;
    std::string verb = "crashed";
    if (cls.rfind("HANG", 0) == 0) verb = "hung";
    if (cls.rfind("OVERRUN", 0) == 0) verb = "overran a buffer";
    if (cls.rfind("LOST", 0) == 0) verb = "was lost";
    out = field + ", then " + verb +
          (op_kind ? std::string(" at op ") + OpKindName(*op_kind)
                   : std::string(" outside the ops"));
    if (map_type) out += " " + MapTypeName(*map_type);
    out += ":";
    for (size_t i = 0; i < classes.size(); ++i) {
      out += (i ? ", " : " ") + classes[i].first + " " + classes[i].second;
    }
    return out;
  }
  if (kind == Kind::kCreate) {
    out = "create";
  } else if (kind == Kind::kOp) {
    out = "op";
  } else if (kind == Kind::kFinalState) {
    out = "final state";
  } else if (kind == Kind::kExpectation) {
    out = "expectation";
  } else if (kind == Kind::kBackendFailure) {
    out = "backend failure outside the ops";
  } else {
    // A kind added later: named by its number until it is given a word.
    out = "divergence kind " + std::to_string(static_cast<int>(kind));
  }
  if (op_kind) out += std::string(" ") + OpKindName(*op_kind);
  if (map_type) out += " " + MapTypeName(*map_type);
  out += ": " + (field.empty() ? std::string("differs") : field) + ":";
  // Without classes (a divergence made without a classifier), each side's
  // answer's first word: its errno name or "ok", a crash's CRASH_SIGSEGV.
  const auto& list = classes.empty() && field.empty() ? sides : classes;
  for (size_t i = 0; i < list.size(); ++i) {
    out += (i ? ", " : " ") + list[i].first + " " +
           (classes.empty() && field.empty() ? FirstWord(list[i].second)
                                             : list[i].second);
  }
  return out;
}

}  // namespace amc::core
