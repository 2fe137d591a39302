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

/// Runs every candidate of the space on w (one schedule per group, all its
/// kernels on it), each on poisoned y, and checks against float64. Returns
/// the number of candidates checked.
template <class T>
int check_every_candidate(const host_csr<float>& w32, const std::string& what, uint64_t seed) {
  const host_csr<T> w = convert_values<T>(w32);
  const auto space = spmv_space(sizeof(T), compute_row_stats(w), detail::resident_threads());
  device_vectors<T> d(w.rows(), w.cols());
  std::vector<T> hy(static_cast<std::size_t>(w.rows()));
  int checked = 0;
  std::string last_key;
  device_schedule<T> sched;
  reference_result ref;
  std::vector<T> x;
  for (const auto& c : space) {
    const std::string key = std::string(to_string(c.kernel.index)) + "/" + std::to_string(c.kernel.vec_bytes) + "/" +
                            std::to_string(c.segment_cap) + "/" + to_string(c.order);
    if (key != last_key) {  // new schedule; fresh x
      last_key = key;
      const schedule_params p{c.kernel.vec_bytes / static_cast<int>(sizeof(T)), c.segment_cap, c.order};
      sched = c.kernel.index == index_kind::u16 ? device_schedule<T>(build_schedule<uint16_t>(w, p))
                                                : device_schedule<T>(build_schedule<int32_t>(w, p));
      x = detail::random_vector<T>(static_cast<std::size_t>(w.cols()), seed++);
      ref = spmv_reference(w, x);
      upload(d.x, x);
    }
    const auto launch = find_spmv_kernel<T>(c.kernel);
    poison(d.y);
    launch(sched, spmv_bins_for(c, sched), d.x.data(), d.y.data(), epilog_params<T>{}, nullptr, (checked & 1) != 0);
    PAISPARSE_CUDA_TRY(cudaDeviceSynchronize());
    PAISPARSE_CUDA_TRY(cudaMemcpy(hy.data(), d.y.data(), hy.size() * sizeof(T), cudaMemcpyDeviceToHost));
    const double err = relative_error(hy, ref);
    EXPECT_LE(err, relative_tolerance<T>()) << what << " " << value_type_name<T>() << " " << c.name();
    ++checked;
  }
  return checked;
}

}  // namespace ptest
