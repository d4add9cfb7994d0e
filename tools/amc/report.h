// tools/amc/report.h: machine-readable reports of a run or a replay: a JUnit
// XML file (amc run: a test case per block of sequences and per divergence;
// amc replay: one per file) and a JSON summary.
//
// Invariant: whatever bytes the messages hold, the XML is well-formed (control
// characters other than tab and newline are replaced, markup is escaped) and
// the JSON is valid (strings escaped, numbers finite).
#ifndef AMC_TOOLS_AMC_REPORT_H_
#define AMC_TOOLS_AMC_REPORT_H_

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace amc::cli {

struct TestCaseReport {
  std::string classname;
  std::string name;
  double seconds = 0;
  // Set for a failed case: a one-line message and the full text.
  std::optional<std::string> failure;
  std::string failure_text;
  // Set for a case that could not be read (an error, not a failure).
  std::optional<std::string> error;
  std::optional<std::string> skipped;
};

// The whole JUnit document: <testsuites><testsuite ...><testcase .../>...
// `properties` (name, value) go into the suite's <properties>.
std::string JUnitXml(
    const std::string& suite_name, const std::vector<TestCaseReport>& cases,
    double seconds,
    const std::vector<std::pair<std::string, std::string>>& properties = {});

// Escapes text for XML character data and attribute values.
std::string XmlEscape(const std::string& text);

// A JSON string literal, quotes included.
std::string JsonString(const std::string& text);
// A JSON number; non-finite values print as 0.
std::string JsonNumber(double value);

// Builds one JSON object or array member by member, comma-separated.
class JsonList {
 public:
  explicit JsonList(bool object) : object_(object) {}
  JsonList& Raw(const std::string& key, const std::string& json);
  JsonList& Str(const std::string& key, const std::string& value) {
    return Raw(key, JsonString(value));
  }
  JsonList& Num(const std::string& key, double value) {
    return Raw(key, JsonNumber(value));
  }
  JsonList& Int(const std::string& key, uint64_t value) {
    return Raw(key, std::to_string(value));
  }
  JsonList& Bool(const std::string& key, bool value) {
    return Raw(key, value ? "true" : "false");
  }
  // Array element (key ignored for arrays).
  JsonList& Add(const std::string& json) { return Raw("", json); }
  std::string Done() const {
    return (object_ ? "{" : "[") + body_ + (object_ ? "}" : "]");
  }

 private:
  bool object_;
  std::string body_;
};

// Writes `text` to `path`; returns "" or an error message naming the path.
std::string WriteTextFile(const std::string& path, const std::string& text);

}  // namespace amc::cli

#endif  // AMC_TOOLS_AMC_REPORT_H_
