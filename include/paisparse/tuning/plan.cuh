// paisparse: an SpMV plan, the chosen configuration plus the weight
// re-encoded for it, ready to run y = act(alpha * W x + beta * y + bias).
#pragma once

#include <cuda/std/span>
#include <cuda_runtime_api.h>

#include <cstdint>

#include "../format/csr.hpp"
#include "../format/device_schedule.cuh"
#include "../format/schedule.hpp"
#include "config.hpp"
#include "registry.cuh"

namespace paisparse {

namespace detail {
template <class T>
bool ranges_overlap(const T* a, std::size_t na, const T* b, std::size_t nb) {
  return na > 0 && nb > 0 && a < b + nb && b < a + na;
}
}  // namespace detail

template <class T>
class spmv_plan {
  static_assert(is_value_type_v<T>, "spmv_plan: T must be float, __half or __nv_bfloat16");

 public:
  using value_type = T;

  spmv_plan() = default;

  /// Re-encodes `w` for `config` and uploads it (blocking). Throws if the
  /// configuration's kernel is not compiled in or cannot run this value type.
  spmv_plan(const host_csr<T, int32_t>& w, const spmv_config& config)
      : config_(config), launch_(find_spmv_kernel<T>(config.kernel)) {
    upload(w);
  }
  /// Same, with the configuration given by name (e.g. "b256.t8.v16.u2.u16.c0.lf").
  spmv_plan(const host_csr<T, int32_t>& w, std::string_view config_name)
      : spmv_plan(w, spmv_config::parse(config_name)) {}

  /// Adopts an already re-encoded weight (the tuner's path).
  spmv_plan(const spmv_config& config, device_schedule<T>&& schedule, int32_t rows, int32_t cols)
      : config_(config), launch_(find_spmv_kernel<T>(config.kernel)), schedule_(std::move(schedule)),
        bins_(spmv_bins_for(config_, schedule_)), rows_(rows), cols_(cols) {}

  /// Replaces the weight by another of the same shape, keeping the configuration
  /// (e.g. new values after fine-tuning). Throws if the shape differs.
  void rebind(const host_csr<T, int32_t>& w) {
    PAISPARSE_EXPECTS(w.rows() == rows_ && w.cols() == cols_,
                      "spmv_plan::rebind: the plan was tuned for a " << rows_ << " x " << cols_ << " weight, got "
                                                                     << w.rows() << " x " << w.cols());
    upload(w);
  }

  /// y = act(alpha * W x + beta * y + bias) on `stream`; asynchronous, no
  /// allocation, capturable in a CUDA graph. x has cols() elements, y has
  /// rows(), bias (when given) rows(); x and y are device memory and must not
  /// overlap. Not re-entrant: one plan must not run on two streams at once
  /// (split rows share a workspace).
  void run(cuda::std::span<const T> x, cuda::std::span<T> y, const epilog_params<T>& ep = {},
           cudaStream_t stream = nullptr) const {
    PAISPARSE_EXPECTS(launch_ != nullptr, "spmv_plan::run: the plan is empty (default-constructed)");
    PAISPARSE_EXPECTS(x.size() == static_cast<std::size_t>(cols_),
                      "spmv_plan::run: x has " << x.size() << " elements, the weight has " << cols_ << " columns");
    PAISPARSE_EXPECTS(y.size() == static_cast<std::size_t>(rows_),
                      "spmv_plan::run: y has " << y.size() << " elements, the weight has " << rows_ << " rows");
    PAISPARSE_EXPECTS(x.data() != nullptr || cols_ == 0, "spmv_plan::run: x is null");
    PAISPARSE_EXPECTS(y.data() != nullptr || rows_ == 0, "spmv_plan::run: y is null");
    PAISPARSE_EXPECTS(!detail::ranges_overlap(x.data(), x.size(), static_cast<const T*>(y.data()), y.size()),
                      "spmv_plan::run: x and y overlap; y must be a separate buffer");
    launch_(schedule_, bins_, x.data(), y.data(), ep, stream, overlap_);
  }

  /// Whether run() launches with programmatic dependent launch (default on):
  /// the kernel then starts fetching its weight while the previous kernel in
  /// the stream finishes, and waits for it only before reading x, y and bias.
  void set_overlap(bool on) { overlap_ = on; }
  bool overlap() const { return overlap_; }

  const spmv_config& config() const { return config_; }
  std::string name() const { return config_.name(); }
  int32_t rows() const { return rows_; }
  int32_t cols() const { return cols_; }
  int32_t nnz() const { return schedule_.nnz(); }
  const device_schedule<T>& schedule() const { return schedule_; }
  /// Device bytes of the re-encoded weight.
  int64_t weight_bytes() const { return schedule_.weight_bytes(); }

 private:
  void upload(const host_csr<T, int32_t>& w) {
    rows_ = w.rows();
    cols_ = w.cols();
    const schedule_params p{config_.kernel.vec_bytes / static_cast<int>(sizeof(T)), config_.segment_cap,
                            config_.order};
    if (config_.kernel.index == index_kind::u16) schedule_ = device_schedule<T>(build_schedule<uint16_t>(w, p));
    else schedule_ = device_schedule<T>(build_schedule<int32_t>(w, p));
    bins_ = spmv_bins_for(config_, schedule_);
  }

  spmv_config config_;
  spmv_launch_fn<T> launch_ = nullptr;
  device_schedule<T> schedule_;
  spmv_bins bins_;
  bool overlap_ = true;
  int32_t rows_ = 0, cols_ = 0;
};

}  // namespace paisparse
