// CPU tests: weight-file readers and writers (.mtx, .smtx, .npy, read_weight).
//
// Round trips, small files written inline, every malformed input the readers
// document (the message must name the file, the line or byte, and what was
// expected), the DLMC collection when PAISPARSE_DLMC_DIR is set, and a
// randomized corruption test: valid files of each format are mutated many
// times and every outcome must be a valid host_csr or a paisparse::error.
// The fuzz size and seed come from PAISPARSE_FUZZ_INPUTS / PAISPARSE_FUZZ_SEED;
// PAISPARSE_FUZZ_VERBOSE=1 lists the checks (throw sites) each format reached.
#include <gtest/gtest.h>

#include <paisparse/format/csr.hpp>
#include <paisparse/format/random.hpp>
#include <paisparse/io/io.hpp>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstring>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <string>
#include <vector>

using namespace paisparse;
namespace fs = std::filesystem;

namespace {

// Expects paisparse::error whose message contains every fragment.
template <class F>
void expect_error(F&& f, std::initializer_list<std::string> fragments) {
  try {
    f();
    ADD_FAILURE() << "expected paisparse::error";
  } catch (const paisparse::error& e) {
    const std::string msg = e.what();
    for (const auto& frag : fragments) EXPECT_NE(msg.find(frag), std::string::npos) << "message: " << msg;
  }
}

void expect_mtx_error(const std::string& text, std::initializer_list<std::string> fragments,
                      const mtx_options& opt = {}) {
  SCOPED_TRACE(text);
  expect_error([&] { parse_mtx(text, "w.mtx", opt); }, fragments);
}

void expect_smtx_error(const std::string& text, std::initializer_list<std::string> fragments) {
  SCOPED_TRACE(text);
  expect_error([&] { parse_smtx(text, "w.smtx"); }, fragments);
}

void expect_npy_error(const std::string& bytes, std::initializer_list<std::string> fragments,
                      const npy_options& opt = {}) {
  expect_error([&] { parse_npy(bytes, "w.npy", opt); }, fragments);
}

template <class T>
void expect_equal(const host_csr<float>& a, const host_csr<T>& b) {
  ASSERT_EQ(a.rows(), b.rows());
  ASSERT_EQ(a.cols(), b.cols());
  ASSERT_EQ(a.row_offsets(), b.row_offsets());
  ASSERT_EQ(a.col_indices(), b.col_indices());
  ASSERT_EQ(a.values().size(), b.values().size());
  for (std::size_t k = 0; k < a.values().size(); ++k) ASSERT_EQ(a.values()[k], to_float(b.values()[k])) << "k = " << k;
}

bool same(const host_csr<float>& a, const host_csr<float>& b) {
  if (a.rows() != b.rows() || a.cols() != b.cols() || a.row_offsets() != b.row_offsets() ||
      a.col_indices() != b.col_indices() || a.values().size() != b.values().size())
    return false;
  for (std::size_t k = 0; k < a.values().size(); ++k)  // bitwise: -0 and 0 differ
    if (std::memcmp(&a.values()[k], &b.values()[k], sizeof(float)) != 0) return false;
  return true;
}

// A scratch folder for file round trips, removed at the end of the test.
struct temp_dir {
  fs::path path;
  temp_dir() {
    path = fs::temp_directory_path() /
           ("paisparse_io_" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(path);
  }
  ~temp_dir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  std::string file(const std::string& name) const { return (path / name).string(); }
};

// .npy bytes with a hand-written header (padded so the data is 64-byte aligned) and raw data.
std::string npy_bytes(const std::string& dict, const std::string& data, int version = 1) {
  const std::size_t prefix = version == 1 ? 10 : 12;
  std::string header = dict;
  while ((prefix + header.size() + 1) % 64) header += ' ';
  header += '\n';
  std::string out = "\x93NUMPY";
  out += static_cast<char>(version);
  out += '\0';
  const auto len = static_cast<uint32_t>(header.size());
  for (int i = 0; i < (version == 1 ? 2 : 4); ++i) out += static_cast<char>((len >> (8 * i)) & 0xff);
  return out + header + data;
}

std::string f32_data(std::initializer_list<float> v) {
  std::string out;
  for (float x : v) {
    uint32_t b = 0;
    std::memcpy(&b, &x, 4);
    for (int i = 0; i < 4; ++i) out += static_cast<char>((b >> (8 * i)) & 0xff);
  }
  return out;
}

}  // namespace

// ---------------------------------------------------------------------------
// Matrix Market

TEST(MatrixMarket, SmallGeneralFileWithCommentsAndUnorderedEntries) {
  const std::string text =
      "%%MatrixMarket matrix coordinate real general\n"
      "% a comment\n"
      "%\n"
      "\n"
      "3 4 5\n"
      "3 2 -1.5\n"
      "1 4 2e-1\n"
      "% a comment between entries\n"
      "1 1 +3\n"
      "   2   3   0.25   \n"
      "3 1 -0\n";
  const auto m = parse_mtx(text, "small.mtx");
  EXPECT_EQ(m.rows(), 3);
  EXPECT_EQ(m.cols(), 4);
  EXPECT_EQ(m.row_offsets(), (std::vector<int32_t>{0, 2, 3, 5}));
  EXPECT_EQ(m.col_indices(), (std::vector<int32_t>{0, 3, 2, 0, 1}));
  EXPECT_EQ(m.values(), (std::vector<float>{3.f, 0.2f, 0.25f, -0.f, -1.5f}));
  EXPECT_TRUE(std::signbit(m.values()[3]));  // an explicit -0 is kept as stored
}

TEST(MatrixMarket, BannerIsCaseInsensitiveAndCrlfIsAccepted) {
  const auto m = parse_mtx("%%MatrixMarket MATRIX Coordinate Real General\r\n2 2 1\r\n2 1 7\r\n", "crlf.mtx");
  EXPECT_EQ(m.row_offsets(), (std::vector<int32_t>{0, 0, 1}));
  EXPECT_EQ(m.values(), (std::vector<float>{7.f}));
  const auto d = parse_mtx("%%MatrixMarket matrix coordinate double general\n1 1 1\n1 1 2.5", "double.mtx");
  EXPECT_EQ(d.values(), (std::vector<float>{2.5f}));  // no final newline
}

TEST(MatrixMarket, IntegerField) {
  const auto m = parse_mtx("%%MatrixMarket matrix coordinate integer general\n2 3 3\n1 3 -4\n2 2 16777216\n1 1 0\n",
                           "int.mtx");
  EXPECT_EQ(m.col_indices(), (std::vector<int32_t>{0, 2, 1}));
  EXPECT_EQ(m.values(), (std::vector<float>{0.f, -4.f, 16777216.f}));
}

TEST(MatrixMarket, PatternFieldDrawsSeededValuesOrAGivenValue) {
  const std::string text = "%%MatrixMarket matrix coordinate pattern general\n4 5 6\n1 1\n4 5\n2 3\n2 1\n3 3\n1 5\n";
  mtx_options a;
  a.seed = 7;
  const auto m1 = parse_mtx(text, "p.mtx", a);
  const auto m2 = parse_mtx(text, "p.mtx", a);
  EXPECT_EQ(m1.values(), m2.values());
  EXPECT_EQ(m1.col_indices(), (std::vector<int32_t>{0, 4, 0, 2, 2, 4}));
  for (float v : m1.values()) {
    EXPECT_GE(v, -1.f);
    EXPECT_LT(v, 1.f);
  }
  auto sorted = m1.values();
  std::sort(sorted.begin(), sorted.end());  // not all equal
  EXPECT_NE(sorted.front(), sorted.back());
  mtx_options b;
  b.seed = 8;
  EXPECT_NE(parse_mtx(text, "p.mtx", b).values(), m2.values());
  mtx_options c;
  c.pattern_value = 0.5f;
  const auto m3 = parse_mtx(text, "p.mtx", c);
  EXPECT_EQ(m3.values(), std::vector<float>(6, 0.5f));
}

TEST(MatrixMarket, SymmetricLowerTriangleIsExpanded) {
  const std::string text = "%%MatrixMarket matrix coordinate real symmetric\n3 3 4\n1 1 1\n2 1 2\n3 2 3\n3 1 4\n";
  const auto m = parse_mtx(text, "sym.mtx");
  EXPECT_EQ(m.row_offsets(), (std::vector<int32_t>{0, 3, 5, 7}));
  EXPECT_EQ(m.col_indices(), (std::vector<int32_t>{0, 1, 2, 0, 2, 0, 1}));
  EXPECT_EQ(m.values(), (std::vector<float>{1, 2, 4, 2, 3, 4, 3}));
  // pattern + symmetric: the mirror gets the same drawn value
  const auto p = parse_mtx("%%MatrixMarket matrix coordinate pattern symmetric\n2 2 1\n2 1\n", "psym.mtx");
  ASSERT_EQ(p.nnz(), 2);
  EXPECT_EQ(p.values()[0], p.values()[1]);
}

TEST(MatrixMarket, DuplicatesRejectedWithBothLinesOrSummed) {
  const std::string text = "%%MatrixMarket matrix coordinate real general\n2 2 3\n1 2 1.5\n2 2 1\n1 2 2.25\n";
  expect_mtx_error(text, {"w.mtx", "line 5", "duplicate entry (1, 2)", "first given on line 3", "expected each position once"});
  mtx_options sum;
  sum.duplicates = duplicate_policy::sum;
  const auto m = parse_mtx(text, "w.mtx", sum);
  EXPECT_EQ(m.col_indices(), (std::vector<int32_t>{1, 1}));
  EXPECT_EQ(m.values(), (std::vector<float>{3.75f, 1.f}));
  // with summing, nnz may exceed rows * cols
  const auto s = parse_mtx("%%MatrixMarket matrix coordinate real general\n1 1 3\n1 1 1\n1 1 2\n1 1 4\n", "w.mtx", sum);
  EXPECT_EQ(s.values(), (std::vector<float>{7.f}));
  expect_mtx_error("%%MatrixMarket matrix coordinate real general\n1 1 2\n1 1 3e38\n1 1 3e38\n",
                   {"w.mtx", "line 4", "overflows float"}, sum);
}

TEST(MatrixMarket, EmptyMatrices) {
  const auto z = parse_mtx("%%MatrixMarket matrix coordinate real general\n5 7 0\n", "z.mtx");
  EXPECT_EQ(z.rows(), 5);
  EXPECT_EQ(z.nnz(), 0);
  const auto e = parse_mtx("%%MatrixMarket matrix coordinate pattern general\n0 0 0", "e.mtx");
  EXPECT_EQ(e.rows(), 0);
}

TEST(MatrixMarket, RoundTripThroughAFile) {
  temp_dir dir;
  for (uint64_t seed : {1, 2, 3}) {
    const auto m = random_csr<float>(37, 53, 0.2, row_distribution::lognormal, 0.8, seed);
    write_mtx(dir.file("m.mtx"), m);
    expect_equal(read_mtx(dir.file("m.mtx")), m);
  }
  // extreme floats survive: shortest decimal text reads back exactly
  std::vector<float> v = {std::numeric_limits<float>::max(), -std::numeric_limits<float>::denorm_min(),
                          std::numeric_limits<float>::min(), 1.f / 3.f, -0.f, 1e-30f};
  const host_csr<float> x(1, 6, {0, 6}, {0, 1, 2, 3, 4, 5}, v);
  const auto y = parse_mtx(format_mtx(x), "x.mtx");
  EXPECT_TRUE(same(x, y));
  // other value and index types are written through fp32
  const auto h = convert_indices<uint16_t>(convert_values<__half>(random_csr<float>(9, 11, 0.4, row_distribution::uniform)));
  expect_equal(parse_mtx(format_mtx(h), "h.mtx"), convert_indices<int32_t>(h));
  // non-finite values cannot be written
  const host_csr<float> bad(1, 1, {0, 1}, {0}, {std::numeric_limits<float>::infinity()});
  expect_error([&] { format_mtx(bad); }, {"format_mtx", "row 0, col 0", "expected finite"});
}

TEST(MatrixMarket, BannerErrors) {
  expect_mtx_error("", {"w.mtx", "line 1", "empty file", "expected the banner"});
  expect_mtx_error("3 3 0\n", {"w.mtx", "line 1", "found '3 3 0'", "expected the banner"});
  expect_mtx_error("%%MatrixMarket matrix coordinate real\n", {"line 1", "has 4 words"});
  expect_mtx_error("%%MatrixMarket vector coordinate real general\n", {"line 1", "object 'vector'", "expected 'matrix'"});
  expect_mtx_error("%%MatrixMarket matrix array real general\n2 2\n1\n2\n3\n4\n",
                   {"line 1", "format 'array' is not supported", "expected 'coordinate'"});
  expect_mtx_error("%%MatrixMarket matrix coordinate complex general\n1 1 1\n1 1 1 0\n",
                   {"line 1", "field 'complex' is not supported", "expected 'real', 'integer' or 'pattern'"});
  expect_mtx_error("%%MatrixMarket matrix coordinate real skew-symmetric\n",
                   {"line 1", "symmetry 'skew-symmetric' is not supported", "expected 'general' or 'symmetric'"});
  expect_mtx_error("%%MatrixMarket matrix coordinate real hermitian\n", {"line 1", "symmetry 'hermitian'"});
  expect_mtx_error("%%MatrixMarket matrix coordinate real general extra\n", {"line 1", "has 6 words"});
}

TEST(MatrixMarket, SizeLineErrors) {
  const std::string b = "%%MatrixMarket matrix coordinate real general\n";
  expect_mtx_error(b, {"w.mtx", "line 2", "file ends before the size line", "expected 'rows cols nnz'"});
  expect_mtx_error(b + "% only comments\n\n", {"line 4", "file ends before the size line"});
  expect_mtx_error(b + "3 3\n", {"line 2", "has 2 fields", "expected 'rows cols nnz'"});
  expect_mtx_error(b + "3 3 1 1\n", {"line 2", "more than 3 fields"});
  expect_mtx_error(b + "-3 3 0\n", {"line 2", "rows '-3' is negative", "expected 0 <= rows <= 2^31 - 1"});
  expect_mtx_error(b + "3 x 0\n", {"line 2", "cols 'x' is not an integer"});
  expect_mtx_error(b + "3 2147483648 0\n", {"line 2", "cols = 2147483648 is too large", "2^31 - 1"});
  expect_mtx_error(b + "3 3 99999999999999999999\n", {"line 2", "nnz '99999999999999999999' is out of range"});
  expect_mtx_error(b + "2 3 7\n", {"line 2", "nnz = 7 exceeds the 6 positions", "at most one entry per position"});
  expect_mtx_error(b + "2000000000 1 0\n", {"line 2", "rows = 2000000000 exceeds the reader's limit", "max_rows"});
  mtx_options big;
  big.max_rows = 4;
  expect_mtx_error(b + "5 1 0\n", {"rows = 5 exceeds the reader's limit of 4"}, big);
  expect_mtx_error("%%MatrixMarket matrix coordinate real symmetric\n3 4 0\n",
                   {"line 2", "symmetric matrix is 3 x 4", "expected rows == cols"});
}

TEST(MatrixMarket, EntryErrors) {
  const std::string b = "%%MatrixMarket matrix coordinate real general\n% c\n3 4 3\n";
  expect_mtx_error(b + "1 1 1\n2 2 2\n",
                   {"w.mtx", "line 6", "file ends after 2 entries", "expected 3 as declared on line 3"});
  expect_mtx_error("%%MatrixMarket matrix coordinate real general\n4 4 10\n1 1 1\n1 2 1\n1 3 1\n1 4 1\n2 1 1\n2 2 1\n2 3 1\n2 4 1\n3 1 1\n",
                   {"line 12", "file ends after 9 entries", "expected 10"});
  expect_mtx_error(b + "1 1 1\n2 2 2\n3 3 3\n1 4 4\n",
                   {"line 7", "more entries than the 3 declared on line 3", "expected the file to end"});
  expect_mtx_error(b + "1 1\n", {"line 4", "has 2 fields", "expected 'row col value'"});
  expect_mtx_error(b + "1 1 1 1\n", {"line 4", "more than 3 fields"});
  expect_mtx_error(b + "0 1 1\n", {"line 4", "row index '0' is out of range", "expected 1 <= row <= 3", "1-based"});
  expect_mtx_error(b + "1 1 1\n4 1 1\n", {"line 5", "row index '4' is out of range"});
  expect_mtx_error(b + "1 5 1\n", {"line 4", "col index '5' is out of range", "expected 1 <= col <= 4"});
  expect_mtx_error(b + "1 -1 1\n", {"line 4", "col index '-1' is out of range"});
  expect_mtx_error(b + "1 1e0 1\n", {"line 4", "col index '1e0' is not an integer"});
  expect_mtx_error(b + "1 99999999999999999999999 1\n", {"line 4", "col index '99999999999999999999999' is out of range"});
  expect_mtx_error(b + "1 1 abc\n", {"line 4", "value 'abc' is not a number", "expected a finite real"});
  expect_mtx_error(b + "1 1 nan\n", {"line 4", "value 'nan' is not a number"});
  expect_mtx_error(b + "1 1 -inf\n", {"line 4", "value '-inf' is not a number"});
  expect_mtx_error(b + "1 1 1e39\n", {"line 4", "value '1e39' is out of range", "float range"});
  expect_mtx_error(b + "1 1 0x10\n", {"line 4", "value '0x10' is not a number"});
  expect_mtx_error(b + "1 1 1.5.2\n", {"line 4", "not a number"});
  expect_mtx_error(b + std::string("1 1 \x01\xff\n"), {"line 4", "value '\\x01\\xff' is not a number"});
  // tiny values underflow to zero instead of failing
  EXPECT_EQ(parse_mtx("%%MatrixMarket matrix coordinate real general\n1 1 1\n1 1 1e-50\n", "t.mtx").values()[0], 0.f);
  expect_mtx_error("%%MatrixMarket matrix coordinate integer general\n1 1 1\n1 1 1.5\n",
                   {"line 3", "value '1.5' is not an integer", "expected a 64-bit integer"});
  expect_mtx_error("%%MatrixMarket matrix coordinate pattern general\n1 1 1\n1 1 1\n",
                   {"line 3", "has 3 fields", "expected 'row col' for a pattern file"});
  expect_mtx_error("%%MatrixMarket matrix coordinate real symmetric\n3 3 1\n1 2 1\n",
                   {"line 3", "entry (1, 2) is above the diagonal", "expected row >= col"});
}

TEST(MatrixMarket, MissingFileNamesThePath) {
  expect_error([] { read_mtx("/nonexistent/dir/w.mtx"); }, {"/nonexistent/dir/w.mtx", "cannot open for reading"});
}

// ---------------------------------------------------------------------------
// DLMC .smtx

TEST(Smtx, SmallFileWithSeededOrGivenValues) {
  const std::string text = "3, 5, 4\n0 2 2 4\n1 4 0 3\n";
  smtx_options o;
  o.seed = 11;
  const auto m = parse_smtx(text, "s.smtx", o);
  EXPECT_EQ(m.rows(), 3);
  EXPECT_EQ(m.cols(), 5);
  EXPECT_EQ(m.row_offsets(), (std::vector<int32_t>{0, 2, 2, 4}));
  EXPECT_EQ(m.col_indices(), (std::vector<int32_t>{1, 4, 0, 3}));
  EXPECT_EQ(m.values(), parse_smtx(text, "s.smtx", o).values());
  for (float v : m.values()) EXPECT_TRUE(v >= -1.f && v < 1.f);
  smtx_options given;
  given.values = std::vector<float>{1, 2, 3, 4};
  EXPECT_EQ(parse_smtx(text, "s.smtx", given).values(), (std::vector<float>{1, 2, 3, 4}));
  given.values = std::vector<float>{1, 2, 3};
  expect_error([&] { parse_smtx(text, "s.smtx", given); }, {"s.smtx", "values has 3 values", "nnz = 4"});
}

TEST(Smtx, DlmcLayoutWithTrailingBlanksAndEmptyPattern) {
  // the DLMC files end every number with a blank; nnz = 0 files have an empty third line
  const auto m = parse_smtx("2, 3, 2\n0 1 2 \n2 0 \n", "d.smtx");
  EXPECT_EQ(m.col_indices(), (std::vector<int32_t>{2, 0}));
  const auto z = parse_smtx("4, 512, 0\n0 0 0 0 0 \n\n", "body_encoder_layer_0_ffn_conv1.smtx");
  EXPECT_EQ(z.rows(), 4);
  EXPECT_EQ(z.cols(), 512);
  EXPECT_EQ(z.nnz(), 0);
  const auto z2 = parse_smtx("2,2,0\r\n0 0 0\r\n", "z2.smtx");  // third line absent, CRLF
  EXPECT_EQ(z2.nnz(), 0);
  const auto e = parse_smtx("0, 0, 0\n0\n", "e.smtx");
  EXPECT_EQ(e.rows(), 0);
}

TEST(Smtx, RoundTripThroughAFile) {
  temp_dir dir;
  const auto m = random_csr<float>(64, 200, 0.1, row_distribution::lognormal, 1.2, 5);
  write_smtx(dir.file("m.smtx"), m);
  smtx_options o;
  o.values = m.values();
  expect_equal(read_smtx(dir.file("m.smtx"), o), m);
  const host_csr<float> z(3, 9, {0, 0, 0, 0}, {}, {});
  EXPECT_EQ(format_smtx(z), "3, 9, 0\n0 0 0 0\n\n");
  expect_equal(parse_smtx(format_smtx(z), "z.smtx"), z);
}

TEST(Smtx, Errors) {
  expect_smtx_error("", {"w.smtx", "line 1", "empty file", "expected 'nrows, ncols, nnz'"});
  expect_smtx_error("3, 5\n", {"line 1", "has 2 numbers", "expected 'nrows, ncols, nnz'"});
  expect_smtx_error("3, 5, 1, 1\n", {"line 1", "more than 3 numbers"});
  expect_smtx_error("-3, 5, 0\n", {"line 1", "nrows '-3' is negative", "expected 0 <= value <= 2^31 - 1"});
  expect_smtx_error("3, 5, x\n", {"line 1", "nnz 'x' is not an integer"});
  expect_smtx_error("3, 4294967296, 0\n", {"line 1", "ncols '4294967296' is out of range", "2^31 - 1"});
  expect_smtx_error("2, 2, 5\n", {"line 1", "nnz = 5 exceeds nrows * ncols = 4"});
  expect_smtx_error("3, 5, 4\n", {"line 2", "file ends after line 1", "expected 4 row offsets"});
  expect_smtx_error("3, 5, 4\n0 2 4\n1 4 0 3\n", {"line 2", "found 3 row offsets", "expected nrows + 1 = 4"});
  expect_smtx_error("3, 5, 4\n0 2 2 4 4\n1 4 0 3\n", {"line 2", "more than nrows + 1 = 4 row offsets"});
  expect_smtx_error("3, 5, 4\n1 2 2 4\n1 4 0 3\n", {"line 2", "row offset #0 is 1", "expected 0"});
  expect_smtx_error("3, 5, 4\n0 3 2 4\n1 4 0 3\n",
                    {"line 2", "row offset #2 = 2 is less than row offset #1 = 3", "non-decreasing"});
  expect_smtx_error("3, 5, 4\n0 2 2 3\n1 4 0 3\n", {"line 2", "last row offset is 3", "expected nnz = 4"});
  expect_smtx_error("3, 5, 4\n0 2 2 5\n1 4 0 3\n", {"line 2", "row offset #3 '5' is out of range", "<= nnz"});
  expect_smtx_error("3, 5, 4\n0 2 2 a\n1 4 0 3\n", {"line 2", "row offset #3 'a' is not an integer"});
  expect_smtx_error("3, 5, 4\n0 2 2 4\n", {"line 3", "file ends after line 2", "expected 4 column indices"});
  expect_smtx_error("3, 5, 4\n0 2 2 4\n1 4 0\n", {"line 3", "found 3 column indices", "expected nnz = 4"});
  expect_smtx_error("3, 5, 4\n0 2 2 4\n1 4 0 3 2\n", {"line 3", "more than nnz = 4 column indices"});
  expect_smtx_error("3, 5, 4\n0 2 2 4\n1 5 0 3\n",
                    {"line 3", "column index #1 (row 0) '5' is out of range", "expected 0 <= value <= ncols - 1"});
  expect_smtx_error("3, 5, 4\n0 2 2 4\n1 4 -1 3\n", {"line 3", "column index #2 (row 2) '-1' is negative"});
  expect_smtx_error("3, 5, 4\n0 2 2 4\n4 1 0 3\n",
                    {"line 3", "column index #1 (row 0) = 1 follows 4", "strictly increasing"});
  expect_smtx_error("3, 5, 4\n0 2 2 4\n1 1 0 3\n", {"line 3", "= 1 follows 1"});
  expect_smtx_error("3, 5, 4\n0 2 2 4\n1 4 0 3\n\n7\n",
                    {"line 5", "unexpected '7' after the column indices", "expected the file to end"});
  expect_error([] { read_smtx("/nonexistent/w.smtx"); }, {"/nonexistent/w.smtx", "cannot open"});
}

// ---------------------------------------------------------------------------
// NumPy .npy

TEST(Npy, RoundTripAllVersionsAndDtypes) {
  temp_dir dir;
  const int64_t rows = 7, cols = 5;
  std::vector<float> dense(rows * cols);
  std::mt19937 rng(3);
  for (auto& v : dense) v = std::uniform_real_distribution<float>(-2.f, 2.f)(rng);
  for (int version : {1, 2, 3}) {
    for (npy_dtype dt : {npy_dtype::f32, npy_dtype::f16}) {
      for (bool fortran : {false, true}) {
        SCOPED_TRACE(std::to_string(version) + to_string(dt) + (fortran ? " F" : " C"));
        const std::string path = dir.file("a.npy");
        write_npy(path, dense.data(), rows, cols, dt, version, fortran);
        const std::string bytes = detail::io::read_file(path);
        EXPECT_EQ(bytes[6], static_cast<char>(version));
        const std::size_t header_end = bytes.find('\n');
        EXPECT_EQ((header_end + 1) % 64, 0u);  // data aligned as numpy does
        const npy_array a = read_npy(path);
        EXPECT_EQ(a.rows, rows);
        EXPECT_EQ(a.cols, cols);
        EXPECT_EQ(a.dtype, dt);
        EXPECT_EQ(a.fortran_order, fortran);
        for (int64_t i = 0; i < rows * cols; ++i) {
          const float want = dt == npy_dtype::f32 ? dense[i] : to_float(from_float<__half>(dense[i]));
          ASSERT_EQ(a.values[i], want) << "i = " << i;
        }
        EXPECT_EQ(format_npy(a, version), bytes);
      }
    }
  }
}

TEST(Npy, FortranOrderIsTransposedOnLoad) {
  // numpy: np.asfortranarray([[1, 2, 3], [4, 5, 6]], dtype='<f4') stores 1 4 2 5 3 6
  const std::string b = npy_bytes("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }", f32_data({1, 4, 2, 5, 3, 6}));
  const npy_array a = parse_npy(b, "f.npy");
  EXPECT_EQ(a.values, (std::vector<float>{1, 2, 3, 4, 5, 6}));
  EXPECT_TRUE(a.fortran_order);
  const std::vector<unsigned char> raw(b.begin(), b.end());
  EXPECT_EQ(parse_npy(raw.data(), raw.size(), "f.npy").values, a.values);
}

TEST(Npy, HeaderVariantsNumpyMayWrite) {
  const std::string data = f32_data({1, 0, 0, 2});
  for (const std::string dict : {"{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), }",
                                 "{'descr':'<f4','fortran_order':False,'shape':(2,2)}",
                                 "{\"shape\": (2L, 2L), \"fortran_order\": False, \"descr\": \"<f4\"}",
                                 "  {'fortran_order': False, 'descr': '<f4', 'shape': ( 2 , 2 , ) , }"}) {
    SCOPED_TRACE(dict);
    const npy_array a = parse_npy(npy_bytes(dict, data), "v.npy");
    EXPECT_EQ(a.values, (std::vector<float>{1, 0, 0, 2}));
  }
  // a header without padding or newline (not numpy's output, but unambiguous)
  std::string raw = "\x93NUMPY";
  raw += '\x01';
  raw += '\0';
  const std::string dict = "{'descr':'<f4','fortran_order':False,'shape':(1,1)}";
  raw += static_cast<char>(dict.size());
  raw += '\0';
  raw += dict + f32_data({5});
  EXPECT_EQ(parse_npy(raw, "raw.npy").values, (std::vector<float>{5}));
}

TEST(Npy, ToCsrKeepsNonzerosOrPrunesByMagnitude) {
  npy_array a;
  a.rows = 3;
  a.cols = 4;
  a.values = {0, 1, 0, -5, 0, 0, 0, 0, 2, -0.f, 3, 0.5f};
  const auto m = npy_to_csr(a);
  EXPECT_EQ(m.row_offsets(), (std::vector<int32_t>{0, 2, 2, 5}));
  EXPECT_EQ(m.col_indices(), (std::vector<int32_t>{1, 3, 0, 2, 3}));
  EXPECT_EQ(m.values(), (std::vector<float>{1, -5, 2, 3, 0.5f}));
  const auto p = npy_prune(a, 0.75);  // keep 3 of 12: -5, 3, 2
  EXPECT_EQ(p.nnz(), 3);
  EXPECT_EQ(p.col_indices(), (std::vector<int32_t>{3, 0, 2}));
  EXPECT_EQ(p.values(), (std::vector<float>{-5, 2, 3}));
  expect_error([&] { npy_prune(a, 1.5); }, {"sparsity = 1.5"});
  npy_array bad = a;
  bad.values.pop_back();
  expect_error([&] { npy_to_csr(bad); }, {"npy_to_csr", "values has 11 entries", "rows * cols = 12"});
  npy_array empty;
  empty.rows = 4;
  EXPECT_EQ(npy_to_csr(empty).rows(), 4);
}

TEST(Npy, Errors) {
  const std::string ok_dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), }";
  const std::string d4 = f32_data({1, 2, 3, 4});
  const std::string good = npy_bytes(ok_dict, d4);  // 10 + 118 header bytes, data at 128, 144 bytes
  ASSERT_NO_THROW(parse_npy(good, "w.npy"));
  ASSERT_EQ(good.size(), 144u);

  expect_npy_error("", {"w.npy", "byte 0", "bad magic", "expected '\\x93NUMPY'"});
  expect_npy_error("PK\x03\x04 not numpy", {"byte 0", "bad magic 'PK\\x03\\x04 n'"});
  expect_npy_error(good.substr(0, 7), {"byte 7", "ends inside the version"});
  expect_npy_error(good.substr(0, 9), {"byte 9", "ends inside the header length", "expected 2 bytes at byte 8"});
  std::string v = good;
  v[6] = 4;
  expect_npy_error(v, {"byte 6", "format version 4.0 is not supported", "expected 1.0, 2.0 or 3.0"});
  v[6] = 1;
  v[7] = 1;
  expect_npy_error(v, {"byte 6", "version 1.1"});
  std::string len = good;
  len[8] = '\xff';
  len[9] = '\xff';
  expect_npy_error(len, {"byte 8", "header length 65535 runs past the end of the file", "the file has 144 bytes"});
  std::string len2 = npy_bytes(ok_dict, d4, 2);
  len2[11] = '\x80';
  expect_npy_error(len2, {"byte 8", "header length 21474837", "runs past the end"});
  expect_npy_error(good.substr(0, 134), {"byte 128", "array data is 6 bytes", "expected rows * cols * 4 = 16", "(2, 2) <f4"});
  expect_npy_error(good + "xy", {"byte 128", "array data is 18 bytes", "= 16"});
  expect_npy_error(good.substr(0, 40), {"byte 8", "header length 118 runs past the end", "the file has 40 bytes"});

  const auto hdr = [&](const std::string& dict, std::initializer_list<std::string> frags) {
    SCOPED_TRACE(dict);
    expect_npy_error(npy_bytes(dict, d4), frags);
  };
  hdr("{'descr': '<f8', 'fortran_order': False, 'shape': (2, 2), }",
      {"byte 10", "dtype '<f8' is not supported", "expected '<f4' (float32) or '<f2' (float16)"});
  hdr("{'descr': '>f4', 'fortran_order': False, 'shape': (2, 2), }", {"dtype '>f4' is not supported"});
  hdr("{'descr': '|u1', 'fortran_order': False, 'shape': (2, 2), }", {"dtype '|u1' is not supported"});
  hdr("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2, 2), }",
      {"byte 20", "'descr' is not a string", "structured dtypes are not supported"});
  hdr("{'descr': '<f4', 'fortran_order': False, 'shape': (4,), }",
      {"byte 10", "the array has 1 dimensions", "expected a 2-D array"});
  hdr("{'descr': '<f4', 'fortran_order': False, 'shape': (1, 2, 2), }", {"has 3 dimensions"});
  hdr("{'descr': '<f4', 'fortran_order': False, 'shape': (), }", {"has 0 dimensions"});
  hdr("{'descr': '<f4', 'fortran_order': False, 'shape': (-2, -2), }",
      {"byte 61", "shape entry '-2' is negative", "expected a dimension 0 <= d <= 2^31 - 1"});
  hdr("{'descr': '<f4', 'fortran_order': False, 'shape': (2147483648, 1), }",
      {"shape (2147483648, 1) is too large", "expected dimensions <= 2^31 - 1"});
  hdr("{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999, 1), }",
      {"shape entry '99999999999999999999' is out of range"});
  hdr("{'descr': '<f4', 'fortran_order': False, 'shape': (2000000, 2000000), }",
      {"array data is 16 bytes", "expected rows * cols * 4 = 16000000000000", "(2000000, 2000000)"});
  hdr("{'descr': '<f4', 'fortran_order': False, 'shape': (x, 2), }", {"shape entry 'x, 2), }' is not an integer"});
  hdr("{'descr': '<f4', 'fortran_order': False, 'shape': (2 2), }", {"byte 63", "expected ',' or ')' in the shape tuple"});
  hdr("{'descr': '<f4', 'fortran_order': false, 'shape': (2, 2), }",
      {"byte 44", "fortran_order is 'false, '", "expected True or False"});
  hdr("{'descr': '<f4', 'shape': (2, 2), }", {"the header has no 'fortran_order' key"});
  hdr("{'fortran_order': False, 'shape': (2, 2), }", {"no 'descr' key"});
  hdr("{'descr': '<f4', 'fortran_order': False, }", {"no 'shape' key"});
  hdr("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), 'extra': 1}",
      {"unknown key 'extra'", "expected 'descr', 'fortran_order' and 'shape'"});
  hdr("{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), }", {"key 'descr' given twice"});
  hdr("{'descr': '<f4' 'fortran_order': False, 'shape': (2, 2), }", {"expected ',' or '}' after a value"});
  hdr("{'descr: '<f4', 'fortran_order': False, 'shape': (2, 2), }", {"expected ':' after the key"});
  hdr("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), ", {"the header ends", "expected a quoted key"});
  hdr("['descr', '<f4']", {"byte 10", "found '['descr''", "expected '{' opening the header dict"});
  hdr("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2)} junk", {"after the header dict", "expected only spaces"});
  hdr("{'de\\scr': '<f4', 'fortran_order': False, 'shape': (2, 2)}", {"has an escape"});
  hdr("{'descr': '<f4, 'fortran_order': False, 'shape': (2, 2)}", {"expected ',' or '}' after a value"});

  // non-finite values name the element and its byte
  const float inf = std::numeric_limits<float>::infinity();
  expect_npy_error(npy_bytes(ok_dict, f32_data({1, 2, inf, 4})), {"byte 136", "element [1, 0] is inf", "expected finite"});
  expect_npy_error(npy_bytes("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }", f32_data({1, std::nanf(""), 3, 4})),
                   {"byte 132", "element [1, 0] is nan"});
  std::string h16 = npy_bytes("{'descr': '<f2', 'fortran_order': False, 'shape': (1, 2), }", std::string("\x00\x3c\x00\x7c", 4));
  expect_npy_error(h16, {"byte 130", "element [0, 1] is inf"});

  // a zero-column shape cannot bound the rows by data: max_rows does
  npy_options small;
  small.max_rows = 1000;
  expect_npy_error(npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (1001, 0), }", ""),
                   {"more rows than the reader's limit of 1000", "max_rows"}, small);
  expect_npy_error(npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (2000000000, 0), }", ""),
                   {"more rows than the reader's limit"});
  EXPECT_EQ(parse_npy(npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (1000, 0), }", ""), "z.npy", small).rows,
            1000);
  expect_error([] { read_npy("/nonexistent/w.npy"); }, {"/nonexistent/w.npy", "cannot open"});
}

// ---------------------------------------------------------------------------
// read_weight

TEST(ReadWeight, DispatchesOnTheExtension) {
  temp_dir dir;
  const auto m = random_csr<float>(20, 30, 0.25, row_distribution::uniform, 0.8, 9);
  write_mtx(dir.file("w.mtx"), m);
  expect_equal(read_weight(dir.file("w.mtx")), m);
  write_smtx(dir.file("w.SMTX"), m);
  weight_read_options o;
  o.seed = 4;
  const auto s = read_weight(dir.file("w.SMTX"), o);
  EXPECT_EQ(s.col_indices(), m.col_indices());
  smtx_options so;
  so.seed = 4;
  EXPECT_EQ(s.values(), parse_smtx(format_smtx(m), "x.smtx", so).values());

  std::vector<float> dense(20 * 30, 0.f);
  for (int32_t r = 0; r < m.rows(); ++r)
    for (int32_t k = m.row_offsets()[r]; k < m.row_offsets()[r + 1]; ++k) dense[r * 30 + m.col_indices()[k]] = m.values()[k];
  write_npy(dir.file("w.npy"), dense.data(), 20, 30);
  expect_equal(read_weight(dir.file("w.npy")), m);
  o.sparsity = 0.9;
  const auto p = read_weight(dir.file("w.npy"), o);
  EXPECT_EQ(p.nnz(), 60);
  o.sparsity = 0.0;  // keeps every entry, zeros included
  EXPECT_EQ(read_weight(dir.file("w.npy"), o).nnz(), 600);

  expect_error([&] { read_weight(dir.file("w.txt")); }, {"w.txt", "unsupported extension '.txt'", "expected .mtx, .smtx or .npy"});
  expect_error([&] { read_weight("/some.dir/weights"); }, {"unsupported extension ''"});
  expect_error([&] { read_weight(dir.file("missing.npy")); }, {"missing.npy", "cannot open for reading"});
  fs::create_directories(dir.file("folder.mtx"));
  expect_error([&] { read_weight(dir.file("folder.mtx")); }, {"folder.mtx", "not a regular file"});
  expect_error([&] { write_mtx("/nonexistent/dir/w.mtx", m); }, {"/nonexistent/dir/w.mtx", "cannot open for writing"});
  EXPECT_EQ(weight_format_of("a/b.c/W.Npy"), weight_format::npy);
  EXPECT_STREQ(to_string(weight_format_of("x.mtx")), "mtx");
}

// ---------------------------------------------------------------------------
// The DLMC collection (set PAISPARSE_DLMC_DIR to the unpacked folder)

TEST(Dlmc, EveryFileReads) {
  const char* dir = std::getenv("PAISPARSE_DLMC_DIR");
  if (!dir || !*dir) GTEST_SKIP() << "PAISPARSE_DLMC_DIR not set";
  ASSERT_TRUE(fs::is_directory(dir)) << dir;
  std::vector<fs::path> files;
  for (const auto& e : fs::recursive_directory_iterator(dir))
    if (e.is_regular_file() && e.path().extension() == ".smtx") files.push_back(e.path());
  std::sort(files.begin(), files.end());
  ASSERT_FALSE(files.empty()) << "no .smtx under " << dir;
  int64_t total_nnz = 0, empty = 0;
  for (const auto& f : files) {
    SCOPED_TRACE(f.string());
    const std::string text = detail::io::read_file(f.string());
    const auto m = parse_weight(text, f.string());
    // the first line's sizes are what was read
    int64_t r = 0, c = 0, z = 0;
    ASSERT_EQ(std::sscanf(text.c_str(), "%ld, %ld, %ld", &r, &c, &z), 3);
    EXPECT_EQ(m.rows(), r);
    EXPECT_EQ(m.cols(), c);
    EXPECT_EQ(m.nnz(), z);
    // the writer reproduces the pattern
    smtx_options o;
    o.values = m.values();
    EXPECT_TRUE(same(parse_smtx(format_smtx(m), "rt.smtx", o), m));
    total_nnz += m.nnz();
    empty += m.nnz() == 0;
  }
  std::printf("[ DLMC     ] %zu .smtx files, %ld nonzeros, %ld with nnz = 0\n", files.size(), static_cast<long>(total_nnz),
              static_cast<long>(empty));
}

// ---------------------------------------------------------------------------
// Randomized corruption ("fuzz"): valid files of each format, mutated.

namespace {

struct fuzz_seed {
  weight_format format;
  std::string bytes;
};

std::vector<fuzz_seed> fuzz_corpus() {
  std::vector<fuzz_seed> c;
  const auto a = random_csr<float>(12, 9, 0.3, row_distribution::lognormal, 0.8, 1);
  const auto b = random_csr<float>(5, 40, 0.15, row_distribution::uniform, 0.8, 2);
  const host_csr<float> z(4, 6, {0, 0, 0, 0, 0}, {}, {});
  // .mtx: written files, a commented unordered one, pattern/integer/symmetric fields, nnz = 0
  c.push_back({weight_format::mtx, format_mtx(a)});
  c.push_back({weight_format::mtx, format_mtx(b)});
  c.push_back({weight_format::mtx, format_mtx(z)});
  c.push_back({weight_format::mtx,
               "%%MatrixMarket matrix coordinate real general\n% comment\n\n4 5 6\n3 2 -1.5\n1 4 2e-1\n"
               "% between\n1 1 +3\n2 3 0.25\n4 5 1e-3\n4 1 -7\n"});
  c.push_back({weight_format::mtx, "%%MatrixMarket matrix coordinate pattern symmetric\n5 5 6\n1 1\n2 1\n3 2\n5 5\n5 1\n4 3\n"});
  c.push_back({weight_format::mtx, "%%MatrixMarket matrix coordinate integer general\n3 3 4\n1 3 -4\n2 2 16\n3 1 0\n1 1 9\n"});
  c.push_back({weight_format::mtx, "%%MatrixMarket matrix coordinate real symmetric\r\n3 3 3\r\n1 1 1.5\r\n3 1 2\r\n2 2 -1\r\n"});
  // .smtx: written files, the DLMC layout (trailing blanks), nnz = 0
  c.push_back({weight_format::smtx, format_smtx(a)});
  c.push_back({weight_format::smtx, format_smtx(b)});
  c.push_back({weight_format::smtx, format_smtx(z)});
  c.push_back({weight_format::smtx, "6, 8, 7\n0 2 2 3 5 5 7 \n1 6 0 2 7 3 4 \n"});
  c.push_back({weight_format::smtx, "3, 512, 0\n0 0 0 0 \n\n"});
  // .npy: every version, both dtypes, both orders, zeros among the values, an empty shape
  std::vector<float> dense(7 * 6);
  std::mt19937 rng(5);
  for (auto& v : dense) v = (rng() % 3 == 0) ? 0.f : std::uniform_real_distribution<float>(-3.f, 3.f)(rng);
  c.push_back({weight_format::npy, format_npy(dense.data(), 7, 6, npy_dtype::f32, 1, false)});
  c.push_back({weight_format::npy, format_npy(dense.data(), 6, 7, npy_dtype::f16, 2, false)});
  c.push_back({weight_format::npy, format_npy(dense.data(), 7, 6, npy_dtype::f32, 3, true)});
  c.push_back({weight_format::npy, format_npy(dense.data(), 3, 5, npy_dtype::f16, 1, true)});
  c.push_back({weight_format::npy, format_npy(dense.data(), 0, 4, npy_dtype::f32, 1, false)});
  c.push_back({weight_format::npy, format_npy(dense.data(), 2, 2, npy_dtype::f32, 1, false)});
  return c;
}

class mutator {
 public:
  explicit mutator(uint64_t seed) : rng_(seed) {}

  std::size_t below(std::size_t n) { return n ? static_cast<std::size_t>(rng_() % n) : 0; }
  bool coin(int percent) { return below(100) < static_cast<std::size_t>(percent); }
  template <class C>
  const auto& pick(const C& c) {
    return c[below(std::size(c))];
  }

  void mutate(std::string& s, weight_format f) {
    const int ops = 1 + static_cast<int>(below(3)) + (coin(20) ? static_cast<int>(below(4)) : 0);
    for (int i = 0; i < ops; ++i) mutate_once(s, f);
  }

 private:
  // A byte position, biased towards the front (headers, size lines) half the time.
  std::size_t position(const std::string& s) {
    if (s.empty()) return 0;
    return coin(50) ? below(std::min<std::size_t>(s.size(), 96)) : below(s.size());
  }

  // [begin, end) of every line, '\n' included.
  static std::vector<std::pair<std::size_t, std::size_t>> lines(const std::string& s) {
    std::vector<std::pair<std::size_t, std::size_t>> out;
    std::size_t b = 0;
    while (b < s.size()) {
      const std::size_t nl = s.find('\n', b);
      const std::size_t e = nl == std::string::npos ? s.size() : nl + 1;
      out.emplace_back(b, e);
      b = e;
    }
    return out;
  }

  // [begin, end) of every run of digits, with a leading '-' when present.
  static std::vector<std::pair<std::size_t, std::size_t>> numbers(const std::string& s, std::size_t limit) {
    std::vector<std::pair<std::size_t, std::size_t>> out;
    for (std::size_t i = 0; i < std::min(s.size(), limit);) {
      if (s[i] >= '0' && s[i] <= '9') {
        std::size_t j = i;
        while (j < s.size() && s[j] >= '0' && s[j] <= '9') ++j;
        out.emplace_back(i > 0 && s[i - 1] == '-' ? i - 1 : i, j);
        i = j;
      } else {
        ++i;
      }
    }
    return out;
  }

  // npy: the header is text only up to the first newline after byte 10
  static std::size_t npy_header_end(const std::string& s) {
    const std::size_t nl = s.find('\n', 10);
    return nl == std::string::npos ? std::min<std::size_t>(s.size(), 128) : nl;
  }

  // npy: makes the header length field agree with where the header's newline is
  static void npy_repair_length(std::string& s) {
    if (s.size() < 12) return;
    const std::size_t start = s[6] == 1 ? 10 : 12;
    const std::size_t nl = s.find('\n', start);
    if (nl == std::string::npos) return;
    const std::size_t len = nl + 1 - start;
    const int bytes = s[6] == 1 ? 2 : 4;
    if (bytes == 2 && len > 0xffff) return;
    for (int i = 0; i < bytes; ++i) s[8 + i] = static_cast<char>((len >> (8 * i)) & 0xff);
  }

  void mutate_once(std::string& s, weight_format f) {
    static const char interesting_bytes[] = {'\0', '\n', '\r', ' ', '\t', ',', '-', '+', '.', '%', 'e', '9',
                                             '0',  'x',  '\'', '"', '(', ')', '{', '}', ':', 'L', '\x93', '\xff'};
    static const char* const tokens[] = {"0", "1", "-1", "2", "7", "65536", "65537", "2147483647", "2147483648",
                                         "-2147483648", "4294967296", "9223372036854775807", "9223372036854775808",
                                         "99999999999999999999999", "1e400", "-1e39", "1e-50", "nan", "inf", "-inf",
                                         "abc", "", "1.5", "0x10", "+3", "--2", "1e", ".", "3L", " ", "1,2", "99999", "3.4e38"};
    static const char* const mtx_words[] = {"matrix", "vector", "coordinate", "array", "real", "double",
                                            "integer", "pattern", "complex", "general", "symmetric",
                                            "skew-symmetric", "hermitian", "", "%%MatrixMarket", "%%matrixmarket"};
    static const char* const npy_descr[] = {"'<f4'", "'<f2'", "'<f8'", "'>f4'", "'|u1'", "[('a', '<f4')]", "'<f4",
                                            "''", "\"<f2\"", "'<i4'"};
    static const char* const npy_order[] = {"True", "False", "false", "1", "None"};
    static const char* const npy_shape[] = {"(3,)", "(2, 3, 4)", "(-1, 4)", "(2147483648, 1)", "(0, 99999999)",
                                            "()", "(3 4)", "(0, 0)", "(1, 0)", "(99999999, 0)", "(6, 7)", "(7, 6)",
                                            "(42, 1)", "(1, 42)", "(3L, 5L)", "(2, 2,)", "(4294967297, 4294967297)"};
    const int op = static_cast<int>(below(f == weight_format::npy ? 14 : 12));
    switch (op) {
      case 0:  // flip a bit
        if (!s.empty()) s[position(s)] ^= static_cast<char>(1u << below(8));
        break;
      case 1:  // set a byte to one that matters to the parsers
        if (!s.empty()) s[position(s)] = pick(interesting_bytes);
        break;
      case 2:  // truncate
        s.resize(below(s.size() + 1));
        break;
      case 3:  // delete a line
      case 4:  // duplicate a line
      case 5: {  // swap two lines
        const auto ls = lines(s);
        if (ls.empty()) break;
        const auto [b, e] = pick(ls);
        if (op == 3) s.erase(b, e - b);
        else if (op == 4) s.insert(b, s.substr(b, e - b));
        else {
          const auto [b2, e2] = pick(ls);
          if (b2 == b) break;
          std::string first = s.substr(b, e - b), second = s.substr(b2, e2 - b2);
          if (b < b2) s.replace(b2, e2 - b2, first), s.replace(b, e - b, second);
          else s.replace(b, e - b, second), s.replace(b2, e2 - b2, first);
        }
        break;
      }
      case 6:  // replace a number by a hostile token
      case 7: {  // nudge a number by +-1
        const auto ns = numbers(s, f == weight_format::npy ? npy_header_end(s) : s.size());
        if (ns.empty()) break;
        const auto [b, e] = pick(ns);
        std::string rep = op == 6 ? std::string(pick(tokens)) : std::string();
        if (op == 7) {
          int64_t v = 0;
          if (detail::io::parse_int64(s.substr(b, e - b), v) != detail::io::parse_status::ok ||
              v == std::numeric_limits<int64_t>::max() || v == std::numeric_limits<int64_t>::min())
            break;
          rep = std::to_string(coin(50) ? v + 1 : v - 1);
        }
        s.replace(b, e - b, rep);
        if (f == weight_format::npy && coin(70)) npy_repair_length(s);
        break;
      }
      case 8: {  // insert a few bytes
        const std::size_t at = position(s);
        const std::size_t n = 1 + below(4);
        for (std::size_t i = 0; i < n; ++i) s.insert(s.begin() + static_cast<std::ptrdiff_t>(at), pick(interesting_bytes));
        break;
      }
      case 9: {  // delete a range
        if (s.empty()) break;
        const std::size_t at = position(s);
        s.erase(at, 1 + below(16));
        break;
      }
      case 10:
      case 11:  // format-specific header edits
        if (f == weight_format::mtx) {
          const std::size_t nl = s.find('\n');
          std::string first = s.substr(0, nl);
          std::vector<std::size_t> starts;  // word starts of the banner
          for (std::size_t i = 0; i < first.size(); ++i)
            if (first[i] != ' ' && (i == 0 || first[i - 1] == ' ')) starts.push_back(i);
          if (starts.empty()) break;
          const std::size_t w = below(starts.size());
          const std::size_t end = first.find(' ', starts[w]);
          first.replace(starts[w], (end == std::string::npos ? first.size() : end) - starts[w], pick(mtx_words));
          s.replace(0, nl == std::string::npos ? s.size() : nl, first);
        } else if (f == weight_format::smtx) {  // separators on the size line
          const std::size_t nl = s.find('\n');
          const std::size_t comma = s.find(',');
          if (comma != std::string::npos && comma < nl) s[comma] = coin(50) ? ' ' : ';';
          else if (nl != std::string::npos) s.insert(nl, coin(50) ? ", 1" : ",");
        } else if (coin(20)) {  // an extra (repeated, unknown or escaped) key after '{'
          static const char* const extra[] = {"'descr': '<f4', ", "'shape': (1, 1), ", "'fortran_order': True, ",
                                              "'x': 1, ", "'a\\b': 1, ", "'shape': (0, 3), "};
          const std::size_t brace = s.find('{');
          if (brace == std::string::npos || brace > npy_header_end(s)) break;
          s.insert(brace + 1, pick(extra));
          if (coin(80)) npy_repair_length(s);
        } else {
          std::string header = s.substr(0, npy_header_end(s));
          const char* key = pick(std::array<const char*, 3>{"'descr': ", "'fortran_order': ", "'shape': "});
          const std::size_t k = header.find(key);
          if (k == std::string::npos) break;
          const std::size_t vb = k + std::strlen(key);
          std::size_t ve = vb;
          if (header[vb] == '(') ve = header.find(')', vb) + 1;
          else ve = header.find(',', vb);
          if (ve == std::string::npos || ve == 0 || ve < vb) break;
          const char* rep = key[1] == 'd' ? pick(npy_descr) : key[1] == 'f' ? pick(npy_order) : pick(npy_shape);
          s.replace(vb, ve - vb, rep);
          if (coin(80)) npy_repair_length(s);
        }
        break;
      case 12:  // npy: version byte
        if (s.size() > 7) s[coin(80) ? 6 : 7] = static_cast<char>(pick(std::array<int, 7>{0, 1, 2, 3, 4, 255, 1}));
        break;
      case 13: {  // npy: header length field
        if (s.size() < 10) break;
        const uint32_t len = pick(std::array<uint32_t, 8>{0u, 1u, static_cast<uint32_t>(s.size()),
                                                          static_cast<uint32_t>(s.size() - 10), 0xffffu, 0xffffffffu,
                                                          static_cast<uint32_t>(below(200)), 0x10000u});
        const int bytes = s[6] == 1 ? 2 : 4;
        for (int i = 0; i < bytes && 8 + i < static_cast<int>(s.size()); ++i)
          s[8 + static_cast<std::size_t>(i)] = static_cast<char>((len >> (8 * i)) & 0xff);
        break;
      }
      default: break;
    }
  }

  std::mt19937_64 rng_;
};

int64_t env_int(const char* name, int64_t fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::strtoll(v, nullptr, 10) : fallback;
}

}  // namespace

TEST(Fuzz, MutatedFilesGiveAValidCsrOrAPaisparseError) {
  const int64_t inputs = env_int("PAISPARSE_FUZZ_INPUTS", 500000);
  const auto seed = static_cast<uint64_t>(env_int("PAISPARSE_FUZZ_SEED", 20240601));
  const std::vector<fuzz_seed> corpus = fuzz_corpus();
  for (const auto& c : corpus) ASSERT_NO_THROW(parse_weight(c.bytes, std::string("seed.") + to_string(c.format)));

  struct tally {
    int64_t tried = 0, accepted = 0, rejected = 0;
    std::map<std::string, int64_t> checks;  // throw sites reached
  };
  std::map<weight_format, tally> stats;
  std::vector<std::string> failures;
  int64_t problems = 0;
  mutator mut(seed);
  const auto t0 = std::chrono::steady_clock::now();
  for (int64_t i = 0; i < inputs; ++i) {
    const fuzz_seed& base = corpus[static_cast<std::size_t>(i) % corpus.size()];
    std::string bytes = base.bytes;
    mut.mutate(bytes, base.format);
    const std::string name = std::string("fuzz.") + to_string(base.format);
    weight_read_options opt;
    opt.seed = static_cast<uint64_t>(i);
    opt.duplicates = mut.coin(50) ? duplicate_policy::reject : duplicate_policy::sum;
    opt.max_rows = int64_t{1} << 20;  // keeps each input cheap; the default limit has its own tests
    if (base.format == weight_format::npy && mut.coin(50)) opt.sparsity = static_cast<double>(mut.below(101)) / 100.0;
    tally& t = stats[base.format];
    ++t.tried;
    const auto report = [&](const std::string& what) {
      ++problems;
      if (failures.size() < 20)
        failures.push_back(name + " input #" + std::to_string(i) + ": " + what + "\n    input: " + detail::io::quote(bytes.substr(0, 40)) +
                           " (" + std::to_string(bytes.size()) + " bytes)");
    };
    try {
      const host_csr<float> m = parse_weight(bytes, name, opt);
      ++t.accepted;
      // it validated itself; it must also survive a Matrix Market round trip unchanged
      const host_csr<float> back = parse_mtx(format_mtx(m), "roundtrip.mtx");
      if (!same(m, back)) report("accepted, but the .mtx round trip differs");
    } catch (const paisparse::error& e) {
      ++t.rejected;
      const std::string msg = e.what();
      if (msg.find(name + ": line ") == std::string::npos && msg.find(name + ": byte ") == std::string::npos)
        report("the message does not name the file and a line or byte: " + msg);
      const std::size_t site = msg.rfind(" (");
      ++t.checks[site == std::string::npos ? msg : msg.substr(site)];
    } catch (const std::exception& e) {
      report(std::string("threw std::exception: ") + e.what());
    } catch (...) {
      report("threw a non-standard exception");
    }
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  int64_t tried = 0, accepted = 0, rejected = 0;
  for (const auto& [f, t] : stats) {
    std::printf("[ FUZZ     ] %-5s %7ld inputs: %6ld accepted, %6ld rejected (%zu distinct checks fired)\n", to_string(f),
                static_cast<long>(t.tried), static_cast<long>(t.accepted), static_cast<long>(t.rejected), t.checks.size());
    if (env_int("PAISPARSE_FUZZ_VERBOSE", 0))
      for (const auto& [site, n] : t.checks) std::printf("[ FUZZ     ]       %8ld x%s\n", static_cast<long>(n), site.c_str());
    tried += t.tried;
    accepted += t.accepted;
    rejected += t.rejected;
  }
  std::printf("[ FUZZ     ] total %ld inputs (seed %llu): %ld accepted, %ld rejected, %ld problems, %.2f s\n",
              static_cast<long>(tried), static_cast<unsigned long long>(seed), static_cast<long>(accepted),
              static_cast<long>(rejected), static_cast<long>(problems), seconds);
  for (const auto& f : failures) ADD_FAILURE() << f;
  EXPECT_EQ(problems, 0);
  EXPECT_EQ(tried, accepted + rejected);
  for (const auto& [f, t] : stats) {  // the mutations must exercise both outcomes
    EXPECT_GT(t.accepted, 0) << to_string(f);
    EXPECT_GT(t.rejected, 0) << to_string(f);
  }
}
