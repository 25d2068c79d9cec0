#!/usr/bin/env bash
# Runs every fuzz target in turn, each for the given duration (default 5m), and prints a table
# of target, package, duration, executions and outcome. Opt-in: CI only runs the committed seed
# corpora (testdata/fuzz), which `go test ./...` does on its own.
#
#   scripts/fuzz.sh [duration] [target-regexp]
#
# FUZZ_MINIMIZE is passed as -fuzzminimizetime (default 500x): Go's default, 60s, is spent on
# every new interesting input, and stops the count of executions meanwhile, so that a run of a
# few minutes spends most of it minimizing. A crasher is left as found; minimize it with
# `go test -run '^$' -fuzz '^Target$' -fuzzminimizetime 60s` once it is in testdata.
#
# FUZZ_LOCK=/path/to/lock makes each run wait for, and hold, that flock(1) lock, so that runs on
# a shared machine take turns with other CPU-heavy work. FUZZ_LOGS names the directory for each
# run's full output (default: a new temporary directory). A crash leaves its input under the
# package's testdata/fuzz/<Target>/; commit it as a regression seed once fixed.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

duration=${1:-5m}
only=${2:-.}
minimize=${FUZZ_MINIMIZE:-500x}
logs=${FUZZ_LOGS:-$(mktemp -d -t tally-fuzz.XXXXXX)}
mkdir -p "$logs"

# package target: every fuzz target of the module.
targets=(
  "./internal/ids FuzzValidate"
  "./service FuzzValidateRequest"
  "./service FuzzCounterName"
  "./service FuzzUnmarshalUpdateRequest"
  "./emulator/value FuzzCompare"
  "./emulator/value FuzzCompareNumbers"
  "./emulator/value FuzzParseFieldPath"
  "./emulator/resource FuzzParseName"
  "./emulator/resource FuzzFormatName"
  "./emulator/query FuzzCompileQuery"
  "./emulator/query FuzzRunQuery"
  "./emulator/index FuzzCheck"
  "./emulator/storage FuzzKeyOrder"
  "./emulator/storage FuzzVersionEncoding"
  "./emulator/storage FuzzDecodePath"
)

lock=()
if [[ -n ${FUZZ_LOCK:-} ]]; then
  lock=(flock "$FUZZ_LOCK")
fi

failed=0
rows=()
for entry in "${targets[@]}"; do
  read -r pkg target <<<"$entry"
  [[ $target =~ $only ]] || continue
  log="$logs/$target.log"
  echo "== $pkg $target ($duration)" >&2
  "${lock[@]}" go test -run '^$' -fuzz "^${target}\$" -fuzztime "$duration" -fuzzminimizetime "$minimize" -parallel 1 "$pkg" >"$log" 2>&1
  rc=$?
  execs=$(grep -o 'execs: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
  outcome=ok
  if [[ $rc -ne 0 ]]; then
    outcome="FAIL (see $log)"
    failed=1
    grep -A20 -- '--- FAIL' "$log" | head -40 >&2
  fi
  rows+=("$(printf '%-28s %-20s %-8s %12s  %s' "$target" "$pkg" "$duration" "${execs:-?}" "$outcome")")
done

printf '%-28s %-20s %-8s %12s  %s\n' target package time execs outcome
printf '%s\n' "${rows[@]}"
echo "logs: $logs" >&2
exit $failed
