package main

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"sync"
	"time"

	"github.com/sluice-dev/sluice"
	"github.com/sluice-dev/sluice/api"
	"github.com/sluice-dev/sluice/client"
)

// maxFollowed bounds the logs followed live at once by followRun; an
// attempt past it has its log printed when it has finished.
const maxFollowed = 16

// followRun prints a run's task state changes, its mapped items' and the
// lines of every attempt's log, as `sluice run` does, until the run
// finishes; then a summary. The error says whether the run succeeded.
//
// A running attempt's log is followed as it is written (the log stream
// of the API, at most maxFollowed at once); any other attempt's log is
// read once, when it has finished, so a long run costs one read per
// attempt, not one per poll.
func followRun(ctx context.Context, r *remote, c *client.Client, id int64, out io.Writer) error {
	f := &follower{c: c, run: id, out: out, width: 4, seen: map[string]string{}, logs: map[string]bool{}, expanded: map[string]bool{}}
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for {
		d, err := c.GetRun(ctx, id)
		if err != nil {
			if ctx.Err() != nil {
				return stoppedFollowing(out, id)
			}
			return r.fail(err)
		}
		if !r.json {
			f.update(ctx, d)
		}
		if d.FinishedAt != nil && (d.State == "success" || d.State == "failed" || d.State == "cancelled") {
			f.wg.Wait() // the followed logs end with their attempts
			if r.json {
				if err := printJSON(out, d); err != nil {
					return err
				}
			} else {
				f.update(ctx, d) // the logs of attempts that ended last
				fmt.Fprintln(out)
				t := newTable(out, "TASK", "STATE", "ATTEMPTS", "DURATION")
				for _, task := range d.Tasks {
					t.row(task.Task, stateText(task.State, task.AllowFailure), fmt.Sprint(task.Attempts), shortDuration(task.DurationSeconds))
				}
				t.flush()
				fmt.Fprintf(out, "\nrun %d %s in %s\n", d.ID, d.State, shortDuration(d.DurationSeconds))
			}
			if d.State != "success" {
				return exitWith(1, nil)
			}
			return nil
		}
		select {
		case <-ctx.Done():
			f.wg.Wait()
			return stoppedFollowing(out, id)
		case <-tick.C:
		}
	}
}

// follower is what followRun has printed of a run.
type follower struct {
	c   *client.Client
	run int64

	mu    sync.Mutex // guards out, width and followed
	out   io.Writer
	width int
	// followed counts the logs being followed now.
	followed int
	wg       sync.WaitGroup

	seen map[string]string // a task's or item's last state shown
	logs map[string]bool   // attempts whose log is printed or being followed
	// expanded holds the mapped tasks whose items were announced.
	expanded map[string]bool
}

// instance is what update reads of a task or an item of a mapped task.
type instance struct {
	task, name string
	item       int // -1 for the task itself
	state      string
	attempts   int
	blocked    string
	readyAt    *time.Time
	duration   *float64
	allow      bool // allow_failure
	note       string
}

func (f *follower) update(ctx context.Context, d *api.RunDetail) {
	var all []instance
	for _, t := range d.Tasks {
		all = append(all, instance{task: t.Task, name: t.Task, item: -1, state: t.State, attempts: t.Attempts, blocked: t.Blocked, readyAt: t.ReadyAt, duration: t.DurationSeconds, allow: t.AllowFailure, note: t.Note})
		for _, it := range t.Items {
			all = append(all, instance{task: t.Task, name: t.Task + "[" + strconv.Itoa(it.MapIndex) + "]", item: it.MapIndex,
				state: it.State, attempts: it.Attempts, blocked: it.Blocked, duration: it.DurationSeconds, allow: t.AllowFailure})
		}
	}
	f.mu.Lock()
	for _, in := range all {
		f.width = max(f.width, len(in.name))
	}
	f.mu.Unlock()
	for _, in := range all {
		f.showState(ctx, in, d)
		f.showLogs(ctx, in)
	}
}

func (f *follower) showState(ctx context.Context, in instance, d *api.RunDetail) {
	key := fmt.Sprintf("%s/%d/%s", in.state, in.attempts, in.blocked)
	if f.seen[in.name] == key {
		return
	}
	f.seen[in.name] = key
	if in.state == "pending" {
		return // every task starts so: not news
	}
	detail := ""
	switch in.state {
	case "running":
		detail = fmt.Sprintf("attempt %d", in.attempts)
	case "up_for_retry":
		detail = f.attemptError(ctx, in)
		if in.readyAt != nil {
			detail += "; retry at " + in.readyAt.In(displayZone).Format("15:04:05")
		}
	case "success":
		detail = shortDuration(in.duration)
	case "failed":
		detail = f.attemptError(ctx, in)
	case "skipped":
		detail = in.note
	}
	if in.blocked != "" {
		detail = blockedNote(in.state, in.blocked)
	}
	// A mapped task says once how many items it expanded into, when it
	// is first seen with them: running, or already finished when the
	// run was quicker than the first look.
	for _, t := range d.Tasks {
		if in.item < 0 && t.Task == in.task && t.ItemsTotal > 0 && !f.expanded[in.name] {
			f.expanded[in.name] = true
			if in.state == "running" || detail == "" {
				detail = fmt.Sprintf("expanded into %d items", t.ItemsTotal)
			} else {
				detail = fmt.Sprintf("expanded into %d items; %s", t.ItemsTotal, detail)
			}
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	fmt.Fprintf(f.out, "%s  %-*s  %-15s %s\n", clockTime(time.Now()), f.width, in.name, stateText(in.state, in.allow), detail)
}

// attemptError is why an instance's last attempt failed.
func (f *follower) attemptError(ctx context.Context, in instance) string {
	if in.item < 0 {
		return taskError(ctx, f.c, f.run, api.TaskInstance{Task: in.task, State: in.state})
	}
	d, err := f.c.GetTaskItem(ctx, f.run, in.task, in.item)
	if err != nil || len(d.Attempts) == 0 {
		return ""
	}
	return d.Attempts[len(d.Attempts)-1].Error
}

// showLogs prints the log of each attempt of in not printed yet: a
// finished attempt's at once, the running one's as it is written.
func (f *follower) showLogs(ctx context.Context, in instance) {
	for n := 1; n <= in.attempts; n++ {
		key := in.name + "#" + strconv.Itoa(n)
		if f.logs[key] {
			continue
		}
		if n == in.attempts && in.state == "running" {
			f.mu.Lock()
			full := f.followed >= maxFollowed
			if !full {
				f.followed++
			}
			f.mu.Unlock()
			if full {
				continue // read once it has finished
			}
			f.logs[key] = true
			f.wg.Add(1)
			go func() {
				defer f.wg.Done()
				_, _ = f.c.FollowItemLogs(ctx, f.run, in.task, in.item, n, func(l api.LogLine) { f.line(in.name, l) })
				f.mu.Lock()
				f.followed--
				f.mu.Unlock()
			}()
			continue
		}
		f.logs[key] = true
		lines, err := f.c.ItemLogs(ctx, f.run, in.task, in.item, n)
		if err != nil {
			continue
		}
		for _, l := range lines {
			f.line(in.name, l)
		}
	}
}

func (f *follower) line(name string, l api.LogLine) {
	f.mu.Lock()
	defer f.mu.Unlock()
	printLogLine(f.out, l, fmt.Sprintf("%-*s", f.width, name))
}

// stateText is an instance's state as the CLI prints it: a failure the
// task allows (allow_failure: true) says so.
func stateText(state string, allowFailure bool) string {
	if allowFailure && state == string(sluice.InstanceFailed) {
		return state + " (allowed)"
	}
	return state
}
