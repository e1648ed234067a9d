#!/usr/bin/env bash
# Starts a container engine for the container task tests: Podman from
# Debian's packages, serving the Docker Engine API on a unix socket, with a
# test image built from busybox (there is no registry to pull from here).
#
# Prints the engine's address (unix:///…/podman.sock) on its last line;
# .ci/run exports it as SLUICE_TEST_CONTAINER_HOST. Safe to run again: a
# service already answering is kept.
#
# Why these settings: crun fails on these machines' hybrid cgroups, so runc;
# without systemd, cgroupfs and a file events log; the default nofile limit
# is above the hard limit a container may raise to here.
set -euo pipefail

sock_dir=${SLUICE_PODMAN_DIR:-/run/sluice-podman}
sock="$sock_dir/podman.sock"
host="unix://$sock"
image=localhost/sluice-test:busybox

sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"

missing=""
command -v podman >/dev/null || missing="$missing podman"
command -v runc >/dev/null || missing="$missing runc"
[ -x /bin/busybox ] || missing="$missing busybox-static"
if [ -n "$missing" ]; then
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get install -y -q $missing >/dev/null 2>&1 || { $sudo apt-get update -q >/dev/null && $sudo apt-get install -y -q $missing >/dev/null; }
fi

conf=/etc/containers/containers.conf
want='# Written by sluice .ci/podman.sh.
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=1000:1000"]

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"'
if [ "$(cat "$conf" 2>/dev/null)" != "$want" ]; then
  $sudo mkdir -p /etc/containers
  printf '%s\n' "$want" | $sudo tee "$conf" >/dev/null
fi

if ! podman image exists "$image"; then
  root=$(mktemp -d)
  mkdir -p "$root/bin" "$root/tmp" "$root/etc"
  cp /bin/busybox "$root/bin/busybox"
  for app in $(/bin/busybox --list); do
    [ "$app" = busybox ] || ln -s busybox "$root/bin/$app"
  done
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/sh\n' >"$root/etc/passwd"
  printf 'root:x:0:\nnobody:x:65534:\n' >"$root/etc/group"
  chmod 1777 "$root/tmp"
  tar -C "$root" -c . | podman import -q --change 'CMD ["/bin/sh"]' --change 'ENV PATH=/bin' - "$image" >/dev/null
  rm -rf "$root"
fi

answers() { curl -sf --max-time 2 --unix-socket "$sock" http://d/_ping >/dev/null 2>&1; }
if ! answers; then
  $sudo mkdir -p "$sock_dir"
  rm -f "$sock"
  nohup podman system service --time=0 "$host" >"$sock_dir/service.log" 2>&1 &
  for _ in $(seq 1 100); do
    answers && break
    sleep 0.1
  done
  answers || { echo "podman: the API service did not answer on $sock; its log:" >&2; cat "$sock_dir/service.log" >&2; exit 1; }
fi
echo "$host"
