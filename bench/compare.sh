#!/usr/bin/env bash
# The comparison of tallyd with the usual strategies for a durable counter (bench/compare):
# installs the Debian packages of the stores it runs when they are missing, then runs it with the
# given flags (`bench/compare.sh -h` lists them). Opt-in; not part of CI.
#
#   bench/compare.sh                              # everything, about 6 minutes
#   bench/compare.sh -svg docs/comparison.svg     # and draw the throughput chart
#   bench/compare.sh -half durability -systems redis-everysec,memcached
#
# Stores (-systems, all by default): tallyd-keys, tallyd, redis-always, redis-everysec, postgres-1,
# postgres-16, sqlite, jsonfile, eventlog (an append-only log file, fdatasync with group commit),
# memcached. The JSON file's writer and the event log's server are this program itself.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# program → Debian package
declare -A packages=([redis-server]=redis-server [memcached]=memcached [sqlite3]=sqlite3 [postgres]=postgresql)
need=()
for program in "${!packages[@]}"; do
  if command -v "$program" >/dev/null; then
    continue
  fi
  if [[ $program == postgres ]] && compgen -G '/usr/lib/postgresql/*/bin/postgres' >/dev/null; then
    continue # Debian keeps the server's programs out of $PATH
  fi
  need+=("${packages[$program]}")
done
if ((${#need[@]})); then
  sudo=()
  if [[ $(id -u) -ne 0 ]]; then
    sudo=(sudo)
  fi
  echo "compare.sh: installing ${need[*]}" >&2
  "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -q --no-install-recommends "${need[@]}" >&2
fi

export COMPARE_COMMAND="bench/compare.sh${*:+ $*}"
exec go run ./bench/compare "$@"
