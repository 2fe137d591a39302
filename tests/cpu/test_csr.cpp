// CPU tests: CSR validation (every bad input named in the docs), index and
// value conversions, magnitude pruning, the synthetic generator.
#include <gtest/gtest.h>

#include <paisparse/format/csr.hpp>
#include <paisparse/format/random.hpp>

#include "../expect_error.hpp"

#include <random>
#include <string>

using namespace paisparse;

namespace {

host_csr<float> make(int rows, int cols, std::vector<int32_t> off, std::vector<int32_t> idx) {
  std::vector<float> v(idx.size(), 1.f);
  return host_csr<float>(rows, cols, std::move(off), std::move(idx), std::move(v));
}

}  // namespace

TEST(CsrValidation, AcceptsValidIncludingEmptyRowsAndEmptyMatrix) {
  auto m = make(3, 4, {0, 2, 2, 3}, {0, 3, 1});
  EXPECT_EQ(m.nnz(), 3);
  EXPECT_EQ(m.row_length(1), 0);
  auto e = make(5, 7, {0, 0, 0, 0, 0, 0}, {});
  EXPECT_EQ(e.nnz(), 0);
  auto z = make(0, 0, {0}, {});
  EXPECT_EQ(z.rows(), 0);
}

TEST(CsrValidation, RowOffsetsWrongLength) {
  expect_error([] { make(3, 4, {0, 1, 2}, {0, 1}); }, {"row_offsets has 3 entries", "rows + 1 = 4"});
}

TEST(CsrValidation, RowOffsetsNotStartingAtZero) {
  expect_error([] { make(2, 4, {1, 1, 2}, {0, 1}); }, {"row_offsets[0] = 1", "expected 0"});
}

TEST(CsrValidation, RowOffsetsDecreasing) {
  expect_error([] { make(3, 4, {0, 2, 1, 3}, {0, 1, 2}); }, {"decreases at row 1", "row_offsets[1] = 2"});
}

TEST(CsrValidation, RowOffsetsNotEndingAtNnz) {
  expect_error([] { make(2, 4, {0, 1, 2}, {0, 1, 2}); }, {"row_offsets[rows] = 2", "col_indices has 3"});
}

TEST(CsrValidation, ColumnOutOfRange) {
  expect_error([] { make(2, 4, {0, 1, 2}, {0, 4}); }, {"col_indices[1] = 4", "row 1", "0 <= col < 4"});
  expect_error([] { make(2, 4, {0, 1, 2}, {-1, 0}); }, {"col_indices[0] = -1", "row 0"});
}

TEST(CsrValidation, DuplicateAndUnsortedColumns) {
  expect_error([] { make(1, 4, {0, 2}, {2, 2}); }, {"row 0", "duplicated", "position 1"});
  expect_error([] { make(2, 4, {0, 1, 3}, {0, 3, 1}); }, {"row 1", "unsorted", "position 2"});
}

TEST(CsrValidation, ValuesOrIndicesWrongLength) {
  expect_error([] { host_csr<float>(1, 4, {0, 2}, {0, 1}, {1.f}); }, {"values has 1 entries", "col_indices has 2"});
  expect_error([] { host_csr<float>(1, 4, {0, 2}, {0}, {1.f, 2.f}); }, {"row_offsets[rows] = 2", "col_indices has 1"});
}

TEST(CsrValidation, NegativeShape) {
  expect_error([] { host_csr<float>(-1, 4, {0}, {}, {}); }, {"rows = -1"});
}

TEST(CsrValidation, SixteenBitIndicesNeedColsAtMost65536) {
  EXPECT_NO_THROW((host_csr<__half, uint16_t>(1, 65536, {0, 1}, {65535}, {__float2half(1.f)})));
  expect_error([] { host_csr<__half, uint16_t>(1, 65537, {0, 1}, {0}, {__float2half(1.f)}); },
               {"16-bit column indices cannot represent cols = 65537"});
}

TEST(CsrConversion, SixteenBitBoundaries) {
  for (int64_t K : {65535, 65536}) {
    auto m = make(2, static_cast<int>(K), {0, 2, 3}, {0, static_cast<int32_t>(K - 1), static_cast<int32_t>(K / 2)});
    auto m16 = convert_indices<uint16_t>(m);
    ASSERT_EQ(m16.nnz(), 3);
    EXPECT_EQ(m16.col_indices()[1], static_cast<uint16_t>(K - 1));
    auto back = convert_indices<int32_t>(m16);
    EXPECT_EQ(back.col_indices(), m.col_indices());
  }
  auto big = make(1, 65537, {0, 2}, {0, 65536});
  expect_error([&] { convert_indices<uint16_t>(big); }, {"cannot represent cols = 65537"});
}

TEST(CsrConversion, ValueTypesRoundTrip) {
  auto m = random_csr<float>(50, 60, 0.2, row_distribution::uniform, 0.8, 3);
  auto h = convert_values<__half>(m);
  auto b = convert_values<__nv_bfloat16>(m);
  for (int i = 0; i < m.nnz(); ++i) {
    EXPECT_NEAR(to_float(h.values()[i]), m.values()[i], 1e-3);
    EXPECT_NEAR(to_float(b.values()[i]), m.values()[i], 1e-2);
  }
}

TEST(MagnitudePruning, ExactSparsityKeepsLargest) {
  const int rows = 37, cols = 53;
  std::mt19937 rng(7);
  std::normal_distribution<float> d;
  std::vector<float> dense(rows * cols);
  for (auto& v : dense) v = d(rng);
  for (double s : {0.0, 0.5, 0.9, 0.99, 1.0}) {
    auto m = prune_by_magnitude(dense.data(), rows, cols, s);
    const int64_t expect = std::llround((1.0 - s) * rows * cols);
    EXPECT_EQ(m.nnz(), expect) << "sparsity " << s;
    // every kept |value| >= every dropped |value|
    std::vector<char> kept(dense.size(), 0);
    float min_kept = INFINITY;
    for (int r = 0; r < rows; ++r)
      for (int k = m.row_offsets()[r]; k < m.row_offsets()[r + 1]; ++k) {
        const int c = m.col_indices()[k];
        kept[r * cols + c] = 1;
        EXPECT_EQ(m.values()[k], dense[r * cols + c]);
        min_kept = std::min(min_kept, std::fabs(m.values()[k]));
      }
    for (std::size_t i = 0; i < dense.size(); ++i)
      if (!kept[i]) EXPECT_LE(std::fabs(dense[i]), min_kept);
  }
}

TEST(MagnitudePruning, HalfValuesAndBadSparsity) {
  std::vector<__half> dense(100);
  for (int i = 0; i < 100; ++i) dense[i] = __float2half(static_cast<float>((i * 37) % 100) - 50.f);
  auto m = prune_by_magnitude(dense.data(), 10, 10, 0.9);
  EXPECT_EQ(m.nnz(), 10);
  for (auto v : m.values()) EXPECT_GE(std::fabs(__half2float(v)), 45.f);
  expect_error([&] { prune_by_magnitude(dense.data(), 10, 10, 1.5); }, {"sparsity = 1.5"});
  expect_error([&] { prune_by_magnitude<float>(nullptr, 10, 10, 0.5); }, {"dense is null"});
}

TEST(RandomCsr, DensityAndLognormalSpread) {
  auto u = random_csr<float>(2000, 1000, 0.05, row_distribution::uniform, 0.8, 1);
  EXPECT_NEAR(u.density(), 0.05, 0.005);
  auto l = random_csr<float>(2000, 1000, 0.05, row_distribution::lognormal, 0.8, 1);
  EXPECT_NEAR(l.density(), 0.05, 0.01);
  int32_t maxu = 0, maxl = 0;
  for (int r = 0; r < 2000; ++r) maxu = std::max(maxu, u.row_length(r)), maxl = std::max(maxl, l.row_length(r));
  EXPECT_GT(maxl, maxu);  // lognormal rows are more uneven
  bool nonzero = false;
  for (float v : l.values()) nonzero |= v != 0.f;
  EXPECT_TRUE(nonzero);
}
