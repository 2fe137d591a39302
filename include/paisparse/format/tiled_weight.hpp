// paisparse format (host side): the weight of the tensor-core SpMM path, cut into tiles
// of tile_m rows x tile_k columns, each tile's nonzeros packed in one 32-bit
// word apiece.
//
//   word = value bits (low 16) | offset (high 16)
//
// where offset = r * (tile_k + tile_pad) + c is the nonzero's place (row r,
// column c of its tile) in the dense shared-memory copy the kernel builds
// (rows padded by tile_pad elements so that ldmatrix reads no bank twice).
// Tiles are stored row block by row block, and within a row block in column
// order: tile t = row_block * k_tiles + k_tile holds words
// [tile_ptr[t], tile_ptr[t + 1]). Every tile's count is padded to a multiple
// of 4 (one 16-byte load takes 4 words) with words that write 0 into the
// padding column of row 0, which no ldmatrix reads.
//
// The spmm.wg kernels (kernels/spmm_wgmma_kernel.cuh) read the tile with
// the tensor cores straight from shared memory, which takes it as 8 x 8
// "core matrices" of 128 contiguous bytes each (tile_layout::core_matrices):
//
//   offset = ((r / 8) * (tile_k / 8) + c / 8) * 64 + (r % 8) * 8 + c % 8
//
// with no padding; there the padding words write 0 into one spare element
// past the tile (offset tile_m * tile_k), which the buffer has and no
// multiply reads.
//
// So the weight costs 4 bytes per nonzero (2 for fp16/bf16 values, 2 for the
// position), as 16-bit CSR does, plus 4 bytes per tile.
//
// Within a tile the words are ordered for the kernel's scatter, not by
// position: each warp-wide 16-bit store of prolog/tile_prolog.cuh writes
// the 32 words that lie 4 apart in one 128-word chunk of the tile (lane l
// holds words 4l..4l+3 and stores them one at a time), and the build deals
// the nonzeros out so that those 32 fall in different shared-memory banks
// as far as the tile's banks allow (detail::spread_banks): on random tiles
// 1.2-1.4 wavefronts a store at 60-80% sparsity and 1.5-1.7 at 95% (too
// few words to fill every bank in every store), against about 3.1 in
// position order.
//
// A row block's tiles belong to it alone, so the build runs its two passes
// (count, then place) on several host threads, each over whole row blocks;
// the result is the same word for word as one thread's. (The tuner builds
// one tiled weight per tile shape; 30 M nonzeros take about 1 s on one
// host thread, 0.4 s of it ordering the words.)
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <limits>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "../error.hpp"
#include "csr.hpp"

namespace paisparse {

/// Elements each tile row is padded by in shared memory (16 bytes of 16-bit values).
inline constexpr int tile_pad = 8;

/// Where a nonzero of a tile goes in the kernel's shared copy (the header
/// comment): rows padded by tile_pad (ldmatrix, spmm.tc) or 8 x 8 core
/// matrices (wgmma, spmm.wg).
enum class tile_layout { padded_rows, core_matrices };

/// The 16-bit place of row r, column c of a tile_m x tile_k tile in `layout`.
constexpr uint32_t tile_place(tile_layout layout, int32_t tile_k, int32_t r, int32_t c) {
  return layout == tile_layout::padded_rows
             ? static_cast<uint32_t>(r * (tile_k + tile_pad) + c)
             : static_cast<uint32_t>(((r / 8) * (tile_k / 8) + c / 8) * 64 + (r % 8) * 8 + c % 8);
}

/// The place a padding word writes its 0 to: one no multiply reads.
constexpr uint32_t tile_spare_place(tile_layout layout, int32_t tile_m, int32_t tile_k) {
  return layout == tile_layout::padded_rows ? static_cast<uint32_t>(tile_k)
                                            : static_cast<uint32_t>(tile_m * tile_k);
}

namespace detail {

/// Calls f(begin, end) over [0, n) cut into contiguous ranges, on up to
/// `threads` host threads (the calling one included); one range when
/// `work` is below a threshold. f must not throw.
template <class F>
void for_ranges(int64_t n, int64_t work, unsigned threads, F&& f) {
  constexpr int64_t min_work = 1 << 20;  // below this a thread costs more than it saves
  const int64_t parts = std::max<int64_t>(1, std::min<int64_t>({n, static_cast<int64_t>(threads), work / min_work}));
  if (parts <= 1) {
    f(int64_t{0}, n);
    return;
  }
  std::vector<std::thread> pool;
  pool.reserve(static_cast<std::size_t>(parts - 1));
  for (int64_t p = 1; p < parts; ++p) pool.emplace_back([&f, p, parts, n] { f(n * p / parts, n * (p + 1) / parts); });
  f(int64_t{0}, n / parts);
  for (auto& t : pool) t.join();
}

/// Reorders one tile's n words (n a multiple of 4) so that the words each
/// warp-wide store of the kernel's scatter writes go to different
/// shared-memory banks as far as the tile allows. Those stores take, from
/// every 128-word chunk (the last one may be shorter), the words at 4l + j
/// for lanes l and j = 0..3, j outer. A word's bank is that of the 32-bit
/// pair its 16-bit place lies in. Store by store, in the kernel's order,
/// each takes one word from each of the banks with the most words left
/// (a bank twice only when fewer banks than lanes have words left), which
/// keeps the banks' counts level (figures: the header comment).
/// `scratch` is reused between calls.
inline void spread_banks(uint32_t* words, int64_t n, std::vector<uint32_t>& scratch) {
  constexpr int banks = 32;
  auto bank_of = [](uint32_t w) { return static_cast<int>((w >> 17) % banks); };  // (place / 2) % 32
  int64_t left[banks] = {}, next[banks] = {};
  for (int64_t i = 0; i < n; ++i) ++left[bank_of(words[i])];
  for (int b = 1; b < banks; ++b) next[b] = next[b - 1] + left[b - 1];
  scratch.resize(static_cast<std::size_t>(2 * n));
  uint32_t* by_bank = scratch.data();  // words grouped by bank
  uint32_t* dealt = by_bank + n;       // in the order the kernel's stores take them
  {
    int64_t fill[banks];
    std::copy(next, next + banks, fill);
    for (int64_t i = 0; i < n; ++i) by_bank[fill[bank_of(words[i])]++] = words[i];
  }
  int order[banks];  // banks, most words left first (ties: lower bank first)
  for (int b = 0; b < banks; ++b) order[b] = b;
  auto before = [&](int a, int b) { return left[a] > left[b] || (left[a] == left[b] && a < b); };
  auto resort = [&] {  // insertion sort: the order changes little from one store to the next
    for (int i = 1; i < banks; ++i)
      for (int j = i; j > 0 && before(order[j], order[j - 1]); --j) std::swap(order[j], order[j - 1]);
  };
  resort();
  int64_t k = 0;
  const int64_t full = n / 128 * 128;
  while (k < n) {
    int64_t need = k < full ? 32 : (n - full) / 4;  // lanes of this store
    while (need > 0) {
      int64_t took = 0;
      for (int i = 0; i < banks && took < need && left[order[i]] > 0; ++i, ++took) {
        const int b = order[i];
        dealt[k++] = by_bank[next[b]++];
        --left[b];
      }
      if (took == 0) return;  // unreachable: the stores' lanes add up to n
      need -= took;
      resort();
    }
  }
  // the k-th dealt word -> the lane and component of the store that takes it
  for (int64_t i = 0; i < n; ++i) {
    int64_t slot;
    if (i < full) {
      slot = i / 128 * 128 + (i % 32) * 4 + (i % 128) / 32;
    } else {
      const int64_t lanes = (n - full) / 4, j = i - full;
      slot = full + (j % lanes) * 4 + j / lanes;
    }
    words[slot] = dealt[i];
  }
}

}  // namespace detail

/// The tiled weight on the host.
struct host_tiled_weight {
  int32_t rows = 0, cols = 0, nnz = 0;
  int32_t tile_m = 0, tile_k = 0;
  tile_layout layout = tile_layout::padded_rows;
  int32_t row_blocks = 0, k_tiles = 0;
  std::vector<int32_t> tile_ptr;  // row_blocks * k_tiles + 1
  std::vector<uint32_t> words;    // packed nonzeros, each tile padded to a multiple of 4
};

/// Packs `w` into tiles of tile_m x tile_k. Values must be 16-bit (fp16 or bf16).
/// threads: host threads for the two passes (0: as many as the machine has);
/// layout: where the kernel's shared copy keeps each place (the header comment).
template <class T>
host_tiled_weight build_tiled_weight(const host_csr<T, int32_t>& w, int32_t tile_m, int32_t tile_k,
                                     unsigned threads = 0, tile_layout layout = tile_layout::padded_rows) {
  static_assert(sizeof(T) == 2, "build_tiled_weight: the tensor-core path takes 16-bit values (fp16 or bf16)");
  PAISPARSE_EXPECTS(tile_m >= 16 && tile_m % 16 == 0 && tile_k >= 16 && tile_k % 16 == 0,
                    "build_tiled_weight: tile " << tile_m << " x " << tile_k << ", expected multiples of 16");
  PAISPARSE_EXPECTS(static_cast<int64_t>(tile_m) * (tile_k + tile_pad) <= 65536,
                    "build_tiled_weight: a " << tile_m << " x " << tile_k
                                             << " tile has more places than a 16-bit offset can address");
  host_tiled_weight t;
  t.rows = w.rows();
  t.cols = w.cols();
  t.nnz = w.nnz();
  t.tile_m = tile_m;
  t.tile_k = tile_k;
  t.layout = layout;
  t.row_blocks = static_cast<int32_t>((static_cast<int64_t>(t.rows) + tile_m - 1) / tile_m);
  t.k_tiles = static_cast<int32_t>((static_cast<int64_t>(t.cols) + tile_k - 1) / tile_k);
  const int64_t tiles = static_cast<int64_t>(t.row_blocks) * t.k_tiles;
  PAISPARSE_EXPECTS(tiles < std::numeric_limits<int32_t>::max(),
                    "build_tiled_weight: " << t.row_blocks << " x " << t.k_tiles << " tiles are too many");
  const auto& off = w.row_offsets();
  const auto& idx = w.col_indices();
  const auto& val = w.values();
  if (threads == 0) threads = std::max(1u, std::thread::hardware_concurrency());
  // f(j, r, c, tile) for each nonzero j (row r, column c) of row blocks [b0, b1); tile: the index of its tile
  auto each_nonzero = [&](int64_t b0, int64_t b1, auto&& f) {
    const int32_t r1 = static_cast<int32_t>(std::min<int64_t>(t.rows, b1 * tile_m));
    for (int32_t r = static_cast<int32_t>(b0 * tile_m); r < r1; ++r) {
      const int64_t base = static_cast<int64_t>(r / tile_m) * t.k_tiles;
      for (int32_t j = off[static_cast<std::size_t>(r)]; j < off[static_cast<std::size_t>(r) + 1]; ++j) {
        const int32_t c = idx[static_cast<std::size_t>(j)];
        f(j, r, c, base + c / tile_k);
      }
    }
  };
  std::vector<int64_t> count(static_cast<std::size_t>(tiles) + 1, 0);
  detail::for_ranges(t.row_blocks, t.nnz, threads, [&](int64_t b0, int64_t b1) {
    each_nonzero(b0, b1, [&](int32_t, int32_t, int32_t, int64_t tile) { ++count[static_cast<std::size_t>(tile)]; });
  });
  t.tile_ptr.assign(static_cast<std::size_t>(tiles) + 1, 0);
  int64_t total = 0;
  for (int64_t i = 0; i < tiles; ++i) {
    t.tile_ptr[static_cast<std::size_t>(i)] = static_cast<int32_t>(total);
    total += (count[static_cast<std::size_t>(i)] + 3) / 4 * 4;
    PAISPARSE_EXPECTS(total < std::numeric_limits<int32_t>::max(),
                      "build_tiled_weight: more than 2^31 - 1 packed nonzeros");
  }
  t.tile_ptr[static_cast<std::size_t>(tiles)] = static_cast<int32_t>(total);
  const uint32_t pad_word = tile_spare_place(layout, tile_m, tile_k) << 16;  // value 0 where no multiply reads
  t.words.assign(static_cast<std::size_t>(total), pad_word);
  std::vector<int64_t> cursor(t.tile_ptr.begin(), t.tile_ptr.end() - 1);
  detail::for_ranges(t.row_blocks, t.nnz, threads, [&](int64_t b0, int64_t b1) {
    each_nonzero(b0, b1, [&](int32_t j, int32_t r, int32_t c, int64_t tile) {
      uint16_t bits;
      std::memcpy(&bits, &val[static_cast<std::size_t>(j)], 2);
      const uint32_t offset = tile_place(layout, tile_k, r % tile_m, c % tile_k);
      t.words[static_cast<std::size_t>(cursor[static_cast<std::size_t>(tile)]++)] = bits | (offset << 16);
    });
    std::vector<uint32_t> scratch;
    for (int64_t i = b0 * t.k_tiles; i < b1 * t.k_tiles; ++i) {
      const int32_t w0 = t.tile_ptr[static_cast<std::size_t>(i)], w1 = t.tile_ptr[static_cast<std::size_t>(i) + 1];
      detail::spread_banks(t.words.data() + w0, w1 - w0, scratch);
    }
  });
  return t;
}

}  // namespace paisparse
