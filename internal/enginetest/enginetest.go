// Package enginetest gives tests a container engine that speaks the Docker
// Engine API: the one at $SLUICE_TEST_CONTAINER_HOST (.ci/run starts Podman
// there with .ci/podman.sh), with the test image $SLUICE_TEST_CONTAINER_IMAGE
// (default localhost/sluice-test:busybox, a busybox root filesystem).
//
// When no engine is set or it does not answer, tests skip, except under
// CI=true, where a missing engine fails them: CI must never pass by
// skipping.
package enginetest

import (
	"context"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/docker"
)

// DefaultImage is the test image when $SLUICE_TEST_CONTAINER_IMAGE is not
// set. It has /bin/sh and the busybox tools, and nothing else.
const DefaultImage = "localhost/sluice-test:busybox"

// Image returns the name of the test image.
func Image() string {
	if s := os.Getenv("SLUICE_TEST_CONTAINER_IMAGE"); s != "" {
		return s
	}
	return DefaultImage
}

var (
	once   sync.Once
	host   string
	reason string
)

// Require returns the address of the test engine, or skips the test (fails
// it under CI=true) when there is none or it does not answer, or lacks the
// test image.
func Require(t testing.TB) string {
	t.Helper()
	once.Do(func() {
		host = os.Getenv("SLUICE_TEST_CONTAINER_HOST")
		if host == "" {
			reason = "no container engine for the container task tests: set SLUICE_TEST_CONTAINER_HOST " +
				"(bash .ci/podman.sh starts Podman and prints its address)"
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		e, err := docker.Open(host)
		if err == nil {
			defer e.Close()
			err = e.Ping(ctx)
		}
		if err != nil {
			reason = "the container engine at " + host + " does not answer: " + err.Error()
			return
		}
		ok, err := e.ImagePresent(ctx, Image())
		if err != nil || !ok {
			reason = "the container engine at " + host + " has no image " + Image() + " (bash .ci/podman.sh builds it)"
			if err != nil {
				reason += ": " + err.Error()
			}
		}
	})
	if reason != "" {
		if os.Getenv("CI") == "true" {
			t.Fatal(reason + "; a container engine is required under CI=true")
		}
		t.Skip(reason)
	}
	return host
}
