// paisparse benchmark: the baselines, cuSPARSE CSR SpMV and SpMM, and dense cuBLAS.
//
// All are type-erased (value type chosen at run time) and own `copies`
// copies of the weight and the dense operands (x and y, or B and C), so
// timing can rotate over them with the weight coming from HBM rather than L2.
//
// SpMM operands: W is M x K (CSR), B is K x N and C is M x N, dense, both
// row-major (ld N) or both column-major (ld K for B, ld M for C). Host
// copies of B and results are handed over as compact row-major matrices
// (element (r, c) at r * N + c), whatever the device layout.
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime_api.h>
#include <cusparse.h>

#include <cstdint>
#include <string>
#include <vector>

#include <paisparse/format/dense.hpp>
#include <paisparse/format/device_buffer.hpp>

#include "options.hpp"

namespace paisparse::bench {

/// cudaDataType of a value kind.
cudaDataType cuda_type(value_kind t);

/// A host CSR weight, type-erased (values of value_bytes(type) bytes each).
struct csr_arrays {
  int64_t rows = 0, cols = 0, nnz = 0;
  const int32_t* row_offsets = nullptr;  // rows + 1
  const int32_t* col_indices = nullptr;  // nnz
  const void* values = nullptr;          // nnz
  value_kind type = value_kind::fp16;
};

/// Downloads n device values of `type` as double (blocking).
std::vector<double> download_as_double(const void* device_values, std::size_t n, value_kind type, cudaStream_t s);

/// ||out - ref|| / ||scale||, where scale[i] is the magnitude of the terms
/// behind element i (paisparse::spmv_reference's reference_result::scale), so
/// cancellation in a row does not inflate the error. +inf when out has a NaN
/// or inf (an unwritten, poisoned element); the absolute error when scale is 0.
double scaled_error(const std::vector<double>& out, const std::vector<double>& ref, const std::vector<double>& scale);

/// What cusparse_spmv and cusparse_spmm share: the handle and the stream it
/// is bound to; `copies` device copies of the CSR weight (32-bit indices),
/// each with its dense input (x or B) and zeroed output (y or C); and per
/// requested algorithm the descriptors and work buffer of every copy, or why
/// cuSPARSE refused it. InDescr, OutDescr: the input's and output's dense
/// descriptor types (vectors for SpMV, matrices for SpMM).
template <class InDescr, class OutDescr>
class cusparse_csr_baseline {
 public:
  cusparse_csr_baseline(const cusparse_csr_baseline&) = delete;
  cusparse_csr_baseline& operator=(const cusparse_csr_baseline&) = delete;

  int alg_count() const { return static_cast<int>(algs_.size()); }
  int alg_id(int i) const { return algs_[static_cast<std::size_t>(i)].id; }
  bool available(int i) const { return algs_[static_cast<std::size_t>(i)].why_not.empty(); }
  const std::string& why_not(int i) const { return algs_[static_cast<std::size_t>(i)].why_not; }
  int copies() const { return static_cast<int>(copies_.size()); }

 protected:
  struct copy_data {
    device_buffer<int32_t> offsets, indices;
    device_buffer<unsigned char> values, in, out;  // in: x or B, out: y or C
  };
  struct alg_state {
    int id = 0;
    std::string why_not;
    std::vector<cusparseConstSpMatDescr_t> mat;  // per copy
    std::vector<InDescr> in;
    std::vector<OutDescr> out;
    std::vector<device_buffer<unsigned char>> buffer;
  };

  cusparse_csr_baseline(cusparseHandle_t handle, const csr_arrays& w) : handle_(handle), shape_(w) {}
  ~cusparse_csr_baseline();

  /// Binds the handle to `stream` (cusparseSetStream).
  void bind(cudaStream_t stream);
  /// `copies` copies of the weight, of the input (in_bytes host bytes, already
  /// in the device layout) and of a zeroed output of out_bytes (blocking).
  void upload(const void* host_in, std::size_t in_bytes, std::size_t out_bytes, int copies);
  /// One alg_state per id: per copy the weight's descriptor, then
  /// prepare(alg_state&, copy_data&) adds the dense descriptors and the work
  /// buffer. A paisparse::error marks the algorithm unavailable.
  template <class Prepare>
  void add_algorithms(const std::vector<int>& ids, cudaStream_t stream, Prepare prepare);

  cusparseHandle_t handle_;
  csr_arrays shape_;
  std::vector<copy_data> copies_;
  std::vector<alg_state> algs_;
  float alpha_ = 1.f, beta_ = 0.f;
  cudaStream_t handle_stream_ = nullptr;

 private:
  static void release_descriptors(alg_state& a) noexcept;
};

/// cuSPARSE CSR SpMV (32-bit indices, compute type fp32), y = W x, for each
/// requested algorithm (1: CUSPARSE_SPMV_CSR_ALG1, 2: CUSPARSE_SPMV_CSR_ALG2),
/// with cusparseSpMV_bufferSize and cusparseSpMV_preprocess done per
/// algorithm and copy at construction. An algorithm that cuSPARSE rejects for
/// this weight is marked unavailable (why_not says why); others still run.
class cusparse_spmv : public cusparse_csr_baseline<cusparseConstDnVecDescr_t, cusparseDnVecDescr_t> {
 public:
  cusparse_spmv(cusparseHandle_t handle, const csr_arrays& w, const void* host_x, const std::vector<int>& algs,
                int copies, cudaStream_t stream);

  /// y[copy] = W x[copy] with algorithm i on `stream` (asynchronous, capturable).
  void run(int i, int copy, cudaStream_t stream);
  /// y[copy] on the host (blocking).
  std::vector<double> result(int copy, cudaStream_t stream) const;

  /// Device bytes one copy needs (CSR with 32-bit indices, x, y).
  static int64_t bytes_per_copy(int64_t rows, int64_t cols, int64_t nnz, int value_bytes);
};

/// The elements of a compact row-major rows x cols host matrix (`bytes`
/// per element) laid out as `layout` with a tight leading dimension.
std::vector<unsigned char> to_layout(const void* row_major, int64_t rows, int64_t cols, int bytes,
                                     dense_layout layout);

/// A device matrix of rows x cols values, tight leading dimension, downloaded
/// as compact row-major doubles (blocking).
std::vector<double> download_matrix(const void* device_values, int64_t rows, int64_t cols, dense_layout layout,
                                    value_kind type, cudaStream_t s);

/// cuSPARSE SpMM with a CSR weight (32-bit indices, compute type fp32),
/// C = W B, B and C dense in `layout`, for each requested algorithm (0:
/// CUSPARSE_SPMM_ALG_DEFAULT, k: CUSPARSE_SPMM_CSR_ALGk), with
/// cusparseSpMM_bufferSize and cusparseSpMM_preprocess (which only CSR_ALG1
/// and ALG3 use; a no-op for the others) per algorithm and copy at
/// construction. An algorithm that cuSPARSE rejects for this type, layout or
/// weight is marked unavailable (why_not says why); others still run.
class cusparse_spmm : public cusparse_csr_baseline<cusparseConstDnMatDescr_t, cusparseDnMatDescr_t> {
 public:
  /// host_b: B as a compact row-major K x n matrix of the weight's value type.
  cusparse_spmm(cusparseHandle_t handle, const csr_arrays& w, const void* host_b, int64_t n, dense_layout layout,
                const std::vector<int>& algs, int copies, cudaStream_t stream);

  dense_layout layout() const { return layout_; }

  /// C[copy] = W B[copy] with algorithm i on `stream` (asynchronous).
  void run(int i, int copy, cudaStream_t stream);
  /// C[copy] on the host as compact row-major M x N (blocking).
  std::vector<double> result(int copy, cudaStream_t stream) const;

  /// "DEFAULT", "CSR_ALG1", "CSR_ALG2", "CSR_ALG3".
  static const char* alg_name(int id);
  /// Device bytes one copy needs (CSR with 32-bit indices, B, C).
  static int64_t bytes_per_copy(int64_t rows, int64_t cols, int64_t nnz, int64_t n, int value_bytes);

 private:
  int64_t n_ = 0;
  dense_layout layout_ = dense_layout::col_major;
};

/// Dense cuBLAS: the weight densified (row-major rows x cols, zeros where
/// pruned), C = W B through cublasGemmEx with CUBLAS_COMPUTE_32F and the
/// handle's default math mode (no TF32). SpMV is n = 1, column-major
/// (y = W x). Column-major B and C (the LLM layer Y = X W^T) is
/// GemmEx(T, N, M, n, K); row-major is C^T = B^T W^T, GemmEx(N, N, n, M, K).
class cublas_dense {
 public:
  /// SpMV: y = W x.
  cublas_dense(cublasHandle_t handle, const csr_arrays& w, const void* host_x, int copies, cudaStream_t stream);
  /// SpMM: host_b is B as a compact row-major K x n matrix of the weight's value type.
  cublas_dense(cublasHandle_t handle, const csr_arrays& w, const void* host_b, int64_t n, dense_layout layout,
               int copies, cudaStream_t stream);
  cublas_dense(const cublas_dense&) = delete;
  cublas_dense& operator=(const cublas_dense&) = delete;

  int copies() const { return static_cast<int>(copies_.size()); }
  void run(int copy, cudaStream_t stream);
  /// C[copy] (y for SpMV) on the host as compact row-major M x N (blocking).
  std::vector<double> result(int copy, cudaStream_t stream) const;

  /// Device bytes one copy needs (dense weight, B, C; x and y for n = 1).
  static int64_t bytes_per_copy(int64_t rows, int64_t cols, int value_bytes, int64_t n = 1);

 private:
  struct copy_data {
    device_buffer<unsigned char> weight, x, y;  // x: B, y: C
  };
  cublasHandle_t handle_;
  csr_arrays shape_;
  int64_t n_ = 1;
  dense_layout layout_ = dense_layout::col_major;
  std::vector<copy_data> copies_;
  float alpha_ = 1.f, beta_ = 0.f;
  cudaStream_t handle_stream_ = nullptr;
};

}  // namespace paisparse::bench
