// paisparse: the device form of a scheduled weight for SpMM: the scheduled
// weight itself (device_schedule, shared with SpMV) plus the split-row
// tables SpMM's atomic stage needs, sized for a largest N.
//
// A split row (cut into several items by the segment cap, or at 16-bit
// column panels) combines its items' sums per output column: every split
// row gets a slot of max_n floats and max_n counters, zero between launches
// (the last item to arrive resets them). Unsplit rows need nothing.
//
// For the panel kernels (B staged in shared memory one panel at a time) the
// schedule is built with panel_cols and cut into item groups: consecutive
// items of one panel, at most group_items of them, one group per block and
// column chunk.
//
// For the tensor-core kernels the weight is tiled instead
// (format/tiled_weight.cuh): no items, no split rows; for k splits, a
// workspace of one slice (rows x max_n sums) per split and a counter per
// tile of C. For the gathered tensor-core kernels it is windowed
// (format/window_weight.cuh), for the register-built ones cut into
// fragments (format/fragment_weight.cuh, with the same split-K tables as
// the tiled weight).
#pragma once

#include <algorithm>
#include <cstdint>
#include <limits>
#include <vector>

#include "../error.hpp"
#include "../kernels/spmm_kernel.cuh"
#include "device_buffer.hpp"
#include "device_schedule.cuh"
#include "fragment_weight.cuh"
#include "schedule.hpp"
#include "tiled_weight.cuh"
#include "window_weight.cuh"

namespace paisparse {

template <class T>
class spmm_schedule {
 public:
  spmm_schedule() = default;

  /// Uploads `h` and allocates split-row tables for up to max_n columns
  /// (blocking). group_items > 0: also the item groups of the panel kernels
  /// (`h` must then have been built with panel_cols).
  template <class I>
  spmm_schedule(const host_schedule<T, I>& h, int32_t max_n, int32_t group_items = 0)
      : weight_(h), max_n_(max_n) {
    PAISPARSE_EXPECTS(max_n >= 1, "spmm_schedule: max_n = " << max_n << ", expected >= 1");
    PAISPARSE_EXPECTS(group_items >= 0, "spmm_schedule: group_items = " << group_items << ", expected >= 0");
    if (group_items > 0) {
      PAISPARSE_EXPECTS(h.n_items() == 0 || !h.item_base.empty(),
                        "spmm_schedule: item groups need a schedule cut into panels (schedule_params::panel_cols)");
      std::vector<int32_t> start;
      for (int32_t i = 0; i < h.n_items(); ++i)
        if (start.empty() || i - start.back() == group_items ||
            h.item_base[static_cast<std::size_t>(i)] != h.item_base[static_cast<std::size_t>(start.back())])
          start.push_back(i);
      start.push_back(h.n_items());
      n_groups_ = static_cast<int32_t>(start.size()) - 1;
      group_start_ = device_buffer<int32_t>(start);
    }
    if (h.split_rows > 0) {
      std::vector<int32_t> slot(static_cast<std::size_t>(h.rows), -1);
      int32_t next = 0;
      for (int32_t r = 0; r < h.rows; ++r)
        if (h.row_items[static_cast<std::size_t>(r)] > 1) slot[static_cast<std::size_t>(r)] = next++;
      const int64_t elems = static_cast<int64_t>(next) * max_n;
      PAISPARSE_EXPECTS(elems < std::numeric_limits<int32_t>::max(),
                        "spmm_schedule: " << next << " split rows x " << max_n
                                          << " columns exceed the 2^31 - 1 workspace elements; use a larger segment "
                                             "cap or a smaller N");
      row_slot_ = device_buffer<int32_t>(slot);
      workspace_ = device_buffer<float>(static_cast<std::size_t>(elems));
      counters_ = device_buffer<int32_t>(static_cast<std::size_t>(elems));
      PAISPARSE_CUDA_TRY(cudaMemset(workspace_.data(), 0, workspace_.size() * sizeof(float)));
      PAISPARSE_CUDA_TRY(cudaMemset(counters_.data(), 0, counters_.size() * sizeof(int32_t)));
      PAISPARSE_CUDA_TRY(cudaDeviceSynchronize());  // ready for any stream
    }
  }

  /// Uploads a tiled weight (the tensor-core kernels); k_splits > 1: also
  /// the workspace (k_splits slices of rows x max_n sums) and tile counters
  /// that up to k_splits splits need.
  spmm_schedule(const host_tiled_weight& t, int32_t max_n, int32_t k_splits)
      : max_n_(max_n), tiled_(t), tile_row_blocks_(t.row_blocks) {
    PAISPARSE_EXPECTS(max_n >= 1, "spmm_schedule: max_n = " << max_n << ", expected >= 1");
    make_split_tables(k_splits);
  }

  /// Uploads a fragment weight (the register-built tensor-core kernels);
  /// k_splits > 1: also the split-K tables, with a counter per row tile
  /// (any block height of the family is a multiple of 16 rows).
  spmm_schedule(const host_fragment_weight& f, int32_t max_n, int32_t k_splits)
      : max_n_(max_n), fragments_(f), tile_row_blocks_(f.row_tiles) {
    PAISPARSE_EXPECTS(max_n >= 1, "spmm_schedule: max_n = " << max_n << ", expected >= 1");
    make_split_tables(k_splits);
  }

  /// Uploads a windowed weight (the gathered tensor-core kernels).
  spmm_schedule(const host_window_weight& h, int32_t max_n) : max_n_(max_n), windowed_(h) {
    PAISPARSE_EXPECTS(max_n >= 1, "spmm_schedule: max_n = " << max_n << ", expected >= 1");
  }

  const device_schedule<T>& weight() const { return weight_; }
  /// The windowed weight, or null when the schedule is built otherwise.
  const device_window_weight* windowed() const { return windowed_.empty() ? nullptr : &windowed_; }
  /// The tiled weight, or null when the schedule is built of items.
  const device_tiled_weight* tiled() const { return tiled_.empty() ? nullptr : &tiled_; }
  /// The fragment weight, or null when the schedule is built otherwise.
  const device_fragment_weight* fragments() const { return fragments_.empty() ? nullptr : &fragments_; }
  /// Split-K tables of a tiled or fragment weight (null when built without
  /// them): split i's sums from workspace[i * tile_slice()] on, rows x
  /// max_n() in C's order (row-major, or max_n() columns of rows()), a
  /// counter per (row block, 16 columns).
  float* tile_workspace() const { return tensor_tiled() && !workspace_.empty() ? const_cast<float*>(workspace_.data()) : nullptr; }
  int32_t* tile_counters() const { return tensor_tiled() && !counters_.empty() ? const_cast<int32_t*>(counters_.data()) : nullptr; }
  int32_t tile_counter_stride() const { return tile_counter_stride_; }
  /// Floats of one split's slice of the workspace, and how many splits the
  /// slices serve (0 without split-K tables).
  int64_t tile_slice() const { return static_cast<int64_t>(rows()) * max_n_; }
  int32_t tile_split_slices() const { return tensor_tiled() ? tile_slices_ : 0; }
  /// Sizes a tiled or fragment weight's split-K tables for k_splits splits:
  /// none for 1 (a plan whose kernel does not split K), else that many
  /// slices. The tuner builds a tile shape's schedule once, with slices for
  /// its most splits, and the plan keeps what its kernel needs.
  void resize_tile_split_tables(int32_t k_splits) {
    if (!tensor_tiled() || k_splits == tile_slices_ || (k_splits <= 1 && tile_slices_ == 0)) return;
    workspace_ = device_buffer<float>();
    counters_ = device_buffer<int32_t>();
    tile_counter_stride_ = tile_slices_ = 0;
    make_split_tables(k_splits);
  }
  spmm_split_view split() const {
    spmm_split_view v;
    v.row_slot = row_slot_.empty() ? nullptr : row_slot_.data();
    v.workspace = const_cast<float*>(workspace_.data());
    v.counters = const_cast<int32_t*>(counters_.data());
    v.stride = max_n_;
    return v;
  }
  int32_t max_n() const { return max_n_; }
  /// Item groups of the panel kernels (0 when not built for them), and their
  /// first items (n_groups() + 1 entries).
  int32_t n_groups() const { return n_groups_; }
  const int32_t* group_start() const { return group_start_.empty() ? nullptr : group_start_.data(); }
  int32_t rows() const {
    return tiled() ? tiled_.rows() : windowed() ? windowed_.rows() : fragments() ? fragments_.rows() : weight_.rows();
  }
  int32_t cols() const {
    return tiled() ? tiled_.cols() : windowed() ? windowed_.cols() : fragments() ? fragments_.cols() : weight_.cols();
  }
  int32_t nnz() const {
    return tiled() ? tiled_.nnz() : windowed() ? windowed_.nnz() : fragments() ? fragments_.nnz() : weight_.nnz();
  }
  int32_t split_rows() const { return weight_.split_rows(); }
  index_kind index() const { return weight_.index(); }
  /// Device bytes a launch reads for the weight (values, indices, item tables).
  int64_t weight_bytes() const {
    return tiled()       ? tiled_.weight_bytes()
           : windowed()  ? windowed_.weight_bytes()
           : fragments() ? fragments_.weight_bytes()
                         : weight_.weight_bytes();
  }

 private:
  bool tensor_tiled() const { return tiled() || fragments(); }
  /// The split-K tables for k_splits splits of the tiled or fragment
  /// weight (none for an empty weight or one split). The workspace needs
  /// no zeroing: every split stores its whole slice before the last adds
  /// them up.
  void make_split_tables(int32_t k_splits) {
    if (rows() == 0 || k_splits <= 1) return;
    const int64_t elems = tile_slice() * k_splits;
    tile_counter_stride_ = (max_n_ + 15) / 16;  // column blocks of the narrowest tensor-core tile
    tile_slices_ = k_splits;
    workspace_ = device_buffer<float>(static_cast<std::size_t>(elems));
    counters_ = device_buffer<int32_t>(static_cast<std::size_t>(tile_row_blocks_) * tile_counter_stride_);
    PAISPARSE_CUDA_TRY(cudaMemset(counters_.data(), 0, counters_.size() * sizeof(int32_t)));
    PAISPARSE_CUDA_TRY(cudaDeviceSynchronize());  // ready for any stream
  }

  device_schedule<T> weight_;
  int32_t max_n_ = 0;
  int32_t n_groups_ = 0;
  device_buffer<int32_t> group_start_;
  device_buffer<int32_t> row_slot_;
  device_buffer<float> workspace_;
  device_buffer<int32_t> counters_;
  device_tiled_weight tiled_;
  int32_t tile_counter_stride_ = 0;
  int32_t tile_slices_ = 0;
  device_window_weight windowed_;
  device_fragment_weight fragments_;
  int32_t tile_row_blocks_ = 0;  // tiles of C's rows (a counter row each)
};

}  // namespace paisparse
