// paisparse reduction policy of the spmm.wg kernels: the register stage is
// the tensor core, driven by a whole warpgroup (4 warps) at once. Each
// warpgroup owns 64 rows x TileN columns of C in fp32 registers (TileN / 2
// per thread); per k step it issues one asynchronous wgmma per 16-deep slice,
// reading W's tile (core matrices) and B's tile (128-byte swizzle) straight
// from shared memory (prolog/tile_prolog.cuh), and waits for them only a
// step later. No ldmatrix, no per-warp fragments of the operands.
//
// A row's partial sums across k steps stay in those registers; no shuffle
// or shared stage follows (split K adds the blocks' sums up through
// workspace slices, or over a cluster's shared memory:
// detail::finish_tensor_tile).
#pragma once

#include <cstdint>

#include "../detail/mma.cuh"
#include "../detail/wgmma.cuh"

namespace paisparse {

template <class T, int TileM, int TileN, int TileK>
struct wgmma_reduction {
  static_assert(TileM % 64 == 0, "wgmma_reduction: 64 rows per warpgroup");
  static_assert(TileN == 16 || TileN == 32 || TileN == 64 || TileN == 128, "wgmma_reduction: N of 16, 32, 64 or 128");
  static_assert(TileK % 16 == 0, "wgmma_reduction: whole 16-deep slices");
  static constexpr int warpgroups = TileM / 64;  // multiplying warpgroups, the block's first
  static constexpr int regs = TileN / 2;  // sums per thread
  static constexpr int smem_bytes = 0;    // no shared stage
  // W: core matrices of 128 bytes; along K they follow one another, along
  // M a row of TileK / 8 of them lies between. B: per 64 of K a piece of
  // 128-byte rows with the 128-byte swizzle (prolog/tile_prolog.cuh:
  // b_swizzle_stage), 8-row atoms 1024 bytes apart along N
  static constexpr uint32_t lbo = 128, sbo = TileK / 8 * 128;
  static constexpr uint64_t b_swizzle_128 = uint64_t{1} << 62;

  struct accumulators {
    float d[regs];
  };

  __device__ __forceinline__ static void clear(accumulators& acc) {
#pragma unroll
    for (int i = 0; i < regs; ++i) acc.d[i] = 0.f;
  }

  /// Issues acc += W tile (shared, core matrices, TileM x TileK) x B tile
  /// (shared, core matrices, TileN x TileK) over one k step, asynchronously:
  /// one commit group; wait() before reading acc or reusing either buffer.
  /// Shared writes of the operands must be fenced for the async proxy and
  /// behind a barrier first.
  __device__ __forceinline__ static void issue(const T* a, const T* b, int warp, accumulators& acc) {
    const int group = warp / 4;
    const uint32_t a0 = detail::shared_address(a + group * 64 * TileK);
    const uint32_t b0 = detail::shared_address(b);
    detail::wgmma_fence();
#pragma unroll
    for (int q = 0; q < TileK / 16; ++q)  // a 16-deep slice: 2 core matrices of W along K, 32 bytes of a B row
      detail::wgmma<T, TileN>(acc.d, detail::wgmma_desc(a0 + q * 256, lbo, sbo),
                              detail::wgmma_desc(b0 + (q / 4) * TileN * 128 + (q % 4) * 32, 16, 1024) | b_swizzle_128);
    detail::wgmma_commit();  // no instruction may touch acc until wait(): the compiler would wait first
  }

  /// Waits until at most `Pending` of this warpgroup's commit groups (the
  /// latest) are still multiplying.
  template <int Pending = 0>
  __device__ __forceinline__ static void wait(accumulators& acc) {
    detail::wgmma_wait<Pending>();
    detail::wgmma_pin(acc.d);
  }

  /// No shared stage: the warpgroups own disjoint rows.
  __device__ __forceinline__ static void combine(accumulators&, float*, int, int) {}

  /// Calls f(row, col, value) for each sum this lane owns, (row, col)
  /// relative to the block's tile of C: per 8 columns j, the mma.sync
  /// accumulator layout of the warp's 16 rows.
  /// Warps past the multiplying warpgroups (the kernel's producers) own none.
  template <class F>
  __device__ __forceinline__ static void for_each(const accumulators& acc, int warp, int lane, F&& f) {
    if (warp >= warpgroups * 4) return;
    const int row0 = (warp / 4) * 64 + (warp % 4) * 16 + lane / 4, col0 = (lane % 4) * 2;
#pragma unroll
    for (int i = 0; i < regs; ++i) f(row0 + ((i % 4) / 2) * 8, col0 + (i / 4) * 8 + i % 2, acc.d[i]);
  }
};

}  // namespace paisparse
