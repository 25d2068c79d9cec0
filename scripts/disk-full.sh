#!/usr/bin/env bash
# disk-full: runs tallyd's embedded storage on a nearly full filesystem (cmd/tallyd,
# TestDiskFullAcknowledgesNothingItLoses). Needs root, to mount a tmpfs of SIZE (default 4m).
# Opt-in, not part of CI.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
size=${SIZE:-4m}
mnt=$(mktemp -d /tmp/tally-diskfull.XXXXXX)
if ! mount -t tmpfs -o "size=$size" tmpfs "$mnt" 2>/dev/null; then
  rmdir "$mnt"
  echo "disk-full: cannot mount a tmpfs (needs root, or a container allowing mounts); not tested" >&2
  exit 2
fi
trap 'umount "$mnt" && rmdir "$mnt"' EXIT
echo "disk-full: tmpfs of $size at $mnt"
TALLYD_DISKFULL_DIR=$mnt go test ./cmd/tallyd -run '^TestDiskFullAcknowledgesNothingItLoses$' -count=1 -v "$@"
