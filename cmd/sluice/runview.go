package main

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/sluice-dev/sluice"
	"github.com/sluice-dev/sluice/api"
	"github.com/sluice-dev/sluice/control"
	"github.com/sluice-dev/sluice/pipeline"
	"github.com/sluice-dev/sluice/store"
)

// runView follows one run in a terminal: state changes, log lines, and a
// summary. It reads everything from the store, as any other client would.
type runView struct {
	out   io.Writer
	st    store.Store
	runID int64
	p     *pipeline.Pipeline
	quiet bool
	width int

	states  map[string]sluice.InstanceState
	tries   map[string]int
	logSeq  map[int64]int // attempt id -> last log chunk shown
	results map[string]*store.Instance
	// held is a "running" line of a task with a when: condition, not
	// shown until the task is seen doing more than finding the
	// condition false: a task skipped so ran nothing.
	held map[string]heldLine
}

type heldLine struct {
	in *store.Instance
	at time.Time
}

func newRunView(out io.Writer, st store.Store, runID int64, p *pipeline.Pipeline, quiet bool) *runView {
	width := 4
	for id, t := range p.Tasks {
		n := len(id)
		if t.ForEach != nil {
			n += 4 // room for "[12]"
		}
		width = max(width, n)
	}
	return &runView{out: out, st: st, runID: runID, p: p, quiet: quiet, width: width,
		states: map[string]sluice.InstanceState{}, tries: map[string]int{}, logSeq: map[int64]int{}, results: map[string]*store.Instance{},
		held: map[string]heldLine{}}
}

// follow prints changes until the run finishes and returns its state.
func (v *runView) follow(ctx context.Context) (sluice.RunState, error) {
	for {
		wake := v.st.Wait(store.TopicInstances)
		run, err := v.st.RunGet(ctx, v.runID)
		if err != nil {
			return "", err
		}
		if err := v.poll(ctx); err != nil {
			return "", err
		}
		if run.State.Finished() {
			return run.State, nil
		}
		t := time.NewTimer(100 * time.Millisecond) // log lines arrive without a signal
		select {
		case <-ctx.Done():
			t.Stop()
			return "", ctx.Err()
		case <-wake:
		case <-t.C:
		}
		t.Stop()
	}
}

func (v *runView) poll(ctx context.Context) error {
	ins, err := v.st.InstanceList(ctx, v.runID)
	if err != nil {
		return err
	}
	for _, in := range v.ordered(ins) {
		name := displayName(in)
		v.results[name] = in
		h, held := v.held[name]
		if held && (in.State != sluice.InstanceRunning || in.Attempts != h.in.Attempts || time.Since(h.at) >= holdFor) {
			// The condition was true, or the task moved on: the line
			// shows, unless the condition skipped it.
			delete(v.held, name)
			held = false
			if in.State != sluice.InstanceSkipped && !v.quiet {
				v.showState(ctx, h.in, h.at)
			}
		}
		if !v.quiet && !held && (in.State == sluice.InstanceRunning || v.states[name] == sluice.InstanceRunning || in.Attempts != v.tries[name]) {
			if err := v.showLogs(ctx, in); err != nil {
				return err
			}
		}
		if in.State != v.states[name] || in.Attempts != v.tries[name] {
			if in.State == sluice.InstanceRunning && in.MapIndex < 0 && in.Attempts == 1 && v.p.Tasks[in.TaskID] != nil && v.p.Tasks[in.TaskID].When != "" {
				v.held[name] = heldLine{in, time.Now()}
			} else if !v.quiet || newsInQuiet[in.State] {
				v.showState(ctx, in, time.Now())
			}
			v.states[name] = in.State
			v.tries[name] = in.Attempts
		}
	}
	return nil
}

// holdFor is how long the running line of a task with a when: condition
// waits: the condition is checked first thing, in milliseconds.
const holdFor = 300 * time.Millisecond

// ordered lists instances in the pipeline's topological order, each mapped
// task followed by its items.
func (v *runView) ordered(ins []*store.Instance) []*store.Instance {
	byTask := map[string][]*store.Instance{}
	for _, in := range ins {
		byTask[in.TaskID] = append(byTask[in.TaskID], in)
	}
	var out []*store.Instance
	for _, id := range v.p.TopoOrder() {
		list := byTask[id]
		sort.Slice(list, func(i, j int) bool { return list[i].MapIndex < list[j].MapIndex })
		out = append(out, list...)
	}
	return out
}

// displayName names an instance: its task, with the item index for an item
// of a mapped task.
func displayName(in *store.Instance) string {
	if in.MapIndex >= 0 {
		return in.TaskID + "[" + strconv.Itoa(in.MapIndex) + "]"
	}
	return in.TaskID
}

// waitCallbacks waits a while for the run's callbacks to run, so their
// effects happen before `sluice run` returns, and reports failed ones.
func (v *runView) waitCallbacks(ctx context.Context) {
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		cbs, err := v.st.CallbackList(ctx, v.runID)
		if err != nil {
			return
		}
		pending := 0
		for _, c := range cbs {
			if c.State == "pending" || c.State == "running" {
				pending++
			}
		}
		if pending == 0 {
			for _, c := range cbs {
				where := "pipeline"
				if c.TaskID != "" {
					where = "task " + c.TaskID
				}
				if c.State == "failed" {
					fmt.Fprintf(v.out, "%s  callback on_%s of %s failed: %s\n", clockTime(time.Now()), c.Event, where, c.Error)
				} else {
					fmt.Fprintf(v.out, "%s  callback on_%s of %s ran\n", clockTime(time.Now()), c.Event, where)
				}
			}
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-v.st.Wait(store.TopicCallbacks):
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// newsInQuiet are the states --quiet shows: what did not go to plan. A
// task that queues, runs and succeeds says nothing; the run's last line
// counts it.
var newsInQuiet = map[sluice.InstanceState]bool{
	sluice.InstanceUpForRetry:      true,
	sluice.InstanceUpForReschedule: true,
	sluice.InstanceFailed:          true,
	sluice.InstanceUpstreamFailed:  true,
	sluice.InstanceSkipped:         true,
	sluice.InstanceCancelled:       true,
}

func (v *runView) showState(ctx context.Context, in *store.Instance, at time.Time) {
	detail := ""
	switch in.State {
	case sluice.InstancePending:
		return // every task starts here; not news
	case sluice.InstanceRunning:
		detail = "attempt " + strconv.Itoa(in.Attempts)
		if in.ItemsTotal > 0 {
			detail = fmt.Sprintf("expanded into %d items", in.ItemsTotal)
		}
	case sluice.InstanceUpForReschedule:
		if in.ReadyAt != nil {
			detail = "next check at " + in.ReadyAt.In(displayZone).Format("15:04:05")
		}
	case sluice.InstanceUpForRetry:
		if atts, err := v.st.AttemptList(ctx, in.ID); err == nil && len(atts) > 0 {
			detail = atts[len(atts)-1].Error
		}
		if in.ReadyAt != nil {
			detail += fmt.Sprintf("; retry at %s", in.ReadyAt.In(displayZone).Format("15:04:05"))
		}
	case sluice.InstanceSkipped:
		detail = in.Note
	case sluice.InstanceSuccess:
		detail = duration(in)
	case sluice.InstanceFailed:
		if atts, err := v.st.AttemptList(ctx, in.ID); err == nil && len(atts) > 0 {
			detail = atts[len(atts)-1].Error
		}
	}
	fmt.Fprintf(v.out, "%s  %-*s  %-17s %s\n", clockTime(at), v.width, displayName(in), stateText(string(in.State), in.AllowFailure), detail)
}

func (v *runView) showLogs(ctx context.Context, in *store.Instance) error {
	atts, err := v.st.AttemptList(ctx, in.ID)
	if err != nil {
		return err
	}
	for _, a := range atts {
		chunks, err := v.st.LogList(ctx, a.ID, v.logSeq[a.ID])
		if err != nil {
			return err
		}
		for _, c := range chunks {
			v.logSeq[a.ID] = c.Seq
			for _, l := range control.ParseLog(c.Data) {
				printLogLine(v.out, api.LogLine{Time: l.Time, Stream: l.Stream, Line: l.Text}, fmt.Sprintf("%-*s", v.width, displayName(in)))
			}
		}
	}
	return nil
}

func duration(in *store.Instance) string {
	if in.StartedAt == nil || in.FinishedAt == nil {
		return ""
	}
	return in.FinishedAt.Sub(*in.StartedAt).Round(time.Millisecond).String()
}

func (v *runView) summary() {
	counts := map[sluice.InstanceState]int{}
	var all []*store.Instance
	for _, in := range v.results {
		all = append(all, in)
		counts[sluice.InstanceState(stateText(string(in.State), in.AllowFailure))]++
	}
	if !v.quiet {
		fmt.Fprintln(v.out)
		tw := tabwriter.NewWriter(v.out, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "TASK\tSTATE\tATTEMPTS\tDURATION")
		for _, in := range v.ordered(all) {
			fmt.Fprintf(tw, "%s\t%s\t%d\t%s\n", displayName(in), stateText(string(in.State), in.AllowFailure), in.Attempts, duration(in))
		}
		tw.Flush()
	}
	var parts []string
	for _, s := range []sluice.InstanceState{sluice.InstanceSuccess, sluice.InstanceFailed, sluice.InstanceFailed + " (allowed)", sluice.InstanceUpstreamFailed, sluice.InstanceSkipped} {
		if counts[s] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", counts[s], s))
		}
	}
	run, _ := v.st.RunGet(context.Background(), v.runID)
	took := ""
	if run != nil && run.StartedAt != nil && run.FinishedAt != nil {
		took = " in " + run.FinishedAt.Sub(*run.StartedAt).Round(time.Millisecond).String()
	}
	state := "unknown"
	if run != nil {
		state = string(run.State)
	}
	fmt.Fprintf(v.out, "\nrun %d %s%s: %s\n", v.runID, state, took, strings.Join(parts, ", "))
}
