// paisparse: the scheduled weight, the re-encoded form a plan owns and its
// kernels read.
//
// The weight is cut into work items. An item is one row, or a segment of a
// row: long rows are cut into segments of at most `segment_cap` nonzeros, and
// with 16-bit indices a row is also cut at every 65536-column panel boundary
// (each item then stores its panel's base column, and its indices are
// relative to that base, so 16-bit indices work for any number of columns).
// A schedule can also ask for narrower panels (panel_cols): the SpMM kernels
// that stage a panel of B in shared memory cut every row at every panel
// boundary and lay the items out panel by panel.
// Each item's nonzeros are padded with explicit zeros to a multiple of the
// vector width, so every vector load is aligned. Items are laid out
// contiguously in schedule order: by default longest first, so that the
// groups of one warp get items of similar length and the longest ones start
// first; or in row order.
//
// Every row, empty ones included, owns at least one item, so every output
// element gets its epilog. A row cut into several items ("split row") is
// combined through fp32 atomics in a workspace; the last item to finish
// applies the epilog (see epilog/ and kernels/).
#pragma once

#include <algorithm>
#include <cstdint>
#include <limits>
#include <numeric>
#include <vector>

#include "../error.hpp"
#include "csr.hpp"

namespace paisparse {

/// Order in which items are laid out and launched.
enum class item_order { longest_first, row_order };

inline const char* to_string(item_order o) { return o == item_order::longest_first ? "lf" : "ro"; }

/// Knobs of a schedule. vec_elems: padding multiple (elements per vector
/// load). segment_cap: longest item in nonzeros, 0 for no limit (rounded up
/// to a multiple of vec_elems). panel_cols: 0, or cut rows at every multiple
/// of panel_cols columns, store each item's panel base, and lay the items
/// out panel by panel (in `order` within a panel); at most 65536 with
/// 16-bit indices.
struct schedule_params {
  int vec_elems = 8;
  int64_t segment_cap = 0;
  item_order order = item_order::longest_first;
  int32_t panel_cols = 0;
};

/// Host form of a scheduled weight.
template <class T, class I>
struct host_schedule {
  int32_t rows = 0, cols = 0, nnz = 0;   // of the original weight
  std::vector<int32_t> item_ptr;         // n_items + 1, into values / indices (multiples of vec_elems)
  std::vector<int32_t> item_row;         // row of each item; bit 31 set when the row is split
  std::vector<int32_t> item_base;        // column base per item (empty unless rows are cut into panels)
  std::vector<int32_t> row_items;        // items per row (empty unless some row is split)
  std::vector<I> indices;                // padded; relative to item_base when present
  std::vector<T> values;                 // padded with zeros
  int32_t n_items() const { return static_cast<int32_t>(item_row.size()); }
  int64_t padded_nnz() const { return static_cast<int64_t>(values.size()); }
  int32_t split_rows = 0;                // rows with more than one item
  int32_t longest_item = 0;              // in padded nonzeros
};

inline constexpr int32_t split_flag = static_cast<int32_t>(0x80000000u);

/// Builds the schedule of `w` for index type I. Throws if the padded weight
/// would need 2^31 or more entries.
template <class I, class T>
host_schedule<T, I> build_schedule(const host_csr<T, int32_t>& w, const schedule_params& p) {
  PAISPARSE_EXPECTS(p.vec_elems >= 1 && p.vec_elems <= 64, "schedule: vec_elems = " << p.vec_elems
                                                                                    << ", expected 1..64");
  PAISPARSE_EXPECTS(p.segment_cap >= 0, "schedule: segment_cap = " << p.segment_cap << ", expected >= 0");
  PAISPARSE_EXPECTS(p.panel_cols >= 0 && (p.panel_cols <= static_cast<int32_t>(u16_max_cols) ||
                                            !std::is_same_v<I, uint16_t>),
                    "schedule: panel_cols = " << p.panel_cols << ", expected 0.." << u16_max_cols
                                              << " with 16-bit indices");
  const int V = p.vec_elems;
  const bool panels = p.panel_cols > 0 || (std::is_same_v<I, uint16_t> && w.cols() > u16_max_cols);
  const int32_t panel_width = p.panel_cols > 0 ? p.panel_cols : static_cast<int32_t>(u16_max_cols);
  const int64_t cap = p.segment_cap > 0 ? ((p.segment_cap + V - 1) / V) * V : 0;

  struct item {
    int32_t row, begin, end, base;  // [begin, end) into w's arrays
  };
  std::vector<item> items;
  items.reserve(static_cast<std::size_t>(w.rows()));
  std::vector<int32_t> per_row(static_cast<std::size_t>(w.rows()), 0);
  const auto& off = w.row_offsets();
  const auto& col = w.col_indices();
  for (int32_t r = 0; r < w.rows(); ++r) {
    int32_t b = off[r];
    const int32_t e = off[r + 1];
    if (b == e) {
      items.push_back({r, b, e, 0});
      per_row[r] = 1;
      continue;
    }
    while (b < e) {  // one panel at a time
      int32_t pe = e;
      int32_t base = 0;
      if (panels) {
        base = (col[b] / panel_width) * panel_width;
        pe = static_cast<int32_t>(
            std::lower_bound(col.begin() + b, col.begin() + e, static_cast<int64_t>(base) + panel_width) -
            col.begin());
      }
      const int64_t len = pe - b;
      const int64_t nseg = cap > 0 ? (len + cap - 1) / cap : 1;
      // near-equal segments, each a multiple of V except the last
      const int64_t seg = ((len + nseg - 1) / nseg + V - 1) / V * V;
      for (int32_t s = b; s < pe; s = static_cast<int32_t>(std::min<int64_t>(s + seg, pe))) {
        items.push_back({r, s, static_cast<int32_t>(std::min<int64_t>(s + seg, pe)), base});
        ++per_row[r];
      }
      b = pe;
    }
  }
  auto padded = [V](const item& it) { return static_cast<int64_t>((it.end - it.begin + V - 1) / V) * V; };
  if (p.order == item_order::longest_first) {
    std::stable_sort(items.begin(), items.end(),
                     [&](const item& a, const item& b) { return padded(a) > padded(b); });
  }
  if (p.panel_cols > 0)  // panel by panel, the order above within each
    std::stable_sort(items.begin(), items.end(), [](const item& a, const item& b) { return a.base < b.base; });

  host_schedule<T, I> s;
  s.rows = w.rows();
  s.cols = w.cols();
  s.nnz = w.nnz();
  s.item_ptr.resize(items.size() + 1);
  s.item_row.resize(items.size());
  if (panels) s.item_base.resize(items.size());
  int64_t total = 0;
  for (std::size_t i = 0; i < items.size(); ++i) {
    s.item_ptr[i] = static_cast<int32_t>(total);
    total += padded(items[i]);
    PAISPARSE_EXPECTS(total < std::numeric_limits<int32_t>::max(),
                      "schedule: the weight padded to multiples of " << V << " needs " << total
                                                                     << "+ entries: at most 2^31 - 1 are supported");
    s.longest_item = std::max<int32_t>(s.longest_item, static_cast<int32_t>(padded(items[i])));
  }
  s.item_ptr[items.size()] = static_cast<int32_t>(total);
  s.values.assign(static_cast<std::size_t>(total), from_float<T>(0.f));
  s.indices.assign(static_cast<std::size_t>(total), I{0});
  bool any_split = false;
  for (int32_t r = 0; r < w.rows(); ++r) {
    if (per_row[r] > 1) {
      any_split = true;
      ++s.split_rows;
    }
  }
  if (any_split) s.row_items = per_row;
  const auto& val = w.values();
  for (std::size_t i = 0; i < items.size(); ++i) {
    const item& it = items[i];
    s.item_row[i] = it.row | (per_row[it.row] > 1 ? split_flag : 0);
    if (panels) s.item_base[i] = it.base;
    int32_t dst = s.item_ptr[i];
    for (int32_t k = it.begin; k < it.end; ++k, ++dst) {
      s.values[dst] = val[k];
      s.indices[dst] = static_cast<I>(col[k] - it.base);
    }
  }
  return s;
}

}  // namespace paisparse
