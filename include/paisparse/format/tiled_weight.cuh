// paisparse format (device side): the tiled weight of the tensor-core SpMM
// path in device memory (the layout: format/tiled_weight.hpp).
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>
#include <vector>

#include "device_buffer.hpp"
#include "tiled_weight.hpp"

namespace paisparse {

/// What a tensor-core kernel reads of the tiled weight.
struct tiled_weight_view {
  const uint32_t* words = nullptr;
  const int32_t* tile_ptr = nullptr;
  int32_t rows = 0, cols = 0;
  int32_t row_blocks = 0, k_tiles = 0;
};

/// The tiled weight in device memory.
class device_tiled_weight {
 public:
  device_tiled_weight() = default;
  explicit device_tiled_weight(const host_tiled_weight& h)
      : rows_(h.rows), cols_(h.cols), nnz_(h.nnz), tile_m_(h.tile_m), tile_k_(h.tile_k), layout_(h.layout),
        row_blocks_(h.row_blocks),
        k_tiles_(h.k_tiles), tile_ptr_(h.tile_ptr), words_(h.words.empty() ? std::vector<uint32_t>{0u} : h.words) {}

  tiled_weight_view view() const {
    return {words_.data(), tile_ptr_.data(), rows_, cols_, row_blocks_, k_tiles_};
  }
  bool empty() const { return tile_ptr_.empty(); }
  int32_t rows() const { return rows_; }
  int32_t cols() const { return cols_; }
  int32_t nnz() const { return nnz_; }
  int32_t tile_m() const { return tile_m_; }
  int32_t tile_k() const { return tile_k_; }
  tile_layout layout() const { return layout_; }
  /// Device bytes a launch reads for the weight (packed words and tile offsets).
  int64_t weight_bytes() const {
    return static_cast<int64_t>(words_.size()) * 4 + static_cast<int64_t>(tile_ptr_.size()) * 4;
  }

 private:
  int32_t rows_ = 0, cols_ = 0, nnz_ = 0, tile_m_ = 0, tile_k_ = 0;
  tile_layout layout_ = tile_layout::padded_rows;
  int32_t row_blocks_ = 0, k_tiles_ = 0;
  device_buffer<int32_t> tile_ptr_;
  device_buffer<uint32_t> words_;
};

}  // namespace paisparse
