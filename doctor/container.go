package doctor

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/sluice-dev/sluice/docker"
	"github.com/sluice-dev/sluice/pipeline"
)

// engineCheck checks container tasks against one engine: that it
// answers (once), and that each task's image is there or can be had.
type engineCheck struct {
	e       *docker.Engine
	pinged  bool
	pingErr error
	images  map[string]string // image → problem, "" when fine
}

func (c *engineCheck) check(ctx context.Context, t *pipeline.Task, pull bool, add func(what string, ok bool, detail string)) {
	if !c.pinged {
		c.pinged = true
		pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		c.pingErr = c.e.Ping(pctx)
		cancel()
		c.images = map[string]string{}
	}
	if c.pingErr != nil {
		add("engine", false, c.pingErr.Error()+": start Docker or Podman's API service (podman system service), or set --container-host")
		return
	}
	add("engine", true, c.e.Host())
	image := t.Container.Image
	if strings.Contains(image, "${{") {
		add("image", true, image+" depends on the run; checked when the task runs")
		return
	}
	if problem, seen := c.images[image]; seen {
		add("image", problem == "", orDetail(problem, image))
		return
	}
	problem, detail := c.image(ctx, image, t.Container.Pull, pull)
	c.images[image] = problem
	add("image", problem == "", orDetail(problem, detail))
}

// image says what is wrong with image, or what was found.
func (c *engineCheck) image(ctx context.Context, image, policy string, pull bool) (problem, detail string) {
	ok, err := c.e.ImagePresent(ctx, image)
	switch {
	case err != nil:
		return err.Error(), ""
	case ok && policy == pipeline.PullAlways && pull:
		if err := c.e.Pull(ctx, image); err != nil {
			return err.Error() + " (pull: always pulls before every attempt)", ""
		}
		return "", image + " pulled"
	case ok:
		return "", image + " is on the engine"
	case policy == pipeline.PullNever:
		return fmt.Sprintf("%s is not on the engine and the task says pull: never: pull or build it there", image), ""
	case pull:
		if err := c.e.Pull(ctx, image); err != nil {
			return err.Error(), ""
		}
		return "", image + " pulled"
	}
	return "", image + " is not on the engine yet: the first attempt pulls it (sluice doctor --pull checks that it can)"
}

func orDetail(problem, detail string) string {
	if problem != "" {
		return problem
	}
	return detail
}
