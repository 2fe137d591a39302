// paisparse reduction policy of the gathered tensor-core SpMM path: the
// register stage is the tensor core. A warp owns one window (8 rows of W)
// and TileN tokens, in TileN / 16 fp32 mma fragments (D = tokens x rows).
// Per step it reads, for each 16 tokens, the 16 gathered rows of B with one
// transposed ldmatrix (one row address per lane: the gather) and multiplies
// them by the step's weight fragment with mma.sync m16n8k16. A row's sums
// stay in those registers across all steps and chunks: no shuffle, shared
// or atomic stage follows.
#pragma once

#include <cstdint>

#include "../detail/mma.cuh"

namespace paisparse {

template <class T, int TileN>
struct window_mma_reduction {
  static_assert(TileN % 16 == 0, "window_mma_reduction: whole 16-token pieces");
  static constexpr int ti = TileN / 16;  // token pieces

  struct accumulators {
    float d[ti][4];
  };

  __device__ __forceinline__ static void clear(accumulators& acc) {
#pragma unroll
    for (int i = 0; i < ti; ++i)
#pragma unroll
      for (int e = 0; e < 4; ++e) acc.d[i][e] = 0.f;
  }

  /// acc += B(step's columns, tokens) x W(step's columns, window rows).
  /// b_row: the shared address of the row of B this lane points at (token 0
  /// of the tile, or 8 for lanes 8-15 and 24-31); frag: the step's fragment.
  __device__ __forceinline__ static void accumulate(uint32_t b_row, uint2 frag, accumulators& acc) {
#pragma unroll
    for (int i = 0; i < ti; ++i) {
      uint32_t a[4];
      detail::ldmatrix_x4_trans(a, b_row + i * 32);  // 16 tokens further: 32 bytes
      detail::mma_16816<T>(acc.d[i], a, frag.x, frag.y);
    }
  }

  /// Calls f(token, row, value) for each sum the lane owns: token within
  /// the tile, row within the window.
  template <class F>
  __device__ __forceinline__ static void for_each(const accumulators& acc, int lane, F&& f) {
#pragma unroll
    for (int i = 0; i < ti; ++i)
#pragma unroll
      for (int e = 0; e < 4; ++e) f(i * 16 + lane / 4 + (e / 2) * 8, (lane % 4) * 2 + e % 2, acc.d[i][e]);
  }
};

}  // namespace paisparse
