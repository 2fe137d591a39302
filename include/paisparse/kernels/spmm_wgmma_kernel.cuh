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
// the multiply and who builds the tiles. The block is warp-specialized:
//
//   - one warpgroup (4 warps) per 64 rows of C multiplies: per k step it
//     waits for the step's stage ("full" mbarrier), issues one asynchronous
//     wgmma per 16-deep slice that reads both tiles from shared memory, and
//     once the previous step's multiplies are done rezeroes its rows of that
//     step's W tile and frees the stage ("empty"; with four stages or more
//     a step later, when the rezeroing's stores are surely done);
//   - two more warpgroups, the producers, take turns over the steps. A
//     producer has the copy engine fetch its steps' operands ahead: B's
//     tile by TMA (completing on "full") a step or two ahead, as far as the
//     stages allow; the tile's packed words by one bulk copy (completing on
//     "landed") into a ring of words buffers of their own, several steps
//     further ahead, since they come from HBM and wait for no multiply. It
//     scatters a step's words into its W tile and arrives on "full".
//
// So the build's latencies overlap across steps instead of adding up within
// each, and no thread issues the copies piece by piece (which is what held
// a build with cp.async: docs/PERFORMANCE.md). Where B is not 16-byte
// aligned (or its ld not a multiple of 8) the TMA cannot read it and the
// producer's threads copy its tiles element by element into the same
// layout. Three to six stages and up to 16 words buffers, as many as the
// block's share of an SM's shared memory holds (spmm_wgmma_layout). A k
// step is 64 deep or a multiple (B's tile in pieces of 64, one TMA copy
// each): deeper steps halve the handshakes per multiply.
//
//   Prolog     (prolog/tile_prolog.cuh)        tile_copy_prolog: packed words
//                                              -> dense W tile in core
//                                              matrices; b_swizzle_stage: B
//                                              tile, 128-byte swizzle
//   Reduction  (reduction/wgmma_reduction.cuh) wgmma, sums in fp32
//                                              registers across k steps
//   Epilog     (epilog/linear_epilog.cuh)      per element, as the others;
//                                              the sums go through an fp32
//                                              tile in shared memory first,
//                                              walked in C's order by one
//                                              loop (with k splits: through
//                                              the workspace slices too, or
//                                              shared by a cluster's blocks)
//
// Every k step is multiplied, even one whose W tile is empty: skipping it
// takes a branch the compiler cannot see to be uniform over the warpgroup,
// and ptxas then serializes every wgmma (so does a role taken from
// threadIdx.x without a shuffle).
//
// Column-major B only (the LLM layout, X along K: B's columns are K-major,
// as wgmma reads them); row-major B goes to the other kernels. Built for
// sm_90a only: compiled for another target the kernel traps, and the
// registry lists it only where a probe finds sm_90a code
// (tuning/spmm_registry.cuh: detail::wgmma_compiled).
#pragma once

#include <cuda.h>

#include <cuda/ptx>
#include <cstdint>

#include "../detail/dependent_launch.cuh"
#include "../detail/wgmma.cuh"
#include "spmm_tensor_kernel.cuh"

namespace paisparse {

namespace detail {
/// Waits until Threads threads (whole warps) have reached named barrier Id
/// (1..15; 0 is __syncthreads'), ordering their shared-memory accesses.
template <int Id, int Threads>
__device__ __forceinline__ void named_barrier_sync() {
  asm volatile("bar.sync %0, %1;" ::"n"(Id), "n"(Threads) : "memory");
}
}  // namespace detail

/// Blocks an SM the spmm.wg kernels are built for (__launch_bounds__): two
/// for 64 rows and up to 64 columns in steps of up to 128, whose sums leave
/// registers to spare, and for 128 x 64 in steps of 64 (64 registers a
/// thread; its k128 tiles do not fit two blocks' shared memory, nor do
/// three stages of the 64-row k256 ones). Two blocks hide each other's
/// step latency: on the H100 the 128 x 64 k64 block went from 71.7 to
/// 58.5 us on 11008x4096 at 90%, N = 128, where the best one-block shape
/// took 66.3 us (docs/PERFORMANCE.md, "Two 128 x 64 blocks an SM").
template <int TileM, int TileN, int TileK>
inline constexpr int spmm_wgmma_min_blocks =
    (TileM == 64 && TileN <= 64 && TileK <= 128) || (TileM == 128 && TileN == 64 && TileK == 64) ? 2 : 1;

/// Where a block's buffers lie in its dynamic shared memory, from a
/// 1024-byte boundary (the swizzled B tiles need it; the launch asks 1024
/// bytes more to find one): per stage a B tile, then per stage a W tile,
/// then the ring of words buffers, then the barriers (two per stage, one
/// per words buffer). The words come from HBM and wait for nothing but
/// their own buffer, so they get a ring of their own, deeper than the
/// stages. The budget: about half an SM's shared memory where two blocks
/// share an SM (spmm_wgmma_min_blocks); where one block has it (its
/// registers allow no more), all of the 227 KiB a block may have on the
/// H100 but for the barriers and the alignment. Stages: as many as leave
/// room for `reserve` words buffers per producer, 3 to 6 (two producers
/// need 3); words buffers: what the stages leave, a multiple of Producers,
/// at most 16. With an SM to itself a block favours stages, keeping words
/// buffers for 128 of K a producer (2 in steps of 64, 1 in deeper steps;
/// 4 with two blocks an SM, as before); in steps of 256 it takes no more
/// than that one buffer a producer, whatever room the stages leave (more
/// made the 64 x 32 k256 block 0.5-2% slower in one comparison and no
/// faster in another, and the larger carve-out leaves the SM less L1). On
/// the H100, at 90%: the 192 x 128 block went from 36.0 to 33.8 us on
/// 11008x4096, N = 128, with 4 stages and 4 words buffers instead of 3 and
/// 6; 128 x 128 k64 gained 1-2% with
/// 5 stages and 6 buffers instead of 4 and 8 (and lost 10-15% with 6 and
/// 2); 64 x 128 k128 went from 18.7 to 17.5 us on 4096x4096, N = 128, with
/// 4 stages and 2 buffers instead of 3 and 8; 64 x 16 k256 from 13.7 to
/// 12.9 us there at N = 8, likewise (docs/PERFORMANCE.md, "A 192-row
/// block").
template <class WProlog, class BStage, int TileM, int Producers>
struct spmm_wgmma_layout {
  static constexpr int a_bytes = WProlog::smem_elems * 2, b_bytes = BStage::smem_elems * 2;
  static constexpr int stage_bytes = a_bytes + b_bytes, word_bytes = WProlog::word_bytes;
  static constexpr int blocks = spmm_wgmma_min_blocks<TileM, BStage::tile_n, BStage::tile_k>;
  static constexpr int budget = (blocks == 2 ? 112 : 220) * 1024;
  static constexpr int reserve = blocks == 2 ? 4 : BStage::tile_k >= 128 ? 1 : 128 / BStage::tile_k;
  static constexpr int fit = (budget - reserve * Producers * word_bytes) / stage_bytes;
  static constexpr int stages = fit > 6 ? 6 : fit < 3 ? 3 : fit;
  static constexpr int slots_fit = (budget - stages * stage_bytes) / word_bytes / Producers * Producers;
  static constexpr int slots_cap = blocks == 1 && BStage::tile_k >= 256 ? reserve * Producers : 16;
  static constexpr int word_slots = slots_fit > slots_cap ? slots_cap : slots_fit < Producers ? Producers : slots_fit;
  static constexpr int b_offset = 0, a_offset = stages * b_bytes, words_offset = a_offset + stages * a_bytes;
  static constexpr int barrier_offset = words_offset + word_slots * word_bytes;
  static constexpr int smem_bytes = barrier_offset + (2 * stages + word_slots) * 8 + 1024;
  static_assert(b_bytes % 1024 == 0 && a_bytes % 16 == 0 && word_bytes % 16 == 0,
                "spmm_wgmma_layout: B tiles of whole swizzle atoms, 16-byte buffers");
  static_assert(stages * stage_bytes + word_slots * word_bytes <= budget,
                "spmm_wgmma_layout: the tiles need more shared memory than the budget");
};

/// Producers: the producer warpgroups (each builds every Producers-th step).
/// b_map: B as a TMA tensor map (K x N, 64 x TileN boxes, 128-byte swizzle)
/// where p.b_vector, else unused.
template <class WProlog, class BStage, class Reduction, class Epilog, int Threads, int TileM, int TileN, int TileK,
          int Producers>
__global__ void __launch_bounds__(Threads, (spmm_wgmma_min_blocks<TileM, TileN, TileK>))
    spmm_wgmma_kernel(spmm_tensor_params<typename Epilog::value_type> p, const __grid_constant__ CUtensorMap b_map) {
#if PAISPARSE_WGMMA_CODE
  using T = typename Epilog::value_type;
  using layout = spmm_wgmma_layout<WProlog, BStage, TileM, Producers>;
  constexpr int stages = layout::stages, word_slots = layout::word_slots;
  // a producer's own steps whose B copies are in flight ahead of its
  // scatter: with four stages and more, all but two stages' worth, so that
  // it waits for the multiply two steps back, not the one running (its
  // words run word_slots / Producers of its steps ahead)
  constexpr int ahead = stages >= 4 ? ((stages - 2) / Producers > 0 ? (stages - 2) / Producers : 1)
                                    : ((stages - 1) / Producers > 0 ? (stages - 1) / Producers : 1);
  static_assert(ahead * Producers <= stages - 1, "spmm_wgmma_kernel: too few stages for the producers");
  static_assert(Producers == 1 || Producers == 2, "spmm_wgmma_kernel: one or two producers (a named barrier each)");
  constexpr int consumers = Reduction::warpgroups * 128;
  static_assert(Threads == consumers + 128 * Producers,
                "spmm_wgmma_kernel: the producer warpgroups after the multiplying ones");
  extern __shared__ __align__(16) unsigned char smem_dyn[];
  unsigned char* const smem = smem_dyn + (1024 - detail::shared_address(smem_dyn) % 1024) % 1024;
  auto a_buf = [&](int32_t s) { return reinterpret_cast<T*>(smem + layout::a_offset + (s % stages) * layout::a_bytes); };
  auto b_buf = [&](int32_t s) { return reinterpret_cast<T*>(smem + layout::b_offset + (s % stages) * layout::b_bytes); };
  auto words_buf = [&](int32_t s) {
    return reinterpret_cast<uint32_t*>(smem + layout::words_offset + (s % word_slots) * layout::word_bytes);
  };
  uint64_t* const full = reinterpret_cast<uint64_t*>(smem + layout::barrier_offset);  // operands in place
  uint64_t* const empty = full + stages;  // multiplied, W rows rezeroed
  uint64_t* const landed = empty + stages;  // per words buffer: its bulk copy is in

  const int tid = static_cast<int>(threadIdx.x);
  const int warp = tid / 32, lane = tid % 32;
  const detail::block_tile bt =
      detail::block_tile_of<TileM, TileN>(p.n_blocks, p.k_splits, p.w.k_tiles, p.cluster != 0);
  const int32_t row_block = bt.row_block, n0 = bt.n0;
  const int32_t s_begin = bt.step0, k_tiles = bt.steps;  // this block's steps
  const int64_t tile0 = static_cast<int64_t>(row_block) * p.w.k_tiles + s_begin;
  auto wait = [](uint64_t* bar, int32_t use) {  // for the use-th phase of a stage's barrier to complete
    while (!cuda::ptx::mbarrier_try_wait_parity(bar, static_cast<uint32_t>(use) & 1u)) {
    }
  };

  for (int32_t s = 0; s < stages; ++s) WProlog::zero(a_buf(s), tid, Threads);
  if (tid == 0) {
    for (int i = 0; i < stages; ++i) {
      cuda::ptx::mbarrier_init(full + i, 128);  // a producer warpgroup's threads (and B's bytes by TMA)
      cuda::ptx::mbarrier_init(empty + i, consumers);
    }
    for (int i = 0; i < word_slots; ++i) cuda::ptx::mbarrier_init(landed + i, 1);
  }
  __syncthreads();  // zeroed, barriers set up

  typename Reduction::accumulators acc;
  Reduction::clear(acc);
  // the role, warp-uniform to the compiler (else ptxas serializes the wgmma)
  const int role = __shfl_sync(0xffffffffu, tid / 128, 0);
  if (role >= Reduction::warpgroups) {  // a producer warpgroup: its steps' copies ahead, then their scatter
    const int ptid = tid % 128, first = role - Reduction::warpgroups;
    const bool tma = p.b_vector != 0;  // B and ldb 16-byte aligned
    auto copy_words = [&](int32_t s) {  // step s's words into their buffer (free: see the loop)
      if (s < k_tiles && ptid == 0) WProlog::copy(p.w, tile0 + s, words_buf(s), landed + s % word_slots);
    };
    auto copy_b = [&](int32_t s) {  // step s's B tile, once the step that used its stage before is multiplied
      if (s < k_tiles) {
        if (s >= stages) wait(empty + s % stages, s / stages - 1);
        if (tma) {
          if (ptid == 0) BStage::copy_tma(b_buf(s), b_map, (s_begin + s) * TileK, n0, full + s % stages);
        } else {
          BStage::stage(b_buf(s), p.b, p.ldb, (s_begin + s) * TileK, n0, p.w.cols, p.n, ptid);
        }
      }
    };
    if (k_tiles > 0) detail::wait_for_inputs();  // B may come from the previous kernel
    for (int32_t j = 0; j < word_slots / Producers; ++j) copy_words(first + j * Producers);
    for (int32_t j = 0; j < ahead; ++j) copy_b(first + j * Producers);
    for (int32_t s = first; s < k_tiles; s += Producers) {
      wait(landed + s % word_slots, s / word_slots);
      // step s's W tile is free and zeroed: copy_b(s) waited for the step before it
      WProlog::scatter(p.w, tile0 + s, words_buf(s), a_buf(s), ptid);
      detail::fence_async_shared();  // this thread's writes of step s's operands, for the tensor cores
      cuda::ptx::mbarrier_arrive(full + s % stages);
      // the warpgroup is done reading step s's words (a barrier per producer)
      if (first == 0) detail::named_barrier_sync<1, 128>();
      else detail::named_barrier_sync<2, 128>();
      copy_words(s + word_slots);
      copy_b(s + ahead * Producers);
    }
  } else {  // the multiplying warpgroups
    const int group = warp / 4, gtid = tid % 128;
    // With four stages and more a stage is freed a step after its W rows
    // are rezeroed: the proxy fence then finds those stores done instead of
    // waiting for them (where Nsight Compute found these warpgroups
    // stalled). A producer, ahead by at most stages - 2 steps, then waits
    // only for a release that steps it has already built lead to (no
    // deadlock). With three stages the stage held back costs more than the
    // fence did; there it is freed at once.
    constexpr bool late_free = stages >= 4;
    static_assert(!late_free || ahead * Producers <= stages - 2, "spmm_wgmma_kernel: no slack to free a step late");
    auto free_stage = [&](int32_t s) {  // step s's W rows are rezeroed: its stage goes back to the producers
      detail::fence_async_shared();
      cuda::ptx::mbarrier_arrive(empty + s % stages);
    };
    for (int32_t s = 0; s < k_tiles; ++s) {
      wait(full + s % stages, s / stages);
      Reduction::issue(a_buf(s), b_buf(s), warp, acc);
      if (late_free && s > 1) free_stage(s - 2);  // rezeroed a step ago
      if (s > 0) {  // step s - 1's multiplies are done: rezero its W rows, free its buffers (or a step later)
        Reduction::template wait<1>(acc);
        WProlog::zero_rows(a_buf(s - 1), group, gtid);
        if (!late_free) free_stage(s - 1);
      }
    }
    Reduction::template wait<0>(acc);
  }
  // the epilog through an fp32 tile where the stages were (before the barriers)
  static_assert(detail::staged_tile_bytes<TileM, TileN> <= layout::barrier_offset,
                "spmm_wgmma_kernel: no room to stage the sums");
  detail::finish_tensor_tile<Reduction, Epilog, TileM, TileN>(acc, smem, p, p, p.w.rows, bt, warp, lane, tid);
#else
  (void)p;
  (void)b_map;
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
