// Package k8sapi holds the small part of the Kubernetes API that sluice
// reads and writes — the fields of Pods, Secrets, Status and
// SelfSubjectAccessReview it uses, resource quantities, the strategic
// merge of a Pod into a pod_template, and the Pod's schema that
// pipeline checks a pod_template against — without k8s.io/api,
// apimachinery or client-go.
//
// Why: Go runs the init functions of every package a binary links, and
// those of client-go and k8s.io/api touch some 23 MB of the binary's
// pages in every sluice process, a server that never runs a Pod
// included (idle server RSS 31 → 56 MB; bench/RESULTS.md). The tables
// here are generated from k8s.io/api's types and checked against them by
// tests, which may import k8s.io freely (they are not linked into the
// binary).
package k8sapi
