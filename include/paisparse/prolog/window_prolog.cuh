// paisparse prolog policy of the gathered tensor-core SpMM path
// (kernels/spmm_window_kernel.cuh): one step of a window (format/
// window_weight.hpp) into a lane's registers.
//
//   window_step_prolog   the lane's 8 bytes of the step's weight fragment
//                        (the mma's B operand, ready to use) and the byte
//                        offset, in the staged chunk of B, of the row of B
//                        this lane points ldmatrix at: the step's column
//                        (l % 8) + 8 (l / 16), tokens 8 ((l / 8) % 2) on.
//
// The chunk of B itself is staged by b_tile_stage (prolog/tile_prolog.cuh),
// row-major: window_chunk rows of TileN tokens, each row padded by 16 bytes.
#pragma once

#include <cstdint>

#include "../format/window_weight.cuh"

namespace paisparse {

template <int BLd>
struct window_step_prolog {
  /// One step as a lane holds it.
  struct step {
    uint2 frag;
    uint32_t b_row;  // bytes from the start of the chunk's buffer
  };

  /// Loads step `s` if s < limit (else leaves zeros: never multiplied).
  __device__ __forceinline__ static void load(const window_weight_view& v, int32_t s, int32_t limit, int lane,
                                              step& out) {
    if (s < limit) {
      out.frag = __ldg(v.frags + static_cast<int64_t>(s) * 32 + lane);
      const uint32_t col = __ldg(v.offsets + static_cast<int64_t>(s) * window_step + (lane % 8) + (lane / 16) * 8);
      out.b_row = (col * BLd + ((lane / 8) % 2) * 8) * 2;
    } else {
      out.frag = make_uint2(0u, 0u);
      out.b_row = 0;
    }
  }
};

}  // namespace paisparse
