#!/usr/bin/env bash
# Regenerates the Go code of every .proto under proto/ (counter.pb.go and
# counter_grpc.pb.go next to counter.proto), byte for byte the same on any
# machine.
#
# Why buf and not Debian's protoc: buf is a Go module, so tools/go.mod pins it
# to one exact version and tools/go.sum pins its bytes, and the Go module proxy
# serves that version forever. It compiles .proto files itself and carries the
# well-known types (timestamp, empty, field_mask), so no protoc and no include
# tree are needed. Debian's protobuf-compiler version moves with the release
# and its point updates, and the archive drops old versions, so a pin there
# cannot be honoured on a clean machine later.
#
# The plugins are pinned in the same tools module: protoc-gen-go at the same
# google.golang.org/protobuf version as the main module's runtime (checked
# below, because generated code must not be newer than the runtime it links
# against) and protoc-gen-go-grpc at a fixed version. The binaries are built
# into tools/bin (git-ignored) and rebuilt only when tools/go.mod or
# tools/go.sum change; a clean build of buf takes a few minutes, later runs
# take seconds.
#
# Besides generating, the script formats the .proto files with buf format (so
# an unformatted file shows up as a diff in .ci/gen-check) and lints them
# (buf.yaml: standard rules plus mandatory comments).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=../tools/lib.sh
source "$root/tools/lib.sh"
require_same_version google.golang.org/protobuf \
  "in tools/: go get google.golang.org/protobuf@<go.mod's version>, with a buf version whose own requirement is not newer"
build_tools proto github.com/bufbuild/buf/cmd/buf google.golang.org/protobuf/cmd/protoc-gen-go \
  google.golang.org/grpc/cmd/protoc-gen-go-grpc

export PATH=$bin:$PATH
cd "$root/proto"
buf format --write
buf lint
# Remove earlier output first so code of a deleted or renamed .proto goes too.
find . -name '*.pb.go' -type f -delete
buf generate
