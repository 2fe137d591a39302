// paisparse quickstart: prune a dense weight by magnitude to 99% sparsity,
// let the tuner pick the fastest SpMV kernel for that exact weight, run it,
// and compare with the dense product by cuBLAS (result and time).
//
//   quickstart [rows cols sparsity]      (default 12288 12288 0.99, fp16)
#include <cublas_v2.h>

#include <paisparse/paisparse.cuh>

#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <random>
#include <vector>

#define CUBLAS_TRY(call)                                                           \
  do {                                                                             \
    cublasStatus_t s_ = (call);                                                    \
    PAISPARSE_EXPECTS(s_ == CUBLAS_STATUS_SUCCESS, #call << " failed: status " << static_cast<int>(s_)); \
  } while (0)

int main(int argc, char** argv) try {
  using T = __half;
  const int64_t rows = argc > 1 ? std::atoll(argv[1]) : 12288;
  const int64_t cols = argc > 2 ? std::atoll(argv[2]) : 12288;
  const double sparsity = argc > 3 ? std::atof(argv[3]) : 0.99;
  int ndev = 0;
  if (cudaGetDeviceCount(&ndev) != cudaSuccess || ndev == 0) {
    std::printf("quickstart needs a CUDA GPU; none found.\n");
    return 1;
  }

  // 1. A "trained" dense weight (random normal), pruned by magnitude.
  std::printf("weight %lld x %lld fp16, pruning to %.1f%% sparsity...\n", (long long)rows, (long long)cols, 100 * sparsity);
  std::vector<T> dense(static_cast<std::size_t>(rows * cols));
  std::mt19937 rng(42);
  std::normal_distribution<float> nd(0.f, 0.02f);
  for (auto& v : dense) v = __float2half(nd(rng));
  const paisparse::host_csr<T> w = paisparse::prune_by_magnitude(dense.data(), rows, cols, sparsity);

  // 2. Tune: every compiled-in configuration, checked and timed on this weight.
  paisparse::tune_options opt;
  auto tuned = paisparse::tune_spmv(w, opt);
  tuned.print(std::cout, 8);
  const paisparse::spmv_plan<T>& plan = tuned.plan;

  // 3. Run y = W x with the plan and with cuBLAS on the dense weight.
  const auto x = paisparse::detail::random_vector<T>(static_cast<std::size_t>(cols), 7);
  paisparse::device_buffer<T> dx(x), dy(static_cast<std::size_t>(rows)), dyd(static_cast<std::size_t>(rows));
  paisparse::device_buffer<T> dW(dense);
  plan.run({dx.data(), dx.size()}, {dy.data(), dy.size()});

  cublasHandle_t h;
  CUBLAS_TRY(cublasCreate(&h));
  const float one = 1.f, zero = 0.f;
  // row-major W (rows x cols) is column-major W^T: y = (W^T)^T x
  auto dense_run = [&](cudaStream_t s) {
    CUBLAS_TRY(cublasSetStream(h, s));
    CUBLAS_TRY(cublasGemmEx(h, CUBLAS_OP_T, CUBLAS_OP_N, (int)rows, 1, (int)cols, &one, dW.data(), CUDA_R_16F, (int)cols,
                            dx.data(), CUDA_R_16F, (int)cols, &zero, dyd.data(), CUDA_R_16F, (int)rows,
                            CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
  };
  dense_run(nullptr);
  PAISPARSE_CUDA_TRY(cudaDeviceSynchronize());

  // The pruned product differs from the dense one by the pruned weights;
  // compare the sparse result with the dense product of the *pruned* weight
  // (rebuilt dense), and report how far pruning moved the output.
  std::vector<T> pruned_dense(dense.size(), __float2half(0.f));
  for (int32_t r = 0; r < w.rows(); ++r)
    for (int32_t k = w.row_offsets()[r]; k < w.row_offsets()[r + 1]; ++k)
      pruned_dense[static_cast<std::size_t>(r) * cols + w.col_indices()[k]] = w.values()[k];
  paisparse::device_buffer<T> dWp(pruned_dense), dyp(static_cast<std::size_t>(rows));
  CUBLAS_TRY(cublasGemmEx(h, CUBLAS_OP_T, CUBLAS_OP_N, (int)rows, 1, (int)cols, &one, dWp.data(), CUDA_R_16F, (int)cols,
                          dx.data(), CUDA_R_16F, (int)cols, &zero, dyp.data(), CUDA_R_16F, (int)rows,
                          CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
  const auto ys = dy.to_host(), yp = dyp.to_host();
  paisparse::reference_result ypd;
  for (const T v : yp) ypd.value.push_back(__half2float(v)), ypd.scale.push_back(std::fabs(__half2float(v)));
  const double err = paisparse::relative_error(ys, ypd);

  // 4. Time both, L2 flushed before each run (weights come from HBM).
  paisparse::l2_flusher flush;
  const auto ts = paisparse::time_launches(
      [&](cudaStream_t s) { plan.run({dx.data(), dx.size()}, {dy.data(), dy.size()}, {}, s); }, nullptr, 3, 50, &flush);
  const auto td = paisparse::time_launches(dense_run, nullptr, 3, 50, &flush);
  const double dense_mb = rows * cols * sizeof(T) / 1e6, sparse_mb = plan.weight_bytes() / 1e6;

  std::printf("\nsparse vs dense cuBLAS on the pruned weight: relative error %.2e (%s)\n", err,
              err < 1e-2 ? "match" : "MISMATCH");
  std::printf("time  : paisparse %.2f us, cuBLAS dense %.2f us  -> %.1fx faster\n", ts.median, td.median,
              td.median / ts.median);
  std::printf("memory: paisparse %.2f MB, dense %.2f MB      -> %.1fx smaller (%.2f bytes per nonzero)\n", sparse_mb,
              dense_mb, dense_mb / sparse_mb, plan.weight_bytes() / double(std::max(1, w.nnz())));
  cublasDestroy(h);
  return err < 1e-2 ? 0 : 2;
} catch (const std::exception& e) {
  std::fprintf(stderr, "%s\n", e.what());
  return 1;
}
