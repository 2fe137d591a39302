// Uses the public API through the installed (or added) package: builds a
// weight, names a configuration, and fails clearly without a GPU.
#include <paisparse/paisparse.cuh>

#include <cstdio>

int main() {
  const auto w = paisparse::random_csr<__half>(64, 64, 0.1, paisparse::row_distribution::lognormal, 0.8, 1);
  const auto c = paisparse::spmv_config::parse("b256.tA2.r1.v16.u1.u16.c0.lf");
  std::printf("consumer: %d x %d, nnz %d, config %s\n", w.rows(), w.cols(), w.nnz(), c.name().c_str());
  int n = 0;
  if (cudaGetDeviceCount(&n) == cudaSuccess && n > 0) {
    paisparse::spmv_plan<__half> plan(w, c);
    std::printf("consumer: plan on the GPU, %lld bytes\n", static_cast<long long>(plan.weight_bytes()));
  }
  return 0;
}
