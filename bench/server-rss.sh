#!/usr/bin/env bash
# Memory of a real `sluice server` (SQLite).
#   bench/server-rss.sh [TASKS]   peak RSS while it runs one run of a
#                                 TASKS-task fan-out (default 10,000): the
#                                 server's VmHWM when the run ends
#   bench/server-rss.sh idle      RSS of an idle server (no pipelines),
#                                 10 s after its first start (a new
#                                 home) and 10 s after a restart
#   bench/server-rss.sh mapped [ITEMS]
#                                 peak RSS while it runs one run of a
#                                 noop task mapped (for_each) over ITEMS
#                                 items (default 100,000) and a task
#                                 after it
set -euo pipefail
tasks=${1:-10000}
items=${2:-100000}
cd "$(dirname "$0")/.."
work=$(mktemp -d)
pid=""
trap '[ -n "$pid" ] && kill $pid 2>/dev/null || true; rm -rf "$work"' EXIT
go build -o "$work/sluice" ./cmd/sluice
if [ "$tasks" = idle ]; then
  for start in "first start" "restart"; do
    mkdir -p "$work/empty"
    "$work/sluice" server --home "$work/home" --pipelines "$work/empty" --listen 127.0.0.1:0 --log-level warn 2>"$work/log" &
    pid=$!
    sleep 10
    kill -0 $pid 2>/dev/null || { cat "$work/log"; exit 1; }
    rss=$(awk '/VmRSS/ {print $2}' /proc/$pid/status)
    anon=$(awk '/RssAnon/ {print $2}' /proc/$pid/status)
    file=$(awk '/RssFile/ {print $2}' /proc/$pid/status)
    printf 'idle server, %s: RSS %.1f MB (anonymous %.1f, file %.1f)\n' "$start" "$(echo "$rss / 1024" | bc -l)" "$(echo "$anon / 1024" | bc -l)" "$(echo "$file / 1024" | bc -l)"
    kill $pid
    wait $pid 2>/dev/null || true
    pid=""
  done
  exit 0
fi
mkdir "$work/pipelines"
if [ "$tasks" = mapped ]; then
  printf '%s\n' 'id: bench_mapped' 'schedule: "@every 24h"' 'tasks:' '  each:' \
    "    for_each: \${{ 1..$items }}" '    noop: true' '  after:' '    depends_on: [each]' \
    "    run: touch $work/done" '  failed:' '    depends_on: [each]' '    trigger_rule: one_failed' \
    "    run: touch $work/failed" > "$work/pipelines/mapped.yaml"
  "$work/sluice" validate "$work/pipelines/mapped.yaml" >/dev/null
  start=$(date +%s.%N)
  "$work/sluice" server --home "$work/home" --pipelines "$work/pipelines" --listen 127.0.0.1:0 --log-level warn 2>"$work/log" &
  pid=$!
  until [ -e "$work/done" ]; do
    kill -0 $pid 2>/dev/null || { cat "$work/log"; exit 1; }
    [ ! -e "$work/failed" ] || { echo "the mapped task failed"; exit 1; }
    sleep 0.2
  done
  end=$(date +%s.%N)
  hwm=$(awk '/VmHWM/ {print $2}' /proc/$pid/status)
  printf 'mapped task of %d items: load+run %.2f s, server peak RSS %.1f MB\n' "$items" "$(echo "$end - $start" | bc)" "$(echo "$hwm / 1024" | bc -l)"
  exit 0
fi
# The scenario's pipeline, scheduled so the server runs it at once, with a
# join that leaves a mark when everything is done.
"$work/sluice" bench fanout --tasks "$tasks" --print-pipeline |
  sed -e 's/^id: bench_fanout$/id: bench_fanout\nschedule: "@every 24h"/' \
      -e "s|^  join:$|  join:\n    run: touch $work/done|" |
  grep -v '^    noop: true$' |
  sed -e "s|^  \(t[0-9]*\):$|  \1:\n    noop: true|" > "$work/pipelines/fanout.yaml"
"$work/sluice" validate "$work/pipelines/fanout.yaml" >/dev/null
start=$(date +%s.%N)
"$work/sluice" server --home "$work/home" --pipelines "$work/pipelines" --listen 127.0.0.1:0 --log-level warn 2>"$work/log" &
pid=$!
until [ -e "$work/done" ]; do
  kill -0 $pid 2>/dev/null || { cat "$work/log"; exit 1; }
  sleep 0.1
done
end=$(date +%s.%N)
hwm=$(awk '/VmHWM/ {print $2}' /proc/$pid/status)
printf 'tasks %d: load+run %.2f s, server peak RSS %.1f MB\n' "$((tasks + 1))" "$(echo "$end - $start" | bc)" "$(echo "$hwm / 1024" | bc -l)"
