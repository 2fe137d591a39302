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
//     |                              only; 64, 128: 2 or 4 warps, + shared memory),
//     |                              or tA<P>: adaptive, each length bin of items
//     |                              gets the smallest team (1..block) that covers
//     |                              its items in at most P passes per thread
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
#include "../kernels/spmv_bins.hpp"
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
#ifndef PAISPARSE_SPMV_ADAPTIVE  // compile the adaptive (binned) kernels too
#define PAISPARSE_SPMV_ADAPTIVE 1
#endif
#ifndef PAISPARSE_SPMV_ADAPTIVE_PASSES  // run-time: passes tried by the tuner
#define PAISPARSE_SPMV_ADAPTIVE_PASSES 1, 2, 4
#endif

namespace paisparse {

namespace detail {
/// The dot-separated fields of a configuration name.
inline std::vector<std::string> config_fields(std::string_view s) {
  std::vector<std::string> f(1);
  for (char ch : s) {
    if (ch == '.') f.emplace_back();
    else f.back().push_back(ch);
  }
  return f;
}

/// Field "<tag><digits>" of the configuration name `s` (kind: "spmv" or
/// "spmm"); throws paisparse::error naming the field.
inline int64_t config_number(const char* kind, std::string_view s, const std::string& field, char tag) {
  PAISPARSE_EXPECTS(field.size() >= 2 && field[0] == tag &&
                        field.find_first_not_of("0123456789", 1) == std::string::npos && field.size() < 12,
                    kind << " config '" << s << "': field '" << field << "' should be '" << tag << "<number>'");
  return std::stoll(field.substr(1));
}

inline index_kind config_index(const char* kind, std::string_view s, const std::string& field) {
  PAISPARSE_EXPECTS(field == "u16" || field == "i32",
                    kind << " config '" << s << "': index field '" << field << "' should be u16 or i32");
  return field == "u16" ? index_kind::u16 : index_kind::i32;
}

inline item_order config_order(const char* kind, std::string_view s, const std::string& field) {
  PAISPARSE_EXPECTS(field == "lf" || field == "ro",
                    kind << " config '" << s << "': order field '" << field << "' should be lf or ro");
  return field == "lf" ? item_order::longest_first : item_order::row_order;
}
}  // namespace detail

namespace space {
inline constexpr std::array spmv_block_threads{PAISPARSE_SPMV_BLOCK_THREADS};
inline constexpr std::array spmv_row_threads{PAISPARSE_SPMV_ROW_THREADS};
inline constexpr std::array spmv_items_per_team{PAISPARSE_SPMV_ITEMS_PER_TEAM};
inline constexpr std::array spmv_vec_bytes{PAISPARSE_SPMV_VEC_BYTES};
inline constexpr std::array spmv_unroll{PAISPARSE_SPMV_UNROLL};
inline constexpr bool spmv_adaptive = PAISPARSE_SPMV_ADAPTIVE;
inline constexpr std::array spmv_adaptive_passes{PAISPARSE_SPMV_ADAPTIVE_PASSES};
}  // namespace space

/// The compile-time part of a configuration: which kernel instantiation.
/// row_threads == 0 names the adaptive kernel (team size per length bin).
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
  bool adaptive() const { return row_threads == 0; }
  /// Nonzeros one full pass of a row team covers (the largest team when adaptive).
  int64_t team_pass(int value_bytes) const {
    return static_cast<int64_t>(adaptive() ? block_threads : row_threads) * (vec_bytes / value_bytes) * unroll;
  }
};

/// A full SpMV configuration: kernel plus schedule.
struct spmv_config {
  spmv_kernel_key kernel;
  int64_t segment_cap = 0;  // 0: rows are never cut
  item_order order = item_order::longest_first;
  int passes = 0;           // adaptive kernels: most vector passes per thread (>= 1)

  std::string name() const {
    std::ostringstream os;
    os << 'b' << kernel.block_threads << ".t";
    if (kernel.adaptive()) os << 'A' << passes;
    else os << kernel.row_threads;
    os << ".r" << kernel.items_per_team << ".v"
       << kernel.vec_bytes << ".u"
       << kernel.unroll << '.' << to_string(kernel.index) << ".c" << segment_cap << '.' << to_string(order);
    return os.str();
  }
  friend bool operator==(const spmv_config& a, const spmv_config& b) {
    return a.kernel == b.kernel && a.segment_cap == b.segment_cap && a.order == b.order && a.passes == b.passes;
  }

  /// Parses a name produced by name(); throws paisparse::error naming the bad field.
  static spmv_config parse(std::string_view s) {
    spmv_config c;
    const std::vector<std::string> f = detail::config_fields(s);
    PAISPARSE_EXPECTS(f.size() == 8, "spmv config '" << s << "': expected 8 dot-separated fields like "
                                                     << "b256.t8.r1.v16.u2.u16.c0.lf, got " << f.size());
    auto num = [&](const std::string& field, char tag) { return detail::config_number("spmv", s, field, tag); };
    c.kernel.block_threads = static_cast<int>(num(f[0], 'b'));
    if (f[1].rfind("tA", 0) == 0) {
      c.kernel.row_threads = 0;
      c.passes = static_cast<int>(num("p" + f[1].substr(2), 'p'));
      PAISPARSE_EXPECTS(c.passes >= 1, "spmv config '" << s << "': adaptive passes must be >= 1");
    } else {
      c.kernel.row_threads = static_cast<int>(num(f[1], 't'));
    }
    c.kernel.items_per_team = static_cast<int>(num(f[2], 'r'));
    c.kernel.vec_bytes = static_cast<int>(num(f[3], 'v'));
    c.kernel.unroll = static_cast<int>(num(f[4], 'u'));
    c.kernel.index = detail::config_index("spmv", s, f[5]);
    c.segment_cap = num(f[6], 'c');
    c.order = detail::config_order("spmv", s, f[7]);
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
  if (space::spmv_adaptive)
    for (index_kind ik : {index_kind::u16, index_kind::i32})
      for (int b : space::spmv_block_threads)
        for (int v : space::spmv_vec_bytes)
          for (int u : space::spmv_unroll) keys.push_back({b, 0, 1, v, u, ik});
  return keys;
}

/// Why a kernel key cannot run value type of `value_bytes` bytes, or "" if it can.
inline std::string spmv_cannot_implement(const spmv_kernel_key& k, int value_bytes) {
  std::ostringstream os;
  const int elems = k.vec_bytes / value_bytes;
  if (elems < 1) os << "a " << k.vec_bytes << "-byte vector holds no " << value_bytes << "-byte value";
  else if (k.index == index_kind::u16 && elems * 2 < 4) os << "16-bit indices need at least 2 values per vector";
  else if (k.adaptive() && k.items_per_team != 1) os << "the adaptive kernel takes one item per team";
  else if (!k.adaptive() && k.block_threads % k.row_threads != 0) os << "block of " << k.block_threads << " threads does not divide into teams of " << k.row_threads;
  else if (k.row_threads > 32 && k.row_threads % 32 != 0) os << "row teams above 32 threads must be whole warps";
  else if (k.items_per_team > 1 && k.row_threads > 32) os << "several items per team need teams of at most 32 threads";
  return os.str();
}

/// The length bins of the adaptive kernel for a scheduled weight whose item
/// i spans item_ptr[i] .. item_ptr[i + 1] (longest first): each item gets the
/// smallest power-of-two team, up to the block, covering its vectors in at
/// most `passes` passes of `unroll` vectors per thread.
inline spmv_bins make_spmv_bins(const std::vector<int32_t>& item_ptr, int vec_elems, int unroll, int passes,
                                int block_threads) {
  PAISPARSE_EXPECTS(passes >= 1, "adaptive spmv: passes = " << passes << ", expected >= 1");
  spmv_bins bins;
  const int64_t n = static_cast<int64_t>(item_ptr.size()) - 1;
  int prev = 1 << 30;
  int64_t blocks = 0;
  for (int64_t i = 0; i < n; ++i) {
    const int64_t vecs = (item_ptr[i + 1] - item_ptr[i]) / vec_elems;
    int log2 = 0;
    while ((1 << log2) < block_threads && static_cast<int64_t>(1 << log2) * unroll * passes < vecs) ++log2;
    PAISPARSE_EXPECTS(log2 <= prev, "adaptive spmv: items must be in longest-first order (item "
                                        << i << " is longer than item " << i - 1 << ")");
    if (log2 != prev) {
      if (bins.count > 0) {
        const int64_t per_block = block_threads >> bins.team_log2[bins.count - 1];
        blocks += (i - bins.item_begin[bins.count - 1] + per_block - 1) / per_block;
      }
      bins.team_log2[bins.count] = log2;
      bins.item_begin[bins.count] = static_cast<int32_t>(i);
      bins.block_begin[bins.count] = static_cast<int32_t>(blocks);
      ++bins.count;
      prev = log2;
    }
  }
  if (bins.count > 0) {
    const int64_t per_block = block_threads >> bins.team_log2[bins.count - 1];
    blocks += (n - bins.item_begin[bins.count - 1] + per_block - 1) / per_block;
  }
  bins.item_begin[bins.count] = static_cast<int32_t>(std::max<int64_t>(n, 0));
  bins.block_begin[bins.count] = static_cast<int32_t>(blocks);
  return bins;
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
  if (k.adaptive()) {  // teams already grow with the rows; cut only rows a whole block needs > 4 passes for
    if (4 * pass < s.max_row) caps.push_back(4 * pass);
    return caps;
  }
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
    for (int64_t cap : spmv_segment_caps(k, value_bytes, s, resident_threads)) {
      if (k.adaptive()) {  // bins need the longest-first order
        for (int p : space::spmv_adaptive_passes) out.push_back({k, cap, item_order::longest_first, p});
      } else {
        for (item_order o : orders) out.push_back({k, cap, o});
      }
    }
  }
  return out;
}

}  // namespace paisparse
