// paisparse format (host side): the windowed weight of the gathered
// tensor-core SpMM path (kernels/spmm_window_kernel.cuh).
//
// The rows of W are taken 8 at a time ("windows"), K in chunks of
// window_chunk = 256 columns. Within one window and one chunk, the columns
// that any of the window's 8 rows uses are listed once and cut into steps of
// 16 columns; a step is one mma.sync m16n8k16 with
//
//   A (16 tokens x 16 columns) = rows `cols[0..15]` of B, gathered from the
//                                chunk of B in shared memory (ldmatrix takes
//                                one address per row, so any 16 rows do)
//   B operand (16 columns x 8 rows) = W(window rows, cols[0..15]), with zeros
//                                where a row lacks the column
//
// so the tensor cores multiply only the columns a window uses: at 90%
// sparsity (random) about 57% of K, at 95% 34%, at 99% 8%, where the dense
// tiles of kernels/spmm_tensor_kernel.cuh multiply all of it.
//
// Per step the weight stores, in the order the 32 lanes of a warp read it,
// the B-operand fragment (lane l: W(row l / 4, cols[2 (l % 4)]) and the next
// column in the low / high half of word 0, columns + 8 in word 1: 256 bytes)
// and the 16 column offsets within the chunk (one byte each).
//
// The columns of a window and chunk are dealt over the halves of its steps
// (columns 0-7, 8-15 of a step: the rows of one 8 x 8 ldmatrix matrix) so
// that each half has distinct offsets modulo 8 where the columns allow:
// with the staged rows of B padded by 16 bytes, those land in different
// shared-memory banks (detail::deal_window_columns). Unused places hold a
// zero weight and a column of a residue their half lacks.
//
// Steps are stored window by window (in `order`, below) and chunk by chunk
// within a window: step_ptr[slot * chunks + c] is the first step of window
// slot `slot` in chunk c. Windows are sorted by their number of steps,
// most first (`order[slot]` is the window's number: rows 8 order[slot]..):
// a block of the kernel takes consecutive slots, so its warps have similar
// work, and the longest blocks start first.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <limits>
#include <numeric>
#include <thread>
#include <vector>

#include "../error.hpp"
#include "csr.hpp"
#include "tiled_weight.hpp"  // detail::for_ranges

namespace paisparse {

inline constexpr int window_rows = 8;     // rows of W per window (the mma's n)
inline constexpr int window_chunk = 256;  // columns of W per chunk (offsets fit a byte)
inline constexpr int window_step = 16;    // columns per step (the mma's k)

/// The windowed weight on the host.
struct host_window_weight {
  int32_t rows = 0, cols = 0, nnz = 0;
  int32_t windows = 0, chunks = 0;
  std::vector<int32_t> order;     // windows: slot -> window
  std::vector<int32_t> step_ptr;  // windows * chunks + 1
  std::vector<uint32_t> frags;    // 64 words per step (2 per lane)
  std::vector<uint8_t> offsets;   // 16 per step: columns within the chunk
  int64_t steps() const { return step_ptr.empty() ? 0 : step_ptr.back(); }
};

namespace detail {

/// Deals the distinct columns `c` (offsets within a chunk, ascending) of one
/// window and chunk into steps of 16 (see the header comment); appends the
/// offsets and returns the number of steps. `pos` receives, for each
/// offset, its place: step * 16 + slot, the step counted from 0.
///
/// Half by half (8 places each), a half takes its even share of the columns
/// left, one from each of the residues (mod 8) with the most columns left,
/// a residue twice only when fewer residues than its share have columns
/// left; its other places take residues it lacks.
inline int32_t deal_window_columns(const std::vector<int32_t>& c, std::vector<uint8_t>& offsets,
                                   std::array<int32_t, window_chunk>& pos) {
  const int32_t n = static_cast<int32_t>(c.size());
  if (n == 0) return 0;
  std::array<std::vector<int32_t>, 8> by_res;
  for (int32_t x : c) by_res[static_cast<std::size_t>(x % 8)].push_back(x);
  std::array<std::size_t, 8> next{};
  auto remaining = [&](int r) { return by_res[static_cast<std::size_t>(r)].size() - next[static_cast<std::size_t>(r)]; };
  const int32_t steps = (n + window_step - 1) / window_step;
  const int32_t halves = 2 * steps;
  int32_t left = n;
  for (int32_t h = 0; h < halves; ++h) {
    const int32_t take = (left + (halves - h) - 1) / (halves - h);  // an even share of what is left (<= 8)
    std::array<int, 8> res;
    std::iota(res.begin(), res.end(), 0);
    std::stable_sort(res.begin(), res.end(), [&](int a, int b) { return remaining(a) > remaining(b); });
    std::array<int32_t, 8> slot;
    std::array<bool, 8> used{};
    int32_t got = 0;
    while (got < take)  // one from each residue with columns left, most first; again if too few residues
      for (int r : res)
        if (got < take && remaining(r) > 0) {
          slot[static_cast<std::size_t>(got++)] = by_res[static_cast<std::size_t>(r)][next[static_cast<std::size_t>(r)]++];
          used[static_cast<std::size_t>(r)] = true;
        }
    for (int32_t i = 0; i < got; ++i) pos[static_cast<std::size_t>(slot[static_cast<std::size_t>(i)])] = h * 8 + i;
    for (int32_t i = got; i < 8; ++i) {  // padding: a residue the half lacks (any, if none is left)
      int r = 0;
      while (r < 7 && used[static_cast<std::size_t>(r)]) ++r;
      used[static_cast<std::size_t>(r)] = true;
      slot[static_cast<std::size_t>(i)] = r;
    }
    for (int32_t i = 0; i < 8; ++i) offsets.push_back(static_cast<uint8_t>(slot[static_cast<std::size_t>(i)]));
    left -= got;
  }
  return steps;
}

}  // namespace detail

/// Builds the windowed weight of `w`. Values must be 16-bit (fp16 or bf16).
/// threads: host threads (0: as many as the machine has); the result does
/// not depend on it.
template <class T>
host_window_weight build_window_weight(const host_csr<T, int32_t>& w, unsigned threads = 0) {
  static_assert(sizeof(T) == 2, "build_window_weight: the tensor-core path takes 16-bit values (fp16 or bf16)");
  host_window_weight h;
  h.rows = w.rows();
  h.cols = w.cols();
  h.nnz = w.nnz();
  h.windows = static_cast<int32_t>((static_cast<int64_t>(h.rows) + window_rows - 1) / window_rows);
  h.chunks = static_cast<int32_t>((static_cast<int64_t>(h.cols) + window_chunk - 1) / window_chunk);
  const int64_t cells = static_cast<int64_t>(h.windows) * h.chunks;
  PAISPARSE_EXPECTS(cells < std::numeric_limits<int32_t>::max(),
                    "build_window_weight: " << h.windows << " windows x " << h.chunks << " chunks are too many");
  const auto& off = w.row_offsets();
  const auto& idx = w.col_indices();
  const auto& val = w.values();
  if (threads == 0) threads = std::max(1u, std::thread::hardware_concurrency());

  // Each window on its own: its steps (offsets, fragments) per chunk.
  struct window_part {
    std::vector<int32_t> chunk_steps;  // chunks
    std::vector<uint8_t> offsets;
    std::vector<uint32_t> frags;
  };
  std::vector<window_part> parts(static_cast<std::size_t>(h.windows));
  detail::for_ranges(h.windows, h.nnz, threads, [&](int64_t w0, int64_t w1) {
    std::vector<int32_t> cur(window_rows), end(window_rows), cols;
    std::array<int32_t, window_chunk> pos{};
    std::vector<uint8_t> present(window_chunk);
    for (int64_t win = w0; win < w1; ++win) {
      window_part& part = parts[static_cast<std::size_t>(win)];
      part.chunk_steps.assign(static_cast<std::size_t>(h.chunks), 0);
      const int32_t r0 = static_cast<int32_t>(win * window_rows);
      for (int i = 0; i < window_rows; ++i) {
        const int32_t r = r0 + i;
        cur[i] = r < h.rows ? off[static_cast<std::size_t>(r)] : 0;
        end[i] = r < h.rows ? off[static_cast<std::size_t>(r) + 1] : 0;
      }
      int32_t step0 = 0;  // the window's steps so far
      for (int32_t ch = 0; ch < h.chunks; ++ch) {
        const int32_t c_end = std::min<int64_t>(h.cols, static_cast<int64_t>(ch + 1) * window_chunk);
        const int32_t c0 = ch * window_chunk;
        std::fill(present.begin(), present.end(), 0);
        for (int i = 0; i < window_rows; ++i)
          for (int32_t j = cur[i]; j < end[i] && idx[static_cast<std::size_t>(j)] < c_end; ++j)
            present[static_cast<std::size_t>(idx[static_cast<std::size_t>(j)] - c0)] = 1;
        cols.clear();
        for (int32_t x = 0; x < window_chunk; ++x)
          if (present[static_cast<std::size_t>(x)]) cols.push_back(x);
        const int32_t steps = detail::deal_window_columns(cols, part.offsets, pos);
        part.chunk_steps[static_cast<std::size_t>(ch)] = steps;
        part.frags.resize(part.frags.size() + static_cast<std::size_t>(steps) * 64, 0u);
        uint32_t* f = part.frags.data() + static_cast<std::size_t>(step0) * 64;
        for (int i = 0; i < window_rows; ++i)
          for (; cur[i] < end[i] && idx[static_cast<std::size_t>(cur[i])] < c_end; ++cur[i]) {
            const int32_t p = pos[static_cast<std::size_t>(idx[static_cast<std::size_t>(cur[i])] - c0)];
            const int32_t step = p / window_step, kk = p % window_step;
            // lane i * 4 + (kk % 8) / 2 holds (row i, kk) in word kk / 8, half kk % 2
            const int32_t lane = i * 4 + (kk % 8) / 2;
            uint16_t bits;
            std::memcpy(&bits, &val[static_cast<std::size_t>(cur[i])], 2);
            f[step * 64 + lane * 2 + kk / 8] |= static_cast<uint32_t>(bits) << (16 * (kk % 2));
          }
        step0 += steps;
      }
    }
  });

  // slots: windows by steps, most first (ties: lower window first)
  std::vector<int64_t> total(static_cast<std::size_t>(h.windows));
  for (int32_t i = 0; i < h.windows; ++i) total[static_cast<std::size_t>(i)] = parts[static_cast<std::size_t>(i)].frags.size() / 64;
  h.order.resize(static_cast<std::size_t>(h.windows));
  std::iota(h.order.begin(), h.order.end(), 0);
  std::stable_sort(h.order.begin(), h.order.end(),
                   [&](int32_t a, int32_t b) { return total[static_cast<std::size_t>(a)] > total[static_cast<std::size_t>(b)]; });
  h.step_ptr.assign(static_cast<std::size_t>(cells) + 1, 0);
  int64_t steps = 0;
  for (int32_t s = 0; s < h.windows; ++s) {
    const window_part& part = parts[static_cast<std::size_t>(h.order[static_cast<std::size_t>(s)])];
    for (int32_t ch = 0; ch < h.chunks; ++ch) {
      h.step_ptr[static_cast<std::size_t>(s) * h.chunks + ch] = static_cast<int32_t>(steps);
      steps += part.chunk_steps[static_cast<std::size_t>(ch)];
      PAISPARSE_EXPECTS(steps < std::numeric_limits<int32_t>::max() / 64,
                        "build_window_weight: more than 2^25 steps of 16 columns; the weight is too large for the "
                        "windowed path");
    }
  }
  h.step_ptr[static_cast<std::size_t>(cells)] = static_cast<int32_t>(steps);
  h.frags.reserve(static_cast<std::size_t>(steps) * 64);
  h.offsets.reserve(static_cast<std::size_t>(steps) * 16);
  for (int32_t s = 0; s < h.windows; ++s) {
    window_part& part = parts[static_cast<std::size_t>(h.order[static_cast<std::size_t>(s)])];
    h.frags.insert(h.frags.end(), part.frags.begin(), part.frags.end());
    h.offsets.insert(h.offsets.end(), part.offsets.begin(), part.offsets.end());
    part = window_part{};
  }
  return h;
}

}  // namespace paisparse
