#!/usr/bin/env bash
# Runs the official Go client's integration suite (TestIntegration_DefaultDB of
# cloud.google.com/go/firestore, at the version go.mod requires) against a freshly built
# firestore-emulator, in memory and on disk, and prints each subtest's result and the totals.
#
# Needs only Go and the module proxy: the module is copied out of the (read-only) module cache
# and its test built there. The suite insists on a service-account key file; a throwaway one is
# generated (keygen), which the client never uses against an emulator. The emulator checks
# indexes against firestore.indexes.json beside this script: the composite indexes the suite's
# queries on its indexed_collection groups need, which Google's test project has.
#
# Environment:
#   CONFORMANCE_MODES     storage modes to run, default "memory disk"
#   CONFORMANCE_MIN_PASS  fail (exit 1) when a mode passes fewer subtests than this
#   CONFORMANCE_RUN       a regular expression of the subtests to run, default all
#   CONFORMANCE_KEEP=1    keep the work directory (logs of the emulator and the suite)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cd "$root"

modes=${CONFORMANCE_MODES:-"memory disk"}
min_pass=${CONFORMANCE_MIN_PASS:-0}
subtests=${CONFORMANCE_RUN:-.}
version=$(go list -m -f '{{.Version}}' cloud.google.com/go/firestore)
work=$(mktemp -d "${TMPDIR:-/tmp}/firestore-conformance.XXXXXX")
emulator_pid=""
cleanup() {
  if [[ -n $emulator_pid ]]; then
    kill "$emulator_pid" 2>/dev/null || true
    wait "$emulator_pid" 2>/dev/null || true
  fi
  if [[ ${CONFORMANCE_KEEP:-} == 1 ]]; then
    echo "work directory kept: $work"
  else
    chmod -R u+w "$work" 2>/dev/null || true
    rm -rf "$work"
  fi
}
trap cleanup EXIT

start=$SECONDS
echo "== building the emulator and cloud.google.com/go/firestore@$version's integration suite"
go build -o "$work/firestore-emulator" ./cmd/firestore-emulator
go run ./emulator/conformance/keygen >"$work/key.json"
src=$(go mod download -json "cloud.google.com/go/firestore@$version" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
if [[ -z $src || ! -d $src ]]; then
  echo "cannot find cloud.google.com/go/firestore@$version in the module cache" >&2
  exit 1
fi
cp -R "$src" "$work/firestore"
chmod -R u+w "$work/firestore"
(cd "$work/firestore" && GOWORK=off GOFLAGS=-mod=mod go test -c -o "$work/firestore.test" .)
echo "   built in $((SECONDS - start))s"

# run_mode MODE: starts the emulator, runs the suite against it, prints the results; sets
# passed_MODE and total_MODE.
run_mode() {
  local mode=$1 storage
  case $mode in
    memory) storage=(--in-memory) ;;
    disk) storage=(--data-dir "$work/data-$mode") ;;
    *) echo "unknown mode $mode (want memory or disk)" >&2; exit 2 ;;
  esac
  local out="$work/emulator-$mode.out"
  mkfifo "$out.fifo"
  "$work/firestore-emulator" --host 127.0.0.1 --port 0 "${storage[@]}" \
    --indexes "$here/firestore.indexes.json" --log-level warn >"$out.fifo" 2>"$work/emulator-$mode.log" &
  emulator_pid=$!
  local line addr
  exec {fd}<"$out.fifo"
  # The first line names the address; reading it waits exactly until the emulator listens.
  if ! read -r -u "$fd" line; then
    echo "the emulator did not start:" >&2
    cat "$work/emulator-$mode.log" >&2
    exit 1
  fi
  cat <&"$fd" >"$out" &
  exec {fd}<&-
  addr=${line#Firestore emulator listening on }
  addr=${addr%%,*}

  local t0=$SECONDS log="$work/suite-$mode.log"
  echo "== $mode: the suite against $addr"
  (cd "$work/firestore" &&
    FIRESTORE_EMULATOR_HOST=$addr \
    GCLOUD_TESTS_GOLANG_FIRESTORE_PROJECT_ID="conformance-$mode" \
    GCLOUD_TESTS_GOLANG_FIRESTORE_KEY="$work/key.json" \
    "$work/firestore.test" -test.run "^TestIntegration_DefaultDB\$/$subtests" -test.v -test.timeout 15m >"$log" 2>&1) || true
  kill "$emulator_pid" 2>/dev/null || true
  wait "$emulator_pid" 2>/dev/null || true
  emulator_pid=""

  # Direct subtests are indented by four spaces: "    --- PASS: TestIntegration_DefaultDB/X (0.1s)".
  local results
  results=$(sed -n 's/^    --- \(PASS\|FAIL\|SKIP\): TestIntegration_DefaultDB\/\([^ ]*\) .*/\1 \2/p' "$log")
  if [[ -z $results ]]; then
    echo "the suite reported no subtests; its output ends:" >&2
    tail -20 "$log" >&2
  fi
  local passed failed skipped total
  passed=$(grep -c '^PASS ' <<<"$results" || true)
  failed=$(grep -c '^FAIL ' <<<"$results" || true)
  skipped=$(grep -c '^SKIP ' <<<"$results" || true)
  total=$((passed + failed + skipped))
  awk '{ printf "   %-4s %s\n", $1, $2 }' <<<"$results" | sort -k2
  echo "   $mode: $passed passed, $failed failed, $skipped skipped of $total subtests in $((SECONDS - t0))s"
  printf -v "passed_$mode" '%s' "$passed"
  printf -v "total_$mode" '%s' "$total"
}

status=0
for mode in $modes; do
  run_mode "$mode"
done
echo "== totals"
for mode in $modes; do
  p="passed_$mode" n="total_$mode"
  echo "   $mode: ${!p} of ${!n} passed"
  if ((${!p} < min_pass)); then
    echo "   $mode: fewer than CONFORMANCE_MIN_PASS=$min_pass" >&2
    status=1
  fi
done
echo "   whole run: $((SECONDS - start))s"
exit $status
