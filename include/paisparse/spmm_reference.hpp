// paisparse: the float64 CPU reference of SpMM, used by the SpMM tuner's check
// and the tests.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <thread>
#include <vector>

#include "format/csr.hpp"
#include "format/dense.hpp"
#include "reference.hpp"
#include "types.hpp"

namespace paisparse {

/// A host dense operand: the data, its layout and leading dimension.
template <class T>
struct host_dense_ref {
  const std::vector<T>* data = nullptr;
  dense_layout layout = dense_layout::row_major;
  int64_t ld = 0;
  double at(int64_t r, int64_t c) const {
    return to_float((*data)[static_cast<std::size_t>(dense_offset(r, c, ld, layout))]);
  }
};

/// C_ref = act(alpha * W B + beta * C0 + bias[row]) in float64, for B of
/// w.cols() x n and C0 of w.rows() x n (read only when beta != 0 and c0 is
/// given). The result is compact and row-major: element (m, j) at m * n + j,
/// with its term magnitude (see reference_result) at the same place.
template <class T, class I>
reference_result spmm_reference(const host_csr<T, I>& w, const host_dense_ref<T>& b, int32_t n, double alpha = 1.0,
                                double beta = 0.0, const host_dense_ref<T>* c0 = nullptr,
                                const std::vector<T>* bias = nullptr, activation act = activation::none) {
  PAISPARSE_EXPECTS(n >= 0, "spmm_reference: n = " << n << ", expected >= 0");
  PAISPARSE_EXPECTS(w.cols() == 0 || n == 0 || b.data != nullptr, "spmm_reference: B is null");
  if (b.data && w.cols() > 0 && n > 0)
    PAISPARSE_EXPECTS(static_cast<int64_t>(b.data->size()) >= dense_extent(w.cols(), n, b.ld, b.layout),
                      "spmm_reference: B has " << b.data->size() << " elements, a " << w.cols() << " x " << n << " "
                                               << to_string(b.layout) << " matrix with ld " << b.ld << " needs "
                                               << dense_extent(w.cols(), n, b.ld, b.layout));
  const bool read_c = beta != 0.0 && c0 != nullptr && c0->data != nullptr;
  if (read_c)
    PAISPARSE_EXPECTS(static_cast<int64_t>(c0->data->size()) >= dense_extent(w.rows(), n, c0->ld, c0->layout),
                      "spmm_reference: C0 is too small for " << w.rows() << " x " << n);
  const std::size_t total = static_cast<std::size_t>(w.rows()) * static_cast<std::size_t>(n);
  reference_result out;
  out.value.assign(total, 0.0);
  out.scale.assign(total, 0.0);
  // rows in parallel blocks (each output element is written by one thread)
  auto rows = [&](int32_t r0, int32_t r1) {
    std::vector<double> acc(static_cast<std::size_t>(n)), mag(static_cast<std::size_t>(n));
    for (int32_t r = r0; r < r1; ++r) {
      std::fill(acc.begin(), acc.end(), 0.0);
      std::fill(mag.begin(), mag.end(), 0.0);
      for (int32_t k = w.row_offsets()[r]; k < w.row_offsets()[r + 1]; ++k) {
        const double v = to_float(w.values()[k]);
        const int64_t col = static_cast<int64_t>(w.col_indices()[k]);
        for (int32_t j = 0; j < n; ++j) {
          const double t = v * b.at(col, j);
          acc[j] += t;
          mag[j] += std::fabs(t);
        }
      }
      for (int32_t j = 0; j < n; ++j) {
        double v = alpha * acc[j];
        double m = std::fabs(alpha) * mag[j];
        if (read_c) {
          const double c = beta * c0->at(r, j);
          v += c;
          m += std::fabs(c);
        }
        if (bias) {
          const double bb = to_float((*bias)[static_cast<std::size_t>(r)]);
          v += bb;
          m += std::fabs(bb);
        }
        switch (act) {
          case activation::relu: v = v > 0 ? v : 0; break;
          case activation::gelu: v = 0.5 * v * (1.0 + std::erf(v / std::sqrt(2.0))); break;
          case activation::silu: v = v / (1.0 + std::exp(-v)); break;
          default: break;
        }
        const std::size_t i = static_cast<std::size_t>(r) * static_cast<std::size_t>(n) + static_cast<std::size_t>(j);
        out.value[i] = v;
        out.scale[i] = m;
      }
    }
  };
  const int64_t work = static_cast<int64_t>(w.nnz()) * n;
  const int threads = work < (int64_t{1} << 22)
                          ? 1
                          : static_cast<int>(std::clamp<unsigned>(std::thread::hardware_concurrency(), 1u, 32u));
  std::vector<std::thread> pool;
  const int32_t per = static_cast<int32_t>((static_cast<int64_t>(w.rows()) + threads - 1) / threads);
  for (int t = 1; t < threads; ++t) {
    const auto r0 = static_cast<int32_t>(std::min<int64_t>(static_cast<int64_t>(t) * per, w.rows()));
    const auto r1 = static_cast<int32_t>(std::min<int64_t>(static_cast<int64_t>(t + 1) * per, w.rows()));
    if (r0 < r1) pool.emplace_back(rows, r0, r1);
  }
  rows(0, std::min(per, w.rows()));
  for (auto& th : pool) th.join();
  return out;
}

/// The rows x cols elements of a dense host matrix in compact row-major
/// order (element (r, c) at r * cols + c), for comparison with spmm_reference.
template <class T>
std::vector<T> compact_row_major(const std::vector<T>& data, int64_t rows, int64_t cols, int64_t ld,
                                 dense_layout layout) {
  PAISPARSE_EXPECTS(static_cast<int64_t>(data.size()) >= dense_extent(rows, cols, ld, layout),
                    "compact_row_major: " << data.size() << " elements cannot hold a " << rows << " x " << cols << " "
                                          << to_string(layout) << " matrix with ld " << ld);
  std::vector<T> out(static_cast<std::size_t>(rows * cols));
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c)
      out[static_cast<std::size_t>(r * cols + c)] = data[static_cast<std::size_t>(dense_offset(r, c, ld, layout))];
  return out;
}

}  // namespace paisparse
