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
# shellcheck source=../tools/lib.sh
source "$root/tools/lib.sh"
require_same_version go.uber.org/mock "in tools/: go get -tool go.uber.org/mock/mockgen@<go.mod's version>"
build_tools mockgen go.uber.org/mock/mockgen

cd "$root/service"
# Relative paths only: mockgen records its command line in the file it writes.
"$bin/mockgen" -source=counters.go -destination=mock_counters_test.go -package=service -write_package_comment=false
