// paisparse benchmark: the end-of-run table and geomean speedups.
#include "summary.hpp"

#include <algorithm>
#include <cmath>
#include <iomanip>
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
  os << std::left << std::setw(static_cast<int>(name_w)) << "case" << std::right << std::setw(11) << "nnz"
     << std::setw(16) << "paisparse" << std::setw(16) << "cusparse" << std::setw(16) << "cublas" << std::setw(9)
     << "x_cusp" << std::setw(9) << "x_cublas" << std::setw(9) << "floor" << std::setw(7) << "floor%"
     << "  " << std::left << std::setw(30) << "config" << std::right << std::setw(8) << "tune_s" << "\n";
  for (const auto& r : rs) {
    const double floor_frac = ratio(r.floor_us, r.paisparse_graph_us);
    os << std::left << std::setw(static_cast<int>(name_w)) << r.name << std::right << std::setw(11) << r.nnz
       << std::setw(16) << pair(r.paisparse_us, r.paisparse_graph_us) << std::setw(16)
       << pair(r.cusparse_us, r.cusparse_graph_us) << std::setw(16) << pair(r.cublas_us, r.cublas_graph_us)
       << std::setw(9) << fmt(ratio(r.cusparse_graph_us, r.paisparse_graph_us), 2) << std::setw(9)
       << fmt(ratio(r.cublas_graph_us, r.paisparse_graph_us), 2) << std::setw(9) << fmt(r.floor_us, 2)
       << std::setw(7) << fmt(100 * floor_frac, 0) << "  " << std::left << std::setw(30) << r.config << std::right
       << std::setw(8) << fmt(r.tune_s, 1) << "\n";
  }

  // geomeans per (type, sparsity rounded to 0.01)
  std::map<std::tuple<std::string, long>, std::tuple<geomean, geomean, geomean, geomean>> groups;
  for (const auto& r : rs) {
    auto& g = groups[{to_string(r.type), std::lround(r.sparsity * 100)}];
    std::get<0>(g).add(ratio(r.cusparse_graph_us, r.paisparse_graph_us));
    std::get<1>(g).add(ratio(r.cusparse_us, r.paisparse_us));
    std::get<2>(g).add(ratio(r.cublas_graph_us, r.paisparse_graph_us));
    std::get<3>(g).add(ratio(r.floor_us, r.paisparse_graph_us));
  }
  os << "\ngeomean speedup of paisparse per (type, sparsity):\n"
     << std::left << std::setw(6) << "type" << std::right << std::setw(10) << "sparsity" << std::setw(7) << "cases"
     << std::setw(15) << "x_cusp_graph" << std::setw(16) << "x_cusp_stream" << std::setw(16) << "x_cublas_graph"
     << std::setw(12) << "floor_frac" << "\n";
  for (const auto& [key, g] : groups) {
    os << std::left << std::setw(6) << std::get<0>(key) << std::right << std::setw(10)
       << fmt(static_cast<double>(std::get<1>(key)) / 100, 2) << std::setw(7)
       << std::max({std::get<0>(g).n, std::get<1>(g).n, std::get<2>(g).n}) << std::setw(15)
       << fmt(std::get<0>(g).value(), 3) << std::setw(16) << fmt(std::get<1>(g).value(), 3) << std::setw(16)
       << fmt(std::get<2>(g).value(), 3) << std::setw(12) << fmt(std::get<3>(g).value(), 3) << "\n";
  }
  os.flags(flags);
}

}  // namespace paisparse::bench
