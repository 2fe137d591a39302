// paisparse benchmark: status checks for cuSPARSE and cuBLAS calls.
//
// A failed call becomes paisparse::error naming the call, the status and the
// location, exactly like PAISPARSE_CUDA_TRY does for the CUDA runtime.
#pragma once

#include <cublas_v2.h>
#include <cusparse.h>

#include <sstream>

#include <paisparse/error.hpp>

namespace paisparse::bench {

inline void check_cusparse(cusparseStatus_t status, const char* call, const char* file, int line) {
  if (status != CUSPARSE_STATUS_SUCCESS) {
    std::ostringstream os;
    os << call << " failed: " << cusparseGetErrorName(status) << ": " << cusparseGetErrorString(status);
    ::paisparse::detail::throw_error(os.str(), file, line);
  }
}

inline void check_cublas(cublasStatus_t status, const char* call, const char* file, int line) {
  if (status != CUBLAS_STATUS_SUCCESS) {
    std::ostringstream os;
    os << call << " failed: " << cublasGetStatusName(status) << ": " << cublasGetStatusString(status);
    ::paisparse::detail::throw_error(os.str(), file, line);
  }
}

}  // namespace paisparse::bench

/// Checks a cuSPARSE call; a failure becomes paisparse::error naming the call.
#define PAISPARSE_CUSPARSE_TRY(call) ::paisparse::bench::check_cusparse((call), #call, __FILE__, __LINE__)

/// Checks a cuBLAS call; a failure becomes paisparse::error naming the call.
#define PAISPARSE_CUBLAS_TRY(call) ::paisparse::bench::check_cublas((call), #call, __FILE__, __LINE__)
