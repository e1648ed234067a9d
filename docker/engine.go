package docker

import (
	"context"
	"fmt"
	"os"
	"strings"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"
)

// DefaultHost is the engine's address when neither a flag nor $DOCKER_HOST
// names one: Docker's socket. Podman serves the same API with
// `podman system service unix:///PATH/podman.sock`.
const DefaultHost = "unix:///var/run/docker.sock"

// HostFromEnv returns $DOCKER_HOST, or DefaultHost when it is not set.
func HostFromEnv() string {
	if h := os.Getenv("DOCKER_HOST"); h != "" {
		return h
	}
	return DefaultHost
}

// Engine is a connection to a container engine. It is safe for concurrent
// use.
type Engine struct {
	host string
	api  *client.Client
}

// Open returns an Engine for host (unix:///path, tcp://host:port or
// npipe://). It does not connect; Ping does. The API version is agreed
// with the engine on the first request, so older engines (Podman 4 speaks
// 1.41) work.
func Open(host string) (*Engine, error) {
	if host == "" {
		host = DefaultHost
	}
	api, err := client.New(client.WithHost(host))
	if err != nil {
		return nil, fmt.Errorf("docker: engine address %q: %w", host, err)
	}
	return &Engine{host: host, api: api}, nil
}

// Host returns the engine's address.
func (e *Engine) Host() string { return e.host }

// Close closes the engine's idle connections.
func (e *Engine) Close() error { return e.api.Close() }

// Ping checks that the engine answers, and agrees on the API version.
func (e *Engine) Ping(ctx context.Context) error {
	if _, err := e.api.Ping(ctx, client.PingOptions{NegotiateAPIVersion: true}); err != nil {
		return fmt.Errorf("container engine at %s does not answer: %w", e.host, err)
	}
	return nil
}

// ImagePresent reports whether the engine has image locally.
func (e *Engine) ImagePresent(ctx context.Context, image string) (bool, error) {
	_, err := e.api.ImageInspect(ctx, image)
	switch {
	case err == nil:
		return true, nil
	case cerrdefs.IsNotFound(err):
		return false, nil
	}
	return false, fmt.Errorf("inspect image %s: %w", image, cleanError(err))
}

// Pull pulls image and waits until it is complete. The error says what the
// engine said (no such repository, no access to the registry, …).
func (e *Engine) Pull(ctx context.Context, image string) error {
	resp, err := e.api.ImagePull(ctx, image, client.ImagePullOptions{})
	if err != nil {
		return fmt.Errorf("cannot pull image %s: %w", image, cleanError(err))
	}
	defer resp.Close()
	for msg, err := range resp.JSONMessages(ctx) {
		if err != nil {
			return fmt.Errorf("cannot pull image %s: %w", image, cleanError(err))
		}
		if msg.Error != nil {
			return fmt.Errorf("cannot pull image %s: %s", image, msg.Error.Message)
		}
	}
	return nil
}

// cleanError drops the "Error response from daemon: " the client puts in
// front of what the engine said: a task's author reads it in the attempt's
// error, where it says nothing.
func cleanError(err error) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	if s, ok := strings.CutPrefix(msg, "Error response from daemon: "); ok {
		return &engineError{msg: s, err: err}
	}
	return err
}

type engineError struct {
	msg string
	err error
}

func (e *engineError) Error() string { return e.msg }
func (e *engineError) Unwrap() error { return e.err }
