#!/usr/bin/env bash
# kill-soak: the long form of the kill test (cmd/tallyd, TestSIGKILLedReplicasCountEveryKeyOnce).
# Opt-in, not part of CI: the emulator and 3 tallyd replicas as processes, keyed increments of two
# counters retried until acknowledged, resizes and resets meanwhile, and [kills] SIGKILLs of
# replicas and the emulator (default 120). Exits non-zero if any run fails.
#
#   scripts/kill-soak.sh [kills]
#
# Environment:
#   RUNS=n                  separate runs, each with its own seed (default 1)
#   TALLYD_KILL_BUDGET=8m   wall time for the load and kills of one run (default: 3s per kill)
#   TALLYD_TEST_SEED=n      repeat one run's random choices
#   KILL_SOAK_TIMEOUT=12m   go test's -timeout for one run, which bounds it (default 60m)
#   CPU_HEAVY_LOCK=file     hold flock(1) on file during each run, on machines shared by convention
#   KILL_SOAK_LOGS=dir      where the full logs go (default: a new directory under /tmp)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

kills=${1:-120}
runs=${RUNS:-1}
if ! [[ $kills =~ ^[1-9][0-9]*$ && $runs =~ ^[1-9][0-9]*$ ]]; then
  echo "usage: [RUNS=n] $0 [kills]" >&2
  exit 2
fi
logs=${KILL_SOAK_LOGS:-$(mktemp -d /tmp/kill-soak.XXXXXX)}
mkdir -p "$logs"

echo "kill-soak: $runs run(s) of $kills kills on $(nproc) cores, $(go version | cut -d' ' -f3), commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet 2>/dev/null || echo ' (+ changes)')"
echo "kill-soak: logs in $logs"

failed=0
totals=()
for run in $(seq 1 "$runs"); do
  log="$logs/run-$run.log"
  cmd=(env TALLYD_KILLS="$kills" go test ./cmd/tallyd -run '^TestSIGKILLedReplicasCountEveryKeyOnce$' -count=1 -v -timeout "${KILL_SOAK_TIMEOUT:-60m}")
  if [[ -n ${CPU_HEAVY_LOCK:-} ]]; then
    cmd=(flock "$CPU_HEAVY_LOCK" "${cmd[@]}")
  fi
  status=0
  # The time is the test's own (go test prints it), not the wait for the lock.
  "${cmd[@]}" >"$log" 2>&1 || status=$?
  took=$(grep -oE '^--- (PASS|FAIL): TestSIGKILLed[A-Za-z]* \([0-9.]+s\)' "$log" | grep -oE '[0-9.]+s' || echo '?')
  seed=$(grep -o 'TALLYD_TEST_SEED=[0-9]*' "$log" | head -1 || true)
  summary=$(grep -o 'summary: .*' "$log" | head -1 || true)
  if [[ $status -eq 0 ]]; then
    verdict=PASS
  else
    verdict=FAIL
    failed=$((failed + 1))
  fi
  echo "run $run: $verdict in $took, $seed, ended $(date -u +%Y-%m-%dT%H:%MZ)"
  echo "  ${summary:-no summary line (the test did not get that far)}"
  grep -oE '[0-9]+ failed attempts, retried: .*' "$log" | head -1 | sed 's/^/  /' || true
  if [[ $verdict == FAIL ]]; then
    echo "  failures (full log: $log):"
    grep -E '^\s+kill_test.go:[0-9]+: ' "$log" | grep -vE 'seed |summary: |kills \(|keys acknowledged|resizes, |failed attempts, retried' | head -20 | sed 's/^ */    /' || true
    grep -E '^(--- FAIL|panic:|FAIL)' "$log" | head -5 | sed 's/^/    /' || true
  fi
  [[ -n $summary ]] && totals+=("$summary")
done

# Totals over the runs: every key=value of the summary lines that is a number, added up.
if [[ ${#totals[@]} -gt 0 ]]; then
  printf '%s\n' "${totals[@]}" | awk '
    { for (i = 2; i <= NF; i++) { split($i, kv, "="); v = kv[2]; sub(/s$/, "", v); if (v ~ /^[0-9]+$/) { if (!(kv[1] in sum)) order[++n] = kv[1]; sum[kv[1]] += v } } }
    END { line = "total:"; for (i = 1; i <= n; i++) line = line " " order[i] "=" sum[order[i]] (order[i] == "load" ? "s" : ""); print line }'
fi
echo "kill-soak: $((runs - failed)) of $runs run(s) passed"
[[ $failed -eq 0 ]]
