#!/usr/bin/env bash
# tests/fuzz/run_fuzzers.sh BUILD_DIR SECONDS [TARGET...] — what `make fuzz` runs.
#
# Runs each libFuzzer target (all of tests/fuzz/corpus/*/ by default) for SECONDS on a copy of
# its seed corpus under BUILD_DIR/fuzz-run/<target>/ (the repository is never written; inputs
# found in earlier runs in the same build dir are kept and rerun). One process per target, one
# at a time. A finding (crash, sanitizer report, broken invariant, timeout of a single input,
# out-of-memory) stops that target and leaves the input in BUILD_DIR/fuzz-run/<target>/artifacts/;
# the script still runs the other targets, then lists every finding with the command that
# reproduces it and exits 1.
set -uo pipefail

build="${1:?usage: $0 BUILD_DIR SECONDS [TARGET...]}"
seconds="${2:?usage: $0 BUILD_DIR SECONDS [TARGET...]}"
shift 2
here="$(cd "$(dirname "$0")" && pwd)"
build="$(cd "$build" && pwd)"

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  for d in "$here"/corpus/*/; do targets+=("$(basename "$d")"); done
fi

# A single input may take this long before it counts as a hang: generous, so that a slow or busy
# machine never turns into a finding (inputs normally take milliseconds).
per_input_timeout=60
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:symbolize=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"

failed=()
for t in "${targets[@]}"; do
  bin="$build/tests/fuzz/$t"
  if [ ! -x "$bin" ]; then
    echo "run_fuzzers: $bin is not built" >&2
    failed+=("$t (not built)")
    continue
  fi
  work="$build/fuzz-run/$t"
  mkdir -p "$work/corpus" "$work/artifacts"
  cp -n "$here/corpus/$t/"* "$work/corpus/" 2>/dev/null || true
  dict=()
  [ -f "$here/$t.dict" ] && dict=(-dict="$here/$t.dict")
  before="$(ls "$work/artifacts" | wc -l)"
  echo "== $t: ${seconds}s on $(ls "$work/corpus" | wc -l) inputs"
  start=$(date +%s)
  "$bin" -max_total_time="$seconds" -timeout="$per_input_timeout" -rss_limit_mb=2048 -max_len=4096 \
    -print_final_stats=1 -artifact_prefix="$work/artifacts/" "${dict[@]}" "$work/corpus" \
    > "$work/log.txt" 2>&1
  rc=$?
  end=$(date +%s)
  grep -E '^(stat::number_of_executed_units|stat::new_units_added|Done )' "$work/log.txt" | tr '\n' ' '
  echo "(exit $rc, $((end - start))s)"
  if [ $rc -ne 0 ] || [ "$(ls "$work/artifacts" | wc -l)" != "$before" ]; then
    echo "---- $t: finding; last lines of $work/log.txt:"
    tail -n 60 "$work/log.txt"
    for a in $(ls -t "$work/artifacts"); do
      failed+=("$t: $work/artifacts/$a   reproduce: $bin $work/artifacts/$a")
      break
    done
    [ "$(ls "$work/artifacts" | wc -l)" = "$before" ] && failed+=("$t: exit $rc (log: $work/log.txt)")
  fi
done

if [ ${#failed[@]} -gt 0 ]; then
  echo "run_fuzzers: ${#failed[@]} finding(s):"
  printf '  %s\n' "${failed[@]}"
  exit 1
fi
echo "run_fuzzers: no findings (${#targets[@]} targets, ${seconds}s each)"
