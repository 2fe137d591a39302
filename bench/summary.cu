// paisparse benchmark: the end-of-run table and geomean speedups.
#include "summary.hpp"

#include <algorithm>
#include <cmath>
#include <iomanip>
#include <iterator>
#include <map>
#include <ostream>
#include <sstream>
#include <tuple>
#include <vector>

namespace paisparse::bench {

namespace {

std::vector<case_result>& results() {
  static std::vector<case_result> r;
  return r;
}

std::string fmt(double v, int precision = 1) {
  if (!std::isfinite(v)) return "-";
  std::ostringstream os;
  os << std::fixed << std::setprecision(precision) << v;
  return os.str();
}

std::string pair(double a, double b) { return fmt(a) + "/" + fmt(b); }

double ratio(double num, double den) { return std::isfinite(num) && std::isfinite(den) && den > 0 ? num / den : NAN; }

/// Running geomean of the finite positive values added.
struct geomean {
  double log_sum = 0;
  int n = 0;
  void add(double v) {
    if (std::isfinite(v) && v > 0) log_sum += std::log(v), ++n;
  }
  double value() const { return n ? std::exp(log_sum / n) : NAN; }
};

}  // namespace

void record_result(const case_result& r) { results().push_back(r); }

void print_summary(std::ostream& os, double copy_gbps) {
  const auto& rs = results();
  if (rs.empty()) return;
  std::size_t name_w = 4;
  for (const auto& r : rs) name_w = std::max(name_w, r.name.size());
  const auto flags = os.flags();
  os << "\npaisparse_bench summary: microseconds per call, stream/graph; speedups on graph replay; floor at "
     << fmt(copy_gbps, 0) << " GB/s\n";
  os << std::left << std::setw(static_cast<int>(name_w)) << "case" << std::right << std::setw(5) << "N"
     << std::setw(11) << "nnz" << std::setw(18) << "paisparse" << std::setw(18) << "cusparse" << std::setw(18)
     << "cublas" << std::setw(9) << "x_cusp" << std::setw(9) << "x_cublas" << std::setw(9) << "floor" << std::setw(7)
     << "floor%" << "  " << std::left << std::setw(44) << "config" << std::right << std::setw(8) << "tune_s" << "\n";
  for (const auto& r : rs) {
    const double floor_frac = ratio(r.floor_us, r.paisparse_graph_us);
    os << std::left << std::setw(static_cast<int>(name_w)) << r.name << std::right << std::setw(5) << r.n
       << std::setw(11) << r.nnz << std::setw(18) << pair(r.paisparse_us, r.paisparse_graph_us) << std::setw(18)
       << pair(r.cusparse_us, r.cusparse_graph_us) << std::setw(18) << pair(r.cublas_us, r.cublas_graph_us)
       << std::setw(9) << fmt(ratio(r.cusparse_graph_us, r.paisparse_graph_us), 2) << std::setw(9)
       << fmt(ratio(r.cublas_graph_us, r.paisparse_graph_us), 2) << std::setw(9) << fmt(r.floor_us, 2)
       << std::setw(7) << fmt(100 * floor_frac, 0) << "  " << std::left << std::setw(44) << r.config << std::right
       << std::setw(8) << fmt(r.tune_s, 1) << "\n";
  }

  // geomeans per (type, sparsity rounded to 0.01, N)
  std::map<std::tuple<std::string, long, int64_t>, std::tuple<geomean, geomean, geomean, geomean>> groups;
  for (const auto& r : rs) {
    auto& g = groups[{to_string(r.type), std::lround(r.sparsity * 100), r.n}];
    std::get<0>(g).add(ratio(r.cusparse_graph_us, r.paisparse_graph_us));
    std::get<1>(g).add(ratio(r.cusparse_us, r.paisparse_us));
    std::get<2>(g).add(ratio(r.cublas_graph_us, r.paisparse_graph_us));
    std::get<3>(g).add(ratio(r.floor_us, r.paisparse_graph_us));
  }
  os << "\ngeomean speedup of paisparse per (type, sparsity, N):\n"
     << std::left << std::setw(6) << "type" << std::right << std::setw(10) << "sparsity" << std::setw(6) << "N"
     << std::setw(7) << "cases" << std::setw(15) << "x_cusp_graph" << std::setw(16) << "x_cusp_stream"
     << std::setw(16) << "x_cublas_graph" << std::setw(12) << "floor_frac" << "\n";
  for (const auto& [key, g] : groups) {
    os << std::left << std::setw(6) << std::get<0>(key) << std::right << std::setw(10)
       << fmt(static_cast<double>(std::get<1>(key)) / 100, 2) << std::setw(6) << std::get<2>(key) << std::setw(7)
       << std::max({std::get<0>(g).n, std::get<1>(g).n, std::get<2>(g).n}) << std::setw(15)
       << fmt(std::get<0>(g).value(), 3) << std::setw(16) << fmt(std::get<1>(g).value(), 3) << std::setw(16)
       << fmt(std::get<2>(g).value(), 3) << std::setw(12) << fmt(std::get<3>(g).value(), 3) << "\n";
  }

  // Break-even with dense cuBLAS, synthetic sets: per (type, N, layout,
  // distribution), the lowest sparsity s such that paisparse is faster than
  // cuBLAS (graph) on every shape at s and at every higher sparsity measured.
  using be_key = std::tuple<std::string, int64_t, std::string, std::string>;
  std::map<be_key, std::map<long, std::pair<int, int>>> wins;  // sparsity (1e-4) -> (wins, cases)
  for (const auto& r : rs) {
    const double x = ratio(r.cublas_graph_us, r.paisparse_graph_us);
    if (r.shape.empty() || !std::isfinite(x)) continue;
    auto& w = wins[{to_string(r.type), r.n, r.layout, r.dist}][std::lround(r.sparsity * 1e4)];
    w.second += 1;
    w.first += x > 1 ? 1 : 0;
  }
  if (!wins.empty()) {
    os << "\nsparsity from which paisparse beats dense cuBLAS on every shape, at it and every higher one measured\n"
          "(graph replay; synthetic sets; <=: already at the lowest measured):\n"
       << std::left << std::setw(6) << "type" << std::right << std::setw(6) << "N" << std::setw(8) << "layout"
       << std::setw(11) << "rows" << std::setw(12) << "from" << "  measured (wins/cases per sparsity)\n";
    for (const auto& [key, per_s] : wins) {
      std::string from = "never";
      for (auto it = per_s.rbegin(); it != per_s.rend() && it->second.first == it->second.second; ++it)
        from = (std::next(it) == per_s.rend() ? "<=" : "") + fmt(static_cast<double>(it->first) / 1e4, 2);
      std::ostringstream detail;
      for (const auto& [s, w] : per_s) detail << " " << fmt(static_cast<double>(s) / 1e4, 2) << ":" << w.first << "/" << w.second;
      os << std::left << std::setw(6) << std::get<0>(key) << std::right << std::setw(6) << std::get<1>(key)
         << std::setw(8) << (std::get<2>(key).empty() ? "-" : std::get<2>(key)) << std::setw(11) << std::get<3>(key)
         << std::setw(12) << from << " " << detail.str() << "\n";
    }
  }
  os.flags(flags);
}

}  // namespace paisparse::bench
