// paisparse register-built tensor-core SpMM kernel: W's mma operands come
// from memory straight into registers.
//
//   C = act(alpha * W B + beta * C + bias[row])
//
// W comes as a fragment weight (format/fragment_weight.hpp: per 16 x 16
// tile, the A-operand registers that hold a nonzero, and a mask per
// register). A block owns a TileM x TileN tile of C: WarpsM x WarpsK warps,
// each warp TileM / WarpsM rows (Tiles = that / 16 row tiles) and all TileN
// columns, so no two warps build the same operand. It walks K in chunks of
// TileK:
//
//   stage      the block copies B(chunk, columns) into shared memory
//              (b_tile_stage, cp.async, 3 buffers, one barrier per chunk)
//   prolog     per 16-deep slice of a chunk (a warp takes every WarpsK-th),
//              each lane loads the tile's masks (four slices ahead) and its
//              registers (two slices ahead) (prolog/fragment_prolog.cuh)
//   reduction  per slice: ldmatrix reads B's 16 x TileN piece, mma.sync
//              m16n8k16 multiplies it by the registers into fp32 sums;
//              with WarpsK > 1 the groups' sums meet in shared memory at the
//              end (reduction/mma_reduction.cuh)
//   epilog     per element, as the other kernels, through an fp32 tile in
//              shared memory where the B buffers hold one; with k splits,
//              after the blocks' workspace slices are added up
//              (detail::finish_tensor_tile)
//
// Against the dense tiles of kernels/spmm_tensor_kernel.cuh it writes no
// tile of W into shared memory, zeroes nothing and waits on no barrier for
// W; the tensor cores still multiply every 16 x 16 tile (an empty tile
// skips its slice). Like that kernel it multiplies zeros of W by B: an Inf
// or NaN in B reaches every output of its column.
//
// Rows past M and columns past N are neither read nor written (B is
// zero-filled past K and N in shared memory).
#pragma once

#include <cstdint>

#include "../epilog/linear_epilog.cuh"
#include "../format/fragment_weight.cuh"
#include "../prolog/fragment_prolog.cuh"
#include "../prolog/tile_prolog.cuh"
#include "../reduction/mma_reduction.cuh"
#include "spmm_tensor_kernel.cuh"  // tensor_operands, split_k_tables, finish_tensor_tile

namespace paisparse {

/// Everything one fragment SpMM launch reads, passed by value.
template <class T>
struct spmm_fragment_params : tensor_operands<T>, split_k_tables {
  fragment_weight_view w;
};

/// Where a block's operands lie in its dynamic shared memory: 3 buffers of
/// B; after the last chunk the reduction's shared stage reuses them.
template <class BStage, class Reduction>
struct spmm_fragment_layout {
  static constexpr int stages = 3;
  static constexpr int operand_bytes = stages * BStage::smem_elems * 2;
  static constexpr int smem_bytes = operand_bytes > Reduction::smem_bytes ? operand_bytes : Reduction::smem_bytes;
};

/// Slices a warp holds in registers ahead of the one it multiplies: masks
/// this many ahead, registers half as many.
inline constexpr int fragment_ahead = 4;

template <class Prolog, class BStage, class Reduction, class Epilog, int Threads, int TileM, int TileN, int TileK,
          int WarpsM, int WarpsK>
__global__ void __launch_bounds__(Threads) spmm_fragment_kernel(spmm_fragment_params<typename Epilog::value_type> p) {
  using T = typename Epilog::value_type;
  using layout = spmm_fragment_layout<BStage, Reduction>;
  constexpr int stages = layout::stages;
  constexpr int tiles = TileM / WarpsM / 16;        // row tiles per warp
  constexpr int slices = TileK / 16 / WarpsK;       // slices per chunk per warp
  constexpr int ahead = fragment_ahead, half = fragment_ahead / 2;
  static_assert(slices >= 1 && (slices & (slices - 1)) == 0, "spmm_fragment_kernel: a power of two of slices per chunk");
  extern __shared__ __align__(16) unsigned char smem_raw[];
  T* const b_base = reinterpret_cast<T*>(smem_raw);

  const int tid = static_cast<int>(threadIdx.x);
  const int warp = tid / 32, lane = tid % 32;
  const int group = warp / WarpsM;  // along k
  const detail::block_tile bt =
      detail::block_tile_of<TileM, TileN>(p.n_blocks, p.k_splits, (p.w.cols + TileK - 1) / TileK, p.cluster != 0);
  const int32_t n0 = bt.n0, m0 = bt.m0;
  const int32_t row_tile0 = m0 / 16 + (warp % WarpsM) * tiles;
  const int32_t c_begin = bt.step0, chunks = bt.steps;  // this block's chunks
  const int32_t steps = chunks * slices;                               // this warp's slices
  const bool vec = p.b_vector != 0;
  const int64_t b_offset = BStage::thread_offset(p.ldb, n0, tid);

  auto b_buf = [&](int32_t c) { return b_base + (c % stages) * BStage::smem_elems; };
  auto stage_b = [&](int32_t c) {  // one commit group per chunk (empty past the last)
    if (c < chunks) BStage::stage_at(b_buf(c), p.b, p.ldb, b_offset, (c_begin + c) * TileK, n0, p.w.cols, p.n, vec, tid);
    detail::cp_async_commit();
  };
  // this warp's slice u is k tile kt0 + u * WarpsK (chunk u / slices, slice u % slices of it)
  const int32_t kt0 = c_begin * (TileK / 16) + group;
  auto header = [&](int32_t u, typename Prolog::header& h) {
    const int32_t kt = kt0 + u * WarpsK;
    Prolog::load_header(p.w, row_tile0, kt, u < steps && kt < p.w.k_tiles, h);
  };

  typename Reduction::accumulators acc;
  Reduction::clear(acc);
  typename Prolog::header h[ahead];
  typename Prolog::operand a[ahead];
#pragma unroll
  for (int u = 0; u < ahead; ++u) header(u, h[u]);
#pragma unroll
  for (int u = 0; u < half; ++u) Prolog::load_words(p.w, h[u], lane, a[u]);
  detail::wait_for_inputs();  // B may come from the previous kernel
#pragma unroll
  for (int c = 0; c + 1 < stages; ++c) stage_b(c);
  const T* b_chunk = b_base;  // the chunk being multiplied

  // Slice u, ring place r = u % ahead (static: the loop is unrolled by
  // `ahead`): a new chunk waits for its B and passes the block's barrier;
  // the registers of slice u + half are issued (their masks arrived during
  // the last `half` slices), then the masks of slice u + ahead, then slice
  // u is multiplied.
  for (int32_t u0 = 0; u0 < steps; u0 += ahead) {
#pragma unroll
    for (int r = 0; r < ahead; ++r) {
      const int32_t u = u0 + r;
      // u % slices, known at compile time when a chunk's slices divide `ahead` (u0 is a multiple of it)
      const int q = (slices <= ahead ? r : u) % slices;
      if (q == 0 && u < steps) {
        detail::cp_async_wait<stages - 2>();  // this thread's part of the chunk
        __syncthreads();  // all of it is in place; every warp is done with the chunk before
        stage_b(u / slices + stages - 1);  // into that chunk's buffer
        b_chunk = b_buf(u / slices);
      }
      Prolog::load_words(p.w, h[(r + half) % ahead], lane, a[(r + half) % ahead]);
      header(u + ahead, h[r]);
      if (u < steps && a[r].any)
        Reduction::template multiply<BStage::ld>(a[r].a, b_chunk, (q * WarpsK + group) * 16, warp, lane, acc);
    }
  }
  // the epilog through a staged fp32 tile where the operands' space holds
  // one, else from the registers
  detail::finish_tensor_block<Reduction, Epilog, TileM, TileN, layout::smem_bytes>(acc, smem_raw, p, p, p.w.rows, bt,
                                                                                   warp, lane, tid);
}

}  // namespace paisparse
