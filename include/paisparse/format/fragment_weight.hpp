// paisparse format (host side): the fragment weight of the register-built
// tensor-core SpMM path (kernels/spmm_fragment_kernel.cuh).
//
// W is cut into 16 x 16 tiles. A warp multiplies a tile with mma.sync
// m16n8k16, whose A operand (row-major) every lane holds in four 32-bit
// registers: register j of lane l holds
//
//   W(r, c) (low half) and W(r, c + 1) (high half),
//   r = 8 (j % 2) + l / 4,  c = 8 (j / 2) + 2 (l % 4)
//
// The weight stores each tile as those registers, but only the ones that
// hold a nonzero ("words"), with one 32-bit mask per register j whose bit l
// says whether lane l's register j is stored. A tile's words are register
// 0's (lanes in ascending order), then 1's, 2's, 3's, from word_ptr[t]; so
// lane l finds its register j at
//
//   word_ptr[t] + popc(mask[0]) + .. + popc(mask[j - 1]) + popc(mask[j] & ((1 << l) - 1))
//
// and builds the operand with four predicated loads and no shared memory:
// no dense tile is written, zeroed or read back (which is what bounds the
// scattering kernels/spmm_tensor_kernel.cuh).
//
// Cost: 4 bytes per stored register, which holds one or two nonzeros, plus
// 20 bytes per tile (masks and word_ptr). On uniformly random tiles that is
// 4.6 / 2.8 / 1.2 bytes per nonzero at 90 / 95 / 99% sparsity, against 4
// for 16-bit CSR (2 for the value, 2 for the index); at 99% the tile
// headers dominate.
//
// Tiles are stored row tile by row tile, k tiles in order within one:
// t = row_tile * k_tiles + k_tile. Row tiles are independent, so the build
// runs over them on several host threads; the result does not depend on
// how many.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <limits>
#include <thread>
#include <vector>

#include "../error.hpp"
#include "csr.hpp"
#include "tiled_weight.hpp"  // detail::for_ranges

namespace paisparse {

inline constexpr int fragment_tile = 16;  // rows and columns of W per tile (the mma's m and k)

/// The fragment weight on the host.
struct host_fragment_weight {
  int32_t rows = 0, cols = 0, nnz = 0;
  int32_t row_tiles = 0, k_tiles = 0;
  std::vector<uint32_t> masks;     // 4 per tile: bit l of mask j = lane l's register j is stored
  std::vector<int32_t> word_ptr;   // tiles + 1
  std::vector<uint32_t> words;     // the stored registers
  int64_t tiles() const { return static_cast<int64_t>(row_tiles) * k_tiles; }
};

namespace detail {
/// Where W(r, c) of a 16 x 16 tile lies in the A fragment: register j, lane, half.
struct fragment_place {
  int j, lane, half;
};
constexpr fragment_place fragment_place_of(int r, int c) {
  return {(r / 8) + 2 * (c / 8), (r % 8) * 4 + (c % 8) / 2, c % 2};
}
}  // namespace detail

/// Builds the fragment weight of `w`. Values must be 16-bit (fp16 or bf16).
/// threads: host threads (0: as many as the machine has).
template <class T>
host_fragment_weight build_fragment_weight(const host_csr<T, int32_t>& w, unsigned threads = 0) {
  static_assert(sizeof(T) == 2, "build_fragment_weight: the tensor-core path takes 16-bit values (fp16 or bf16)");
  host_fragment_weight h;
  h.rows = w.rows();
  h.cols = w.cols();
  h.nnz = w.nnz();
  h.row_tiles = static_cast<int32_t>((static_cast<int64_t>(h.rows) + fragment_tile - 1) / fragment_tile);
  h.k_tiles = static_cast<int32_t>((static_cast<int64_t>(h.cols) + fragment_tile - 1) / fragment_tile);
  PAISPARSE_EXPECTS(h.tiles() < std::numeric_limits<int32_t>::max() / 4,
                    "build_fragment_weight: " << h.row_tiles << " x " << h.k_tiles << " tiles are too many");
  const auto& off = w.row_offsets();
  const auto& idx = w.col_indices();
  const auto& val = w.values();
  if (threads == 0) threads = std::max(1u, std::thread::hardware_concurrency());

  const std::size_t kt = static_cast<std::size_t>(h.k_tiles);
  h.masks.assign(static_cast<std::size_t>(h.tiles()) * 4, 0u);
  std::vector<std::vector<uint32_t>> parts(static_cast<std::size_t>(h.row_tiles));  // each row tile's words
  std::vector<int32_t> tile_words(static_cast<std::size_t>(h.tiles()), 0);
  detail::for_ranges(h.row_tiles, h.nnz, threads, [&](int64_t t0, int64_t t1) {
    std::vector<uint32_t> regs(kt * 128, 0u);  // one row tile: [k tile][register][lane]
    for (int64_t rt = t0; rt < t1; ++rt) {
      uint32_t* masks = h.masks.data() + static_cast<std::size_t>(rt) * kt * 4;
      for (int r = 0; r < fragment_tile; ++r) {
        const int64_t row = rt * fragment_tile + r;
        if (row >= h.rows) break;
        for (int32_t i = off[static_cast<std::size_t>(row)]; i < off[static_cast<std::size_t>(row) + 1]; ++i) {
          const int32_t c = idx[static_cast<std::size_t>(i)];
          const detail::fragment_place at = detail::fragment_place_of(r, c % fragment_tile);
          const std::size_t tile = static_cast<std::size_t>(c / fragment_tile);
          uint16_t bits;
          std::memcpy(&bits, &val[static_cast<std::size_t>(i)], 2);
          regs[tile * 128 + static_cast<std::size_t>(at.j) * 32 + static_cast<std::size_t>(at.lane)] |=
              static_cast<uint32_t>(bits) << (16 * at.half);
          masks[tile * 4 + static_cast<std::size_t>(at.j)] |= 1u << at.lane;  // stored even if its bits are 0
        }
      }
      std::vector<uint32_t>& out = parts[static_cast<std::size_t>(rt)];
      for (std::size_t tile = 0; tile < kt; ++tile) {
        int32_t count = 0;
        for (int j = 0; j < 4; ++j) {
          const uint32_t m = masks[tile * 4 + static_cast<std::size_t>(j)];
          for (int l = 0; l < 32; ++l)
            if (m >> l & 1u) {
              uint32_t& reg = regs[tile * 128 + static_cast<std::size_t>(j) * 32 + static_cast<std::size_t>(l)];
              out.push_back(reg);
              reg = 0u;
              ++count;
            }
        }
        tile_words[static_cast<std::size_t>(rt) * kt + tile] = count;
      }
    }
  });
  h.word_ptr.assign(static_cast<std::size_t>(h.tiles()) + 1, 0);
  int64_t words = 0;
  for (std::size_t t = 0; t < tile_words.size(); ++t) {
    h.word_ptr[t] = static_cast<int32_t>(words);
    words += tile_words[t];
    PAISPARSE_EXPECTS(words < std::numeric_limits<int32_t>::max(), "build_fragment_weight: more than 2^31 - 1 words");
  }
  h.word_ptr.back() = static_cast<int32_t>(words);
  h.words.reserve(static_cast<std::size_t>(words));
  for (auto& p : parts) {
    h.words.insert(h.words.end(), p.begin(), p.end());
    std::vector<uint32_t>().swap(p);
  }
  return h;
}

}  // namespace paisparse
