package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/sluice-dev/sluice"
	"github.com/sluice-dev/sluice/store"
)

func testPipelineDelete(t *testing.T, open Opener) {
	b := setup(t, open)
	b.save("p", 5, task{id: "a"}, task{id: "b", up: []string{"a"}})
	b.save("q", 5, task{id: "a"})
	r := b.createRun("p", "r1")
	c := b.claimOne("a")
	if err := b.s.AttemptLogAppend(b.ctx, &store.AttemptLogAppendParams{Lease: c.Lease, Chunk: store.LogChunk{Seq: 1, Data: []byte("x\n")}}); err != nil {
		t.Fatal(err)
	}
	if err := b.complete(c, sluice.AttemptSuccess, map[string]string{"k": "v"}); err != nil {
		t.Fatal(err)
	}
	running := b.claimOne("b")
	q := b.createRun("q", "r2")
	if err := b.s.PipelineDelete(b.ctx, "p"); err != nil {
		t.Fatal(err)
	}
	if _, err := b.s.PipelineGet(b.ctx, "p"); sluice.ErrorCode(err) != sluice.ENOTFOUND {
		t.Fatalf("deleted pipeline still there: %v", err)
	}
	if _, err := b.s.RunGet(b.ctx, r.ID); sluice.ErrorCode(err) != sluice.ENOTFOUND {
		t.Fatalf("its run is still there: %v", err)
	}
	if vs, _ := b.s.VersionList(b.ctx, "p"); len(vs) != 0 {
		t.Fatalf("its versions are still there: %d", len(vs))
	}
	if logs, _ := b.s.LogList(b.ctx, c.AttemptID, 0); len(logs) != 0 {
		t.Fatalf("its logs are still there")
	}
	// The worker running one of its tasks learns the lease is gone.
	if lost, _ := b.s.AttemptHeartbeat(b.ctx, &store.AttemptHeartbeatParams{Leases: []store.Lease{running.Lease}, LeaseDuration: Lease}); len(lost) != 1 {
		t.Fatalf("lease of a deleted pipeline's task still held")
	}
	if _, err := b.s.RunGet(b.ctx, q.ID); err != nil {
		t.Fatalf("another pipeline's run went too: %v", err)
	}
	if err := b.s.PipelineDelete(b.ctx, "p"); sluice.ErrorCode(err) != sluice.ENOTFOUND {
		t.Fatalf("second delete: %v", err)
	}
	// The id can be used again from scratch.
	b.save("p", 5, task{id: "a"})
	if runs, _ := b.s.RunList(b.ctx, &store.RunListParams{PipelineID: "p"}); len(runs) != 0 {
		t.Fatalf("a new pipeline with the old id inherited %d runs", len(runs))
	}
}

func testVersionListAndRecentRuns(t *testing.T, open Opener) {
	b := setup(t, open)
	v1 := b.save("p", 9, task{id: "a"})
	v2 := b.save("p", 9, task{id: "b"})
	vs, err := b.s.VersionList(b.ctx, "p")
	if err != nil || len(vs) != 2 || vs[0].ID != v2 || vs[1].ID != v1 || vs[0].Hash == "" {
		t.Fatalf("versions = %+v, %v", vs, err)
	}
	b.save("q", 9, task{id: "a"})
	b.save("empty", 9, task{id: "a"})
	var pIDs []int64
	for i := 0; i < 5; i++ {
		pIDs = append(pIDs, b.createRun("p", string(rune('a'+i))).ID)
	}
	b.createRun("q", "only")
	recent, err := b.s.RunListRecent(b.ctx, 3)
	if err != nil {
		t.Fatal(err)
	}
	if len(recent["p"]) != 3 || recent["p"][0].ID != pIDs[4] || recent["p"][2].ID != pIDs[2] || len(recent["q"]) != 1 || len(recent["empty"]) != 0 {
		t.Fatalf("recent = p:%d q:%d empty:%d", len(recent["p"]), len(recent["q"]), len(recent["empty"]))
	}
}

func testRunCancel(t *testing.T, open Opener) {
	b := setup(t, open)
	b.save("p", 1, task{id: "a"}, task{id: "b"}, task{id: "c", up: []string{"a", "b"}})
	r1 := b.createRun("p", "r1")
	r2 := b.createRun("p", "r2") // queued behind r1
	cs := b.claim(10)
	if len(cs) != 2 {
		t.Fatalf("claimed %d", len(cs))
	}
	b.mustComplete(cs[0], sluice.AttemptSuccess)
	wake := b.s.Wait(store.TopicLeases)
	if err := b.s.RunCancel(b.ctx, r1.ID); err != nil {
		t.Fatal(err)
	}
	select {
	case <-wake:
	default:
		t.Fatal("cancelling did not tell workers to check their leases")
	}
	if s := b.runState(r1.ID); s != sluice.RunCancelled {
		t.Fatalf("run = %s", s)
	}
	b.wantStates(r1.ID, map[string]sluice.InstanceState{cs[0].TaskID: sluice.InstanceSuccess, cs[1].TaskID: sluice.InstanceCancelled, "c": sluice.InstanceCancelled})
	lost, _ := b.s.AttemptHeartbeat(b.ctx, &store.AttemptHeartbeatParams{Leases: []store.Lease{cs[1].Lease}, LeaseDuration: Lease})
	if len(lost) != 1 {
		t.Fatal("the running attempt of a cancelled run still holds its lease")
	}
	if err := b.complete(cs[1], sluice.AttemptSuccess, nil); !isLeaseLost(err) {
		t.Fatalf("completing a cancelled attempt: %v", err)
	}
	if s := b.runState(r2.ID); s != sluice.RunRunning {
		t.Fatalf("the queued run did not start when the cancelled one freed its place: %s", s)
	}
	if err := b.s.RunCancel(b.ctx, r1.ID); sluice.ErrorCode(err) != sluice.ECONFLICT {
		t.Fatalf("cancelling twice: %v", err)
	}
	// A queued run can be cancelled too.
	r3 := b.createRun("p", "r3")
	if err := b.s.RunCancel(b.ctx, r3.ID); err != nil || b.runState(r3.ID) != sluice.RunCancelled {
		t.Fatalf("cancel queued: %v %s", err, b.runState(r3.ID))
	}
}

func testRunRetryFailed(t *testing.T, open Opener) {
	b := setup(t, open)
	b.save("p", 1, task{id: "a"}, task{id: "ok"}, task{id: "b", up: []string{"a"}}, task{id: "c", up: []string{"b", "ok"}})
	r := b.createRun("p", "r")
	for _, c := range b.claim(10) {
		state := sluice.AttemptSuccess
		if c.TaskID == "a" {
			state = sluice.AttemptFailed
		}
		b.mustComplete(c, state)
	}
	if s := b.runState(r.ID); s != sluice.RunFailed {
		t.Fatalf("run = %s", s)
	}
	n, err := b.s.RunRetryFailed(b.ctx, r.ID)
	if err != nil || n != 3 {
		t.Fatalf("retry failed = %d, %v; want a, b and c", n, err)
	}
	if s := b.runState(r.ID); s != sluice.RunRunning {
		t.Fatalf("run = %s after retry", s)
	}
	b.wantStates(r.ID, map[string]sluice.InstanceState{"a": sluice.InstanceQueued, "ok": sluice.InstanceSuccess, "b": sluice.InstancePending, "c": sluice.InstancePending})
	c := b.claimOne("a")
	if c.Attempt != 2 {
		t.Fatalf("attempt = %d", c.Attempt)
	}
	b.mustComplete(c, sluice.AttemptSuccess)
	b.mustComplete(b.claimOne("b"), sluice.AttemptSuccess)
	b.mustComplete(b.claimOne("c"), sluice.AttemptSuccess)
	if s := b.runState(r.ID); s != sluice.RunSuccess {
		t.Fatalf("run = %s", s)
	}
	if n, err := b.s.RunRetryFailed(b.ctx, r.ID); err != nil || n != 0 {
		t.Fatalf("nothing to retry: %d %v", n, err)
	}
}

func testInstanceClear(t *testing.T, open Opener) {
	b := setup(t, open)
	b.save("p", 1, task{id: "a"}, task{id: "b", up: []string{"a"}}, task{id: "c", up: []string{"b"}}, task{id: "x"})
	r := b.createRun("p", "r")
	for len(b.states(r.ID)) > 0 && b.runState(r.ID) == sluice.RunRunning {
		for _, c := range b.claim(10) {
			b.mustComplete(c, sluice.AttemptSuccess)
		}
	}
	if err := b.complete(&store.Claim{}, sluice.AttemptSuccess, nil); !isLeaseLost(err) {
		t.Fatal("expected lease lost for a zero claim")
	}
	if err := b.s.InstanceClear(b.ctx, r.ID, "b"); err != nil {
		t.Fatal(err)
	}
	b.wantStates(r.ID, map[string]sluice.InstanceState{"a": sluice.InstanceSuccess, "b": sluice.InstanceQueued, "c": sluice.InstancePending, "x": sluice.InstanceSuccess})
	if s := b.runState(r.ID); s != sluice.RunRunning {
		t.Fatalf("run = %s", s)
	}
	c := b.claimOne("b")
	if err := b.s.InstanceClear(b.ctx, r.ID, "b"); sluice.ErrorCode(err) != sluice.ECONFLICT {
		t.Fatalf("clearing a running task: %v", err)
	}
	b.mustComplete(c, sluice.AttemptSuccess)
	b.mustComplete(b.claimOne("c"), sluice.AttemptSuccess)
	if s := b.runState(r.ID); s != sluice.RunSuccess {
		t.Fatalf("run = %s", s)
	}
	if err := b.s.InstanceClear(b.ctx, r.ID, "nope"); sluice.ErrorCode(err) != sluice.ENOTFOUND {
		t.Fatalf("unknown task: %v", err)
	}
}

func testInstanceMark(t *testing.T, open Opener) {
	b := setup(t, open)
	b.save("p", 1, task{id: "a"}, task{id: "b", up: []string{"a"}})
	r := b.createRun("p", "r")
	c := b.claimOne("a")
	if err := b.s.InstanceMark(b.ctx, r.ID, "a", sluice.InstanceSuccess); err != nil {
		t.Fatal(err)
	}
	if err := b.complete(c, sluice.AttemptFailed, nil); !isLeaseLost(err) {
		t.Fatalf("the running attempt of a marked task kept its lease: %v", err)
	}
	b.wantStates(r.ID, map[string]sluice.InstanceState{"a": sluice.InstanceSuccess, "b": sluice.InstanceQueued})
	if err := b.s.InstanceMark(b.ctx, r.ID, "b", sluice.InstanceFailed); err != nil {
		t.Fatal(err)
	}
	if s := b.runState(r.ID); s != sluice.RunFailed {
		t.Fatalf("run = %s", s)
	}
	if err := b.s.InstanceMark(b.ctx, r.ID, "b", sluice.InstanceSuccess); err != nil {
		t.Fatal(err)
	}
	if s := b.runState(r.ID); s != sluice.RunSuccess {
		t.Fatalf("run = %s after marking its failed task success", s)
	}
	if err := b.s.InstanceMark(b.ctx, r.ID, "b", sluice.InstanceSkipped); sluice.ErrorCode(err) != sluice.EINVALID {
		t.Fatalf("marking skipped: %v", err)
	}
}

func testUsersSessionsTokens(t *testing.T, open Opener) {
	b := setup(t, open)
	ctx := context.Background()
	if n, _ := b.s.UserCount(ctx); n != 0 {
		t.Fatalf("users = %d", n)
	}
	u, err := b.s.UserCreate(ctx, &store.UserCreateParams{Name: "ann", PasswordHash: "h1", Role: store.RoleOperator})
	if err != nil || u.ID == 0 {
		t.Fatal(err)
	}
	if _, err := b.s.UserCreate(ctx, &store.UserCreateParams{Name: "ann", PasswordHash: "h", Role: store.RoleViewer}); sluice.ErrorCode(err) != sluice.ECONFLICT {
		t.Fatalf("duplicate user: %v", err)
	}
	if _, err := b.s.UserCreate(ctx, &store.UserCreateParams{Name: "bob", PasswordHash: "h", Role: "root"}); sluice.ErrorCode(err) != sluice.EINVALID {
		t.Fatalf("bad role: %v", err)
	}
	sess := &store.Session{IDHash: "s1", UserID: u.ID, CSRFToken: "csrf", CreatedAt: b.clock.Now(), ExpiresAt: b.clock.Now().Add(time.Hour)}
	if err := b.s.SessionCreate(ctx, sess); err != nil {
		t.Fatal(err)
	}
	got, gu, err := b.s.SessionGet(ctx, "s1")
	if err != nil || got.CSRFToken != "csrf" || gu.Name != "ann" || gu.Role != store.RoleOperator || gu.ZonePref != "" {
		t.Fatalf("session = %+v %+v %v", got, gu, err)
	}
	// The zone chosen for the UI is the user's, read with their session.
	utc, mars := "utc", "mars"
	if err := b.s.UserUpdate(ctx, &store.UserUpdateParams{Name: "ann", ZonePref: &utc}); err != nil {
		t.Fatal(err)
	}
	if _, gu, err := b.s.SessionGet(ctx, "s1"); err != nil || gu.ZonePref != "utc" || gu.Role != store.RoleOperator {
		t.Fatalf("session user after a zone choice = %+v %v", gu, err)
	}
	if u, err := b.s.UserGet(ctx, "ann"); err != nil || u.ZonePref != "utc" {
		t.Fatalf("user after a zone choice = %+v %v", u, err)
	}
	if err := b.s.UserUpdate(ctx, &store.UserUpdateParams{Name: "ann", ZonePref: &mars}); sluice.ErrorCode(err) != sluice.EINVALID {
		t.Fatalf("zone mars: %v", err)
	}
	b.clock.Advance(2 * time.Hour)
	if _, _, err := b.s.SessionGet(ctx, "s1"); sluice.ErrorCode(err) != sluice.ENOTFOUND {
		t.Fatalf("expired session: %v", err)
	}
	sess.IDHash, sess.ExpiresAt = "s2", b.clock.Now().Add(time.Hour)
	if err := b.s.SessionCreate(ctx, sess); err != nil {
		t.Fatal(err)
	}
	disabled := true
	if err := b.s.UserUpdate(ctx, &store.UserUpdateParams{Name: "ann", Disabled: &disabled}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := b.s.SessionGet(ctx, "s2"); sluice.ErrorCode(err) != sluice.ENOTFOUND {
		t.Fatalf("a disabled user's session still works: %v", err)
	}
	admin := store.RoleAdmin
	if err := b.s.UserUpdate(ctx, &store.UserUpdateParams{Name: "ann", Role: &admin}); err != nil {
		t.Fatal(err)
	}
	if u, _ := b.s.UserGet(ctx, "ann"); u.Role != store.RoleAdmin || !u.Disabled {
		t.Fatalf("user = %+v", u)
	}
	if err := b.s.UserDelete(ctx, "ann"); err != nil {
		t.Fatal(err)
	}
	if _, err := b.s.UserGet(ctx, "ann"); sluice.ErrorCode(err) != sluice.ENOTFOUND {
		t.Fatalf("deleted user: %v", err)
	}

	// The last enabled admin cannot be disabled, demoted or deleted.
	if _, err := b.s.UserCreate(ctx, &store.UserCreateParams{Name: "root", PasswordHash: "h", Role: store.RoleAdmin}); err != nil {
		t.Fatal(err)
	}
	viewer := store.RoleViewer
	if err := b.s.UserUpdate(ctx, &store.UserUpdateParams{Name: "root", Role: &viewer}); sluice.ErrorCode(err) != sluice.ECONFLICT {
		t.Fatalf("demoting the last admin: %v", err)
	}
	if err := b.s.UserUpdate(ctx, &store.UserUpdateParams{Name: "root", Disabled: &disabled}); sluice.ErrorCode(err) != sluice.ECONFLICT {
		t.Fatalf("disabling the last admin: %v", err)
	}
	if err := b.s.UserDelete(ctx, "root"); sluice.ErrorCode(err) != sluice.ECONFLICT {
		t.Fatalf("deleting the last admin: %v", err)
	}
	if _, err := b.s.UserCreate(ctx, &store.UserCreateParams{Name: "root2", PasswordHash: "h", Role: store.RoleAdmin}); err != nil {
		t.Fatal(err)
	}
	if err := b.s.UserDelete(ctx, "root"); err != nil {
		t.Fatalf("deleting one of two admins: %v", err)
	}

	exp := b.clock.Now().Add(time.Hour)
	root2, err := b.s.UserGet(ctx, "root2")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.s.TokenCreate(ctx, &store.Token{Name: "nobody's", Hash: "tn", Role: store.RoleOperator}); sluice.ErrorCode(err) != sluice.EINVALID {
		t.Fatalf("a token of no user that is not a system token: %v", err)
	}
	if _, err := b.s.TokenCreate(ctx, &store.Token{Name: "ghost's", Hash: "tg", Role: store.RoleOperator, UserID: 999999}); sluice.ErrorCode(err) != sluice.ENOTFOUND {
		t.Fatalf("a token of a user that does not exist: %v", err)
	}
	tk, err := b.s.TokenCreate(ctx, &store.Token{Name: "ci", Hash: "th", Role: store.RoleOperator, UserID: root2.ID, CreatedBy: "root2", ExpiresAt: &exp})
	if err != nil || tk.ID == 0 {
		t.Fatal(err)
	}
	got2, err := b.s.TokenGet(ctx, "th")
	if err != nil || got2.Name != "ci" || got2.Role != store.RoleOperator || got2.UserID != root2.ID || got2.System ||
		got2.User == nil || got2.User.Name != "root2" || got2.User.Role != store.RoleAdmin || got2.User.Disabled {
		t.Fatalf("token = %+v (user %+v) %v", got2, got2.User, err)
	}
	if list, _ := b.s.TokenList(ctx); len(list) != 1 || list[0].LastUsedAt == nil || list[0].User == nil || list[0].User.Name != "root2" {
		t.Fatalf("tokens = %+v", list)
	}
	sys, err := b.s.TokenCreate(ctx, &store.Token{Name: "local CLI", Hash: "ts", Role: store.RoleAdmin, System: true, CreatedBy: "sluice server"})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := b.s.TokenGet(ctx, "ts"); err != nil || !got.System || got.User != nil || got.UserID != 0 {
		t.Fatalf("system token = %+v %v", got, err)
	}
	if err := b.s.TokenDelete(ctx, sys.ID); err != nil {
		t.Fatal(err)
	}
	// The token reads its user as the user is now, and goes with them.
	if _, err := b.s.UserCreate(ctx, &store.UserCreateParams{Name: "temp", PasswordHash: "h", Role: store.RoleOperator}); err != nil {
		t.Fatal(err)
	}
	temp, _ := b.s.UserGet(ctx, "temp")
	if _, err := b.s.TokenCreate(ctx, &store.Token{Name: "temp's", Hash: "tt", Role: store.RoleAdmin, UserID: temp.ID, CreatedBy: "temp"}); err != nil {
		t.Fatal(err)
	}
	if err := b.s.UserUpdate(ctx, &store.UserUpdateParams{Name: "temp", Role: &viewer, Disabled: &disabled}); err != nil {
		t.Fatal(err)
	}
	if got, err := b.s.TokenGet(ctx, "tt"); err != nil || got.User == nil || got.User.Role != store.RoleViewer || !got.User.Disabled {
		t.Fatalf("token of a demoted, disabled user = %+v %v", got, err)
	}
	if err := b.s.UserDelete(ctx, "temp"); err != nil {
		t.Fatal(err)
	}
	if _, err := b.s.TokenGet(ctx, "tt"); sluice.ErrorCode(err) != sluice.ENOTFOUND {
		t.Fatalf("the token of a deleted user: %v", err)
	}
	b.clock.Advance(2 * time.Hour)
	if _, err := b.s.TokenGet(ctx, "th"); sluice.ErrorCode(err) != sluice.ENOTFOUND {
		t.Fatalf("expired token: %v", err)
	}
	if err := b.s.TokenDelete(ctx, tk.ID); err != nil {
		t.Fatal(err)
	}
	if err := b.s.TokenDelete(ctx, tk.ID); sluice.ErrorCode(err) != sluice.ENOTFOUND {
		t.Fatalf("deleting twice: %v", err)
	}

	now := b.clock.Now()
	for i := 0; i < 4; i++ {
		if err := b.s.LoginAttemptAdd(ctx, fmt.Sprint("attempt-", i), []string{"user:ann", "ip:1.2.3.4"}, now.Add(-time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	// A login that succeeded is not a failure.
	if err := b.s.LoginAttemptForget(ctx, "attempt-2"); err != nil {
		t.Fatal(err)
	}
	if n, _ := b.s.LoginFailureCount(ctx, "user:ann", now.Add(-time.Minute)); n != 3 {
		t.Fatalf("failures = %d", n)
	}
	if n, _ := b.s.LoginFailureCount(ctx, "ip:1.2.3.4", now.Add(-time.Minute)); n != 3 {
		t.Fatalf("failures of the address = %d", n)
	}
	b.clock.Advance(2 * time.Hour)
	if err := b.s.LoginAttemptAdd(ctx, "attempt-4", []string{"ip:5.6.7.8"}, b.clock.Now().Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	if n, _ := b.s.LoginFailureCount(ctx, "user:ann", now.Add(-time.Minute)); n != 0 {
		t.Fatalf("old failures were not forgotten: %d", n)
	}
}

// testAttemptsGoWithInstances checks that whatever deletes task instances
// deletes their attempts and logs: a pipeline's deletion, retention, and
// a mapped task's items when it is cleared. Attempts are read by instance
// id here, so one left behind by its deleted instance shows.
func testAttemptsGoWithInstances(t *testing.T, open Opener) {
	b := setup(t, open)
	b.save("p", 5, task{id: "a"}, task{id: "b", up: []string{"a"}})
	b.saveWith("old", pipelineOpts{maxActiveRuns: 5, retention: time.Hour}, task{id: "a"})
	b.save("m", 5, task{id: "each", mapped: true})
	gone := func(what string, instanceID, attemptID int64) {
		t.Helper()
		if as, err := b.s.AttemptList(b.ctx, instanceID); err != nil || len(as) != 0 {
			t.Errorf("%s: %d attempts of a deleted instance left (%v)", what, len(as), err)
		}
		if logs, err := b.s.LogList(b.ctx, attemptID, 0); err != nil || len(logs) != 0 {
			t.Errorf("%s: %d log chunks of a deleted attempt left (%v)", what, len(logs), err)
		}
	}
	logged := func(c *store.Claim) {
		t.Helper()
		if err := b.s.AttemptLogAppend(b.ctx, &store.AttemptLogAppendParams{Lease: c.Lease, Chunk: store.LogChunk{Seq: 1, Data: []byte("x\n")}}); err != nil {
			t.Fatal(err)
		}
	}

	// A pipeline's deletion: a finished attempt and a running one.
	b.createRun("p", "r")
	done := b.claimOne("a")
	logged(done)
	b.mustComplete(done, sluice.AttemptSuccess)
	running := b.claimOne("b")
	logged(running)
	if err := b.s.PipelineDelete(b.ctx, "p"); err != nil {
		t.Fatal(err)
	}
	gone("pipeline deleted", done.InstanceID, done.AttemptID)
	gone("pipeline deleted, running attempt", running.InstanceID, running.AttemptID)

	// Retention.
	old := b.createRun("old", "r")
	c := b.claimOne("a")
	logged(c)
	b.mustComplete(c, sluice.AttemptSuccess)
	b.clock.Advance(2 * time.Hour)
	if res, err := b.s.RetentionPrune(b.ctx, &store.RetentionParams{Batch: 10}); err != nil || res.Rows["runs"] != 1 || res.Rows["attempts"] != 1 {
		t.Fatalf("prune = %+v, %v; want the old run and its attempt", res, err)
	}
	if _, err := b.s.RunGet(b.ctx, old.ID); sluice.ErrorCode(err) != sluice.ENOTFOUND {
		t.Fatalf("pruned run still there: %v", err)
	}
	gone("pruned", c.InstanceID, c.AttemptID)

	// A mapped task cleared: its items go, and their attempts with them.
	r := b.createRun("m", "r")
	parent := b.claimOne("each")
	if err := b.s.InstanceExpand(b.ctx, &store.InstanceExpandParams{Lease: parent.Lease, Items: []string{"x", "y"}}); err != nil {
		t.Fatal(err)
	}
	items := b.claim(10)
	if len(items) != 2 {
		t.Fatalf("claimed %d items, want 2", len(items))
	}
	logged(items[0])
	b.mustComplete(items[0], sluice.AttemptSuccess)
	b.mustComplete(items[1], sluice.AttemptSuccess)
	if s := b.runState(r.ID); s != sluice.RunSuccess {
		t.Fatalf("run = %s", s)
	}
	if err := b.s.InstanceClear(b.ctx, r.ID, "each"); err != nil {
		t.Fatal(err)
	}
	for _, it := range items {
		gone("items of a cleared mapped task", it.InstanceID, it.AttemptID)
	}
	if as, err := b.s.AttemptListByRun(b.ctx, r.ID); err != nil || len(as) != 1 || as[0].InstanceID != parent.InstanceID {
		t.Fatalf("attempts of the run after the clear = %+v, %v; want the mapped task's own", as, err)
	}
}
