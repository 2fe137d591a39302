// paisparse: a small JSON reader and writer for plan files (not API).
//
// Enough JSON for the flat records paisparse writes (RFC 8259 syntax, UTF-8):
// objects keep their members in file order with the line and column where
// each value starts, so a schema check can point at the offending byte.
// Every syntax error throws paisparse::error "<name>: line L, column C: ...".
// Nesting is limited (64 levels) so hostile input cannot exhaust the stack.
// Numbers keep their source text; the schema decides what range it accepts.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "../error.hpp"
#include "../io/detail/parse.hpp"  // io::quote

namespace paisparse::detail::json {

enum class kind { null, boolean, number, string, array, object };

inline const char* to_string(kind k) {
  switch (k) {
    case kind::null: return "null";
    case kind::boolean: return "a boolean";
    case kind::number: return "a number";
    case kind::string: return "a string";
    case kind::array: return "an array";
    case kind::object: return "an object";
  }
  return "?";
}

struct value {
  kind type = kind::null;
  bool boolean = false;
  double number = 0;   // kind::number: the value (may be rounded); text holds the digits
  std::string text;    // kind::string: the decoded string; kind::number: the source text
  std::vector<value> items;                            // kind::array
  std::vector<std::pair<std::string, value>> members;  // kind::object, in file order
  int line = 0, column = 0;                            // where the value starts (1-based)
};

class parser {
 public:
  parser(std::string_view text, std::string_view name) : s_(text), name_(name) {}

  /// The whole text as one value (blanks around it allowed, nothing else).
  value parse_document() {
    skip_blanks();
    value v = parse_value(0);
    skip_blanks();
    if (pos_ < s_.size()) fail("unexpected " + describe_here() + " after the end of the top-level value");
    return v;
  }

 private:
  static constexpr int max_depth = 64;

  [[noreturn]] void fail(const std::string& msg) const { fail_at(line_, column(), msg); }
  [[noreturn]] void fail_at(int line, int col, const std::string& msg) const {
    PAISPARSE_FAIL(name_ << ": line " << line << ", column " << col << ": " << msg);
  }
  int column() const { return static_cast<int>(pos_ - line_start_) + 1; }
  bool at_end() const { return pos_ >= s_.size(); }
  char peek() const { return s_[pos_]; }

  std::string describe_here() const {
    if (at_end()) return "end of file";
    const std::size_t n = std::min<std::size_t>(12, s_.size() - pos_);
    return "text " + io::quote(s_.substr(pos_, n));
  }

  void skip_blanks() {
    while (!at_end()) {
      const char c = peek();
      if (c == '\n') {
        ++pos_;
        ++line_;
        line_start_ = pos_;
      } else if (c == ' ' || c == '\t' || c == '\r') {
        ++pos_;
      } else {
        break;
      }
    }
  }

  value parse_value(int depth) {
    if (at_end()) fail("the file ends where a value was expected");
    value v;
    v.line = line_;
    v.column = column();
    const char c = peek();
    if (c == '{') {
      parse_object(v, depth);
    } else if (c == '[') {
      parse_array(v, depth);
    } else if (c == '"') {
      v.type = kind::string;
      v.text = parse_string();
    } else if (c == '-' || (c >= '0' && c <= '9')) {
      parse_number(v);
    } else if (s_.substr(pos_, 4) == "true") {
      v.type = kind::boolean;
      v.boolean = true;
      pos_ += 4;
    } else if (s_.substr(pos_, 5) == "false") {
      v.type = kind::boolean;
      pos_ += 5;
    } else if (s_.substr(pos_, 4) == "null") {
      pos_ += 4;
    } else {
      fail("expected a value (object, array, string, number, true, false or null), found " + describe_here());
    }
    return v;
  }

  void parse_object(value& v, int depth) {
    if (depth >= max_depth) fail("nesting deeper than 64 levels");
    v.type = kind::object;
    const int open_line = line_, open_col = column();
    ++pos_;  // {
    skip_blanks();
    if (!at_end() && peek() == '}') {
      ++pos_;
      return;
    }
    for (;;) {
      skip_blanks();
      if (at_end()) fail_unclosed("object", open_line, open_col);
      if (peek() != '"') fail("expected a member name in double quotes, found " + describe_here());
      const int key_line = line_, key_col = column();
      std::string key = parse_string();
      for (const auto& m : v.members)
        if (m.first == key)
          fail_at(key_line, key_col, "member " + io::quote(key) + " appears twice in the object opened at line " +
                                         std::to_string(open_line) + ", column " + std::to_string(open_col));
      skip_blanks();
      if (at_end()) fail_unclosed("object", open_line, open_col);
      if (peek() != ':') fail("expected ':' after member name " + io::quote(key) + ", found " + describe_here());
      ++pos_;
      skip_blanks();
      if (at_end()) fail_unclosed("object", open_line, open_col);
      v.members.emplace_back(std::move(key), parse_value(depth + 1));
      skip_blanks();
      if (at_end()) fail_unclosed("object", open_line, open_col);
      if (peek() == ',') {
        ++pos_;
        skip_blanks();
        if (!at_end() && peek() == '}') fail("a ',' before '}' (trailing commas are not JSON)");
        continue;
      }
      if (peek() == '}') {
        ++pos_;
        return;
      }
      fail("expected ',' or '}' after a member, found " + describe_here());
    }
  }

  void parse_array(value& v, int depth) {
    if (depth >= max_depth) fail("nesting deeper than 64 levels");
    v.type = kind::array;
    const int open_line = line_, open_col = column();
    ++pos_;  // [
    skip_blanks();
    if (!at_end() && peek() == ']') {
      ++pos_;
      return;
    }
    for (;;) {
      skip_blanks();
      if (at_end()) fail_unclosed("array", open_line, open_col);
      v.items.push_back(parse_value(depth + 1));
      skip_blanks();
      if (at_end()) fail_unclosed("array", open_line, open_col);
      if (peek() == ',') {
        ++pos_;
        skip_blanks();
        if (!at_end() && peek() == ']') fail("a ',' before ']' (trailing commas are not JSON)");
        continue;
      }
      if (peek() == ']') {
        ++pos_;
        return;
      }
      fail("expected ',' or ']' after an array element, found " + describe_here());
    }
  }

  [[noreturn]] void fail_unclosed(const char* what, int line, int col) const {
    fail(std::string("the file ends inside the ") + what + " opened at line " + std::to_string(line) + ", column " +
         std::to_string(col));
  }

  static void append_utf8(std::string& out, uint32_t cp) {
    if (cp < 0x80) {
      out += static_cast<char>(cp);
    } else if (cp < 0x800) {
      out += static_cast<char>(0xc0 | (cp >> 6));
      out += static_cast<char>(0x80 | (cp & 0x3f));
    } else if (cp < 0x10000) {
      out += static_cast<char>(0xe0 | (cp >> 12));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
      out += static_cast<char>(0x80 | (cp & 0x3f));
    } else {
      out += static_cast<char>(0xf0 | (cp >> 18));
      out += static_cast<char>(0x80 | ((cp >> 12) & 0x3f));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
      out += static_cast<char>(0x80 | (cp & 0x3f));
    }
  }

  uint32_t parse_hex4() {
    if (s_.size() - pos_ < 4) fail("the file ends inside a \\u escape");
    uint32_t cp = 0;
    for (int i = 0; i < 4; ++i) {
      const char c = s_[pos_ + i];
      uint32_t d;
      if (c >= '0' && c <= '9') d = static_cast<uint32_t>(c - '0');
      else if (c >= 'a' && c <= 'f') d = static_cast<uint32_t>(c - 'a' + 10);
      else if (c >= 'A' && c <= 'F') d = static_cast<uint32_t>(c - 'A' + 10);
      else fail("expected 4 hexadecimal digits after \\u, found " + io::quote(s_.substr(pos_, 4)));
      cp = cp * 16 + d;
    }
    pos_ += 4;
    return cp;
  }

  std::string parse_string() {
    const int open_line = line_, open_col = column();
    ++pos_;  // "
    std::string out;
    for (;;) {
      if (at_end())
        fail_at(open_line, open_col, "the file ends inside the string that starts here (no closing '\"')");
      const auto c = static_cast<unsigned char>(peek());
      if (c == '"') {
        ++pos_;
        return out;
      }
      if (c < 0x20)
        fail(c == '\n' ? std::string("a line break inside a string (no closing '\"' on the line?)")
                       : "control byte " + io::quote(s_.substr(pos_, 1)) + " inside a string: expected it escaped");
      if (c != '\\') {
        out += static_cast<char>(c);
        ++pos_;
        continue;
      }
      const int esc_col = column();  // errors point at the backslash
      ++pos_;
      if (at_end()) fail("the file ends inside an escape sequence");
      const char e = peek();
      ++pos_;
      switch (e) {
        case '"': out += '"'; break;
        case '\\': out += '\\'; break;
        case '/': out += '/'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'u': {
          uint32_t cp = parse_hex4();
          if (cp >= 0xdc00 && cp <= 0xdfff) fail_at(line_, esc_col, "a lone low surrogate \\u escape");
          if (cp >= 0xd800 && cp <= 0xdbff) {
            if (s_.substr(pos_, 2) != "\\u")
              fail_at(line_, esc_col, "a high surrogate \\u escape not followed by a low one");
            pos_ += 2;
            const uint32_t lo = parse_hex4();
            if (lo < 0xdc00 || lo > 0xdfff)
              fail_at(line_, esc_col, "a high surrogate \\u escape not followed by a low one");
            cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
          }
          append_utf8(out, cp);
          break;
        }
        default:
          fail_at(line_, esc_col,
                  "unknown escape " + io::quote(s_.substr(pos_ - 2, 2)) +
                      " in a string: expected one of \\\" \\\\ \\/ \\b \\f \\n \\r \\t \\uXXXX");
      }
    }
  }

  void parse_number(value& v) {
    const std::size_t start = pos_;
    auto digits = [&] {
      const std::size_t d0 = pos_;
      while (!at_end() && peek() >= '0' && peek() <= '9') ++pos_;
      return pos_ - d0;
    };
    if (peek() == '-') ++pos_;
    if (at_end() || !(peek() >= '0' && peek() <= '9')) fail("expected a digit in a number, found " + describe_here());
    if (peek() == '0') {
      ++pos_;
      if (!at_end() && peek() >= '0' && peek() <= '9') fail("a number with a leading zero (not JSON)");
    } else {
      digits();
    }
    if (!at_end() && peek() == '.') {
      ++pos_;
      if (digits() == 0) fail("expected a digit after the decimal point, found " + describe_here());
    }
    if (!at_end() && (peek() == 'e' || peek() == 'E')) {
      ++pos_;
      if (!at_end() && (peek() == '+' || peek() == '-')) ++pos_;
      if (digits() == 0) fail("expected a digit in the exponent, found " + describe_here());
    }
    v.type = kind::number;
    v.text = std::string(s_.substr(start, pos_ - start));
    v.number = std::strtod(v.text.c_str(), nullptr);  // the grammar is checked; strtod only converts
  }

  std::string_view s_;
  std::string_view name_;
  std::size_t pos_ = 0, line_start_ = 0;
  int line_ = 1;
};

/// Parses `text` (named `name` in errors) as one JSON document.
inline value parse(std::string_view text, std::string_view name) { return parser(text, name).parse_document(); }

/// `s` as a JSON string literal (quotes, escapes; bytes >= 0x80 pass through).
inline std::string string_literal(std::string_view s) {
  static const char hex[] = "0123456789abcdef";
  std::string out = "\"";
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) {
          out += "\\u00";
          out += hex[c >> 4];
          out += hex[c & 15];
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out + "\"";
}

/// A finite double rounded to `decimals` places, trailing zeros dropped
/// ("8.928", "12", "-0.5"); NaN and infinities are written as 0.
inline std::string fixed_literal(double v, int decimals) {
  if (!std::isfinite(v)) return "0";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  std::string s = buf;
  if (s.find('.') != std::string::npos) {
    while (s.back() == '0') s.pop_back();
    if (s.back() == '.') s.pop_back();
  }
  if (s == "-0") s = "0";
  return s;
}

}  // namespace paisparse::detail::json
