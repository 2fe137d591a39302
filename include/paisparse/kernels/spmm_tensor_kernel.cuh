// paisparse tensor-core SpMM kernel: "load sparse, compute dense".
//
//   C = act(alpha * W B + beta * C + bias[row])
//
// W comes as a tiled weight (format/tiled_weight.cuh: TileM x TileK tiles,
// 4 bytes per nonzero). A block owns a TileM x TileN tile of C and walks K
// in steps of TileK; per step it builds the dense TileM x TileK piece of W
// in shared memory from the packed nonzeros, stages the TileK x TileN piece
// of B beside it, and the warps multiply the two on the tensor cores
// (mma.sync m16n8k16, fp32 accumulation; fp16 or bf16 values).
//
//   Prolog     (prolog/tile_prolog.cuh)      packed nonzeros -> dense W tile;
//                                            B tile via cp.async
//   Reduction  (reduction/mma_reduction.cuh) ldmatrix + mma.sync, sums in
//                                            fp32 fragments across k steps
//   Epilog     (epilog/linear_epilog.cuh)    per element, as the other kernels
//
// Two shared buffers of each operand: while the warps multiply step s, the
// words of step s + 1 are in flight into registers and its B tile into
// shared memory (cp.async), and the other W buffer is zeroed. Two barriers
// per step. A step whose W tile holds no nonzero skips the multiply.
//
// Split K: with k_splits > 1 the k steps of a tile of C are shared by
// k_splits blocks (a short, wide layer has too few tiles of C to fill the
// GPU). Each adds its fp32 sums into a workspace (atomics), and the last
// block to finish a tile (a counter per tile) reads the sums back, clears
// the workspace and counter for the next launch, and runs the epilog: the
// reduction's register stage followed by its atomic stage.
//
// It spends the dense tile's multiplies whatever the sparsity, so it pays
// where the CUDA-core kernels run out of issue slots: on the H100, N of 32
// and more at 80-90% sparsity (docs/PERFORMANCE.md). Unlike the CUDA-core
// kernels it multiplies zeros of W by B: an Inf or NaN in B reaches every
// output of its column (as in a dense GEMM), where the other kernels touch
// only the B rows W uses.
//
// Rows past M and columns past N are neither read nor written (B is
// zero-filled past K and N in shared memory).
#pragma once

#include <cstdint>

#include "../epilog/linear_epilog.cuh"
#include "../format/tiled_weight.cuh"
#include "../prolog/tile_prolog.cuh"
#include "../reduction/mma_reduction.cuh"

namespace paisparse {

/// Everything one tensor-core SpMM launch reads, passed by value.
template <class T>
struct spmm_tensor_params {
  tiled_weight_view w;
  const T* b = nullptr;
  int64_t ldb = 0;
  int32_t b_vector = 0;  // 1: B and ldb are 16-byte aligned (cp.async)
  T* c = nullptr;        // C(m, n) at c[m * c_row_stride + n * c_col_stride]
  int64_t c_row_stride = 0, c_col_stride = 0;
  int32_t n = 0;
  int32_t n_blocks = 1;  // ceil(n / TileN)
  int32_t k_splits = 1;  // blocks sharing one tile of C's k steps
  float* workspace = nullptr;  // k_splits > 1: rows x ws_stride sums, zero between launches
  int32_t* counters = nullptr;  // k_splits > 1: one per tile of C (row block x counter_stride), zero between launches
  int64_t ws_stride = 0;
  int32_t counter_stride = 0;
  epilog_params<T> ep;
};

/// Where a block's operands lie in its dynamic shared memory (16-bit elements).
template <class WProlog, class BStage>
struct spmm_tensor_layout {
  static constexpr int a_elems = WProlog::smem_elems, b_elems = BStage::smem_elems;
  /// Dynamic shared memory of one block: two buffers of each operand.
  static constexpr int smem_bytes = 2 * (a_elems + b_elems) * 2;
};

template <class WProlog, class BStage, class Reduction, class Epilog, int Threads, int TileM, int TileN, int TileK>
__global__ void __launch_bounds__(Threads) spmm_tensor_kernel(spmm_tensor_params<typename Epilog::value_type> p) {
  using T = typename Epilog::value_type;
  using layout = spmm_tensor_layout<WProlog, BStage>;
  extern __shared__ __align__(16) unsigned char smem_raw[];
  T* const a_buf[2] = {reinterpret_cast<T*>(smem_raw), reinterpret_cast<T*>(smem_raw) + layout::a_elems};
  T* const b_buf[2] = {reinterpret_cast<T*>(smem_raw) + 2 * layout::a_elems,
                       reinterpret_cast<T*>(smem_raw) + 2 * layout::a_elems + layout::b_elems};

  const int tid = static_cast<int>(threadIdx.x);
  const int warp = tid / 32, lane = tid % 32;
  // block = (row block x k_splits + split) x n_blocks + column block
  const int32_t n_block = static_cast<int32_t>(blockIdx.x % p.n_blocks);
  const int32_t split = static_cast<int32_t>((blockIdx.x / p.n_blocks) % p.k_splits);
  const int32_t row_block = static_cast<int32_t>(blockIdx.x / p.n_blocks / p.k_splits);
  const int32_t n0 = n_block * TileN;
  const int32_t m0 = row_block * TileM;
  const int32_t per_split = (p.w.k_tiles + p.k_splits - 1) / p.k_splits;
  const int32_t s_begin = min(p.w.k_tiles, split * per_split);
  const int32_t k_tiles = min(p.w.k_tiles, s_begin + per_split) - s_begin;  // this block's steps
  const int64_t tile0 = static_cast<int64_t>(row_block) * p.w.k_tiles + s_begin;
  const bool vec = p.b_vector != 0;

  typename Reduction::accumulators acc;
  Reduction::clear(acc);
  typename WProlog::staged words;
  if (k_tiles > 0) {
    WProlog::zero(a_buf[0], tid);
    BStage::stage(b_buf[0], p.b, p.ldb, s_begin * TileK, n0, p.w.cols, p.n, vec, tid);
    detail::cp_async_commit();
    WProlog::load(p.w, tile0, tid, words);
    __syncthreads();  // zeroed
    WProlog::scatter(p.w, words, a_buf[0], tid);
  }
  for (int32_t s = 0; s < k_tiles; ++s) {
    const int cur = s & 1, nxt = cur ^ 1;
    const bool next = s + 1 < k_tiles;
    const bool nonzero = p.w.tile_ptr[tile0 + s + 1] != p.w.tile_ptr[tile0 + s];
    if (next) {  // step s + 1 in flight while step s multiplies
      WProlog::zero(a_buf[nxt], tid);
      BStage::stage(b_buf[nxt], p.b, p.ldb, (s_begin + s + 1) * TileK, n0, p.w.cols, p.n, vec, tid);
      detail::cp_async_commit();
      WProlog::load(p.w, tile0 + s + 1, tid, words);
      detail::cp_async_wait<1>();
    } else {
      detail::cp_async_wait<0>();
    }
    __syncthreads();  // step s's operands are in place, the other W buffer is zeroed
    if (nonzero)
      Reduction::template accumulate<WProlog::ld, BStage::ld>(a_buf[cur], b_buf[cur], warp, lane, acc);
    if (next) WProlog::scatter(p.w, words, a_buf[nxt], tid);
    __syncthreads();  // step s's buffers are free for step s + 2
  }
  auto store = [&](int32_t row, int32_t col, float v) {
    Epilog::apply(p.c, static_cast<int64_t>(row) * p.c_row_stride + static_cast<int64_t>(col) * p.c_col_stride, row,
                  v, p.ep);
  };
  if (p.k_splits == 1) {
    Reduction::for_each(acc, warp, lane, [&](int r, int c, float v) {
      if (m0 + r < p.w.rows && n0 + c < p.n) store(m0 + r, n0 + c, v);
    });
    return;
  }
  // atomic stage: add into the workspace; the last of the tile's blocks finishes
  if (k_tiles > 0)
    Reduction::for_each(acc, warp, lane, [&](int r, int c, float v) {
      if (m0 + r < p.w.rows && n0 + c < p.n) atomicAdd(p.workspace + (m0 + r) * p.ws_stride + n0 + c, v);
    });
  __threadfence();
  __syncthreads();
  __shared__ int last;
  int32_t* counter = p.counters + static_cast<int64_t>(row_block) * p.counter_stride + n_block;
  if (tid == 0) last = atomicAdd(counter, 1) == p.k_splits - 1;
  __syncthreads();
  if (!last) return;
  __threadfence();
  Reduction::for_each(acc, warp, lane, [&](int r, int c, float) {
    if (m0 + r >= p.w.rows || n0 + c >= p.n) return;
    float* slot = p.workspace + (m0 + r) * p.ws_stride + n0 + c;
    const float v = __ldcg(slot);
    *slot = 0.f;
    store(m0 + r, n0 + c, v);
  });
  if (tid == 0) *counter = 0;
}

}  // namespace paisparse
