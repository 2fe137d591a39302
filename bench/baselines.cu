// paisparse benchmark: cuSPARSE CSR SpMV / SpMM and dense cuBLAS baselines.
#include "baselines.hpp"

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cmath>
#include <cstring>

#include <paisparse/error.hpp>
#include <paisparse/types.hpp>

#include "check.hpp"

namespace paisparse::bench {

cudaDataType cuda_type(value_kind t) {
  switch (t) {
    case value_kind::fp16: return CUDA_R_16F;
    case value_kind::bf16: return CUDA_R_16BF;
    case value_kind::fp32: return CUDA_R_32F;
  }
  PAISPARSE_FAIL("cuda_type: unknown value kind");
}

std::vector<double> download_as_double(const void* device_values, std::size_t n, value_kind type, cudaStream_t s) {
  const std::size_t vb = static_cast<std::size_t>(value_bytes(type));
  std::vector<unsigned char> raw(n * vb);
  if (n > 0) {
    PAISPARSE_CUDA_TRY(cudaMemcpyAsync(raw.data(), device_values, raw.size(), cudaMemcpyDeviceToHost, s));
    PAISPARSE_CUDA_TRY(cudaStreamSynchronize(s));
  }
  std::vector<double> out(n);
  for (std::size_t i = 0; i < n; ++i) {
    const unsigned char* p = raw.data() + i * vb;
    switch (type) {
      case value_kind::fp32: {
        float v;
        std::memcpy(&v, p, sizeof v);
        out[i] = v;
        break;
      }
      case value_kind::fp16: {
        __half v;
        std::memcpy(&v, p, sizeof v);
        out[i] = to_float(v);
        break;
      }
      case value_kind::bf16: {
        __nv_bfloat16 v;
        std::memcpy(&v, p, sizeof v);
        out[i] = to_float(v);
        break;
      }
    }
  }
  return out;
}

double scaled_error(const std::vector<double>& out, const std::vector<double>& ref, const std::vector<double>& scale) {
  PAISPARSE_EXPECTS(out.size() == ref.size() && out.size() == scale.size(),
                    "scaled_error: sizes differ (" << out.size() << ", " << ref.size() << ", " << scale.size() << ")");
  double num = 0, den = 0;
  for (std::size_t i = 0; i < out.size(); ++i) {
    if (!std::isfinite(out[i])) return INFINITY;
    num += (out[i] - ref[i]) * (out[i] - ref[i]);
    den += scale[i] * scale[i];
  }
  return den == 0 ? std::sqrt(num) : std::sqrt(num / den);
}

std::vector<unsigned char> to_layout(const void* row_major, int64_t rows, int64_t cols, int bytes,
                                     dense_layout layout) {
  const auto* src = static_cast<const unsigned char*>(row_major);
  const std::size_t total = static_cast<std::size_t>(rows * cols) * static_cast<std::size_t>(bytes);
  if (layout == dense_layout::row_major) return std::vector<unsigned char>(src, src + total);
  std::vector<unsigned char> out(total);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c)
      std::memcpy(out.data() + static_cast<std::size_t>(c * rows + r) * bytes,
                  src + static_cast<std::size_t>(r * cols + c) * bytes, static_cast<std::size_t>(bytes));
  return out;
}

std::vector<double> download_matrix(const void* device_values, int64_t rows, int64_t cols, dense_layout layout,
                                    value_kind type, cudaStream_t s) {
  std::vector<double> raw = download_as_double(device_values, static_cast<std::size_t>(rows * cols), type, s);
  if (layout == dense_layout::row_major) return raw;
  std::vector<double> out(raw.size());
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c)
      out[static_cast<std::size_t>(r * cols + c)] = raw[static_cast<std::size_t>(c * rows + r)];
  return out;
}

namespace {

/// A device copy of `bytes` host bytes (at least one byte is allocated so no pointer is null).
device_buffer<unsigned char> upload_bytes(const void* host, std::size_t bytes) {
  device_buffer<unsigned char> d(bytes > 0 ? bytes : 1);
  if (bytes > 0) PAISPARSE_CUDA_TRY(cudaMemcpy(d.data(), host, bytes, cudaMemcpyHostToDevice));
  return d;
}

template <class E>
device_buffer<E> clone(const device_buffer<E>& src) {
  device_buffer<E> d(src.size());
  if (src.size() > 0) PAISPARSE_CUDA_TRY(cudaMemcpy(d.data(), src.data(), src.size() * sizeof(E), cudaMemcpyDeviceToDevice));
  return d;
}

cusparseSpMVAlg_t spmv_alg(int id) {
  switch (id) {
    case 1: return CUSPARSE_SPMV_CSR_ALG1;
    case 2: return CUSPARSE_SPMV_CSR_ALG2;
  }
  PAISPARSE_FAIL("cuSPARSE CSR SpMV algorithm " << id << " does not exist (expected 1 or 2)");
}

cusparseSpMMAlg_t spmm_alg(int id) {
  switch (id) {
    case 0: return CUSPARSE_SPMM_ALG_DEFAULT;
    case 1: return CUSPARSE_SPMM_CSR_ALG1;
    case 2: return CUSPARSE_SPMM_CSR_ALG2;
    case 3: return CUSPARSE_SPMM_CSR_ALG3;
  }
  PAISPARSE_FAIL("cuSPARSE SpMM algorithm " << id << " does not exist (expected 0 = default, 1, 2 or 3)");
}

cusparseOrder_t dense_order(dense_layout l) {
  return l == dense_layout::row_major ? CUSPARSE_ORDER_ROW : CUSPARSE_ORDER_COL;
}

}  // namespace

// ---------------------------------------------------------------- cuSPARSE, shared

namespace {

void destroy_descriptor(cusparseConstDnVecDescr_t d) { cusparseDestroyDnVec(d); }
void destroy_descriptor(cusparseConstDnMatDescr_t d) { cusparseDestroyDnMat(d); }

}  // namespace

template <class InDescr, class OutDescr>
cusparse_csr_baseline<InDescr, OutDescr>::~cusparse_csr_baseline() {
  for (auto& a : algs_) release_descriptors(a);
}

template <class InDescr, class OutDescr>
void cusparse_csr_baseline<InDescr, OutDescr>::bind(cudaStream_t stream) {
  PAISPARSE_CUSPARSE_TRY(cusparseSetStream(handle_, stream));
  handle_stream_ = stream;
}

template <class InDescr, class OutDescr>
void cusparse_csr_baseline<InDescr, OutDescr>::upload(const void* host_in, std::size_t in_bytes,
                                                      std::size_t out_bytes, int copies) {
  const csr_arrays& w = shape_;
  const std::size_t vb = static_cast<std::size_t>(value_bytes(w.type));
  copies_.reserve(static_cast<std::size_t>(copies));
  for (int c = 0; c < copies; ++c) {
    copy_data d;
    if (c == 0) {
      d.offsets = device_buffer<int32_t>(std::vector<int32_t>(w.row_offsets, w.row_offsets + w.rows + 1));
      d.indices = device_buffer<int32_t>(static_cast<std::size_t>(std::max<int64_t>(w.nnz, 1)));
      if (w.nnz > 0)
        PAISPARSE_CUDA_TRY(cudaMemcpy(d.indices.data(), w.col_indices, static_cast<std::size_t>(w.nnz) * 4,
                                      cudaMemcpyHostToDevice));
      d.values = upload_bytes(w.values, static_cast<std::size_t>(w.nnz) * vb);
      d.in = upload_bytes(host_in, in_bytes);
    } else {
      const copy_data& first = copies_.front();
      d.offsets = clone(first.offsets);
      d.indices = clone(first.indices);
      d.values = clone(first.values);
      d.in = clone(first.in);
    }
    d.out = device_buffer<unsigned char>(std::max<std::size_t>(out_bytes, 1));
    PAISPARSE_CUDA_TRY(cudaMemset(d.out.data(), 0, d.out.size()));
    copies_.push_back(std::move(d));
  }
  PAISPARSE_CUDA_TRY(cudaDeviceSynchronize());  // the copies above ran on the legacy stream
}

template <class InDescr, class OutDescr>
template <class Prepare>
void cusparse_csr_baseline<InDescr, OutDescr>::add_algorithms(const std::vector<int>& ids, cudaStream_t stream,
                                                              Prepare prepare) {
  const csr_arrays& w = shape_;
  const cudaDataType vt = cuda_type(w.type);
  for (int id : ids) {
    alg_state a;
    a.id = id;
    try {
      for (copy_data& d : copies_) {
        a.mat.push_back(nullptr);
        PAISPARSE_CUSPARSE_TRY(cusparseCreateConstCsr(&a.mat.back(), w.rows, w.cols, w.nnz, d.offsets.data(),
                                                      d.indices.data(), d.values.data(), CUSPARSE_INDEX_32I,
                                                      CUSPARSE_INDEX_32I, CUSPARSE_INDEX_BASE_ZERO, vt));
        prepare(a, d);
      }
      PAISPARSE_CUDA_TRY(cudaStreamSynchronize(stream));
    } catch (const paisparse::error& e) {
      a.why_not = e.what();
      release_descriptors(a);
      cudaGetLastError();
    }
    algs_.push_back(std::move(a));
  }
}

template <class InDescr, class OutDescr>
void cusparse_csr_baseline<InDescr, OutDescr>::release_descriptors(alg_state& a) noexcept {
  for (auto m : a.mat)
    if (m) cusparseDestroySpMat(m);
  for (auto v : a.in)
    if (v) destroy_descriptor(v);
  for (auto v : a.out)
    if (v) destroy_descriptor(v);
  a.mat.clear();
  a.in.clear();
  a.out.clear();
  a.buffer.clear();
}

template class cusparse_csr_baseline<cusparseConstDnVecDescr_t, cusparseDnVecDescr_t>;
template class cusparse_csr_baseline<cusparseConstDnMatDescr_t, cusparseDnMatDescr_t>;

// ---------------------------------------------------------------- cuSPARSE SpMV

int64_t cusparse_spmv::bytes_per_copy(int64_t rows, int64_t cols, int64_t nnz, int vb) {
  return nnz * (vb + 4) + (rows + 1) * 4 + (rows + cols) * vb;
}

cusparse_spmv::cusparse_spmv(cusparseHandle_t handle, const csr_arrays& w, const void* host_x,
                             const std::vector<int>& algs, int copies, cudaStream_t stream)
    : cusparse_csr_baseline(handle, w) {
  PAISPARSE_EXPECTS(copies >= 1, "cusparse_spmv: copies = " << copies << ", expected >= 1");
  PAISPARSE_EXPECTS(!algs.empty(), "cusparse_spmv: no algorithm requested");
  const std::size_t vb = static_cast<std::size_t>(value_bytes(w.type));
  const cudaDataType vt = cuda_type(w.type);
  bind(stream);
  upload(host_x, static_cast<std::size_t>(w.cols) * vb, static_cast<std::size_t>(w.rows) * vb, copies);
  add_algorithms(algs, stream, [&](alg_state& a, copy_data& d) {
    const cusparseSpMVAlg_t alg = spmv_alg(a.id);
    a.in.push_back(nullptr);
    PAISPARSE_CUSPARSE_TRY(cusparseCreateConstDnVec(&a.in.back(), w.cols, d.in.data(), vt));
    a.out.push_back(nullptr);
    PAISPARSE_CUSPARSE_TRY(cusparseCreateDnVec(&a.out.back(), w.rows, d.out.data(), vt));
    std::size_t bytes = 0;
    PAISPARSE_CUSPARSE_TRY(cusparseSpMV_bufferSize(handle_, CUSPARSE_OPERATION_NON_TRANSPOSE, &alpha_, a.mat.back(),
                                                   a.in.back(), &beta_, a.out.back(), CUDA_R_32F, alg, &bytes));
    a.buffer.emplace_back(std::max<std::size_t>(bytes, 16));
    PAISPARSE_CUSPARSE_TRY(cusparseSpMV_preprocess(handle_, CUSPARSE_OPERATION_NON_TRANSPOSE, &alpha_, a.mat.back(),
                                                   a.in.back(), &beta_, a.out.back(), CUDA_R_32F, alg,
                                                   a.buffer.back().data()));
  });
}

void cusparse_spmv::run(int i, int copy, cudaStream_t stream) {
  alg_state& a = algs_[static_cast<std::size_t>(i)];
  PAISPARSE_EXPECTS(a.why_not.empty(), "cusparse_spmv::run: CSR_ALG" << a.id << " is unavailable: " << a.why_not);
  if (stream != handle_stream_) bind(stream);
  const std::size_t c = static_cast<std::size_t>(copy);
  PAISPARSE_CUSPARSE_TRY(cusparseSpMV(handle_, CUSPARSE_OPERATION_NON_TRANSPOSE, &alpha_, a.mat[c], a.in[c], &beta_,
                                      a.out[c], CUDA_R_32F, spmv_alg(a.id), a.buffer[c].data()));
}

std::vector<double> cusparse_spmv::result(int copy, cudaStream_t stream) const {
  return download_as_double(copies_[static_cast<std::size_t>(copy)].out.data(), static_cast<std::size_t>(shape_.rows),
                            shape_.type, stream);
}

// ---------------------------------------------------------------- cuSPARSE SpMM

const char* cusparse_spmm::alg_name(int id) {
  switch (id) {
    case 0: return "DEFAULT";
    case 1: return "CSR_ALG1";
    case 2: return "CSR_ALG2";
    case 3: return "CSR_ALG3";
  }
  return "?";
}

int64_t cusparse_spmm::bytes_per_copy(int64_t rows, int64_t cols, int64_t nnz, int64_t n, int vb) {
  return nnz * (vb + 4) + (rows + 1) * 4 + (rows + cols) * n * vb;
}

cusparse_spmm::cusparse_spmm(cusparseHandle_t handle, const csr_arrays& w, const void* host_b, int64_t n,
                             dense_layout layout, const std::vector<int>& algs, int copies, cudaStream_t stream)
    : cusparse_csr_baseline(handle, w), n_(n), layout_(layout) {
  PAISPARSE_EXPECTS(copies >= 1, "cusparse_spmm: copies = " << copies << ", expected >= 1");
  PAISPARSE_EXPECTS(n >= 1, "cusparse_spmm: n = " << n << ", expected >= 1");
  PAISPARSE_EXPECTS(!algs.empty(), "cusparse_spmm: no algorithm requested");
  const int vb = value_bytes(w.type);
  const cudaDataType vt = cuda_type(w.type);
  const cusparseOrder_t order = dense_order(layout);
  const int64_t ldb = layout == dense_layout::row_major ? n : w.cols;
  const int64_t ldc = layout == dense_layout::row_major ? n : w.rows;
  bind(stream);
  const std::vector<unsigned char> b = to_layout(host_b, w.cols, n, vb, layout);
  upload(b.data(), b.size(), static_cast<std::size_t>(w.rows * n) * vb, copies);
  add_algorithms(algs, stream, [&](alg_state& a, copy_data& d) {
    const cusparseSpMMAlg_t alg = spmm_alg(a.id);
    a.in.push_back(nullptr);
    PAISPARSE_CUSPARSE_TRY(cusparseCreateConstDnMat(&a.in.back(), w.cols, n, ldb, d.in.data(), vt, order));
    a.out.push_back(nullptr);
    PAISPARSE_CUSPARSE_TRY(cusparseCreateDnMat(&a.out.back(), w.rows, n, ldc, d.out.data(), vt, order));
    std::size_t bytes = 0;
    PAISPARSE_CUSPARSE_TRY(cusparseSpMM_bufferSize(handle_, CUSPARSE_OPERATION_NON_TRANSPOSE,
                                                   CUSPARSE_OPERATION_NON_TRANSPOSE, &alpha_, a.mat.back(),
                                                   a.in.back(), &beta_, a.out.back(), CUDA_R_32F, alg, &bytes));
    a.buffer.emplace_back(std::max<std::size_t>(bytes, 16));
    PAISPARSE_CUSPARSE_TRY(cusparseSpMM_preprocess(handle_, CUSPARSE_OPERATION_NON_TRANSPOSE,
                                                   CUSPARSE_OPERATION_NON_TRANSPOSE, &alpha_, a.mat.back(),
                                                   a.in.back(), &beta_, a.out.back(), CUDA_R_32F, alg,
                                                   a.buffer.back().data()));
  });
}

void cusparse_spmm::run(int i, int copy, cudaStream_t stream) {
  alg_state& a = algs_[static_cast<std::size_t>(i)];
  PAISPARSE_EXPECTS(a.why_not.empty(), "cusparse_spmm::run: " << alg_name(a.id) << " is unavailable: " << a.why_not);
  if (stream != handle_stream_) bind(stream);
  const std::size_t c = static_cast<std::size_t>(copy);
  PAISPARSE_CUSPARSE_TRY(cusparseSpMM(handle_, CUSPARSE_OPERATION_NON_TRANSPOSE, CUSPARSE_OPERATION_NON_TRANSPOSE,
                                      &alpha_, a.mat[c], a.in[c], &beta_, a.out[c], CUDA_R_32F, spmm_alg(a.id),
                                      a.buffer[c].data()));
}

std::vector<double> cusparse_spmm::result(int copy, cudaStream_t stream) const {
  return download_matrix(copies_[static_cast<std::size_t>(copy)].out.data(), shape_.rows, n_, layout_, shape_.type,
                         stream);
}

// ---------------------------------------------------------------- cuBLAS

namespace {

/// dense[r * cols + c] = value of (r, c); one warp per row. Values are moved
/// as raw words of their size (Word: uint16_t or uint32_t).
template <class Word>
__global__ void scatter_csr_rows(int64_t rows, int64_t cols, const int32_t* __restrict__ offsets,
                                 const int32_t* __restrict__ indices, const Word* __restrict__ values,
                                 Word* __restrict__ dense) {
  const int64_t warp = (static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x) / 32;
  const int lane = static_cast<int>(threadIdx.x % 32);
  if (warp >= rows) return;
  for (int32_t k = offsets[warp] + lane; k < offsets[warp + 1]; k += 32)
    dense[warp * cols + indices[k]] = values[k];
}

}  // namespace

int64_t cublas_dense::bytes_per_copy(int64_t rows, int64_t cols, int vb, int64_t n) {
  return (rows * cols + (rows + cols) * n) * vb;
}

cublas_dense::cublas_dense(cublasHandle_t handle, const csr_arrays& w, const void* host_x, int copies,
                           cudaStream_t stream)
    : cublas_dense(handle, w, host_x, 1, dense_layout::col_major, copies, stream) {}

cublas_dense::cublas_dense(cublasHandle_t handle, const csr_arrays& w, const void* host_b, int64_t n,
                           dense_layout layout, int copies, cudaStream_t stream)
    : handle_(handle), shape_(w), n_(n), layout_(layout) {
  PAISPARSE_EXPECTS(copies >= 1, "cublas_dense: copies = " << copies << ", expected >= 1");
  PAISPARSE_EXPECTS(n >= 1, "cublas_dense: n = " << n << ", expected >= 1");
  PAISPARSE_EXPECTS(w.rows <= INT32_MAX && w.cols <= INT32_MAX && n <= INT32_MAX,
                    "cublas_dense: shape exceeds cuBLAS's int range");
  // The handle stays on its stream: cublasSetStream would drop the handle's
  // fixed workspace (cuBLAS then allocates during graph capture).
  PAISPARSE_CUBLAS_TRY(cublasGetStream(handle_, &handle_stream_));
  PAISPARSE_EXPECTS(handle_stream_ == stream, "cublas_dense: the cuBLAS handle is bound to another stream");
  const int vb = value_bytes(w.type);
  const std::size_t dense_bytes = static_cast<std::size_t>(w.rows) * static_cast<std::size_t>(w.cols) * vb;

  copies_.reserve(static_cast<std::size_t>(copies));
  {
    copy_data d;
    d.weight = device_buffer<unsigned char>(std::max<std::size_t>(dense_bytes, 1));
    PAISPARSE_CUDA_TRY(cudaMemsetAsync(d.weight.data(), 0, d.weight.size(), stream));
    if (w.nnz > 0) {  // densify on the device from a temporary CSR upload
      device_buffer<unsigned char> offsets_bytes =
          upload_bytes(w.row_offsets, static_cast<std::size_t>(w.rows + 1) * sizeof(int32_t));
      device_buffer<unsigned char> indices_bytes =
          upload_bytes(w.col_indices, static_cast<std::size_t>(w.nnz) * sizeof(int32_t));
      const auto* offsets = reinterpret_cast<const int32_t*>(offsets_bytes.data());
      const auto* indices = reinterpret_cast<const int32_t*>(indices_bytes.data());
      device_buffer<unsigned char> values = upload_bytes(w.values, static_cast<std::size_t>(w.nnz) * vb);
      constexpr int block = 256;
      const int64_t grid = (w.rows * 32 + block - 1) / block;
      if (vb == 2)
        scatter_csr_rows<uint16_t><<<static_cast<unsigned>(grid), block, 0, stream>>>(
            w.rows, w.cols, offsets, indices, reinterpret_cast<const uint16_t*>(values.data()),
            reinterpret_cast<uint16_t*>(d.weight.data()));
      else
        scatter_csr_rows<uint32_t><<<static_cast<unsigned>(grid), block, 0, stream>>>(
            w.rows, w.cols, offsets, indices, reinterpret_cast<const uint32_t*>(values.data()),
            reinterpret_cast<uint32_t*>(d.weight.data()));
      PAISPARSE_CUDA_TRY(cudaGetLastError());
      PAISPARSE_CUDA_TRY(cudaStreamSynchronize(stream));
    }
    const std::vector<unsigned char> b = to_layout(host_b, w.cols, n, vb, layout);
    d.x = upload_bytes(b.data(), b.size());
    copies_.push_back(std::move(d));
  }
  for (int c = 1; c < copies; ++c) {
    const copy_data& first = copies_.front();
    copy_data d;
    d.weight = clone(first.weight);
    d.x = clone(first.x);
    copies_.push_back(std::move(d));
  }
  for (auto& d : copies_) {
    d.y = device_buffer<unsigned char>(std::max<std::size_t>(static_cast<std::size_t>(w.rows * n) * vb, 1));
    PAISPARSE_CUDA_TRY(cudaMemset(d.y.data(), 0, d.y.size()));
  }
  PAISPARSE_CUDA_TRY(cudaDeviceSynchronize());  // the copies above ran on the legacy stream
}

void cublas_dense::run(int copy, cudaStream_t stream) {
  PAISPARSE_EXPECTS(stream == handle_stream_, "cublas_dense::run: the cuBLAS handle is bound to another stream");
  copy_data& d = copies_[static_cast<std::size_t>(copy)];
  const cudaDataType vt = cuda_type(shape_.type);
  const int m = static_cast<int>(shape_.rows), k = static_cast<int>(shape_.cols), n = static_cast<int>(n_);
  // Row-major W (rows x cols) is column-major W^T (cols x rows, ld = cols).
  if (layout_ == dense_layout::col_major) {
    // C (M x N, ld M) = (W^T)^T B, B column-major K x N (ld K); y = W x for N = 1.
    PAISPARSE_CUBLAS_TRY(cublasGemmEx(handle_, CUBLAS_OP_T, CUBLAS_OP_N, m, n, k, &alpha_, d.weight.data(), vt, k,
                                      d.x.data(), vt, k, &beta_, d.y.data(), vt, m, CUBLAS_COMPUTE_32F,
                                      CUBLAS_GEMM_DEFAULT));
  } else {
    // Row-major B and C are column-major B^T (N x K, ld N) and C^T (N x M, ld N): C^T = B^T W^T.
    PAISPARSE_CUBLAS_TRY(cublasGemmEx(handle_, CUBLAS_OP_N, CUBLAS_OP_N, n, m, k, &alpha_, d.x.data(), vt, n,
                                      d.weight.data(), vt, k, &beta_, d.y.data(), vt, n, CUBLAS_COMPUTE_32F,
                                      CUBLAS_GEMM_DEFAULT));
  }
}

std::vector<double> cublas_dense::result(int copy, cudaStream_t stream) const {
  return download_matrix(copies_[static_cast<std::size_t>(copy)].y.data(), shape_.rows, n_, layout_, shape_.type,
                         stream);
}

}  // namespace paisparse::bench
