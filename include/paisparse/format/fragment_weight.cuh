// paisparse format (device side): the fragment weight of the register-built
// tensor-core SpMM path in device memory (the layout: format/fragment_weight.hpp).
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>
#include <vector>

#include "device_buffer.hpp"
#include "fragment_weight.hpp"

namespace paisparse {

/// What a fragment kernel reads of the weight.
struct fragment_weight_view {
  const uint4* masks = nullptr;  // one per tile (x, y, z, w: registers 0..3)
  const int32_t* word_ptr = nullptr;
  const uint32_t* words = nullptr;
  int32_t rows = 0, cols = 0;
  int32_t row_tiles = 0, k_tiles = 0;
};

/// The fragment weight in device memory.
class device_fragment_weight {
 public:
  device_fragment_weight() = default;
  explicit device_fragment_weight(const host_fragment_weight& h)
      : rows_(h.rows), cols_(h.cols), nnz_(h.nnz), row_tiles_(h.row_tiles), k_tiles_(h.k_tiles),
        masks_(h.masks.empty() ? std::vector<uint32_t>(4, 0u) : h.masks), word_ptr_(h.word_ptr),
        words_(h.words.empty() ? std::vector<uint32_t>{0u} : h.words) {}

  fragment_weight_view view() const {
    return {reinterpret_cast<const uint4*>(masks_.data()), word_ptr_.data(), words_.data(),
            rows_, cols_, row_tiles_, k_tiles_};
  }
  bool empty() const { return word_ptr_.empty(); }
  int32_t rows() const { return rows_; }
  int32_t cols() const { return cols_; }
  int32_t nnz() const { return nnz_; }
  int32_t row_tiles() const { return row_tiles_; }
  /// Device bytes a launch reads for the weight (masks, word offsets, words).
  int64_t weight_bytes() const {
    return static_cast<int64_t>(masks_.size()) * 4 + static_cast<int64_t>(word_ptr_.size()) * 4 +
           static_cast<int64_t>(words_.size()) * 4;
  }

 private:
  int32_t rows_ = 0, cols_ = 0, nnz_ = 0, row_tiles_ = 0, k_tiles_ = 0;
  device_buffer<uint32_t> masks_;
  device_buffer<int32_t> word_ptr_;
  device_buffer<uint32_t> words_;
};

}  // namespace paisparse
