#!/usr/bin/env bash
# Prints the path of a Terraform CLI at the version the project checks its configuration with,
# building it from the Go module proxy into the user's cache first if it is not there (once per
# machine: 12-32 min on 2 cores, see .ci/run). Providers are not needed for fmt or for planning
# variables alone, and none are downloaded.
#
#   terraform/install-cli.sh                 build if missing, print the path
#   terraform/install-cli.sh --cached-only   print the path if built already, else exit 1
set -euo pipefail
version=1.5.7
dir="${XDG_CACHE_HOME:-$HOME/.cache}/tally/tools/terraform@v$version"
bin="$dir/terraform"
built() {
  [[ -x $bin ]] && [[ $(CHECKPOINT_DISABLE=1 "$bin" version 2>/dev/null | head -n 1) == "Terraform v$version" ]]
}
if ! built; then
  if [[ ${1:-} == --cached-only ]]; then
    exit 1
  fi
  echo "building Terraform $version into $dir" >&2
  mkdir -p "$dir"
  GOBIN="$dir" go install "github.com/hashicorp/terraform@v$version" >&2
fi
echo "$bin"
