// paisparse: Matrix Market (.mtx) coordinate files.
//
//   host_csr<float> read_mtx(path, options)             load and parse a file
//   host_csr<float> parse_mtx(text, name, options)      parse bytes in memory
//   std::string     format_mtx(m)                       a host_csr as .mtx text
//   void            write_mtx(path, m)                  ... written to a file
//
// Read: `%%MatrixMarket matrix coordinate <field> <symmetry>` (case-insensitive),
// field real (or double), integer or pattern; symmetry general or symmetric.
// Comment lines (`%...`) and blank lines may appear anywhere after the banner.
// Indices are 1-based; entries may come in any order and are sorted per row.
//   pattern    values are drawn uniform in [-1, 1) from mtx_options::seed in
//              file order, or all set to mtx_options::pattern_value.
//   integer    values are read as 64-bit integers and converted to float
//              (exact up to 2^24 in magnitude).
//   symmetric  only the lower triangle may be stored (row >= col, as the
//              format specifies); each off-diagonal entry is mirrored.
//   duplicates a position given twice is an error naming both lines
//              (duplicate_policy::reject, the default: a pruned weight has one
//              value per position, so a repeat is a corrupt file), or the values
//              are added in file order (duplicate_policy::sum, as scipy does).
// Rejected with a message: array format, complex and hermitian fields,
// skew-symmetric, non-finite or out-of-float-range values, more rows than
// mtx_options::max_rows (a size line can claim 2^31 rows in 12 bytes, and a
// CSR needs rows + 1 offsets). Every error names the file (or the name given
// to parse_mtx), the line and what was expected.
//
// Write: `coordinate real general`, one entry per line in row-major order,
// each value as the shortest decimal that reads back to the same float.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "../error.hpp"
#include "../format/csr.hpp"
#include "../types.hpp"
#include "detail/parse.hpp"

namespace paisparse {

/// What to do with a position given more than once.
enum class duplicate_policy { reject, sum };

inline const char* to_string(duplicate_policy d) { return d == duplicate_policy::reject ? "reject" : "sum"; }

struct mtx_options {
  /// Seed of the values drawn for `pattern` files (uniform in [-1, 1)).
  uint64_t seed = 1;
  /// If set, every value of a `pattern` file is this instead of a random draw.
  std::optional<float> pattern_value;
  duplicate_policy duplicates = duplicate_policy::reject;
  /// Files declaring more rows than this are rejected before any allocation.
  int64_t max_rows = default_max_rows;
};

namespace detail::io {

enum class mtx_field { real, integer, pattern };

struct mtx_entry {
  int32_t row;
  int32_t col;
  float value;
  int64_t line;
};

/// Reads one index token of an entry line: 1 <= index <= extent.
inline int32_t mtx_index(std::string_view tok, std::string_view name, int64_t line, const char* what,
                         int64_t extent) {
  int64_t v = 0;
  const parse_status st = parse_int64(tok, v);
  PAISPARSE_IO_EXPECT_LINE(st != parse_status::not_a_number, name, line,
                           what << " index " << quote(tok) << " is not an integer: expected 1 <= " << what
                                << " <= " << extent);
  PAISPARSE_IO_EXPECT_LINE(st == parse_status::ok && v >= 1 && v <= extent, name, line,
                           what << " index " << quote(tok) << " is out of range: expected 1 <= " << what
                                << " <= " << extent << " (indices are 1-based)");
  return static_cast<int32_t>(v - 1);
}

/// Reads one size of the size line: 0 <= value <= limit.
inline int64_t mtx_size(std::string_view tok, std::string_view name, int64_t line, const char* what,
                        int64_t limit, const char* limit_text) {
  int64_t v = 0;
  const parse_status st = parse_int64(tok, v);
  PAISPARSE_IO_EXPECT_LINE(st != parse_status::not_a_number, name, line,
                           what << " " << quote(tok) << " is not an integer: expected the size line 'rows cols nnz'");
  PAISPARSE_IO_EXPECT_LINE(st == parse_status::ok && v >= 0, name, line,
                           what << " " << quote(tok) << " is " << (st == parse_status::ok ? "negative" : "out of range")
                                << ": expected 0 <= " << what << " <= " << limit_text);
  PAISPARSE_IO_EXPECT_LINE(v <= limit, name, line,
                           what << " = " << v << " is too large: expected " << what << " <= " << limit_text);
  return v;
}

}  // namespace detail::io

/// Parses Matrix Market text already in memory; `name` is used in messages.
inline host_csr<float, int32_t> parse_mtx(std::string_view text, std::string_view name,
                                          const mtx_options& opt = {}) {
  using namespace detail::io;
  line_reader lines(text);
  std::string_view line;

  // Banner.
  PAISPARSE_IO_EXPECT_LINE(lines.next(line), name, 1,
                           "empty file: expected the banner '%%MatrixMarket matrix coordinate <field> <symmetry>'");
  {
    token_reader toks(line);
    std::string_view t[6];
    int n = 0;
    while (n < 6 && toks.next(t[n])) ++n;
    PAISPARSE_IO_EXPECT_LINE(n >= 1 && lower(t[0]) == "%%matrixmarket", name, 1,
                             "found " << quote(line)
                                      << ": expected the banner '%%MatrixMarket matrix coordinate <field> <symmetry>'");
    PAISPARSE_IO_EXPECT_LINE(n == 5, name, 1,
                             "banner " << quote(line)
                                       << " has " << n << " words: expected '%%MatrixMarket matrix coordinate <field> <symmetry>'");
  }
  const auto banner_word = [&](int k) {
    token_reader toks(line);
    std::string_view t;
    for (int i = 0; i <= k; ++i) toks.next(t);
    return lower(t);
  };
  const std::string object = banner_word(1), format = banner_word(2), field_s = banner_word(3),
                    symmetry = banner_word(4);
  PAISPARSE_IO_EXPECT_LINE(object == "matrix", name, 1,
                           "object " << quote(object) << " is not supported: expected 'matrix'");
  PAISPARSE_IO_EXPECT_LINE(format == "coordinate", name, 1,
                           "format " << quote(format)
                                     << " is not supported: expected 'coordinate' (dense 'array' files: use .npy)");
  mtx_field field = mtx_field::real;
  if (field_s == "real" || field_s == "double") field = mtx_field::real;
  else if (field_s == "integer") field = mtx_field::integer;
  else if (field_s == "pattern") field = mtx_field::pattern;
  else
    PAISPARSE_IO_EXPECT_LINE(false, name, 1,
                             "field " << quote(field_s)
                                      << " is not supported: expected 'real', 'integer' or 'pattern' (weights are real)");
  PAISPARSE_IO_EXPECT_LINE(symmetry == "general" || symmetry == "symmetric", name, 1,
                           "symmetry " << quote(symmetry)
                                       << " is not supported: expected 'general' or 'symmetric'");
  const bool symmetric = symmetry == "symmetric";

  // Size line, after comments and blank lines.
  bool have_size = false;
  while (lines.next(line)) {
    token_reader probe(line);
    std::string_view first;
    if (!probe.next(first) || first[0] == '%') continue;
    have_size = true;
    break;
  }
  const int64_t size_line = lines.line_no() + (have_size ? 0 : 1);
  PAISPARSE_IO_EXPECT_LINE(have_size, name, size_line, "file ends before the size line: expected 'rows cols nnz'");
  int64_t rows = 0, cols = 0, nnz = 0;
  {
    token_reader toks(line);
    std::string_view t[4];
    int n = 0;
    while (n < 4 && toks.next(t[n])) ++n;
    PAISPARSE_IO_EXPECT_LINE(n == 3, name, size_line,
                             "size line " << quote(line) << " has " << (n == 4 ? "more than 3" : std::to_string(n))
                                          << " fields: expected 'rows cols nnz'");
    rows = mtx_size(t[0], name, size_line, "rows", int32_max, "2^31 - 1");
    cols = mtx_size(t[1], name, size_line, "cols", int32_max, "2^31 - 1");
    nnz = mtx_size(t[2], name, size_line, "nnz", int32_max, "2^31 - 1");
  }
  PAISPARSE_IO_EXPECT_LINE(rows <= opt.max_rows, name, size_line,
                           "rows = " << rows << " exceeds the reader's limit of " << opt.max_rows
                                     << " rows: expected rows <= mtx_options::max_rows (raise it for such a matrix)");
  PAISPARSE_IO_EXPECT_LINE(!symmetric || rows == cols, name, size_line,
                           "a symmetric matrix is " << rows << " x " << cols << ": expected rows == cols");
  if (opt.duplicates == duplicate_policy::reject) {
    const int64_t positions = symmetric ? rows * (rows + 1) / 2 : rows * cols;
    PAISPARSE_IO_EXPECT_LINE(nnz <= positions, name, size_line,
                             "nnz = " << nnz << " exceeds the " << positions << " positions of a "
                                      << (symmetric ? "symmetric (lower triangle) " : "") << rows << " x " << cols
                                      << " matrix: expected at most one entry per position");
  }

  // Entries. Reserve no more than the remaining bytes can hold ("1 1\n" is 4 bytes).
  const std::size_t fields = field == mtx_field::pattern ? 2 : 3;
  std::vector<mtx_entry> entries;
  {
    const int64_t room = static_cast<int64_t>(lines.remaining() / 4 + 1);
    const int64_t want = std::min(nnz, room) * (symmetric ? 2 : 1);
    entries.reserve(static_cast<std::size_t>(want));
  }
  std::mt19937_64 rng(opt.seed);
  int64_t read = 0;
  while (lines.next(line)) {
    const int64_t ln = lines.line_no();
    token_reader toks(line);
    std::string_view t[4];
    std::size_t n = 0;
    while (n < 4 && toks.next(t[n])) ++n;
    if (n == 0 || t[0][0] == '%') continue;
    PAISPARSE_IO_EXPECT_LINE(read < nnz, name, ln,
                             "more entries than the " << nnz << " declared on line " << size_line
                                                      << ": expected the file to end");
    PAISPARSE_IO_EXPECT_LINE(n == fields, name, ln,
                             "entry " << quote(line) << " has " << (n == 4 ? "more than 3" : std::to_string(n))
                                      << " fields: expected " << (fields == 2 ? "'row col'" : "'row col value'")
                                      << " for a " << field_s << " file");
    const int32_t r = mtx_index(t[0], name, ln, "row", rows);
    const int32_t c = mtx_index(t[1], name, ln, "col", cols);
    PAISPARSE_IO_EXPECT_LINE(!symmetric || r >= c, name, ln,
                             "entry (" << r + 1 << ", " << c + 1
                                       << ") is above the diagonal: a symmetric file stores the lower triangle, expected row >= col");
    float v = 0.f;
    if (field == mtx_field::real) {
      const parse_status st = parse_real(t[2], v);
      PAISPARSE_IO_EXPECT_LINE(st == parse_status::ok, name, ln,
                               "value " << quote(t[2])
                                        << (st == parse_status::not_a_number ? " is not a number"
                                                                             : " is out of range")
                                        << ": expected a finite real within float range");
    } else if (field == mtx_field::integer) {
      int64_t iv = 0;
      const parse_status st = parse_int64(t[2], iv);
      PAISPARSE_IO_EXPECT_LINE(st == parse_status::ok, name, ln,
                               "value " << quote(t[2])
                                        << (st == parse_status::not_a_number ? " is not an integer"
                                                                             : " is out of range")
                                        << ": expected a 64-bit integer in an integer file");
      v = static_cast<float>(iv);
    } else {
      v = opt.pattern_value ? *opt.pattern_value : uniform_pm1(rng);
    }
    entries.push_back({r, c, v, ln});
    if (symmetric && r != c) entries.push_back({c, r, v, ln});
    ++read;
  }
  PAISPARSE_IO_EXPECT_LINE(read == nnz, name, lines.line_no() + 1,
                           "file ends after " << read << " entries: expected " << nnz << " as declared on line "
                                              << size_line);
  PAISPARSE_IO_EXPECT_LINE(static_cast<int64_t>(entries.size()) <= int32_max, name, size_line,
                           "the symmetric expansion has " << entries.size()
                                                          << " nonzeros: expected at most 2^31 - 1");

  // Sort into row-major order; ties keep file order, so sums are reproducible.
  std::sort(entries.begin(), entries.end(), [](const mtx_entry& a, const mtx_entry& b) {
    if (a.row != b.row) return a.row < b.row;
    if (a.col != b.col) return a.col < b.col;
    return a.line < b.line;
  });
  std::vector<int32_t> offsets(static_cast<std::size_t>(rows) + 1, 0);
  std::vector<int32_t> idx;
  std::vector<float> vals;
  idx.reserve(entries.size());
  vals.reserve(entries.size());
  for (std::size_t k = 0; k < entries.size(); ++k) {
    const mtx_entry& e = entries[k];
    if (k > 0 && entries[k - 1].row == e.row && entries[k - 1].col == e.col) {
      PAISPARSE_IO_EXPECT_LINE(opt.duplicates == duplicate_policy::sum, name, e.line,
                               "duplicate entry (" << e.row + 1 << ", " << e.col + 1 << "), first given on line "
                                                   << entries[k - 1].line
                                                   << ": expected each position once (or duplicate_policy::sum)");
      vals.back() += e.value;
      PAISPARSE_IO_EXPECT_LINE(std::isfinite(vals.back()), name, e.line,
                               "adding the duplicate entry (" << e.row + 1 << ", " << e.col + 1
                                                              << ") overflows float: expected finite sums");
      continue;
    }
    idx.push_back(e.col);
    vals.push_back(e.value);
    ++offsets[static_cast<std::size_t>(e.row) + 1];
  }
  for (std::size_t r = 0; r < static_cast<std::size_t>(rows); ++r) offsets[r + 1] += offsets[r];
  return host_csr<float, int32_t>(rows, cols, std::move(offsets), std::move(idx), std::move(vals));
}

/// Reads a Matrix Market file (see the top of this header for what is accepted).
inline host_csr<float, int32_t> read_mtx(const std::string& path, const mtx_options& opt = {}) {
  const std::string bytes = detail::io::read_file(path);
  return parse_mtx(bytes, path, opt);
}

/// A host_csr as `%%MatrixMarket matrix coordinate real general` text.
template <class T, class I>
std::string format_mtx(const host_csr<T, I>& m) {
  std::string out = "%%MatrixMarket matrix coordinate real general\n% written by paisparse\n";
  detail::io::append_int(out, m.rows());
  out += ' ';
  detail::io::append_int(out, m.cols());
  out += ' ';
  detail::io::append_int(out, m.nnz());
  out += '\n';
  const auto& offsets = m.row_offsets();
  for (std::size_t r = 0; r + 1 < offsets.size(); ++r) {
    for (auto k = static_cast<std::size_t>(offsets[r]); k < static_cast<std::size_t>(offsets[r + 1]); ++k) {
      const float v = to_float(m.values()[k]);
      const int64_t c = static_cast<int64_t>(m.col_indices()[k]);
      PAISPARSE_EXPECTS(std::isfinite(v), "format_mtx: the value at row " << r << ", col " << c << " is " << v
                                                                          << ": expected finite values");
      detail::io::append_int(out, static_cast<int64_t>(r) + 1);
      out += ' ';
      detail::io::append_int(out, c + 1);
      out += ' ';
      detail::io::append_float(out, v);
      out += '\n';
    }
  }
  return out;
}

/// Writes a host_csr as a real general coordinate Matrix Market file.
template <class T, class I>
void write_mtx(const std::string& path, const host_csr<T, I>& m) {
  detail::io::write_file(path, format_mtx(m));
}

}  // namespace paisparse
