#!/usr/bin/env bash
# The event latencies of issue 13: asset-hop and webhook, on SQLite in one
# process and on PostgreSQL with worker processes, REPEAT times each, one
# markdown table row per run with the load average it ran under (the
# machine may be shared: rerun when it is quiet).
#   bench/events.sh [REPEAT] [POSTGRES_URL]
set -euo pipefail
repeat=${1:-3}
pg=${2:-${SLUICE_TEST_POSTGRES:-postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable}}
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
go build -o "$work/sluice" ./cmd/sluice
echo "| scenario | store | load avg | answered p50/p95/p99 ms | queued p50/p95/p99 ms | started p50/p95/p99 ms |"
echo "|---|---|---|---|---|---|"
row() {
  local load
  load=$(cut -d' ' -f1 /proc/loadavg)
  "$work/sluice" bench "$@" --json | jq -r --arg load "$load" '
    def l(x): if x == null then "—" else "\(x.p50_ms) / \(x.p95_ms) / \(x.p99_ms)" end;
    "| \(.scenario) \(if .worker_procs then "(\(.worker_procs) worker procs)" else "" end) | \(.store) | \($load) | \(l(.answered)) | \(l(.queued)) | \(l(.started)) |"'
}
for _ in $(seq "$repeat"); do
  row asset-hop --tasks 200
  row asset-hop --tasks 200 --db "$pg" --workers-procs 2
  row webhook --requests 500
  row webhook --requests 500 --db "$pg" --workers-procs 2
done
