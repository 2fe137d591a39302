// CPU tests: configuration names and the enumerated search space.
#include <gtest/gtest.h>

#include <paisparse/format/random.hpp>
#include <paisparse/tuning/config.hpp>

#include <set>

using namespace paisparse;

TEST(Config, NameParseRoundTrip) {
  spmv_config c{{128, 64, 1, 8, 2, index_kind::i32}, 512, item_order::row_order};
  EXPECT_EQ(c.name(), "b128.t64.r1.v8.u2.i32.c512.ro");
  EXPECT_EQ(spmv_config::parse(c.name()), c);
  EXPECT_EQ(spmv_config::parse("b256.t8.r1.v16.u1.u16.c0.lf").name(), "b256.t8.r1.v16.u1.u16.c0.lf");
}

TEST(Config, AdaptiveNames) {
  const auto c = spmv_config::parse("b256.tA2.r1.v16.u1.u16.c4096.lf");
  EXPECT_TRUE(c.kernel.adaptive());
  EXPECT_EQ(c.passes, 2);
  EXPECT_EQ(c.name(), "b256.tA2.r1.v16.u1.u16.c4096.lf");
  EXPECT_THROW(spmv_config::parse("b256.tA0.r1.v16.u1.u16.c0.lf"), paisparse::error);
  EXPECT_THROW(spmv_config::parse("b256.tA.r1.v16.u1.u16.c0.lf"), paisparse::error);
  EXPECT_NE(spmv_cannot_implement({256, 0, 2, 16, 1, index_kind::u16}, 2), "");
}

TEST(AdaptiveBins, CoverEveryItemWithShrinkingTeams) {
  auto w = random_csr<float>(5000, 3000, 0.01, row_distribution::lognormal, 1.5, 21);
  for (int passes : {1, 2, 4})
    for (int block : {128, 256}) {
      const auto s = build_schedule<uint16_t>(w, {8, 0, item_order::longest_first});
      const spmv_bins b = make_spmv_bins(s.item_ptr, 8, 1, passes, block);
      ASSERT_GT(b.count, 1);
      EXPECT_EQ(b.item_begin[0], 0);
      EXPECT_EQ(b.item_begin[b.count], s.n_items());
      int64_t blocks = 0;
      for (int k = 0; k < b.count; ++k) {
        if (k > 0) EXPECT_LT(b.team_log2[k], b.team_log2[k - 1]);
        EXPECT_LE(1 << b.team_log2[k], block);
        EXPECT_EQ(b.block_begin[k], blocks);
        const int per_block = block >> b.team_log2[k];
        blocks += (b.item_begin[k + 1] - b.item_begin[k] + per_block - 1) / per_block;
        for (int32_t i = b.item_begin[k]; i < b.item_begin[k + 1]; ++i) {
          const int64_t vecs = (s.item_ptr[i + 1] - s.item_ptr[i]) / 8;
          const int64_t team = 1 << b.team_log2[k];
          if (team < block) EXPECT_LE(vecs, team * passes) << "item " << i;  // fits its passes
          if (team > 1) EXPECT_GT(vecs, team / 2 * passes) << "item " << i;   // smallest such team
        }
      }
      EXPECT_EQ(b.block_begin[b.count], blocks);
    }
  const auto ro = build_schedule<uint16_t>(w, {8, 0, item_order::row_order});
  EXPECT_THROW(make_spmv_bins(ro.item_ptr, 8, 1, 1, 256), paisparse::error);
  const spmv_bins none = make_spmv_bins({0}, 8, 1, 1, 256);
  EXPECT_EQ(none.count, 0);
}

TEST(Config, ParseErrorsNameTheField) {
  for (const char* bad : {"", "b256", "b256.t8.r1.v16.u1.u16.c0.xx", "b256.t8.r1.v16.u1.u8.c0.lf", "x256.t8.r1.v16.u1.u16.c0.lf", "b256.t8.v16.u1.u16.c0.lf",
                          "b256.t8.r1.v16.u1.u16.cx.lf"}) {
    EXPECT_THROW(spmv_config::parse(bad), paisparse::error) << bad;
  }
  try {
    spmv_config::parse("b256.t8.r1.v16.u1.u8.c0.lf");
  } catch (const paisparse::error& e) {
    EXPECT_NE(std::string(e.what()).find("index field 'u8'"), std::string::npos) << e.what();
  }
}

TEST(Space, KernelKeysAreTheCartesianProduct) {
  const auto keys = spmv_kernel_keys();
  std::size_t expect = 0;
  for (int b : space::spmv_block_threads)
    for (int t : space::spmv_row_threads)
      for (int r : space::spmv_items_per_team) expect += (b % t == 0 && (r == 1 || t <= 32)) ? 1 : 0;
  if (space::spmv_adaptive) expect += space::spmv_block_threads.size();  // adaptive kernels
  expect *= space::spmv_vec_bytes.size() * space::spmv_unroll.size() * 2;
  EXPECT_EQ(keys.size(), expect);
  std::set<std::string> names;
  for (const auto& k : keys) names.insert(spmv_config{k, 0, item_order::row_order}.name());
  EXPECT_EQ(names.size(), keys.size()) << "names must be unique";
}

TEST(Space, EveryValueTypeCanRunEveryKey) {
  for (const auto& k : spmv_kernel_keys())
    for (int vb : {2, 4}) EXPECT_EQ(spmv_cannot_implement(k, vb), "") << spmv_config{k}.name();
  EXPECT_NE(spmv_cannot_implement({256, 8, 1, 8, 1, index_kind::u16}, 8), "");  // 8-byte values: one per vector
  EXPECT_NE(spmv_cannot_implement({256, 64, 2, 16, 1, index_kind::u16}, 2), "");  // shared stage: one item per team
}

TEST(Space, SegmentCapsFollowTheRowLengths) {
  auto w = random_csr<float>(4096, 4096, 0.01, row_distribution::lognormal, 0.8, 1);
  const row_stats s = compute_row_stats(w);
  EXPECT_GT(s.cv, 0.5);
  EXPECT_GT(s.max_row, 3 * s.mean);
  const spmv_kernel_key k{256, 8, 1, 16, 1, index_kind::u16};
  const auto caps = spmv_segment_caps(k, 2, s, 132 * 2048);
  ASSERT_FALSE(caps.empty());
  EXPECT_EQ(caps[0], 0);
  for (std::size_t i = 1; i < caps.size(); ++i) {
    EXPECT_GE(caps[i], k.team_pass(2));
    EXPECT_LT(caps[i], s.max_row);
    EXPECT_EQ(caps[i] & (caps[i] - 1), 0) << "power of two";
  }
  // uniform short rows: nothing to cut
  auto u = random_csr<float>(1000, 1000, 0.005, row_distribution::uniform, 0, 1);
  EXPECT_EQ(spmv_segment_caps(k, 2, compute_row_stats(u), 132 * 2048).size(), 1u);
}

TEST(Space, EnumeratesKeysTimesCapsTimesOrders) {
  auto w = random_csr<float>(2048, 2048, 0.02, row_distribution::lognormal, 1.2, 2);
  const row_stats s = compute_row_stats(w);
  const auto all = spmv_space(2, s, 132 * 2048);
  std::size_t expect = 0;
  for (const auto& k : spmv_kernel_keys())
    expect += spmv_segment_caps(k, 2, s, 132 * 2048).size() *
              (k.adaptive() ? space::spmv_adaptive_passes.size() : 2);
  EXPECT_EQ(all.size(), expect);
  const auto only16 = spmv_space(2, s, 132 * 2048, {index_kind::u16}, {item_order::longest_first});
  EXPECT_LT(only16.size(), all.size());
  for (const auto& c : all)
    if (c.kernel.adaptive()) EXPECT_EQ(c.order, item_order::longest_first) << c.name();
  for (const auto& c : only16) {
    EXPECT_EQ(c.kernel.index, index_kind::u16);
    EXPECT_EQ(c.order, item_order::longest_first);
  }
  std::set<std::string> names;
  for (const auto& c : all) names.insert(c.name());
  EXPECT_EQ(names.size(), all.size());
}
