package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/sluice-dev/sluice"
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
}

func newRunView(out io.Writer, st store.Store, runID int64, p *pipeline.Pipeline, quiet bool) *runView {
	width := 4
	for id := range p.Tasks {
		width = max(width, len(id))
	}
	return &runView{out: out, st: st, runID: runID, p: p, quiet: quiet, width: width,
		states: map[string]sluice.InstanceState{}, tries: map[string]int{}, logSeq: map[int64]int{}, results: map[string]*store.Instance{}}
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
	byTask := make(map[string]*store.Instance, len(ins))
	for _, in := range ins {
		byTask[in.TaskID] = in
	}
	for _, id := range v.p.TopoOrder() {
		in := byTask[id]
		if in == nil {
			continue
		}
		v.results[in.TaskID] = in
		if !v.quiet && (in.State == sluice.InstanceRunning || v.states[in.TaskID] == sluice.InstanceRunning || in.Attempts != v.tries[in.TaskID]) {
			if err := v.showLogs(ctx, in); err != nil {
				return err
			}
		}
		if in.State != v.states[in.TaskID] || in.Attempts != v.tries[in.TaskID] {
			v.showState(ctx, in)
			v.states[in.TaskID] = in.State
			v.tries[in.TaskID] = in.Attempts
		}
	}
	return nil
}

func (v *runView) showState(ctx context.Context, in *store.Instance) {
	detail := ""
	switch in.State {
	case sluice.InstancePending:
		return // every task starts here; not news
	case sluice.InstanceRunning:
		detail = "attempt " + strconv.Itoa(in.Attempts)
	case sluice.InstanceUpForRetry:
		if atts, err := v.st.AttemptList(ctx, in.ID); err == nil && len(atts) > 0 {
			detail = atts[len(atts)-1].Error
		}
		if in.ReadyAt != nil {
			detail += fmt.Sprintf("; retry at %s", in.ReadyAt.Local().Format("15:04:05"))
		}
	case sluice.InstanceSuccess:
		detail = duration(in)
	case sluice.InstanceFailed:
		if atts, err := v.st.AttemptList(ctx, in.ID); err == nil && len(atts) > 0 {
			detail = atts[len(atts)-1].Error
		}
	}
	fmt.Fprintf(v.out, "%s  %-*s  %-15s %s\n", time.Now().Format("15:04:05.000"), v.width, in.TaskID, in.State, detail)
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
			for _, line := range bytes.Split(bytes.TrimSuffix(c.Data, []byte("\n")), []byte("\n")) {
				ts, text := parseLogLine(line)
				fmt.Fprintf(v.out, "%s  %-*s  | %s\n", ts.Local().Format("15:04:05.000"), v.width, in.TaskID, text)
			}
		}
	}
	return nil
}

// parseLogLine splits a stored log line "<micros> <stream> <text>".
func parseLogLine(line []byte) (time.Time, string) {
	s := string(line)
	us, rest, ok := strings.Cut(s, " ")
	if !ok {
		return time.Now(), s
	}
	n, err := strconv.ParseInt(us, 10, 64)
	if err != nil {
		return time.Now(), s
	}
	_, text, _ := strings.Cut(rest, " ")
	return time.UnixMicro(n), text
}

func duration(in *store.Instance) string {
	if in.StartedAt == nil || in.FinishedAt == nil {
		return ""
	}
	return in.FinishedAt.Sub(*in.StartedAt).Round(time.Millisecond).String()
}

func (v *runView) summary() {
	fmt.Fprintln(v.out)
	tw := tabwriter.NewWriter(v.out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TASK\tSTATE\tATTEMPTS\tDURATION")
	counts := map[sluice.InstanceState]int{}
	for _, id := range v.p.TopoOrder() {
		in := v.results[id]
		if in == nil {
			continue
		}
		counts[in.State]++
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\n", id, in.State, in.Attempts, duration(in))
	}
	tw.Flush()
	var parts []string
	for _, s := range []sluice.InstanceState{sluice.InstanceSuccess, sluice.InstanceFailed, sluice.InstanceUpstreamFailed, sluice.InstanceSkipped} {
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
