// tests/fuzz/fuzz_executor_config.cpp — the executor's configuration (vecgraph_config from SQL):
// exec::Executor::SetConfig / GetConfig (engine/executor/executor.h), above all the JSON values of
// 'simulated_device' and 'fault_injection'.
//
// Input: lines "<k><value>", where the first byte k picks the key — 's' simulated_device,
// 'f' fault_injection, 'm' mode, 'd' device, 'g' gpu_min_batch, 'x' speedup_threshold,
// 'r' success_rate_threshold, 'w' window, 'e' explore_every, 't' threads, 'b' gpu_memory_mb,
// '?' an unknown key, any other byte a key by its value — and the rest of the line is the value
// text. Each line is one SetConfig on a local Executor (never Global(): inputs must not share
// state; constructing one is cheap — its TBB arena is created lazily). Checked:
//   - success ⇒ the returned value equals GetConfig(key), and setting GetConfig's value back as
//     text (integers in decimal, reals with 17 digits, text as is) succeeds and changes nothing:
//     every value GetConfig shows is one SetConfig accepts;
//   - failure ⇒ a message naming the key, and no key's value changed (values are validated
//     before anything is applied).
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include "engine/executor/executor.h"
#include "tests/fuzz/fuzz_check.h"

namespace {

namespace exec = vecgraph::exec;

std::string AsText(const exec::ConfigValue& v) {
  switch (v.type) {
    case exec::ConfigValue::Type::kInt: return std::to_string(v.i);
    case exec::ConfigValue::Type::kReal: {
      char buf[64];
      std::snprintf(buf, sizeof buf, "%.17g", v.d);
      return buf;
    }
    case exec::ConfigValue::Type::kText: return v.s;
  }
  return "";
}

bool Same(const exec::ConfigValue& a, const exec::ConfigValue& b) {
  return a.type == b.type && a.i == b.i && a.d == b.d && a.s == b.s;
}

std::string PickKey(uint8_t k) {
  const auto& keys = exec::Executor::ConfigKeys();
  switch (k) {
    case 's': return "simulated_device";
    case 'f': return "fault_injection";
    case 'm': return "mode";
    case 'd': return "device";
    case 'g': return "gpu_min_batch";
    case 'x': return "speedup_threshold";
    case 'r': return "success_rate_threshold";
    case 'w': return "window";
    case 'e': return "explore_every";
    case 't': return "threads";
    case 'b': return "gpu_memory_mb";
    case '?': return "no_such_key";
    default: return keys[k % keys.size()];
  }
}

std::vector<exec::ConfigValue> Snapshot(const exec::Executor& ex) {
  std::vector<exec::ConfigValue> out;
  for (const std::string& key : exec::Executor::ConfigKeys()) {
    auto v = ex.GetConfig(key);
    FUZZ_CHECK(v.ok(), "GetConfig('%s') of a listed key fails: %s", key.c_str(), v.status().message().c_str());
    out.push_back(*v);
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 4096) return 0;
  exec::Executor ex;
  std::string_view in(reinterpret_cast<const char*>(data), size);
  int lines = 0;
  while (!in.empty() && lines++ < 16) {
    size_t nl = in.find('\n');
    std::string_view line = in.substr(0, nl);
    in = nl == std::string_view::npos ? std::string_view() : in.substr(nl + 1);
    if (line.empty()) continue;
    const std::string key = PickKey(static_cast<uint8_t>(line[0]));
    const std::string value(line.substr(1));
    if (key == "threads" || key == "window") {
      // Keep the arena small (each 'threads' change makes a new one); values are still checked.
      if (value.size() > 3) continue;
    }

    std::vector<exec::ConfigValue> before = Snapshot(ex);
    auto set = ex.SetConfig(key, value);
    if (!set.ok()) {
      FUZZ_CHECK(!set.status().message().empty(), "SetConfig('%s') failed without a message", key.c_str());
      std::vector<exec::ConfigValue> after = Snapshot(ex);
      for (size_t i = 0; i < before.size(); ++i) {
        FUZZ_CHECK(Same(before[i], after[i]), "a failed SetConfig('%s', '%.200s') changed key '%s'", key.c_str(),
                   value.c_str(), exec::Executor::ConfigKeys()[i].c_str());
      }
      continue;
    }
    auto got = ex.GetConfig(key);
    FUZZ_CHECK(got.ok(), "GetConfig('%s') fails after a successful SetConfig", key.c_str());
    FUZZ_CHECK(Same(*set, *got), "SetConfig('%s') returned '%s' but GetConfig shows '%s'", key.c_str(),
               AsText(*set).c_str(), AsText(*got).c_str());
    const std::string text = AsText(*got);
    auto again = ex.SetConfig(key, text);
    FUZZ_CHECK(again.ok(), "SetConfig('%s', GetConfig's '%s') fails: %s", key.c_str(), text.c_str(),
               again.status().message().c_str());
    FUZZ_CHECK(Same(*again, *got), "SetConfig('%s', '%s') round trip gives '%s'", key.c_str(), text.c_str(),
               AsText(*again).c_str());
  }
  return 0;
}
