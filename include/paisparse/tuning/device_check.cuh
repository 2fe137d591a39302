// paisparse: the SpMM tuner's output check, on the GPU.
//
// device_error_check computes relative_error() (reference.hpp) of an M x N
// output where it lies in device memory (either layout, any ld) against
// the float64 reference, uploaded once in the output's element order. A
// check then costs one kernel and a 16-byte copy, where copying the output
// to the host, reordering it and scanning it there took about 10 ms per
// candidate for a 12288 x 128 output: time the tuner's budget now spends
// on candidates. The sums are fp64 (atomics across blocks, so their order,
// and the last bits, vary from run to run); any NaN or Inf in the output
// gives +inf, as on the host; the ld padding is not read.
#pragma once

#include <cuda_runtime_api.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cub/block/block_reduce.cuh>
#include <vector>

#include "../error.hpp"
#include "../format/dense.hpp"
#include "../format/device_buffer.hpp"
#include "../reference.hpp"
#include "../types.hpp"

namespace paisparse {
namespace detail {

/// sums[0] += sum over the output of (out - ref)^2; sums[1] += 1 for each
/// block that met a NaN or Inf. Element i (0 <= i < rows * cols) is the
/// i-th of the output in memory order: ref[i] is its reference.
template <class T, int Threads>
__global__ void __launch_bounds__(Threads)
    squared_error_kernel(const T* __restrict__ out, const double* __restrict__ ref, int64_t rows, int64_t cols,
                         int64_t ld, bool row_major, double* sums) {
  using block_sum = cub::BlockReduce<double, Threads>;
  __shared__ typename block_sum::TempStorage scratch;
  const int64_t total = rows * cols;
  const int64_t inner = row_major ? cols : rows;  // elements per stored line
  double acc = 0;
  int bad = 0;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * Threads + threadIdx.x; i < total;
       i += static_cast<int64_t>(gridDim.x) * Threads) {
    const double o = to_float(out[(i / inner) * ld + i % inner]);
    if (!isfinite(o)) bad = 1;
    const double d = o - ref[i];
    acc += d * d;
  }
  const double block = block_sum(scratch).Sum(acc);
  const int any_bad = __syncthreads_or(bad);
  if (threadIdx.x == 0) {
    atomicAdd(sums, block);
    if (any_bad) atomicAdd(sums + 1, 1.0);
  }
}

}  // namespace detail

/// relative_error() of device outputs of one shape and layout against one
/// reference (reference_result holds it row-major, M x N).
template <class T>
class device_error_check {
 public:
  device_error_check(const reference_result& ref, int64_t rows, int64_t cols, int64_t ld, dense_layout layout)
      : rows_(rows), cols_(cols), ld_(ld), row_major_(layout == dense_layout::row_major), sums_(2) {
    PAISPARSE_EXPECTS(rows >= 0 && cols >= 0 && static_cast<int64_t>(ref.value.size()) == rows * cols &&
                          ref.scale.size() == ref.value.size(),
                      "device_error_check: the reference holds " << ref.value.size() << " values and "
                                                                 << ref.scale.size() << " scales, expected " << rows
                                                                 << " x " << cols);
    PAISPARSE_EXPECTS(ld >= (row_major_ ? cols : rows) && ld >= 1,
                      "device_error_check: ld " << ld << " is shorter than a stored line of the " << rows << " x "
                                                << cols << " " << to_string(layout) << " output");
    std::vector<double> ordered(ref.value.size());
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t c = 0; c < cols; ++c)
        ordered[static_cast<std::size_t>(row_major_ ? r * cols + c : c * rows + r)] =
            ref.value[static_cast<std::size_t>(r * cols + c)];
    ref_ = device_buffer<double>(ordered);
    for (double s : ref.scale) den_ += s * s;
  }

  /// relative_error() of the rows x cols output at `out` (ld, layout as
  /// constructed), after the work on `stream` before it.
  double operator()(const T* out, cudaStream_t stream) {
    const int64_t total = rows_ * cols_;
    if (total == 0) return 0;
    constexpr int threads = 256;
    const int64_t blocks = std::min<int64_t>((total + threads - 1) / threads, 1024);
    PAISPARSE_CUDA_TRY(cudaMemsetAsync(sums_.data(), 0, 2 * sizeof(double), stream));
    detail::squared_error_kernel<T, threads><<<static_cast<unsigned>(blocks), threads, 0, stream>>>(
        out, ref_.data(), rows_, cols_, ld_, row_major_, sums_.data());
    PAISPARSE_CUDA_CHECK_LAST();
    double h[2];
    PAISPARSE_CUDA_TRY(cudaMemcpyAsync(h, sums_.data(), sizeof(h), cudaMemcpyDeviceToHost, stream));
    PAISPARSE_CUDA_TRY(cudaStreamSynchronize(stream));
    if (h[1] > 0 || !std::isfinite(h[0])) return INFINITY;
    return den_ == 0 ? std::sqrt(h[0]) : std::sqrt(h[0] / den_);
  }

 private:
  int64_t rows_, cols_, ld_;
  bool row_major_;
  double den_ = 0;
  device_buffer<double> ref_;
  device_buffer<double> sums_;
};

}  // namespace paisparse
