package docker

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/distribution/reference"
	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"

	"github.com/sluice-dev/sluice"
	"github.com/sluice-dev/sluice/executor"
)

// Pull is when an attempt pulls its image.
type Pull string

// The pull policies, named as Docker Compose names them.
const (
	// PullMissing pulls the image only when the engine does not have it;
	// the default.
	PullMissing Pull = "missing"
	// PullAlways pulls before every attempt, so a moved tag is followed.
	PullAlways Pull = "always"
	// PullNever uses only an image the engine has; a missing one fails
	// the attempt.
	PullNever Pull = "never"
)

// OutputPath is where a container finds the attempt's output file; the
// worker sets $SLUICE_OUTPUT to it.
const OutputPath = "/sluice/output"

// Request is one container to run.
type Request struct {
	Image string
	// Pull is the pull policy; empty means PullMissing.
	Pull Pull
	// Entrypoint and Cmd replace the image's ENTRYPOINT and CMD; nil keeps
	// the image's.
	Entrypoint []string
	Cmd        []string
	// Env is the complete environment added to the image's.
	Env []string
	// Workdir replaces the image's WORKDIR when set.
	Workdir string
	// User runs the command as "user", "uid" or "uid:gid"; empty keeps the
	// image's.
	User string
	// Volumes are bind mounts and named volumes as `docker run -v` takes
	// them: "SOURCE:TARGET[:ro]"; SOURCE is an absolute path on the
	// engine's machine or a volume name.
	Volumes []string
	// CPUs limits the CPU time (1.5 = one and a half cores); 0 means no
	// limit.
	CPUs float64
	// Memory limits the memory in bytes; 0 means no limit.
	Memory int64
	// Network is the network mode: "" for the engine's default, "none",
	// "host", or a network's name.
	Network string
	// Name names the container; empty lets the engine choose.
	Name string
	// Labels are set on the container, to find it again after a crash.
	Labels map[string]string
	// Timeout ends the attempt as timed out this long after the container
	// starts; 0 means none.
	Timeout time.Duration
	// KillGrace is how long a container has to stop after its stop signal
	// before it is killed; default executor.DefaultKillGrace. The engine
	// counts it in whole seconds, rounded up.
	KillGrace time.Duration
	// OutputFile is a file on the engine's machine, mounted at OutputPath
	// and read as the task's outputs after the container exits. Empty
	// means no outputs.
	OutputFile string
	// MaxOutput bounds one output value; default executor.DefaultMaxOutput.
	MaxOutput int
	Log       executor.LogSink
	// Started, if set, is called with the container's id once it runs.
	Started func(id string)
}

// Run runs the container of one attempt and returns its result: success
// for exit code 0, failed for another code or when the container cannot
// be created or started (an image that cannot be pulled, a command not in
// the image), timed out after Timeout, and failed with Stopped set when
// ctx ends first. The container is stopped if it still runs and removed
// before Run returns.
func (e *Engine) Run(ctx context.Context, r *Request) *executor.Result {
	if _, err := reference.ParseNormalizedNamed(r.Image); err != nil {
		return startFailed(ctx, fmt.Errorf("image %q is not an image reference: %w", r.Image, err))
	}
	if err := e.ensureImage(ctx, r); err != nil {
		return startFailed(ctx, err)
	}
	id, err := e.create(ctx, r)
	if err != nil && cerrdefs.IsNotFound(err) && r.Pull != PullNever {
		// Removed between the check and the create: pull it once more.
		if err = e.pull(ctx, r); err == nil {
			id, err = e.create(ctx, r)
		}
	}
	if err != nil {
		return startFailed(ctx, err)
	}
	defer e.remove(id)
	return e.run(ctx, r, id)
}

// ensureImage pulls the image as the policy says.
func (e *Engine) ensureImage(ctx context.Context, r *Request) error {
	switch r.Pull {
	case PullAlways:
		return e.pull(ctx, r)
	case PullNever:
		ok, err := e.ImagePresent(ctx, r.Image)
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("image %s is not on the container engine and pull is never: pull or build it there, or set pull: missing", r.Image)
		}
		return nil
	default:
		ok, err := e.ImagePresent(ctx, r.Image)
		if err != nil || ok {
			return err
		}
		return e.pull(ctx, r)
	}
}

func (e *Engine) pull(ctx context.Context, r *Request) error {
	r.system("pulling image " + r.Image)
	start := time.Now()
	if err := e.Pull(ctx, r.Image); err != nil {
		return err
	}
	r.system(fmt.Sprintf("pulled image %s in %s", r.Image, time.Since(start).Round(time.Millisecond)))
	return nil
}

func (e *Engine) create(ctx context.Context, r *Request) (string, error) {
	cfg := &container.Config{
		Image:      r.Image,
		Entrypoint: r.Entrypoint,
		Cmd:        r.Cmd,
		Env:        r.Env,
		WorkingDir: r.Workdir,
		User:       r.User,
		Labels:     r.Labels,
	}
	host := &container.HostConfig{
		Binds:       append([]string(nil), r.Volumes...),
		NetworkMode: container.NetworkMode(r.Network),
		// sluice keeps the log; a second copy in the engine only fills
		// its disk.
		LogConfig: container.LogConfig{Type: "none"},
	}
	host.Resources.NanoCPUs = int64(math.Round(r.CPUs * 1e9))
	host.Resources.Memory = r.Memory
	if r.OutputFile != "" {
		// The task may run as any user: the file must be writable by it.
		if err := os.WriteFile(r.OutputFile, nil, 0o666); err != nil {
			return "", fmt.Errorf("cannot create the output file: %w", err)
		}
		if err := os.Chmod(r.OutputFile, 0o666); err != nil {
			return "", fmt.Errorf("cannot create the output file: %w", err)
		}
		host.Binds = append(host.Binds, r.OutputFile+":"+OutputPath)
	}
	res, err := e.api.ContainerCreate(ctx, client.ContainerCreateOptions{Config: cfg, HostConfig: host, Name: r.Name})
	if err != nil {
		if cerrdefs.IsNotFound(err) {
			return "", fmt.Errorf("no such image: %s", r.Image)
		}
		return "", fmt.Errorf("cannot create the container: %w", cleanError(err))
	}
	return res.ID, nil
}

// run attaches to, starts and waits for the container id.
func (e *Engine) run(ctx context.Context, r *Request, id string) *executor.Result {
	att, err := e.api.ContainerAttach(ctx, id, client.ContainerAttachOptions{Stream: true, Stdout: true, Stderr: true})
	if err != nil {
		// Podman prepares the container for an attach, so a command that is
		// not in the image fails here, described only by the status. A start
		// says why.
		if _, serr := e.api.ContainerStart(ctx, id, client.ContainerStartOptions{}); serr != nil {
			return startFailed(ctx, fmt.Errorf("cannot start container %s: %w", short(id), cleanError(serr)))
		}
		return startFailed(ctx, fmt.Errorf("cannot attach to container %s: %w", short(id), cleanError(err)))
	}
	defer att.Close()
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		out := &executor.LineWriter{Stream: executor.Stdout, Sink: r.Log}
		errw := &executor.LineWriter{Stream: executor.Stderr, Sink: r.Log}
		_, _ = stdcopy.StdCopy(out, errw, att.Reader)
		out.Close()
		errw.Close()
	}()

	// The wait outlives ctx: a stopped container is still waited for.
	waitCtx, stopWait := context.WithCancel(context.WithoutCancel(ctx))
	defer stopWait()
	r.system(fmt.Sprintf("starting container %s of image %s", short(id), r.Image))
	if _, err := e.api.ContainerStart(ctx, id, client.ContainerStartOptions{}); err != nil {
		return startFailed(ctx, fmt.Errorf("cannot start container %s: %w", short(id), cleanError(err)))
	}
	res := &executor.Result{Started: time.Now()}
	if r.Started != nil {
		r.Started(id)
	}
	waited := e.api.ContainerWait(waitCtx, id, client.ContainerWaitOptions{Condition: container.WaitConditionNotRunning})

	var timeout <-chan time.Time
	if r.Timeout > 0 {
		timer := time.NewTimer(r.Timeout)
		defer timer.Stop()
		timeout = timer.C
	}
	var (
		code    int64 = -1
		waitErr error
		oom     bool
		eof     = copied // nil once the end of the output was looked into
	)
wait:
	for {
		select {
		case w := <-waited.Result:
			code, waitErr = exitOf(w)
			break wait
		case waitErr = <-waited.Error:
			break wait
		case <-eof:
			// The output ended, most often because the container exited.
			// Podman answers a wait only some hundreds of milliseconds
			// after that; its state says so at once.
			eof = nil
			if st, ok := e.exited(ctx, id); ok {
				code, oom = int64(st.ExitCode), st.OOMKilled
				break wait
			}
		case <-timeout:
			how := e.stop(id, r.grace(), waited, &code, &waitErr)
			res.State = sluice.AttemptTimedOut
			res.Error = fmt.Sprintf("timed out after %s: %s", r.Timeout, how)
			break wait
		case <-ctx.Done():
			how := e.stop(id, r.grace(), waited, &code, &waitErr)
			res.State = sluice.AttemptFailed
			res.Stopped = true
			res.Error = fmt.Sprintf("stopped (%v): %s", context.Cause(ctx), how)
			break wait
		}
	}
	res.Finished = time.Now()
	select {
	case <-copied:
	case <-time.After(2 * time.Second):
		att.Close() // the engine holds the stream open; the container is gone
		<-copied
	}
	if code >= 0 {
		c := int(code)
		res.ExitCode = &c
	}
	if res.State != "" {
		return res
	}
	switch {
	case waitErr != nil:
		res.State = sluice.AttemptFailed
		res.Error = fmt.Sprintf("lost track of container %s: %v", short(id), cleanError(waitErr))
		return res
	case code != 0:
		res.State = sluice.AttemptFailed
		res.Error = executor.ExitText(code)
		if code == 137 && !oom {
			if st, ok := e.exited(ctx, id); ok {
				oom = st.OOMKilled
			}
		}
		switch {
		case oom:
			res.Error += ": out of memory (raise the task's container memory:)"
		case code == 137 && r.Memory > 0:
			// Not every engine tells (Podman on cgroup v1 does not).
			res.Error += fmt.Sprintf(": most likely out of memory, over its limit of %d MiB (raise the task's container memory:)", r.Memory>>20)
		}
		return res
	}
	res.State = sluice.AttemptSuccess
	if r.OutputFile != "" {
		max := r.MaxOutput
		if max <= 0 {
			max = executor.DefaultMaxOutput
		}
		outs, err := executor.ReadOutputs(r.OutputFile, max)
		if err != nil {
			res.State = sluice.AttemptFailed
			res.Error = err.Error()
			return res
		}
		res.Outputs = outs
	}
	return res
}

// exited returns the state of a container that is no longer running.
func (e *Engine) exited(ctx context.Context, id string) (*container.State, bool) {
	res, err := e.api.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
	if err != nil || res.Container.State == nil {
		return nil, false
	}
	switch st := res.Container.State; st.Status {
	case container.StateExited, container.StateDead, "stopped": // Podman says stopped
		return st, true
	}
	return nil, false
}

// stop asks the container to stop (its stop signal, SIGTERM by default),
// lets the engine kill it after grace, and waits for it to exit. It says
// what it had to do.
func (e *Engine) stop(id string, grace time.Duration, waited client.ContainerWaitResult, code *int64, waitErr *error) string {
	secs := int(math.Ceil(grace.Seconds()))
	ctx, cancel := context.WithTimeout(context.Background(), grace+30*time.Second)
	defer cancel()
	start := time.Now()
	if _, err := e.api.ContainerStop(ctx, id, client.ContainerStopOptions{Timeout: &secs}); err != nil && !cerrdefs.IsNotFound(err) {
		_, _ = e.api.ContainerKill(ctx, id, client.ContainerKillOptions{Signal: "SIGKILL"})
	}
	select {
	case w := <-waited.Result:
		*code, *waitErr = exitOf(w)
	case *waitErr = <-waited.Error:
	case <-ctx.Done():
		*waitErr = errors.New("container did not exit after SIGKILL")
	}
	if time.Since(start) >= time.Duration(secs)*time.Second {
		return fmt.Sprintf("stopped its container, then killed it after %ds", secs)
	}
	return "stopped its container"
}

// remove removes a container and its anonymous volumes, whatever state it
// is in; it outlives the attempt's context.
func (e *Engine) remove(id string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, _ = e.api.ContainerRemove(ctx, id, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true})
}

func exitOf(w container.WaitResponse) (int64, error) {
	if w.Error != nil && w.Error.Message != "" {
		return w.StatusCode, errors.New(w.Error.Message)
	}
	return w.StatusCode, nil
}

func (r *Request) grace() time.Duration {
	if r.KillGrace <= 0 {
		return executor.DefaultKillGrace
	}
	return r.KillGrace
}

func (r *Request) system(line string) {
	if r.Log != nil {
		r.Log.Line(executor.System, time.Now(), []byte(line))
	}
}

// startFailed is the result of an attempt whose container never ran. When
// ctx ended it (a lost lease during a pull), the attempt was stopped.
func startFailed(ctx context.Context, err error) *executor.Result {
	now := time.Now()
	res := &executor.Result{State: sluice.AttemptFailed, Error: err.Error(), Started: now, Finished: now}
	if ctx.Err() != nil {
		res.Stopped = true
		res.Error = fmt.Sprintf("stopped (%v): %v", context.Cause(ctx), err)
	}
	return res
}

func short(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}
