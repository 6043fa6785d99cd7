#!/usr/bin/env bash
# Proves the regression gate works (issue: "A regression gate that a noisy CI can trust").
#
#  1. The unchanged build passes tiers 1 and 3 against ci/baseline.json, RUNS times in a row
#     (no false alarm).
#  2. A canary build (cargo feature `evloop-canary`: fixed extra work in every evloop task
#     poll) fails tier 1 RUNS times in a row, naming every evloop workload (detection). Other
#     runtimes' items flagged alongside are reported ("also moved"), counted, not hidden.
#     (They used to move: tokio-ct by +4% in two workloads. The cause was the heap, not the
#     compiler: the canary binary allocated differently before the workload started, which
#     moved the alignment tokio's task cells got. Micro executions now run on a fresh thread
#     with a fresh malloc arena; see benches::micro::run_once.)
#  3. Tier 2 (relative timing) is run once on each build: the canary must be flagged.
#
# Usage: ci/canary.sh [RUNS]   (default 5). Prints a tally at the end; exits non-zero if any
# expectation failed. Takes a few minutes (two release builds, then the gate runs).
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}
baseline=ci/baseline.json

echo "== building the unchanged and the canary release binaries"
cargo build --release
CARGO_TARGET_DIR=target/canary cargo build --release --features loopbench/evloop-canary
plain=target/release/loopbench
canary=target/canary/release/loopbench

false_alarms=0
detections=0
bad=0

for i in $(seq 1 "$runs"); do
  if "$plain" gate --baseline "$baseline" --tiers 1,3 >"target/canary-plain-$i.log" 2>&1; then
    echo "unchanged build, run $i: pass"
  else
    echo "unchanged build, run $i: FALSE ALARM (see target/canary-plain-$i.log)"
    false_alarms=$((false_alarms + 1))
  fi
done

collateral=0
for i in $(seq 1 "$runs"); do
  log="target/canary-canary-$i.log"
  if "$canary" gate --baseline "$baseline" --tiers 1 >"$log" 2>&1; then
    echo "canary build, run $i: MISSED (gate passed)"
    bad=$((bad + 1))
    continue
  fi
  flagged=$(grep -c '^tier 1 evloop/.*REGRESSED' "$log" || true)
  counted=$(grep -c '^tier 1 evloop/' "$log" || true)
  others=$(grep 'REGRESSED' "$log" | grep -v '^tier 1 evloop/' | awk '{print $3, $9}' | paste -sd ';' - || true)
  if [ "$flagged" -gt 0 ] && [ "$flagged" -eq "$counted" ]; then
    echo "canary build, run $i: detected: all $flagged evloop workloads regressed${others:+; also moved: $others}"
    detections=$((detections + 1))
    [ -n "$others" ] && collateral=$((collateral + 1))
  else
    echo "canary build, run $i: gate failed, but only $flagged of $counted evloop workloads flagged (see $log)"
    bad=$((bad + 1))
  fi
done

echo "== tier 2 (relative timing), one run of each build"
tier2_plain=pass
"$plain" gate --baseline "$baseline" --tiers 2 >target/canary-tier2-plain.log 2>&1 || tier2_plain=fail
tier2_canary=missed
if ! "$canary" gate --baseline "$baseline" --tiers 2 >target/canary-tier2-canary.log 2>&1; then
  tier2_canary=detected
fi
grep -E '^tier 2 evloop' target/canary-tier2-canary.log || true

echo
echo "tier 1+3 unchanged build: $((runs - false_alarms)) of $runs passed ($false_alarms false alarms)"
echo "tier 1 canary build:      $detections of $runs detected ($collateral runs also flagged another runtime's workload)"
echo "tier 2 unchanged build:   $tier2_plain; canary build: $tier2_canary"
if [ "$false_alarms" -ne 0 ] || [ "$detections" -ne "$runs" ] || [ "$bad" -ne 0 ]; then
  exit 1
fi
