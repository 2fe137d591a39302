// paisparse prolog policy of the register-built tensor-core SpMM path: a
// warp's A operands come straight from the fragment weight
// (format/fragment_weight.hpp) into registers, in two dependent loads per
// 16 x 16 tile of W:
//
//   load_header   the tile's four register masks (one 16-byte load, the
//                 same address in every lane) and its first word
//   load_words    each lane's four registers: a predicated 4-byte load per
//                 register whose mask bit is set, at the place the masks'
//                 population counts give; 0 where it is not
//
// Row tiles per warp: Tiles (each its own header and registers). The
// kernel (kernels/spmm_fragment_kernel.cuh) issues headers and words
// several tiles ahead.
#pragma once

#include <cstdint>

#include "../format/fragment_weight.cuh"

namespace paisparse {

template <int Tiles>
struct fragment_prolog {
  /// One tile's masks and first word, per row tile of the warp.
  struct header {
    uint4 mask[Tiles];
    int32_t at[Tiles];
  };
  /// One tile's A registers, per row tile of the warp; any: some tile has a nonzero.
  struct operand {
    uint32_t a[Tiles][4];
    bool any;
  };

  /// Issues the header loads of tiles (row_tile0 + i, k_tile); valid false
  /// (past K or past the block's steps): empty masks, nothing read.
  __device__ __forceinline__ static void load_header(const fragment_weight_view& w, int32_t row_tile0, int32_t k_tile,
                                                     bool valid, header& h) {
#pragma unroll
    for (int i = 0; i < Tiles; ++i) {
      const bool ok = valid && row_tile0 + i < w.row_tiles;
      const int64_t t = static_cast<int64_t>(row_tile0 + i) * w.k_tiles + k_tile;
      h.mask[i] = ok ? __ldg(w.masks + t) : make_uint4(0u, 0u, 0u, 0u);
      h.at[i] = ok ? __ldg(w.word_ptr + t) : 0;
    }
  }

  /// Issues this lane's register loads for the tiles of header h.
  __device__ __forceinline__ static void load_words(const fragment_weight_view& w, const header& h, int lane,
                                                    operand& o) {
    const uint32_t below = (1u << lane) - 1u;
    bool any = false;
#pragma unroll
    for (int i = 0; i < Tiles; ++i) {
      const uint32_t m[4] = {h.mask[i].x, h.mask[i].y, h.mask[i].z, h.mask[i].w};
      int32_t at = h.at[i];
#pragma unroll
      for (int j = 0; j < 4; ++j) {
        o.a[i][j] = (m[j] >> lane) & 1u ? __ldg(w.words + at + __popc(m[j] & below)) : 0u;
        at += __popc(m[j]);
      }
      any |= (m[0] | m[1] | m[2] | m[3]) != 0u;
    }
    o.any = any;
  }
};

}  // namespace paisparse
