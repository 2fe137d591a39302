// paisparse: DLMC sparsity patterns (.smtx).
//
//   host_csr<float> read_smtx(path, options)           load and parse a file
//   host_csr<float> parse_smtx(text, name, options)    parse bytes in memory
//   std::string     format_smtx(m)                     the pattern of a host_csr as text
//   void            write_smtx(path, m)                ... written to a file
//
// The format (Deep Learning Matrix Collection, Gale et al. 2020) is three lines:
//   1: nrows, ncols, nnz        (commas and/or blanks between the numbers)
//   2: the nrows + 1 row offsets, starting at 0 and ending at nnz
//   3: the nnz 0-based column indices, strictly increasing within each row
// Blank lines may follow; anything else is an error. With nnz = 0 the third
// line is empty or absent. The file has no values: they are drawn uniform in
// [-1, 1) from smtx_options::seed, or taken from smtx_options::values (one per
// nonzero, in row-major order). Every error names the file (or the name given
// to parse_smtx), the line, the position on it and what was expected.
//
// Write: the three lines above; values are not stored (write them separately,
// e.g. with write_npy, or use write_mtx).
#pragma once

#include <cstdint>
#include <optional>
#include <ostream>
#include <random>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "../error.hpp"
#include "../format/csr.hpp"
#include "detail/parse.hpp"

namespace paisparse {

struct smtx_options {
  /// Seed of the values drawn for the nonzeros (uniform in [-1, 1)), row-major order.
  uint64_t seed = 1;
  /// If set, the values of the nonzeros in row-major order (exactly nnz of them).
  std::optional<std::vector<float>> values;
};

namespace detail::io {

/// Reads a non-negative integer token of an .smtx line: 0 <= value <= limit.
/// `what` streams the name of the number into the message (only on failure).
template <class What>
int64_t smtx_number(std::string_view tok, std::string_view name, int64_t line, const What& what, int64_t limit,
                    const char* limit_text) {
  int64_t v = 0;
  const parse_status st = parse_int64(tok, v);
  if (st == parse_status::ok && v >= 0 && v <= limit) return v;
  std::ostringstream os;
  what(os);
  PAISPARSE_IO_EXPECT_LINE(false, name, line,
                           os.str() << " " << quote(tok)
                                    << (st == parse_status::not_a_number ? " is not an integer"
                                        : st == parse_status::ok && v < 0 ? " is negative"
                                                                          : " is out of range")
                                    << ": expected 0 <= value <= " << limit_text);
  return v;
}

}  // namespace detail::io

/// Parses .smtx text already in memory; `name` is used in messages.
inline host_csr<float, int32_t> parse_smtx(std::string_view text, std::string_view name,
                                           const smtx_options& opt = {}) {
  using namespace detail::io;
  line_reader lines(text);
  std::string_view line;

  // Line 1: the sizes.
  PAISPARSE_IO_EXPECT_LINE(lines.next(line), name, 1, "empty file: expected 'nrows, ncols, nnz'");
  int64_t rows = 0, cols = 0, nnz = 0;
  {
    token_reader toks(line, /*commas=*/true);
    std::string_view t[4];
    int n = 0;
    while (n < 4 && toks.next(t[n])) ++n;
    PAISPARSE_IO_EXPECT_LINE(n == 3, name, 1,
                             quote(line) << " has " << (n == 4 ? "more than 3" : std::to_string(n))
                                         << " numbers: expected 'nrows, ncols, nnz'");
    rows = smtx_number(t[0], name, 1, [](std::ostream& os) { os << "nrows"; }, int32_max, "2^31 - 1");
    cols = smtx_number(t[1], name, 1, [](std::ostream& os) { os << "ncols"; }, int32_max, "2^31 - 1");
    nnz = smtx_number(t[2], name, 1, [](std::ostream& os) { os << "nnz"; }, int32_max, "2^31 - 1");
  }
  PAISPARSE_IO_EXPECT_LINE(nnz <= rows * cols, name, 1,
                           "nnz = " << nnz << " exceeds nrows * ncols = " << rows * cols
                                    << ": expected at most one nonzero per position");

  // Line 2: the row offsets. Allocate only what the line can hold ("0 " per offset).
  PAISPARSE_IO_EXPECT_LINE(lines.next(line), name, 2,
                           "file ends after line 1: expected " << rows + 1 << " row offsets (nrows + 1)");
  std::vector<int32_t> offsets;
  {
    token_reader toks(line);
    offsets.reserve(static_cast<std::size_t>(std::min<int64_t>(rows + 1, static_cast<int64_t>(line.size() / 2 + 1))));
    std::string_view t;
    while (toks.next(t)) {
      const int64_t k = static_cast<int64_t>(offsets.size());
      PAISPARSE_IO_EXPECT_LINE(k <= rows, name, 2,
                               "more than nrows + 1 = " << rows + 1 << " row offsets: expected exactly " << rows + 1);
      const int64_t v = smtx_number(t, name, 2, [&](std::ostream& os) { os << "row offset #" << k; }, nnz, "nnz");
      PAISPARSE_IO_EXPECT_LINE(k > 0 || v == 0, name, 2, "row offset #0 is " << v << ": expected 0");
      PAISPARSE_IO_EXPECT_LINE(k == 0 || v >= offsets.back(), name, 2,
                               "row offset #" << k << " = " << v << " is less than row offset #" << k - 1 << " = "
                                              << offsets.back() << ": expected non-decreasing offsets");
      offsets.push_back(static_cast<int32_t>(v));
    }
    PAISPARSE_IO_EXPECT_LINE(static_cast<int64_t>(offsets.size()) == rows + 1, name, 2,
                             "found " << offsets.size() << " row offsets: expected nrows + 1 = " << rows + 1);
    PAISPARSE_IO_EXPECT_LINE(offsets.back() == nnz, name, 2,
                             "the last row offset is " << offsets.back() << ": expected nnz = " << nnz);
  }

  // Line 3: the column indices, checked row by row.
  std::vector<int32_t> idx;
  const bool have_line3 = lines.next(line);
  PAISPARSE_IO_EXPECT_LINE(have_line3 || nnz == 0, name, 3,
                           "file ends after line 2: expected " << nnz << " column indices");
  if (have_line3) {
    token_reader toks(line);
    idx.reserve(static_cast<std::size_t>(std::min<int64_t>(nnz, static_cast<int64_t>(line.size() / 2 + 1))));
    std::string_view t;
    int64_t row = 0;
    while (toks.next(t)) {
      const int64_t k = static_cast<int64_t>(idx.size());
      PAISPARSE_IO_EXPECT_LINE(k < nnz, name, 3, "more than nnz = " << nnz << " column indices: expected exactly " << nnz);
      while (offsets[static_cast<std::size_t>(row) + 1] <= k) ++row;
      const int64_t c = smtx_number(
          t, name, 3, [&](std::ostream& os) { os << "column index #" << k << " (row " << row << ")"; }, cols - 1,
          "ncols - 1");
      PAISPARSE_IO_EXPECT_LINE(k == offsets[static_cast<std::size_t>(row)] || c > idx.back(), name, 3,
                               "column index #" << k << " (row " << row << ") = " << c << " follows " << idx.back()
                                                << ": expected strictly increasing columns within a row");
      idx.push_back(static_cast<int32_t>(c));
    }
    PAISPARSE_IO_EXPECT_LINE(static_cast<int64_t>(idx.size()) == nnz, name, 3,
                             "found " << idx.size() << " column indices: expected nnz = " << nnz);
  }
  while (lines.next(line)) {
    token_reader toks(line);
    std::string_view t;
    PAISPARSE_IO_EXPECT_LINE(!toks.next(t), name, lines.line_no(),
                             "unexpected " << quote(line) << " after the column indices: expected the file to end");
  }

  std::vector<float> vals;
  if (opt.values) {
    PAISPARSE_EXPECTS(static_cast<int64_t>(opt.values->size()) == nnz,
                      name << ": smtx_options::values has " << opt.values->size()
                           << " values: expected one per nonzero, nnz = " << nnz);
    vals = *opt.values;
  } else {
    vals.resize(static_cast<std::size_t>(nnz));
    std::mt19937_64 rng(opt.seed);
    for (float& v : vals) v = uniform_pm1(rng);
  }
  return host_csr<float, int32_t>(rows, cols, std::move(offsets), std::move(idx), std::move(vals));
}

/// Reads a DLMC .smtx file (see the top of this header).
inline host_csr<float, int32_t> read_smtx(const std::string& path, const smtx_options& opt = {}) {
  const std::string bytes = detail::io::read_file(path);
  return parse_smtx(bytes, path, opt);
}

/// The sparsity pattern of a host_csr as .smtx text (values are not stored).
template <class T, class I>
std::string format_smtx(const host_csr<T, I>& m) {
  using detail::io::append_int;
  std::string out;
  append_int(out, m.rows());
  out += ", ";
  append_int(out, m.cols());
  out += ", ";
  append_int(out, m.nnz());
  out += '\n';
  for (std::size_t r = 0; r < m.row_offsets().size(); ++r) {
    if (r) out += ' ';
    append_int(out, m.row_offsets()[r]);
  }
  out += '\n';
  for (std::size_t k = 0; k < m.col_indices().size(); ++k) {
    if (k) out += ' ';
    append_int(out, static_cast<int64_t>(m.col_indices()[k]));
  }
  out += '\n';
  return out;
}

/// Writes the sparsity pattern of a host_csr as an .smtx file.
template <class T, class I>
void write_smtx(const std::string& path, const host_csr<T, I>& m) {
  detail::io::write_file(path, format_smtx(m));
}

}  // namespace paisparse
