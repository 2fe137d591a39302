// Shared helpers of the GPU tests: the matrix set and a checked SpMV run.
#pragma once

#include <gtest/gtest.h>

#include <paisparse/paisparse.cuh>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace ptest {

using namespace paisparse;

struct named_matrix {
  std::string name;
  host_csr<float> w;
};

/// The matrix set every candidate runs on (fixed seeds; values never all zero).
inline std::vector<named_matrix> matrix_set() {
  std::vector<named_matrix> m;
  m.push_back({"uniform_1000x777", random_csr<float>(1000, 777, 0.05, row_distribution::uniform, 0, 101)});
  m.push_back({"lognormal_2048x1500", random_csr<float>(2048, 1500, 0.02, row_distribution::lognormal, 0.8, 102)});
  m.push_back({"lognormal_heavy_1500x3000", random_csr<float>(1500, 3000, 0.01, row_distribution::lognormal, 2.0, 103)});
  m.push_back({"nnz0_300x200", host_csr<float>(300, 200, std::vector<int32_t>(301, 0), {}, {})});
  {  // mostly empty rows
    auto base = random_csr<float>(700, 900, 0.03, row_distribution::uniform, 0, 104);
    std::vector<int32_t> off{0}, idx;
    std::vector<float> val;
    for (int r = 0; r < base.rows(); ++r) {
      if (r % 5 == 0)
        for (int k = base.row_offsets()[r]; k < base.row_offsets()[r + 1]; ++k)
          idx.push_back(base.col_indices()[k]), val.push_back(base.values()[k]);
      off.push_back(static_cast<int32_t>(idx.size()));
    }
    m.push_back({"empty_rows_700x900", host_csr<float>(700, 900, off, idx, val)});
  }
  {  // one dense row among short ones
    auto base = random_csr<float>(500, 3000, 0.002, row_distribution::uniform, 0, 105);
    std::vector<int32_t> off{0}, idx;
    std::vector<float> val;
    for (int r = 0; r < base.rows(); ++r) {
      if (r == 137) {
        for (int c = 0; c < 3000; ++c) idx.push_back(c), val.push_back(0.5f + (c % 13) * 0.01f * (c % 2 ? 1 : -1));
      } else {
        for (int k = base.row_offsets()[r]; k < base.row_offsets()[r + 1]; ++k)
          idx.push_back(base.col_indices()[k]), val.push_back(base.values()[k]);
      }
      off.push_back(static_cast<int32_t>(idx.size()));
    }
    m.push_back({"one_dense_row_500x3000", host_csr<float>(500, 3000, off, idx, val)});
  }
  m.push_back({"row_1x5000", random_csr<float>(1, 5000, 0.3, row_distribution::uniform, 0, 106)});
  m.push_back({"col_3000x1", random_csr<float>(3000, 1, 0.5, row_distribution::uniform, 0, 107)});
  {  // K = 65537: 16-bit indices need panels; make sure the last columns are used
    auto base = random_csr<float>(64, 65537, 0.01, row_distribution::lognormal, 0.8, 108);
    std::vector<int32_t> off{0}, idx;
    std::vector<float> val;
    for (int r = 0; r < 64; ++r) {
      for (int k = base.row_offsets()[r]; k < base.row_offsets()[r + 1]; ++k)
        if (base.col_indices()[k] < 65535) idx.push_back(base.col_indices()[k]), val.push_back(base.values()[k]);
      for (int c : {65535, 65536})
        if ((r + c) % 2) idx.push_back(c), val.push_back(0.25f + r * 0.01f);
      off.push_back(static_cast<int32_t>(idx.size()));
    }
    m.push_back({"K65537_64x65537", host_csr<float>(64, 65537, off, idx, val)});
  }
  return m;
}

/// Reads a DLMC .smtx pattern (values drawn with `seed`).
inline host_csr<float> read_smtx_for_test(const std::string& path, uint64_t seed) {
  std::ifstream f(path);
  PAISPARSE_EXPECTS(f.good(), "cannot open " << path);
  int64_t rows, cols, nnz;
  char comma;
  f >> rows >> comma >> cols >> comma >> nnz;
  std::vector<int32_t> off(rows + 1), idx(nnz);
  for (auto& o : off) f >> o;
  for (auto& c : idx) f >> c;
  PAISPARSE_EXPECTS(!f.fail(), "malformed " << path);
  auto vals = detail::random_vector<float>(static_cast<std::size_t>(nnz), seed);
  return host_csr<float>(rows, cols, std::move(off), std::move(idx), std::move(vals));
}

/// Every .smtx file under $PAISPARSE_DLMC_DIR (empty if unset).
inline std::vector<std::string> dlmc_files() {
  std::vector<std::string> out;
  const char* dir = std::getenv("PAISPARSE_DLMC_DIR");
  if (!dir || !std::filesystem::is_directory(dir)) return out;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir))
    if (e.is_regular_file() && e.path().extension() == ".smtx") out.push_back(e.path().string());
  std::sort(out.begin(), out.end());
  return out;
}

template <class T>
struct device_vectors {
  device_buffer<T> x, y;
  device_vectors(int32_t rows, int32_t cols) : x(static_cast<std::size_t>(cols)), y(static_cast<std::size_t>(rows)) {}
};

template <class T>
void poison(device_buffer<T>& b) {
  PAISPARSE_CUDA_TRY(cudaMemset(b.data(), 0xff, b.size() * sizeof(T)));
}

template <class T>
void upload(device_buffer<T>& d, const std::vector<T>& h) {
  PAISPARSE_CUDA_TRY(cudaMemcpy(d.data(), h.data(), h.size() * sizeof(T), cudaMemcpyHostToDevice));
}

/// Runs every candidate of the space on w and checks it against float64:
/// per schedule (one group of candidates), a fresh x, every kernel of the
/// group writing its own slice of one poisoned output slab (half of them with
/// programmatic dependent launch), one copy back, every slice checked.
/// Returns the number of candidates checked.
template <class T>
int check_every_candidate(const host_csr<float>& w32, const std::string& what, uint64_t seed) {
  const host_csr<T> w = convert_values<T>(w32);
  auto space = spmv_space(sizeof(T), compute_row_stats(w), detail::resident_threads());
  auto key = [](const spmv_config& c) {
    return std::string(to_string(c.kernel.index)) + "/" + std::to_string(c.kernel.vec_bytes) + "/" +
           std::to_string(c.segment_cap) + "/" + to_string(c.order);
  };
  std::stable_sort(space.begin(), space.end(), [&](const auto& a, const auto& b) { return key(a) < key(b); });
  const std::size_t rows = static_cast<std::size_t>(w.rows());
  device_buffer<T> dx(static_cast<std::size_t>(w.cols()));
  int checked = 0;
  for (std::size_t g0 = 0; g0 < space.size();) {
    std::size_t g1 = g0;
    while (g1 < space.size() && key(space[g1]) == key(space[g0])) ++g1;
    const spmv_config& c0 = space[g0];
    const schedule_params p{c0.kernel.vec_bytes / static_cast<int>(sizeof(T)), c0.segment_cap, c0.order};
    const device_schedule<T> sched = c0.kernel.index == index_kind::u16
                                         ? device_schedule<T>(build_schedule<uint16_t>(w, p))
                                         : device_schedule<T>(build_schedule<int32_t>(w, p));
    const std::vector<T> x = detail::random_vector<T>(static_cast<std::size_t>(w.cols()), seed++);
    const reference_result ref = spmv_reference(w, x);
    upload(dx, x);
    device_buffer<T> slab(std::max<std::size_t>(1, rows * (g1 - g0)));
    poison(slab);
    for (std::size_t i = g0; i < g1; ++i)
      find_spmv_kernel<T>(space[i].kernel)(sched, spmv_bins_for(space[i], sched), dx.data(), slab.data() + rows * (i - g0),
                                            epilog_params<T>{}, nullptr, (i & 1) != 0);
    PAISPARSE_CUDA_TRY(cudaDeviceSynchronize());
    const std::vector<T> all = slab.to_host();
    for (std::size_t i = g0; i < g1; ++i) {
      const std::vector<T> y(all.begin() + static_cast<std::ptrdiff_t>(rows * (i - g0)),
                             all.begin() + static_cast<std::ptrdiff_t>(rows * (i - g0 + 1)));
      EXPECT_LE(relative_error(y, ref), relative_tolerance<T>()) << what << " " << value_type_name<T>() << " " << space[i].name();
      ++checked;
    }
    g0 = g1;
  }
  return checked;
}

}  // namespace ptest
