// paisparse: the one error type, and the macros that raise it.
//
// Every failure the library detects (bad argument, malformed weight, failed
// CUDA / cuBLAS / cuSPARSE call) surfaces as paisparse::error, whose message
// names what was wrong, where, and what was expected.
#pragma once

#include <cuda_runtime_api.h>

#include <sstream>
#include <stdexcept>
#include <string>

namespace paisparse {

/// The single exception type thrown by paisparse.
class error : public std::runtime_error {
 public:
  explicit error(const std::string& what) : std::runtime_error(what) {}
};

namespace detail {

[[noreturn]] inline void throw_error(const std::string& msg, const char* file, int line) {
  std::ostringstream os;
  os << "paisparse: " << msg << " (" << file << ":" << line << ")";
  throw error(os.str());
}

inline void check_cuda(cudaError_t status, const char* call, const char* file, int line) {
  if (status != cudaSuccess) {
    std::ostringstream os;
    os << call << " failed: " << cudaGetErrorName(status) << ": " << cudaGetErrorString(status);
    throw_error(os.str(), file, line);
  }
}

}  // namespace detail
}  // namespace paisparse

/// Throws paisparse::error with a streamed message unless `cond` holds.
/// Usage: PAISPARSE_EXPECTS(n == m, "x has " << n << " elements, expected " << m);
#define PAISPARSE_EXPECTS(cond, msg)                                        \
  do {                                                                      \
    if (!(cond)) {                                                          \
      std::ostringstream paisparse_os_;                                     \
      paisparse_os_ << msg;                                                 \
      ::paisparse::detail::throw_error(paisparse_os_.str(), __FILE__, __LINE__); \
    }                                                                       \
  } while (0)

/// Throws unconditionally.
#define PAISPARSE_FAIL(msg) PAISPARSE_EXPECTS(false, msg)

/// Checks a CUDA runtime call; a failure becomes paisparse::error naming the call.
#define PAISPARSE_CUDA_TRY(call) \
  ::paisparse::detail::check_cuda((call), #call, __FILE__, __LINE__)

/// Checks the last kernel launch.
#define PAISPARSE_CUDA_CHECK_LAST() \
  ::paisparse::detail::check_cuda(cudaGetLastError(), "kernel launch", __FILE__, __LINE__)
