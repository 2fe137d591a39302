// GPU tests: every SpMV candidate of the space, on every matrix of the set
// and on DLMC when PAISPARSE_DLMC_DIR is set, for fp32 / fp16 / bf16 and both
// index types, against float64 references, outputs poisoned before each run.
#include "common.cuh"

using namespace ptest;

template <class T>
class EveryCandidate : public ::testing::Test {};
using value_types = ::testing::Types<float, __half, __nv_bfloat16>;
TYPED_TEST_SUITE(EveryCandidate, value_types);

TYPED_TEST(EveryCandidate, MatrixSet) {
  uint64_t seed = 1000;
  for (const auto& m : matrix_set()) {
    SCOPED_TRACE(m.name);
    const int n = check_every_candidate<TypeParam>(m.w, m.name, seed += 100);
    EXPECT_GT(n, 0);
    std::printf("  %-28s %-5s %d candidates checked\n", m.name.c_str(), value_type_name<TypeParam>(), n);
  }
}

TYPED_TEST(EveryCandidate, Dlmc) {
  const auto files = dlmc_files();
  if (files.empty()) GTEST_SKIP() << "PAISPARSE_DLMC_DIR is not set or holds no .smtx files";
  uint64_t seed = 5000;
  long total = 0;
  for (const auto& f : files) {
    SCOPED_TRACE(f);
    total += check_every_candidate<TypeParam>(read_smtx_for_test(f, seed), f, seed += 100);
  }
  std::printf("  DLMC %-5s: %zu matrices, %ld candidate runs checked\n", value_type_name<TypeParam>(), files.size(), total);
}
