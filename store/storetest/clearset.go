package storetest

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sluice-dev/sluice"
	"github.com/sluice-dev/sluice/store"
)

// testClearSetAndMarkSet checks clears and marks with Airflow's options:
// downstream, upstream, only failed, past and future runs, dry runs that
// change nothing, and the errors.
func testClearSetAndMarkSet(t *testing.T, open Opener) {
	b := setup(t, open)
	b.save("p", 5, task{id: "a"}, task{id: "b", up: []string{"a"}}, task{id: "c", up: []string{"b"}}, task{id: "d"})
	// Three runs an hour apart: r1 fails at a, r2 and r3 succeed.
	var runs []*store.Run
	for i, fail := range []bool{true, false, false} {
		r := b.createRun("p", "r"+string(rune('1'+i)))
		runs = append(runs, r)
		for {
			cs := b.claim(10)
			if len(cs) == 0 {
				break
			}
			for _, c := range cs {
				state := sluice.AttemptSuccess
				if fail && c.TaskID == "a" {
					state = sluice.AttemptFailed
				}
				b.mustComplete(c, state)
			}
		}
		b.clock.Advance(time.Hour)
	}
	r1, r2, r3 := runs[0], runs[1], runs[2]
	if s := b.runState(r1.ID); s != sluice.RunFailed {
		t.Fatalf("r1 = %s", s)
	}
	names := func(sel []*store.Selected) string {
		var out []string
		for _, s := range sel {
			out = append(out, runName(runs, s.RunID)+"."+s.TaskID+"="+string(s.State))
		}
		slices.Sort(out)
		return strings.Join(out, " ")
	}
	clear := func(p store.ClearParams, want string) {
		t.Helper()
		got, err := b.s.InstanceClearSet(b.ctx, &p)
		if err != nil {
			t.Fatalf("clear %+v: %v", p, err)
		}
		if names(got) != want {
			t.Fatalf("clear %+v = %s, want %s", p, names(got), want)
		}
	}

	// Dry runs list and change nothing.
	clear(store.ClearParams{Selection: store.Selection{RunID: r2.ID, TaskIDs: []string{"b"}, Downstream: true, DryRun: true}}, "r2.b=success r2.c=success")
	clear(store.ClearParams{Selection: store.Selection{RunID: r2.ID, TaskIDs: []string{"b"}, Upstream: true, DryRun: true}}, "r2.a=success r2.b=success")
	clear(store.ClearParams{Selection: store.Selection{RunID: r2.ID, TaskIDs: []string{"b"}, DryRun: true}}, "r2.b=success")
	clear(store.ClearParams{Selection: store.Selection{RunID: r2.ID, TaskIDs: []string{"d"}, Past: true, Future: true, DryRun: true}}, "r1.d=success r2.d=success r3.d=success")
	if s := b.runState(r2.ID); s != sluice.RunSuccess {
		t.Fatalf("a dry run changed r2: %s", s)
	}

	// Only the failed ones, in r2 and the runs before it: r1's.
	clear(store.ClearParams{Selection: store.Selection{RunID: r2.ID, TaskIDs: []string{"a"}, Downstream: true, Past: true}, OnlyFailed: true},
		"r1.a=failed r1.b=upstream_failed r1.c=upstream_failed")
	b.wantStates(r1.ID, map[string]sluice.InstanceState{"a": sluice.InstanceQueued, "b": sluice.InstancePending, "c": sluice.InstancePending, "d": sluice.InstanceSuccess})
	b.wantStates(r2.ID, map[string]sluice.InstanceState{"a": sluice.InstanceSuccess})
	for _, id := range []string{"a", "b", "c"} {
		b.mustComplete(b.claimOne(id), sluice.AttemptSuccess)
	}
	if s := b.runState(r1.ID); s != sluice.RunSuccess {
		t.Fatalf("r1 after the clear = %s", s)
	}

	// d in r2 and the runs after it.
	clear(store.ClearParams{Selection: store.Selection{RunID: r2.ID, TaskIDs: []string{"d"}, Future: true}}, "r2.d=success r3.d=success")
	b.wantStates(r2.ID, map[string]sluice.InstanceState{"d": sluice.InstanceQueued, "a": sluice.InstanceSuccess})
	b.wantStates(r3.ID, map[string]sluice.InstanceState{"d": sluice.InstanceQueued})
	for _, c := range b.claim(10) {
		b.mustComplete(c, sluice.AttemptSuccess)
	}

	// Mark b failed with its downstream in r3: b and c fail, so does r3;
	// then b alone success: c stays failed.
	mark := func(p store.MarkParams, want string) {
		t.Helper()
		got, err := b.s.InstanceMarkSet(b.ctx, &p)
		if err != nil {
			t.Fatalf("mark %+v: %v", p, err)
		}
		if names(got) != want {
			t.Fatalf("mark %+v = %s, want %s", p, names(got), want)
		}
	}
	mark(store.MarkParams{Selection: store.Selection{RunID: r3.ID, TaskIDs: []string{"b"}, Downstream: true, DryRun: true}, State: sluice.InstanceFailed}, "r3.b=success r3.c=success")
	if s := b.runState(r3.ID); s != sluice.RunSuccess {
		t.Fatalf("a dry mark changed r3: %s", s)
	}
	mark(store.MarkParams{Selection: store.Selection{RunID: r3.ID, TaskIDs: []string{"b"}, Downstream: true}, State: sluice.InstanceFailed}, "r3.b=success r3.c=success")
	b.wantStates(r3.ID, map[string]sluice.InstanceState{"b": sluice.InstanceFailed, "c": sluice.InstanceFailed})
	if s := b.runState(r3.ID); s != sluice.RunFailed {
		t.Fatalf("r3 after marking b and c failed = %s", s)
	}
	mark(store.MarkParams{Selection: store.Selection{RunID: r3.ID, TaskIDs: []string{"b"}}, State: sluice.InstanceSuccess}, "r3.b=failed")
	b.wantStates(r3.ID, map[string]sluice.InstanceState{"b": sluice.InstanceSuccess, "c": sluice.InstanceFailed})
	if s := b.runState(r3.ID); s != sluice.RunFailed {
		t.Fatalf("r3 with c failed = %s", s)
	}

	// Errors.
	_, err := b.s.InstanceClearSet(b.ctx, &store.ClearParams{Selection: store.Selection{RunID: r2.ID, TaskIDs: []string{"nope"}}})
	if sluice.ErrorCode(err) != sluice.ENOTFOUND || !strings.Contains(err.Error(), `task "nope" not found`) {
		t.Errorf("unknown task: %v", err)
	}
	_, err = b.s.InstanceClearSet(b.ctx, &store.ClearParams{Selection: store.Selection{RunID: r2.ID, TaskIDs: []string{"a"}}, OnlyFailed: true})
	if sluice.ErrorCode(err) != sluice.ECONFLICT || !strings.Contains(err.Error(), "nothing to clear") {
		t.Errorf("nothing failed: %v", err)
	}
	_, err = b.s.InstanceClearSet(b.ctx, &store.ClearParams{Selection: store.Selection{RunID: r2.ID}})
	if sluice.ErrorCode(err) != sluice.EINVALID {
		t.Errorf("no task: %v", err)
	}
	_, err = b.s.InstanceMarkSet(b.ctx, &store.MarkParams{Selection: store.Selection{RunID: 999999, TaskIDs: []string{"a"}}, State: sluice.InstanceSuccess})
	if sluice.ErrorCode(err) != sluice.ENOTFOUND {
		t.Errorf("unknown run: %v", err)
	}
}

func runName(runs []*store.Run, id int64) string {
	for i, r := range runs {
		if r.ID == id {
			return "r" + string(rune('1'+i))
		}
	}
	return "?"
}

// testClearSetOrder: a clear or a mark lists its instances run by run,
// oldest first, and within a run in dependency order (ties by id), not
// by name: extract before transform before load.
func testClearSetOrder(t *testing.T, open Opener) {
	b := setup(t, open)
	b.save("p", 5, task{id: "z_extract"}, task{id: "m_transform", up: []string{"z_extract"}},
		task{id: "a_load", up: []string{"m_transform"}}, task{id: "b_side"}, task{id: "c_report", up: []string{"a_load", "b_side"}})
	var runs []*store.Run
	for i := range 2 {
		runs = append(runs, b.createRun("p", "r"+string(rune('1'+i))))
		for {
			cs := b.claim(10)
			if len(cs) == 0 {
				break
			}
			for _, c := range cs {
				b.mustComplete(c, sluice.AttemptSuccess)
			}
		}
		b.clock.Advance(time.Hour)
	}
	names := func(sel []*store.Selected) string {
		var out []string
		for _, s := range sel {
			out = append(out, runName(runs, s.RunID)+"."+s.TaskID)
		}
		return strings.Join(out, " ")
	}
	want := "r1.b_side r1.z_extract r1.m_transform r1.a_load r1.c_report r2.b_side r2.z_extract r2.m_transform r2.a_load r2.c_report"
	sel := store.Selection{RunID: runs[1].ID, TaskIDs: []string{"z_extract", "b_side"}, Downstream: true, Past: true, DryRun: true}
	got, err := b.s.InstanceClearSet(b.ctx, &store.ClearParams{Selection: sel})
	if err != nil || names(got) != want {
		t.Fatalf("clear = %s, %v\nwant %s", names(got), err, want)
	}
	got, err = b.s.InstanceMarkSet(b.ctx, &store.MarkParams{Selection: sel, State: sluice.InstanceFailed})
	if err != nil || names(got) != want {
		t.Fatalf("mark = %s, %v\nwant %s", names(got), err, want)
	}
	sel = store.Selection{RunID: runs[1].ID, TaskIDs: []string{"c_report"}, Upstream: true, DryRun: true}
	got, err = b.s.InstanceClearSet(b.ctx, &store.ClearParams{Selection: sel})
	if want := "r2.b_side r2.z_extract r2.m_transform r2.a_load r2.c_report"; err != nil || names(got) != want {
		t.Fatalf("clear upstream = %s, %v\nwant %s", names(got), err, want)
	}
}
