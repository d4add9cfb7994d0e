// core/ops_text.cc: printer and parser of the .ops text format. Each op's
// fields are listed once (VisitFields) and serve both directions, so the two
// cannot drift apart.
#include "core/ops_text.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <map>
#include <sstream>
#include <utility>

namespace amc::core {
namespace {

std::string Shown(std::string_view text) { return CutForMessage(text); }

// ---- field wrappers that change how a number is spelled ----
struct ElemFlagsField {
  uint64_t& v;
};
struct ProtField {
  uint32_t& v;
};

template <class V>
void VisitFields(Lookup& o, V& v) {
  v("key", o.key);
  v("flags", ElemFlagsField{o.flags});
}
template <class V>
void VisitFields(Update& o, V& v) {
  v("key", o.key);
  v("value", o.value);
  v("flags", ElemFlagsField{o.flags});
}
template <class V>
void VisitFields(Delete& o, V& v) {
  v("key", o.key);
}
template <class V>
void VisitFields(LookupAndDelete& o, V& v) {
  v("key", o.key);
  v("flags", ElemFlagsField{o.flags});
}
template <class V>
void VisitFields(GetNextKey& o, V& v) {
  v("key", o.key);
}
template <class V>
void VisitFields(LookupBatch& o, V& v) {
  v("in", o.in_batch);
  v("count", o.count);
  v("elem_flags", ElemFlagsField{o.elem_flags});
  v("flags", o.flags);
}
template <class V>
void VisitFields(LookupAndDeleteBatch& o, V& v) {
  v("in", o.in_batch);
  v("count", o.count);
  v("elem_flags", ElemFlagsField{o.elem_flags});
  v("flags", o.flags);
}
template <class V>
void VisitFields(UpdateBatch& o, V& v) {
  v("keys", o.keys);
  v("values", o.values);
  v("elem_flags", ElemFlagsField{o.elem_flags});
  v("flags", o.flags);
}
template <class V>
void VisitFields(DeleteBatch& o, V& v) {
  v("keys", o.keys);
  v("elem_flags", ElemFlagsField{o.elem_flags});
  v("flags", o.flags);
}
template <class V>
void VisitFields(Freeze&, V&) {}
template <class V>
void VisitFields(Mmap& o, V& v) {
  v("slot", o.slot);
  v("offset", o.offset);
  v("length", o.length);
  v("prot", ProtField{o.prot});
  v("shared", o.shared);
}
template <class V>
void VisitFields(MmapRead& o, V& v) {
  v("slot", o.slot);
  v("offset", o.offset);
  v("length", o.length);
}
template <class V>
void VisitFields(MmapWrite& o, V& v) {
  v("slot", o.slot);
  v("offset", o.offset);
  v("bytes", o.bytes);
}
template <class V>
void VisitFields(Munmap& o, V& v) {
  v("slot", o.slot);
}
template <class V>
void VisitFields(ProgLookup& o, V& v) {
  v("cpu", o.cpu);
  v("key", o.key);
}
template <class V>
void VisitFields(ProgUpdate& o, V& v) {
  v("cpu", o.cpu);
  v("key", o.key);
  v("value", o.value);
  v("flags", ElemFlagsField{o.flags});
}
template <class V>
void VisitFields(ProgDelete& o, V& v) {
  v("cpu", o.cpu);
  v("key", o.key);
}
template <class V>
void VisitFields(ProgLookupPercpu& o, V& v) {
  v("cpu", o.cpu);
  v("key", o.key);
  v("target_cpu", o.target_cpu);
}
template <class V>
void VisitFields(ProgAtomicAdd& o, V& v) {
  v("cpu", o.cpu);
  v("key", o.key);
  v("offset", o.offset);
  v("delta", o.delta);
}

// ---- spelling of values ----

std::string Hex(uint64_t v) {
  std::ostringstream out;
  out << "0x" << std::hex << v;
  return out.str();
}

struct NamedBit {
  uint64_t bit;
  const char* name;
};

constexpr NamedBit kMapFlagNames[] = {
    {kBpfFNoPrealloc, "BPF_F_NO_PREALLOC"},
    {kBpfFNoCommonLru, "BPF_F_NO_COMMON_LRU"},
    {kBpfFNumaNode, "BPF_F_NUMA_NODE"},
    {kBpfFRdonly, "BPF_F_RDONLY"},
    {kBpfFWronly, "BPF_F_WRONLY"},
    {kBpfFStackBuildId, "BPF_F_STACK_BUILD_ID"},
    {kBpfFZeroSeed, "BPF_F_ZERO_SEED"},
    {kBpfFRdonlyProg, "BPF_F_RDONLY_PROG"},
    {kBpfFWronlyProg, "BPF_F_WRONLY_PROG"},
    {kBpfFClone, "BPF_F_CLONE"},
    {kBpfFMmapable, "BPF_F_MMAPABLE"},
    {kBpfFPreserveElems, "BPF_F_PRESERVE_ELEMS"},
    {kBpfFInnerMap, "BPF_F_INNER_MAP"},
    {kBpfFLink, "BPF_F_LINK"},
    {kBpfFPathFd, "BPF_F_PATH_FD"},
    {kBpfFVtypeBtfObjFd, "BPF_F_VTYPE_BTF_OBJ_FD"},
    {kBpfFTokenFd, "BPF_F_TOKEN_FD"},
    {kBpfFSegvOnFault, "BPF_F_SEGV_ON_FAULT"},
    {kBpfFNoUserConv, "BPF_F_NO_USER_CONV"},
};

// BPF_NOEXIST and BPF_EXIST are values of the low two bits, printed as
// names; BPF_ANY is their absence.
constexpr NamedBit kElemFlagNames[] = {
    {kBpfNoexist, "BPF_NOEXIST"}, {kBpfExist, "BPF_EXIST"},
    {kBpfFLock, "BPF_F_LOCK"},    {kBpfFCpu, "BPF_F_CPU"},
    {kBpfFAllCpus, "BPF_F_ALL_CPUS"},
};

constexpr NamedBit kProtNames[] = {
    {kProtRead, "PROT_READ"}, {kProtWrite, "PROT_WRITE"},
    {kProtExec, "PROT_EXEC"},
};

template <size_t N>
std::string PrintBits(uint64_t value, const NamedBit (&names)[N],
                      const char* zero) {
  if (value == 0) return zero;
  std::string out;
  uint64_t rest = value;
  for (const NamedBit& nb : names) {
    if (rest & nb.bit) {
      if (!out.empty()) out += '|';
      out += nb.name;
      rest &= ~nb.bit;
    }
  }
  if (rest != 0) {
    if (!out.empty()) out += '|';
    out += Hex(rest);
  }
  return out;
}

std::optional<uint64_t> ParseU64(std::string_view s) {
  if (s.empty()) return std::nullopt;
  int base = 10;
  if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
    base = 16;
    s.remove_prefix(2);
  }
  if (s.empty() || s.size() > 20) return std::nullopt;
  uint64_t v = 0;
  for (char c : s) {
    int d;
    if (c >= '0' && c <= '9') {
      d = c - '0';
    } else if (base == 16 && c >= 'a' && c <= 'f') {
      d = c - 'a' + 10;
    } else if (base == 16 && c >= 'A' && c <= 'F') {
      d = c - 'A' + 10;
    } else {
      return std::nullopt;
    }
    if (v > (UINT64_MAX - d) / base) return std::nullopt;
    v = v * base + d;
  }
  return v;
}

std::optional<uint32_t> ParseU32(std::string_view s) {
  auto v = ParseU64(s);
  if (!v || *v > UINT32_MAX) return std::nullopt;
  return static_cast<uint32_t>(*v);
}

template <size_t N>
std::optional<uint64_t> ParseBits(std::string_view s,
                                  const NamedBit (&names)[N],
                                  std::string_view zero) {
  if (s.empty()) return std::nullopt;
  uint64_t value = 0;
  while (true) {
    size_t bar = s.find('|');
    std::string_view part = s.substr(0, bar);
    bool found = false;
    if (part == zero) {
      found = true;
    } else {
      for (const NamedBit& nb : names) {
        if (part == nb.name) {
          value |= nb.bit;
          found = true;
          break;
        }
      }
    }
    if (!found) {
      auto n = ParseU64(part);
      if (!n) return std::nullopt;
      value |= *n;
    }
    if (bar == std::string_view::npos) break;
    s.remove_prefix(bar + 1);
  }
  return value;
}

// Element flags: ParseBits over the names, where a part `CPU(n)` (n a 32-bit
// number) stands for n << 32, the CPU of BPF_F_CPU.
std::optional<uint64_t> ParseElemFlags(std::string_view s) {
  uint64_t cpu_bits = 0;
  std::string rest;
  while (true) {
    size_t bar = s.find('|');
    std::string_view part = s.substr(0, bar);
    if (part.size() > 5 && part.substr(0, 4) == "CPU(" && part.back() == ')') {
      auto n = ParseU32(part.substr(4, part.size() - 5));
      if (!n) return std::nullopt;
      cpu_bits |= uint64_t{*n} << 32;
    } else {
      if (!rest.empty() || part.empty()) rest += '|';
      rest += part;
    }
    if (bar == std::string_view::npos) break;
    s.remove_prefix(bar + 1);
  }
  if (rest.empty()) return cpu_bits;
  auto n = ParseBits(rest, kElemFlagNames, "BPF_ANY");
  if (!n) return std::nullopt;
  return *n | cpu_bits;
}

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Bytes: '-' or '+'-joined segments, each hex pairs or `xx*N`.
bool ParseBytesInto(std::string_view s, std::vector<uint8_t>& out,
                    size_t& budget) {
  out.clear();
  if (s == "-") return true;
  if (s.empty()) return false;
  while (true) {
    size_t plus = s.find('+');
    std::string_view seg = s.substr(0, plus);
    size_t star = seg.find('*');
    if (star != std::string_view::npos) {
      std::string_view hex = seg.substr(0, star);
      auto n = ParseU64(seg.substr(star + 1));
      if (hex.size() != 2 || !n) return false;
      int hi = HexDigit(hex[0]), lo = HexDigit(hex[1]);
      if (hi < 0 || lo < 0) return false;
      if (*n > budget || out.size() + *n > kMaxParsedFieldBytes) return false;
      budget -= *n;
      out.insert(out.end(), *n, static_cast<uint8_t>(hi * 16 + lo));
    } else {
      if (seg.empty() || seg.size() % 2 != 0) return false;
      size_t n = seg.size() / 2;
      if (n > budget || out.size() + n > kMaxParsedFieldBytes) return false;
      budget -= n;
      for (size_t i = 0; i < seg.size(); i += 2) {
        int hi = HexDigit(seg[i]), lo = HexDigit(seg[i + 1]);
        if (hi < 0 || lo < 0) return false;
        out.push_back(static_cast<uint8_t>(hi * 16 + lo));
      }
    }
    if (plus == std::string_view::npos) break;
    s.remove_prefix(plus + 1);
  }
  return true;
}

bool ParseKeyListInto(std::string_view s, std::vector<uint32_t>& out,
                      size_t& budget) {
  out.clear();
  if (s == "-") return true;
  if (s.empty()) return false;
  while (true) {
    size_t comma = s.find(',');
    auto k = ParseU32(s.substr(0, comma));
    if (!k || budget < 4) return false;
    budget -= 4;
    out.push_back(*k);
    if (comma == std::string_view::npos) break;
    s.remove_prefix(comma + 1);
  }
  return true;
}

std::string PrintKeyList(const std::vector<uint32_t>& keys) {
  if (keys.empty()) return "-";
  std::string out;
  for (size_t i = 0; i < keys.size(); ++i) {
    if (i) out += ',';
    out += std::to_string(keys[i]);
  }
  return out;
}

// ---- the two visitors ----

class FieldPrinter {
 public:
  explicit FieldPrinter(std::string& out) : out_(out) {}
  void operator()(const char* name, uint32_t v) { Put(name, std::to_string(v)); }
  void operator()(const char* name, uint64_t v) { Put(name, std::to_string(v)); }
  void operator()(const char* name, bool v) { Put(name, v ? "1" : "0"); }
  void operator()(const char* name, const std::optional<uint32_t>& v) {
    Put(name, v ? std::to_string(*v) : "null");
  }
  void operator()(const char* name, const std::vector<uint8_t>& v) {
    Put(name, PrintBytes(v));
  }
  void operator()(const char* name, const std::vector<uint32_t>& v) {
    Put(name, PrintKeyList(v));
  }
  void operator()(const char* name, ElemFlagsField f) {
    Put(name, PrintElemFlags(f.v));
  }
  void operator()(const char* name, ProtField f) {
    Put(name, PrintBits(f.v, kProtNames, "PROT_NONE"));
  }

 private:
  void Put(const char* name, const std::string& value) {
    out_ += ' ';
    out_ += name;
    out_ += '=';
    out_ += value;
  }
  std::string& out_;
};

class FieldParser {
 public:
  FieldParser(std::map<std::string, std::string>& fields, size_t& budget)
      : fields_(fields), budget_(budget) {}
  const std::string& error() const { return error_; }

  void operator()(const char* name, uint32_t& v) {
    Take(name, "a 32-bit number", [&](const std::string& s) {
      auto n = ParseU32(s);
      if (n) v = *n;
      return n.has_value();
    });
  }
  void operator()(const char* name, uint64_t& v) {
    Take(name, "a 64-bit number", [&](const std::string& s) {
      auto n = ParseU64(s);
      if (n) v = *n;
      return n.has_value();
    });
  }
  void operator()(const char* name, bool& v) {
    Take(name, "0 or 1", [&](const std::string& s) {
      if (s != "0" && s != "1") return false;
      v = s == "1";
      return true;
    });
  }
  void operator()(const char* name, std::optional<uint32_t>& v) {
    Take(name, "a 32-bit number or null", [&](const std::string& s) {
      if (s == "null") {
        v.reset();
        return true;
      }
      auto n = ParseU32(s);
      if (n) v = *n;
      return n.has_value();
    });
  }
  void operator()(const char* name, std::vector<uint8_t>& v) {
    Take(name, "hex bytes (like 0102, 00*8, 01+00*7 or -)",
         [&](const std::string& s) { return ParseBytesInto(s, v, budget_); });
  }
  void operator()(const char* name, std::vector<uint32_t>& v) {
    Take(name, "comma-separated keys or -", [&](const std::string& s) {
      return ParseKeyListInto(s, v, budget_);
    });
  }
  void operator()(const char* name, ElemFlagsField f) {
    Take(name, "flags such as BPF_ANY, BPF_NOEXIST, BPF_F_LOCK or a number",
         [&](const std::string& s) {
           auto n = ParseElemFlags(s);
           if (n) f.v = *n;
           return n.has_value();
         });
  }
  void operator()(const char* name, ProtField f) {
    Take(name, "PROT_READ|PROT_WRITE|PROT_EXEC, PROT_NONE or a number",
         [&](const std::string& s) {
           auto n = ParseBits(s, kProtNames, "PROT_NONE");
           if (n && *n > UINT32_MAX) return false;
           if (n) f.v = static_cast<uint32_t>(*n);
           return n.has_value();
         });
  }

 private:
  template <class F>
  void Take(const char* name, const char* expected, F parse) {
    if (!error_.empty()) return;
    auto it = fields_.find(name);
    if (it == fields_.end()) return;  // left out: default
    if (!parse(it->second)) {
      error_ = std::string("field '") + name + "': expected " + expected +
               ", got '" + Shown(it->second) + "'";
    }
    fields_.erase(it);
  }
  std::map<std::string, std::string>& fields_;
  size_t& budget_;
  std::string error_;
};

template <class T>
std::string FieldNames() {
  T op{};
  std::string names;
  std::string printed;
  FieldPrinter printer(printed);
  VisitFields(op, printer);
  // printed is " a=.. b=..": keep the names.
  std::istringstream in(printed);
  std::string tok;
  while (in >> tok) {
    if (!names.empty()) names += ' ';
    names += tok.substr(0, tok.find('='));
  }
  return names.empty() ? "none" : names;
}

// Splits at spaces, tabs and carriage returns: a '\r' left inside a line
// (a line ending in "\r\r\n") is a separator, never part of a value, so
// that what is parsed prints and parses back the same.
bool IsSeparator(char ch) { return ch == ' ' || ch == '\t' || ch == '\r'; }

std::vector<std::string> Tokens(std::string_view line) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && IsSeparator(line[i])) ++i;
    size_t start = i;
    while (i < line.size() && !IsSeparator(line[i])) ++i;
    if (i > start) out.emplace_back(line.substr(start, i - start));
  }
  return out;
}

// Splits "k=v" tokens into a map; rejects duplicates and tokens without '='.
bool KeyValues(const std::vector<std::string>& tokens, size_t from, size_t to,
               std::map<std::string, std::string>& out, std::string& error) {
  for (size_t i = from; i < to; ++i) {
    size_t eq = tokens[i].find('=');
    if (eq == std::string::npos || eq == 0) {
      error = "expected name=value, got '" + Shown(tokens[i]) + "'";
      return false;
    }
    std::string name = tokens[i].substr(0, eq);
    if (!out.emplace(name, tokens[i].substr(eq + 1)).second) {
      error = "field '" + Shown(name) + "' given twice";
      return false;
    }
  }
  return true;
}

std::string UnknownFields(const std::map<std::string, std::string>& left,
                          const std::string& allowed) {
  std::string names;
  for (const auto& [name, value] : left) {
    if (!names.empty()) names += ", ";
    names += "'" + Shown(name) + "'";
  }
  return "unknown field " + names + " (fields: " + allowed + ")";
}

template <class T>
bool ParseOpFields(std::map<std::string, std::string>& fields, size_t& budget,
                   Op& out, std::string& error) {
  T op{};
  FieldParser parser(fields, budget);
  VisitFields(op, parser);
  if (!parser.error().empty()) {
    error = parser.error();
    return false;
  }
  if (!fields.empty()) {
    error = UnknownFields(fields, FieldNames<T>());
    return false;
  }
  out = std::move(op);
  return true;
}

using OpFieldParser = bool (*)(std::map<std::string, std::string>&, size_t&,
                               Op&, std::string&);

template <size_t... I>
constexpr std::array<OpFieldParser, kOpKindCount> MakeOpParsers(
    std::index_sequence<I...>) {
  return {&ParseOpFields<std::variant_alternative_t<I, Op>>...};
}

bool ParseResultTokens(const std::vector<std::string>& tokens, size_t from,
                       size_t& budget, Result& r, std::string& error) {
  if (from >= tokens.size()) {
    error = "expected a result after '->' (ok or an errno name like ENOENT)";
    return false;
  }
  auto err = ErrnoFromName(tokens[from]);
  if (!err) {
    error = "expected ok or an errno name after '->', got '" + Shown(tokens[from]) +
            "'";
    return false;
  }
  r = Result{};
  r.err = *err;
  std::map<std::string, std::string> fields;
  for (size_t i = from + 1; i < tokens.size(); ++i) {
    if (tokens[i] == "null") {
      r.null = true;
      continue;
    }
    size_t eq = tokens[i].find('=');
    if (eq == std::string::npos || eq == 0) {
      error = "expected a result field (value= next= count= out= keys= "
              "aligned= old=) or null, got '" + Shown(tokens[i]) + "'";
      return false;
    }
    std::string name = tokens[i].substr(0, eq);
    if (!fields.emplace(name, tokens[i].substr(eq + 1)).second) {
      error = "result field '" + Shown(name) + "' given twice";
      return false;
    }
  }
  for (auto& [name, text] : fields) {
    bool good = true;
    if (name == "value") {
      r.value.emplace();
      good = ParseBytesInto(text, *r.value, budget);
    } else if (name == "next" || name == "count" || name == "out") {
      auto n = ParseU32(text);
      good = n.has_value();
      if (good) {
        (name == "next" ? r.next_key : name == "count" ? r.count : r.out_batch) =
            *n;
      }
    } else if (name == "keys") {
      r.keys.emplace();
      good = ParseKeyListInto(text, *r.keys, budget);
    } else if (name == "aligned") {
      good = text == "0" || text == "1";
      if (good) r.aligned = text == "1";
    } else if (name == "old") {
      auto n = ParseU64(text);
      good = n.has_value();
      if (good) r.old = *n;
    } else {
      error = "unknown result field '" + Shown(name) +
              "' (fields: value next count out keys aligned old)";
      return false;
    }
    if (!good) {
      error = "result field '" + Shown(name) + "': bad value '" + Shown(text) + "'";
      return false;
    }
  }
  return true;
}

}  // namespace

std::string ParseError::ToString() const {
  if (line == 0) return file + ": " + message;
  return file + ":" + std::to_string(line) + ": " + message;
}

std::string PrintBytes(const std::vector<uint8_t>& bytes) {
  if (bytes.empty()) return "-";
  static constexpr char kHex[] = "0123456789abcdef";
  constexpr size_t kMinRun = 8;
  std::string out;
  std::string literal;
  auto flush = [&] {
    if (literal.empty()) return;
    if (!out.empty()) out += '+';
    out += literal;
    literal.clear();
  };
  size_t i = 0;
  while (i < bytes.size()) {
    size_t j = i;
    while (j < bytes.size() && bytes[j] == bytes[i]) ++j;
    if (j - i >= kMinRun) {
      flush();
      if (!out.empty()) out += '+';
      out += kHex[bytes[i] >> 4];
      out += kHex[bytes[i] & 15];
      out += '*';
      out += std::to_string(j - i);
    } else {
      for (size_t k = i; k < j; ++k) {
        literal += kHex[bytes[k] >> 4];
        literal += kHex[bytes[k] & 15];
      }
    }
    i = j;
  }
  flush();
  return out;
}

// The low 32 bits by name (unnamed bits in hex), then the upper 32 bits,
// where BPF_F_CPU carries its CPU, as CPU(n) in decimal.
std::string PrintElemFlags(uint64_t flags) {
  const uint32_t cpu = static_cast<uint32_t>(flags >> 32);
  const uint64_t low = flags & UINT32_MAX;
  if (cpu == 0) return PrintBits(low, kElemFlagNames, "BPF_ANY");
  std::string out = low == 0 ? "" : PrintBits(low, kElemFlagNames, "BPF_ANY") + "|";
  return out + "CPU(" + std::to_string(cpu) + ")";
}

std::string PrintMapFlags(uint32_t flags) {
  return PrintBits(flags, kMapFlagNames, "0");
}

std::string PrintSpec(const MapSpec& spec) {
  std::string out = "map type=";
  out += spec.type == MapType::kPercpuArray ? "PERCPU_ARRAY" : "ARRAY";
  out += " key_size=" + std::to_string(spec.key_size);
  out += " value_size=" + std::to_string(spec.value_size);
  out += " max_entries=" + std::to_string(spec.max_entries);
  out += " flags=" + PrintMapFlags(spec.map_flags);
  out += " numa_node=" + std::to_string(spec.numa_node);
  if (spec.spin_lock_offset) {
    out += " spin_lock=" + std::to_string(*spec.spin_lock_offset);
  }
  return out;
}

std::string PrintOp(const Op& op) {
  std::string out = OpKindName(KindOf(op));
  FieldPrinter printer(out);
  std::visit([&](const auto& o) {
    using T = std::decay_t<decltype(o)>;
    VisitFields(const_cast<T&>(o), printer);  // the printer only reads
  }, op);
  return out;
}

std::string PrintResult(const Result& r) {
  std::string out = ErrnoName(r.err);
  if (r.null) out += " null";
  if (r.value) out += " value=" + PrintBytes(*r.value);
  if (r.next_key) out += " next=" + std::to_string(*r.next_key);
  if (r.count) out += " count=" + std::to_string(*r.count);
  if (r.out_batch) out += " out=" + std::to_string(*r.out_batch);
  if (r.keys) out += " keys=" + PrintKeyList(*r.keys);
  if (r.aligned) out += std::string(" aligned=") + (*r.aligned ? "1" : "0");
  if (r.old) out += " old=" + std::to_string(*r.old);
  return out;
}

std::string PrintOps(const Sequence& seq) {
  std::string out;
  for (const std::string& c : seq.comments) {
    std::string line = c;
    for (char& ch : line) {
      if (ch == '\n' || ch == '\r') ch = ' ';
    }
    out += line.empty() ? "#\n" : "# " + line + "\n";
  }
  if (seq.env) {
    out += "env possible_cpus=" + std::to_string(seq.env->possible_cpus);
    if (seq.env->Online() != seq.env->possible_cpus) {
      out += " online_cpus=" + std::to_string(seq.env->Online());
    }
    out += " page_size=" + std::to_string(seq.env->page_size);
    if (!seq.env->kernel_release.empty()) {
      out += " kernel=" + seq.env->kernel_release;
    }
    out += "\n";
  }
  out += PrintSpec(seq.spec);
  if (seq.expect_create) out += " -> " + ErrnoName(*seq.expect_create);
  out += "\n";
  for (const Step& step : seq.steps) {
    out += PrintOp(step.op);
    if (step.expect) out += " -> " + PrintResult(*step.expect);
    out += "\n";
  }
  return out;
}

std::variant<Sequence, ParseError> ParseOps(std::string_view text,
                                            const std::string& file) {
  static constexpr auto kOpParsers =
      MakeOpParsers(std::make_index_sequence<kOpKindCount>());
  Sequence seq;
  bool have_map = false;
  size_t budget = kMaxParsedTotalBytes;
  int line_no = 0;
  auto fail = [&](const std::string& message) -> ParseError {
    return ParseError{file, line_no, message};
  };
  while (!text.empty()) {
    ++line_no;
    size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
    if (line.size() > kMaxOpsLineBytes) {
      return fail("line is " + std::to_string(line.size()) +
                  " bytes, over the limit of " +
                  std::to_string(kMaxOpsLineBytes) + " bytes per line");
    }
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    size_t first = line.find_first_not_of(" \t\r");  // as Tokens() splits
    if (first == std::string_view::npos) continue;
    line.remove_prefix(first);
    if (line.find('\0') != std::string_view::npos) {
      return fail("NUL byte in line");
    }
    if (line[0] == '#') {
      line.remove_prefix(1);
      if (!line.empty() && line[0] == ' ') line.remove_prefix(1);
      std::string comment(line);
      for (char& ch : comment) {
        if (ch == '\r') ch = ' ';  // as PrintOps writes it: keeps the round trip
      }
      seq.comments.push_back(std::move(comment));
      continue;
    }
    std::vector<std::string> tokens = Tokens(line);
    size_t arrow = tokens.size();
    for (size_t i = 0; i < tokens.size(); ++i) {
      if (tokens[i] == "->") {
        arrow = i;
        break;
      }
    }
    const std::string& word = tokens[0];
    std::map<std::string, std::string> fields;
    std::string error;
    if (!KeyValues(tokens, 1, arrow, fields, error)) return fail(error);

    if (word == "env") {
      if (have_map) return fail("'env' must come before the 'map' line");
      if (seq.env) return fail("'env' given twice");
      if (arrow != tokens.size()) return fail("'env' takes no result");
      Environment env;
      env.possible_cpus = 0;
      env.page_size = 0;
      for (auto& [name, value] : fields) {
        if (name == "possible_cpus" || name == "page_size" ||
            name == "online_cpus") {
          auto n = ParseU32(value);
          if (!n || *n == 0) {
            return fail("env " + name + ": expected a positive number, got '" +
                        Shown(value) + "'");
          }
          (name == "possible_cpus" ? env.possible_cpus
           : name == "page_size"   ? env.page_size
                                   : env.online_cpus) = *n;
        } else if (name == "kernel") {
          env.kernel_release = value;
        } else {
          return fail("unknown env field '" + Shown(name) +
                      "' (fields: possible_cpus online_cpus page_size kernel)");
        }
      }
      if (env.possible_cpus == 0 || env.page_size == 0) {
        return fail("env needs possible_cpus= and page_size=");
      }
      // Absent: every possible CPU is online (files before online_cpus=).
      if (env.online_cpus > env.possible_cpus) {
        return fail("env online_cpus=" + std::to_string(env.online_cpus) +
                    " exceeds possible_cpus=" +
                    std::to_string(env.possible_cpus));
      }
      if (env.online_cpus == env.possible_cpus) env.online_cpus = 0;
      seq.env = env;
      continue;
    }
    if (word == "map") {
      if (have_map) return fail("a second 'map' line (one map per file)");
      have_map = true;
      MapSpec spec;
      for (auto& [name, value] : fields) {
        if (name == "type") {
          if (value == "ARRAY") {
            spec.type = MapType::kArray;
          } else if (value == "PERCPU_ARRAY") {
            spec.type = MapType::kPercpuArray;
          } else {
            return fail("map type: expected ARRAY or PERCPU_ARRAY, got '" +
                        Shown(value) + "'");
          }
          continue;
        }
        if (name == "flags") {
          auto n = ParseBits(value, kMapFlagNames, "0");
          if (!n || *n > UINT32_MAX) {
            return fail("map flags: expected BPF_F_* names or a number, got '" +
                        Shown(value) + "'");
          }
          spec.map_flags = static_cast<uint32_t>(*n);
          continue;
        }
        uint32_t* target = name == "key_size"      ? &spec.key_size
                           : name == "value_size"  ? &spec.value_size
                           : name == "max_entries" ? &spec.max_entries
                           : name == "numa_node"   ? &spec.numa_node
                                                   : nullptr;
        if (name == "spin_lock") {
          spec.spin_lock_offset = 0;
          target = &*spec.spin_lock_offset;
        }
        if (!target) {
          return fail("unknown map field '" + Shown(name) +
                      "' (fields: type key_size value_size max_entries flags "
                      "numa_node spin_lock)");
        }
        auto n = ParseU32(value);
        if (!n) {
          return fail("map " + name + ": expected a 32-bit number, got '" +
                      Shown(value) + "'");
        }
        *target = *n;
      }
      seq.spec = spec;
      if (arrow != tokens.size()) {
        if (arrow + 2 != tokens.size()) {
          return fail("map result: expected '-> ok' or '-> ERRNO'");
        }
        auto err = ErrnoFromName(tokens[arrow + 1]);
        if (!err) {
          return fail("map result: expected ok or an errno name, got '" +
                      Shown(tokens[arrow + 1]) + "'");
        }
        seq.expect_create = *err;
      }
      continue;
    }
    auto kind = OpKindFromName(word);
    if (!kind) {
      std::string names;
      for (size_t i = 0; i < kOpKindCount; ++i) {
        names += i ? ", " : "";
        names += OpKindName(static_cast<OpKind>(i));
      }
      return fail("unknown operation '" + Shown(word) + "' (expected env, map, " +
                  names + ")");
    }
    if (!have_map) {
      return fail("operation before the 'map' line (the map comes first)");
    }
    Step step;
    if (!kOpParsers[static_cast<size_t>(*kind)](fields, budget, step.op,
                                                error)) {
      return fail(std::string(word) + ": " + error);
    }
    if (arrow != tokens.size()) {
      Result r;
      if (!ParseResultTokens(tokens, arrow + 1, budget, r, error)) {
        return fail(error);
      }
      step.expect = std::move(r);
    }
    seq.steps.push_back(std::move(step));
  }
  if (!have_map) {
    ++line_no;
    return ParseError{file, line_no - 1 > 0 ? line_no - 1 : 1,
                      "no 'map' line: expected 'map type=ARRAY ...'"};
  }
  return seq;
}

std::string CutForMessage(std::string_view text, size_t max_chars) {
  if (text.size() <= max_chars) return std::string(text);
  return std::string(text.substr(0, max_chars)) + "... (" +
         std::to_string(text.size()) + " bytes)";
}

std::string FileTypeName(unsigned mode) {
  switch (mode & S_IFMT) {
    case S_IFREG: return "regular file";
    case S_IFDIR: return "directory";
    case S_IFIFO: return "FIFO";
    case S_IFSOCK: return "socket";
    case S_IFCHR: return "character device";
    case S_IFBLK: return "block device";
    case S_IFLNK: return "symbolic link";
    default: return "unknown file type";
  }
}

std::variant<Sequence, ParseError> ReadOpsFile(const std::string& path) {
  auto fail = [&](const std::string& message) {
    return ParseError{path, 0, message};
  };
  // O_NONBLOCK: opening a FIFO with no writer would wait forever; the type
  // check below then refuses it before any read.
  int fd = open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) return fail(std::string("cannot open: ") + std::strerror(errno));
  struct FdCloser {
    int fd;
    ~FdCloser() { close(fd); }
  } closer{fd};
  struct stat st;
  if (fstat(fd, &st) != 0) {
    return fail(std::string("cannot stat: ") + std::strerror(errno));
  }
  if (!S_ISREG(st.st_mode)) {
    return fail("not a regular file (" + FileTypeName(st.st_mode) + ")");
  }
  auto too_big = [&](uint64_t size) {
    return fail("file is " + std::to_string(size) + " bytes, over the limit of " +
                std::to_string(kMaxOpsFileBytes) + " bytes (" +
                std::to_string(kMaxOpsFileBytes >> 20) + " MiB) for an .ops file");
  };
  if (static_cast<uint64_t>(st.st_size) > kMaxOpsFileBytes) {
    return too_big(static_cast<uint64_t>(st.st_size));
  }
  std::string text;
  text.resize(static_cast<size_t>(st.st_size));
  size_t got = 0;
  // The file may grow while read: the limit holds on what is read.
  while (true) {
    if (got == text.size()) {
      if (text.size() > kMaxOpsFileBytes) return too_big(text.size());
      text.resize(std::min<size_t>(kMaxOpsFileBytes + 1,
                                   std::max<size_t>(4096, text.size() * 2)));
    }
    ssize_t n = read(fd, text.data() + got, text.size() - got);
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail(std::string("cannot read: ") + std::strerror(errno));
    }
    if (n == 0) break;
    got += static_cast<size_t>(n);
  }
  text.resize(got);
  if (text.size() > kMaxOpsFileBytes) return too_big(text.size());
  return ParseOps(text, path);
}

}  // namespace amc::core
