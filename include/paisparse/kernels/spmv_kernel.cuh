// paisparse SpMV kernel: one prolog, one reduction, one epilog, composed.
//
//   y = act(alpha * W x + beta * y + bias)
//
// The weight is a scheduled weight (format/schedule.hpp): a list of work
// items, each a row or a segment of a row. A block of BlockThreads threads
// holds BlockThreads / Reduction::row_threads row teams; team t of block b
// takes item b * teams + t. Only this entry point reads threadIdx/blockIdx.
#pragma once

#include <cstdint>
#include <type_traits>

#include "../epilog/linear_epilog.cuh"
#include "../prolog/vector_prolog.cuh"
#include "../reduction/four_stage.cuh"

namespace paisparse {

/// Device view of a scheduled weight plus its split-row workspace.
template <class T, class I>
struct schedule_view {
  int32_t rows = 0, cols = 0, n_items = 0;
  const int32_t* item_ptr = nullptr;
  const int32_t* item_row = nullptr;
  const int32_t* item_base = nullptr;  // null unless 16-bit panels
  const int32_t* row_items = nullptr;  // null unless some row is split
  const I* indices = nullptr;
  const T* values = nullptr;
  float* workspace = nullptr;          // rows floats, zero between launches
  int32_t* counters = nullptr;         // rows ints, zero between launches
};

namespace detail {
template <class Prolog, class Reduction, class Epilog, int BlockThreads>
struct spmv_contract {
  using T = typename Prolog::value_type;
  static_assert(std::is_same_v<T, typename Epilog::value_type>,
                "spmv_kernel: the prolog and the epilog must use the same value type");
  static_assert(Prolog::vec_elems >= 1, "spmv_kernel: Prolog::vec_elems must be positive");
  static_assert(Reduction::row_threads >= 1 && BlockThreads % Reduction::row_threads == 0,
                "spmv_kernel: BlockThreads must be a multiple of Reduction::row_threads");
  static_assert(BlockThreads >= 32 && BlockThreads <= 1024, "spmv_kernel: BlockThreads must be 32..1024");
};
}  // namespace detail

template <class Prolog, class Reduction, class Epilog, int BlockThreads>
__global__ void __launch_bounds__(BlockThreads)
    spmv_kernel(schedule_view<typename Prolog::value_type, typename Prolog::index_type> w,
                const typename Prolog::value_type* __restrict__ x, typename Prolog::value_type* __restrict__ y,
                epilog_params<typename Prolog::value_type> ep) {
  [[maybe_unused]] detail::spmv_contract<Prolog, Reduction, Epilog, BlockThreads> contract;
  constexpr int row_threads = Reduction::row_threads;
  constexpr int teams = BlockThreads / row_threads;
  __shared__ typename Reduction::storage_type smem;

  const int tid = static_cast<int>(threadIdx.x);
  const int lane = tid % row_threads;
  const int64_t item = static_cast<int64_t>(blockIdx.x) * teams + tid / row_threads;
  const bool valid = item < w.n_items;

  float acc = 0.f;
  int32_t row_word = 0;
  if (valid) {
    row_word = w.item_row[item];
    const int32_t begin = w.item_ptr[item];
    const int32_t end = w.item_ptr[item + 1];
    const int32_t base = w.item_base != nullptr ? w.item_base[item] : 0;
    acc = Prolog::template accumulate<row_threads>(w.values, w.indices, begin, end, x + base, lane);
  }
  acc = Reduction::reduce(acc, tid, smem);  // every thread takes part
  if (!valid || lane != 0) return;
  const int32_t row = row_word & 0x7fffffff;
  if (row_word < 0) {  // split row: stage 4
    float total;
    if (!atomic_stage_combine(acc, row, w.row_items[row], w.workspace, w.counters, total)) return;
    acc = total;
  }
  Epilog::apply(y, row, row, acc, ep);
}

/// Grid size for a scheduled weight of n_items items.
template <int BlockThreads, int RowThreads>
inline unsigned spmv_grid(int32_t n_items) {
  constexpr int teams = BlockThreads / RowThreads;
  return static_cast<unsigned>((static_cast<int64_t>(n_items) + teams - 1) / teams);
}

}  // namespace paisparse
