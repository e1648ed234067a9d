// Package deploy holds the files that run sluice outside a terminal: a
// Docker Compose file (compose.yaml), Kubernetes manifests (k8s/), and a
// systemd unit (sluice.service); the image itself is built from the
// Dockerfile at the root of the repository. docs/deploy.md explains them.
//
// The package has no code. Its test reads those files and checks what
// must hold for a deploy to drain instead of dropping work: probes on
// /readyz and /healthz, stop grace periods longer than each process's
// drain, containers that run as non-root, the stated number of each role,
// one image everywhere, and a worker RBAC (k8s/worker-rbac.yaml, decoded
// with Kubernetes' own types) that grants every permission a worker uses
// for Kubernetes pod tasks (kube.Needs).
package deploy
