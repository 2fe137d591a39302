// paisparse epilog policies: y = act(alpha * acc + beta * y + bias), converted
// to the output type and stored.
//
// Contract (checked in kernels/spmv_kernel.cuh):
//   Epilog::apply(y, i, row, acc, params)  called once per output element
//   y[i], by one thread, with its full fp32 sum; `row` is the weight row
//   (the bias index). y is read only when beta != 0,
//   so y may hold anything (NaN included) when beta == 0.
//   Epilog::apply_run<N>(y, row, drow, acc, params, count)  the same for
//   the first `count` (0..N) of N consecutive elements y[0..N) (rows
//   row + j * drow): the tensor-core SpMM kernels' tile walk
//   (kernels/spmm_tensor_kernel.cuh, detail::finish_tensor_tile).
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
  __device__ __forceinline__ static bool identity(activation a) { return a == activation::none; }
};

/// Activation fixed at compile time (params.act is ignored).
template <activation A>
struct static_activation {
  __device__ __forceinline__ static float apply(activation, float v) { return apply_activation(A, v); }
  __device__ __forceinline__ static bool identity(activation) { return A == activation::none; }
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

  /// apply for the first `count` (0..N) of N consecutive elements
  /// y[0..N), whose rows are row + j * drow (a run of a tile that may end
  /// past C's edge). A whole run with y aligned to N elements and without
  /// beta, bias and activation (the usual case): one vector store; else
  /// element by element in a loop, so that the epilog's code appears once
  /// (a kernel's tail runs its code once per block, and each
  /// instruction-cache miss then costs the block time;
  /// docs/PERFORMANCE.md, "The split-K tail").
  template <int N>
  __device__ __forceinline__ static void apply_run(T* __restrict__ y, int32_t row, int32_t drow,
                                                   const float (&acc)[N], const epilog_params<T>& p, int count = N) {
    if (count == N && reinterpret_cast<uintptr_t>(y) % (N * sizeof(T)) == 0 && p.beta == 0.f && p.bias == nullptr &&
        Activation::identity(p.act)) {
      struct alignas(N * sizeof(T)) run {
        T v[N];
      } out;
#pragma unroll
      for (int j = 0; j < N; ++j) out.v[j] = from_float<T>(p.alpha * acc[j]);
      *reinterpret_cast<run*>(y) = out;
      return;
    }
#pragma unroll 1
    for (int j = 0; j < count; ++j) apply(y, j, row + j * drow, acc[j], p);
  }
};

}  // namespace paisparse
