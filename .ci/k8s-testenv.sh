#!/usr/bin/env bash
# sluice's copy of shared/testenv/k8s-testenv.sh: a real Kubernetes control
# plane for the Kubernetes pod task tests, built from Go modules only.
# Changes from the reference: the binaries are cached under
# $SLUICE_K8S_DIR (default ~/.cache/sluice-k8s) and built only when missing
# or of another version; `up` builds, starts everything (also the real
# kubelet) and is safe to run again (what answers is kept); the last line
# `up` prints is the kubeconfig's path.
# Usage:  k8s-testenv.sh build   # build binaries into $K8S_DIR/bin (once; ~10 min cold on 2 cores)
#         k8s-testenv.sh start   # start etcd, apiserver, scheduler, kwok; writes $K8S_DIR/run/kubeconfig
#         k8s-testenv.sh stop    # stop what start started (by PID)
# Needs: go (>=1.26 for kwok v0.8.0), openssl, curl. No kubectl needed (kubectl is only used if present).
set -euo pipefail
K8S_DIR=${SLUICE_K8S_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/sluice-k8s}
K8S_VERSION=${K8S_VERSION:-1.31.4}      # k8s.io/kubernetes v1.31.4 <-> staging modules v0.31.4
ETCD_VERSION=${ETCD_VERSION:-3.5.17}
KWOK_VERSION=${KWOK_VERSION:-v0.8.0}
BIN=$K8S_DIR/bin RUN=$K8S_DIR/run SRC=$K8S_DIR/src
export CGO_ENABLED=0

build() {
  mkdir -p "$BIN" "$SRC/etcd" "$SRC/k8s/cmd/kube-apiserver" "$SRC/k8s/cmd/kube-scheduler" "$SRC/k8s/cmd/kubelet"
  # etcd: wrapper main (etcd's own go.mod has ../ replaces, so `go install` of it fails)
  cd "$SRC/etcd"
  printf 'package main\n\nimport (\n\t"os"\n\n\t"go.etcd.io/etcd/server/v3/etcdmain"\n)\n\nfunc main() { etcdmain.Main(os.Args) }\n' > main.go
  printf 'module local/etcd\n\ngo 1.22\n\nrequire go.etcd.io/etcd/server/v3 v%s\n' "$ETCD_VERSION" > go.mod
  go mod tidy && go build -trimpath -ldflags '-s -w' -o "$BIN/etcd" .
  # kube-apiserver / kube-scheduler: wrapper module; staging replaces (./staging is not in the module zip)
  # are pointed at the published k8s.io/* v0.X.Y modules instead.
  cd "$SRC/k8s"
  local K; K=$(go mod download -json "k8s.io/kubernetes@v$K8S_VERSION" | sed -n 's/.*"Dir": "\(.*\)",/\1/p')
  for c in kube-apiserver kube-scheduler kubelet; do
    cp "$K/cmd/$c/"*.go "cmd/$c/" && chmod u+w "cmd/$c/"*.go && rm -f "cmd/$c/"*_test.go
  done
  { printf 'module local/k8s\n\ngo 1.22.0\n\nrequire k8s.io/kubernetes v%s\n\nreplace (\n' "$K8S_VERSION"
    sed -n '/^replace (/,/^)/p' "$K/go.mod" | awk -v v="v0.${K8S_VERSION#1.}" '/=> .\/staging/ {print "\t"$1" => "$1" "v}'
    echo ')'; } > go.mod
  go mod tidy
  local M=${K8S_VERSION%%.*} m; m=$(echo "$K8S_VERSION" | cut -d. -f2)
  local LDF="-s -w"
  for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    LDF="$LDF -X $p.gitVersion=v$K8S_VERSION -X $p.gitMajor=$M -X $p.gitMinor=$m"
  done
  go build -trimpath -ldflags "$LDF" -o "$BIN/kube-apiserver" ./cmd/kube-apiserver
  go build -trimpath -ldflags "$LDF" -o "$BIN/kube-scheduler" ./cmd/kube-scheduler
  go build -trimpath -ldflags "$LDF" -o "$BIN/kubelet" ./cmd/kubelet
  # kwok has no replaces: plain go install works
  GOBIN="$BIN" go install -trimpath -ldflags '-s -w' "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION"
  # kwok stages: default "fast" node/pod stages, but complete *any* restartPolicy Never/OnFailure pod
  # (upstream pod-complete only completes Job-owned pods) after 2 s, so watchers see Running first.
  local S; S=$(go mod download -json "sigs.k8s.io/kwok@$KWOK_VERSION" | sed -n 's/.*"Dir": "\(.*\)",/\1/p')/kustomize/stage
  { cat "$S/node/fast/node-initialize.yaml"; echo '---'; cat "$S/node/heartbeat/node-heartbeat.yaml"; echo '---'
    cat "$S/pod/fast/pod-ready.yaml"; echo '---'
    awk '/key: .\.metadata\.ownerReferences\.\[\]\.kind./ {print "    - key: '"'"'.spec.restartPolicy'"'"'"; skip=1; next}
         skip && /values:/ {print; next}
         skip && /- .Job./ {print "      - '"'"'Never'"'"'"; print "      - '"'"'OnFailure'"'"'"; skip=0; next}
         /^  next:/ && !done {print "  delay:"; print "    durationMilliseconds: 2000"; done=1}
         {print}' "$S/pod/fast/pod-complete.yaml"; echo '---'
    cat "$S/pod/fast/pod-delete.yaml"; } > "$BIN/kwok-stages.yaml"
  grep -q "restartPolicy" "$BIN/kwok-stages.yaml"
  echo "$K8S_VERSION $ETCD_VERSION $KWOK_VERSION" > "$BIN/.versions"
}

start() {
  mkdir -p "$RUN/pki" "$RUN/etcd-data"
  cd "$RUN/pki"
  if [ ! -f ca.crt ]; then
    openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 365 -subj /CN=test-ca 2>/dev/null
    openssl req -newkey rsa:2048 -nodes -keyout apiserver.key -out apiserver.csr -subj /CN=kube-apiserver 2>/dev/null
    echo 'subjectAltName=IP:127.0.0.1,IP:10.0.0.1,DNS:localhost,DNS:kubernetes.default.svc' > san.ext
    openssl x509 -req -in apiserver.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out apiserver.crt -days 365 -extfile san.ext 2>/dev/null
    openssl genrsa -out sa.key 2048 2>/dev/null && openssl rsa -in sa.key -pubout -out sa.pub 2>/dev/null
    echo 'test-token,admin,admin,system:masters' > tokens.csv
  fi
  cd "$RUN"
  "$BIN/etcd" --data-dir "$RUN/etcd-data" --listen-client-urls http://127.0.0.1:2379 \
    --advertise-client-urls http://127.0.0.1:2379 --listen-peer-urls http://127.0.0.1:2380 \
    > "$RUN/etcd.log" 2>&1 &
  echo $! > "$RUN/etcd.pid"
  # ServiceAccount admission off: pods need no "default" ServiceAccount (there is no controller-manager).
  # TaintNodesByCondition off: otherwise new nodes keep node.kubernetes.io/not-ready:NoSchedule forever.
  "$BIN/kube-apiserver" --etcd-servers=http://127.0.0.1:2379 \
    --bind-address=127.0.0.1 --advertise-address=127.0.0.1 --secure-port=6443 \
    --tls-cert-file="$RUN/pki/apiserver.crt" --tls-private-key-file="$RUN/pki/apiserver.key" \
    --client-ca-file="$RUN/pki/ca.crt" --token-auth-file="$RUN/pki/tokens.csv" \
    --authorization-mode=AlwaysAllow \
    --service-account-issuer=https://kubernetes.default.svc \
    --service-account-key-file="$RUN/pki/sa.pub" --service-account-signing-key-file="$RUN/pki/sa.key" \
    --service-cluster-ip-range=10.0.0.0/24 --endpoint-reconciler-type=none \
    --disable-admission-plugins=ServiceAccount,TaintNodesByCondition \
    > "$RUN/apiserver.log" 2>&1 &
  echo $! > "$RUN/apiserver.pid"
  cat > "$RUN/kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: local
  cluster: {server: "https://127.0.0.1:6443", certificate-authority: "$RUN/pki/ca.crt"}
users:
- name: admin
  user: {token: test-token}
contexts:
- name: local
  context: {cluster: local, user: admin}
current-context: local
EOF
  local ok=
  for _ in $(seq 1 240); do
    if curl -fs --cacert "$RUN/pki/ca.crt" -H 'Authorization: Bearer test-token' https://127.0.0.1:6443/readyz >/dev/null 2>&1; then ok=1; break; fi
    sleep 0.25
  done
  [ -n "$ok" ] || { echo "kube-apiserver not ready" >&2; tail -30 "$RUN/apiserver.log" >&2; return 1; }
  # sluice: the scheduler's client may send 500 requests a second (its
  # default 50 binds at most 50 Pods a second), and the kwok node holds
  # 2,000 Pods (not 110), for the fan-out benchmark.
  "$BIN/kube-scheduler" --kubeconfig="$RUN/kubeconfig" --authentication-kubeconfig="$RUN/kubeconfig" \
    --authorization-kubeconfig="$RUN/kubeconfig" --leader-elect=false \
    --bind-address=127.0.0.1 --secure-port=10259 --kube-api-qps=500 --kube-api-burst=1000 > "$RUN/scheduler.log" 2>&1 &
  echo $! > "$RUN/scheduler.pid"
  # kwok: fake kubelet for nodes annotated (sluice: the node is tainted, so
  # only Pods that tolerate kwok.x-k8s.io/node=fake go there and a Pod that
  # names no node runs for real on the kubelet's node) kwok.x-k8s.io/node=fake; its 127.0.0.1:10250 server answers
  # `kubectl logs` from a static CRI-format file (kwok runs no containers, so there are no real logs).
  printf '%s stdout F fake log line from kwok\n' 2024-01-01T00:00:00.000000000Z > "$RUN/fake-container.log"
  cat > "$RUN/kwok-logs.yaml" <<EOF
apiVersion: kwok.x-k8s.io/v1alpha1
kind: ClusterLogs
metadata: {name: all-pods}
spec:
  selector: {}
  logs:
  - containers: []
    logsFile: $RUN/fake-container.log
    follow: false
EOF
  # sluice: more Pods moved through their stages at once than kwok's
  # default 4, for the fan-out benchmark. kwok applies no defaults to the
  # options of a file, so every option it needs is written out.
  printf 'apiVersion: config.kwok.x-k8s.io/v1alpha1\nkind: KwokConfiguration\noptions:\n  podPlayStageParallelism: 32\n  nodePlayStageParallelism: 4\n  nodeLeaseParallelism: 4\n  podsOnNodeSyncParallelism: 1\n  enableDebuggingHandlers: true\n  enableProfilingHandler: true\n  enableContentionProfiling: false\n  enablePodsOnNodeSyncListPager: true\n  enablePodsOnNodeSyncStreamWatch: false\n' > "$RUN/kwok-options.yaml"
  "$BIN/kwok" -c "$BIN/kwok-stages.yaml" -c "$RUN/kwok-logs.yaml" -c "$RUN/kwok-options.yaml" --kubeconfig="$RUN/kubeconfig" \
    --manage-all-nodes=false --manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake \
    --node-ip=127.0.0.1 --node-port=10250 --server-address=127.0.0.1:10250 --cidr=10.244.0.0/24 \
    --tls-cert-file="$RUN/pki/apiserver.crt" --tls-private-key-file="$RUN/pki/apiserver.key" \
    > "$RUN/kwok.log" 2>&1 &
  echo $! > "$RUN/kwok.pid"
  curl -fsS --cacert "$RUN/pki/ca.crt" -H 'Authorization: Bearer test-token' -H 'Content-Type: application/json' \
    -X POST https://127.0.0.1:6443/api/v1/nodes -d '{"apiVersion":"v1","kind":"Node","metadata":{"name":"kwok-node-0",
     "annotations":{"node.alpha.kubernetes.io/ttl":"0","kwok.x-k8s.io/node":"fake"},
     "labels":{"kubernetes.io/hostname":"kwok-node-0","kubernetes.io/os":"linux","type":"kwok"}},
     "spec":{"taints":[{"key":"kwok.x-k8s.io/node","value":"fake","effect":"NoSchedule"}]},
     "status":{"allocatable":{"cpu":"1000","memory":"4Ti","pods":"2000"},"capacity":{"cpu":"1000","memory":"4Ti","pods":"2000"}}}' >/dev/null
  echo "ready: export KUBECONFIG=$RUN/kubeconfig"
}

# Optional: a REAL node. Needs `apt-get install -y containerd` (Debian 1.6.20, has the CRI plugin),
# runc + containernetworking-plugins (present with podman), podman (only to build the two local images).
start_kubelet() {
  local C=$K8S_DIR/containerd; mkdir -p "$C" "$K8S_DIR/cni/net.d" "$K8S_DIR/img/rootfs/bin"
  # restrict_oom_score_adj: this sandbox lacks CAP_SYS_RESOURCE, so the pause container's oom_score_adj=-998
  # makes runc fail ("can't get final child's PID from pipe: EOF"); this clamps it to containerd's own value.
  containerd config default | sed -e "s#^root = .*#root = \"$C/root\"#" -e "s#^state = .*#state = \"$C/state\"#" \
    -e "s#address = \"/run/containerd/containerd.sock\"#address = \"$C/containerd.sock\"#" \
    -e 's#sandbox_image = .*#sandbox_image = "localhost/pause:1"#' -e 's#bin_dir = "/opt/cni/bin"#bin_dir = "/usr/lib/cni"#' \
    -e "s#conf_dir = \"/etc/cni/net.d\"#conf_dir = \"$K8S_DIR/cni/net.d\"#" \
    -e 's#restrict_oom_score_adj = false#restrict_oom_score_adj = true#' > "$C/config.toml"
  cat > "$K8S_DIR/cni/net.d/10-k8s.conflist" <<EOF
{"cniVersion":"0.4.0","name":"k8s-test","plugins":[
 {"type":"bridge","bridge":"cni-k8s0","isGateway":true,"ipMasq":false,
  "ipam":{"type":"host-local","ranges":[[{"subnet":"10.244.1.0/24"}]],"dataDir":"$K8S_DIR/cni/ipam"}},
 {"type":"loopback"}]}
EOF
  containerd --config "$C/config.toml" > "$RUN/containerd.log" 2>&1 &
  echo $! > "$RUN/containerd.pid"
  for _ in $(seq 1 40); do [ -S "$C/containerd.sock" ] && break; sleep 0.25; done
  # images from the host's static busybox (no registry): localhost/busybox:1 and a pause image
  cp /bin/busybox "$K8S_DIR/img/rootfs/bin/"; for a in sh sleep echo cat ls; do ln -sf busybox "$K8S_DIR/img/rootfs/bin/$a"; done
  tar -C "$K8S_DIR/img/rootfs" -cf "$K8S_DIR/img/rootfs.tar" .
  podman import -q --change 'CMD ["/bin/sh"]' "$K8S_DIR/img/rootfs.tar" localhost/busybox:1 >/dev/null
  podman import -q --change 'CMD ["/bin/sleep","2147483647"]' "$K8S_DIR/img/rootfs.tar" localhost/pause:1 >/dev/null
  for i in busybox pause; do
    rm -f "$K8S_DIR/img/$i.tar"; podman save -q --format docker-archive -o "$K8S_DIR/img/$i.tar" "localhost/$i:1"
    ctr -a "$C/containerd.sock" -n k8s.io images import "$K8S_DIR/img/$i.tar" >/dev/null
  done
  cat > "$RUN/kubelet.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: 127.0.0.1
port: 10350
healthzBindAddress: 127.0.0.1
readOnlyPort: 0
authentication: {anonymous: {enabled: true}, webhook: {enabled: false}}
authorization: {mode: AlwaysAllow}
cgroupDriver: cgroupfs
failSwapOn: false
containerRuntimeEndpoint: unix://$C/containerd.sock
imageServiceEndpoint: unix://$C/containerd.sock
enforceNodeAllocatable: []
evictionHard: {}
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
resolvConf: ""
localStorageCapacityIsolation: false
EOF
  # node name "localhost": the apiserver reaches the kubelet (logs, exec) through the Hostname address,
  # i.e. 127.0.0.1:10350 (kubelet refuses a loopback --node-ip).
  "$BIN/kubelet" --config="$RUN/kubelet.yaml" --kubeconfig="$RUN/kubeconfig" --hostname-override=localhost \
    --root-dir="$K8S_DIR/kubelet" --cert-dir="$K8S_DIR/kubelet/pki" > "$RUN/kubelet.log" 2>&1 &
  echo $! > "$RUN/kubelet.pid"
  for _ in $(seq 1 120); do
    node_ready localhost && { echo "node localhost registered"; return 0; }
    sleep 0.5
  done
  echo "kubelet did not register" >&2; tail -20 "$RUN/kubelet.log" >&2; return 1
}

stop() {
  for c in kubelet containerd kwok scheduler apiserver etcd; do
    if [ -f "$RUN/$c.pid" ]; then kill "$(cat "$RUN/$c.pid")" 2>/dev/null || true; rm -f "$RUN/$c.pid"; fi
  done
  # pods still running at stop keep their containerd-shim/container processes: delete pods before stop.
  ip link del cni-k8s0 2>/dev/null || true
}

api_ready() {
  curl -fs --cacert "$RUN/pki/ca.crt" -H 'Authorization: Bearer test-token' https://127.0.0.1:6443/readyz >/dev/null 2>&1
}

# node_ready NODE: the node's Ready condition is True. (The JSON is read
# whole first: with pipefail, grep -q on curl's pipe fails whenever curl
# gets SIGPIPE for the rest.)
node_ready() {
  local j
  j=$(curl -fs --cacert "$RUN/pki/ca.crt" -H 'Authorization: Bearer test-token' \
    "https://127.0.0.1:6443/api/v1/nodes/$1" 2>/dev/null) || return 1
  printf '%s\n' "$j" | grep -A1 '"type": "Ready",' | grep -q '"status": "True"'
}

# up: what .ci/run calls. Builds what is missing (or of another version),
# starts the control plane, the kwok node and the real kubelet unless they
# answer already, and prints the kubeconfig's path on its last line.
up() {
  if [ "$(cat "$BIN/.versions" 2>/dev/null)" != "$K8S_VERSION $ETCD_VERSION $KWOK_VERSION" ]; then
    echo "building the Kubernetes test binaries into $BIN (about 12 minutes cold, once)" >&2
    ( build ) >&2
  fi
  if ! api_ready; then
    stop >&2
    rm -rf "$RUN/etcd-data"
    ( start ) >&2
  fi
  if ! node_ready localhost; then
    if ! command -v containerd >/dev/null; then
      local sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
      DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q containerd >/dev/null 2>&1 ||
        { $sudo apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q containerd >/dev/null; }
    fi
    ( start_kubelet ) >&2
  fi
  for _ in $(seq 1 120); do node_ready kwok-node-0 && break; sleep 0.25; done
  node_ready kwok-node-0 || { echo "the kwok node is not ready" >&2; tail -5 "$RUN/kwok.log" >&2; return 1; }
  echo "$RUN/kubeconfig"
}

"${1:-start}"
