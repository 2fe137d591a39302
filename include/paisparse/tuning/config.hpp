// paisparse: SpMV configurations as values, and the compiled-in search space.
//
// A configuration is printable and parseable, with a stable name used in
// logs, tests, plan files and the tuner's table:
//
//     b256.t8.r2.v16.u2.u16.c512.lf
//     |    |  |  |   |  |   |    `-- item order: lf = longest first, ro = row order
//     |    |  |  |   |  |   `------- segment cap in nonzeros (c0 = rows never cut)
//     |    |  |  |   |  `----------- column index type in the plan: u16 or i32
//     |    |  |  |   `-------------- vector loads per item in flight per thread (unroll)
//     |    |  |  `------------------ bytes per vector load of values (8 or 16)
//     |    |  `--------------------- items (rows or row segments) a team works on side by side
//     |    `------------------------ threads per item (1..32: one group, shuffle
//     |                              only; 64, 128: 2 or 4 warps, + shared memory)
//     `----------------------------- threads per block
//
// The compiled-in kernels are the cartesian product of the lists below. A
// project restricts them (compile time, code size) by defining the macros
// before including paisparse, e.g. -DPAISPARSE_SPMV_ROW_THREADS=4,8,32.
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "../error.hpp"
#include "../format/schedule.hpp"
#include "../types.hpp"

#ifndef PAISPARSE_SPMV_BLOCK_THREADS
#define PAISPARSE_SPMV_BLOCK_THREADS 128, 256
#endif
#ifndef PAISPARSE_SPMV_ROW_THREADS
#define PAISPARSE_SPMV_ROW_THREADS 1, 2, 4, 8, 16, 32, 64, 128
#endif
#ifndef PAISPARSE_SPMV_ITEMS_PER_TEAM
#define PAISPARSE_SPMV_ITEMS_PER_TEAM 1, 2, 4
#endif
#ifndef PAISPARSE_SPMV_VEC_BYTES
#define PAISPARSE_SPMV_VEC_BYTES 8, 16
#endif
#ifndef PAISPARSE_SPMV_UNROLL
#define PAISPARSE_SPMV_UNROLL 1, 2
#endif

namespace paisparse {

namespace space {
inline constexpr std::array spmv_block_threads{PAISPARSE_SPMV_BLOCK_THREADS};
inline constexpr std::array spmv_row_threads{PAISPARSE_SPMV_ROW_THREADS};
inline constexpr std::array spmv_items_per_team{PAISPARSE_SPMV_ITEMS_PER_TEAM};
inline constexpr std::array spmv_vec_bytes{PAISPARSE_SPMV_VEC_BYTES};
inline constexpr std::array spmv_unroll{PAISPARSE_SPMV_UNROLL};
}  // namespace space

/// The compile-time part of a configuration: which kernel instantiation.
struct spmv_kernel_key {
  int block_threads = 256;
  int row_threads = 8;
  int items_per_team = 1;
  int vec_bytes = 16;
  int unroll = 1;
  index_kind index = index_kind::u16;

  friend bool operator==(const spmv_kernel_key& a, const spmv_kernel_key& b) {
    return a.block_threads == b.block_threads && a.row_threads == b.row_threads &&
           a.items_per_team == b.items_per_team && a.vec_bytes == b.vec_bytes &&
           a.unroll == b.unroll && a.index == b.index;
  }
  /// Nonzeros one full pass of a row team covers.
  int64_t team_pass(int value_bytes) const {
    return static_cast<int64_t>(row_threads) * (vec_bytes / value_bytes) * unroll;
  }
};

/// A full SpMV configuration: kernel plus schedule.
struct spmv_config {
  spmv_kernel_key kernel;
  int64_t segment_cap = 0;  // 0: rows are never cut
  item_order order = item_order::longest_first;

  std::string name() const {
    std::ostringstream os;
    os << 'b' << kernel.block_threads << ".t" << kernel.row_threads << ".r" << kernel.items_per_team << ".v"
       << kernel.vec_bytes << ".u"
       << kernel.unroll << '.' << to_string(kernel.index) << ".c" << segment_cap << '.' << to_string(order);
    return os.str();
  }
  friend bool operator==(const spmv_config& a, const spmv_config& b) {
    return a.kernel == b.kernel && a.segment_cap == b.segment_cap && a.order == b.order;
  }

  /// Parses a name produced by name(); throws paisparse::error naming the bad field.
  static spmv_config parse(std::string_view s) {
    spmv_config c;
    std::vector<std::string> f;
    std::string cur;
    for (char ch : s) {
      if (ch == '.') f.push_back(cur), cur.clear();
      else cur.push_back(ch);
    }
    f.push_back(cur);
    PAISPARSE_EXPECTS(f.size() == 8, "spmv config '" << s << "': expected 8 dot-separated fields like "
                                                     << "b256.t8.r1.v16.u2.u16.c0.lf, got " << f.size());
    auto num = [&](const std::string& field, char tag) -> int64_t {
      PAISPARSE_EXPECTS(field.size() >= 2 && field[0] == tag &&
                            field.find_first_not_of("0123456789", 1) == std::string::npos && field.size() < 12,
                        "spmv config '" << s << "': field '" << field << "' should be '" << tag << "<number>'");
      return std::stoll(field.substr(1));
    };
    c.kernel.block_threads = static_cast<int>(num(f[0], 'b'));
    c.kernel.row_threads = static_cast<int>(num(f[1], 't'));
    c.kernel.items_per_team = static_cast<int>(num(f[2], 'r'));
    c.kernel.vec_bytes = static_cast<int>(num(f[3], 'v'));
    c.kernel.unroll = static_cast<int>(num(f[4], 'u'));
    PAISPARSE_EXPECTS(f[5] == "u16" || f[5] == "i32",
                      "spmv config '" << s << "': index field '" << f[5] << "' should be u16 or i32");
    c.kernel.index = f[5] == "u16" ? index_kind::u16 : index_kind::i32;
    c.segment_cap = num(f[6], 'c');
    PAISPARSE_EXPECTS(f[7] == "lf" || f[7] == "ro",
                      "spmv config '" << s << "': order field '" << f[7] << "' should be lf or ro");
    c.order = f[7] == "lf" ? item_order::longest_first : item_order::row_order;
    return c;
  }
};

/// Every compiled-in kernel key, in a fixed order (index kind outermost).
inline std::vector<spmv_kernel_key> spmv_kernel_keys() {
  std::vector<spmv_kernel_key> keys;
  for (index_kind ik : {index_kind::u16, index_kind::i32})
    for (int b : space::spmv_block_threads)
      for (int t : space::spmv_row_threads)
        for (int r : space::spmv_items_per_team)
          for (int v : space::spmv_vec_bytes)
            for (int u : space::spmv_unroll)
              if (b % t == 0 && (r == 1 || t <= 32)) keys.push_back({b, t, r, v, u, ik});
  return keys;
}

/// Why a kernel key cannot run value type of `value_bytes` bytes, or "" if it can.
inline std::string spmv_cannot_implement(const spmv_kernel_key& k, int value_bytes) {
  std::ostringstream os;
  const int elems = k.vec_bytes / value_bytes;
  if (elems < 1) os << "a " << k.vec_bytes << "-byte vector holds no " << value_bytes << "-byte value";
  else if (k.index == index_kind::u16 && elems * 2 < 4) os << "16-bit indices need at least 2 values per vector";
  else if (k.block_threads % k.row_threads != 0) os << "block of " << k.block_threads << " threads does not divide into teams of " << k.row_threads;
  else if (k.row_threads > 32 && k.row_threads % 32 != 0) os << "row teams above 32 threads must be whole warps";
  else if (k.items_per_team > 1 && k.row_threads > 32) os << "several items per team need teams of at most 32 threads";
  return os.str();
}

/// Statistics of a weight's rows that the tuner derives segment caps from.
struct row_stats {
  int32_t rows = 0, cols = 0, nnz = 0, max_row = 0, empty_rows = 0;
  double mean = 0, cv = 0;  // mean row length, coefficient of variation
};

template <class T>
row_stats compute_row_stats(const host_csr<T, int32_t>& w) {
  row_stats s;
  s.rows = w.rows();
  s.cols = w.cols();
  s.nnz = w.nnz();
  double sum = 0, sq = 0;
  for (int32_t r = 0; r < w.rows(); ++r) {
    const int32_t l = w.row_length(r);
    s.max_row = std::max(s.max_row, l);
    s.empty_rows += l == 0;
    sum += l;
    sq += static_cast<double>(l) * l;
  }
  if (s.rows > 0) {
    s.mean = sum / s.rows;
    const double var = std::max(0.0, sq / s.rows - s.mean * s.mean);
    s.cv = s.mean > 0 ? std::sqrt(var) / s.mean : 0.0;
  }
  return s;
}

/// Segment caps worth trying for a kernel on a weight: 0 (never cut), and the
/// balanced cap, the smallest power of two >= one team pass and >= the
/// per-team share of the nonzeros when every team the GPU holds at once is
/// busy (`resident_threads` = SMs x threads per SM), times 1 and 4.
/// Caps no shorter than the longest row are dropped (they cut nothing).
inline std::vector<int64_t> spmv_segment_caps(const spmv_kernel_key& k, int value_bytes, const row_stats& s,
                                              int64_t resident_threads) {
  std::vector<int64_t> caps{0};
  const int64_t pass = k.team_pass(value_bytes);
  const int64_t teams = std::max<int64_t>(1, resident_threads / k.row_threads * k.items_per_team);
  const int64_t share = (static_cast<int64_t>(s.nnz) + teams - 1) / teams;
  int64_t cap = 1;
  while (cap < std::max(pass, share)) cap *= 2;
  for (int64_t c : {cap, 4 * cap})
    if (c < s.max_row) caps.push_back(c);
  return caps;
}

/// The whole search space for a weight: kernel keys x segment caps x item orders.
inline std::vector<spmv_config> spmv_space(int value_bytes, const row_stats& s, int64_t resident_threads,
                                           const std::vector<index_kind>& index_kinds = {index_kind::u16,
                                                                                         index_kind::i32},
                                           const std::vector<item_order>& orders = {item_order::longest_first,
                                                                                    item_order::row_order}) {
  std::vector<spmv_config> out;
  for (const auto& k : spmv_kernel_keys()) {
    if (!spmv_cannot_implement(k, value_bytes).empty()) continue;
    bool wanted = false;
    for (index_kind ik : index_kinds) wanted |= ik == k.index;
    if (!wanted) continue;
    for (int64_t cap : spmv_segment_caps(k, value_bytes, s, resident_threads))
      for (item_order o : orders) out.push_back({k, cap, o});
  }
  return out;
}

}  // namespace paisparse
