#!/usr/bin/env bash
# Run a command with a private PostgreSQL server on a free loopback port, started from
# Debian's postgresql package in a temporary folder and removed afterwards. The command
# sees WORKBENCH_TEST_POSTGRES (a SQLAlchemy URL without database): every archive the
# tests start then gets a fresh database there (tests/conftest.py).
set -euo pipefail
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -n "$bin" ] || { echo "PostgreSQL is not installed (scripts/system-packages.sh test)" >&2; exit 2; }
dir=$(mktemp -d /tmp/workbench-pg.XXXXXX)
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
as_pg=()
if [ "$(id -u)" -eq 0 ]; then  # PostgreSQL refuses to run as root
  chown postgres "$dir"
  as_pg=(runuser -u postgres --)
fi
"${as_pg[@]}" "$bin/initdb" -D "$dir/data" -A trust -U workbench >/dev/null
"${as_pg[@]}" "$bin/pg_ctl" -D "$dir/data" -l "$dir/log" -w start \
  -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c max_connections=300" >/dev/null
cleanup() { "${as_pg[@]}" "$bin/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true; rm -rf "$dir"; }
trap cleanup EXIT
export WORKBENCH_TEST_POSTGRES="postgresql+psycopg://workbench@127.0.0.1:$port"
"$@"
