// paisparse warpgroup tensor-core SpMM kernel (spmm.wg, sm_90a): "load
// sparse, compute dense" with the multiply running beside the tile build.
//
//   C = act(alpha * W B + beta * C + bias[row])
//
// The same plan as kernels/spmm_tensor_kernel.cuh (spmm.tc): a block owns a
// TileM x TileN tile of C and walks K in steps of TileK, building each
// step's dense TileM x TileK piece of W in shared memory from the packed
// nonzeros and staging B's TileK x TileN piece beside it; split K and the
// epilog are shared with it (detail::finish_tensor_tile). What differs is
// the multiply: one warpgroup (4 warps) per 64 rows issues asynchronous
// wgmma instructions that read both operands from shared memory, so no
// thread spends issue slots on ldmatrix or per-warp mma fragments, and the
// block builds step s + 1's W tile while the tensor cores multiply step s.
//
//   Prolog     (prolog/tile_prolog.cuh)        packed nonzeros -> dense W
//                                              tile in core matrices;
//                                              B tile via cp.async, likewise
//   Reduction  (reduction/wgmma_reduction.cuh) wgmma, sums in fp32
//                                              registers across k steps
//   Epilog     (epilog/linear_epilog.cuh)      per element, as the others
//
// Step s, behind one barrier: each thread's copies of step s's operands are
// fenced for the tensor cores (async proxy), step s - 1's multiplies are
// waited for (their buffers are then free), the barrier; then step s's
// multiplies are issued, B of step s + 2 is copied into the freed buffer,
// step s + 1's nonzeros are scattered into its zeroed buffer, step s + 2's
// words are loaded and its buffer zeroed. Three buffers of each operand.
//
// Column-major B only (the LLM layout, X along K: B's columns are K-major,
// as wgmma reads them); row-major B goes to the other kernels. Built for
// sm_90a only: compiled for another target the kernel traps, and the
// registry lists it only where a probe finds sm_90a code
// (tuning/spmm_registry.cuh: detail::wgmma_compiled).
#pragma once

#include <cstdint>

#include "../detail/dependent_launch.cuh"
#include "../detail/wgmma.cuh"
#include "spmm_tensor_kernel.cuh"

namespace paisparse {

template <class WProlog, class BStage, class Reduction, class Epilog, int Threads, int TileM, int TileN, int TileK>
__global__ void __launch_bounds__(Threads) spmm_wgmma_kernel(spmm_tensor_params<typename Epilog::value_type> p) {
#if PAISPARSE_WGMMA_CODE
  using T = typename Epilog::value_type;
  using layout = spmm_tensor_layout<WProlog, BStage, Reduction>;
  constexpr int stages = layout::stages;
  extern __shared__ __align__(16) unsigned char smem_raw[];
  T* const a_base = reinterpret_cast<T*>(smem_raw);
  T* const b_base = a_base + stages * layout::a_elems;

  const int tid = static_cast<int>(threadIdx.x);
  const int warp = tid / 32, lane = tid % 32;
  const detail::block_tile bt = detail::block_tile_of<TileM, TileN>(p.n_blocks, p.k_splits, p.w.k_tiles);
  const int32_t n_block = bt.n_block, row_block = bt.row_block, n0 = bt.n0, m0 = bt.m0;
  const int32_t s_begin = bt.step0, k_tiles = bt.steps;  // this block's steps
  const int64_t tile0 = static_cast<int64_t>(row_block) * p.w.k_tiles + s_begin;
  const bool vec = p.b_vector != 0;
  const int64_t b_offset = BStage::thread_offset(p.ldb, n0, tid);

  auto a_buf = [&](int32_t s) { return a_base + (s % stages) * layout::a_elems; };
  auto b_buf = [&](int32_t s) { return b_base + (s % stages) * layout::b_elems; };
  auto stage_b = [&](int32_t s) {  // one commit group per step, empty past the last
    if (s < k_tiles)
      BStage::stage_at(b_buf(s), p.b, p.ldb, b_offset, (s_begin + s) * TileK, n0, p.w.cols, p.n, vec, tid);
    detail::cp_async_commit();
  };

  typename Reduction::accumulators acc;
  Reduction::clear(acc);
  typename WProlog::staged words;  // the next step's packed nonzeros
  bool full = false;               // the step's W tile holds a nonzero (known when it is scattered)
  if (k_tiles > 0) {
    WProlog::load(p.w, tile0, tid, words);
    WProlog::zero(a_buf(0), tid);
    if (k_tiles > 1) WProlog::zero(a_buf(1), tid);
    detail::wait_for_inputs();  // B may come from the previous kernel
    stage_b(0);
    stage_b(1);
    __syncthreads();  // zeroed
    WProlog::scatter(p.w, words, a_buf(0), tid);
    full = words.end != words.begin;
    if (k_tiles > 1) WProlog::load(p.w, tile0 + 1, tid, words);
  }
  for (int32_t s = 0; s < k_tiles; ++s) {
    detail::cp_async_wait<1>();    // this thread's part of B for step s
    detail::fence_async_shared();  // its writes of step s's operands, for the tensor cores
    Reduction::wait(acc);          // step s - 1's multiplies: its buffers are free after the barrier
    __syncthreads();
    if (full) Reduction::issue(a_buf(s), b_buf(s), warp, acc);
    stage_b(s + 2);
    if (s + 1 < k_tiles) {
      WProlog::scatter(p.w, words, a_buf(s + 1), tid);
      full = words.end != words.begin;
      if (s + 2 < k_tiles) {
        WProlog::load(p.w, tile0 + s + 2, tid, words);
        WProlog::zero(a_buf(s + 2), tid);
      }
    }
  }
  Reduction::wait(acc);
  detail::finish_tensor_tile<Reduction, Epilog>(acc, smem_raw, p, p, p.w.rows, row_block, n_block, m0, n0,
                                                k_tiles > 0, warp, lane, tid);
#else
  (void)p;
  __trap();
#endif
}

/// Writes 1 to *out where the code runs compiled for sm_90a (the spmm.wg
/// kernels work), else 0. (A template: one definition however many
/// translation units include this header.)
template <int = 0>
__global__ void spmm_wgmma_probe_kernel(int* out) {
  *out = PAISPARSE_WGMMA_CODE;
}

}  // namespace paisparse
