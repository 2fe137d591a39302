// paisparse gathered tensor-core SpMM kernel: the tensor cores multiply only
// the columns each 8 rows of W use.
//
//   C = act(alpha * W B + beta * C + bias[row])
//
// W comes windowed (format/window_weight.hpp): 8 rows per window, K in
// chunks of 256 columns, each window's distinct columns in a chunk cut into
// steps of 16. One warp owns one window and TileN tokens (columns of C); a
// block of Warps warps takes Warps consecutive window slots (windows of
// similar work) and one tile of tokens, and walks K chunk by chunk:
//
//   stage      the block copies B(chunk, tokens) into shared memory
//              (b_tile_stage, cp.async, 2 to 4 buffers and one barrier
//              per chunk: chunks c + 1 .. are in flight while chunk c is
//              multiplied; B row-major, so a
//              column-major B (an LLM's activations) comes through the
//              plan's staged row-major copy)
//   prolog     each lane holds its part of the next steps' weight
//              fragments and gathered row addresses in registers, four
//              steps ahead, across chunk boundaries (prolog/window_prolog.cuh)
//   reduction  per step and 16 tokens: one transposed ldmatrix gathers the
//              step's 16 rows of B, one mma.sync m16n8k16 multiplies them
//              by the step's fragment into fp32 (reduction/window_mma_reduction.cuh)
//   epilog     per element, as the other kernels (the window's rows:
//              order[slot] * 8 ..)
//
// Against the dense tiles of kernels/spmm_tensor_kernel.cuh it multiplies
// about 57% of K at 90% sparsity, 34% at 95% and 8% at 99% (random
// columns), and builds no dense tile in shared memory: the fragments come
// ready from memory, at 256 bytes per step. Like that kernel it multiplies
// some zeros of W by B (a window's rows share its columns): an Inf or NaN
// in a row of B that a window uses reaches all 8 of its rows.
//
// Rows past M and tokens past N are neither read nor written (B is
// zero-filled past K and N in shared memory).
#pragma once

#include <cstdint>

#include "../epilog/linear_epilog.cuh"
#include "../format/window_weight.cuh"
#include "../prolog/tile_prolog.cuh"
#include "../prolog/window_prolog.cuh"
#include "../reduction/window_mma_reduction.cuh"
#include "spmm_tensor_kernel.cuh"  // tensor_operands

namespace paisparse {

/// Everything one windowed SpMM launch reads, passed by value (B row-major).
template <class T>
struct spmm_window_params : tensor_operands<T> {
  window_weight_view w;
};

/// Steps of its window a warp holds in registers ahead of the one it multiplies.
inline constexpr int window_steps_ahead = 4;

/// Buffers of B: as many as fit 200 KiB, 2 to 4 (a sparse window has few
/// steps per chunk, so chunks pass quickly and their copies need to be
/// issued several chunks ahead).
template <class BStage>
struct spmm_window_layout {
  static constexpr int stage_bytes = BStage::smem_elems * 2;
  static constexpr int fit = 200 * 1024 / stage_bytes;
  static constexpr int stages = fit < 2 ? 2 : fit > 4 ? 4 : fit;
  static constexpr int smem_bytes = stages * stage_bytes;
};

template <class Prolog, class BStage, class Reduction, class Epilog, int Threads, int TileN>
__global__ void __launch_bounds__(Threads) spmm_window_kernel(spmm_window_params<typename Epilog::value_type> p) {
  using T = typename Epilog::value_type;
  using layout = spmm_window_layout<BStage>;
  constexpr int warps = Threads / 32;
  constexpr int ahead = window_steps_ahead;
  extern __shared__ __align__(16) unsigned char smem_raw[];
  T* const b_base = reinterpret_cast<T*>(smem_raw);

  const int tid = static_cast<int>(threadIdx.x);
  const int warp = tid / 32, lane = tid % 32;
  const int32_t n_block = static_cast<int32_t>(blockIdx.x % p.n_blocks);
  const int32_t row_block = static_cast<int32_t>(blockIdx.x / p.n_blocks);
  const int32_t n0 = n_block * TileN;
  const int32_t slot = row_block * warps + warp;
  const bool active = slot < p.w.windows;
  const int32_t chunks = p.w.chunks;
  const int64_t base = static_cast<int64_t>(active ? slot : 0) * chunks;
  const bool vec = p.b_vector != 0;
  const int64_t b_offset = BStage::thread_offset(p.ldb, n0, tid);

  auto b_buf = [&](int32_t c) { return b_base + (c % layout::stages) * BStage::smem_elems; };
  auto stage_b = [&](int32_t c) {  // one commit group per chunk (empty past the last)
    if (c < chunks) BStage::stage_at(b_buf(c), p.b, p.ldb, b_offset, c * window_chunk, n0, p.w.cols, p.n, vec, tid);
    detail::cp_async_commit();
  };

  typename Reduction::accumulators acc;
  Reduction::clear(acc);
  // the warp's steps, all chunks: [s, last); the next `ahead` in registers
  int32_t s = active ? p.w.step_ptr[base] : 0;
  const int32_t last = active ? p.w.step_ptr[base + chunks] : 0;
  typename Prolog::step q[ahead];
#pragma unroll
  for (int u = 0; u < ahead; ++u) Prolog::load(p.w, s + u, last, lane, q[u]);

  constexpr int stages = layout::stages;
  detail::wait_for_inputs();  // B and C may come from the previous kernel
#pragma unroll
  for (int c = 0; c + 1 < stages; ++c) stage_b(c);
  int32_t chunk_end = active && chunks > 0 ? p.w.step_ptr[base + 1] : 0;
  for (int32_t c = 0; c < chunks; ++c) {
    const int32_t next_end = active && c + 1 < chunks ? p.w.step_ptr[base + c + 2] : 0;
    detail::cp_async_wait<stages - 2>();  // this thread's part of chunk c
    __syncthreads();  // all of chunk c is in place; every warp is done with chunk c - 1
    stage_b(c + stages - 1);  // into chunk c - 1's buffer
    const uint32_t buf = detail::shared_address(b_buf(c));
    for (; s < chunk_end; ++s) {
      Reduction::accumulate(buf + q[0].b_row, q[0].frag, acc);
#pragma unroll
      for (int u = 0; u + 1 < ahead; ++u) q[u] = q[u + 1];
      Prolog::load(p.w, s + ahead, last, lane, q[ahead - 1]);
    }
    chunk_end = next_end;
  }
  detail::cp_async_wait<0>();
  if (!active) return;
  const int32_t row0 = p.w.order[slot] * window_rows;
  Reduction::for_each(acc, lane, [&](int token, int r, float v) {
    const int32_t row = row0 + r, col = n0 + token;
    if (row < p.w.rows && col < p.n)
      Epilog::apply(p.c, static_cast<int64_t>(row) * p.c_row_stride + static_cast<int64_t>(col) * p.c_col_stride, row,
                    v, p.ep);
  });
}

}  // namespace paisparse
