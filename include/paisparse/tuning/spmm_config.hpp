// paisparse: SpMM configurations as values, and the compiled-in search space.
//
// A configuration is printable and parseable, with a stable name used in
// logs, tests, plan files and the tuner's table:
//
//     spmm.b128.g8.l2.n8.v16.u1.u16.c512.lf.Bt.Cc
//          |    |  |  |  |   |  |   |    |  |  `-- C layout: Cr row-major, Cc column-major
//          |    |  |  |  |   |  |   |    |  `----- B: Br row-major, read along rows with vector loads;
//          |    |  |  |  |   |  |   |    |         Bt column-major, staged into a row-major copy
//          |    |  |  |  |   |  |   |    |         first (a second, small kernel), then as Br;
//          |    |  |  |  |   |  |   |    |         Bc column-major, gathered in place (one kernel)
//          |    |  |  |  |   |  |   |    `-------- item order: lf longest first, ro row order
//          |    |  |  |  |   |  |   `------------- segment cap in nonzeros (c0: rows never cut)
//          |    |  |  |  |   |  `----------------- column index type in the plan: u16 or i32
//          |    |  |  |  |   `-------------------- weight vectors per lane in flight (unroll)
//          |    |  |  |  `------------------------ bytes per vector load of the weight (8 or 16)
//          |    |  |  `--------------------------- output columns per lane (the lane's tile, ColTile)
//          |    |  `------------------------------ lanes over output columns per team (ColLanes)
//          |    `--------------------------------- lanes over nonzeros per team (NzLanes)
//          `-------------------------------------- threads per block
//
// A team (g x l lanes, 4..32, one warp at most) takes one item; it covers
// l x n output columns per pass, and the grid covers N in chunks of that.
//
// The compiled-in kernels are the cartesian product of the lists below,
// filtered by spmm_shape_compiled (team size, chunk width). A project
// restricts them (compile time, code size) by defining the macros before
// including paisparse, e.g. -DPAISPARSE_SPMM_COL_TILE=8 -DPAISPARSE_SPMM_GATHER=0.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "../error.hpp"
#include "../format/dense.hpp"
#include "../format/schedule.hpp"
#include "../types.hpp"
#include "config.hpp"  // row_stats, compute_row_stats

#ifndef PAISPARSE_SPMM_BLOCK_THREADS
#define PAISPARSE_SPMM_BLOCK_THREADS 128
#endif
#ifndef PAISPARSE_SPMM_NZ_LANES
#define PAISPARSE_SPMM_NZ_LANES 1, 2, 4, 8, 16, 32
#endif
#ifndef PAISPARSE_SPMM_COL_LANES
#define PAISPARSE_SPMM_COL_LANES 1, 2, 4, 8, 16
#endif
#ifndef PAISPARSE_SPMM_COL_TILE
#define PAISPARSE_SPMM_COL_TILE 4, 8, 16
#endif
#ifndef PAISPARSE_SPMM_VEC_BYTES
#define PAISPARSE_SPMM_VEC_BYTES 16
#endif
#ifndef PAISPARSE_SPMM_UNROLL
#define PAISPARSE_SPMM_UNROLL 1
#endif
#ifndef PAISPARSE_SPMM_GATHER  // 1: also compile the in-place column-major B kernels (Bc)
#define PAISPARSE_SPMM_GATHER 1
#endif

namespace paisparse {

namespace space {
inline constexpr std::array spmm_block_threads{PAISPARSE_SPMM_BLOCK_THREADS};
inline constexpr std::array spmm_nz_lanes{PAISPARSE_SPMM_NZ_LANES};
inline constexpr std::array spmm_col_lanes{PAISPARSE_SPMM_COL_LANES};
inline constexpr std::array spmm_col_tile{PAISPARSE_SPMM_COL_TILE};
inline constexpr std::array spmm_vec_bytes{PAISPARSE_SPMM_VEC_BYTES};
inline constexpr std::array spmm_unroll{PAISPARSE_SPMM_UNROLL};
inline constexpr bool spmm_gather = PAISPARSE_SPMM_GATHER;
}  // namespace space

/// How the kernel reads B: along rows of a row-major B (vector loads), or
/// gathering from a column-major B in place.
enum class spmm_b_access { rows, gather };

inline const char* to_string(spmm_b_access a) { return a == spmm_b_access::rows ? "rows" : "gather"; }

/// Which shapes the registry compiles (and the space enumerates): teams of
/// 4..32 lanes that divide the block, chunks of at most 256 columns; the
/// gather kernels only with tiles of at most 8 columns and chunks of at most
/// 64 (they are for small N; compile time).
constexpr bool spmm_shape_compiled(int block_threads, int nz_lanes, int col_lanes, int col_tile, bool gather) {
  const int team = nz_lanes * col_lanes;
  return team >= 4 && team <= 32 && block_threads % 32 == 0 && col_lanes * col_tile <= 256 &&
         (!gather || (col_tile <= 8 && col_lanes * col_tile <= 64));
}

/// The compile-time part of a configuration: which kernel instantiation.
struct spmm_kernel_key {
  int block_threads = 128;
  int nz_lanes = 8;
  int col_lanes = 1;
  int col_tile = 8;
  int vec_bytes = 16;
  int unroll = 1;
  index_kind index = index_kind::u16;
  spmm_b_access access = spmm_b_access::rows;

  friend bool operator==(const spmm_kernel_key& a, const spmm_kernel_key& b) {
    return a.block_threads == b.block_threads && a.nz_lanes == b.nz_lanes && a.col_lanes == b.col_lanes &&
           a.col_tile == b.col_tile && a.vec_bytes == b.vec_bytes && a.unroll == b.unroll && a.index == b.index &&
           a.access == b.access;
  }
  friend bool operator!=(const spmm_kernel_key& a, const spmm_kernel_key& b) { return !(a == b); }
  int team_threads() const { return nz_lanes * col_lanes; }
  /// Output columns one team covers per pass (the chunk width).
  int col_pass() const { return col_lanes * col_tile; }
  /// Nonzeros one pass of a team's nz lanes covers.
  int64_t team_pass(int value_bytes) const {
    return static_cast<int64_t>(nz_lanes) * (vec_bytes / value_bytes) * unroll;
  }
};

/// A full SpMM configuration: kernel, schedule, and the layouts it serves.
struct spmm_config {
  spmm_kernel_key kernel;
  int64_t segment_cap = 0;  // 0: rows are never cut
  item_order order = item_order::longest_first;
  dense_layout b_layout = dense_layout::col_major;
  dense_layout c_layout = dense_layout::col_major;

  /// Br, Bt or Bc (see the header comment).
  const char* b_tag() const {
    if (b_layout == dense_layout::row_major) return kernel.access == spmm_b_access::rows ? "Br" : "B?";
    return kernel.access == spmm_b_access::rows ? "Bt" : "Bc";
  }
  /// Column-major B read through a row-major staged copy.
  bool stages_b() const { return b_layout == dense_layout::col_major && kernel.access == spmm_b_access::rows; }

  std::string name() const {
    std::ostringstream os;
    os << "spmm.b" << kernel.block_threads << ".g" << kernel.nz_lanes << ".l" << kernel.col_lanes << ".n"
       << kernel.col_tile << ".v" << kernel.vec_bytes << ".u" << kernel.unroll << '.' << to_string(kernel.index)
       << ".c" << segment_cap << '.' << to_string(order) << '.' << b_tag() << '.'
       << (c_layout == dense_layout::row_major ? "Cr" : "Cc");
    return os.str();
  }
  friend bool operator==(const spmm_config& a, const spmm_config& b) {
    return a.kernel == b.kernel && a.segment_cap == b.segment_cap && a.order == b.order &&
           a.b_layout == b.b_layout && a.c_layout == b.c_layout;
  }
  friend bool operator!=(const spmm_config& a, const spmm_config& b) { return !(a == b); }

  /// Parses a name produced by name(); throws paisparse::error naming the bad field.
  static spmm_config parse(std::string_view s) {
    std::vector<std::string> f;
    std::string cur;
    for (char ch : s) {
      if (ch == '.') f.push_back(cur), cur.clear();
      else cur.push_back(ch);
    }
    f.push_back(cur);
    PAISPARSE_EXPECTS(f.size() == 12 && f[0] == "spmm",
                      "spmm config '" << s << "': expected 12 dot-separated fields like "
                                      << "spmm.b128.g8.l2.n8.v16.u1.u16.c0.lf.Bt.Cc, got " << f.size()
                                      << (f.empty() || f[0] == "spmm" ? "" : " (and no leading 'spmm')"));
    auto num = [&](const std::string& field, char tag) -> int64_t {
      PAISPARSE_EXPECTS(field.size() >= 2 && field[0] == tag &&
                            field.find_first_not_of("0123456789", 1) == std::string::npos && field.size() < 12,
                        "spmm config '" << s << "': field '" << field << "' should be '" << tag << "<number>'");
      return std::stoll(field.substr(1));
    };
    spmm_config c;
    c.kernel.block_threads = static_cast<int>(num(f[1], 'b'));
    c.kernel.nz_lanes = static_cast<int>(num(f[2], 'g'));
    c.kernel.col_lanes = static_cast<int>(num(f[3], 'l'));
    c.kernel.col_tile = static_cast<int>(num(f[4], 'n'));
    c.kernel.vec_bytes = static_cast<int>(num(f[5], 'v'));
    c.kernel.unroll = static_cast<int>(num(f[6], 'u'));
    PAISPARSE_EXPECTS(f[7] == "u16" || f[7] == "i32",
                      "spmm config '" << s << "': index field '" << f[7] << "' should be u16 or i32");
    c.kernel.index = f[7] == "u16" ? index_kind::u16 : index_kind::i32;
    c.segment_cap = num(f[8], 'c');
    PAISPARSE_EXPECTS(f[9] == "lf" || f[9] == "ro",
                      "spmm config '" << s << "': order field '" << f[9] << "' should be lf or ro");
    c.order = f[9] == "lf" ? item_order::longest_first : item_order::row_order;
    PAISPARSE_EXPECTS(f[10] == "Br" || f[10] == "Bt" || f[10] == "Bc",
                      "spmm config '" << s << "': B field '" << f[10] << "' should be Br, Bt or Bc");
    c.b_layout = f[10] == "Br" ? dense_layout::row_major : dense_layout::col_major;
    c.kernel.access = f[10] == "Bc" ? spmm_b_access::gather : spmm_b_access::rows;
    PAISPARSE_EXPECTS(f[11] == "Cr" || f[11] == "Cc",
                      "spmm config '" << s << "': C field '" << f[11] << "' should be Cr or Cc");
    c.c_layout = f[11] == "Cr" ? dense_layout::row_major : dense_layout::col_major;
    return c;
  }
};

/// Every compiled-in kernel key, in a fixed order (index kind outermost).
inline std::vector<spmm_kernel_key> spmm_kernel_keys() {
  std::vector<spmm_kernel_key> keys;
  for (index_kind ik : {index_kind::u16, index_kind::i32})
    for (spmm_b_access acc : {spmm_b_access::rows, spmm_b_access::gather}) {
      if (acc == spmm_b_access::gather && !space::spmm_gather) continue;
      for (int b : space::spmm_block_threads)
        for (int g : space::spmm_nz_lanes)
          for (int l : space::spmm_col_lanes)
            for (int n : space::spmm_col_tile)
              for (int v : space::spmm_vec_bytes)
                for (int u : space::spmm_unroll)
                  if (spmm_shape_compiled(b, g, l, n, acc == spmm_b_access::gather))
                    keys.push_back({b, g, l, n, v, u, ik, acc});
    }
  return keys;
}

/// Why a kernel key cannot run values of `value_bytes` bytes, or "" if it can.
inline std::string spmm_cannot_implement(const spmm_kernel_key& k, int value_bytes) {
  std::ostringstream os;
  const int elems = k.vec_bytes / value_bytes;
  const int team = k.team_threads();
  const int tile_bytes = k.col_tile * value_bytes;
  if (elems < 1) os << "a " << k.vec_bytes << "-byte vector holds no " << value_bytes << "-byte value";
  else if (k.index == index_kind::u16 && elems * 2 < 4) os << "16-bit indices need at least 2 values per vector";
  else if (team < 1 || team > 32 || (team & (team - 1)) != 0)
    os << "a team of " << k.nz_lanes << " x " << k.col_lanes << " lanes must be a power of two of at most 32";
  else if (k.block_threads % 32 != 0 || k.block_threads % team != 0)
    os << "block of " << k.block_threads << " threads does not divide into warps and teams of " << team;
  else if (tile_bytes != 4 && tile_bytes != 8 && (tile_bytes % 16 != 0 || tile_bytes > 64))
    os << "a tile of " << k.col_tile << " columns is " << tile_bytes << " bytes; expected 4, 8, 16, 32, 48 or 64";
  return os.str();
}

/// Same, for a whole configuration (adds the layout rules).
inline std::string spmm_cannot_implement(const spmm_config& c, int value_bytes) {
  std::string why = spmm_cannot_implement(c.kernel, value_bytes);
  if (why.empty() && c.b_layout == dense_layout::row_major && c.kernel.access == spmm_b_access::gather)
    why = "the gather kernels read column-major B only";
  return why;
}

/// Whether a shape suits N columns: every column lane has at least one
/// column, and no tile is more than half empty unless it is the smallest
/// tile. n <= 0: every shape.
inline bool spmm_shape_suits(const spmm_kernel_key& k, int32_t n) {
  if (n <= 0) return true;
  int smallest = k.col_tile;
  for (int t : space::spmm_col_tile) smallest = std::min(smallest, t);
  return static_cast<int64_t>(k.col_lanes - 1) * k.col_tile < n && (k.col_tile == smallest || k.col_tile / 2 < n);
}

/// Column chunks a launch of `k` has for n columns.
inline int32_t spmm_col_chunks(const spmm_kernel_key& k, int32_t n) {
  return n <= 0 ? 1 : static_cast<int32_t>((static_cast<int64_t>(n) + k.col_pass() - 1) / k.col_pass());
}

/// Segment caps worth trying: 0 (never cut), and the balanced cap, the
/// smallest power of two >= one team pass and >= the nonzeros each team
/// handles when every team the GPU holds at once is busy (column chunks
/// count as work: an item is visited once per chunk), times 1 and 4. Caps
/// no shorter than the longest row are dropped (they cut nothing).
inline std::vector<int64_t> spmm_segment_caps(const spmm_kernel_key& k, int value_bytes, const row_stats& s,
                                              int64_t resident_threads, int32_t n) {
  std::vector<int64_t> caps{0};
  const int64_t pass = std::max<int64_t>(1, k.team_pass(value_bytes));
  const int64_t teams = std::max<int64_t>(1, resident_threads / k.team_threads());
  const int64_t work = static_cast<int64_t>(s.nnz) * spmm_col_chunks(k, n);
  const int64_t share = (work + teams - 1) / teams;
  int64_t cap = 1;
  while (cap < std::max(pass, share)) cap *= 2;
  for (int64_t c : {cap, 4 * cap})
    if (c < s.max_row) caps.push_back(c);
  return caps;
}

/// Schedule knobs of a configuration.
inline schedule_params spmm_schedule_params(const spmm_config& c, int value_bytes) {
  return schedule_params{c.kernel.vec_bytes / value_bytes, c.segment_cap, c.order};
}

/// The search space for a weight, N columns (n <= 0: every shape, caps for
/// one chunk) and the given layouts: kernel keys x segment caps x item
/// orders, and for column-major B both the staged (Bt) and the gather (Bc)
/// kernels.
inline std::vector<spmm_config> spmm_space(int value_bytes, const row_stats& s, int64_t resident_threads, int32_t n,
                                           dense_layout b_layout, dense_layout c_layout,
                                           const std::vector<index_kind>& index_kinds = {index_kind::u16,
                                                                                         index_kind::i32},
                                           const std::vector<item_order>& orders = {item_order::longest_first,
                                                                                    item_order::row_order}) {
  std::vector<spmm_config> out;
  for (const auto& k : spmm_kernel_keys()) {
    if (b_layout == dense_layout::row_major && k.access == spmm_b_access::gather) continue;
    if (!spmm_cannot_implement(k, value_bytes).empty() || !spmm_shape_suits(k, n)) continue;
    if (std::find(index_kinds.begin(), index_kinds.end(), k.index) == index_kinds.end()) continue;
    for (int64_t cap : spmm_segment_caps(k, value_bytes, s, resident_threads, n))
      for (item_order o : orders) out.push_back({k, cap, o, b_layout, c_layout});
  }
  return out;
}

}  // namespace paisparse
