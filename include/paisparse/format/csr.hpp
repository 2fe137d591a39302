// paisparse: CSR weights.
//
//   host_csr<T, I>    host-owned, validated CSR (row offsets int32, indices I)
//   device_csr<T, I>  device-owned copy of a host_csr
//   csr_view<T, I>    non-owning, trivially copyable view of device arrays
//
// Values T: float, __half, __nv_bfloat16. Indices I: int32_t or uint16_t.
// Row offsets are 32-bit: a weight with 2^31 or more nonzeros is rejected.
// Column indices must be sorted and unique within each row (DLMC, cuSPARSE
// and scipy's canonical form all satisfy this); anything else is rejected.
#pragma once

#include <algorithm>
#include <cstdint>
#include <limits>
#include <numeric>
#include <string>
#include <type_traits>
#include <vector>

#include "../error.hpp"
#include "../types.hpp"
#include "device_buffer.hpp"

namespace paisparse {

/// Largest number of columns 16-bit indices can address without panels.
inline constexpr int64_t u16_max_cols = 65536;

/// Non-owning view of a CSR matrix in device memory; pass it to kernels by value.
template <class T, class I>
struct csr_view {
  int32_t rows = 0;
  int32_t cols = 0;
  int32_t nnz = 0;
  const int32_t* row_offsets = nullptr;  // rows + 1
  const I* col_indices = nullptr;        // nnz
  const T* values = nullptr;             // nnz
};

namespace detail {

/// Checks CSR arrays; throws paisparse::error naming the argument, row and expectation.
template <class I>
void validate_csr(int64_t rows, int64_t cols, const std::vector<int32_t>& offsets,
                  const std::vector<I>& indices, std::size_t n_values) {
  PAISPARSE_EXPECTS(rows >= 0 && rows <= std::numeric_limits<int32_t>::max(),
                    "rows = " << rows << ": expected 0 <= rows < 2^31");
  PAISPARSE_EXPECTS(cols >= 0 && cols <= std::numeric_limits<int32_t>::max(),
                    "cols = " << cols << ": expected 0 <= cols < 2^31");
  if constexpr (std::is_same_v<I, uint16_t>) {
    PAISPARSE_EXPECTS(cols <= u16_max_cols,
                      "16-bit column indices cannot represent cols = "
                          << cols << " (at most " << u16_max_cols
                          << "); use int32_t indices (plans re-encode 16-bit indices in column panels)");
  }
  PAISPARSE_EXPECTS(static_cast<int64_t>(offsets.size()) == rows + 1,
                    "row_offsets has " << offsets.size() << " entries, expected rows + 1 = " << rows + 1);
  PAISPARSE_EXPECTS(offsets[0] == 0, "row_offsets[0] = " << offsets[0] << ", expected 0");
  PAISPARSE_EXPECTS(indices.size() <= static_cast<std::size_t>(std::numeric_limits<int32_t>::max()),
                    "col_indices has " << indices.size() << " entries: at most 2^31 - 1 nonzeros are supported");
  for (int64_t r = 0; r < rows; ++r) {
    PAISPARSE_EXPECTS(offsets[r + 1] >= offsets[r], "row_offsets decreases at row "
                                                        << r << ": row_offsets[" << r << "] = " << offsets[r]
                                                        << " > row_offsets[" << r + 1 << "] = " << offsets[r + 1]);
  }
  PAISPARSE_EXPECTS(static_cast<std::size_t>(offsets[rows]) == indices.size(),
                    "row_offsets[rows] = " << offsets[rows] << " but col_indices has " << indices.size()
                                           << " entries: expected them equal (nnz)");
  PAISPARSE_EXPECTS(n_values == indices.size(),
                    "values has " << n_values << " entries, col_indices has " << indices.size()
                                  << ": expected one value per nonzero");
  for (int64_t r = 0; r < rows; ++r) {
    int64_t prev = -1;
    for (int32_t k = offsets[r]; k < offsets[r + 1]; ++k) {
      const int64_t c = static_cast<int64_t>(indices[k]);
      PAISPARSE_EXPECTS(c >= 0 && c < cols, "col_indices[" << k << "] = " << c << " in row " << r
                                                           << " is out of range: expected 0 <= col < " << cols);
      PAISPARSE_EXPECTS(c > prev, "col_indices in row " << r << " are " << (c == prev ? "duplicated" : "unsorted")
                                                        << " at position " << k << " (col " << c << " after " << prev
                                                        << "): expected strictly increasing columns per row");
      prev = c;
    }
  }
}

}  // namespace detail

/// A validated CSR matrix owned on the host.
template <class T, class I = int32_t>
class host_csr {
  static_assert(is_value_type_v<T>, "host_csr: T must be float, __half or __nv_bfloat16");
  static_assert(is_index_type_v<I>, "host_csr: I must be int32_t or uint16_t");

 public:
  using value_type = T;
  using index_type = I;

  host_csr() = default;

  /// Takes CSR arrays (row offsets of length rows + 1, then nnz column
  /// indices and values) and validates them; throws paisparse::error.
  host_csr(int64_t rows, int64_t cols, std::vector<int32_t> row_offsets, std::vector<I> col_indices,
           std::vector<T> values)
      : rows_(static_cast<int32_t>(rows)),
        cols_(static_cast<int32_t>(cols)),
        offsets_(std::move(row_offsets)),
        indices_(std::move(col_indices)),
        values_(std::move(values)) {
    detail::validate_csr(rows, cols, offsets_, indices_, values_.size());
  }

  int32_t rows() const noexcept { return rows_; }
  int32_t cols() const noexcept { return cols_; }
  int32_t nnz() const noexcept { return static_cast<int32_t>(indices_.size()); }
  const std::vector<int32_t>& row_offsets() const noexcept { return offsets_; }
  const std::vector<I>& col_indices() const noexcept { return indices_; }
  const std::vector<T>& values() const noexcept { return values_; }
  int32_t row_length(int32_t r) const { return offsets_[r + 1] - offsets_[r]; }
  double density() const {
    return rows_ && cols_ ? static_cast<double>(nnz()) / (static_cast<double>(rows_) * cols_) : 0.0;
  }

 private:
  int32_t rows_ = 0;
  int32_t cols_ = 0;
  std::vector<int32_t> offsets_{0};
  std::vector<I> indices_;
  std::vector<T> values_;
};

/// Converts the index type. To uint16_t this needs cols <= 65536 (throws otherwise;
/// plans built from a host_csr<T, int32_t> handle any K with 16-bit panel indices).
template <class IOut, class T, class IIn>
host_csr<T, IOut> convert_indices(const host_csr<T, IIn>& m) {
  if constexpr (std::is_same_v<IOut, uint16_t>) {
    PAISPARSE_EXPECTS(m.cols() <= u16_max_cols, "convert_indices: 16-bit indices cannot represent cols = "
                                                    << m.cols() << " (at most " << u16_max_cols << ")");
  }
  std::vector<IOut> idx(m.col_indices().begin(), m.col_indices().end());
  return host_csr<T, IOut>(m.rows(), m.cols(), m.row_offsets(), std::move(idx), m.values());
}

/// Converts the value type (through fp32).
template <class TOut, class TIn, class I>
host_csr<TOut, I> convert_values(const host_csr<TIn, I>& m) {
  std::vector<TOut> v(m.values().size());
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = from_float<TOut>(to_float(m.values()[i]));
  return host_csr<TOut, I>(m.rows(), m.cols(), m.row_offsets(), m.col_indices(), std::move(v));
}

/// Builds a CSR weight from a dense row-major rows x cols matrix by magnitude
/// pruning: keeps the round((1 - sparsity) * rows * cols) entries of largest
/// |value| (ties broken by position, lowest first), drops the rest. Exact
/// zeros among the kept entries are kept as explicit zeros, so the count is exact.
template <class T, class I = int32_t>
host_csr<T, I> prune_by_magnitude(const T* dense, int64_t rows, int64_t cols, double sparsity) {
  PAISPARSE_EXPECTS(dense != nullptr || rows * cols == 0, "prune_by_magnitude: dense is null");
  PAISPARSE_EXPECTS(rows >= 0 && cols >= 0, "prune_by_magnitude: rows = " << rows << ", cols = " << cols
                                                                           << ": expected non-negative");
  PAISPARSE_EXPECTS(sparsity >= 0.0 && sparsity <= 1.0,
                    "prune_by_magnitude: sparsity = " << sparsity << ", expected 0 <= sparsity <= 1");
  const int64_t total = rows * cols;
  const int64_t keep = static_cast<int64_t>(std::llround((1.0 - sparsity) * static_cast<double>(total)));
  PAISPARSE_EXPECTS(keep <= std::numeric_limits<int32_t>::max(),
                    "prune_by_magnitude: keeping " << keep << " nonzeros exceeds the 2^31 - 1 limit");
  std::vector<char> kept(static_cast<std::size_t>(total), 0);
  if (keep > 0) {
    std::vector<int64_t> order(static_cast<std::size_t>(total));
    std::iota(order.begin(), order.end(), 0);
    auto mag = [&](int64_t i) { return std::fabs(to_float(dense[i])); };
    std::nth_element(order.begin(), order.begin() + (keep - 1), order.end(), [&](int64_t a, int64_t b) {
      const float ma = mag(a), mb = mag(b);
      return ma > mb || (ma == mb && a < b);
    });
    for (int64_t i = 0; i < keep; ++i) kept[static_cast<std::size_t>(order[i])] = 1;
  }
  std::vector<int32_t> offsets(static_cast<std::size_t>(rows) + 1, 0);
  std::vector<I> idx;
  std::vector<T> vals;
  idx.reserve(static_cast<std::size_t>(keep));
  vals.reserve(static_cast<std::size_t>(keep));
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t c = 0; c < cols; ++c) {
      if (kept[static_cast<std::size_t>(r * cols + c)]) {
        idx.push_back(static_cast<I>(c));
        vals.push_back(dense[r * cols + c]);
      }
    }
    offsets[static_cast<std::size_t>(r) + 1] = static_cast<int32_t>(idx.size());
  }
  return host_csr<T, I>(rows, cols, std::move(offsets), std::move(idx), std::move(vals));
}

/// A CSR matrix owned on the device (a plain copy of a host_csr, no re-encoding).
template <class T, class I = int32_t>
class device_csr {
 public:
  device_csr() = default;
  /// Uploads `m` (blocking).
  explicit device_csr(const host_csr<T, I>& m)
      : rows_(m.rows()), cols_(m.cols()), offsets_(m.row_offsets()), indices_(m.col_indices()), values_(m.values()) {}

  int32_t rows() const noexcept { return rows_; }
  int32_t cols() const noexcept { return cols_; }
  int32_t nnz() const noexcept { return static_cast<int32_t>(indices_.size()); }
  csr_view<T, I> view() const noexcept {
    return {rows_, cols_, nnz(), offsets_.data(), indices_.data(), values_.data()};
  }
  /// Downloads to the host (blocking) and re-validates.
  host_csr<T, I> to_host() const {
    return host_csr<T, I>(rows_, cols_, offsets_.to_host(), indices_.to_host(), values_.to_host());
  }

 private:
  int32_t rows_ = 0;
  int32_t cols_ = 0;
  device_buffer<int32_t> offsets_;
  device_buffer<I> indices_;
  device_buffer<T> values_;
};

}  // namespace paisparse
