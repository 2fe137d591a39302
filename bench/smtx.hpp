// paisparse benchmark: reader for DLMC's .smtx sparsity patterns.
//
// Format (three lines):
//   1. "nrows, ncols, nnz"
//   2. the nrows + 1 CSR row offsets, whitespace separated
//   3. the nnz column indices, whitespace separated (sorted, unique per row)
// There are no values; with_random_values() draws them.
//
// Malformed input throws paisparse::error naming the file, the line and what
// was expected.
#pragma once

#include <charconv>
#include <cstdint>
#include <fstream>
#include <limits>
#include <random>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include <paisparse/error.hpp>
#include <paisparse/format/csr.hpp>
#include <paisparse/types.hpp>

namespace paisparse::bench {

/// A CSR sparsity pattern without values.
struct sparsity_pattern {
  int64_t rows = 0;
  int64_t cols = 0;
  std::vector<int32_t> row_offsets;
  std::vector<int32_t> col_indices;
  int64_t nnz() const { return static_cast<int64_t>(col_indices.size()); }
};

namespace detail {

/// Splits `text` into lines (without '\n' and a trailing '\r').
inline std::vector<std::string_view> split_lines(std::string_view text) {
  std::vector<std::string_view> lines;
  std::size_t begin = 0;
  while (begin <= text.size()) {
    std::size_t end = text.find('\n', begin);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(begin, end - begin);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    lines.push_back(line);
    if (end == text.size()) break;
    begin = end + 1;
  }
  // a final newline leaves an empty last line: drop trailing empties beyond line 3
  while (lines.size() > 3 && lines.back().find_first_not_of(" \t") == std::string_view::npos) lines.pop_back();
  return lines;
}

/// Parses every non-negative integer of `line`, separated by whitespace and/or
/// commas. Throws naming `file`, `what` and the offending text.
inline std::vector<int64_t> parse_integers(std::string_view line, const std::string& file, const char* what) {
  std::vector<int64_t> out;
  const char* p = line.data();
  const char* end = line.data() + line.size();
  auto is_sep = [](char c) { return c == ' ' || c == '\t' || c == ','; };
  while (p < end) {
    while (p < end && is_sep(*p)) ++p;
    if (p == end) break;
    int64_t v = 0;
    const auto [next, ec] = std::from_chars(p, end, v);
    if (ec != std::errc() || next == p || (next < end && !is_sep(*next))) {
      const char* stop = p;
      while (stop < end && !is_sep(*stop) && stop - p < 24) ++stop;
      PAISPARSE_FAIL(file << ": " << what << ": '" << std::string(p, stop)
                          << "' is not an integer (entry " << out.size() << ")");
    }
    PAISPARSE_EXPECTS(v >= 0, file << ": " << what << ": entry " << out.size() << " is " << v
                                   << ", expected a non-negative integer");
    out.push_back(v);
    p = next;
  }
  return out;
}

}  // namespace detail

/// Reads a .smtx file. Throws paisparse::error (with the file name) if it
/// cannot be read or is malformed.
inline sparsity_pattern read_smtx(const std::string& file) {
  std::ifstream in(file, std::ios::binary);
  PAISPARSE_EXPECTS(in.good(), file << ": cannot open for reading");
  std::ostringstream buf;
  buf << in.rdbuf();
  PAISPARSE_EXPECTS(!in.bad(), file << ": read error");
  const std::string text = buf.str();
  const std::vector<std::string_view> lines = detail::split_lines(text);
  PAISPARSE_EXPECTS(!lines.empty() && !lines[0].empty(), file << ": empty file, expected 'nrows, ncols, nnz' on line 1");

  const std::vector<int64_t> head = detail::parse_integers(lines[0], file, "line 1 (nrows, ncols, nnz)");
  PAISPARSE_EXPECTS(head.size() == 3, file << ": line 1 has " << head.size()
                                           << " numbers, expected 3 ('nrows, ncols, nnz')");
  const int64_t rows = head[0], cols = head[1], nnz = head[2];
  constexpr int64_t i32max = std::numeric_limits<int32_t>::max();
  PAISPARSE_EXPECTS(rows < i32max && cols <= i32max && nnz <= i32max,
                    file << ": nrows = " << rows << ", ncols = " << cols << ", nnz = " << nnz
                         << ": each must be below 2^31");
  PAISPARSE_EXPECTS(nnz <= rows * cols, file << ": nnz = " << nnz << " exceeds nrows * ncols = " << rows * cols);
  PAISPARSE_EXPECTS(lines.size() >= 2, file << ": missing line 2 (the " << rows + 1 << " row offsets)");
  PAISPARSE_EXPECTS(lines.size() >= 3 || nnz == 0, file << ": missing line 3 (the " << nnz << " column indices)");
  PAISPARSE_EXPECTS(lines.size() <= 3, file << ": " << lines.size() << " non-empty lines, expected 3");

  const std::vector<int64_t> offsets = detail::parse_integers(lines[1], file, "line 2 (row offsets)");
  PAISPARSE_EXPECTS(static_cast<int64_t>(offsets.size()) == rows + 1,
                    file << ": line 2 has " << offsets.size() << " row offsets, expected nrows + 1 = " << rows + 1);
  const std::vector<int64_t> indices =
      lines.size() >= 3 ? detail::parse_integers(lines[2], file, "line 3 (column indices)") : std::vector<int64_t>{};
  PAISPARSE_EXPECTS(static_cast<int64_t>(indices.size()) == nnz,
                    file << ": line 3 has " << indices.size() << " column indices, expected nnz = " << nnz);
  PAISPARSE_EXPECTS(offsets.front() == 0, file << ": row offset 0 is " << offsets.front() << ", expected 0");
  PAISPARSE_EXPECTS(offsets.back() == nnz,
                    file << ": last row offset is " << offsets.back() << ", expected nnz = " << nnz);

  sparsity_pattern p;
  p.rows = rows;
  p.cols = cols;
  p.row_offsets.resize(offsets.size());
  for (std::size_t r = 0; r + 1 < offsets.size(); ++r) {
    PAISPARSE_EXPECTS(offsets[r + 1] >= offsets[r], file << ": row offsets decrease at row " << r << " ("
                                                         << offsets[r] << " then " << offsets[r + 1] << ")");
  }
  for (std::size_t i = 0; i < offsets.size(); ++i) p.row_offsets[i] = static_cast<int32_t>(offsets[i]);
  p.col_indices.resize(indices.size());
  for (int64_t r = 0; r < rows; ++r) {
    int64_t prev = -1;
    for (int64_t k = offsets[r]; k < offsets[r + 1]; ++k) {
      const int64_t c = indices[static_cast<std::size_t>(k)];
      PAISPARSE_EXPECTS(c < cols, file << ": column index " << c << " (nonzero " << k << ", row " << r
                                       << ") is out of range, expected < ncols = " << cols);
      PAISPARSE_EXPECTS(c > prev, file << ": column indices of row " << r << " are "
                                       << (c == prev ? "duplicated" : "unsorted") << " at nonzero " << k << " ("
                                       << c << " after " << prev << ")");
      prev = c;
      p.col_indices[static_cast<std::size_t>(k)] = static_cast<int32_t>(c);
    }
  }
  return p;
}

/// The pattern with values drawn uniformly from [-1, 1] (fixed seed).
template <class T>
host_csr<T, int32_t> with_random_values(const sparsity_pattern& p, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> dist(-1.f, 1.f);
  std::vector<T> values(p.col_indices.size());
  for (auto& v : values) v = from_float<T>(dist(rng));
  return host_csr<T, int32_t>(p.rows, p.cols, p.row_offsets, p.col_indices, std::move(values));
}

}  // namespace paisparse::bench
