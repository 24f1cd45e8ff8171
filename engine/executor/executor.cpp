// engine/executor/executor.cpp — the process-wide hybrid executor (executor.h).
//
// How it works: Plan() builds a PolicyInput from the configuration, the cost models and the
// device's circuit breaker (MakeInputLocked, the one place that does so: vecgraph_explain uses it
// too, in a mode that changes nothing) and asks Decide() (policy.h). Execute() runs the plan,
// times each part (or takes the time a backend's model reports, DeviceFailure::modeled_us), feeds
// the cost models and statistics, and re-runs a failed device range on the CPU.
//
// Configuration values arrive as text (SQL hands a REAL as its shortest round-trip text, see
// extension/executor_functions.cpp). Integer keys take an integral decimal number ("4", "4.0",
// "1e3"); real keys a decimal number; no spaces, hex, inf or nan, and a value outside the key's
// range is an error that states the range, never a silent clamp or wrap. The one documented cap:
// 'threads' above what oneTBB can run here (CpuBackend::MaxThreads) is capped, and the value
// returned is the one in effect (as SQLite's PRAGMA threads does).
#include "engine/executor/executor.h"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <strings.h>
#include <thread>

#include "engine/common/json.h"
#include "engine/vector/codec.h"

namespace vecgraph::exec {
namespace {

constexpr size_t kLatencyRing = 512;

bool IEquals(std::string_view a, const char* b) {
  return a.size() == std::strlen(b) && strncasecmp(a.data(), b, a.size()) == 0;
}

// Microseconds since t0 on the monotonic clock, at nanosecond resolution (a small batch takes
// well under a microsecond; whole microseconds would make it cost nothing).
double ElapsedUs(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count();
}

const char* ModeName(Mode m) {
  switch (m) {
    case Mode::kAuto: return "auto";
    case Mode::kCpu: return "cpu";
    case Mode::kGpu: return "gpu";
  }
  return "?";
}

const char* DeviceChoiceName(DeviceChoice d) {
  switch (d) {
    case DeviceChoice::kCuda: return "cuda";
    case DeviceChoice::kSimulated: return "simulated";
    case DeviceChoice::kNone: return "none";
  }
  return "?";
}

std::string FormatNumber(double v) {
  std::string s;
  AppendJsonNumber(&s, v);
  return s;
}

ConfigValue Int(int64_t v) {
  ConfigValue c;
  c.type = ConfigValue::Type::kInt;
  c.i = v;
  return c;
}
ConfigValue Real(double v) {
  ConfigValue c;
  c.type = ConfigValue::Type::kReal;
  c.d = v;
  return c;
}
ConfigValue Text(std::string v) {
  ConfigValue c;
  c.s = std::move(v);
  return c;
}

Status BadValue(std::string_view key, std::string_view value, const char* expected) {
  std::string shown;
  for (char ch : value.substr(0, 80)) {
    if (ch == '\0') shown += "\\0";  // a NUL inside a TEXT value is shown, not a place to stop
    else shown += ch;
  }
  return Status::InvalidArgument(StrFormat("invalid value '%s' for key '%.*s': expected %s", shown.c_str(),
                                           static_cast<int>(key.size()), key.data(), expected));
}

// A decimal number as people write it: [+-] digits [. digits] [(e|E) [+-] digits], or with the
// digits only after the point. No spaces, hex, inf or nan (strtod alone accepts all of those).
bool IsDecimal(std::string_view s) {
  size_t i = 0, digits = 0;
  auto is_digit = [&] { return i < s.size() && s[i] >= '0' && s[i] <= '9'; };
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
  for (; is_digit(); ++i) ++digits;
  if (i < s.size() && s[i] == '.') {
    for (++i; is_digit(); ++i) ++digits;
  }
  if (digits == 0) return false;
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
    size_t exp_digits = 0;
    for (; is_digit(); ++i) ++exp_digits;
    if (exp_digits == 0) return false;
  }
  return i == s.size();
}

// A decimal number (IsDecimal) as a finite double; false on bad syntax, overflow (1e400) or
// underflow (1e-400): a value that cannot be represented is an error, not 0 or inf.
bool ParseDecimal(std::string_view v, double* out) {
  if (!IsDecimal(v)) return false;
  std::string s(v);
  errno = 0;
  char* end = nullptr;
  double d = std::strtod(s.c_str(), &end);
  if (errno == ERANGE || !std::isfinite(d) || end != s.c_str() + s.size()) return false;
  *out = d;
  return true;
}

// An integer in [lo, hi]: "4", "+4", "-0", or an integral decimal number ("4.0", "1e3": what a
// REAL argument becomes). Fractions, spaces, hex and out-of-range values are errors stating the
// range.
StatusOr<int64_t> ParseInt(std::string_view key, std::string_view v, int64_t lo, int64_t hi, const char* unit = "") {
  const std::string expected = StrFormat("an integer between %lld and %lld%s", static_cast<long long>(lo),
                                         static_cast<long long>(hi), unit);
  std::string_view digits = v;
  // from_chars takes a '-' but no '+'.
  if (digits.size() >= 2 && digits[0] == '+' && digits[1] >= '0' && digits[1] <= '9') digits.remove_prefix(1);
  int64_t x = 0;
  bool ok = false;
  if (!digits.empty() && digits[0] != '+') {
    auto r = std::from_chars(digits.data(), digits.data() + digits.size(), x);
    ok = r.ec == std::errc() && r.ptr == digits.data() + digits.size();
    if (r.ec == std::errc::result_out_of_range) return BadValue(key, v, expected.c_str());
  }
  if (!ok) {
    double d = 0;
    // 2^53: beyond it a double no longer holds every integer.
    if (!ParseDecimal(v, &d) || std::floor(d) != d || std::fabs(d) > 9007199254740992.0) {
      return BadValue(key, v, expected.c_str());
    }
    x = static_cast<int64_t>(d);
  }
  if (x < lo || x > hi) return BadValue(key, v, expected.c_str());
  return x;
}

// A decimal number in [lo, hi] ((lo, hi] when lo_open).
StatusOr<double> ParseReal(std::string_view key, std::string_view v, double lo, double hi, bool lo_open,
                           const char* expected) {
  double x = 0;
  if (!ParseDecimal(v, &x) || x > hi || x < lo || (lo_open && x == lo)) return BadValue(key, v, expected);
  return x + 0.0;  // -0 → 0
}

}  // namespace


struct Executor::OpStats {
  bool seen = false;
  uint64_t batches = 0, items = 0, failures = 0, fallbacks = 0;
  double total_us = 0;
  std::vector<float> latencies;
  size_t lat_next = 0;
  std::string last_error;

  void AddLatency(double us) {
    if (latencies.size() < kLatencyRing) {
      latencies.push_back(static_cast<float>(us));
    } else {
      latencies[lat_next] = static_cast<float>(us);
      lat_next = (lat_next + 1) % kLatencyRing;
    }
  }
};

struct Executor::Impl {
  ExecutorConfig config;
  SimulatedBackend simulated{SimulatedDeviceModel{}};
  CudaBackend cuda;
  bool cuda_probed = false;
  bool cuda_ok = false;
  cuda::GpuInfo gpu;
  std::string cuda_error;
  std::array<DeviceHealth, kNumBackends> health;
  std::array<std::array<CostModel, kNumBackends>, kNumOps> models;
  std::array<uint64_t, kNumOps> eligible{};
  std::array<uint64_t, kNumOps> fault_counter{};
  std::array<std::array<Executor::OpStats, kNumBackends>, kNumOps> stats;
  std::function<int64_t()> clock;  // SetClockForTesting; null: NowUs()

  DeviceHealth& Health(BackendKind b) { return health[static_cast<int>(b)]; }
  CostModel& Model(Op op, BackendKind b) { return models[static_cast<int>(op)][static_cast<int>(b)]; }
  Executor::OpStats& Stat(Op op, BackendKind b) { return stats[static_cast<int>(op)][static_cast<int>(b)]; }

  void ApplyHealthConfig() {
    for (auto& h : health) h.set_config(config.health);
  }
};

Executor::Executor() : impl_(std::make_unique<Impl>()) {
  ExecutorConfig& c = impl_->config;
  c.threads = CpuBackend::MaxThreads();
  c.device = cuda::Compiled() ? DeviceChoice::kCuda : DeviceChoice::kNone;
  if (const char* m = std::getenv("VECGRAPH_MODE")) {
    if (IEquals(m, "cpu")) c.policy.mode = Mode::kCpu;
    else if (IEquals(m, "gpu")) c.policy.mode = Mode::kGpu;
  }
  impl_->ApplyHealthConfig();
  cuda::SetMemoryBudget(static_cast<size_t>(c.gpu_memory_mb) << 20);
  cpu_ = std::make_unique<CpuBackend>(c.threads);
}

Executor::~Executor() = default;

Executor& Executor::Global() {
  // Never destroyed: TBB arenas and device state must not be torn down by static destructors
  // while another thread (or the host's atexit handlers) may still use them.
  static Executor* global = new Executor();
  return *global;
}

const std::vector<std::string>& Executor::ConfigKeys() {
  static const std::vector<std::string> keys = {
      "mode",    "device",        "gpu_min_batch", "speedup_threshold", "success_rate_threshold", "window",
      "explore_every", "threads", "gpu_memory_mb", "simulated_device",  "fault_injection"};
  return keys;
}

ExecutorConfig Executor::config() const {
  std::lock_guard<std::mutex> lock(mu_);
  return impl_->config;
}

StatusOr<ConfigValue> Executor::GetConfig(std::string_view key) const {
  std::lock_guard<std::mutex> lock(mu_);
  const ExecutorConfig& c = impl_->config;
  if (key == "mode") return Text(ModeName(c.policy.mode));
  if (key == "device") return Text(DeviceChoiceName(c.device));
  if (key == "gpu_min_batch") return Int(static_cast<int64_t>(c.policy.gpu_min_batch));
  if (key == "speedup_threshold") return Real(c.policy.speedup_threshold);
  if (key == "success_rate_threshold") return Real(c.health.success_rate_threshold);
  if (key == "window") return Int(static_cast<int64_t>(c.health.window));
  if (key == "explore_every") return Int(static_cast<int64_t>(c.policy.explore_every));
  if (key == "threads") return Int(c.threads);
  if (key == "gpu_memory_mb") return Int(c.gpu_memory_mb);
  if (key == "simulated_device") {
    return Text("{\"launch_us\":" + FormatNumber(c.simulated.launch_us) + ",\"gbps\":" + FormatNumber(c.simulated.gbps) +
                "}");
  }
  if (key == "fault_injection") {
    if (!c.fault.enabled) return Text("");
    return Text(std::string("{\"op\":\"") + (c.fault.any_op ? "any" : OpName(c.fault.op)) + "\",\"error\":\"" +
                DeviceErrorName(c.fault.error) + "\",\"every\":" + std::to_string(c.fault.every) + "}");
  }
  std::string shown(key.substr(0, 80));
  return Status::InvalidArgument(StrFormat("unknown key '%s': expected one of mode, device, gpu_min_batch, "
                                           "speedup_threshold, success_rate_threshold, window, explore_every, "
                                           "threads, gpu_memory_mb, simulated_device, fault_injection",
                                           shown.c_str()));
}

StatusOr<ConfigValue> Executor::SetConfig(std::string_view key, std::string_view value) {
  // Validate first (no lock needed), then apply under the lock.
  auto known = GetConfig(key);
  if (!known.ok()) return known.status();
  {
    std::lock_guard<std::mutex> lock(mu_);
    ExecutorConfig& c = impl_->config;
    if (key == "mode") {
      if (IEquals(value, "auto")) c.policy.mode = Mode::kAuto;
      else if (IEquals(value, "cpu")) c.policy.mode = Mode::kCpu;
      else if (IEquals(value, "gpu")) c.policy.mode = Mode::kGpu;
      else return BadValue(key, value, "'auto', 'cpu' or 'gpu'");
    } else if (key == "device") {
      if (IEquals(value, "cuda")) {
        if (!cuda::Compiled()) {
          return Status::InvalidArgument(
              "invalid value 'cuda' for key 'device': this build of vecgraph has no CUDA support "
              "(use 'simulated' or 'none')");
        }
        c.device = DeviceChoice::kCuda;
      } else if (IEquals(value, "simulated")) {
        c.device = DeviceChoice::kSimulated;
      } else if (IEquals(value, "none")) {
        c.device = DeviceChoice::kNone;
      } else {
        return BadValue(key, value, "'cuda', 'simulated' or 'none'");
      }
    } else if (key == "gpu_min_batch") {
      auto v = ParseInt(key, value, 0, int64_t{1} << 50, " (work units)");
      if (!v.ok()) return v.status();
      c.policy.gpu_min_batch = static_cast<double>(*v);
    } else if (key == "speedup_threshold") {
      auto v = ParseReal(key, value, 0, 1e6, true, "a number > 0 and at most 1000000");
      if (!v.ok()) return v.status();
      c.policy.speedup_threshold = *v;
    } else if (key == "success_rate_threshold") {
      auto v = ParseReal(key, value, 0, 1, false, "a number between 0 and 1");
      if (!v.ok()) return v.status();
      c.health.success_rate_threshold = *v;
      impl_->ApplyHealthConfig();
    } else if (key == "window") {
      auto v = ParseInt(key, value, 1, 100000);
      if (!v.ok()) return v.status();
      c.health.window = static_cast<size_t>(*v);
      impl_->ApplyHealthConfig();
    } else if (key == "explore_every") {
      auto v = ParseInt(key, value, 0, int64_t{1} << 40, " (0 disables exploration)");
      if (!v.ok()) return v.status();
      c.policy.explore_every = static_cast<uint64_t>(*v);
    } else if (key == "threads") {
      auto v = ParseInt(key, value, 1, 256);
      if (!v.ok()) return v.status();
      // Capped at what oneTBB runs here (CpuBackend::MaxThreads); the value in effect is returned.
      cpu_->set_threads(static_cast<int>(*v));
      c.threads = cpu_->threads();
      for (auto& per_op : impl_->models) per_op[static_cast<int>(BackendKind::kCpu)].Reset();
    } else if (key == "gpu_memory_mb") {
      auto v = ParseInt(key, value, 0, int64_t{1} << 30, " (MiB)");
      if (!v.ok()) return v.status();
      c.gpu_memory_mb = *v;
      cuda::SetMemoryBudget(static_cast<size_t>(*v) << 20);
    } else if (key == "simulated_device") {
      auto parsed = json::Parse(value);
      if (!parsed.ok() || !parsed->IsObject()) {
        return BadValue(key, value, "a JSON object {\"launch_us\": N, \"gbps\": X}");
      }
      SimulatedDeviceModel m = c.simulated;
      for (const auto& [k, v] : parsed->object) {
        if (k == "launch_us" && v.IsNumber() && v.number >= 0 && v.number <= 1e7) m.launch_us = v.number;
        else if (k == "gbps" && v.IsNumber() && v.number > 0 && v.number <= 1e6) m.gbps = v.number;
        else if (k == "launch_us" || k == "gbps")
          return BadValue(key, value, k == "gbps" ? "\"gbps\" a number > 0" : "\"launch_us\" a number >= 0");
        else
          return Status::InvalidArgument(StrFormat("invalid value for key 'simulated_device': unknown field '%s' "
                                                   "(expected \"launch_us\" and \"gbps\")", k.c_str()));
      }
      c.simulated = m;
      impl_->simulated.set_model(m);
      // A new simulated device: fresh health and cost models.
      impl_->Health(BackendKind::kSimulated).Reset();
      for (auto& per_op : impl_->models) per_op[static_cast<int>(BackendKind::kSimulated)].Reset();
    } else if (key == "fault_injection") {
      FaultInjection f;
      if (!value.empty()) {
        auto parsed = json::Parse(value);
        if (!parsed.ok() || !parsed->IsObject()) {
          return BadValue(key, value, "'' or a JSON object {\"op\": ..., \"error\": ..., \"every\": N}");
        }
        f.enabled = true;
        bool have_op = false, have_error = false;
        for (const auto& [k, v] : parsed->object) {
          if (k == "op") {
            have_op = true;
            if (v.IsString() && v.string == "similarity") f.op = Op::kSimilarity;
            else if (v.IsString() && v.string == "knn") f.op = Op::kKnn;
            else if (v.IsString() && v.string == "spread") f.op = Op::kSpread;
            else if (v.IsString() && v.string == "any") f.any_op = true;
            else return BadValue(key, value, "\"op\" one of \"similarity\", \"knn\", \"spread\", \"any\"");
          } else if (k == "error") {
            have_error = true;
            if (v.IsString() && v.string == "oom") f.error = DeviceError::kOutOfMemory;
            else if (v.IsString() && v.string == "launch") f.error = DeviceError::kLaunch;
            else if (v.IsString() && v.string == "illegal_address") f.error = DeviceError::kIllegalAddress;
            else if (v.IsString() && v.string == "no_device") f.error = DeviceError::kNoDevice;
            else return BadValue(key, value, "\"error\" one of \"oom\", \"launch\", \"illegal_address\", \"no_device\"");
          } else if (k == "every") {
            if (!v.is_int || v.integer < 1) return BadValue(key, value, "\"every\" an integer >= 1");
            f.every = static_cast<uint64_t>(v.integer);
          } else {
            return Status::InvalidArgument(StrFormat("invalid value for key 'fault_injection': unknown field '%s' "
                                                     "(expected \"op\", \"error\", \"every\")", k.c_str()));
          }
        }
        if (!have_op || !have_error) return BadValue(key, value, "both \"op\" and \"error\"");
      }
      c.fault = f;
      impl_->fault_counter = {};
      // A cleared injection gives a simulated device that was latched by it a fresh start.
      if (!f.enabled) impl_->Health(BackendKind::kSimulated).Reset();
    }
  }
  return GetConfig(key);
}

// ---------------------------------------------------------------------------------------------
// Dispatch

// Probes the CUDA device once per process (no driver / no device → 'unavailable').
void Executor::ProbeCudaLocked() {
  if (impl_->cuda_probed) return;
  impl_->cuda_probed = true;
  DeviceFailure f;
  impl_->cuda_ok = cuda::Probe(&impl_->gpu, &f);
  if (!impl_->cuda_ok) {
    impl_->cuda_error = f.message;
    impl_->Health(BackendKind::kCuda).MarkUnavailable();
  }
}

Backend* Executor::DeviceBackendLocked(int64_t now_us) {
  switch (impl_->config.device) {
    case DeviceChoice::kNone: return nullptr;
    case DeviceChoice::kSimulated: return &impl_->simulated;
    case DeviceChoice::kCuda:
      ProbeCudaLocked();
      return impl_->cuda_ok ? &impl_->cuda : nullptr;
  }
  return nullptr;
}

void Executor::SetClockForTesting(std::function<int64_t()> now_us) {
  std::lock_guard<std::mutex> lock(mu_);
  impl_->clock = std::move(now_us);
}

int64_t Executor::NowLocked() const { return impl_->clock ? impl_->clock() : NowUs(); }

PolicyInput Executor::MakeInputLocked(Op op, double work, bool explain) {
  const ExecutorConfig& c = impl_->config;
  PolicyInput in;
  in.op = op;
  in.work = work;
  in.explain = explain;
  in.cpu = &impl_->Model(op, BackendKind::kCpu);
  in.eligible_seen = impl_->eligible[static_cast<int>(op)];
  if (c.device == DeviceChoice::kNone) return in;
  BackendKind kind = c.device == DeviceChoice::kCuda ? BackendKind::kCuda : BackendKind::kSimulated;
  in.device_configured = true;
  in.device = &impl_->Model(op, kind);
  DeviceHealth& h = impl_->Health(kind);
  if (c.policy.mode == Mode::kCpu) {
    in.device_state = h.state();
    return in;
  }
  // The CUDA probe is lazy: only a batch that could go to the device pays for it (explain probes
  // whatever the work, so that its answer is the same before and after that first batch).
  bool could_use = c.policy.mode == Mode::kGpu || work >= c.policy.gpu_min_batch;
  if (kind == BackendKind::kCuda && !impl_->cuda_probed && !could_use && !explain) {
    in.device_state = DeviceState::kOk;
    return in;
  }
  int64_t now = NowLocked();
  Backend* dev = DeviceBackendLocked(now);
  in.device_state = h.state();
  if (dev == nullptr) return in;
  if (explain) {
    in.device_call_allowed = h.WouldAllowCall(now, &in.probe);
    return in;
  }
  bool was_probing = h.probing();
  in.device_call_allowed = h.AllowCall(now);
  in.probe = in.device_call_allowed && h.probing() && !was_probing;
  return in;
}

void Executor::RecordLocked(Op op, BackendKind b, size_t items, double us, bool failed, bool fell_back,
                            const std::string& error) {
  OpStats& s = impl_->Stat(op, b);
  s.seen = true;
  if (failed) {
    ++s.failures;
    if (fell_back) ++s.fallbacks;
    s.last_error = error;
    return;
  }
  ++s.batches;
  s.items += items;
  s.total_us += us;
  s.AddLatency(us);
}

BatchPlan Executor::Plan(Op op, double work) {
  BatchPlan plan;
  plan.op = op;
  plan.work = work;
  std::lock_guard<std::mutex> lock(mu_);
  PolicyInput in = MakeInputLocked(op, work, /*explain=*/false);
  Decision d = Decide(in, impl_->config.policy);
  if (d.eligible) ++impl_->eligible[static_cast<int>(op)];
  plan.target = d.target;
  plan.cpu_fraction = d.cpu_fraction;
  plan.exploring = d.exploring;
  if (d.target != Target::kCpu) {
    plan.device = DeviceBackendLocked(0);
    if (plan.device == nullptr) plan.target = Target::kCpu;
  }
  const FaultInjection& f = impl_->config.fault;
  if (plan.device != nullptr && f.enabled && (f.any_op || f.op == op)) {
    uint64_t n = ++impl_->fault_counter[static_cast<int>(op)];
    if (n % f.every == 0) plan.injected = f.error;
  }
  return plan;
}

void Executor::RecordCpu(Op op, size_t items, double work, double us) {
  std::lock_guard<std::mutex> lock(mu_);
  impl_->Model(op, BackendKind::kCpu).Add(work, us);
  RecordLocked(op, BackendKind::kCpu, items, us, false, false, "");
}

void Executor::Run(Op op, double work, size_t items, const RangeFn& fn, RunReport* report) {
  if (items == 0) {
    if (report) *report = RunReport{};
    return;
  }
  Execute(Plan(op, work), items, fn, report);
}

void Executor::Execute(const BatchPlan& plan, size_t items, const RangeFn& fn, RunReport* report) {
  RunReport local;
  RunReport& rep = report ? *report : local;
  rep = RunReport{};
  if (items == 0) return;
  const Op op = plan.op;
  const double work = plan.work;
  Backend* dev = plan.device;
  const DeviceError injected = plan.injected;
  Decision d;
  d.target = plan.target;
  d.cpu_fraction = plan.cpu_fraction;
  d.exploring = plan.exploring;

  auto run_cpu = [&](size_t begin, size_t end, double part_work) {
    const auto t0 = std::chrono::steady_clock::now();
    DeviceFailure r = fn(*cpu_, begin, end);  // the CPU never fails; it may report modelled time
    double us = r.modeled_us >= 0 ? r.modeled_us : ElapsedUs(t0);
    std::lock_guard<std::mutex> lock(mu_);
    impl_->Model(op, BackendKind::kCpu).Add(part_work, us);
    RecordLocked(op, BackendKind::kCpu, end - begin, us, false, false, "");
  };

  // Runs [begin, end) on the device; on failure re-runs it on the CPU. Returns the failure.
  auto run_device = [&](size_t begin, size_t end, double part_work) -> DeviceFailure {
    const auto t0 = std::chrono::steady_clock::now();
    DeviceFailure f;
    if (injected != DeviceError::kNone) {
      f.error = injected;
      f.message = std::string("injected fault: ") + DeviceErrorName(injected);
    } else {
      f = fn(*dev, begin, end);
    }
    double us = f.modeled_us >= 0 ? f.modeled_us : ElapsedUs(t0);
    BackendKind kind = dev->kind();
    {
      std::lock_guard<std::mutex> lock(mu_);
      DeviceHealth& h = impl_->Health(kind);
      if (f.ok()) {
        h.RecordSuccess(NowLocked());
        impl_->Model(op, kind).Add(part_work, us);
        RecordLocked(op, kind, end - begin, us, false, false, "");
      } else {
        if (f.error == DeviceError::kNoDevice) h.MarkUnavailable();
        else h.RecordFailure(NowLocked(), f.error == DeviceError::kIllegalAddress);
        RecordLocked(op, kind, end - begin, us, true, true,
                     std::string(DeviceErrorName(f.error)) + ": " + f.message);
      }
    }
    if (!f.ok()) {
      if (f.error == DeviceError::kOutOfMemory) dev->Evict();
      run_cpu(begin, end, part_work);
    }
    return f;
  };

  rep.target = d.target;
  rep.exploring = d.exploring;
  rep.cpu_fraction = d.target == Target::kCpu ? 1.0 : d.target == Target::kDevice ? 0.0 : d.cpu_fraction;
  if (dev != nullptr) rep.backend = dev->kind();
  switch (d.target) {
    case Target::kCpu:
      run_cpu(0, items, work);
      break;
    case Target::kDevice: {
      DeviceFailure f = run_device(0, items, work);
      rep.fell_back = !f.ok();
      rep.error = f.error;
      break;
    }
    case Target::kSplit: {
      size_t n_cpu = static_cast<size_t>(std::llround(d.cpu_fraction * static_cast<double>(items)));
      n_cpu = std::min(std::max<size_t>(n_cpu, 1), items - 1);
      double cpu_work = work * static_cast<double>(n_cpu) / static_cast<double>(items);
      DeviceFailure f;
      std::thread device_thread([&] { f = run_device(n_cpu, items, work - cpu_work); });
      run_cpu(0, n_cpu, cpu_work);
      device_thread.join();
      rep.fell_back = !f.ok();
      rep.error = f.error;
      break;
    }
  }
}

void Executor::Distances(const DistanceTask& t, RunReport* report) {
  Run(Op::kSimilarity, t.WorkUnits(), t.n_rows,
      [&t](Backend& b, size_t begin, size_t end) { return b.Distances(t, begin, end); }, report);
}

// ---------------------------------------------------------------------------------------------
// Introspection

std::vector<StatRow> Executor::Stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<StatRow> rows;
  for (int o = 0; o < kNumOps; ++o) {
    for (int b = 0; b < kNumBackends; ++b) {
      const auto& s = impl_->stats[o][b];
      if (!s.seen) continue;
      StatRow r;
      r.op = static_cast<Op>(o);
      r.backend = static_cast<BackendKind>(b);
      r.batches = s.batches;
      r.items = s.items;
      r.failures = s.failures;
      r.fallbacks = s.fallbacks;
      r.mean_us = s.batches ? s.total_us / static_cast<double>(s.batches) : 0;
      r.us_per_item = s.items ? s.total_us / static_cast<double>(s.items) : 0;
      r.p95_us = 0;
      if (!s.latencies.empty()) {
        std::vector<float> l = s.latencies;
        size_t idx = std::min(l.size() - 1, static_cast<size_t>(std::ceil(0.95 * static_cast<double>(l.size()))) - 1);
        std::nth_element(l.begin(), l.begin() + static_cast<long>(idx), l.end());
        r.p95_us = l[idx];
      }
      r.state = r.backend == BackendKind::kCpu ? DeviceState::kOk : impl_->health[b].state();
      r.last_error = s.last_error;
      rows.push_back(std::move(r));
    }
  }
  return rows;
}

void Executor::ResetStats() {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& per_op : impl_->stats)
    for (auto& s : per_op) s = OpStats{};
}

std::string Executor::Explain(Op op, double items, std::optional<double> dims) {
  std::lock_guard<std::mutex> lock(mu_);
  const ExecutorConfig& c = impl_->config;
  std::vector<std::string> notes;  // said before the policy's reasons
  double work = items;
  if (op == Op::kSimilarity) {
    if (!dims) notes.push_back("dims not given: assumed 1 (work = items x 1 x 4 bytes)");
    work = items * dims.value_or(1.0) * sizeof(float);
  } else if (dims) {
    notes.push_back(StrFormat("dims applies to op 'similarity' only: ignored for op '%s' (work = items)", OpName(op)));
  }
  PolicyInput in = MakeInputLocked(op, work, /*explain=*/true);
  BackendKind kind = c.device == DeviceChoice::kCuda ? BackendKind::kCuda : BackendKind::kSimulated;
  Decision d = Decide(in, c.policy);
  std::string out = "{\"op\":\"";
  out += OpName(op);
  out += "\",\"items\":";
  AppendJsonNumber(&out, items);
  if (op == Op::kSimilarity) {
    out += ",\"dims\":";
    AppendJsonNumber(&out, dims.value_or(1.0));
  }
  out += ",\"work_units\":";
  AppendJsonNumber(&out, work);
  out += ",\"backend\":\"";
  out += d.target == Target::kCpu ? "cpu" : d.target == Target::kSplit ? "split" : BackendName(kind);
  out += "\"";
  if (d.target == Target::kSplit) {
    out += ",\"cpu_fraction\":";
    AppendJsonNumber(&out, d.cpu_fraction);
  }
  out += ",\"predicted_us\":{";
  bool first = true;
  if (d.predicted_cpu_us >= 0) {
    out += "\"cpu\":";
    AppendJsonNumber(&out, d.predicted_cpu_us);
    first = false;
  }
  if (d.predicted_device_us >= 0) {
    if (!first) out += ",";
    out += "\"";
    out += BackendName(kind);
    out += "\":";
    AppendJsonNumber(&out, d.predicted_device_us);
  }
  out += "},\"reasons\":[";
  first = true;
  for (const auto* list : {&notes, &d.reasons}) {
    for (const std::string& r : *list) {
      if (!first) out += ",";
      json::AppendString(&out, r);
      first = false;
    }
  }
  out += "]}";
  return out;
}

std::string Executor::InfoJson() const {
  std::lock_guard<std::mutex> lock(mu_);
  const ExecutorConfig& c = impl_->config;
  std::string out = "{\"mode\":\"";
  out += ModeName(c.policy.mode);
  out += "\",\"device\":\"";
  out += DeviceChoiceName(c.device);
  out += "\",\"devices\":{\"cuda\":{\"compiled\":";
  out += cuda::Compiled() ? "true" : "false";
  out += ",\"probed\":";
  out += impl_->cuda_probed ? "true" : "false";
  out += ",\"state\":\"";
  out += impl_->cuda_probed ? DeviceStateName(impl_->Health(BackendKind::kCuda).state())
                            : (cuda::Compiled() ? "ok" : "unavailable");
  out += "\"";
  if (!impl_->cuda_error.empty()) {
    out += ",\"error\":";
    json::AppendString(&out, impl_->cuda_error);
  }
  out += "},\"simulated\":{\"state\":\"";
  out += DeviceStateName(impl_->Health(BackendKind::kSimulated).state());
  out += "\",\"launch_us\":";
  AppendJsonNumber(&out, c.simulated.launch_us);
  out += ",\"gbps\":";
  AppendJsonNumber(&out, c.simulated.gbps);
  out += "}}}";
  return out;
}

std::string Executor::GpuJson() {
  std::lock_guard<std::mutex> lock(mu_);
  ProbeCudaLocked();
  if (!impl_->cuda_ok) return "null";
  const cuda::GpuInfo& g = impl_->gpu;
  std::string out = "{\"name\":";
  json::AppendString(&out, g.name);
  out += ",\"memory_mb\":" + std::to_string(g.total_memory >> 20);
  out += ",\"compute_capability\":\"" + std::to_string(g.cc_major) + "." + std::to_string(g.cc_minor) + "\"";
  out += ",\"devices\":" + std::to_string(g.device_count) + "}";
  return out;
}

}  // namespace vecgraph::exec
