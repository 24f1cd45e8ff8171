// bench/dispatch_accuracy.cpp — does the executor put batches where they are cheapest?
//
//   vecgraph_dispatch_accuracy [out.csv]
//
// Each scenario drives Executor::Run with batches of log-uniform random size (1e3..1e6 work
// units) whose true costs follow known curves t(n) = a + b·n, which both sides report to the
// executor as modelled time (as the simulated device does), so the result measures the policy,
// not this machine's timing noise. A decision is correct when the chosen option's true cost (the CPU,
// the device, or the split max(t_cpu(f·n), t_dev((1−f)·n)) with the executor's f) is within 5 %
// of the cheaper backend's. Scenarios: a fast device, a slow device, costs crossing at a batch
// size, and drifts (fast → slow and slow → fast at batch 500). Goals: ≥ 95 % correct after 20
// warm-up batches; after a drift, correct again within 50 batches. A split counts as correct
// when its true cost is within 5 % of the cheaper single backend (or below it). Exploration batches (the
// executor deliberately re-sampling the losing side every explore_every = 32 eligible batches)
// count as wrong. speedup_threshold is 1.0 here so "cheaper" is the only criterion.
// Writes one CSV row per batch (scenario, index, work, choice, correct) for bench/plot_dispatch.py.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "engine/executor/device_backends.h"
#include "engine/executor/executor.h"

using namespace vecgraph::exec;

namespace {

struct Curve {
  double a, b;
  double operator()(double n) const { return a + b * n; }
};

struct Scenario {
  const char* name;
  Curve cpu;
  Curve dev_before, dev_after;
  int drift_at;  // −1: no drift
};

}  // namespace

int main(int argc, char** argv) {
  const char* csv_path = argc > 1 ? argv[1] : "dispatch.csv";
  FILE* csv = std::fopen(csv_path, "w");
  if (!csv) return 1;
  std::fprintf(csv, "scenario,batch,work,choice,cpu_fraction,correct,exploring\n");
  const Curve cpu{5, 0.002};  // 2 ms per 1e6 units
  const Scenario scenarios[] = {
      {"fast_device", cpu, {2, 0.0002}, {2, 0.0002}, -1},
      {"slow_device", cpu, {50, 0.005}, {50, 0.005}, -1},
      {"crossing", cpu, {300, 0.0004}, {300, 0.0004}, -1},
      {"drift_fast_to_slow", cpu, {2, 0.0002}, {50, 0.008}, 500},
      {"drift_slow_to_fast", cpu, {50, 0.008}, {2, 0.0002}, 500},
  };
  const int kBatches = 1000, kWarmup = 20, kReconverge = 50;
  bool all_ok = true;
  std::printf("| scenario | correct after warm-up (exploration counted wrong) | after the drift: wrong decisions (not exploring), last one at | goal |\n");
  std::printf("|---|---|---|---|\n");
  for (const Scenario& sc : scenarios) {
    Executor ex;
    (void)ex.SetConfig("device", "simulated");
    (void)ex.SetConfig("gpu_min_batch", "0");
    (void)ex.SetConfig("speedup_threshold", "1.0");
    (void)ex.SetConfig("explore_every", "32");
    std::mt19937 rng(17);
    std::uniform_real_distribution<double> logu(3.0, 6.0);
    int correct = 0, counted = 0, last_wrong_after_drift = -1, wrong_after_drift = 0;
    for (int i = 0; i < kBatches; ++i) {
      const Curve dev = (sc.drift_at >= 0 && i >= sc.drift_at) ? sc.dev_after : sc.dev_before;
      const double n = std::floor(std::pow(10.0, logu(rng)));
      const size_t items = static_cast<size_t>(n);
      RunReport rep;
      ex.Run(Op::kKnn, n, items,
             [&](Backend& b, size_t lo, size_t hi) {
               double part = static_cast<double>(hi - lo);
               DeviceFailure f;
               f.modeled_us = b.kind() == BackendKind::kCpu ? cpu(part) : dev(part);
               return f;
             },
             &rep);
      const double f = rep.cpu_fraction;
      const double t_cpu = cpu(n), t_dev = dev(n);
      const double best = std::min(t_cpu, t_dev);
      double chosen;
      const char* choice;
      if (rep.target == Target::kCpu) {
        chosen = t_cpu;
        choice = "cpu";
      } else if (rep.target == Target::kDevice) {
        chosen = t_dev;
        choice = "device";
      } else {
        chosen = std::max(cpu(f * n), dev((1 - f) * n));
        choice = "split";
      }
      const bool ok = chosen <= 1.05 * best;
      std::fprintf(csv, "%s,%d,%.0f,%s,%.3f,%d,%d\n", sc.name, i, n, choice, f, ok ? 1 : 0, rep.exploring ? 1 : 0);
      if (i >= kWarmup) {
        ++counted;
        correct += ok;
      }
      if (sc.drift_at >= 0 && i >= sc.drift_at && !ok && !rep.exploring) {
        last_wrong_after_drift = i - sc.drift_at;
        if (i < sc.drift_at + kReconverge) ++wrong_after_drift;
      }
    }
    const double acc = 100.0 * correct / counted;
    // Re-converged: after the 50-batch window, accuracy over the rest stays ≥ 95 %.
    bool ok = acc >= 95.0 && (sc.drift_at < 0 || last_wrong_after_drift < kReconverge);
    std::string drift = "n/a";
    if (sc.drift_at >= 0) {
      drift = std::to_string(wrong_after_drift) + " wrong; last wrong at +" + std::to_string(last_wrong_after_drift);
    }
    all_ok = all_ok && ok;
    std::printf("| %s | %.1f %% | %s | %s |\n", sc.name, acc, drift.c_str(), ok ? "met" : "MISSED");
  }
  std::fclose(csv);
  std::printf("\nper-batch decisions written to %s (plot: /usr/bin/python3 bench/plot_dispatch.py %s)\n", csv_path,
              csv_path);
  return all_ok ? 0 : 2;
}
