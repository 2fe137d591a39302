// paisparse reduction policy of the tensor-core SpMM path: the register
// stage is the tensor core itself. Each warp owns a (TileM / WarpsM) x
// (TileN / WarpsN) block of C in fp32 mma fragments; per k step it reads
// its 16 x 16 pieces of W and 16 x 8 pieces of B from shared memory with
// ldmatrix and accumulates with mma.sync m16n8k16. A row's partial sums
// across k steps stay in those registers, so no shuffle stage follows.
//
// WarpsK > 1 gives each block of C that many warps, each multiplying every
// WarpsK-th 16-deep slice of a k step (more warps to hide latency without
// more shared operands). Their sums then go through the shared-memory
// stage: combine() adds them into the group-0 warp, which owns the output.
#pragma once

#include <cstdint>

#include "../detail/mma.cuh"

namespace paisparse {

template <class T, int TileM, int TileN, int TileK, int WarpsM, int WarpsN, bool BRowMajor, int WarpsK = 1>
struct mma_reduction {
  static constexpr int warp_m = TileM / WarpsM, warp_n = TileN / WarpsN;
  static constexpr int mi = warp_m / 16;  // 16-row fragments per warp
  static constexpr int ni = warp_n / 8;   // 8-column fragments per warp
  static_assert(TileM % (16 * WarpsM) == 0, "mma_reduction: TileM must split into 16-row pieces per warp");
  static_assert(TileN % (16 * WarpsN) == 0, "mma_reduction: TileN must split into 16-column pieces per warp");
  static_assert(TileK % (16 * WarpsK) == 0, "mma_reduction: TileK must split into 16-deep slices per warp group");
  static constexpr int slices = TileK / 16 / WarpsK;  // 16-deep slices per k step per warp
  /// Shared memory combine() needs, bytes (0 with one group along k).
  static constexpr int smem_bytes = (WarpsK - 1) * TileM * TileN * 4;

  struct accumulators {
    float d[mi][ni][4];
  };

  /// Where the block of C that warp `warp` multiplies starts in the tile
  /// (the warps of every group along k share it).
  __device__ __forceinline__ static int origin_row(int warp) { return (warp % WarpsM) * warp_m; }
  __device__ __forceinline__ static int origin_col(int warp) { return (warp / WarpsM % WarpsN) * warp_n; }

  __device__ __forceinline__ static void clear(accumulators& acc) {
#pragma unroll
    for (int i = 0; i < mi; ++i)
#pragma unroll
      for (int j = 0; j < ni; ++j)
#pragma unroll
        for (int e = 0; e < 4; ++e) acc.d[i][j][e] = 0.f;
  }

  /// acc += W tile (shared, TileM rows of a_ld) x B tile (shared, see
  /// prolog/tile_prolog.cuh: b_tile_stage) over one k step.
  template <int ALd, int BLd>
  __device__ __forceinline__ static void accumulate(const T* a, const T* b, int warp, int lane, accumulators& acc) {
    const int row0 = origin_row(warp);
    const int group = warp / (WarpsM * WarpsN);  // along k
#pragma unroll
    for (int q = 0; q < slices; ++q) {
      const int kk = (q * WarpsK + group) * 16;
      uint32_t af[mi][4];
#pragma unroll
      for (int i = 0; i < mi; ++i)  // matrices: rows 0-7 / 8-15 at k, then at k + 8
        detail::ldmatrix_x4(af[i],
                            detail::shared_address(a + (row0 + i * 16 + lane % 16) * ALd + kk + (lane / 16) * 8));
      multiply<BLd>(af, b, kk, warp, lane, acc);
    }
  }

  /// acc += A (the warp's mi 16 x 16 pieces of W at columns kk..kk + 15 of
  /// the step, as mma fragments in registers) x B's rows kk..kk + 15 (shared,
  /// see b_tile_stage).
  template <int BLd>
  __device__ __forceinline__ static void multiply(const uint32_t (&af)[mi][4], const T* b, int kk, int warp, int lane,
                                                  accumulators& acc) {
    const int col0 = origin_col(warp);
    uint32_t bf[ni][2];
#pragma unroll
    for (int j = 0; j < ni; j += 2) {  // two 8-column fragments per ldmatrix
      uint32_t r[4];
      if constexpr (BRowMajor) {  // rows k, columns n: transposed reads
        detail::ldmatrix_x4_trans(r, detail::shared_address(b + (kk + lane % 8 + ((lane / 8) % 2) * 8) * BLd + col0 +
                                                            j * 8 + (lane / 16) * 8));
      } else {  // rows n, columns k
        detail::ldmatrix_x4(r, detail::shared_address(b + (col0 + j * 8 + lane % 8 + (lane / 16) * 8) * BLd + kk +
                                                      ((lane / 8) % 2) * 8));
      }
      bf[j][0] = r[0], bf[j][1] = r[1], bf[j + 1][0] = r[2], bf[j + 1][1] = r[3];
    }
#pragma unroll
    for (int i = 0; i < mi; ++i)
#pragma unroll
      for (int j = 0; j < ni; ++j) detail::mma_16816<T>(acc.d[i][j], af[i], bf[j][0], bf[j][1]);
  }

  /// With WarpsK > 1: adds the sums of the warps of groups 1.. along k into
  /// the group-0 warp of the same block of C, through `smem` (smem_bytes,
  /// free for reuse: the caller has passed a barrier after the last
  /// accumulate). Called by every thread of the block; no-op otherwise.
  __device__ __forceinline__ static void combine(accumulators& acc, float* smem, int warp, int lane) {
    if constexpr (WarpsK > 1) {
      constexpr int per_warp = mi * ni * 4 * 32;  // floats of one warp's sums
      const int group = warp / (WarpsM * WarpsN), spot = warp % (WarpsM * WarpsN);
      if (group > 0) {
        float* out = smem + ((group - 1) * WarpsM * WarpsN + spot) * per_warp + lane;
#pragma unroll
        for (int i = 0; i < mi; ++i)
#pragma unroll
          for (int j = 0; j < ni; ++j)
#pragma unroll
            for (int e = 0; e < 4; ++e) out[((i * ni + j) * 4 + e) * 32] = acc.d[i][j][e];
      }
      __syncthreads();
      if (group == 0)
#pragma unroll 1
        for (int g = 1; g < WarpsK; ++g) {
          const float* in = smem + ((g - 1) * WarpsM * WarpsN + spot) * per_warp + lane;
#pragma unroll
          for (int i = 0; i < mi; ++i)
#pragma unroll
            for (int j = 0; j < ni; ++j)
#pragma unroll
              for (int e = 0; e < 4; ++e) acc.d[i][j][e] += in[((i * ni + j) * 4 + e) * 32];
        }
    }
  }

  /// Calls f(row, col, value) for each sum this lane owns, (row, col)
  /// relative to the block's tile of C: the warps of group 0 along k own
  /// the block's sums (after combine()); the others call nothing.
  template <class F>
  __device__ __forceinline__ static void for_each(const accumulators& acc, int warp, int lane, F&& f) {
    if (WarpsK > 1 && warp >= WarpsM * WarpsN) return;
    const int row0 = origin_row(warp) + lane / 4, col0 = origin_col(warp) + (lane % 4) * 2;
#pragma unroll
    for (int i = 0; i < mi; ++i)
#pragma unroll
      for (int j = 0; j < ni; ++j)
#pragma unroll
        for (int e = 0; e < 4; ++e) f(row0 + i * 16 + (e / 2) * 8, col0 + j * 8 + e % 2, acc.d[i][j][e]);
  }
};

}  // namespace paisparse
