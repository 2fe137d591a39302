// paisparse SpMM kernel: one prolog, one reduction, one epilog, composed.
//
//   C = act(alpha * W B + beta * C + bias[row])
//
// W is an M x K scheduled weight (format/schedule.hpp: items = rows or row
// segments, padded to the vector width, longest first by default), B is a
// dense K x N matrix and C a dense M x N matrix (format/dense.hpp), N = 1..256
// typically (tokens). fp32 accumulation throughout.
//
// Decomposition. A block of BlockThreads threads holds BlockThreads / team
// teams of NzLanes x ColLanes lanes; each team takes one item. The columns
// of C are cut into chunks of ColLanes x ColTile columns; each lane owns a
// tile of ColTile consecutive columns of its chunk, in fp32 registers, and
// the NzLanes lanes of a tile split the item's nonzeros. Every nonzero a
// lane loads is reused for all ColTile columns of its tile.
//
//   Prolog     (prolog/spmm_prolog.cuh)  weight vectors + B tiles -> fp32 tile sums
//   Reduction  (reduction/column_tile_reduction.cuh)  shuffles over the nz
//              lanes, then atomic_stage_combine for split rows
//   Epilog     (epilog/linear_epilog.cuh)  apply(C, i, row, acc, params) with
//              i = the offset of C(row, col) and row the bias index
//
// The grid is one-dimensional: block b works on item group b / chunks and
// column chunk b % chunks, so the chunks of one item group run side by side
// and read the item's nonzeros while they are in L2.
//
// Columns are predicated (any N; columns past N are neither read nor
// written), 16-bit indices with column panels work through the schedule's
// item_base, empty rows and nnz = 0 still get their epilog. Only the
// __global__ entries read threadIdx / blockIdx.
//
// Programmatic dependent launch (detail/dependent_launch.cuh): every SpMM
// kernel reads only its weight (item tables, values, indices) before
// detail::wait_for_inputs(), and B, C, bias and the split-row tables after
// it, so it may start while the kernel before it runs (its own B staging
// kernel, or the previous layer). The SpMM kernels themselves do not call
// allow_dependent_launch(): the next kernel launches when they end. Letting
// it launch when their blocks start cost up to 1.35x on large layers on the
// H100 (its blocks sat resident and waiting through the whole last wave;
// docs/PERFORMANCE.md, "SpMM with programmatic dependent launch").
// Launched without the attribute, the wait does nothing.
#pragma once

#include <cstdint>
#include <type_traits>

#include "../epilog/linear_epilog.cuh"
#include "../prolog/spmm_prolog.cuh"
#include "../reduction/column_tile_reduction.cuh"
#include "../reduction/four_stage.cuh"
#include "../detail/dependent_launch.cuh"
#include "spmv_kernel.cuh"  // schedule_view

namespace paisparse {

/// Split-row tables of an SpMM launch (stage 3 of column_tile_reduction).
struct spmm_split_view {
  const int32_t* row_slot = nullptr;  // per weight row: its slot when the row is split
  float* workspace = nullptr;         // slots x stride floats, zero between launches
  int32_t* counters = nullptr;        // slots x stride ints, zero between launches
  int64_t stride = 0;                 // columns per slot (the plan's largest N)
};

/// Everything one SpMM launch reads, passed by value.
template <class T, class I>
struct spmm_params {
  schedule_view<T, I> w;             // its SpMV workspace fields are not used
  const T* b = nullptr;              // at the access policy's layout (see the prolog)
  int64_t ldb = 0;
  int32_t b_vector = 0;              // 1: B and ldb are aligned for the prolog's vector loads
  T* c = nullptr;                    // C(m, n) at c[m * c_row_stride + n * c_col_stride]
  int64_t c_row_stride = 0, c_col_stride = 0;
  int32_t n = 0;                     // columns of B and C
  int32_t col_chunks = 1;            // ceil(n / (ColLanes * ColTile))
  spmm_split_view split;
  epilog_params<T> ep;
};

namespace detail {
template <class Prolog, class Reduction, class Epilog, int BlockThreads>
struct spmm_contract {
  using T = typename Prolog::value_type;
  static_assert(std::is_same_v<T, typename Epilog::value_type>,
                "spmm_kernel: the prolog and the epilog must use the same value type");
  static_assert(Prolog::col_tile == Reduction::col_tile,
                "spmm_kernel: the prolog and the reduction must agree on the columns per lane (ColTile)");
  static_assert(Prolog::vec_elems >= 1, "spmm_kernel: Prolog::vec_elems must be positive");
  static_assert(BlockThreads % 32 == 0 && BlockThreads >= 32 && BlockThreads <= 1024,
                "spmm_kernel: BlockThreads must be a multiple of 32 in 32..1024");
  static_assert(32 % Reduction::team_threads == 0,
                "spmm_kernel: teams must be power-of-two slices of a warp (the shuffle stage)");
};
}  // namespace detail

namespace detail {
/// The end of an item for one lane: stage 3 when its row is split, then the
/// epilog for the tile columns this nz lane finishes (below `valid`). acc
/// holds the team's sums (after reduce). Every lane of the warp calls it
/// (stage 3 is warp-collective); has_item: the lane's team holds an item.
template <class Reduction, class Epilog, class T, class I>
__device__ __forceinline__ void spmm_finish(const spmm_params<T, I>& p, bool has_item, int32_t row_word, int32_t chunk,
                                            int32_t c0, int valid, int nz_lane, float (&acc)[Reduction::col_tile]) {
  const int32_t row = row_word & 0x7fffffff;
  const bool split = has_item && row_word < 0;
  bool write = has_item && !split;
  if (__any_sync(0xffffffffu, split)) {  // stage 3: the row's workspace, a counter per column chunk
    const int64_t base = split ? static_cast<int64_t>(p.split.row_slot[row]) * p.split.stride : 0;
    write |= Reduction::combine_tile(split, acc, p.split.workspace + base + c0, p.split.counters + base + chunk,
                                     split ? p.w.row_items[row] : 0, valid, nz_lane);
  }
  if (!write) return;
#pragma unroll
  for (int j = 0; j < Reduction::col_tile; ++j) {
    if (!Reduction::finishes(j, nz_lane) || j >= valid) continue;
    const int32_t col = c0 + j;
    Epilog::apply(p.c, static_cast<int64_t>(row) * p.c_row_stride + static_cast<int64_t>(col) * p.c_col_stride, row,
                  acc[j], p.ep);
  }
}
}  // namespace detail

template <class Prolog, class Reduction, class Epilog, int BlockThreads>
__global__ void __launch_bounds__(BlockThreads)
    spmm_kernel(spmm_params<typename Prolog::value_type, typename Prolog::index_type> p) {
  using T = typename Prolog::value_type;
  [[maybe_unused]] detail::spmm_contract<Prolog, Reduction, Epilog, BlockThreads> contract;
  constexpr int team = Reduction::team_threads;
  constexpr int col_lanes = Reduction::col_lanes;
  constexpr int tile = Reduction::col_tile;
  constexpr int teams = BlockThreads / team;
  constexpr int V = Prolog::vec_elems;

  const int tid = static_cast<int>(threadIdx.x);
  const int64_t block = static_cast<int64_t>(blockIdx.x);
  const int32_t chunk = static_cast<int32_t>(block % p.col_chunks);
  const int64_t item = block / p.col_chunks * teams + tid / team;
  const int lane = tid % team;
  const int nz_lane = lane / col_lanes;
  const int32_t c0 = chunk * (col_lanes * tile) + (lane % col_lanes) * tile;
  const int valid = max(0, min(tile, p.n - c0));
  // Whether the lane's whole tile lies inside N, computed on its own rather
  // than as valid == tile: ptxas (CUDA 13.0, sm_90) folded that comparison
  // into the min/max above (a VIMNMX with a predicate output) with the wrong
  // sense, so partial tiles took the full-tile path and read columns past N
  // (compute-sanitizer caught the reads past the end of a 1-column B).
  const bool full = p.n - c0 >= tile;

  float acc[tile];
#pragma unroll
  for (int j = 0; j < tile; ++j) acc[j] = 0.f;
  const bool has_item = item < p.w.n_items;
  // lanes past the last item read the last item's metadata (the launcher
  // guarantees n_items >= 1), so every lane has real values to load
  const int64_t it = min(item, static_cast<int64_t>(p.w.n_items) - 1);
  const int32_t row_word = p.w.item_row[it];
  {
    const int32_t begin = p.w.item_ptr[it];
    const int32_t nvec = (p.w.item_ptr[it + 1] - begin) / V;
    const int32_t k0 = p.w.item_base != nullptr ? p.w.item_base[it] : 0;
    if (has_item && valid > 0)
      Prolog::template accumulate<Reduction::nz_lanes>(p.w.values, p.w.indices, begin, nvec,
                                                       p.b + Prolog::b_origin(k0, c0, p.ldb), p.ldb, valid, full,
                                                       p.b_vector != 0, nz_lane, acc);
  }
  detail::wait_for_inputs();  // (a no-op where accumulate waited) C, bias and the split tables
  Reduction::reduce(acc);  // every lane of the warp takes part
  detail::spmm_finish<Reduction, Epilog>(p, has_item, row_word, chunk, c0, valid, nz_lane, acc);
}

/// Blocks of an SpMM launch: item groups x column chunks.
template <int BlockThreads, int TeamThreads>
inline int64_t spmm_grid(int32_t n_items, int32_t col_chunks) {
  constexpr int per_block = BlockThreads / TeamThreads;
  return (static_cast<int64_t>(n_items) + per_block - 1) / per_block * col_chunks;
}

/// Stages a column-major K x N matrix (src, ld lds) as row-major (dst, ld
/// ldd >= N): 32 x 32 tiles through shared memory, reads and writes both
/// coalesced. Launch with spmm_stage_rows_grid(k, n) and 256 threads, k, n
/// >= 1. The transposed staging path of column-major B runs it before
/// spmm_kernel. With programmatic dependent launch it lets that kernel
/// launch at once (to fetch its weight while B is staged), waits for the
/// previous kernel before reading src (its output) or writing dst (which the
/// previous call of the same plan reads), and reads src with plain (coherent) loads.
template <class T>
__global__ void __launch_bounds__(256) spmm_stage_rows_kernel(const T* src, int64_t lds, T* __restrict__ dst,
                                                              int64_t ldd, int32_t k, int32_t n) {
  __shared__ T tile[32][33];
  const int tx = static_cast<int>(threadIdx.x) % 32;
  const int ty = static_cast<int>(threadIdx.x) / 32;
  const int64_t k0 = static_cast<int64_t>(blockIdx.x) * 32;
  const int32_t n0 = static_cast<int32_t>(blockIdx.y) * 32;
  detail::allow_dependent_launch();  // the SpMM kernel may start loading its weight
  detail::wait_for_inputs();
#pragma unroll
  for (int r = ty; r < 32; r += 8) {  // read along k (contiguous in src); clamped, never out of src
    const int32_t nn = min(n0 + r, n - 1);
    const int64_t kk = min(k0 + tx, static_cast<int64_t>(k) - 1);
    tile[r][tx] = src[static_cast<int64_t>(nn) * lds + kk];
  }
  __syncthreads();
#pragma unroll
  for (int r = ty; r < 32; r += 8) {  // write along n (contiguous in dst)
    const int64_t kk = k0 + r;
    const int32_t nn = n0 + tx;
    if (kk < k && nn < n) dst[kk * ldd + nn] = tile[tx][r];
  }
}

inline dim3 spmm_stage_rows_grid(int32_t k, int32_t n) {
  return dim3(static_cast<unsigned>((static_cast<int64_t>(k) + 31) / 32), static_cast<unsigned>((n + 31) / 32), 1);
}

}  // namespace paisparse
