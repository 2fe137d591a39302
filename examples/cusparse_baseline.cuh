// paisparse examples: cuSPARSE CSR SpMV and SpMM on the same weight, timed
// like the tuner's candidates (CUDA events, warm-up, median, L2 flushed
// before each run, CUDA-graph replay), and checked against the float64
// reference, so a tool can print "speedup over cuSPARSE" next to its table.
//
// One call each, typed, no rotation of copies (the benchmark in bench/ is
// the place for a full comparison with every cuSPARSE algorithm).
#pragma once

#include <cuda_runtime_api.h>
#include <cusparse.h>

#include <cstdint>
#include <string>
#include <vector>

#include <paisparse/paisparse.cuh>

namespace paisparse::examples {

#define PAISPARSE_CUSPARSE_TRY(call)                                                                   \
  do {                                                                                                 \
    const cusparseStatus_t s_ = (call);                                                                \
    PAISPARSE_EXPECTS(s_ == CUSPARSE_STATUS_SUCCESS, #call << " failed: " << cusparseGetErrorString(s_)); \
  } while (0)

template <class T>
constexpr cudaDataType cuda_data_type() {
  if constexpr (std::is_same_v<T, float>) return CUDA_R_32F;
  else if constexpr (std::is_same_v<T, __half>) return CUDA_R_16F;
  else return CUDA_R_16BF;
}

/// A cuSPARSE measurement: unavailable (why_not says why), or its median time and error.
struct baseline_result {
  bool available = false;
  std::string why_not;
  double median_us = 0;
  double rel_err = 0;  // against the float64 reference
};

namespace detail {

/// Owns the cuSPARSE handle and descriptors of one measurement.
struct cusparse_state {
  cusparseHandle_t handle = nullptr;
  cusparseConstSpMatDescr_t a = nullptr;
  cusparseConstDnVecDescr_t x = nullptr;
  cusparseDnVecDescr_t y = nullptr;
  cusparseConstDnMatDescr_t b = nullptr;
  cusparseDnMatDescr_t c = nullptr;
  cusparse_state() { PAISPARSE_CUSPARSE_TRY(cusparseCreate(&handle)); }
  ~cusparse_state() {
    if (a) cusparseDestroySpMat(a);
    if (x) cusparseDestroyDnVec(x);
    if (y) cusparseDestroyDnVec(y);
    if (b) cusparseDestroyDnMat(b);
    if (c) cusparseDestroyDnMat(c);
    if (handle) cusparseDestroy(handle);
  }
  cusparse_state(const cusparse_state&) = delete;
  cusparse_state& operator=(const cusparse_state&) = delete;
};

template <class T>
struct device_csr_arrays {
  device_buffer<int32_t> offsets, indices;
  device_buffer<T> values;
  explicit device_csr_arrays(const host_csr<T, int32_t>& w)
      : offsets(w.row_offsets()), indices(w.col_indices()), values(w.values()) {}
};

template <class T>
void create_csr(cusparse_state& s, const host_csr<T, int32_t>& w, const device_csr_arrays<T>& d) {
  PAISPARSE_CUSPARSE_TRY(cusparseCreateConstCsr(&s.a, w.rows(), w.cols(), w.nnz(), d.offsets.data(), d.indices.data(),
                                                d.values.data(), CUSPARSE_INDEX_32I, CUSPARSE_INDEX_32I,
                                                CUSPARSE_INDEX_BASE_ZERO, cuda_data_type<T>()));
}

/// A baseline measured by `measure`, which fills r.rel_err and r.median_us;
/// a paisparse::error (a cuSPARSE refusal) leaves it unavailable, saying why.
template <class Measure>
baseline_result measure_baseline(Measure&& measure) {
  baseline_result r;
  try {
    measure(r);
    r.available = true;
  } catch (const error& e) {
    r.why_not = e.what();
    cudaGetLastError();
  }
  return r;
}

/// The median time of `run(stream)` replayed in a CUDA graph, L2 flushed before each run.
template <class Run>
double cold_graph_median_us(Run& run, int warmup, int reps) {
  l2_flusher flusher;
  return time_launches_in_graph(run, nullptr, warmup, reps, &flusher).median;
}

}  // namespace detail

/// cuSPARSE CSR SpMV, y = W x (CUSPARSE_SPMV_ALG_DEFAULT, fp32 compute, buffer
/// and preprocess at setup), on a fresh random x. Never throws for a
/// cuSPARSE refusal: the result says why.
template <class T>
baseline_result time_cusparse_spmv(const host_csr<T, int32_t>& w, int warmup, int reps, uint64_t seed = 11) {
  return detail::measure_baseline([&](baseline_result& r) {
    const std::vector<T> x = paisparse::detail::random_vector<T>(static_cast<std::size_t>(w.cols()), seed);
    const reference_result ref = spmv_reference(w, x);
    detail::device_csr_arrays<T> d(w);
    device_buffer<T> dx(x), dy(static_cast<std::size_t>(w.rows()));
    detail::cusparse_state s;
    detail::create_csr(s, w, d);
    PAISPARSE_CUSPARSE_TRY(cusparseCreateConstDnVec(&s.x, w.cols(), dx.data(), cuda_data_type<T>()));
    PAISPARSE_CUSPARSE_TRY(cusparseCreateDnVec(&s.y, w.rows(), dy.data(), cuda_data_type<T>()));
    const float alpha = 1.f, beta = 0.f;
    std::size_t bytes = 0;
    PAISPARSE_CUSPARSE_TRY(cusparseSpMV_bufferSize(s.handle, CUSPARSE_OPERATION_NON_TRANSPOSE, &alpha, s.a, s.x, &beta,
                                                   s.y, CUDA_R_32F, CUSPARSE_SPMV_ALG_DEFAULT, &bytes));
    device_buffer<unsigned char> buffer(bytes);
    PAISPARSE_CUSPARSE_TRY(cusparseSpMV_preprocess(s.handle, CUSPARSE_OPERATION_NON_TRANSPOSE, &alpha, s.a, s.x, &beta,
                                                   s.y, CUDA_R_32F, CUSPARSE_SPMV_ALG_DEFAULT, buffer.data()));
    auto run = [&](cudaStream_t stream) {
      PAISPARSE_CUSPARSE_TRY(cusparseSetStream(s.handle, stream));
      PAISPARSE_CUSPARSE_TRY(cusparseSpMV(s.handle, CUSPARSE_OPERATION_NON_TRANSPOSE, &alpha, s.a, s.x, &beta, s.y,
                                          CUDA_R_32F, CUSPARSE_SPMV_ALG_DEFAULT, buffer.data()));
    };
    PAISPARSE_CUDA_TRY(cudaMemset(dy.data(), 0xff, dy.size() * sizeof(T)));
    run(nullptr);
    PAISPARSE_CUDA_TRY(cudaDeviceSynchronize());
    r.rel_err = relative_error(dy.to_host(), ref);
    r.median_us = detail::cold_graph_median_us(run, warmup, reps);
  });
}

/// cuSPARSE CSR SpMM, C = W B (CUSPARSE_SPMM_ALG_DEFAULT, fp32 compute), B
/// K x n and C M x n in the given layouts with tight leading dimensions.
template <class T>
baseline_result time_cusparse_spmm(const host_csr<T, int32_t>& w, int32_t n, dense_layout b_layout,
                                   dense_layout c_layout, int warmup, int reps, uint64_t seed = 12) {
  return detail::measure_baseline([&](baseline_result& r) {
    const int64_t rows = w.rows(), cols = w.cols();
    const int64_t ldb = b_layout == dense_layout::row_major ? n : cols;
    const int64_t ldc = c_layout == dense_layout::row_major ? n : rows;
    const std::vector<T> hb =
        paisparse::detail::random_vector<T>(static_cast<std::size_t>(dense_extent(cols, n, ldb, b_layout)), seed);
    const reference_result ref = spmm_reference(w, host_dense_ref<T>{&hb, b_layout, ldb}, n);
    detail::device_csr_arrays<T> d(w);
    device_buffer<T> db(hb), dc(static_cast<std::size_t>(dense_extent(rows, n, ldc, c_layout)));
    detail::cusparse_state s;
    detail::create_csr(s, w, d);
    auto order = [](dense_layout l) { return l == dense_layout::row_major ? CUSPARSE_ORDER_ROW : CUSPARSE_ORDER_COL; };
    PAISPARSE_CUSPARSE_TRY(
        cusparseCreateConstDnMat(&s.b, cols, n, ldb, db.data(), cuda_data_type<T>(), order(b_layout)));
    PAISPARSE_CUSPARSE_TRY(cusparseCreateDnMat(&s.c, rows, n, ldc, dc.data(), cuda_data_type<T>(), order(c_layout)));
    const float alpha = 1.f, beta = 0.f;
    const auto op = CUSPARSE_OPERATION_NON_TRANSPOSE;
    std::size_t bytes = 0;
    PAISPARSE_CUSPARSE_TRY(cusparseSpMM_bufferSize(s.handle, op, op, &alpha, s.a, s.b, &beta, s.c, CUDA_R_32F,
                                                   CUSPARSE_SPMM_ALG_DEFAULT, &bytes));
    device_buffer<unsigned char> buffer(bytes);
    PAISPARSE_CUSPARSE_TRY(cusparseSpMM_preprocess(s.handle, op, op, &alpha, s.a, s.b, &beta, s.c, CUDA_R_32F,
                                                   CUSPARSE_SPMM_ALG_DEFAULT, buffer.data()));
    auto run = [&](cudaStream_t stream) {
      PAISPARSE_CUSPARSE_TRY(cusparseSetStream(s.handle, stream));
      PAISPARSE_CUSPARSE_TRY(cusparseSpMM(s.handle, op, op, &alpha, s.a, s.b, &beta, s.c, CUDA_R_32F,
                                          CUSPARSE_SPMM_ALG_DEFAULT, buffer.data()));
    };
    PAISPARSE_CUDA_TRY(cudaMemset(dc.data(), 0xff, dc.size() * sizeof(T)));
    run(nullptr);
    PAISPARSE_CUDA_TRY(cudaDeviceSynchronize());
    r.rel_err = relative_error(compact_row_major(dc.to_host(), rows, n, ldc, c_layout), ref);
    r.median_us = detail::cold_graph_median_us(run, warmup, reps);
  });
}

/// Device-to-device copy bandwidth in GB/s (bytes read + written / time),
/// median of several 256 MiB copies: the rate the byte floor is priced at.
inline double copy_bandwidth_gbps() {
  const std::size_t bytes = std::size_t{256} << 20;
  device_buffer<unsigned char> a(bytes), b(bytes);
  PAISPARSE_CUDA_TRY(cudaMemset(a.data(), 1, bytes));
  const timing_stats t = time_launches(
      [&](cudaStream_t s) { PAISPARSE_CUDA_TRY(cudaMemcpyAsync(b.data(), a.data(), bytes, cudaMemcpyDeviceToDevice, s)); },
      nullptr, 2, 9, nullptr);
  return t.median > 0 ? 2.0 * static_cast<double>(bytes) / (t.median * 1e3) : 0;
}

}  // namespace paisparse::examples
