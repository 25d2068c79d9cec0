# Shared by the generate scripts (source it after setting root): pinned tool versions and building
# the tools of tools/go.mod into tools/bin (git-ignored), only when missing or when tools/go.mod or
# tools/go.sum changed since they were built.

tools=$root/tools
bin=$tools/bin
export GOWORK=off

module_version() { # dir module
  (cd "$1" && go list -m -f '{{.Version}}' "$2")
}

# require_same_version MODULE HINT: generated code calls MODULE's runtime, so the version the
# generator was built with (tools/go.mod) must equal the one the project uses (go.mod).
require_same_version() {
  local runtime tool
  runtime=$(module_version "$root" "$1")
  tool=$(module_version "$tools" "$1")
  if [[ $runtime != "$tool" ]]; then
    echo "generate: $1 is $runtime in go.mod but $tool in tools/go.mod;" >&2
    echo "generate: make them equal ($2), then regenerate and commit" >&2
    exit 1
  fi
}

# build_tools STAMP PACKAGE...: builds the packages into tools/bin unless the stamp (a hash of
# tools/go.mod and go.sum, one stamp per caller) says they are current.
build_tools() {
  local stamp=$bin/.stamp-$1 want missing=0 pkg
  shift
  want=$(cat "$tools/go.mod" "$tools/go.sum" | sha256sum | cut -d' ' -f1)
  for pkg in "$@"; do
    [[ -x $bin/$(basename "$pkg") ]] || missing=1
  done
  if [[ $missing == 1 || $(cat "$stamp" 2>/dev/null) != "$want" ]]; then
    echo "generate: building pinned tools into tools/bin: $*" >&2
    mkdir -p "$bin"
    (cd "$tools" && go build -mod=readonly -o "$bin/" "$@")
    echo "$want" >"$stamp"
  fi
}
