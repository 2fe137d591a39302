// paisparse format (device side): the windowed weight of the gathered
// tensor-core SpMM path in device memory (the layout: format/window_weight.hpp).
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>
#include <vector>

#include "device_buffer.hpp"
#include "window_weight.hpp"

namespace paisparse {

/// What a windowed kernel reads of the weight.
struct window_weight_view {
  const uint2* frags = nullptr;      // 32 per step (one per lane)
  const uint8_t* offsets = nullptr;  // 16 per step
  const int32_t* step_ptr = nullptr;
  const int32_t* order = nullptr;
  int32_t rows = 0, cols = 0;
  int32_t windows = 0, chunks = 0;
};

/// The windowed weight in device memory.
class device_window_weight {
 public:
  device_window_weight() = default;
  explicit device_window_weight(const host_window_weight& h)
      : rows_(h.rows), cols_(h.cols), nnz_(h.nnz), windows_(h.windows), chunks_(h.chunks), steps_(h.steps()),
        order_(h.order.empty() ? std::vector<int32_t>{0} : h.order),
        step_ptr_(h.step_ptr),
        frags_(h.frags.empty() ? std::vector<uint32_t>(2, 0u) : h.frags),
        offsets_(h.offsets.empty() ? std::vector<uint8_t>(16, 0) : h.offsets) {}

  window_weight_view view() const {
    return {reinterpret_cast<const uint2*>(frags_.data()), offsets_.data(), step_ptr_.data(), order_.data(),
            rows_, cols_, windows_, chunks_};
  }
  bool empty() const { return step_ptr_.empty(); }
  int32_t rows() const { return rows_; }
  int32_t cols() const { return cols_; }
  int32_t nnz() const { return nnz_; }
  int64_t steps() const { return steps_; }
  /// Device bytes a launch reads for the weight (fragments, offsets, step table, order).
  int64_t weight_bytes() const {
    return steps_ * (window_step * window_rows * 2 + window_step) + static_cast<int64_t>(step_ptr_.size()) * 4 +
           static_cast<int64_t>(order_.size()) * 4;
  }

 private:
  int32_t rows_ = 0, cols_ = 0, nnz_ = 0, windows_ = 0, chunks_ = 0;
  int64_t steps_ = 0;
  device_buffer<int32_t> order_;
  device_buffer<int32_t> step_ptr_;
  device_buffer<uint32_t> frags_;
  device_buffer<uint8_t> offsets_;
};

}  // namespace paisparse
