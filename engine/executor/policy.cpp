// engine/executor/policy.cpp — Decide(): where one batch runs (policy.h).
//
// How it works: the rules of policy.h are tried in order and the first that applies decides;
// every rule that fires appends one sentence to Decision::reasons (shown by vecgraph_explain).
// Predictions are filled whenever a model has data, whatever rule decides. The model's own
// choice (rules 8–9) is computed before the warm-up re-measure (rule 6) and exploration (rule 7)
// because both run the backend the model would NOT pick; for a split exploration runs the device
// alone, and warm-up nothing (a split measures both backends).
//
// `eligible` means the batch passed rules 1–5: a usable device, mode not 'cpu', and the batch
// at or above gpu_min_batch (or mode 'gpu', or a granted half-open probe). The executor counts
// eligible batches per op and passes the count back as eligible_seen, which paces exploration.
#include "engine/executor/policy.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "engine/common/status.h"

namespace vecgraph::exec {
namespace {

constexpr double kMinCpuFraction = 0.05;
constexpr double kMaxCpuFraction = 0.95;

// Work units are usually integral; print them without a fraction when they are.
std::string Num(double x) {
  if (std::isfinite(x) && x == std::floor(x) && std::fabs(x) < 1e15) return StrFormat("%.0f", x);
  return StrFormat("%g", x);
}

// Share of the items to run on the CPU so both halves finish together: proportional to the
// CPU's throughput 1/b_cpu. A zero slope means unbounded throughput on that side.
double SplitFraction(double b_cpu, double b_dev) {
  double f;
  if (b_cpu <= 0 && b_dev <= 0) {
    f = 0.5;
  } else if (b_cpu <= 0) {
    f = 1.0;
  } else if (b_dev <= 0) {
    f = 0.0;
  } else {
    const double thr_cpu = 1.0 / b_cpu, thr_dev = 1.0 / b_dev;
    f = thr_cpu / (thr_cpu + thr_dev);
  }
  if (!std::isfinite(f)) f = 0.5;
  return std::clamp(f, kMinCpuFraction, kMaxCpuFraction);
}

// Reasons are built only when explaining (PolicyInput::explain): the dispatch hot path must stay
// well under a microsecond, and formatting text would dominate it.
template <typename Reason>
Decision& ToCpu(Decision& d, bool explain, Reason&& reason) {
  d.target = Target::kCpu;
  d.cpu_fraction = 1.0;
  if (explain) d.reasons.emplace_back(reason());
  return d;
}

template <typename Reason>
Decision& ToDevice(Decision& d, bool explain, Reason&& reason) {
  d.target = Target::kDevice;
  d.cpu_fraction = 0.0;
  if (explain) d.reasons.emplace_back(reason());
  return d;
}

}  // namespace

Decision Decide(const PolicyInput& in, const PolicyConfig& config) {
  Decision d;
  const char* op = OpName(in.op);
  const bool cpu_data = in.cpu != nullptr && in.cpu->HasData();
  const bool dev_data = in.device != nullptr && in.device->HasData();
  const double pc = cpu_data ? in.cpu->Predict(in.work) : std::numeric_limits<double>::quiet_NaN();
  const double pd = dev_data ? in.device->Predict(in.work) : std::numeric_limits<double>::quiet_NaN();
  if (std::isfinite(pc)) d.predicted_cpu_us = std::max(pc, 0.0);
  if (std::isfinite(pd)) d.predicted_device_us = std::max(pd, 0.0);

  // 1. mode 'cpu'.
  if (config.mode == Mode::kCpu) return ToCpu(d, in.explain, [&] { return std::string("mode is 'cpu'"); });

  // 2. no usable device backend.
  if (!in.device_configured) return ToCpu(d, in.explain, [&] { return std::string("no device backend is configured (device 'none')"); });
  if (in.device_state == DeviceState::kUnavailable)
    return ToCpu(d, in.explain, [&] { return std::string("the device is unavailable (no driver or no device)"); });
  if (in.device_state == DeviceState::kLost)
    return ToCpu(d, in.explain, [&] { return std::string("the device was lost after a sticky error: it is not used again in this process"); });

  // 3. circuit open and no half-open probe granted.
  const bool probe = in.probe && in.device_call_allowed;
  if (in.device_state == DeviceState::kOpen && !probe)
    return ToCpu(d, in.explain, [&] { return std::string("the device circuit is open (cooling down after failures): running on the cpu"); });

  // A granted probe always goes to the device: its outcome decides whether the circuit closes.
  if (probe) {
    d.eligible = true;
    return ToDevice(d, in.explain, [&] { return std::string("half-open probe: one trial batch on the device after its cooldown"); });
  }

  // The breaker may still refuse a call while closed (e.g. the device is not probed yet).
  static constexpr const char* refused = "the circuit breaker did not allow a device call";

  // 4. mode 'gpu'.
  if (config.mode == Mode::kGpu) {
    if (!in.device_call_allowed) return ToCpu(d, in.explain, [&] { return std::string(refused); });
    d.eligible = true;
    return ToDevice(d, in.explain, [&] { return std::string("mode is 'gpu'"); });
  }

  // 5. too small for the device.
  if (!(in.work >= config.gpu_min_batch)) {
    return ToCpu(d, in.explain, [&] { return std::string(StrFormat("batch of %s work units is below gpu_min_batch (%s)",
                              Num(in.work).c_str(), Num(config.gpu_min_batch).c_str())); });
  }
  if (!in.device_call_allowed) return ToCpu(d, in.explain, [&] { return std::string(refused); });
  d.eligible = true;

  // 6. missing measurements: measure rather than guess.
  if (!dev_data)
    return ToDevice(d, in.explain, [&] { return std::string(StrFormat("no device measurements yet for op '%s': trying the device", op)); });
  if (!cpu_data)
    return ToCpu(d, in.explain, [&] { return std::string(StrFormat("no cpu measurements yet for op '%s': trying the cpu", op)); });

  // Both models have data: compute the model's choice (rules 8 and 9).
  Decision& model = d;
  bool decided = false;

  // 8. hybrid split.
  if (in.device_state == DeviceState::kOk &&
      in.work >= config.hybrid_min_factor * config.gpu_min_batch) {
    const double f = SplitFraction(in.cpu->b(), in.device->b());
    const double t_cpu = in.cpu->Predict(f * in.work);
    const double t_dev = in.device->Predict((1.0 - f) * in.work);
    const double t_split = std::max(t_cpu, t_dev);
    const double best = std::min(pc, pd);
    if (std::isfinite(t_split) && t_split < config.hybrid_gain * best) {
      model.target = Target::kSplit;
      model.cpu_fraction = f;
      if (in.explain) model.reasons.push_back(StrFormat(
          "split: predicted %.1f us with %.0f%% of the items on the cpu vs %.1f us on the best "
          "single backend (hybrid_gain %g)",
          t_split, f * 100.0, best, config.hybrid_gain));
      decided = true;
    }
  }

  // 9. the device must win by speedup_threshold.
  if (!decided) {
    const bool device = pc >= config.speedup_threshold * pd;
    auto reason = [&] {
    std::string why;
    if (pd <= 0) {
      why = "the device is predicted to take no time";
    } else if (pc <= 0) {
      why = "the cpu is predicted to take no time";
    } else if (device) {
      why = StrFormat("device wins by %.2fx", pc / pd);
    } else if (pc >= pd) {
      why = StrFormat("device would win by only %.2fx", pc / pd);
    } else {
      why = StrFormat("cpu wins by %.2fx", pd / pc);
    }
    return StrFormat("predicted cpu %.1f us vs device %.1f us: %s (threshold %g)",
                     pc, pd, why.c_str(), config.speedup_threshold);
    };
    if (device) ToDevice(model, in.explain, reason);
    else ToCpu(model, in.explain, reason);
  }

  // 6 (warm-up). The backend the model would not pick has only its cold-start sample: measure it
  // once more before trusting the comparison (a split runs both, so both get measured anyway).
  const bool cpu_cold = !in.cpu->Warm(), dev_cold = !in.device->Warm();
  if ((model.target == Target::kCpu && dev_cold) || (model.target == Target::kDevice && cpu_cold)) {
    model.exploring = true;
    auto why = [&](const char* who) {
      return StrFormat("warm-up: the %s has only its first (cold-start) measurement for op '%s': measuring it "
                       "once more", who, op);
    };
    if (model.target == Target::kCpu) ToDevice(model, in.explain, [&] { return why("device"); });
    else ToCpu(model, in.explain, [&] { return why("cpu"); });
    return model;
  }

  // 7. exploration: every explore_every-th eligible batch re-samples the other backend.
  if (config.explore_every > 0 && (in.eligible_seen + 1) % config.explore_every == 0) {
    model.exploring = true;
    auto every = [&] {
      return StrFormat("(every %llu eligible batches)", static_cast<unsigned long long>(config.explore_every));
    };
    if (model.target == Target::kDevice) {
      ToCpu(model, in.explain, [&] { return std::string("exploring: re-sampling cpu " + every()); });
    } else {  // cpu, or a split: explore the device alone
      ToDevice(model, in.explain, [&] { return std::string("exploring: re-sampling the device " + every()); });
    }
  }
  return model;
}

}  // namespace vecgraph::exec
