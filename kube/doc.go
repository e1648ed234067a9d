// Package kube runs one attempt of a container task as a Kubernetes Pod:
// the worker keeps the lease and the log stream, the cluster does the
// compute. It talks to the API server with a small REST client of its
// own, not client-go, whose package init functions cost every sluice
// process some 23 MB of memory (rest.go; the API types it uses are in
// kube/k8sapi).
//
// One attempt costs the cluster at most four API calls besides its log
// stream: create the attempt's Secret (only when the task has secrets),
// create the Pod, delete the Pod, delete the Secret. The Pod's progress
// comes from one watch per namespace and worker (a list, then a watch, of
// the worker's label), not from polling. Outputs come back without a shared
// disk: $SLUICE_OUTPUT in the Pod is the container's termination message
// file, which the kubelet puts into the Pod's status.
//
// Every Pod and Secret carries the labels of its attempt and lease, so a
// worker can find those a killed worker left behind and delete them
// (Client.Leftovers, Client.Delete).
package kube
