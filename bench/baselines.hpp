// paisparse benchmark: the baselines, cuSPARSE CSR SpMV and dense cuBLAS.
//
// Both are type-erased (value type chosen at run time) and own `copies`
// copies of the weight, x and y, so timing can rotate over them with the
// weight coming from HBM rather than L2.
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime_api.h>
#include <cusparse.h>

#include <cstdint>
#include <string>
#include <vector>

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

/// cuSPARSE CSR SpMV (32-bit indices, compute type fp32), y = W x, for each
/// requested algorithm (1: CUSPARSE_SPMV_CSR_ALG1, 2: CUSPARSE_SPMV_CSR_ALG2),
/// with cusparseSpMV_bufferSize and cusparseSpMV_preprocess done per
/// algorithm and copy at construction. An algorithm that cuSPARSE rejects for
/// this weight is marked unavailable (why_not says why); others still run.
class cusparse_spmv {
 public:
  cusparse_spmv(cusparseHandle_t handle, const csr_arrays& w, const void* host_x, const std::vector<int>& algs,
                int copies, cudaStream_t stream);
  ~cusparse_spmv();
  cusparse_spmv(const cusparse_spmv&) = delete;
  cusparse_spmv& operator=(const cusparse_spmv&) = delete;

  int alg_count() const { return static_cast<int>(algs_.size()); }
  int alg_id(int i) const { return algs_[static_cast<std::size_t>(i)].id; }
  bool available(int i) const { return algs_[static_cast<std::size_t>(i)].why_not.empty(); }
  const std::string& why_not(int i) const { return algs_[static_cast<std::size_t>(i)].why_not; }
  int copies() const { return static_cast<int>(copies_.size()); }

  /// y[copy] = W x[copy] with algorithm i on `stream` (asynchronous, capturable).
  void run(int i, int copy, cudaStream_t stream);
  /// y[copy] on the host (blocking).
  std::vector<double> result(int copy, cudaStream_t stream) const;

  /// Device bytes one copy needs (CSR with 32-bit indices, x, y).
  static int64_t bytes_per_copy(int64_t rows, int64_t cols, int64_t nnz, int value_bytes);

 private:
  struct copy_data {
    device_buffer<int32_t> offsets, indices;
    device_buffer<unsigned char> values, x, y;
  };
  struct alg_state {
    int id = 1;
    std::string why_not;
    std::vector<cusparseConstSpMatDescr_t> mat;  // per copy
    std::vector<cusparseConstDnVecDescr_t> x;
    std::vector<cusparseDnVecDescr_t> y;
    std::vector<device_buffer<unsigned char>> buffer;
  };
  void release_descriptors(alg_state& a) noexcept;

  cusparseHandle_t handle_;
  csr_arrays shape_;
  std::vector<copy_data> copies_;
  std::vector<alg_state> algs_;
  float alpha_ = 1.f, beta_ = 0.f;
  cudaStream_t handle_stream_ = nullptr;
};

/// Dense cuBLAS: the weight densified (row-major rows x cols, zeros where
/// pruned), y = W x through cublasGemmEx (M = rows, N = 1, K = cols) with
/// CUBLAS_COMPUTE_32F and the handle's default math mode (no TF32).
class cublas_dense {
 public:
  cublas_dense(cublasHandle_t handle, const csr_arrays& w, const void* host_x, int copies, cudaStream_t stream);
  cublas_dense(const cublas_dense&) = delete;
  cublas_dense& operator=(const cublas_dense&) = delete;

  int copies() const { return static_cast<int>(copies_.size()); }
  void run(int copy, cudaStream_t stream);
  std::vector<double> result(int copy, cudaStream_t stream) const;

  /// Device bytes one copy needs (dense weight, x, y).
  static int64_t bytes_per_copy(int64_t rows, int64_t cols, int value_bytes);

 private:
  struct copy_data {
    device_buffer<unsigned char> weight, x, y;
  };
  cublasHandle_t handle_;
  csr_arrays shape_;
  std::vector<copy_data> copies_;
  float alpha_ = 1.f, beta_ = 0.f;
  cudaStream_t handle_stream_ = nullptr;
};

}  // namespace paisparse::bench
