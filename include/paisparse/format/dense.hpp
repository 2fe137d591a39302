// paisparse: the dense operands of SpMM (B and C): layouts and non-owning views.
//
// A dense rows x cols matrix in device memory is a pointer, a leading
// dimension and a layout:
//
//   row_major   element (r, c) at data[r * ld + c]   (ld >= cols)
//   col_major   element (r, c) at data[c * ld + r]   (ld >= rows)
//
// dense_view<T> also carries `size`, the number of elements reachable from
// `data` (the allocation, or the span the caller hands over), so that a call
// can check that everything it will touch lies inside.
#pragma once

#include <cstddef>
#include <cstdint>
#include <type_traits>

namespace paisparse {

enum class dense_layout { row_major, col_major };

inline const char* to_string(dense_layout l) { return l == dense_layout::row_major ? "row_major" : "col_major"; }

/// Non-owning view of a dense matrix in device memory (trivially copyable).
/// The extent (rows, cols) is not part of the view: the call that uses it
/// knows it (e.g. SpMM: B is K x N, C is M x N).
template <class T>
struct dense_view {
  T* data = nullptr;
  std::size_t size = 0;  // elements reachable from data
  int64_t ld = 0;        // leading dimension, in elements
  dense_layout layout = dense_layout::row_major;

  constexpr dense_view() = default;
  constexpr dense_view(T* d, std::size_t n, int64_t lead, dense_layout l) : data(d), size(n), ld(lead), layout(l) {}
  /// A view of T converts to a view of const T.
  template <class U, class = std::enable_if_t<std::is_same_v<const U, T> && !std::is_same_v<U, T>>>
  constexpr dense_view(const dense_view<U>& o) : data(o.data), size(o.size), ld(o.ld), layout(o.layout) {}
};

/// Row-major view: element (r, c) at data[r * ld + c].
template <class T>
constexpr dense_view<T> row_major_view(T* data, std::size_t size, int64_t ld) {
  return dense_view<T>(data, size, ld, dense_layout::row_major);
}

/// Column-major view: element (r, c) at data[c * ld + r].
template <class T>
constexpr dense_view<T> col_major_view(T* data, std::size_t size, int64_t ld) {
  return dense_view<T>(data, size, ld, dense_layout::col_major);
}

/// Elements a rows x cols matrix spans from its first element (0 when empty):
/// what `size` must at least be.
constexpr int64_t dense_extent(int64_t rows, int64_t cols, int64_t ld, dense_layout l) {
  if (rows <= 0 || cols <= 0) return 0;
  return l == dense_layout::row_major ? (rows - 1) * ld + cols : (cols - 1) * ld + rows;
}

/// Offset of element (r, c).
constexpr int64_t dense_offset(int64_t r, int64_t c, int64_t ld, dense_layout l) {
  return l == dense_layout::row_major ? r * ld + c : c * ld + r;
}

}  // namespace paisparse
