package docker

import (
	"context"
	"fmt"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
)

// Container is a container on the engine, as Containers lists it.
type Container struct {
	ID      string
	Name    string
	Labels  map[string]string
	Running bool
	Created time.Time
}

// Containers lists the containers, running or not, that carry label (any
// value).
func (e *Engine) Containers(ctx context.Context, label string) ([]Container, error) {
	res, err := e.api.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: make(client.Filters).Add("label", label)})
	if err != nil {
		return nil, fmt.Errorf("list containers: %w", cleanError(err))
	}
	out := make([]Container, 0, len(res.Items))
	for _, c := range res.Items {
		if _, ok := c.Labels[label]; !ok {
			continue // an engine that ignored the filter
		}
		name := ""
		if len(c.Names) > 0 {
			name = strings.TrimPrefix(c.Names[0], "/")
		}
		out = append(out, Container{
			ID: c.ID, Name: name, Labels: c.Labels, Created: time.Unix(c.Created, 0),
			Running: c.State == container.StateRunning || c.State == container.StatePaused || c.State == container.StateRestarting,
		})
	}
	return out, nil
}

// Remove stops a container (its stop signal, then SIGKILL after grace)
// and removes it with its anonymous volumes. A container already gone is
// not an error.
func (e *Engine) Remove(ctx context.Context, id string, grace time.Duration) error {
	secs := int(grace.Seconds() + 0.999)
	// A stop that fails (a paused container, one already gone) is
	// followed by a forced removal all the same.
	_, _ = e.api.ContainerStop(ctx, id, client.ContainerStopOptions{Timeout: &secs})
	_, err := e.api.ContainerRemove(ctx, id, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true})
	if err != nil && !cerrdefs.IsNotFound(err) {
		return fmt.Errorf("remove container %s: %w", short(id), cleanError(err))
	}
	return nil
}
