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
// So the weight costs 4 bytes per nonzero (2 for fp16/bf16 values, 2 for the
// position), as 16-bit CSR does, plus 4 bytes per tile.
//
// A row block's tiles belong to it alone, so the build runs its two passes
// (count, then place) on several host threads, each over whole row blocks;
// the result is the same word for word as one thread's. (The tuner builds
// one tiled weight per tile shape; 47 M nonzeros take about 0.3 s on one
// host thread.)
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

}  // namespace detail

/// The tiled weight on the host.
struct host_tiled_weight {
  int32_t rows = 0, cols = 0, nnz = 0;
  int32_t tile_m = 0, tile_k = 0;
  int32_t row_blocks = 0, k_tiles = 0;
  std::vector<int32_t> tile_ptr;  // row_blocks * k_tiles + 1
  std::vector<uint32_t> words;    // packed nonzeros, each tile padded to a multiple of 4
};

/// Packs `w` into tiles of tile_m x tile_k. Values must be 16-bit (fp16 or bf16).
/// threads: host threads for the two passes (0: as many as the machine has).
template <class T>
host_tiled_weight build_tiled_weight(const host_csr<T, int32_t>& w, int32_t tile_m, int32_t tile_k,
                                     unsigned threads = 0) {
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
  t.row_blocks = static_cast<int32_t>((static_cast<int64_t>(t.rows) + tile_m - 1) / tile_m);
  t.k_tiles = static_cast<int32_t>((static_cast<int64_t>(t.cols) + tile_k - 1) / tile_k);
  const int64_t tiles = static_cast<int64_t>(t.row_blocks) * t.k_tiles;
  PAISPARSE_EXPECTS(tiles < std::numeric_limits<int32_t>::max(),
                    "build_tiled_weight: " << t.row_blocks << " x " << t.k_tiles << " tiles are too many");
  const auto& off = w.row_offsets();
  const auto& idx = w.col_indices();
  const auto& val = w.values();
  if (threads == 0) threads = std::max(1u, std::thread::hardware_concurrency());
  // rows of row blocks [b0, b1)
  auto rows_of = [&](int64_t b0, int64_t b1) {
    return std::make_pair(static_cast<int32_t>(b0 * tile_m),
                          static_cast<int32_t>(std::min<int64_t>(t.rows, b1 * tile_m)));
  };
  std::vector<int64_t> count(static_cast<std::size_t>(tiles) + 1, 0);
  detail::for_ranges(t.row_blocks, t.nnz, threads, [&](int64_t b0, int64_t b1) {
    const auto [r0, r1] = rows_of(b0, b1);
    for (int32_t r = r0; r < r1; ++r) {
      const int64_t base = static_cast<int64_t>(r / tile_m) * t.k_tiles;
      for (int32_t j = off[static_cast<std::size_t>(r)]; j < off[static_cast<std::size_t>(r) + 1]; ++j)
        ++count[static_cast<std::size_t>(base + idx[static_cast<std::size_t>(j)] / tile_k)];
    }
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
  const uint32_t pad_word = static_cast<uint32_t>(tile_k) << 16;  // value 0 at row 0, column tile_k (padding)
  t.words.assign(static_cast<std::size_t>(total), pad_word);
  std::vector<int64_t> cursor(t.tile_ptr.begin(), t.tile_ptr.end() - 1);
  const int32_t ld = tile_k + tile_pad;
  detail::for_ranges(t.row_blocks, t.nnz, threads, [&](int64_t b0, int64_t b1) {
    const auto [r0, r1] = rows_of(b0, b1);
    for (int32_t r = r0; r < r1; ++r) {
      const int64_t base = static_cast<int64_t>(r / tile_m) * t.k_tiles;
      for (int32_t j = off[static_cast<std::size_t>(r)]; j < off[static_cast<std::size_t>(r) + 1]; ++j) {
        const int32_t c = idx[static_cast<std::size_t>(j)];
        uint16_t bits;
        std::memcpy(&bits, &val[static_cast<std::size_t>(j)], 2);
        const uint32_t offset = static_cast<uint32_t>((r % tile_m) * ld + c % tile_k);
        t.words[static_cast<std::size_t>(cursor[static_cast<std::size_t>(base + c / tile_k)]++)] =
            bits | (offset << 16);
      }
    }
  });
  return t;
}

}  // namespace paisparse
