// paisparse: shared pieces of the weight-file readers and writers (not API).
//
// Everything here works on bytes already in memory: the readers load a file
// whole, then parse a std::string_view, so the same code serves files and
// in-memory fuzz inputs. Nothing here trusts a size it has not checked
// against the bytes that are actually present.
#pragma once

#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <random>
#include <string>
#include <string_view>
#include <system_error>

#include "../../error.hpp"

/// Throws paisparse::error "<name>: line <line>: <msg>" unless `cond` holds.
#define PAISPARSE_IO_EXPECT_LINE(cond, name, line, msg) \
  PAISPARSE_EXPECTS(cond, (name) << ": line " << (line) << ": " << msg)

/// Throws paisparse::error "<name>: byte <offset>: <msg>" unless `cond` holds.
#define PAISPARSE_IO_EXPECT_BYTE(cond, name, offset, msg) \
  PAISPARSE_EXPECTS(cond, (name) << ": byte " << (offset) << ": " << msg)

namespace paisparse {

/// Readers refuse matrices with more rows than this unless told otherwise:
/// a CSR needs rows + 1 offsets, and a Matrix Market size line (or a .npy
/// shape with zero columns) can claim two billion rows in a few bytes.
/// 2^26 rows is 256 MiB of offsets; raise it in the options if you mean it.
inline constexpr int64_t default_max_rows = int64_t{1} << 26;

namespace detail::io {

inline constexpr int64_t int32_max = std::numeric_limits<int32_t>::max();

/// A token as it may appear in a message: at most `max` characters, with
/// control and non-ASCII bytes written as \xNN, in single quotes.
inline std::string quote(std::string_view s, std::size_t max = 40) {
  static const char hex[] = "0123456789abcdef";
  std::string out = "'";
  const std::size_t shown = s.size() > max ? max : s.size();
  for (std::size_t i = 0; i < shown; ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c < 0x7f && c != '\\') {
      out += static_cast<char>(c);
    } else {
      out += "\\x";
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  if (shown < s.size()) out += "...";
  out += "'";
  return out;
}

/// Loads a whole file; throws paisparse::error naming the path and the OS reason.
/// Only regular files (or links to them) are read: a directory, device or pipe
/// is refused before it is opened (a pipe would block, a directory has no size).
inline std::string read_file(const std::string& path) {
  std::error_code ec;
  const auto status = std::filesystem::status(path, ec);
  PAISPARSE_EXPECTS(std::filesystem::exists(status),
                    path << ": cannot open for reading: " << (ec ? ec.message() : std::string("no such file")));
  PAISPARSE_EXPECTS(std::filesystem::is_regular_file(status),
                    path << ": cannot read: not a regular file (a directory, device or pipe): expected a weight file");
  std::ifstream in(path, std::ios::binary);
  PAISPARSE_EXPECTS(in.is_open(), path << ": cannot open for reading: " << std::strerror(errno));
  in.seekg(0, std::ios::end);
  const std::streamoff size = in.tellg();
  PAISPARSE_EXPECTS(size >= 0 && in.good(), path << ": cannot determine the size (not a regular file?)");
  in.seekg(0, std::ios::beg);
  std::string bytes(static_cast<std::size_t>(size), '\0');
  if (size > 0) in.read(&bytes[0], size);
  PAISPARSE_EXPECTS(in.good() && in.gcount() == size,
                    path << ": read " << in.gcount() << " of " << size << " bytes");
  return bytes;
}

/// Writes `bytes` to `path` (replacing it); throws paisparse::error on failure.
inline void write_file(const std::string& path, std::string_view bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  PAISPARSE_EXPECTS(out.is_open(), path << ": cannot open for writing: " << std::strerror(errno));
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  out.flush();
  PAISPARSE_EXPECTS(out.good(), path << ": writing " << bytes.size() << " bytes failed");
}

/// Splits text into lines ('\n'; a trailing '\r' is dropped) and counts them
/// from 1. A final line without '\n' is still a line; "a\n" has one line.
class line_reader {
 public:
  explicit line_reader(std::string_view text) : text_(text) {}

  /// The next line, or false at the end of the text.
  bool next(std::string_view& line) {
    if (pos_ >= text_.size()) return false;
    const std::size_t nl = text_.find('\n', pos_);
    const std::size_t end = nl == std::string_view::npos ? text_.size() : nl;
    line = text_.substr(pos_, end - pos_);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    pos_ = nl == std::string_view::npos ? text_.size() : nl + 1;
    ++line_no_;
    return true;
  }
  /// Number of the line `next` returned last (0 before the first).
  int64_t line_no() const noexcept { return line_no_; }
  /// Bytes not yet returned.
  std::size_t remaining() const noexcept { return text_.size() - pos_; }

 private:
  std::string_view text_;
  std::size_t pos_ = 0;
  int64_t line_no_ = 0;
};

inline bool is_space(char c) noexcept { return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f'; }

/// Splits a line into tokens separated by blanks (and commas when `commas`).
class token_reader {
 public:
  explicit token_reader(std::string_view line, bool commas = false) : rest_(line), commas_(commas) {}

  /// The next token, or false when only separators are left.
  bool next(std::string_view& tok) {
    std::size_t i = 0;
    while (i < rest_.size() && is_sep(rest_[i])) ++i;
    if (i == rest_.size()) {
      rest_ = {};
      return false;
    }
    std::size_t j = i;
    while (j < rest_.size() && !is_sep(rest_[j])) ++j;
    tok = rest_.substr(i, j - i);
    rest_.remove_prefix(j);
    return true;
  }
  /// Bytes of the line not yet consumed (an upper bound on what is left to parse).
  std::size_t remaining() const noexcept { return rest_.size(); }

 private:
  bool is_sep(char c) const noexcept { return is_space(c) || (commas_ && c == ','); }
  std::string_view rest_;
  bool commas_;
};

enum class parse_status { ok, not_a_number, out_of_range };

/// Parses a whole token as a decimal integer: optional sign, then digits only.
inline parse_status parse_int64(std::string_view tok, int64_t& out) noexcept {
  std::size_t i = 0;
  bool negative = false;
  if (i < tok.size() && (tok[i] == '+' || tok[i] == '-')) negative = tok[i++] == '-';
  if (i == tok.size()) return parse_status::not_a_number;
  uint64_t mag = 0;
  bool overflow = false;
  for (; i < tok.size(); ++i) {
    const char c = tok[i];
    if (c < '0' || c > '9') return parse_status::not_a_number;
    const auto d = static_cast<uint64_t>(c - '0');
    if (mag > (uint64_t{1} << 63) / 10 || mag * 10 > (uint64_t{1} << 63) - d) overflow = true;
    else mag = mag * 10 + d;
  }
  if (overflow || (!negative && mag > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())))
    return parse_status::out_of_range;
  out = negative ? static_cast<int64_t>(0 - mag) : static_cast<int64_t>(mag);
  return parse_status::ok;
}

/// Parses a whole token as a finite real number within float range (decimal
/// or exponent notation, optional sign; no inf, nan or hex), correctly rounded
/// to float. Values too small for a float become (signed) zero or a denormal.
inline parse_status parse_real(std::string_view tok, float& out) noexcept {
  if (!tok.empty() && tok[0] == '+') tok.remove_prefix(1);
  if (tok.empty() || tok[0] == '+') return parse_status::not_a_number;
  for (char c : tok) {  // from_chars would also take inf and nan
    const bool ok = (c >= '0' && c <= '9') || c == '.' || c == 'e' || c == 'E' || c == '-' || c == '+';
    if (!ok) return parse_status::not_a_number;
  }
  const char* first = tok.data();
  const char* last = tok.data() + tok.size();
  float v = 0.f;
  const auto res = std::from_chars(first, last, v, std::chars_format::general);
  if (res.ptr != last || res.ec == std::errc::invalid_argument) return parse_status::not_a_number;
  if (res.ec == std::errc::result_out_of_range) {  // overflow, or underflow below the smallest denormal
    double d = 0.0;
    const auto wide = std::from_chars(first, last, d, std::chars_format::general);
    if (wide.ec != std::errc() || !(std::fabs(d) < 1.0)) return parse_status::out_of_range;
    v = static_cast<float>(d);
  }
  if (!std::isfinite(v)) return parse_status::out_of_range;
  out = v;
  return parse_status::ok;
}

/// Shortest decimal text that reads back as exactly `v` (v finite).
inline void append_float(std::string& out, float v) {
  char buf[32];
  const auto res = std::to_chars(buf, buf + sizeof(buf), v);
  out.append(buf, res.ptr);
}

inline void append_int(std::string& out, int64_t v) {
  char buf[24];
  const auto res = std::to_chars(buf, buf + sizeof(buf), v);
  out.append(buf, res.ptr);
}

/// Uniform in [-1, 1) from a 64-bit Mersenne Twister, computed without
/// std::uniform_real_distribution so the values are the same with every
/// standard library (mt19937_64 itself is fully specified by the standard).
inline float uniform_pm1(std::mt19937_64& rng) {
  const auto u = static_cast<int64_t>(rng() >> 40);  // 24 random bits
  return static_cast<float>(u - (int64_t{1} << 23)) * (1.0f / static_cast<float>(int64_t{1} << 23));
}

/// ASCII lower case (file banners and extensions are case-insensitive).
inline std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

}  // namespace detail::io
}  // namespace paisparse
