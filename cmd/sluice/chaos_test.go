package main_test

import (
	"database/sql"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/pgtest"
)

var chaosLong = flag.Bool("chaos.long", false, "run the chaos test as a long soak (also SLUICE_CHAOS_LONG=1)")

// TestChaos runs two schedulers and three workers as real processes on
// PostgreSQL, kills one of them with SIGKILL every ~2s and starts a
// replacement, and checks that nothing is lost and nothing is done twice.
func TestChaos(t *testing.T) {
	t.Parallel()
	runs, killEvery := 200, 2*time.Second
	if *chaosLong || os.Getenv("SLUICE_CHAOS_LONG") != "" {
		runs = 3000
	}
	url := pgtest.Schema(t)
	dir := t.TempDir()
	pipes := filepath.Join(dir, "pipelines")
	os.Mkdir(pipes, 0o755)
	out := filepath.Join(dir, "attempts.txt")

	// A catch-up backlog of exactly `runs` runs of a 10-task pipeline. Each
	// task appends run/task/attempt to one file and takes a moment, so
	// kills land while tasks run.
	start := time.Now().UTC().Truncate(time.Minute).Add(-time.Duration(runs+5) * time.Minute)
	var b strings.Builder
	fmt.Fprintf(&b, "id: chaos\nschedule: \"* * * * *\"\ncatchup: true\nstart: %s\nend: %s\nmax_active_runs: 25\n",
		start.Format(time.RFC3339), start.Add(time.Duration(runs-1)*time.Minute).Format(time.RFC3339))
	fmt.Fprintf(&b, "defaults:\n  retries: 20\n  retry_delay: 100ms\ntasks:\n")
	deps := map[int]string{1: "[t0]", 2: "[t0]", 3: "[t0]", 4: "[t0]", 5: "[t1, t2, t3, t4]", 6: "[t5]", 7: "[t5]", 8: "[t6, t7]", 9: "[t8]"}
	for i := 0; i < 10; i++ {
		fmt.Fprintf(&b, "  t%d:\n    run: echo \"$SLUICE_RUN_ID/$SLUICE_TASK/$SLUICE_ATTEMPT\" >> %s; sleep 0.1\n", i, out)
		if d, ok := deps[i]; ok {
			fmt.Fprintf(&b, "    depends_on: %s\n", d)
		}
	}
	writeFile(t, pipes, "chaos.yaml", b.String())

	db := []string{"--db", url, "--listen", "", "--db-max-conns", "4", "--poll", "500ms"}
	roles := []struct {
		role string
		args []string
	}{
		{"scheduler", append(append([]string{}, db...), "--pipelines", pipes)},
		{"scheduler", append(append([]string{}, db...), "--pipelines", pipes)},
		{"worker", append(append([]string{}, db...), "--lease", "2s", "--concurrency", "8", "--kill-grace", "1s")},
		{"worker", append(append([]string{}, db...), "--lease", "2s", "--concurrency", "8", "--kill-grace", "1s")},
		// One worker hears no NOTIFY, as behind a transaction-pooling
		// proxy: it finds work by polling alone.
		{"worker", append(append([]string{}, db...), "--lease", "2s", "--concurrency", "8", "--kill-grace", "1s", "--no-listen")},
	}
	procs := make([]*proc, len(roles))
	var retired []*proc
	for i, r := range roles {
		procs[i] = startProc(t, dir, r.role, r.args...)
	}
	admin, schema := pgtest.Require(t), pgtest.SchemaOf(url)
	logs := func() string {
		var sb strings.Builder
		for _, p := range append(retired, procs...) {
			l := p.logs()
			if len(l) > 4000 {
				l = "…" + l[len(l)-4000:]
			}
			fmt.Fprintf(&sb, "--- %s (pid %d)\n%s", p.role, p.cmd.Process.Pid, l)
		}
		return sb.String()
	}

	kills := map[string]int{}
	deadline := time.Now().Add(3 * time.Minute)
	if runs > 200 {
		deadline = time.Now().Add(30 * time.Minute)
	}
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	next := time.Now().Add(killEvery)
	for {
		if done, total := finishedRuns(t, admin, schema); done == runs && total == runs {
			break
		}
		if time.Now().After(deadline) {
			done, total := finishedRuns(t, admin, schema)
			t.Fatalf("after kills %v: %d of %d runs finished (%d created)\n%s", kills, done, runs, total, logs())
		}
		if time.Now().After(next) {
			i := rng.IntN(len(procs))
			victim := procs[i]
			_ = victim.cmd.Process.Kill()
			<-victim.done
			kills[victim.role]++
			retired = append(retired, victim)
			procs[i] = startProc(t, dir, roles[i].role, roles[i].args...)
			next = time.Now().Add(killEvery/2 + time.Duration(rng.Int64N(int64(killEvery))))
		}
		time.Sleep(100 * time.Millisecond)
	}
	for _, p := range procs {
		if code := p.term(t); code != 0 {
			t.Errorf("%s exited %d on SIGTERM", p.role, code)
		}
	}
	checkChaos(t, admin, schema, out, runs, kills)
}

// finishedRuns counts the runs of the chaos pipeline: finished ones and all.
func finishedRuns(t *testing.T, db *sql.DB, schema string) (done, total int) {
	t.Helper()
	err := db.QueryRow(`SELECT count(*) FILTER (WHERE state IN ('success', 'failed', 'cancelled')), count(*) FROM `+schema+`.runs`).Scan(&done, &total)
	if err != nil {
		return 0, 0
	}
	return done, total
}

// checkChaos checks what must hold after the chaos, straight from the
// tables, and prints what happened.
func checkChaos(t *testing.T, db *sql.DB, schema, out string, runs int, kills map[string]int) {
	t.Helper()
	q := func(query string, args ...any) int {
		t.Helper()
		var n int
		if err := db.QueryRow(strings.ReplaceAll(query, "$s.", schema+"."), args...).Scan(&n); err != nil {
			t.Fatalf("%s: %v", query, err)
		}
		return n
	}
	if n := q(`SELECT count(*) FROM $s.runs WHERE state = 'success'`); n != runs {
		t.Errorf("%d of %d runs succeeded", n, runs)
	}
	if n := q(`SELECT count(*) FROM $s.task_instances`); n != runs*10 {
		t.Errorf("%d task instances, want %d", n, runs*10)
	}
	if n := q(`SELECT count(*) FROM $s.task_instances ti WHERE (SELECT count(*) FROM $s.attempts a WHERE a.instance_id = ti.id AND a.state = 'success') <> 1`); n != 0 {
		t.Errorf("%d task instances without exactly one successful attempt", n)
	}
	if n := q(`SELECT count(*) FROM $s.task_instances WHERE state <> 'success'`); n != 0 {
		t.Errorf("%d task instances not in success (queued, running or failed)", n)
	}
	if n := q(`SELECT count(*) FROM $s.attempts WHERE state = 'running'`); n != 0 {
		t.Errorf("%d attempts still running", n)
	}
	// An attempt whose lease was taken over never wrote its outcome: a
	// completion sets the exit code, the reaper does not.
	if n := q(`SELECT count(*) FROM $s.attempts WHERE state = 'lost' AND (exit_code IS NOT NULL OR error NOT LIKE 'lost:%')`); n != 0 {
		t.Errorf("%d lost attempts carry an outcome their worker wrote", n)
	}
	// Every line a task wrote belongs to an attempt the database knows.
	known := map[string]string{}
	rows, err := db.Query(`SELECT run_id, task_id, number, state FROM ` + schema + `.attempts`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var run int64
		var task, state string
		var number int
		if err := rows.Scan(&run, &task, &number, &state); err != nil {
			t.Fatal(err)
		}
		known[fmt.Sprintf("%d/%s/%d", run, task, number)] = state
	}
	rows.Close()
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	unknown := 0
	for _, l := range lines {
		if _, ok := known[l]; !ok {
			unknown++
			if unknown <= 5 {
				t.Errorf("line %q matches no attempt", l)
			}
		}
	}
	states := map[string]int{}
	for _, s := range known {
		states[s]++
	}
	t.Logf("chaos: %d runs of 10 tasks; kills: %d schedulers, %d workers; attempts: %d (%v); requeued after a lost lease: %d; lines written: %d",
		runs, kills["scheduler"], kills["worker"], len(known), states, states["lost"], len(lines))
	if kills["scheduler"]+kills["worker"] == 0 {
		t.Error("nothing was killed")
	}
}
