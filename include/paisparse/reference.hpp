// paisparse: float64 CPU references, used by the tuner's check and the tests.
#pragma once

#include <cmath>
#include <cstdint>
#include <vector>

#include "format/csr.hpp"
#include "types.hpp"

namespace paisparse {

/// A float64 reference result and, per element, the magnitude of the terms
/// that produced it (|alpha| sum |w||x| + |beta y0| + |bias|): rounding error
/// scales with that magnitude, not with the (possibly cancelled) result.
struct reference_result {
  std::vector<double> value;
  std::vector<double> scale;
};

/// y_ref = act(alpha * W x + beta * y0 + bias) in float64 (activation in float64 too).
template <class T, class I>
reference_result spmv_reference(const host_csr<T, I>& w, const std::vector<T>& x, double alpha = 1.0,
                                double beta = 0.0, const std::vector<T>* y0 = nullptr,
                                const std::vector<T>* bias = nullptr, activation act = activation::none) {
  PAISPARSE_EXPECTS(x.size() == static_cast<std::size_t>(w.cols()),
                    "spmv_reference: x has " << x.size() << " elements, expected " << w.cols());
  reference_result out;
  out.value.resize(static_cast<std::size_t>(w.rows()));
  out.scale.resize(static_cast<std::size_t>(w.rows()));
  for (int32_t r = 0; r < w.rows(); ++r) {
    double acc = 0, mag = 0;
    for (int32_t k = w.row_offsets()[r]; k < w.row_offsets()[r + 1]; ++k) {
      const double t = static_cast<double>(to_float(w.values()[k])) * to_float(x[w.col_indices()[k]]);
      acc += t;
      mag += std::fabs(t);
    }
    double v = alpha * acc;
    mag *= std::fabs(alpha);
    if (beta != 0.0 && y0) v += beta * to_float((*y0)[r]), mag += std::fabs(beta * to_float((*y0)[r]));
    if (bias) v += to_float((*bias)[r]), mag += std::fabs(to_float((*bias)[r]));
    switch (act) {
      case activation::relu: v = v > 0 ? v : 0; break;
      case activation::gelu: v = 0.5 * v * (1.0 + std::erf(v / std::sqrt(2.0))); break;
      case activation::silu: v = v / (1.0 + std::exp(-v)); break;
      default: break;
    }
    out.value[static_cast<std::size_t>(r)] = v;
    out.scale[static_cast<std::size_t>(r)] = mag;
  }
  return out;
}

/// Tolerance on the relative L2 error ||out - ref|| / ||ref|| for outputs
/// stored in T: a few units of T's rounding (fp32 accumulation throughout).
template <class T>
constexpr double relative_tolerance() {
  if constexpr (std::is_same_v<T, float>) return 1e-5;
  else if constexpr (std::is_same_v<T, __half>) return 2e-3;
  else return 1.6e-2;
}

/// Relative L2 error ||out - ref|| / ||scale||, where scale is the magnitude
/// of the terms behind each reference element (equal to ||ref|| when nothing
/// cancels). +inf if any output is NaN or inf (e.g. an unwritten, poisoned
/// element). With an all-zero scale (empty weight, no bias), the absolute error.
template <class T>
double relative_error(const std::vector<T>& out, const reference_result& ref) {
  PAISPARSE_EXPECTS(out.size() == ref.value.size(),
                    "relative_error: sizes differ (" << out.size() << " vs " << ref.value.size() << ")");
  double num = 0, den = 0;
  for (std::size_t i = 0; i < out.size(); ++i) {
    const double o = to_float(out[i]);
    if (!std::isfinite(o)) return INFINITY;
    num += (o - ref.value[i]) * (o - ref.value[i]);
    den += ref.scale[i] * ref.scale[i];
  }
  if (den == 0) return std::sqrt(num);
  return std::sqrt(num / den);
}

}  // namespace paisparse
