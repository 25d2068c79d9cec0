#!/usr/bin/env bash
# Regenerates mock_counters_test.go, the gomock implementation of the Counters
# interface (counters.go) that the service's tests use, byte for byte the same
# on any machine.
#
# mockgen is pinned in the tools module (tools/go.mod and tools/go.sum), like
# the proto generators, at the version of go.uber.org/mock that the main module
# requires: the generated mock calls that module's gomock package, so the two
# must not drift apart (checked below). The binary is built into tools/bin
# (git-ignored) and rebuilt only when tools/go.mod or tools/go.sum change. Its
# stamp is its own, so that this script never marks the other tools as built.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
tools=$root/tools
bin=$tools/bin
export GOWORK=off

module_version() { # dir module
  (cd "$1" && go list -m -f '{{.Version}}' "$2")
}

runtime_version=$(module_version "$root" go.uber.org/mock)
tool_version=$(module_version "$tools" go.uber.org/mock)
if [[ $runtime_version != "$tool_version" ]]; then
  echo "generate.sh: go.uber.org/mock is $runtime_version in go.mod but $tool_version in tools/go.mod;" >&2
  echo "generate.sh: make them equal (in tools/: go get -tool go.uber.org/mock/mockgen@$runtime_version)," >&2
  echo "generate.sh: then regenerate and commit" >&2
  exit 1
fi

stamp=$bin/.stamp-mockgen
want_stamp=$(cat "$tools/go.mod" "$tools/go.sum" | sha256sum | cut -d' ' -f1)
if [[ ! -x $bin/mockgen || $(cat "$stamp" 2>/dev/null) != "$want_stamp" ]]; then
  echo "generate.sh: building pinned mockgen into tools/bin" >&2
  mkdir -p "$bin"
  (cd "$tools" && go build -mod=readonly -o "$bin/" go.uber.org/mock/mockgen)
  echo "$want_stamp" >"$stamp"
fi

cd "$root/service"
# Relative paths only: mockgen records its command line in the file it writes.
"$bin/mockgen" -source=counters.go -destination=mock_counters_test.go -package=service -write_package_comment=false
