// paisparse: synthetic pruned-weight generators (fixed seeds, reproducible).
//
// Pruned LLM weights keep very different numbers of weights per row. The
// lognormal generator draws each row's density from a lognormal law with the
// requested mean density and log-standard-deviation sigma (0.8 is typical of
// magnitude-pruned LLM layers), then picks that many distinct columns
// uniformly. Values are uniform in [-1, 1].
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <unordered_set>
#include <vector>

#include "../error.hpp"
#include "csr.hpp"

namespace paisparse {

enum class row_distribution { uniform, lognormal };

inline const char* to_string(row_distribution d) { return d == row_distribution::uniform ? "uniform" : "lognormal"; }

/// A random rows x cols CSR weight with about density * rows * cols nonzeros.
/// uniform: every row has the same expected length (binomial counts);
/// lognormal: row lengths follow density * cols * exp(sigma z - sigma^2 / 2), clipped to cols.
template <class T>
host_csr<T, int32_t> random_csr(int64_t rows, int64_t cols, double density, row_distribution dist,
                                double sigma = 0.8, uint64_t seed = 1) {
  PAISPARSE_EXPECTS(rows >= 0 && cols >= 0, "random_csr: rows = " << rows << ", cols = " << cols
                                                                   << ": expected non-negative");
  PAISPARSE_EXPECTS(density >= 0 && density <= 1, "random_csr: density = " << density << ", expected 0..1");
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal(0.0, 1.0);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  std::uniform_real_distribution<float> value(-1.f, 1.f);
  std::vector<int32_t> offsets(static_cast<std::size_t>(rows) + 1, 0);
  std::vector<int64_t> lengths(static_cast<std::size_t>(rows));
  int64_t total = 0;
  for (int64_t r = 0; r < rows; ++r) {
    double mean = density * static_cast<double>(cols);
    if (dist == row_distribution::lognormal) mean *= std::exp(sigma * normal(rng) - 0.5 * sigma * sigma);
    // stochastic rounding keeps the expected total
    int64_t l = static_cast<int64_t>(std::floor(mean));
    if (unit(rng) < mean - std::floor(mean)) ++l;
    l = std::clamp<int64_t>(l, 0, cols);
    lengths[static_cast<std::size_t>(r)] = l;
    total += l;
    PAISPARSE_EXPECTS(total <= std::numeric_limits<int32_t>::max(),
                      "random_csr: more than 2^31 - 1 nonzeros requested");
    offsets[static_cast<std::size_t>(r) + 1] = static_cast<int32_t>(total);
  }
  std::vector<int32_t> idx(static_cast<std::size_t>(total));
  std::vector<T> val(static_cast<std::size_t>(total));
  std::unordered_set<int64_t> chosen;
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t l = lengths[static_cast<std::size_t>(r)];
    int32_t* out = idx.data() + offsets[static_cast<std::size_t>(r)];
    if (l * 16 >= cols) {  // dense-ish row: selection sampling over all columns, already sorted
      int64_t need = l;
      for (int64_t c = 0; c < cols && need > 0; ++c)
        if (unit(rng) * static_cast<double>(cols - c) < static_cast<double>(need)) *out++ = static_cast<int32_t>(c), --need;
    } else {  // sparse row: Floyd's sampling, then sort
      chosen.clear();
      for (int64_t j = cols - l; j < cols; ++j) {
        const int64_t t = std::uniform_int_distribution<int64_t>(0, j)(rng);
        if (!chosen.insert(t).second) chosen.insert(j);
      }
      std::copy(chosen.begin(), chosen.end(), out);
      std::sort(out, out + l);
    }
  }
  for (auto& v : val) v = from_float<T>(value(rng));
  return host_csr<T, int32_t>(rows, cols, std::move(offsets), std::move(idx), std::move(val));
}

}  // namespace paisparse
