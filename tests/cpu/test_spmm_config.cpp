// CPU tests of SpMM: configuration names, the enumerated search space, dense
// layouts and the float64 reference.
#include <gtest/gtest.h>

#include <paisparse/format/dense.hpp>
#include <paisparse/format/fragment_weight.hpp>
#include <paisparse/format/random.hpp>
#include <paisparse/format/tiled_weight.hpp>
#include <paisparse/format/window_weight.hpp>
#include <paisparse/spmm_reference.hpp>
#include <paisparse/tuning/spmm_config.hpp>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <limits>
#include <map>
#include <set>
#include <string>
#include <tuple>
#include <utility>

using namespace paisparse;

namespace {
std::string parse_error(const std::string& name) {
  try {
    spmm_config::parse(name);
  } catch (const paisparse::error& e) {
    return e.what();
  }
  return "";
}
}  // namespace

TEST(SpmmConfig, NameParseRoundTrip) {
  spmm_config c{{128, 8, 2, 8, 16, 1, index_kind::u16, spmm_b_access::rows},
                512,
                item_order::row_order,
                dense_layout::col_major,
                dense_layout::col_major};
  EXPECT_EQ(c.name(), "spmm.b128.g8.l2.n8.v16.u1.u16.c512.ro.Bt.Cc");
  EXPECT_EQ(spmm_config::parse(c.name()), c);
  EXPECT_TRUE(c.stages_b());
  for (const char* n : {"spmm.b128.g4.l1.n4.v16.u1.i32.c0.lf.Bc.Cr", "spmm.b256.g1.l16.n16.v8.u2.u16.c64.lf.Br.Cc",
                        "spmm.b128.g32.l1.n4.v16.u1.u16.c0.ro.Bt.Cr"}) {
    EXPECT_EQ(spmm_config::parse(n).name(), n);
  }
  const spmm_config g = spmm_config::parse("spmm.b128.g4.l1.n4.v16.u1.i32.c0.lf.Bc.Cr");
  EXPECT_EQ(g.kernel.access, spmm_b_access::gather);
  EXPECT_EQ(g.b_layout, dense_layout::col_major);
  EXPECT_EQ(g.c_layout, dense_layout::row_major);
  EXPECT_FALSE(g.stages_b());
  const spmm_config pc = spmm_config::parse("spmm.b256.g8.l4.n8.v16.u2.u16.c0.lf.Pc1024x64.Cc");
  EXPECT_EQ(pc.name(), "spmm.b256.g8.l4.n8.v16.u2.u16.c0.lf.Pc1024x64.Cc");
  EXPECT_EQ(pc.kernel.access, spmm_b_access::panel);
  EXPECT_EQ(pc.b_layout, dense_layout::col_major);
  EXPECT_EQ(pc.panel_rows, 1024);
  EXPECT_EQ(pc.group_items, 64);
  EXPECT_FALSE(pc.stages_b());
  EXPECT_EQ(pc.panel_smem_bytes(2), 1024 * 32 * 2);
  EXPECT_EQ(spmm_config::parse("spmm.b256.g8.l4.n8.v16.u2.u16.c0.lf.Pr512x256.Cr").b_layout, dense_layout::row_major);
  EXPECT_EQ(spmm_cannot_implement(pc, 2), "");
  spmm_config no_panel = pc;
  no_panel.panel_rows = 0;
  EXPECT_NE(spmm_cannot_implement(no_panel, 2).find("panel rows"), std::string::npos);
  const spmm_config r = spmm_config::parse("spmm.b256.g1.l16.n16.v8.u2.u16.c64.lf.Br.Cc");
  EXPECT_EQ(r.b_layout, dense_layout::row_major);
  EXPECT_EQ(r.kernel.access, spmm_b_access::rows);
  EXPECT_EQ(r.kernel.col_pass(), 256);
  EXPECT_EQ(r.kernel.team_threads(), 16);
}

TEST(SpmmConfig, ParseErrorsNameTheField) {
  for (const char* bad : {"", "spmm", "b128.g8.l2.n8.v16.u1.u16.c0.lf.Bt.Cc.x", "spmv.b128.g8.l2.n8.v16.u1.u16.c0.lf.Bt.Cc",
                          "spmm.b128.g8.l2.n8.v16.u1.u16.c0.lf.Bt", "spmm.x128.g8.l2.n8.v16.u1.u16.c0.lf.Bt.Cc",
                          "spmm.b128.g8.l2.n8.v16.u1.u16.cx.lf.Bt.Cc", "spmm.b128.g8.l2.n8.v16.u1.u16.c0.lf.Bx.Cc"}) {
    EXPECT_THROW(spmm_config::parse(bad), paisparse::error) << bad;
  }
  EXPECT_NE(parse_error("spmm.b128.g8.l2.n8.v16.u1.u8.c0.lf.Bt.Cc").find("index field 'u8'"), std::string::npos);
  EXPECT_NE(parse_error("spmm.b128.g8.l2.n8.v16.u1.u16.c0.xx.Bt.Cc").find("order field 'xx'"), std::string::npos);
  EXPECT_NE(parse_error("spmm.b128.g8.l2.n8.v16.u1.u16.c0.lf.Bq.Cc").find("B field 'Bq'"), std::string::npos);
  EXPECT_NE(parse_error("spmm.b128.g8.l2.n8.v16.u1.u16.c0.lf.Bt.Cz").find("C field 'Cz'"), std::string::npos);
  EXPECT_NE(parse_error("spmm.b128.gx.l2.n8.v16.u1.u16.c0.lf.Bt.Cc").find("field 'gx'"), std::string::npos);
  EXPECT_NE(parse_error("spmm.b128.g8").find("expected 12 dot-separated fields"), std::string::npos);
  for (const char* bad : {"Pc", "Pc1024", "Pc1024x", "Pcx64", "Pq1024x64", "Pc10a4x64", "Pc0x64", "Pc1024x0",
                          "Pc99999x64"})
    EXPECT_THROW(spmm_config::parse(std::string("spmm.b256.g8.l4.n8.v16.u2.u16.c0.lf.") + bad + ".Cc"),
                 paisparse::error)
        << bad;
}

TEST(SpmmSpace, KernelKeysAreTheFilteredCartesianProduct) {
  const auto keys = spmm_kernel_keys();
  std::size_t expect = 0;
  for (int gather = 0; gather < (space::spmm_gather ? 2 : 1); ++gather)
    for (int b : space::spmm_block_threads)
      for (int g : space::spmm_nz_lanes)
        for (int l : space::spmm_col_lanes)
          for (int n : space::spmm_col_tile) expect += spmm_shape_compiled(b, g, l, n, gather == 1) ? 1 : 0;
  expect *= space::spmm_vec_bytes.size() * space::spmm_unroll.size() * 2;
  std::size_t panel = 0;  // panel kernels: their own lists, 16-bit indices only
  if (space::spmm_panel)
    for (int b : space::spmm_panel_block_threads)
      for (int g : space::spmm_panel_nz_lanes)
        for (int l : space::spmm_panel_col_lanes)
          for (int n : space::spmm_panel_col_tile) panel += spmm_panel_shape_compiled(b, g, l, n, 2) ? 1 : 0;
  expect += panel * space::spmm_vec_bytes.size() * space::spmm_panel_unroll.size();
  if (space::spmm_tensor)  // tensor-core kernels: one key per block shape
    for (const auto& t : space::spmm_tensor_tiles) expect += spmm_tensor_shape_ok(t) ? 1 : 0;
  if (space::spmm_window)  // gathered tensor-core kernels: likewise
    for (const auto& b : space::spmm_window_blocks) expect += spmm_window_shape_ok(b) ? 1 : 0;
  if (space::spmm_fragment)  // register-built tensor-core kernels: likewise
    for (const auto& t : space::spmm_fragment_tiles) expect += spmm_fragment_shape_ok(t) ? 1 : 0;
  if (space::spmm_wgmma)  // warpgroup tensor-core kernels: likewise
    for (const auto& t : space::spmm_wgmma_tiles) expect += spmm_wgmma_shape_ok(t) ? 1 : 0;
  EXPECT_EQ(keys.size(), expect);
  std::set<std::string> names;
  for (const auto& k : keys) {
    spmm_config c{k};
    c.b_layout = dense_layout::col_major;
    names.insert(c.name());
    if (k.tensor_tiled() || k.access == spmm_b_access::window) continue;
    EXPECT_LE(k.team_threads(), 32);
    EXPECT_GE(k.team_threads(), 4);
    EXPECT_LE(k.col_pass(), 256);
  }
  EXPECT_EQ(names.size(), keys.size()) << "names must be unique";
  std::printf("  %zu SpMM kernel keys per value type (both index kinds)\n", keys.size());
}

TEST(SpmmSpace, EveryValueTypeCanRunEveryKey) {
  for (const auto& k : spmm_kernel_keys()) {
    if (k.tensor_tiled() || k.access == spmm_b_access::window) {  // 16-bit values only
      EXPECT_EQ(spmm_cannot_implement(k, 2), "") << spmm_config{k}.name();
      EXPECT_NE(spmm_cannot_implement(k, 4).find("fp16 or bf16"), std::string::npos);
      continue;
    }
    for (int vb : {2, 4}) EXPECT_EQ(spmm_cannot_implement(k, vb), "") << spmm_config{k}.name();
  }
  spmm_kernel_key k{128, 64, 1, 8, 16, 1, index_kind::u16, spmm_b_access::rows};
  EXPECT_NE(spmm_cannot_implement(k, 2).find("power of two of at most 32"), std::string::npos);
  k = {80, 8, 2, 8, 16, 1, index_kind::u16, spmm_b_access::rows};
  EXPECT_NE(spmm_cannot_implement(k, 2).find("does not divide"), std::string::npos);
  k = {128, 8, 1, 3, 16, 1, index_kind::u16, spmm_b_access::rows};
  EXPECT_NE(spmm_cannot_implement(k, 2).find("tile of 3 columns"), std::string::npos);
  k = {128, 8, 1, 8, 8, 1, index_kind::u16, spmm_b_access::rows};
  EXPECT_NE(spmm_cannot_implement(k, 8), "");  // 8-byte values: one per vector
  spmm_config c{{128, 8, 1, 8, 16, 1, index_kind::u16, spmm_b_access::gather}};
  c.b_layout = dense_layout::row_major;
  EXPECT_NE(spmm_cannot_implement(c, 2).find("column-major B only"), std::string::npos);
  spmm_config wg{spmm_kernel_key::wgmma({64, 128, 64, 4, 1})};
  EXPECT_EQ(spmm_cannot_implement(wg, 2), "");
  wg.b_layout = dense_layout::row_major;
  EXPECT_NE(spmm_cannot_implement(wg, 2).find("spmm.wg kernels read column-major B only"), std::string::npos);
  EXPECT_NE(spmm_cannot_implement(spmm_kernel_key::wgmma({64, 48, 64, 4, 1}), 2).find("warpgroup"), std::string::npos);
  EXPECT_NE(spmm_cannot_implement(spmm_kernel_key::wgmma({64, 64, 64, 2, 2}), 2).find("warpgroup"), std::string::npos);
}

TEST(SpmmSpace, ShapesSuitN) {
  for (const auto& k : spmm_kernel_keys()) {
    EXPECT_TRUE(spmm_shape_suits(k, 0));
    EXPECT_TRUE(spmm_shape_suits(k, 256)) << spmm_config{k}.name();
    if (k.tensor_tiled()) {  // no block more than half empty, but for the narrowest
      if (spmm_shape_suits(k, 8)) EXPECT_EQ(k.tile.n, 16);
      if (k.tile.n > 16) EXPECT_EQ(spmm_shape_suits(k, k.tile.n / 2), false);
      continue;
    }
    if (k.access == spmm_b_access::window) {  // likewise
      if (spmm_shape_suits(k, 8)) EXPECT_EQ(k.col_tile, 16);
      if (k.col_tile > 16) EXPECT_EQ(spmm_shape_suits(k, k.col_tile / 2), false);
      continue;
    }
    if (spmm_shape_suits(k, 1)) {
      EXPECT_EQ(k.col_lanes, 1);
      EXPECT_EQ(k.col_tile, 4);
    }
    if (spmm_shape_suits(k, 17)) EXPECT_LT((k.col_lanes - 1) * k.col_tile, 17);
  }
  const spmm_kernel_key k{128, 2, 16, 8, 16, 1, index_kind::u16, spmm_b_access::rows};
  EXPECT_EQ(spmm_col_chunks(k, 256), 2);
  EXPECT_EQ(spmm_col_chunks(k, 128), 1);
  EXPECT_EQ(spmm_col_chunks(k, 129), 2);
  EXPECT_EQ(spmm_col_chunks(k, 1), 1);
}

TEST(SpmmSpace, SegmentCapsFollowTheRowLengthsAndN) {
  auto w = random_csr<float>(4096, 4096, 0.01, row_distribution::lognormal, 0.8, 1);
  const row_stats s = compute_row_stats(w);
  const spmm_kernel_key k{128, 8, 2, 8, 16, 1, index_kind::u16, spmm_b_access::rows};
  for (int32_t n : {1, 16, 256}) {
    const auto caps = spmm_segment_caps(k, 2, s, 132 * 2048, n);
    ASSERT_FALSE(caps.empty());
    EXPECT_EQ(caps[0], 0);
    for (std::size_t i = 1; i < caps.size(); ++i) {
      EXPECT_GE(caps[i], k.team_pass(2));
      EXPECT_LT(caps[i], s.max_row);
      EXPECT_EQ(caps[i] & (caps[i] - 1), 0) << "power of two";
    }
  }
  // more column chunks, more work per team: the balanced cap does not shrink
  const auto c1 = spmm_segment_caps(k, 2, s, 132 * 2048, 1), c256 = spmm_segment_caps(k, 2, s, 132 * 2048, 256);
  if (c1.size() > 1 && c256.size() > 1) EXPECT_GE(c256[1], c1[1]);
}

TEST(SpmmSpace, EnumeratesKeysTimesCapsTimesOrdersPerLayout) {
  auto w = random_csr<float>(2048, 2048, 0.02, row_distribution::lognormal, 1.2, 2);
  const row_stats s = compute_row_stats(w);
  for (int32_t n : {0, 1, 17, 256}) {
    for (auto bl : {dense_layout::row_major, dense_layout::col_major}) {
      const auto all = spmm_space(2, s, 132 * 2048, n, bl, dense_layout::row_major);
      std::size_t expect = 0;
      for (const auto& k : spmm_kernel_keys()) {
        if (bl == dense_layout::row_major &&
            (k.access == spmm_b_access::gather || k.access == spmm_b_access::wgmma))
          continue;
        if (!spmm_shape_suits(k, n) || !spmm_cannot_implement(k, 2).empty()) continue;
        if (k.access == spmm_b_access::panel)
          expect += spmm_panel_rows_for(k, 2, s.cols).size() * space::spmm_panel_group_items.size();
        else if (k.tensor_tiled())
          expect += spmm_tensor_splits(k, s, 132 * 2048 / k.block_threads, n).size() +
                    spmm_cluster_splits(k, s, n, spmm_tensor_splits(k, s, 132 * 2048 / k.block_threads, n),
                                        [&](int32_t c) { return 132 * 2048 / k.block_threads / c; })
                        .size();
        else if (k.access == spmm_b_access::window)
          expect += 1;
        else
          expect += spmm_segment_caps(k, 2, s, 132 * 2048, n).size() * 2;
      }
      EXPECT_EQ(all.size(), expect) << n;
      std::set<std::string> names;
      for (const auto& c : all) {
        names.insert(c.name());
        EXPECT_EQ(spmm_cannot_implement(c, 2), "") << c.name();
        EXPECT_EQ(c.b_layout, bl);
        EXPECT_EQ(spmm_config::parse(c.name()), c);
      }
      EXPECT_EQ(names.size(), all.size());
    }
  }
  const auto every = spmm_space(2, s, 132 * 2048, 0, dense_layout::col_major, dense_layout::col_major);
  const auto for1 = spmm_space(2, s, 132 * 2048, 1, dense_layout::col_major, dense_layout::col_major);
  EXPECT_LT(for1.size(), every.size());
  bool staged = false, gathered = false;
  for (const auto& c : every) staged |= c.stages_b(), gathered |= c.kernel.access == spmm_b_access::gather;
  EXPECT_TRUE(staged);
  EXPECT_EQ(gathered, space::spmm_gather);
  bool paneled = false;
  for (const auto& c : every) {
    if (c.kernel.access != spmm_b_access::panel) continue;
    paneled = true;
    EXPECT_LE(c.panel_smem_bytes(2), space::spmm_panel_max_smem) << c.name();
    EXPECT_EQ(c.kernel.index, index_kind::u16);
  }
  EXPECT_EQ(paneled, space::spmm_panel);
  // panel heights: K itself when B's chunk fits, else the two tallest that fit
  const spmm_kernel_key pk{256, 8, 4, 8, 16, 2, index_kind::u16, spmm_b_access::panel};
  EXPECT_EQ(spmm_panel_rows_for(pk, 2, 700), std::vector<int32_t>{700});
  const auto rows = spmm_panel_rows_for(pk, 2, 1 << 20);
  ASSERT_FALSE(rows.empty());
  for (int32_t r : rows) EXPECT_LE(static_cast<int64_t>(r) * pk.col_pass() * 2, space::spmm_panel_max_smem);
  EXPECT_LE(rows.size(), 2u);
  const auto only16 = spmm_space(2, s, 132 * 2048, 8, dense_layout::col_major, dense_layout::col_major,
                                 {index_kind::u16}, {item_order::longest_first});
  for (const auto& c : only16) {
    EXPECT_EQ(c.kernel.index, index_kind::u16);
    EXPECT_EQ(c.order, item_order::longest_first);
  }
}

TEST(SpmmDense, ExtentAndOffset) {
  EXPECT_EQ(dense_extent(3, 4, 4, dense_layout::row_major), 12);
  EXPECT_EQ(dense_extent(3, 4, 6, dense_layout::row_major), 16);
  EXPECT_EQ(dense_extent(3, 4, 5, dense_layout::col_major), 18);
  EXPECT_EQ(dense_extent(0, 4, 5, dense_layout::col_major), 0);
  EXPECT_EQ(dense_extent(3, 0, 5, dense_layout::row_major), 0);
  EXPECT_EQ(dense_offset(2, 1, 6, dense_layout::row_major), 13);
  EXPECT_EQ(dense_offset(2, 1, 5, dense_layout::col_major), 7);
  std::vector<float> buf(20, 0.f);
  auto v = col_major_view(buf.data(), buf.size(), 5);
  dense_view<const float> cv = v;  // T -> const T
  EXPECT_EQ(cv.ld, 5);
  EXPECT_EQ(cv.layout, dense_layout::col_major);
}

TEST(SpmmReference, SmallProductInEveryLayout) {
  // W = [[1, 0, 2], [0, 0, 0], [0, -3, 0]], B = [[1, 2], [3, 4], [5, 6]]
  host_csr<float> w(3, 3, {0, 2, 2, 3}, {0, 2, 1}, {1.f, 2.f, -3.f});
  const std::vector<float> b_rm{1, 2, 3, 4, 5, 6};         // row-major, ld 2
  const std::vector<float> b_cm{1, 3, 5, -7, 2, 4, 6, -7};  // column-major, ld 4 (one pad row)
  for (auto b : {host_dense_ref<float>{&b_rm, dense_layout::row_major, 2},
                 host_dense_ref<float>{&b_cm, dense_layout::col_major, 4}}) {
    const auto r = spmm_reference(w, b, 2);
    EXPECT_EQ(r.value, (std::vector<double>{11, 14, 0, 0, -9, -12}));
    EXPECT_EQ(r.scale, (std::vector<double>{11, 14, 0, 0, 9, 12}));
  }
  // alpha, beta (column-major C0 with ld 4), bias, relu
  const std::vector<float> c0{1, 1, 1, 0, 2, 2, 2, 0};
  const std::vector<float> bias{0.5f, -1.f, 100.f};
  const host_dense_ref<float> c0r{&c0, dense_layout::col_major, 4};
  const auto r = spmm_reference(w, host_dense_ref<float>{&b_rm, dense_layout::row_major, 2}, 2, 2.0, -1.0, &c0r,
                                &bias, activation::relu);
  EXPECT_EQ(r.value, (std::vector<double>{21.5, 26.5, 0, 0, 81, 74}));
  EXPECT_EQ(compact_row_major(b_cm, 3, 2, 4, dense_layout::col_major), b_rm);
  EXPECT_THROW(spmm_reference(w, host_dense_ref<float>{&b_rm, dense_layout::row_major, 3}, 2), paisparse::error);
}

TEST(SpmmConfig, TensorCoreNames) {
  const spmm_tensor_tile t{64, 32, 64, 2, 2};
  spmm_config c{spmm_kernel_key::tensor(t)};
  c.b_layout = dense_layout::col_major;
  c.c_layout = dense_layout::row_major;
  EXPECT_EQ(c.name(), "spmm.tc.m64.n32.k64.w2x2.s1.Bc.Cr");
  EXPECT_EQ(spmm_config::parse(c.name()), c);
  EXPECT_EQ(c.kernel.block_threads, 128);
  EXPECT_FALSE(c.stages_b());
  for (const char* n : {"spmm.tc.m128.n128.k32.w2x2.s4.Br.Cc", "spmm.tc.m32.n16.k64.w2x1.s1.Bc.Cc",
                        "spmm.tc.m64.n64.k64.w2x2x2.s3.Bc.Cc", "spmm.tc.m128.n32.k64.w4x1x4.s1.Br.Cr"})
    EXPECT_EQ(spmm_config::parse(n).name(), n);
  {  // warps along k: in the name only when > 1, in the block's threads, in the key's identity
    const spmm_config k2 = spmm_config::parse("spmm.tc.m64.n64.k64.w2x2x2.s1.Bc.Cc");
    EXPECT_EQ(k2.kernel.tile.warps_k, 2);
    EXPECT_EQ(k2.kernel.block_threads, 256);
    EXPECT_NE(k2.kernel, spmm_config::parse("spmm.tc.m64.n64.k64.w2x2.s1.Bc.Cc").kernel);
    EXPECT_EQ(spmm_config::parse("spmm.tc.m64.n64.k64.w2x2x1.s1.Bc.Cc").name(), "spmm.tc.m64.n64.k64.w2x2.s1.Bc.Cc");
  }
  auto err = [](const char* n) {
    try {
      spmm_config::parse(n);
    } catch (const paisparse::error& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  EXPECT_NE(err("spmm.tc.m64.n32.k64.w2x2.Bc.Cc").find("9 dot-separated fields"), std::string::npos);
  EXPECT_NE(err("spmm.tc.m64.n32.q64.w2x2.s1.Bc.Cc").find("'q64'"), std::string::npos);
  EXPECT_NE(err("spmm.tc.m64.n32.k64.w2y2.s1.Bc.Cc").find("'w2y2'"), std::string::npos);
  EXPECT_NE(err("spmm.tc.m48.n32.k64.w2x2.s1.Bc.Cc").find("not a tensor-core shape"), std::string::npos);
  for (const char* bad : {"spmm.tc.m64.n32.k64.w2x2x.s1.Bc.Cc", "spmm.tc.m64.n32.k64.w2xx2.s1.Bc.Cc",
                          "spmm.tc.m64.n32.k64.w2x2x2x2.s1.Bc.Cc", "spmm.tc.m64.n32.k64.w2x123.s1.Bc.Cc"})
    EXPECT_NE(err(bad).find("should be 'w<warps over rows>"), std::string::npos) << bad;
  // each group along k needs whole 16-deep slices (k 32 = two slices: not 4 groups); at most 16 warps
  EXPECT_NE(err("spmm.tc.m64.n32.k32.w2x2x4.s1.Bc.Cc").find("not a tensor-core shape"), std::string::npos);
  EXPECT_NE(err("spmm.tc.m128.n64.k64.w4x2x4.s1.Bc.Cc").find("16 in all"), std::string::npos);
  EXPECT_NE(err("spmm.tc.m64.n32.k64.w2x2.s0.Bc.Cc").find("k splits 0"), std::string::npos);
  EXPECT_NE(err("spmm.tc.m64.n32.k64.w2x2.s1.Bt.Cc").find("Br or Bc"), std::string::npos);
  EXPECT_NE(err("spmm.tc.m64.n32.k64.w2x2.s1.Bc.Cx").find("Cr or Cc"), std::string::npos);
  // k splits: 1 always; more only when the tiles of C do not fill the GPU, each split >= 2 steps
  {
    const auto tall = random_csr<float>(49152, 1024, 0.01, row_distribution::uniform, 0, 4);
    const auto wide = random_csr<float>(1024, 12288, 0.01, row_distribution::uniform, 0, 4);
    const spmm_kernel_key k = spmm_kernel_key::tensor({64, 32, 64, 2, 2});
    // 768 row blocks x 8 column blocks fill the 2112 blocks of 128 threads 132 SMs hold: 1, and 2 to compare
    EXPECT_EQ(spmm_tensor_splits(k, compute_row_stats(tall), 2112, 256), (std::vector<int32_t>{1, 2}));
    const auto sw = spmm_tensor_splits(k, compute_row_stats(wide), 2112, 32);
    ASSERT_GT(sw.size(), 1u);  // 16 tiles of C: splits of 128 (> 64: capped) ... each >= 2 of 192 steps
    for (int32_t x : sw) EXPECT_LE(2 * x, 192);
    EXPECT_EQ(spmm_tensor_splits(k, compute_row_stats(wide), 2112, 0), (std::vector<int32_t>{1, 3}));
    // 6 blocks an SM (shared memory): 792 resident; 16 tiles: p = 64 and 32, 49 (one whole wave), and 128 and
    // 99 (two waves) cut to 96, half the steps
    EXPECT_EQ(spmm_tensor_splits(k, compute_row_stats(wide), 792, 32), (std::vector<int32_t>{1, 32, 49, 64, 96}));
    // a K of 47 steps: every split wanted is cut to 23
    const auto narrow = random_csr<float>(256, 3000, 0.01, row_distribution::uniform, 0, 4);
    EXPECT_EQ(spmm_tensor_splits(k, compute_row_stats(narrow), 660, 32), (std::vector<int32_t>{1, 23}));
    // 4096 rows, N = 32: 64 x 1 tiles, 192 steps: 8, 16, 32 (p = 16: 1024 blocks fill 792) and 12, 24 (1 and 2 waves)
    const auto sq = random_csr<float>(4096, 12288, 0.01, row_distribution::uniform, 0, 4);
    EXPECT_EQ(spmm_tensor_splits(k, compute_row_stats(sq), 792, 32), (std::vector<int32_t>{1, 8, 12, 16, 24, 32}));
  }
  // the tuner's pre-filter: a key is kept when the filter can match one of its names, any split
  {
    const spmm_kernel_key k = spmm_kernel_key::tensor({64, 32, 64, 2, 2});
    const auto col = dense_layout::col_major, row = dense_layout::row_major;
    EXPECT_TRUE(spmm_filter_may_keep(k, col, col, 12288, ""));
    EXPECT_TRUE(spmm_filter_may_keep(k, col, col, 12288, ".tc."));
    EXPECT_TRUE(spmm_filter_may_keep(k, col, col, 12288, "m64.n32.k64.w2x2.s1"));
    EXPECT_TRUE(spmm_filter_may_keep(k, col, col, 12288, "w2x2.s96.Bc"));  // 192 steps: splits up to 96
    EXPECT_TRUE(spmm_filter_may_keep(k, col, col, 64, ".s3."));           // the tests' uneven split
    EXPECT_FALSE(spmm_filter_may_keep(k, col, col, 12288, ".tf."));
    EXPECT_FALSE(spmm_filter_may_keep(k, col, col, 12288, "m128"));
    EXPECT_FALSE(spmm_filter_may_keep(k, col, col, 12288, "w2x2.s400."));  // more splits than steps
    EXPECT_FALSE(spmm_filter_may_keep(k, col, col, 12288, ".Br."));       // another layout
    EXPECT_TRUE(spmm_filter_may_keep(k, row, col, 12288, ".Br."));
    // every configuration the space offers a key is kept by a filter of its own name
    const auto wide = random_csr<float>(256, 12288, 0.01, row_distribution::uniform, 0, 4);
    for (const spmm_config& c : spmm_space(2, compute_row_stats(wide), 132 * 2048, 32, col, col))
      if (c.kernel.tensor_tiled()) EXPECT_TRUE(spmm_filter_may_keep(c.kernel, col, col, 12288, c.name())) << c.name();
  }
  // the space offers them for 16-bit values only, once per layout pair, and only with 16-bit positions allowed
  auto w = random_csr<float>(512, 512, 0.1, row_distribution::lognormal, 0.8, 3);
  const row_stats s = compute_row_stats(w);
  auto count = [&](int vb, std::vector<index_kind> kinds) {
    int tc = 0;
    for (const auto& x : spmm_space(vb, s, 132 * 2048, 64, dense_layout::row_major, dense_layout::col_major, kinds))
      tc += x.kernel.access == spmm_b_access::tensor;
    return tc;
  };
  EXPECT_EQ(count(4, {index_kind::u16, index_kind::i32}), 0);
  EXPECT_EQ(count(2, {index_kind::i32}), 0);
  if (space::spmm_tensor) EXPECT_GT(count(2, {index_kind::u16, index_kind::i32}), 0);
}

TEST(SpmmConfig, GatheredTensorCoreNames) {
  spmm_config c{spmm_kernel_key::window({8, 64})};
  c.b_layout = dense_layout::col_major;
  c.c_layout = dense_layout::row_major;
  EXPECT_EQ(c.name(), "spmm.tw.w8.n64.Bt.Cr");
  EXPECT_EQ(spmm_config::parse(c.name()), c);
  EXPECT_EQ(c.kernel.block_threads, 256);
  EXPECT_TRUE(c.stages_b());  // column-major B through the staged row-major copy
  EXPECT_FALSE(spmm_config::parse("spmm.tw.w4.n16.Br.Cc").stages_b());
  for (const char* n : {"spmm.tw.w16.n128.Br.Cc", "spmm.tw.w4.n16.Bt.Cr"}) EXPECT_EQ(spmm_config::parse(n).name(), n);
  EXPECT_NE(spmm_config::parse("spmm.tw.w8.n64.Br.Cc").kernel, spmm_config::parse("spmm.tw.w8.n32.Br.Cc").kernel);
  EXPECT_NE(parse_error("spmm.tw.w8.n64.Bt").find("6 dot-separated fields"), std::string::npos);
  EXPECT_NE(parse_error("spmm.tw.w8.n48x.Bt.Cc").find("'n48x'"), std::string::npos);
  EXPECT_NE(parse_error("spmm.tw.w8.n40.Bt.Cc").find("not a gathered tensor-core block"), std::string::npos);
  EXPECT_NE(parse_error("spmm.tw.w64.n64.Bt.Cc").find("not a gathered tensor-core block"), std::string::npos);
  EXPECT_NE(parse_error("spmm.tw.w8.n64.Bc.Cc").find("Br or Bt"), std::string::npos);
  EXPECT_NE(parse_error("spmm.tw.w8.n64.Bt.Cx").find("Cr or Cc"), std::string::npos);
  // offered for 16-bit values only, once per key and layout pair
  auto w = random_csr<float>(512, 512, 0.1, row_distribution::lognormal, 0.8, 3);
  const row_stats s = compute_row_stats(w);
  auto count = [&](int vb, int32_t n) {
    int tw = 0;
    for (const auto& x : spmm_space(vb, s, 132 * 2048, n, dense_layout::col_major, dense_layout::col_major))
      tw += x.kernel.access == spmm_b_access::window;
    return tw;
  };
  EXPECT_EQ(count(4, 64), 0);
  if (space::spmm_window) {
    EXPECT_GT(count(2, 64), 0);
    EXPECT_EQ(count(2, 0), static_cast<int>(std::size(space::spmm_window_blocks)));
    EXPECT_LT(count(2, 8), count(2, 0));  // no block more than half empty, but for the narrowest
  }
}

TEST(SpmmConfig, WarpgroupTensorCoreNames) {
  spmm_config c{spmm_kernel_key::wgmma({128, 64, 64, 8, 1})};
  c.b_layout = dense_layout::col_major;
  c.c_layout = dense_layout::row_major;
  c.k_splits = 3;
  EXPECT_EQ(c.name(), "spmm.wg.m128.n64.k64.w8x1.s3.Bc.Cr");
  EXPECT_EQ(spmm_config::parse(c.name()), c);
  EXPECT_EQ(c.kernel.block_threads, 256);
  EXPECT_TRUE(c.kernel.tensor_tiled());
  EXPECT_FALSE(c.stages_b());
  EXPECT_NE(spmm_config::parse("spmm.wg.m64.n32.k64.w4x1.s1.Bc.Cc").kernel,
            spmm_config::parse("spmm.tc.m64.n32.k64.w4x1.s1.Bc.Cc").kernel);
  EXPECT_NE(parse_error("spmm.wg.m64.n32.k64.w4x1.s1.Br.Cc").find("column-major B (Bc) only"), std::string::npos);
  EXPECT_NE(parse_error("spmm.wg.m64.n32.k64.w2x2.s1.Bc.Cc").find("not a warpgroup tensor-core shape"),
            std::string::npos);  // a warpgroup is 4 warps over 64 rows
  EXPECT_NE(parse_error("spmm.wg.m32.n32.k64.w2x1.s1.Bc.Cc").find("not a warpgroup"), std::string::npos);
  EXPECT_NE(parse_error("spmm.wg.m64.n48.k64.w4x1.s1.Bc.Cc").find("not a warpgroup"), std::string::npos);
  // k steps of 64 or a multiple: B comes in 128-byte-swizzled pieces of 64
  EXPECT_EQ(spmm_config::parse("spmm.wg.m64.n32.k128.w4x1.s1.Bc.Cc").kernel.tile.k, 128);
  EXPECT_EQ(spmm_config::parse("spmm.wg.m64.n16.k256.w4x1.s1.Bc.Cc").kernel.tile.k, 256);
  EXPECT_NE(parse_error("spmm.wg.m64.n32.k32.w4x1.s1.Bc.Cc").find("k steps a multiple of 64"), std::string::npos);
  EXPECT_NE(parse_error("spmm.wg.m64.n32.k96.w4x1.s1.Bc.Cc").find("not a warpgroup"), std::string::npos);
  // three warpgroups over 192 rows, in k steps of 64 only (deeper stages would not fit shared memory)
  EXPECT_EQ(spmm_config::parse("spmm.wg.m192.n128.k64.w12x1.c2.Bc.Cc").kernel.tile.warps_m, 12);
  EXPECT_NE(parse_error("spmm.wg.m192.n128.k128.w12x1.s1.Bc.Cc").find("exactly 64 with 192 rows"), std::string::npos);
  EXPECT_NE(parse_error("spmm.wg.m256.n64.k64.w16x1.s1.Bc.Cc").find("not a warpgroup"), std::string::npos);
  // k splits in a cluster: c<splits>, 2..8, tensor-core kernels only; no workspace slices
  {
    const spmm_config cl = spmm_config::parse("spmm.wg.m128.n128.k64.w8x1.c4.Bc.Cc");
    EXPECT_TRUE(cl.k_cluster);
    EXPECT_EQ(cl.k_splits, 4);
    EXPECT_EQ(cl.name(), "spmm.wg.m128.n128.k64.w8x1.c4.Bc.Cc");
    EXPECT_EQ(cl.workspace_slices(), 1);
    EXPECT_NE(cl, spmm_config::parse("spmm.wg.m128.n128.k64.w8x1.s4.Bc.Cc"));
    EXPECT_EQ(spmm_config::parse("spmm.wg.m128.n128.k64.w8x1.s4.Bc.Cc").workspace_slices(), 4);
    EXPECT_EQ(spmm_cannot_implement(cl, 2), "");
    for (const char* bad : {"spmm.wg.m64.n32.k64.w4x1.c1.Bc.Cc", "spmm.wg.m64.n32.k64.w4x1.c9.Bc.Cc",
                            "spmm.tc.m64.n32.k64.w2x2.c9.Br.Cc", "spmm.tf.m64.n32.k64.w4x1.c1.Bc.Cc"})
      EXPECT_NE(parse_error(bad).find("k splits in a cluster (c<splits>) are 2..8, for the tensor-core kernels"),
                std::string::npos)
          << bad;
    // the dense-tile and register-built kernels too (where their block stages its sums: the registry says)
    for (const char* name : {"spmm.tc.m64.n32.k64.w2x2.c2.Br.Cc", "spmm.tf.m64.n32.k64.w4x1.c8.Bc.Cr"}) {
      const spmm_config c = spmm_config::parse(name);
      EXPECT_TRUE(c.k_cluster) << name;
      EXPECT_EQ(c.name(), name);
      EXPECT_EQ(c.workspace_slices(), 1) << name;
      EXPECT_EQ(spmm_cannot_implement(c, 2), "") << name;
    }
    spmm_config rows = spmm_config::parse("spmm.b128.g8.l2.n8.v16.u1.u16.c512.ro.Bt.Cc");
    rows.k_cluster = true;
    EXPECT_NE(spmm_cannot_implement(rows, 2).find("k splits in a cluster are 2..8, for the tensor-core kernels"),
              std::string::npos);
  }
  // the splits tried in a cluster: the most whose clusters all fit at once, and the slice splits below it
  {
    const spmm_kernel_key k = spmm_kernel_key::wgmma({128, 128, 64, 8, 1});
    const row_stats sq = compute_row_stats(random_csr<float>(4096, 4096, 0.01, row_distribution::uniform, 0, 4));
    // 32 tiles of C at N = 128, 132 blocks at once: slice splits 1, 4, 8, 16
    const std::vector<int32_t> slices = spmm_tensor_splits(k, sq, 132, 128);
    ASSERT_EQ(slices, (std::vector<int32_t>{1, 4, 8, 16}));
    // the H100's counts for this block (a cluster stays within a GPC): 39 clusters of 3, 30 of 4; 3 is the most
    auto h100 = [](int32_t c) -> int64_t { return c == 2 ? 66 : c == 3 ? 39 : c == 4 ? 30 : 22; };
    EXPECT_EQ(spmm_cluster_splits(k, sq, 128, slices, h100), (std::vector<int32_t>{3}));
    EXPECT_EQ(spmm_cluster_splits(k, sq, 128, slices, [](int32_t c) -> int64_t { return 132 / c; }),
              (std::vector<int32_t>{4}));
    // 4480 x 11008 at N = 8 with the 64 x 16 block (two an SM, 264 at once): 70 tiles, slice splits 2, 3,
    // 4, 7, 8; 132 clusters of 2 and 79 of 3 fit at once, 62 of 4 do not: 2 (a slice split below 3) and 3
    const spmm_kernel_key small = spmm_kernel_key::wgmma({64, 16, 64, 4, 1});
    const row_stats tall = compute_row_stats(random_csr<float>(4480, 11008, 0.01, row_distribution::uniform, 0, 4));
    const std::vector<int32_t> small_slices = spmm_tensor_splits(small, tall, 264, 8);
    ASSERT_EQ(small_slices, (std::vector<int32_t>{1, 2, 3, 4, 7, 8}));
    auto two = [](int32_t c) -> int64_t { return c == 2 ? 132 : c == 3 ? 79 : c == 4 ? 62 : 47; };
    EXPECT_EQ(spmm_cluster_splits(small, tall, 8, small_slices, two), (std::vector<int32_t>{2, 3}));
    EXPECT_TRUE(spmm_cluster_splits(k, sq, 128, slices, [](int32_t) -> int64_t { return 16; }).empty());
    // the tests' uneven split
    EXPECT_EQ(spmm_cluster_splits(k, sq, 0, spmm_tensor_splits(k, sq, 132, 0), h100), (std::vector<int32_t>{3}));
    // the dense-tile and register-built blocks alike; none where the block cannot add up in a cluster (0)
    const spmm_kernel_key tc = spmm_kernel_key::tensor({64, 32, 64, 2, 2});
    EXPECT_EQ(spmm_cluster_splits(tc, sq, 0, spmm_tensor_splits(tc, sq, 132, 0), h100), (std::vector<int32_t>{3}));
    EXPECT_TRUE(spmm_cluster_splits(tc, sq, 0, spmm_tensor_splits(tc, sq, 132, 0), [](int32_t) -> int64_t {
                  return 0;
                }).empty());
    const spmm_kernel_key tf = spmm_kernel_key::tensor({64, 32, 64, 4, 1}, true);
    EXPECT_EQ(spmm_cluster_splits(tf, sq, 0, spmm_tensor_splits(tf, sq, 132, 0), h100), (std::vector<int32_t>{3}));
  }
  // offered for 16-bit values and column-major B only, with k splits as the dense tiles
  auto w = random_csr<float>(512, 512, 0.1, row_distribution::lognormal, 0.8, 3);
  const row_stats s = compute_row_stats(w);
  auto count = [&](int vb, dense_layout b, int32_t n) {
    int wg = 0;
    for (const auto& x : spmm_space(vb, s, 132 * 2048, n, b, dense_layout::col_major)) {
      wg += x.kernel.access == spmm_b_access::wgmma;
      if (x.kernel.access == spmm_b_access::wgmma) EXPECT_TRUE(spmm_wgmma_shape_ok(x.kernel.tile)) << x.name();
    }
    return wg;
  };
  EXPECT_EQ(count(4, dense_layout::col_major, 64), 0);
  EXPECT_EQ(count(2, dense_layout::row_major, 64), 0);
  if (space::spmm_wgmma) EXPECT_GT(count(2, dense_layout::col_major, 64), 0);
}

/// The tuner's search order: the family likelier to win first, so that a
/// time budget cuts the others (tuning/spmm_tuner.cuh).
TEST(SpmmSpace, SearchRankPutsTheLikelyWinnersFirst) {
  const auto rank = [](const char* name, int32_t n, double density) {
    return detail::spmm_search_rank(spmm_config::parse(name), n, density);
  };
  const char* wg = "spmm.wg.m64.n32.k128.w4x1.s1.Bc.Cc";
  const char* tc = "spmm.tc.m64.n32.k64.w4x1.s1.Bc.Cc";
  const char* core = "spmm.b128.g8.l4.n8.v16.u1.u16.c0.lf.Bt.Cc";
  const char* tw = "spmm.tw.w16.n128.Bt.Cc";
  const char* tf = "spmm.tf.m128.n64.k64.w4x1.s1.Bc.Cc";
  const char* panel = "spmm.b256.g8.l4.n8.v16.u2.u16.c0.lf.Pc1024x64.Cc";
  // N >= 32 at 8% density and more: spmm.wg, spmm.tc, the CUDA-core kernels, then the rest
  for (int32_t n : {32, 128}) {
    EXPECT_LT(rank(wg, n, 0.1), rank(tc, n, 0.1));
    EXPECT_LT(rank(tc, n, 0.1), rank(core, n, 0.1));
    EXPECT_LT(rank(core, n, 0.1), rank(tw, n, 0.1));
    EXPECT_LT(rank(core, n, 0.1), rank(tf, n, 0.1));
  }
  // N >= 64 at 4-8% density (95%-sparse layers) too, but not N = 32
  for (int32_t n : {64, 128}) {
    EXPECT_LT(rank(wg, n, 0.05), rank(core, n, 0.05));
    EXPECT_LT(rank(wg, n, 0.04), rank(tw, n, 0.04));
  }
  EXPECT_LT(rank(core, 32, 0.05), rank(wg, 32, 0.05));
  // fewer columns or sparser: the CUDA-core kernels, spmm.tc, then spmm.wg
  for (auto [n, d] : {std::pair<int32_t, double>{8, 0.2}, {128, 0.03}, {32, 0.05}, {32, 0.01}}) {
    EXPECT_LT(rank(core, n, d), rank(tc, n, d)) << n << " " << d;
    EXPECT_LT(rank(tc, n, d), rank(wg, n, d)) << n << " " << d;
  }
  // the gathered kernels never before the CUDA-core kernels
  for (auto [n, d] : {std::pair<int32_t, double>{128, 0.01}, {128, 0.05}, {32, 0.01}, {32, 0.1}})
    EXPECT_GT(rank(tw, n, d), rank(core, n, d)) << n << " " << d;
  // spmm.tf and the panel kernels last everywhere
  for (double d : {0.01, 0.1})
    for (const char* other : {wg, tc, core, tw}) {
      EXPECT_GT(rank(tf, 128, d), rank(other, 128, d));
      EXPECT_GT(rank(panel, 128, d), rank(tf, 128, d));
    }
}

TEST(SpmmConfig, RegisterBuiltTensorCoreNames) {
  const spmm_tensor_tile t{128, 32, 64, 8, 1};
  spmm_config c{spmm_kernel_key::tensor(t, true)};
  c.b_layout = dense_layout::col_major;
  c.c_layout = dense_layout::row_major;
  EXPECT_EQ(c.name(), "spmm.tf.m128.n32.k64.w8x1.s1.Bc.Cr");
  EXPECT_EQ(spmm_config::parse(c.name()), c);
  EXPECT_EQ(c.kernel.block_threads, 256);
  EXPECT_FALSE(c.stages_b());
  EXPECT_TRUE(c.kernel.tensor_tiled());
  for (const char* n : {"spmm.tf.m64.n128.k64.w4x1x2.s3.Br.Cc", "spmm.tf.m128.n64.k64.w4x1.s1.Bc.Cc"})
    EXPECT_EQ(spmm_config::parse(n).name(), n);
  // the same block in the two families: different kernels
  EXPECT_NE(spmm_config::parse("spmm.tf.m64.n32.k64.w4x1.s1.Bc.Cc").kernel,
            spmm_config::parse("spmm.tc.m64.n32.k64.w4x1.s1.Bc.Cc").kernel);
  EXPECT_NE(parse_error("spmm.tf.m64.n32.k64.w4x1.Bc.Cc").find("spmm.tf.m128"), std::string::npos);
  EXPECT_NE(parse_error("spmm.tf.m64.n32.k64.w2x2.s1.Bc.Cc").find("not a register-built tensor-core shape"),
            std::string::npos);  // two warps over columns
  EXPECT_NE(parse_error("spmm.tf.m128.n32.k64.w2x1.s1.Bc.Cc").find("not a register-built"),
            std::string::npos);  // 4 row tiles per warp
  EXPECT_NE(parse_error("spmm.tf.m64.n128.k64.w2x1.s1.Bc.Cc").find("not a register-built"),
            std::string::npos);  // 2 row tiles x 128 columns: 256 sums per lane
  EXPECT_NE(parse_error("spmm.tf.m64.n32.k48.w4x1.s1.Bc.Cc").find("not a register-built"),
            std::string::npos);  // 3 slices per k step
  EXPECT_NE(parse_error("spmm.tf.m64.n32.k64.w4x1.s1.Bt.Cc").find("Br or Bc"), std::string::npos);
  // offered for 16-bit values only, with k splits as the dense tiles
  auto w = random_csr<float>(512, 512, 0.1, row_distribution::lognormal, 0.8, 3);
  const row_stats s = compute_row_stats(w);
  auto count = [&](int vb, int32_t n) {
    int tf = 0;
    for (const auto& x : spmm_space(vb, s, 132 * 2048, n, dense_layout::col_major, dense_layout::col_major)) {
      tf += x.kernel.access == spmm_b_access::fragment;
      if (x.kernel.access == spmm_b_access::fragment) EXPECT_TRUE(spmm_fragment_shape_ok(x.kernel.tile)) << x.name();
    }
    return tf;
  };
  EXPECT_EQ(count(4, 64), 0);
  if (space::spmm_fragment) {
    EXPECT_GE(count(2, 0), static_cast<int>(std::size(space::spmm_fragment_tiles)));
    EXPECT_LT(count(2, 8), count(2, 0));  // no block more than half empty, but for the narrowest
  }
}

TEST(FragmentWeight, EveryNonzeroInItsRegisterAndHalf) {
  for (auto [rows, cols, density] : {std::tuple{200, 600, 0.05}, std::tuple{64, 64, 1.0}, std::tuple{1, 5000, 0.01},
                                     std::tuple{3001, 1, 0.3}, std::tuple{70, 90, 0.0}, std::tuple{37, 700, 0.4},
                                     std::tuple{2100, 2300, 0.3}}) {
    const auto w = random_csr<__half>(rows, cols, density, row_distribution::lognormal, 0.8, rows + cols);
    const host_fragment_weight h = build_fragment_weight(w);
    ASSERT_EQ(h.row_tiles, (rows + 15) / 16);
    ASSERT_EQ(h.k_tiles, (cols + 15) / 16);
    ASSERT_EQ(h.masks.size(), static_cast<std::size_t>(h.tiles()) * 4);
    ASSERT_EQ(h.word_ptr.size(), static_cast<std::size_t>(h.tiles()) + 1);
    ASSERT_EQ(h.words.size(), static_cast<std::size_t>(h.word_ptr.back()));
    // decode: every stored register's two halves at their (row, column), as the kernel's lanes find them
    std::map<std::pair<int, int>, uint16_t> got;
    for (int64_t t = 0; t < h.tiles(); ++t) {
      int32_t at = h.word_ptr[static_cast<std::size_t>(t)];
      const int64_t rt = t / h.k_tiles, kt = t % h.k_tiles;
      for (int j = 0; j < 4; ++j) {
        const uint32_t m = h.masks[static_cast<std::size_t>(t) * 4 + static_cast<std::size_t>(j)];
        for (int l = 0; l < 32; ++l) {
          if (!(m >> l & 1u)) continue;
          const uint32_t below = m & ((1u << l) - 1u);
          const uint32_t word = h.words[static_cast<std::size_t>(at + __builtin_popcount(below))];
          for (int half = 0; half < 2; ++half) {
            const int r = static_cast<int>(rt) * 16 + 8 * (j % 2) + l / 4;
            const int c = static_cast<int>(kt) * 16 + 8 * (j / 2) + 2 * (l % 4) + half;
            const uint16_t bits = static_cast<uint16_t>(word >> (16 * half));
            if (r >= rows || c >= cols) EXPECT_EQ(bits, 0) << "a weight past the matrix, tile " << t;
            else got[{r, c}] = bits;
          }
        }
        at += __builtin_popcount(m);
      }
      EXPECT_EQ(at, h.word_ptr[static_cast<std::size_t>(t) + 1]) << "tile " << t;
    }
    int64_t stored_pairs = 0;  // registers holding at least one weight
    std::set<std::tuple<int, int, int>> pairs;
    for (int32_t r = 0; r < w.rows(); ++r)
      for (int32_t i = w.row_offsets()[r]; i < w.row_offsets()[r + 1]; ++i) {
        const int c = w.col_indices()[i];
        uint16_t bits;
        std::memcpy(&bits, &w.values()[i], 2);
        const auto it = got.find({r, c});
        ASSERT_NE(it, got.end()) << rows << "x" << cols << ": row " << r << " col " << c << " missing";
        EXPECT_EQ(it->second, bits);
        pairs.insert({r, c / 2, 0});
      }
    stored_pairs = static_cast<int64_t>(pairs.size());
    EXPECT_EQ(static_cast<int64_t>(h.words.size()), stored_pairs) << "only registers holding a weight are stored";
    int64_t nonzero_halves = 0;
    for (const auto& [place, bits] : got) nonzero_halves += bits != 0;
    int64_t nonzero_weights = 0;
    for (const auto& v : w.values()) {
      uint16_t bits;
      std::memcpy(&bits, &v, 2);
      nonzero_weights += bits != 0;
    }
    EXPECT_EQ(nonzero_halves, nonzero_weights) << "no weight where W has none";
    // the same on any number of threads
    const host_fragment_weight one = build_fragment_weight(w, 1);
    EXPECT_TRUE(one.masks == h.masks && one.word_ptr == h.word_ptr && one.words == h.words);
  }
}

namespace {

/// Shared-memory wavefronts of the gathered ldmatrix: per half of 8 places
/// (the rows of one 8 x 8 matrix) as many as the most places of one
/// residue mod 8 (the staged rows of B fall in 8 bank groups by it).
struct window_wavefronts {
  int64_t dealt = 0;      // in the order the build dealt the columns
  int64_t ascending = 0;  // the same columns in ascending order, 8 a half
  int64_t halves = 0;
};

int most_of_one_residue(const std::vector<int>& offsets) {
  int count[8] = {};
  int most = 0;
  for (int o : offsets) most = std::max(most, ++count[o % 8]);
  return most;
}

/// Decodes a windowed weight into {(row, column) -> value bits} (places
/// holding a zero weight are padding or columns a row lacks) and checks its
/// structure: the step table, the window order, steps no more than the
/// columns need. Counts the ldmatrix wavefronts into `wf`.
std::map<std::pair<int, int>, uint16_t> decode_window_weight(const host_window_weight& h, window_wavefronts& wf) {
  std::map<std::pair<int, int>, uint16_t> got;
  wf = {};
  EXPECT_EQ(h.windows, (h.rows + window_rows - 1) / window_rows);
  EXPECT_EQ(h.chunks, (h.cols + window_chunk - 1) / window_chunk);
  EXPECT_EQ(h.step_ptr.size(), static_cast<std::size_t>(h.windows) * h.chunks + 1);
  EXPECT_EQ(h.frags.size(), static_cast<std::size_t>(h.steps()) * 64);
  EXPECT_EQ(h.offsets.size(), static_cast<std::size_t>(h.steps()) * 16);
  std::vector<int32_t> sorted = h.order;
  std::sort(sorted.begin(), sorted.end());
  for (int32_t i = 0; i < h.windows; ++i) EXPECT_EQ(sorted[static_cast<std::size_t>(i)], i) << "order is not a permutation";
  auto at = [](const std::vector<int32_t>& v, int64_t i) { return v[static_cast<std::size_t>(i)]; };
  int64_t prev_total = std::numeric_limits<int64_t>::max();
  for (int32_t slot = 0; slot < h.windows; ++slot) {
    const int64_t base = static_cast<int64_t>(slot) * h.chunks;
    const int64_t total = at(h.step_ptr, base + h.chunks) - at(h.step_ptr, base);
    EXPECT_LE(total, prev_total) << "windows not sorted by steps, slot " << slot;
    prev_total = total;
    const int32_t win = h.order[static_cast<std::size_t>(slot)];
    for (int32_t ch = 0; ch < h.chunks; ++ch) {
      std::set<int> used;  // offsets some row of the window has a weight at
      for (int32_t s = at(h.step_ptr, base + ch); s < at(h.step_ptr, base + ch + 1); ++s) {
        const uint8_t* off = h.offsets.data() + static_cast<std::size_t>(s) * 16;
        for (int half = 0; half < 2; ++half) {
          wf.dealt += most_of_one_residue(std::vector<int>(off + half * 8, off + half * 8 + 8));
          ++wf.halves;
        }
        for (int lane = 0; lane < 32; ++lane)
          for (int word = 0; word < 2; ++word)
            for (int hi = 0; hi < 2; ++hi) {
              const uint32_t bits32 = h.frags[static_cast<std::size_t>(s) * 64 + lane * 2 + word];
              const auto bits = static_cast<uint16_t>(hi ? bits32 >> 16 : bits32 & 0xffffu);
              const int kk = word * 8 + (lane % 4) * 2 + hi;
              const int col = ch * window_chunk + off[kk];
              const int row = win * window_rows + lane / 4;
              if (bits == 0) continue;
              EXPECT_LT(row, h.rows);
              EXPECT_LT(col, h.cols);
              used.insert(off[kk]);
              EXPECT_TRUE(got.emplace(std::pair{row, col}, bits).second) << "a place written twice";
            }
      }
      const int32_t steps = at(h.step_ptr, base + ch + 1) - at(h.step_ptr, base + ch);
      EXPECT_EQ(steps, (static_cast<int32_t>(used.size()) + 15) / 16) << "window " << win << " chunk " << ch;
      const std::vector<int> asc(used.begin(), used.end());
      for (std::size_t i = 0; i < static_cast<std::size_t>(steps) * 16; i += 8)
        wf.ascending += i < asc.size() ? most_of_one_residue(std::vector<int>(
                                             asc.begin() + static_cast<std::ptrdiff_t>(i),
                                             asc.begin() + static_cast<std::ptrdiff_t>(std::min(asc.size(), i + 8))))
                                       : 1;
    }
  }
  return got;
}

}  // namespace

TEST(WindowWeight, EveryNonzeroInItsStepAndPlace) {
  for (auto [rows, cols, density] : {std::tuple{200, 600, 0.05}, std::tuple{64, 64, 1.0}, std::tuple{1, 5000, 0.01},
                                     std::tuple{3001, 1, 0.3}, std::tuple{70, 90, 0.0}, std::tuple{37, 700, 0.4}}) {
    const auto w = random_csr<__half>(rows, cols, density, row_distribution::lognormal, 0.8, rows + cols);
    const host_window_weight h = build_window_weight(w);
    window_wavefronts wf;
    const auto got = decode_window_weight(h, wf);
    int64_t nonzero_bits = 0;
    for (int32_t r = 0; r < w.rows(); ++r)
      for (int32_t j = w.row_offsets()[r]; j < w.row_offsets()[r + 1]; ++j) {
        uint16_t bits;
        std::memcpy(&bits, &w.values()[j], 2);
        if (bits == 0) continue;  // a stored +0 reads as an absent weight
        ++nonzero_bits;
        const auto it = got.find({r, w.col_indices()[j]});
        ASSERT_NE(it, got.end()) << rows << "x" << cols << ": row " << r << " col " << w.col_indices()[j] << " missing";
        EXPECT_EQ(it->second, bits);
      }
    EXPECT_EQ(static_cast<int64_t>(got.size()), nonzero_bits) << rows << "x" << cols;
    // the same steps on any number of threads
    const host_window_weight one = build_window_weight(w, 1);
    EXPECT_EQ(one.step_ptr, h.step_ptr);
    EXPECT_EQ(one.order, h.order);
    EXPECT_TRUE(one.frags == h.frags && one.offsets == h.offsets);
  }
}

TEST(WindowWeight, HalvesOfAStepMeetFewBankConflicts) {
  // Random columns. A half's 8 places take 8 residues where the window's
  // columns in the chunk allow; few columns (sparse windows) leave some
  // residues short, hence the looser bound there.
  for (double density : {0.01, 0.05, 0.1, 0.3}) {
    const auto w = random_csr<__half>(2000, 3000, density, row_distribution::uniform, 0, 21);
    window_wavefronts wf;
    decode_window_weight(build_window_weight(w), wf);
    const double dealt = static_cast<double>(wf.dealt) / static_cast<double>(wf.halves),
                 ascending = static_cast<double>(wf.ascending) / static_cast<double>(wf.halves);
    std::printf("  density %.2f: %.2f wavefronts per 8 x 8 matrix (%.2f in ascending order)\n", density, dealt,
                ascending);
    EXPECT_LE(dealt, density < 0.04 ? 1.45 : density < 0.08 ? 1.35 : 1.25) << "density " << density;
    EXPECT_LE(dealt, 0.8 * ascending) << "density " << density;
  }
  // all columns of one residue: every half meets 8 in one bank group
  std::vector<int32_t> off{0}, idx;
  std::vector<__half> val;
  for (int32_t c = 0; c < 512; c += 8) idx.push_back(c), val.push_back(__float2half(1.f));
  off.push_back(static_cast<int32_t>(idx.size()));
  window_wavefronts wf;
  decode_window_weight(build_window_weight(host_csr<__half>(1, 512, off, idx, val)), wf);
  EXPECT_EQ(wf.dealt, 8 * wf.halves);
}

TEST(TiledWeight, SameWordsOnAnyNumberOfThreads) {
  // large enough (> 4 M nonzeros) for the build to split its passes among up to 4 threads
  const auto w = random_csr<__half>(3001, 4100, 0.4, row_distribution::lognormal, 0.8, 7);
  ASSERT_GT(w.nnz(), 4 << 20);
  for (auto [tm, tk] : {std::pair{128, 64}, std::pair{32, 16}}) {
    const host_tiled_weight one = build_tiled_weight(w, tm, tk, 1);
    for (unsigned threads : {2u, 3u, 16u}) {
      const host_tiled_weight many = build_tiled_weight(w, tm, tk, threads);
      EXPECT_EQ(many.tile_ptr, one.tile_ptr) << threads << " threads, tile " << tm << "x" << tk;
      EXPECT_TRUE(many.words == one.words) << threads << " threads, tile " << tm << "x" << tk;
    }
  }
}

namespace {

/// Shared-memory wavefronts of a tile's scatter, as tile_scatter_prolog
/// issues it: per 128-word chunk and component j, one 16-bit store of the
/// words at 4l + j, which takes as many wavefronts as the most distinct
/// 32-bit pairs any bank holds among them. Returns {wavefronts, stores}.
std::pair<int64_t, int64_t> scatter_wavefronts(const uint32_t* words, int64_t n) {
  int64_t wavefronts = 0, stores = 0;
  for (int64_t c = 0; c < n; c += 128) {
    const int64_t lanes = std::min<int64_t>(128, n - c) / 4;
    for (int j = 0; j < 4; ++j) {
      std::map<uint32_t, std::set<uint32_t>> pairs_by_bank;
      for (int64_t l = 0; l < lanes; ++l) {
        const uint32_t pair = words[c + l * 4 + j] >> 17;
        pairs_by_bank[pair % 32].insert(pair);
      }
      std::size_t most = 0;
      for (const auto& [b, pairs] : pairs_by_bank) most = std::max(most, pairs.size());
      wavefronts += static_cast<int64_t>(most);
      ++stores;
    }
  }
  return {wavefronts, stores};
}

}  // namespace

TEST(TiledWeight, ScatterStoresMeetFewBankConflicts) {
  for (double density : {0.05, 0.2, 0.4}) {
    const auto w = random_csr<__half>(1000, 1100, density, row_distribution::uniform, 0, 11);
    for (auto [tm, tk] : {std::pair{64, 64}, std::pair{128, 64}, std::pair{128, 32}, std::pair{64, 32}}) {
      const host_tiled_weight t = build_tiled_weight(w, tm, tk);
      int64_t spread = 0, positional = 0, stores = 0;
      for (std::size_t i = 0; i + 1 < t.tile_ptr.size(); ++i) {
        std::vector<uint32_t> tile(t.words.begin() + t.tile_ptr[i], t.words.begin() + t.tile_ptr[i + 1]);
        const auto [wf, st] = scatter_wavefronts(tile.data(), static_cast<int64_t>(tile.size()));
        spread += wf;
        stores += st;
        std::sort(tile.begin(), tile.end(), [](uint32_t a, uint32_t b) { return (a >> 16) < (b >> 16); });
        positional += scatter_wavefronts(tile.data(), static_cast<int64_t>(tile.size())).first;
      }
      const double per_store = static_cast<double>(spread) / stores,
                   per_store_positional = static_cast<double>(positional) / stores;
      std::printf("  density %.2f tile %dx%d: %.2f wavefronts per store (%.2f in position order)\n", density, tm, tk,
                  per_store, per_store_positional);
      // sparse tiles hold few stores' worth of words, so the fullest bank's
      // count, not the store count, bounds them: a looser bound there
      EXPECT_LE(per_store, density < 0.1 ? 1.9 : 1.45) << "density " << density << " tile " << tm << "x" << tk;
      EXPECT_LE(per_store, 0.65 * per_store_positional) << "density " << density << " tile " << tm << "x" << tk;
    }
  }
  // a tile whose words all lie in one bank keeps them all
  std::vector<uint32_t> one_bank;
  for (uint32_t i = 0; i < 40; ++i) one_bank.push_back(((i * 64) << 16) | (i + 1));  // places 64 apart: bank 0
  std::vector<uint32_t> dealt = one_bank, scratch;
  detail::spread_banks(dealt.data(), static_cast<int64_t>(dealt.size()), scratch);
  std::sort(dealt.begin(), dealt.end());
  EXPECT_EQ(dealt, one_bank);
}

TEST(TiledWeight, EveryNonzeroInItsTileAndPlace) {
  for (auto [rows, cols, density] : {std::tuple{200, 300, 0.05}, std::tuple{64, 64, 1.0}, std::tuple{1, 5000, 0.01},
                                     std::tuple{3000, 1, 0.3}, std::tuple{70, 90, 0.0}}) {
    const auto w = random_csr<__half>(rows, cols, density, row_distribution::lognormal, 0.8, rows + cols);
    for (auto [tm, tk] : {std::pair{64, 64}, std::pair{32, 16}, std::pair{128, 32}})
    for (tile_layout layout : {tile_layout::padded_rows, tile_layout::core_matrices}) {
      const host_tiled_weight t = build_tiled_weight(w, tm, tk, 0, layout);
      EXPECT_EQ(t.layout, layout);
      const int ld = tk + tile_pad;
      ASSERT_EQ(t.row_blocks, (rows + tm - 1) / tm);
      ASSERT_EQ(t.k_tiles, (cols + tk - 1) / tk);
      ASSERT_EQ(t.tile_ptr.size(), static_cast<std::size_t>(t.row_blocks) * t.k_tiles + 1);
      // decode every tile back into (row, column, value bits); padding words write 0 into row 0's padding
      std::map<std::pair<int, int>, uint16_t> got;
      for (int rb = 0; rb < t.row_blocks; ++rb)
        for (int kt = 0; kt < t.k_tiles; ++kt) {
          const std::size_t ti = static_cast<std::size_t>(rb) * t.k_tiles + kt;
          ASSERT_EQ(t.tile_ptr[ti] % 4, 0);
          for (int32_t i = t.tile_ptr[ti]; i < t.tile_ptr[ti + 1]; ++i) {
            const uint32_t word = t.words[static_cast<std::size_t>(i)];
            const int off = static_cast<int>(word >> 16);
            if (layout == tile_layout::core_matrices && off >= tm * tk) {  // padding: the spare place past the tile
              EXPECT_EQ(word & 0xffffu, 0u);
              EXPECT_EQ(off, tm * tk);
              continue;
            }
            // padded rows: row off / ld; core matrices: 8 x 8 blocks of 64 places, tk / 8 of them per 8 rows
            const int block = off / 64, in = off % 64;
            const int r = layout == tile_layout::padded_rows ? off / ld : block / (tk / 8) * 8 + in / 8;
            const int c = layout == tile_layout::padded_rows ? off % ld : block % (tk / 8) * 8 + in % 8;
            ASSERT_LT(r, tm);
            if (c >= tk) {  // padding
              EXPECT_EQ(word & 0xffffu, 0u);
              EXPECT_EQ(r, 0);
              continue;
            }
            EXPECT_TRUE(got.emplace(std::pair{rb * tm + r, kt * tk + c}, static_cast<uint16_t>(word & 0xffffu)).second)
                << "a place written twice";
          }
        }
      ASSERT_EQ(got.size(), static_cast<std::size_t>(w.nnz()))
          << rows << "x" << cols << " tile " << tm << "x" << tk << " layout " << static_cast<int>(layout);
      for (int32_t r = 0; r < w.rows(); ++r)
        for (int32_t j = w.row_offsets()[r]; j < w.row_offsets()[r + 1]; ++j) {
          uint16_t bits;
          std::memcpy(&bits, &w.values()[j], 2);
          const auto it = got.find({r, w.col_indices()[j]});
          ASSERT_NE(it, got.end()) << "row " << r << " col " << w.col_indices()[j] << " missing";
          EXPECT_EQ(it->second, bits);
        }
    }
  }
  const auto w = random_csr<__half>(16, 16, 0.5, row_distribution::uniform, 0, 1);
  EXPECT_THROW(build_tiled_weight(w, 24, 64), paisparse::error);
  EXPECT_THROW(build_tiled_weight(w, 1024, 64), paisparse::error);  // offsets past 16 bits
}
