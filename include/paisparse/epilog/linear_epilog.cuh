// paisparse epilog policies: y = act(alpha * acc + beta * y + bias), converted
// to the output type and stored.
//
// Contract (checked in kernels/spmv_kernel.cuh):
//   Epilog::apply(y, i, row, acc, params)  called once per output element
//   y[i], by one thread, with its full fp32 sum; `row` is the weight row
//   (the bias index). y is read only when beta != 0,
//   so y may hold anything (NaN included) when beta == 0.
#pragma once

#include <cstdint>

#include "../types.hpp"

namespace paisparse {

/// Run-time epilog arguments.
template <class T>
struct epilog_params {
  float alpha = 1.f;
  float beta = 0.f;
  const T* bias = nullptr;  // rows entries, or null
  activation act = activation::none;
};

/// Activation chosen at run time from epilog_params::act (one uniform branch).
struct runtime_activation {
  __device__ __forceinline__ static float apply(activation a, float v) { return apply_activation(a, v); }
};

/// Activation fixed at compile time (params.act is ignored).
template <activation A>
struct static_activation {
  __device__ __forceinline__ static float apply(activation, float v) { return apply_activation(A, v); }
};

template <class T, class Activation = runtime_activation>
struct linear_epilog {
  using value_type = T;
  __device__ __forceinline__ static void apply(T* __restrict__ y, int64_t i, int32_t row, float acc,
                                                    const epilog_params<T>& p) {
    float v = p.alpha * acc;
    if (p.beta != 0.f) v = fmaf(p.beta, to_float(y[i]), v);
    if (p.bias != nullptr) v += to_float(p.bias[row]);
    y[i] = from_float<T>(Activation::apply(p.act, v));
  }
};

}  // namespace paisparse
