// CPU tests: the scheduled weight a plan owns must hold exactly the weight.
#include <gtest/gtest.h>

#include <paisparse/format/random.hpp>
#include <paisparse/format/schedule.hpp>

#include <map>
#include <tuple>

using namespace paisparse;

namespace {

// Rebuilds (row, col) -> value from a schedule and compares with the weight;
// also checks padding alignment, split flags and that every row has an item.
template <class I>
void expect_same_weight(const host_csr<float>& w, const host_schedule<float, I>& s, int V) {
  std::map<std::pair<int, int>, float> got;
  std::vector<int> items_of_row(w.rows(), 0);
  ASSERT_EQ(s.item_ptr.size(), s.item_row.size() + 1);
  for (int32_t i = 0; i < s.n_items(); ++i) {
    ASSERT_EQ(s.item_ptr[i] % V, 0) << "item " << i << " not aligned to " << V;
    const int32_t row = s.item_row[i] & 0x7fffffff;
    const bool split = s.item_row[i] < 0;
    ++items_of_row[row];
    const int32_t base = s.item_base.empty() ? 0 : s.item_base[i];
    for (int32_t k = s.item_ptr[i]; k < s.item_ptr[i + 1]; ++k) {
      if (s.values[k] == 0.f) continue;  // padding
      const int col = base + static_cast<int>(s.indices[k]);
      ASSERT_LT(col, w.cols());
      ASSERT_TRUE(got.emplace(std::make_pair(row, col), s.values[k]).second) << "duplicate " << row << "," << col;
    }
    if (split) ASSERT_FALSE(s.row_items.empty());
  }
  for (int r = 0; r < w.rows(); ++r) {
    ASSERT_GE(items_of_row[r], 1) << "row " << r << " has no item";
    if (!s.row_items.empty()) EXPECT_EQ(s.row_items[r], items_of_row[r]);
    for (int k = w.row_offsets()[r]; k < w.row_offsets()[r + 1]; ++k) {
      auto it = got.find({r, w.col_indices()[k]});
      ASSERT_NE(it, got.end()) << "missing " << r << "," << w.col_indices()[k];
      EXPECT_EQ(it->second, w.values()[k]);
      got.erase(it);
    }
  }
  EXPECT_TRUE(got.empty());
}

}  // namespace

TEST(Schedule, HoldsTheWeightForEveryParameterSet) {
  auto w = random_csr<float>(300, 500, 0.05, row_distribution::lognormal, 1.5, 11);
  for (int V : {2, 4, 8})
    for (int64_t cap : {0, 8, 64})
      for (item_order o : {item_order::longest_first, item_order::row_order}) {
        SCOPED_TRACE(testing::Message() << "V " << V << " cap " << cap << " order " << to_string(o));
        expect_same_weight(w, build_schedule<int32_t>(w, {V, cap, o}), V);
        expect_same_weight(w, build_schedule<uint16_t>(w, {V, cap, o}), V);
      }
}

TEST(Schedule, SegmentCapBoundsItemsAndMarksSplitRows) {
  auto w = random_csr<float>(100, 4000, 0.05, row_distribution::lognormal, 1.0, 5);
  auto s = build_schedule<int32_t>(w, {8, 64, item_order::longest_first});
  EXPECT_LE(s.longest_item, 64);
  EXPECT_GT(s.split_rows, 0);
  for (int32_t i = 1; i < s.n_items(); ++i)  // longest first
    EXPECT_GE(s.item_ptr[i] - s.item_ptr[i - 1], s.item_ptr[i + 1] - s.item_ptr[i]);
  auto n = build_schedule<int32_t>(w, {8, 0, item_order::row_order});
  EXPECT_EQ(n.split_rows, 0);
  EXPECT_TRUE(n.row_items.empty());
  EXPECT_EQ(n.n_items(), w.rows());
  for (int32_t i = 0; i < n.n_items(); ++i) EXPECT_EQ(n.item_row[i], i);
}

TEST(Schedule, SixteenBitPanelsBeyond65536Columns) {
  for (int K : {65535, 65536, 65537, 200000}) {
    SCOPED_TRACE(K);
    // rows touching the first and last columns and both sides of 65536
    std::vector<int32_t> off{0}, idx;
    std::vector<float> val;
    for (int r = 0; r < 6; ++r) {
      for (int c : {0, 1, 65534, 65535, 65536, 65537, 131071, 131072, K - 1}) {
        if (c < K && (idx.size() == static_cast<std::size_t>(off.back()) || c > idx.back()) && (c + r) % 3 != 0) {
          idx.push_back(c);
          val.push_back(1.f + c % 7 + r);
        }
      }
      off.push_back(static_cast<int32_t>(idx.size()));
    }
    host_csr<float> w(6, K, off, idx, val);
    auto s = build_schedule<uint16_t>(w, {4, 0, item_order::longest_first});
    EXPECT_EQ(s.item_base.empty(), K <= 65536);
    expect_same_weight(w, s, 4);
  }
}

TEST(Schedule, NarrowPanelsCutEveryRowAndGroupItemsPanelByPanel) {
  auto w = random_csr<float>(200, 3000, 0.05, row_distribution::lognormal, 1.2, 17);
  for (int32_t panel : {256, 1000, 4096})
    for (item_order o : {item_order::longest_first, item_order::row_order}) {
      SCOPED_TRACE(testing::Message() << "panel " << panel << " order " << to_string(o));
      const schedule_params p{8, 0, o, panel};
      auto s16 = build_schedule<uint16_t>(w, p);
      auto s32 = build_schedule<int32_t>(w, p);
      expect_same_weight(w, s16, 8);
      expect_same_weight(w, s32, 8);
      ASSERT_EQ(s16.item_base.size(), static_cast<std::size_t>(s16.n_items()));
      for (int32_t i = 0; i < s16.n_items(); ++i) {
        EXPECT_EQ(s16.item_base[i] % panel, 0);
        if (i > 0) EXPECT_GE(s16.item_base[i], s16.item_base[i - 1]) << "panel by panel";
        for (int32_t k = s16.item_ptr[i]; k < s16.item_ptr[i + 1]; ++k) EXPECT_LT(s16.indices[k], panel);
        if (o == item_order::longest_first && i > 0 && s16.item_base[i] == s16.item_base[i - 1])
          EXPECT_LE(s16.item_ptr[i + 1] - s16.item_ptr[i], s16.item_ptr[i] - s16.item_ptr[i - 1]);
      }
      EXPECT_EQ(s16.split_rows > 0, panel < 3000);
    }
  EXPECT_THROW(build_schedule<uint16_t>(w, {8, 0, item_order::row_order, 65537}), paisparse::error);
  EXPECT_THROW(build_schedule<int32_t>(w, {8, 0, item_order::row_order, -1}), paisparse::error);
}

TEST(Schedule, EmptyMatrixAndEmptyRows) {
  host_csr<float> e(4, 9, {0, 0, 0, 0, 0}, {}, {});
  auto s = build_schedule<uint16_t>(e, {8, 16, item_order::longest_first});
  EXPECT_EQ(s.n_items(), 4);
  EXPECT_EQ(s.padded_nnz(), 0);
  expect_same_weight(e, s, 8);
}

TEST(Schedule, RejectsBadParameters) {
  host_csr<float> e(1, 1, {0, 0}, {}, {});
  EXPECT_THROW(build_schedule<int32_t>(e, {0, 0, item_order::row_order}), paisparse::error);
  EXPECT_THROW(build_schedule<int32_t>(e, {8, -1, item_order::row_order}), paisparse::error);
}
