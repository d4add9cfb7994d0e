// tools/amc/report.cc: JUnit XML and JSON text.
#include "tools/amc/report.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>

namespace amc::cli {

std::string XmlEscape(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (unsigned char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&apos;";
        break;
      default:
        if (c < 0x20 && c != '\t' && c != '\n') {
          out += '?';  // not allowed in XML 1.0, even as a reference
        } else if (c >= 0x80) {
          out += '?';  // keep the document ASCII whatever bytes came in
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out;
}

std::string JUnitXml(
    const std::string& suite_name, const std::vector<TestCaseReport>& cases,
    double seconds,
    const std::vector<std::pair<std::string, std::string>>& properties) {
  size_t failures = 0, errors = 0, skipped = 0;
  for (const auto& c : cases) {
    if (c.error)
      ++errors;
    else if (c.failure)
      ++failures;
    else if (c.skipped)
      ++skipped;
  }
  std::string counts = " tests=\"" + std::to_string(cases.size()) +
                       "\" failures=\"" + std::to_string(failures) +
                       "\" errors=\"" + std::to_string(errors) +
                       "\" skipped=\"" + std::to_string(skipped) +
                       "\" time=\"" + JsonNumber(seconds) + "\"";
  std::string out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  out += "<testsuites name=\"" + XmlEscape(suite_name) + "\"" + counts + ">\n";
  out += "  <testsuite name=\"" + XmlEscape(suite_name) + "\"" + counts + ">\n";
  if (!properties.empty()) {
    out += "    <properties>\n";
    for (const auto& [name, value] : properties) {
      out += "      <property name=\"" + XmlEscape(name) + "\" value=\"" +
             XmlEscape(value) + "\"/>\n";
    }
    out += "    </properties>\n";
  }
  for (const auto& c : cases) {
    out += "    <testcase classname=\"" + XmlEscape(c.classname) +
           "\" name=\"" + XmlEscape(c.name) + "\" time=\"" +
           JsonNumber(c.seconds) + "\"";
    if (c.error) {
      out += ">\n      <error message=\"" + XmlEscape(*c.error) +
             "\"/>\n    </testcase>\n";
    } else if (c.failure) {
      out += ">\n      <failure message=\"" + XmlEscape(*c.failure) + "\">" +
             XmlEscape(c.failure_text) + "</failure>\n    </testcase>\n";
    } else if (c.skipped) {
      out += ">\n      <skipped message=\"" + XmlEscape(*c.skipped) +
             "\"/>\n    </testcase>\n";
    } else {
      out += "/>\n";
    }
  }
  out += "  </testsuite>\n</testsuites>\n";
  return out;
}

std::string JsonString(const std::string& text) {
  std::string out = "\"";
  for (unsigned char c : text) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\r':
        out += "\\r";
        break;
      default:
        if (c < 0x20 || c >= 0x80) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out + "\"";
}

std::string JsonNumber(double value) {
  if (!std::isfinite(value)) return "0";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.3f", value);
  return buf;
}

JsonList& JsonList::Raw(const std::string& key, const std::string& json) {
  if (!body_.empty()) body_ += ",";
  if (object_) body_ += JsonString(key) + ":";
  body_ += json;
  return *this;
}

std::string WriteTextFile(const std::string& path, const std::string& text) {
  // POSIX calls, so that every failure keeps its errno for the message.
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return path + ": cannot write: " + std::strerror(errno);
  size_t done = 0;
  while (done < text.size()) {
    ssize_t n = write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      std::string why = n < 0 ? std::strerror(errno) : "wrote nothing";
      close(fd);
      return path + ": write failed: " + why;
    }
    done += static_cast<size_t>(n);
  }
  if (close(fd) != 0) return path + ": write failed: " + std::strerror(errno);
  return "";
}

}  // namespace amc::cli
