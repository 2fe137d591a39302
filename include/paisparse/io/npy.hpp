// paisparse: NumPy .npy files holding dense 2-D weights.
//
//   npy_array       read_npy(path, options)             load and parse a file
//   npy_array       parse_npy(bytes, name, options)     parse bytes in memory (string_view,
//                                                       or pointer and size)
//   host_csr<float> npy_to_csr(a)                       keep the nonzeros
//   host_csr<float> npy_prune(a, sparsity)              magnitude pruning (prune_by_magnitude)
//   std::string     format_npy(values, rows, cols, dtype, version, fortran_order)
//   void            write_npy(path, ...)                ... written to a file
//
// Read: format versions 1.0, 2.0 and 3.0; dtype '<f4' (float32) or '<f2'
// (float16); exactly two dimensions. fortran_order True is accepted: the
// column-major data is transposed on load, so npy_array::values is always
// row-major (C order) with the shape the file declares. The header is parsed
// as the Python dict literal numpy writes ({'descr': ..., 'fortran_order': ...,
// 'shape': (...), }, single or double quotes, any key order, Python 2 'L'
// suffixes); anything else is an error. The array data must fill the rest of
// the file exactly, and every value must be finite (a NaN or inf weight is a
// corrupt file, and magnitude pruning cannot order NaNs).
// Rejected with a message naming the file, the byte offset and what was
// expected: bad magic, unsupported version, header length past the end,
// malformed header, unknown or missing keys, other dtypes (big-endian, f8,
// integers, structured), ndim != 2, negative dimensions, dimensions above
// 2^31 - 1, more rows than npy_options::max_rows, truncated or surplus data,
// non-finite values. Sizes are checked against the file length before
// anything is allocated.
//
// Write: float32 or float16, C order by default, version 1.0 unless asked,
// the header padded with spaces to a multiple of 64 bytes as numpy does.
// Bytes are assembled little-endian explicitly (host byte order does not matter).
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include "../error.hpp"
#include "../format/csr.hpp"
#include "../types.hpp"
#include "detail/parse.hpp"

namespace paisparse {

/// Element types read and written: little-endian float32 ('<f4') and float16 ('<f2').
enum class npy_dtype { f32, f16 };

inline const char* to_string(npy_dtype d) { return d == npy_dtype::f32 ? "<f4" : "<f2"; }

/// A dense 2-D array read from a .npy file: row-major values, as floats.
struct npy_array {
  int64_t rows = 0;
  int64_t cols = 0;
  npy_dtype dtype = npy_dtype::f32;  // the element type of the file
  bool fortran_order = false;        // how the file stored it (values are row-major regardless)
  std::vector<float> values;         // rows * cols, row-major
};

struct npy_options {
  /// Arrays with more rows are rejected (a (2^31 - 1, 0) shape has no data to bound it).
  int64_t max_rows = default_max_rows;
};

namespace detail::io {

inline constexpr unsigned char npy_magic[6] = {0x93, 'N', 'U', 'M', 'P', 'Y'};

inline uint32_t load_le(const unsigned char* p, int bytes) {
  uint32_t v = 0;
  for (int i = bytes - 1; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

inline void store_le(std::string& out, uint32_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) out += static_cast<char>((v >> (8 * i)) & 0xff);
}

inline float half_bits_to_float(uint16_t bits) {
  __half_raw raw;
  raw.x = bits;
  return to_float(__half(raw));
}

inline uint16_t float_to_half_bits(float v) {
  const __half_raw raw = from_float<__half>(v);
  return raw.x;
}

/// The header fields of a .npy file.
struct npy_header {
  std::string descr;
  bool fortran_order = false;
  std::vector<int64_t> shape;
};

/// Parses the Python dict literal of a .npy header; offsets in messages are
/// absolute (`base` is where the header starts in the file).
class npy_header_parser {
 public:
  npy_header_parser(std::string_view text, std::size_t base, std::string_view name)
      : s_(text), base_(base), name_(name) {}

  npy_header parse() {
    npy_header h;
    bool seen_descr = false, seen_order = false, seen_shape = false;
    skip_ws();
    expect('{', "'{' opening the header dict");
    skip_ws();
    while (!at('}')) {
      const std::size_t key_at = pos_;
      const std::string_view key = string_literal("a quoted key");
      skip_ws();
      expect(':', "':' after the key");
      skip_ws();
      if (key == "descr") {
        PAISPARSE_IO_EXPECT_BYTE(!seen_descr, name_, base_ + key_at, "key 'descr' given twice: expected it once");
        seen_descr = true;
        PAISPARSE_IO_EXPECT_BYTE(at('\'') || at('"'), name_, base_ + pos_,
                                 "'descr' is not a string: expected '<f4' (float32) or '<f2' (float16)"
                                 " (structured dtypes are not supported)");
        h.descr = std::string(string_literal("the dtype string"));
      } else if (key == "fortran_order") {
        PAISPARSE_IO_EXPECT_BYTE(!seen_order, name_, base_ + key_at,
                                 "key 'fortran_order' given twice: expected it once");
        seen_order = true;
        if (s_.substr(pos_, 4) == "True") h.fortran_order = true, pos_ += 4;
        else if (s_.substr(pos_, 5) == "False") h.fortran_order = false, pos_ += 5;
        else
          PAISPARSE_IO_EXPECT_BYTE(false, name_, base_ + pos_,
                                   "fortran_order is " << quote(s_.substr(pos_, 8)) << ": expected True or False");
      } else if (key == "shape") {
        PAISPARSE_IO_EXPECT_BYTE(!seen_shape, name_, base_ + key_at, "key 'shape' given twice: expected it once");
        seen_shape = true;
        h.shape = tuple();
      } else {
        PAISPARSE_IO_EXPECT_BYTE(false, name_, base_ + key_at,
                                 "unknown key " << quote(key) << ": expected 'descr', 'fortran_order' and 'shape'");
      }
      skip_ws();
      if (at(',')) {
        ++pos_;
        skip_ws();
      } else {
        PAISPARSE_IO_EXPECT_BYTE(at('}'), name_, base_ + pos_,
                                 "found " << quote(s_.substr(pos_, 8)) << ": expected ',' or '}' after a value");
      }
    }
    ++pos_;  // '}'
    const std::size_t end_at = pos_;
    skip_ws();
    PAISPARSE_IO_EXPECT_BYTE(pos_ == s_.size(), name_, base_ + pos_,
                             "found " << quote(s_.substr(pos_, 8))
                                      << " after the header dict (closed at byte " << base_ + end_at - 1
                                      << "): expected only spaces and a newline up to the data");
    PAISPARSE_IO_EXPECT_BYTE(seen_descr && seen_order && seen_shape, name_, base_ + end_at - 1,
                             "the header has no " << (!seen_descr ? "'descr'" : !seen_order ? "'fortran_order'" : "'shape'")
                                                  << " key: expected 'descr', 'fortran_order' and 'shape'");
    return h;
  }

 private:
  bool at(char c) const { return pos_ < s_.size() && s_[pos_] == c; }
  void skip_ws() {
    while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' || s_[pos_] == '\r')) ++pos_;
  }
  void expect(char c, const char* what) {
    PAISPARSE_IO_EXPECT_BYTE(at(c), name_, base_ + pos_,
                             (pos_ < s_.size() ? "found " + quote(s_.substr(pos_, 8)) : std::string("the header ends"))
                                 << ": expected " << what);
    ++pos_;
  }
  std::string_view string_literal(const char* what) {
    PAISPARSE_IO_EXPECT_BYTE(at('\'') || at('"'), name_, base_ + pos_,
                             (pos_ < s_.size() ? "found " + quote(s_.substr(pos_, 8)) : std::string("the header ends"))
                                 << ": expected " << what);
    const char q = s_[pos_];
    const std::size_t open = pos_++;
    const std::size_t close = s_.find(q, pos_);
    PAISPARSE_IO_EXPECT_BYTE(close != std::string_view::npos, name_, base_ + open,
                             "unterminated string: expected a closing " << q << " before the end of the header");
    const std::string_view out = s_.substr(pos_, close - pos_);
    PAISPARSE_IO_EXPECT_BYTE(out.find('\\') == std::string_view::npos, name_, base_ + open,
                             "string " << quote(out) << " has an escape: expected a plain key or dtype");
    pos_ = close + 1;
    return out;
  }
  std::vector<int64_t> tuple() {
    expect('(', "'(' opening the shape tuple");
    std::vector<int64_t> dims;
    skip_ws();
    while (!at(')')) {
      const std::size_t start = pos_;
      if (at('-') || at('+')) ++pos_;
      while (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9') ++pos_;
      const std::string_view tok = s_.substr(start, pos_ - start);
      if (at('L')) ++pos_;  // Python 2 long
      int64_t v = 0;
      const parse_status st = parse_int64(tok, v);
      PAISPARSE_IO_EXPECT_BYTE(st != parse_status::not_a_number, name_, base_ + start,
                               "shape entry " << quote(s_.substr(start, 8)) << " is not an integer: expected (rows, cols)");
      PAISPARSE_IO_EXPECT_BYTE(st == parse_status::ok && v >= 0, name_, base_ + start,
                               "shape entry " << quote(tok) << " is " << (st == parse_status::ok ? "negative" : "out of range")
                                              << ": expected a dimension 0 <= d <= 2^31 - 1");
      dims.push_back(v);
      skip_ws();
      if (at(',')) {
        ++pos_;
        skip_ws();
      } else {
        PAISPARSE_IO_EXPECT_BYTE(at(')'), name_, base_ + pos_,
                                 (pos_ < s_.size() ? "found " + quote(s_.substr(pos_, 8)) : std::string("the header ends"))
                                     << ": expected ',' or ')' in the shape tuple");
      }
    }
    ++pos_;  // ')'
    return dims;
  }

  std::string_view s_;
  std::size_t pos_ = 0;
  std::size_t base_;
  std::string_view name_;
};

}  // namespace detail::io

/// Parses .npy bytes already in memory (std::string_view as a byte span);
/// `name` is used in messages.
inline npy_array parse_npy(std::string_view bytes, std::string_view name, const npy_options& opt = {}) {
  using namespace detail::io;
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  const std::size_t size = bytes.size();

  PAISPARSE_IO_EXPECT_BYTE(size >= 6 && std::memcmp(p, npy_magic, 6) == 0, name, 0,
                           "bad magic " << quote(bytes.substr(0, 6)) << ": expected '\\x93NUMPY' (not a .npy file)");
  PAISPARSE_IO_EXPECT_BYTE(size >= 8, name, size,
                           "the file ends inside the version (" << size << " bytes): expected 2 version bytes at byte 6");
  const int major = p[6], minor = p[7];
  PAISPARSE_IO_EXPECT_BYTE((major == 1 || major == 2 || major == 3) && minor == 0, name, 6,
                           "format version " << major << "." << minor << " is not supported: expected 1.0, 2.0 or 3.0");
  const int len_bytes = major == 1 ? 2 : 4;
  const std::size_t header_at = 8 + static_cast<std::size_t>(len_bytes);
  PAISPARSE_IO_EXPECT_BYTE(size >= header_at, name, size,
                           "the file ends inside the header length (" << size << " bytes): expected " << len_bytes
                                                                      << " bytes at byte 8");
  const std::size_t header_len = load_le(p + 8, len_bytes);
  PAISPARSE_IO_EXPECT_BYTE(header_len <= size - header_at, name, 8,
                           "header length " << header_len << " runs past the end of the file (the header would end at byte "
                                            << header_at + header_len << ", the file has " << size
                                            << " bytes): expected a length within the file");
  const std::size_t data_at = header_at + header_len;

  const npy_header h = npy_header_parser(bytes.substr(header_at, header_len), header_at, name).parse();
  npy_array a;
  if (h.descr == "<f4") a.dtype = npy_dtype::f32;
  else if (h.descr == "<f2") a.dtype = npy_dtype::f16;
  else
    PAISPARSE_IO_EXPECT_BYTE(false, name, header_at,
                             "dtype " << quote(h.descr)
                                      << " is not supported: expected '<f4' (float32) or '<f2' (float16)");
  PAISPARSE_IO_EXPECT_BYTE(h.shape.size() == 2, name, header_at,
                           "the array has " << h.shape.size() << " dimensions: expected a 2-D array (rows, cols)");
  a.rows = h.shape[0];
  a.cols = h.shape[1];
  a.fortran_order = h.fortran_order;
  PAISPARSE_IO_EXPECT_BYTE(a.rows <= int32_max && a.cols <= int32_max, name, header_at,
                           "shape (" << a.rows << ", " << a.cols << ") is too large: expected dimensions <= 2^31 - 1");
  PAISPARSE_IO_EXPECT_BYTE(a.rows <= opt.max_rows, name, header_at,
                           "shape (" << a.rows << ", " << a.cols << ") has more rows than the reader's limit of "
                                     << opt.max_rows << ": expected rows <= npy_options::max_rows");
  const std::size_t item = a.dtype == npy_dtype::f32 ? 4 : 2;
  const std::size_t have = size - data_at;
  // rows, cols < 2^31 and item <= 4, so rows * cols * item < 2^64: no overflow in uint64_t.
  const uint64_t need = static_cast<uint64_t>(a.rows) * static_cast<uint64_t>(a.cols) * item;
  PAISPARSE_IO_EXPECT_BYTE(need == have, name, data_at,
                           "the array data is " << have << " bytes: expected rows * cols * " << item << " = " << need
                                                << " for shape (" << a.rows << ", " << a.cols << ") " << h.descr);

  const std::size_t n = static_cast<std::size_t>(a.rows) * static_cast<std::size_t>(a.cols);
  a.values.resize(n);
  const unsigned char* d = p + data_at;
  for (std::size_t i = 0; i < n; ++i) {
    float v = 0.f;
    if (a.dtype == npy_dtype::f32) {
      const uint32_t bits = load_le(d + 4 * i, 4);
      std::memcpy(&v, &bits, 4);
    } else {
      v = half_bits_to_float(static_cast<uint16_t>(load_le(d + 2 * i, 2)));
    }
    // element i of the file is [i / cols, i % cols] in C order, [i % rows, i / rows] in Fortran order
    const std::size_t r = h.fortran_order ? i % static_cast<std::size_t>(a.rows) : i / static_cast<std::size_t>(a.cols);
    const std::size_t c = h.fortran_order ? i / static_cast<std::size_t>(a.rows) : i % static_cast<std::size_t>(a.cols);
    PAISPARSE_IO_EXPECT_BYTE(std::isfinite(v), name, data_at + item * i,
                             "element [" << r << ", " << c << "] is " << v << ": expected finite weights");
    a.values[r * static_cast<std::size_t>(a.cols) + c] = v;
  }
  return a;
}

/// Parses `size` bytes at `data` (a std::vector<uint8_t>, a mapped file, ...).
inline npy_array parse_npy(const void* data, std::size_t size, std::string_view name, const npy_options& opt = {}) {
  PAISPARSE_EXPECTS(data != nullptr || size == 0, name << ": parse_npy: data is null");
  return parse_npy(std::string_view(static_cast<const char*>(data), size), name, opt);
}

/// Reads a .npy file (see the top of this header).
inline npy_array read_npy(const std::string& path, const npy_options& opt = {}) {
  const std::string bytes = detail::io::read_file(path);
  return parse_npy(bytes, path, opt);
}

/// A CSR weight holding every nonzero of the array (exact zeros, including -0, are dropped).
inline host_csr<float, int32_t> npy_to_csr(const npy_array& a) {
  PAISPARSE_EXPECTS(a.rows >= 0 && a.cols >= 0 && a.rows <= detail::io::int32_max && a.cols <= detail::io::int32_max,
                    "npy_to_csr: shape (" << a.rows << ", " << a.cols << "): expected 0 <= dimensions <= 2^31 - 1");
  PAISPARSE_EXPECTS(a.values.size() == static_cast<std::size_t>(a.rows) * static_cast<std::size_t>(a.cols),
                    "npy_to_csr: values has " << a.values.size() << " entries: expected rows * cols = "
                                              << a.rows * a.cols);
  std::size_t nnz = 0;
  for (float v : a.values) nnz += v != 0.f;
  PAISPARSE_EXPECTS(nnz <= static_cast<std::size_t>(detail::io::int32_max),
                    "npy_to_csr: " << nnz << " nonzeros: expected at most 2^31 - 1");
  std::vector<int32_t> offsets(static_cast<std::size_t>(a.rows) + 1, 0);
  std::vector<int32_t> idx;
  std::vector<float> vals;
  idx.reserve(nnz);
  vals.reserve(nnz);
  const auto cols = static_cast<std::size_t>(a.cols);
  for (std::size_t r = 0; r < static_cast<std::size_t>(a.rows); ++r) {
    for (std::size_t c = 0; c < cols; ++c) {
      const float v = a.values[r * cols + c];
      if (v != 0.f) {
        idx.push_back(static_cast<int32_t>(c));
        vals.push_back(v);
      }
    }
    offsets[r + 1] = static_cast<int32_t>(idx.size());
  }
  return host_csr<float, int32_t>(a.rows, a.cols, std::move(offsets), std::move(idx), std::move(vals));
}

/// A CSR weight keeping the round((1 - sparsity) * rows * cols) entries of
/// largest magnitude (prune_by_magnitude; ties go to the lower position).
inline host_csr<float, int32_t> npy_prune(const npy_array& a, double sparsity) {
  PAISPARSE_EXPECTS(a.values.size() == static_cast<std::size_t>(a.rows) * static_cast<std::size_t>(a.cols),
                    "npy_prune: values has " << a.values.size() << " entries: expected rows * cols = "
                                             << a.rows * a.cols);
  return prune_by_magnitude<float, int32_t>(a.values.data(), a.rows, a.cols, sparsity);
}

/// A rows x cols row-major float array as .npy bytes: dtype f32 or f16 (rounded
/// to nearest), format version 1, 2 or 3, stored in C order or (fortran_order)
/// transposed into column-major order with the flag set.
inline std::string format_npy(const float* values, int64_t rows, int64_t cols, npy_dtype dtype = npy_dtype::f32,
                              int version = 1, bool fortran_order = false) {
  using namespace detail::io;
  PAISPARSE_EXPECTS(version >= 1 && version <= 3, "format_npy: version = " << version << ": expected 1, 2 or 3");
  PAISPARSE_EXPECTS(rows >= 0 && cols >= 0, "format_npy: shape (" << rows << ", " << cols << "): expected non-negative");
  PAISPARSE_EXPECTS(values != nullptr || rows * cols == 0, "format_npy: values is null");
  std::string dict = "{'descr': '";
  dict += to_string(dtype);
  dict += "', 'fortran_order': ";
  dict += fortran_order ? "True" : "False";
  dict += ", 'shape': (";
  append_int(dict, rows);
  dict += ", ";
  append_int(dict, cols);
  dict += "), }";
  const std::size_t prefix = version == 1 ? 10 : 12;
  std::size_t header_len = dict.size() + 1;  // + '\n'
  header_len += (64 - (prefix + header_len) % 64) % 64;
  std::string out(reinterpret_cast<const char*>(npy_magic), 6);
  out += static_cast<char>(version);
  out += '\0';
  store_le(out, static_cast<uint32_t>(header_len), version == 1 ? 2 : 4);
  out += dict;
  out.append(header_len - dict.size() - 1, ' ');
  out += '\n';
  const std::size_t item = dtype == npy_dtype::f32 ? 4 : 2;
  out.reserve(out.size() + static_cast<std::size_t>(rows * cols) * item);
  for (int64_t i = 0; i < rows * cols; ++i) {
    const int64_t src = fortran_order ? (i % rows) * cols + i / rows : i;  // column-major walk when fortran_order
    const float v = values[src];
    if (dtype == npy_dtype::f32) {
      uint32_t bits = 0;
      std::memcpy(&bits, &v, 4);
      store_le(out, bits, 4);
    } else {
      store_le(out, float_to_half_bits(v), 2);
    }
  }
  return out;
}

inline std::string format_npy(const npy_array& a, int version = 1) {
  PAISPARSE_EXPECTS(a.values.size() == static_cast<std::size_t>(a.rows) * static_cast<std::size_t>(a.cols),
                    "format_npy: values has " << a.values.size() << " entries: expected rows * cols = "
                                              << a.rows * a.cols);
  return format_npy(a.values.data(), a.rows, a.cols, a.dtype, version, a.fortran_order);
}

/// Writes a rows x cols row-major float array as a .npy file (see format_npy).
inline void write_npy(const std::string& path, const float* values, int64_t rows, int64_t cols,
                      npy_dtype dtype = npy_dtype::f32, int version = 1, bool fortran_order = false) {
  detail::io::write_file(path, format_npy(values, rows, cols, dtype, version, fortran_order));
}

inline void write_npy(const std::string& path, const npy_array& a, int version = 1) {
  detail::io::write_file(path, format_npy(a, version));
}

}  // namespace paisparse
