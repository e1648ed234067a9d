#!/usr/bin/env bash
# A PostgreSQL cluster for benchmarks, apart from the one the tests use.
#   bench/pg-cluster.sh          make it (once) and start it; prints its URL
#   bench/pg-cluster.sh stop     stop it
#
# Why: the tests create and drop a schema each, and the machines' own
# cluster runs with autovacuum off (conf.d/90-ci.conf), so its catalog
# grows by about 150 MB an hour of tests and every statement's planning
# gets dearer: PostgreSQL figures measured there fall through a session.
# This cluster keeps PostgreSQL's defaults (fsync and synchronous_commit
# on, autovacuum on); nothing else writes to it. Debian's pg_createcluster.
set -euo pipefail
port=${SLUICE_BENCH_PG_PORT:-5433}
version=$(ls /etc/postgresql | sort -V | tail -n 1)
if [ "${1:-}" = stop ]; then
  pg_ctlcluster --skip-systemctl-redirect "$version" bench stop
  exit 0
fi
if [ ! -d "/etc/postgresql/$version/bench" ]; then
  pg_createcluster "$version" bench -p "$port" >/dev/null
  conf=/etc/postgresql/$version/bench
  echo "listen_addresses = '127.0.0.1'" >>"$conf/postgresql.conf"
  # trust on the loopback, as the machines' own cluster has it
  sed -i 's/^local .*all .*all .*peer/local all all trust/; s/^host .*all .*all .*127.0.0.1\/32 .*/host all all 127.0.0.1\/32 trust/' "$conf/pg_hba.conf"
fi
pg_ctlcluster --skip-systemctl-redirect "$version" bench start 2>/dev/null || true
until pg_isready -h 127.0.0.1 -p "$port" -q; do sleep 0.2; done
psql -h 127.0.0.1 -p "$port" -U postgres -Atc "SELECT 1 FROM pg_database WHERE datname = 'bench'" | grep -q 1 ||
  psql -h 127.0.0.1 -p "$port" -U postgres -qc "CREATE DATABASE bench"
echo "postgres://postgres@127.0.0.1:$port/bench?sslmode=disable"
