// paisparse: float64 CPU references, used by the tuner's check and the tests.
#pragma once

#include <cmath>
#include <cstdint>
#include <vector>

#include "format/csr.hpp"
#include "types.hpp"

namespace paisparse {

/// y_ref = act(alpha * W x + beta * y0 + bias) in float64 (activation in float64 too).
template <class T, class I>
std::vector<double> spmv_reference(const host_csr<T, I>& w, const std::vector<T>& x, double alpha = 1.0,
                                   double beta = 0.0, const std::vector<T>* y0 = nullptr,
                                   const std::vector<T>* bias = nullptr, activation act = activation::none) {
  PAISPARSE_EXPECTS(x.size() == static_cast<std::size_t>(w.cols()),
                    "spmv_reference: x has " << x.size() << " elements, expected " << w.cols());
  std::vector<double> y(static_cast<std::size_t>(w.rows()));
  for (int32_t r = 0; r < w.rows(); ++r) {
    double acc = 0;
    for (int32_t k = w.row_offsets()[r]; k < w.row_offsets()[r + 1]; ++k)
      acc += static_cast<double>(to_float(w.values()[k])) * to_float(x[w.col_indices()[k]]);
    double v = alpha * acc;
    if (beta != 0.0 && y0) v += beta * to_float((*y0)[r]);
    if (bias) v += to_float((*bias)[r]);
    switch (act) {
      case activation::relu: v = v > 0 ? v : 0; break;
      case activation::gelu: v = 0.5 * v * (1.0 + std::erf(v / std::sqrt(2.0))); break;
      case activation::silu: v = v / (1.0 + std::exp(-v)); break;
      default: break;
    }
    y[static_cast<std::size_t>(r)] = v;
  }
  return y;
}

/// Tolerance on the relative L2 error ||out - ref|| / ||ref|| for outputs
/// stored in T: a few units of T's rounding (fp32 accumulation throughout).
template <class T>
constexpr double relative_tolerance() {
  if constexpr (std::is_same_v<T, float>) return 1e-5;
  else if constexpr (std::is_same_v<T, __half>) return 2e-3;
  else return 1.6e-2;
}

/// Relative L2 error of out against ref; +inf if any output is NaN or inf.
template <class T>
double relative_error(const std::vector<T>& out, const std::vector<double>& ref) {
  PAISPARSE_EXPECTS(out.size() == ref.size(), "relative_error: sizes differ (" << out.size() << " vs " << ref.size() << ")");
  double num = 0, den = 0;
  for (std::size_t i = 0; i < out.size(); ++i) {
    const double o = to_float(out[i]);
    if (!std::isfinite(o)) return INFINITY;
    num += (o - ref[i]) * (o - ref[i]);
    den += ref[i] * ref[i];
  }
  if (den == 0) return std::sqrt(num);  // all-zero reference: absolute error
  return std::sqrt(num / den);
}

}  // namespace paisparse
