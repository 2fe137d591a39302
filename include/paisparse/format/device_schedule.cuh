// paisparse: the device form of a scheduled weight, owned by a plan.
#pragma once

#include <cstdint>

#include "../error.hpp"
#include "../kernels/spmv_kernel.cuh"
#include "device_buffer.hpp"
#include "schedule.hpp"

namespace paisparse {

/// Device-owned scheduled weight (index type erased: the plan's kernel knows it).
template <class T>
class device_schedule {
 public:
  device_schedule() = default;

  template <class I>
  explicit device_schedule(const host_schedule<T, I>& h)
      : rows_(h.rows),
        cols_(h.cols),
        nnz_(h.nnz),
        n_items_(h.n_items()),
        split_rows_(h.split_rows),
        longest_item_(h.longest_item),
        index_(index_kind_of_v<I>),
        host_item_ptr_(h.item_ptr),
        item_ptr_(h.item_ptr),
        item_row_(h.item_row),
        item_base_(h.item_base),
        row_items_(h.row_items),
        values_(h.values),
        indices_(h.indices.size() * sizeof(I)) {
    if (!h.indices.empty())
      PAISPARSE_CUDA_TRY(cudaMemcpy(indices_.data(), h.indices.data(), h.indices.size() * sizeof(I),
                                    cudaMemcpyHostToDevice));
    if (h.split_rows > 0) {
      workspace_ = device_buffer<float>(static_cast<std::size_t>(h.rows));
      counters_ = device_buffer<int32_t>(static_cast<std::size_t>(h.rows));
      PAISPARSE_CUDA_TRY(cudaMemset(workspace_.data(), 0, workspace_.size() * sizeof(float)));
      PAISPARSE_CUDA_TRY(cudaMemset(counters_.data(), 0, counters_.size() * sizeof(int32_t)));
    }
    // cudaMemset / cudaMemcpy may return before the device is done: finish
    // here so that a plan is ready for any stream (this constructor blocks).
    PAISPARSE_CUDA_TRY(cudaDeviceSynchronize());
  }

  template <class I>
  schedule_view<T, I> view() const {
    PAISPARSE_EXPECTS(index_kind_of_v<I> == index_, "device_schedule holds " << to_string(index_)
                                                                             << " indices, view asked for "
                                                                             << to_string(index_kind_of_v<I>));
    schedule_view<T, I> v;
    v.rows = rows_;
    v.cols = cols_;
    v.n_items = n_items_;
    v.item_ptr = item_ptr_.data();
    v.item_row = item_row_.data();
    v.item_base = item_base_.empty() ? nullptr : item_base_.data();
    v.row_items = row_items_.empty() ? nullptr : row_items_.data();
    v.indices = reinterpret_cast<const I*>(indices_.data());
    v.values = values_.data();
    v.workspace = const_cast<float*>(workspace_.data());
    v.counters = const_cast<int32_t*>(counters_.data());
    return v;
  }

  int32_t rows() const { return rows_; }
  int32_t cols() const { return cols_; }
  int32_t nnz() const { return nnz_; }
  int32_t n_items() const { return n_items_; }
  int32_t split_rows() const { return split_rows_; }
  int32_t longest_item() const { return longest_item_; }
  index_kind index() const { return index_; }
  /// Host copy of the item boundaries (for the adaptive kernel's bins).
  const std::vector<int32_t>& host_item_ptr() const { return host_item_ptr_; }
  int64_t padded_nnz() const { return static_cast<int64_t>(values_.size()); }
  /// Device bytes a launch reads for the weight (values, indices, item tables).
  int64_t weight_bytes() const {
    return static_cast<int64_t>(values_.size() * sizeof(T) + indices_.size() +
                                (item_ptr_.size() + item_row_.size() + item_base_.size()) * sizeof(int32_t));
  }

 private:
  int32_t rows_ = 0, cols_ = 0, nnz_ = 0, n_items_ = 0, split_rows_ = 0, longest_item_ = 0;
  index_kind index_ = index_kind::i32;
  std::vector<int32_t> host_item_ptr_{0};
  device_buffer<int32_t> item_ptr_, item_row_, item_base_, row_items_;
  device_buffer<T> values_;
  device_buffer<unsigned char> indices_;
  device_buffer<float> workspace_;
  device_buffer<int32_t> counters_;
};

}  // namespace paisparse
