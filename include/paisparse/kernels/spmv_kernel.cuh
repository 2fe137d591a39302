// paisparse SpMV kernel: one prolog, one reduction, one epilog, composed.
//
//   y = act(alpha * W x + beta * y + bias)
//
// The weight is a scheduled weight (format/schedule.hpp): a list of work
// items, each a row or a segment of a row. A block of BlockThreads threads
// holds BlockThreads / Reduction::row_threads row teams; each team takes
// ItemsPerTeam consecutive items and works on them side by side (their loads
// in flight together). Only this entry point reads threadIdx/blockIdx.
#pragma once

#include <cstdint>
#include <type_traits>

#include "../epilog/linear_epilog.cuh"
#include "../prolog/vector_prolog.cuh"
#include "../reduction/four_stage.cuh"
#include "spmv_bins.hpp"

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
template <class Prolog, class Reduction, class Epilog, int BlockThreads, int ItemsPerTeam>
struct spmv_contract {
  static_assert(ItemsPerTeam >= 1 && ItemsPerTeam <= 8, "spmv_kernel: ItemsPerTeam must be 1..8");
  static_assert(ItemsPerTeam == 1 || Reduction::warps_per_row == 1,
                "spmv_kernel: several items per team need single-group teams (no shared-memory stage)");
  using T = typename Prolog::value_type;
  static_assert(std::is_same_v<T, typename Epilog::value_type>,
                "spmv_kernel: the prolog and the epilog must use the same value type");
  static_assert(Prolog::vec_elems >= 1, "spmv_kernel: Prolog::vec_elems must be positive");
  static_assert(Reduction::row_threads >= 1 && BlockThreads % Reduction::row_threads == 0,
                "spmv_kernel: BlockThreads must be a multiple of Reduction::row_threads");
  static_assert(BlockThreads >= 32 && BlockThreads <= 1024, "spmv_kernel: BlockThreads must be 32..1024");
};
}  // namespace detail

/// The work of one block: its row teams take ItemsPerTeam consecutive items
/// each, starting at item `first_item` for the block's first team, items at
/// or past `item_end` are not processed. Called only by __global__ entries.
template <class Prolog, class Reduction, class Epilog, int BlockThreads, int ItemsPerTeam>
__device__ __forceinline__ void spmv_block(const schedule_view<typename Prolog::value_type, typename Prolog::index_type>& w,
                                           const typename Prolog::value_type* __restrict__ x,
                                           typename Prolog::value_type* __restrict__ y,
                                           const epilog_params<typename Prolog::value_type>& ep, int64_t first_item,
                                           int64_t item_end, int tid) {
  using T = typename Prolog::value_type;
  [[maybe_unused]] detail::spmv_contract<Prolog, Reduction, Epilog, BlockThreads, ItemsPerTeam> contract;
  constexpr int row_threads = Reduction::row_threads;
  constexpr int V = Prolog::vec_elems;
  __shared__ typename Reduction::storage_type smem;

  const int lane = tid % row_threads;
  const int64_t first = first_item + static_cast<int64_t>(tid / row_threads) * ItemsPerTeam;
  detail::allow_dependent_launch();  // the next kernel may start loading its own weight

  int32_t row_word[ItemsPerTeam], begin[ItemsPerTeam], nvec[ItemsPerTeam];
  const T* xs[ItemsPerTeam];
  float acc[ItemsPerTeam];
#pragma unroll
  for (int j = 0; j < ItemsPerTeam; ++j) {  // item metadata: independent loads
    const int64_t item = first + j;
    acc[j] = 0.f;
    row_word[j] = -1;
    begin[j] = 0;
    nvec[j] = 0;
    xs[j] = x;
    if (item < item_end) {
      row_word[j] = w.item_row[item];
      begin[j] = w.item_ptr[item];
      nvec[j] = (w.item_ptr[item + 1] - begin[j]) / V;
      if (w.item_base != nullptr) xs[j] = x + w.item_base[item];
    }
  }
  Prolog::template accumulate<row_threads, ItemsPerTeam>(w.values, w.indices, begin, nvec, xs, lane, acc);
#pragma unroll
  for (int j = 0; j < ItemsPerTeam; ++j) {
    const float sum = Reduction::reduce(acc[j], tid, smem);  // every thread takes part
    if (lane != 0 || first + j >= item_end) continue;
    const int32_t row = row_word[j] & 0x7fffffff;
    float total = sum;
    if (row_word[j] < 0 &&  // split row: stage 4
        !atomic_stage_combine(sum, row, w.row_items[row], w.workspace, w.counters, total))
      continue;
    Epilog::apply(y, row, row, total, ep);
  }
}

/// Fixed team size: every team has Reduction::row_threads threads.
template <class Prolog, class Reduction, class Epilog, int BlockThreads, int ItemsPerTeam = 1>
__global__ void __launch_bounds__(BlockThreads)
    spmv_kernel(schedule_view<typename Prolog::value_type, typename Prolog::index_type> w,
                const typename Prolog::value_type* __restrict__ x, typename Prolog::value_type* __restrict__ y,
                epilog_params<typename Prolog::value_type> ep) {
  constexpr int per_block = BlockThreads / Reduction::row_threads * ItemsPerTeam;
  spmv_block<Prolog, Reduction, Epilog, BlockThreads, ItemsPerTeam>(
      w, x, y, ep, static_cast<int64_t>(blockIdx.x) * per_block, w.n_items, static_cast<int>(threadIdx.x));
}

namespace detail {
template <class Prolog, class Epilog, int BlockThreads, int Log2>
__device__ __forceinline__ void spmv_bin_dispatch(int log2, const schedule_view<typename Prolog::value_type, typename Prolog::index_type>& w,
                                                  const typename Prolog::value_type* __restrict__ x,
                                                  typename Prolog::value_type* __restrict__ y,
                                                  const epilog_params<typename Prolog::value_type>& ep, int64_t first,
                                                  int64_t end) {
  constexpr int team = 1 << Log2;
  if constexpr (team <= BlockThreads) {
    if (log2 == Log2) {
      using reduction = four_stage_reduction<(team < 32 ? team : 32), (team > 32 ? team / 32 : 1), BlockThreads>;
      spmv_block<Prolog, reduction, Epilog, BlockThreads, 1>(w, x, y, ep, first, end, static_cast<int>(threadIdx.x));
      return;
    }
    spmv_bin_dispatch<Prolog, Epilog, BlockThreads, Log2 + 1>(log2, w, x, y, ep, first, end);
  }
}
}  // namespace detail

/// Adaptive team size: each length bin runs with its own team size (one
/// launch; the bin is uniform per block, so the branch costs nothing).
template <class Prolog, class Epilog, int BlockThreads>
__global__ void __launch_bounds__(BlockThreads)
    spmv_adaptive_kernel(schedule_view<typename Prolog::value_type, typename Prolog::index_type> w,
                         const typename Prolog::value_type* __restrict__ x, typename Prolog::value_type* __restrict__ y,
                         epilog_params<typename Prolog::value_type> ep, spmv_bins bins) {
  const int32_t block = static_cast<int32_t>(blockIdx.x);
  int k = 0;
  while (k + 1 < bins.count && block >= bins.block_begin[k + 1]) ++k;
  const int log2 = bins.team_log2[k];
  const int64_t first =
      bins.item_begin[k] + static_cast<int64_t>(block - bins.block_begin[k]) * (BlockThreads >> log2);
  detail::spmv_bin_dispatch<Prolog, Epilog, BlockThreads, 0>(log2, w, x, y, ep, first, bins.item_begin[k + 1]);
}

/// Grid size for a scheduled weight of n_items items.
template <int BlockThreads, int RowThreads, int ItemsPerTeam = 1>
inline unsigned spmv_grid(int32_t n_items) {
  constexpr int per_block = BlockThreads / RowThreads * ItemsPerTeam;
  return static_cast<unsigned>((static_cast<int64_t>(n_items) + per_block - 1) / per_block);
}

}  // namespace paisparse
