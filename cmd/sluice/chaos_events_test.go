package main_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/pgtest"
)

// TestChaosEvents is the chaos run with an event source: two schedulers,
// two workers and two web processes on PostgreSQL, one of them killed
// with SIGKILL every second or so and replaced (every other time a web
// process), while events arrive:
//
//   - signed webhook deliveries, each with its own Idempotency-Key; some
//     are sent again after their answer (a redelivery), some to both web
//     processes at once, some first with a bad signature. A request that
//     fails because its server died is sent again, as GitHub would.
//   - asset events: a producer pipeline's task successes (asset
//     chaos.a) and POST /api/v1/assets/chaos.b/events, consumed by three
//     pipelines scheduled on [chaos.a], [chaos.b] and [chaos.a, chaos.b].
//   - files dropped into a folder that both schedulers watch for a
//     pipeline's files trigger.
//
// At the end, every delivery made exactly one run and every answer about
// it named that run, the asset events were each consumed by exactly one
// run of each consumer with none left behind (see checkConsumer), every
// file made exactly one run, and every run succeeded.
func TestChaosEvents(t *testing.T) {
	t.Parallel()
	const (
		deliveries = 300 // webhook deliveries, each with its own key
		producers  = 40  // runs of the producer, each one event of chaos.a
		emits      = 50  // events of chaos.b sent through the API
		drops      = 60  // files dropped into the watched folder
		hookSecret = "chaos-hook-secret"
	)
	url := pgtest.Schema(t)
	admin, schema := pgtest.Require(t), pgtest.SchemaOf(url)
	dir := t.TempDir()
	pipes := filepath.Join(dir, "pipelines")
	os.Mkdir(pipes, 0o755)
	var key [32]byte
	_, _ = rand.Read(key[:])
	env := []string{"SLUICE_SECRET_KEY=" + hex.EncodeToString(key[:])}

	task := "defaults:\n  retries: 20\n  retry_delay: 100ms\ntasks:\n  work:\n    run: sleep 0.05\n"
	writeFile(t, pipes, "hooked.yaml", `id: hooked
params:
  n: {type: int, required: true}
triggers:
  - webhook:
      secret: CHAOS_HOOK
      params: {n: "${{ body.n }}"}
`+task)
	// A backlog of producer runs, one at a time, so that its successes
	// (and the events of chaos.a they record) come while processes die.
	start := time.Now().UTC().Truncate(time.Minute).Add(-time.Duration(producers+5) * time.Minute)
	writeFile(t, pipes, "producer.yaml", fmt.Sprintf(`id: producer
schedule: "* * * * *"
catchup: true
start: %s
end: %s
max_active_runs: 1
defaults:
  retries: 20
  retry_delay: 100ms
tasks:
  make:
    run: sleep 0.2
    produces: [chaos.a]
`, start.Format(time.RFC3339), start.Add(time.Duration(producers-1)*time.Minute).Format(time.RFC3339)))
	writeFile(t, pipes, "consumer_a.yaml", "id: consumer_a\nschedule: {assets: [chaos.a]}\n"+task)
	writeFile(t, pipes, "consumer_b.yaml", "id: consumer_b\nschedule: {assets: [chaos.b]}\n"+task)
	writeFile(t, pipes, "consumer_ab.yaml", "id: consumer_ab\nschedule: {assets: [chaos.a, chaos.b]}\n"+task)
	dropDir := filepath.Join(dir, "drop")
	os.Mkdir(dropDir, 0o755)
	writeFile(t, pipes, "dropped.yaml", fmt.Sprintf(`id: dropped
params:
  file: {type: string, required: true}
triggers:
  - files: {path: %q, stable_for: 500ms, existing: run, params: {file: "${{ file.path }}"}}
`, dropDir)+task)

	db := []string{"--db", url, "--db-max-conns", "4"}
	roles := []struct {
		role string
		args []string
	}{
		{"scheduler", append(append([]string{}, db...), "--listen", "", "--poll", "500ms", "--pipelines", pipes)},
		{"scheduler", append(append([]string{}, db...), "--listen", "", "--poll", "500ms", "--pipelines", pipes)},
		{"worker", append(append([]string{}, db...), "--listen", "", "--poll", "500ms", "--lease", "2s", "--concurrency", "8", "--kill-grace", "1s")},
		{"worker", append(append([]string{}, db...), "--listen", "", "--poll", "500ms", "--lease", "2s", "--concurrency", "8", "--kill-grace", "1s")},
		{"web", append(append([]string{}, db...), "--listen", "127.0.0.1:0", "--auth", "none")},
		{"web", append(append([]string{}, db...), "--listen", "127.0.0.1:0", "--auth", "none")},
	}
	procs := make([]*proc, len(roles))
	var retired []*proc
	logs := func() string {
		var sb strings.Builder
		for _, p := range append(retired, procs...) {
			l := p.logs()
			if len(l) > 3000 {
				l = "…" + l[len(l)-3000:]
			}
			fmt.Fprintf(&sb, "--- %s (pid %d)\n%s", p.role, p.cmd.Process.Pid, l)
		}
		return sb.String()
	}
	// The clients read the web processes' addresses from webs; a killed
	// one's slot is empty until its replacement listens.
	var (
		webMu sync.Mutex
		webs  = make([]string, len(roles))
	)
	startRole := func(i int) {
		procs[i] = startBinaryEnv(t, binary, dir, env, roles[i].role, roles[i].args...)
		if roles[i].role == "web" {
			u := procs[i].waitURL(t)
			webMu.Lock()
			webs[i] = u
			webMu.Unlock()
		}
	}
	// Schedulers first: every pipeline is saved before a worker can run
	// a producer, so the consumers see every event of their assets.
	startRole(0)
	startRole(1)
	waitFor(t, 30*time.Second, "the six pipelines to load", logs, func() bool {
		var n int
		_ = admin.QueryRow(`SELECT count(*) FROM ` + schema + `.pipelines WHERE version_id IS NOT NULL`).Scan(&n)
		return n == 6
	})
	for i := 2; i < len(roles); i++ {
		startRole(i)
	}
	web := func(not string) string {
		webMu.Lock()
		defer webMu.Unlock()
		var live []string
		for _, u := range webs {
			if u != "" && u != not {
				live = append(live, u)
			}
		}
		if len(live) == 0 {
			return ""
		}
		return live[mrand.IntN(len(live))]
	}
	setSecret(t, web(""), "CHAOS_HOOK", hookSecret)

	cl := &chaosClient{http: &http.Client{Timeout: 10 * time.Second}, web: web, secret: []byte(hookSecret)}
	var wg sync.WaitGroup
	stopped := make(chan struct{})
	// Deliveries, six at a time.
	jobs := make(chan int)
	for w := 0; w < 6; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				cl.delivery(i)
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; i < deliveries; i++ {
			jobs <- i
			time.Sleep(40 * time.Millisecond)
		}
		close(jobs)
	}()
	// Events of chaos.b from outside.
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; i < emits; i++ {
			cl.emit("chaos.b", fmt.Sprintf("emit-%d", i))
			time.Sleep(time.Duration(100+mrand.IntN(300)) * time.Millisecond)
		}
	}()
	// Files, each written aside and renamed into the folder.
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; i < drops; i++ {
			writeFile(t, dropDir, fmt.Sprintf("drop-%03d.csv", i), strings.Repeat("x", i+1))
			time.Sleep(time.Duration(50+mrand.IntN(200)) * time.Millisecond)
		}
	}()
	go func() { wg.Wait(); close(stopped) }()

	// Kill a random process every 0.7-2 s while the events come, and
	// until the producer's backlog is done.
	kills := map[string]int{}
	// A guard against a hang, not a speed check: on a loaded machine a
	// request takes a second or more, and every kill costs a restart.
	const guard = 4 * time.Minute
	deadline := time.Now().Add(guard)
	next := time.Now().Add(time.Second)
	producing := func() bool {
		var n int
		_ = admin.QueryRow(`SELECT count(*) FROM ` + schema + `.runs WHERE pipeline_id = 'producer' AND state = 'success'`).Scan(&n)
		return n < producers
	}
	for done := false; !done || producing(); {
		select {
		case <-stopped:
			done = true
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("events still coming after %s (kills %v)\n%s", guard, kills, logs())
		}
		if time.Now().After(next) {
			// Every other kill is of a web process, with a request in
			// flight if one comes within a second: its client gets no
			// answer, whether or not its run was made, and sends it again.
			// The others are of a scheduler or a worker.
			i := mrand.IntN(4)
			if len(retired)%2 == 0 {
				i = 4 + mrand.IntN(2)
				webMu.Lock()
				u := webs[i]
				webMu.Unlock()
				for wait := time.Now().Add(time.Second); cl.inFlight(u) == 0 && time.Now().Before(wait); {
					time.Sleep(time.Millisecond)
				}
				// A moment into the request: before its commit or after.
				time.Sleep(time.Duration(mrand.IntN(4000)) * time.Microsecond)
			}
			victim := procs[i]
			webMu.Lock()
			webs[i] = ""
			webMu.Unlock()
			_ = victim.cmd.Process.Kill()
			<-victim.done
			kills[victim.role]++
			retired = append(retired, victim)
			startRole(i)
			next = time.Now().Add(700*time.Millisecond + time.Duration(mrand.IntN(1300))*time.Millisecond)
		}
		time.Sleep(50 * time.Millisecond)
	}

	// Every file gets its run (after stable_for, from a live scheduler),
	// and every run finishes.
	waitFor(t, 60*time.Second, "a run for every file", logs, func() bool {
		var n int
		_ = admin.QueryRow(`SELECT count(*) FROM ` + schema + `.runs WHERE pipeline_id = 'dropped'`).Scan(&n)
		return n >= drops
	})
	waitFor(t, 60*time.Second, "every run to finish", logs, func() bool {
		var open int
		_ = admin.QueryRow(`SELECT count(*) FROM ` + schema + `.runs WHERE state NOT IN ('success', 'failed', 'cancelled')`).Scan(&open)
		return open == 0
	})
	for _, p := range procs {
		if code := p.term(t); code != 0 {
			t.Errorf("%s exited %d on SIGTERM", p.role, code)
		}
	}
	cl.check(t, admin, schema, deliveries)
	q := func(query string) int {
		t.Helper()
		var n int
		if err := admin.QueryRow(strings.ReplaceAll(query, "$s.", schema+".")).Scan(&n); err != nil {
			t.Fatalf("%s: %v", query, err)
		}
		return n
	}
	if n := q(`SELECT count(*) FROM $s.runs WHERE state <> 'success'`); n != 0 {
		t.Errorf("%d runs did not succeed", n)
	}
	// Each producer run's one success recorded one event, no more.
	if n := q(`SELECT count(*) FROM $s.runs WHERE pipeline_id = 'producer'`); n != producers {
		t.Errorf("%d producer runs, want %d", n, producers)
	}
	if n := q(`SELECT count(*) FROM $s.asset_events WHERE asset = 'chaos.a'`); n != producers {
		t.Errorf("%d events of chaos.a, want one per producer run (%d)", n, producers)
	}
	if n := q(`SELECT count(DISTINCT run_id) FROM $s.asset_events WHERE asset = 'chaos.a' AND pipeline_id = 'producer' AND task_id = 'make'`); n != producers {
		t.Errorf("events of chaos.a come from %d producer runs, want %d", n, producers)
	}
	// Every event the API acknowledged is there, and no more: a request
	// whose server died was sent again with its Idempotency-Key.
	cl.mu.Lock()
	acked := slices.Clone(cl.events)
	cl.mu.Unlock()
	for _, id := range acked {
		var asset string
		if err := admin.QueryRow(`SELECT asset FROM `+schema+`.asset_events WHERE id = $1`, id).Scan(&asset); err != nil || asset != "chaos.b" {
			t.Errorf("event %d the API answered for is not an event of chaos.b (%q, %v)", id, asset, err)
		}
	}
	if n := q(`SELECT count(*) FROM $s.asset_events WHERE asset = 'chaos.b'`); n != emits || len(acked) != emits {
		t.Errorf("%d events of chaos.b, %d acknowledged, want %d: one per key", n, len(acked), emits)
	}
	// Each file made one run, naming it, with one trigger event.
	if n, files := q(`SELECT count(*) FROM $s.runs WHERE pipeline_id = 'dropped'`), q(`SELECT count(DISTINCT params) FROM $s.runs WHERE pipeline_id = 'dropped' AND kind = 'files'`); n != drops || files != drops {
		t.Errorf("%d runs of dropped for %d distinct files, want one run for each of the %d files", n, files, drops)
	}
	if n := q(`SELECT count(*) FROM $s.trigger_events e JOIN $s.runs r ON r.id = e.run_id WHERE r.pipeline_id = 'dropped'`); n != drops {
		t.Errorf("%d trigger events of files runs, want %d", n, drops)
	}
	consumed := map[string]int{}
	for _, c := range []struct {
		pipeline string
		assets   []string
	}{
		{"consumer_a", []string{"chaos.a"}},
		{"consumer_b", []string{"chaos.b"}},
		{"consumer_ab", []string{"chaos.a", "chaos.b"}},
	} {
		consumed[c.pipeline] = checkConsumer(t, admin, schema, c.pipeline, c.assets)
	}
	cl.mu.Lock()
	defer cl.mu.Unlock()
	unheard := 0 // deliveries whose run was made but whose 201 was lost with its server
	for key := range cl.runs {
		if cl.created[key] == 0 {
			unheard++
		}
	}
	t.Logf("chaos with events: kills %v; %d deliveries (%d requests, %d failed with the server gone and were sent again, %d answered 200 for a repeat, "+
		"%d made their run on a server that died before it answered); "+
		"%d producer runs; %d events of chaos.b acknowledged; runs of consumer_a %d, consumer_b %d, consumer_ab %d; %d files dropped",
		kills, deliveries, cl.requests, cl.resent, cl.repeats, unheard, producers, len(acked), consumed["consumer_a"], consumed["consumer_b"], consumed["consumer_ab"], drops)
	if kills["web"] == 0 || kills["scheduler"]+kills["worker"] == 0 {
		t.Errorf("kills %v: want web processes and others killed", kills)
	}
}

// setSecret sets a secret through the API of a server with --auth none.
func setSecret(t *testing.T, base, name, value string) {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"value": value})
	req, _ := http.NewRequest(http.MethodPut, base+"/api/v1/secrets/"+name, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("set secret %s: %d %s", name, resp.StatusCode, b)
	}
}

// chaosClient sends the events of TestChaosEvents and remembers every
// answer.
type chaosClient struct {
	http   *http.Client
	web    func(not string) string // a live web process other than not
	secret []byte

	mu       sync.Mutex
	flying   map[string]int     // web process → requests waiting for its answer
	runs     map[string][]int64 // delivery key → the run of each answer
	created  map[string]int     // delivery key → 201 answers
	events   []int64            // asset events acknowledged
	errs     []string
	requests int
	resent   int // requests sent again because the first got no answer
	repeats  int // 200 answers: a key seen before
}

func (c *chaosClient) fail(format string, args ...any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.errs = append(c.errs, fmt.Sprintf(format, args...))
}

// post sends one request to a live web process other than avoid,
// again and again until a server answers with anything but a 5xx,
// and returns the answer and the server that gave it.
func (c *chaosClient) post(avoid, path string, body []byte, header map[string]string) (int, []byte, string) {
	deadline := time.Now().Add(60 * time.Second)
	for attempt := 0; ; attempt++ {
		base := c.web(avoid)
		if base == "" {
			base = c.web("")
		}
		if time.Now().After(deadline) {
			c.fail("%s: no answer within 60s", path)
			return 0, nil, ""
		}
		if base == "" {
			time.Sleep(50 * time.Millisecond)
			continue
		}
		req, _ := http.NewRequest(http.MethodPost, base+path, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		for k, v := range header {
			req.Header.Set(k, v)
		}
		c.mu.Lock()
		c.requests++
		if attempt > 0 {
			c.resent++
		}
		c.mu.Unlock()
		c.mu.Lock()
		if c.flying == nil {
			c.flying = map[string]int{}
		}
		c.flying[base]++
		c.mu.Unlock()
		resp, err := c.http.Do(req)
		var b []byte
		if err == nil {
			b, err = io.ReadAll(resp.Body)
			resp.Body.Close()
		}
		c.mu.Lock()
		c.flying[base]--
		c.mu.Unlock()
		if err != nil {
			time.Sleep(50 * time.Millisecond)
			continue
		}
		if resp.StatusCode >= 500 {
			time.Sleep(50 * time.Millisecond)
			continue
		}
		return resp.StatusCode, b, base
	}
}

// inFlight returns how many requests to a web process wait for its
// answer.
func (c *chaosClient) inFlight(base string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.flying[base]
}

func (c *chaosClient) sign(body []byte) string {
	m := hmac.New(sha256.New, c.secret)
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// delivery sends delivery i the way its number says: plainly; then again
// (a redelivery); to both web processes at once; or with a bad signature
// first.
func (c *chaosClient) delivery(i int) {
	key := "delivery-" + strconv.Itoa(i)
	body := []byte(fmt.Sprintf(`{"n": %d, "ref": "refs/heads/main"}`, i))
	send := func(avoid string) string {
		code, b, base := c.post(avoid, "/hooks/hooked", body, map[string]string{"X-Hub-Signature-256": c.sign(body), "Idempotency-Key": key})
		var run struct {
			ID     int64          `json:"id"`
			Params map[string]any `json:"params"`
		}
		if code != http.StatusCreated && code != http.StatusOK || json.Unmarshal(b, &run) != nil || run.ID == 0 {
			c.fail("delivery %s: %d %s", key, code, b)
			return base
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.runs == nil {
			c.runs, c.created = map[string][]int64{}, map[string]int{}
		}
		c.runs[key] = append(c.runs[key], run.ID)
		if code == http.StatusCreated {
			c.created[key]++
		} else {
			c.repeats++
		}
		return base
	}
	switch i % 4 {
	case 0:
		send("")
	case 1:
		first := send("")
		time.Sleep(time.Duration(mrand.IntN(500)) * time.Millisecond)
		send(first) // the other web process, if it is alive
	case 2:
		var wg sync.WaitGroup
		first := c.web("")
		wg.Add(2)
		go func() { defer wg.Done(); send(first) }()
		go func() { defer wg.Done(); send(c.web(first)) }()
		wg.Wait()
	case 3:
		bad := append([]byte(nil), body...)
		bad[len(bad)-2] = ' ' // the signature is of the body as sent
		code, b, _ := c.post("", "/hooks/hooked", body, map[string]string{"X-Hub-Signature-256": c.sign(bad), "Idempotency-Key": key})
		if code != http.StatusUnauthorized {
			c.fail("delivery %s with a bad signature: %d %s", key, code, b)
		}
		send("")
	}
}

// emit sends an event of asset through the API and remembers its id.
// emit sends an event of asset with an Idempotency-Key: a request whose
// server died is sent again with it, so each event is recorded once.
func (c *chaosClient) emit(asset, key string) {
	code, b, _ := c.post("", "/api/v1/assets/"+asset+"/events", []byte(`{"extra": {"from": "chaos"}}`), map[string]string{"Idempotency-Key": key})
	var res struct {
		Event struct {
			ID int64 `json:"id"`
		} `json:"event"`
	}
	if code != http.StatusCreated && code != http.StatusOK || json.Unmarshal(b, &res) != nil || res.Event.ID == 0 {
		c.fail("emit %s: %d %s", asset, code, b)
		return
	}
	c.mu.Lock()
	c.events = append(c.events, res.Event.ID)
	c.mu.Unlock()
}

// check checks the deliveries: every answer about a key named one run,
// at most one of them said it was created, and the database holds
// exactly one run and one trigger event per key, with the params of its
// body.
func (c *chaosClient) check(t *testing.T, db *sql.DB, schema string, deliveries int) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, e := range c.errs {
		if i == 10 {
			t.Errorf("… and %d more", len(c.errs)-10)
			break
		}
		t.Error(e)
	}
	rows, err := db.Query(`SELECT te.key, te.run_id, r.params FROM ` + schema + `.trigger_events te JOIN ` + schema + `.runs r ON r.id = te.run_id WHERE te.pipeline_id = 'hooked'`)
	if err != nil {
		t.Fatal(err)
	}
	inDB := map[string]int64{}
	// At most a few messages of each kind: one cause breaks many keys.
	shown := map[string]int{}
	errorf := func(kind, format string, args ...any) {
		t.Helper()
		if shown[kind]++; shown[kind] <= 5 {
			t.Errorf(format, args...)
		}
	}
	defer func() {
		for kind, n := range shown {
			if n > 5 {
				t.Errorf("… and %d more %s", n-5, kind)
			}
		}
	}()
	for rows.Next() {
		var (
			key    string
			run    int64
			params string
		)
		if err := rows.Scan(&key, &run, &params); err != nil {
			t.Fatal(err)
		}
		inDB[key] = run
		n, _ := strconv.Atoi(strings.TrimPrefix(key, "delivery-"))
		var p struct{ N int }
		if json.Unmarshal([]byte(params), &p) != nil || p.N != n {
			errorf("runs with the wrong params", "run %d of %s has params %s", run, key, params)
		}
	}
	rows.Close()
	var runs int
	_ = db.QueryRow(`SELECT count(*) FROM ` + schema + `.runs WHERE pipeline_id = 'hooked'`).Scan(&runs)
	if runs != deliveries || len(inDB) != deliveries {
		t.Errorf("%d deliveries made %d runs with %d trigger events", deliveries, runs, len(inDB))
	}
	for i := 0; i < deliveries; i++ {
		key := "delivery-" + strconv.Itoa(i)
		answered := c.runs[key]
		if len(answered) == 0 {
			errorf("deliveries without an answer", "%s: no answer", key)
			continue
		}
		for _, r := range answered {
			if r != inDB[key] {
				errorf("deliveries answered with another run", "%s: answered runs %v, the database has run %d", key, answered, inDB[key])
				break
			}
		}
		if c.created[key] > 1 {
			errorf("deliveries created twice", "%s: %d answers said created", key, c.created[key])
		}
	}
}

// checkConsumer checks that a pipeline scheduled on assets consumed their
// events exactly once, by Airflow's rule, and returns its number of runs.
//
// Each asset-triggered run's trigger event names, per asset, the newest
// event it consumed: "a:17,b:30". A run consumes, of each asset, the
// events after the previous run's and up to its own (the first run: from
// the start, as no event came before the pipelines were saved). So, in
// the order of the runs:
//   - no two runs consumed the same event: each asset's newest event
//     grows strictly from one run to the next (so each run had a new
//     event of every asset, as the rule asks);
//   - none is lost: the consumer's cursor (asset_consumers) is its last
//     run's, and the events after it are not a complete set: at least
//     one asset has none (else a run is missing).
func checkConsumer(t *testing.T, db *sql.DB, schema, pipeline string, assets []string) int {
	t.Helper()
	rows, err := db.Query(`SELECT r.id, te.key FROM `+schema+`.runs r LEFT JOIN `+schema+`.trigger_events te ON te.run_id = r.id
		WHERE r.pipeline_id = $1 ORDER BY r.id`, pipeline)
	if err != nil {
		t.Fatal(err)
	}
	last := map[string]int64{}
	n, twice := 0, 0
	for rows.Next() {
		var (
			run int64
			key sql.NullString
		)
		if err := rows.Scan(&run, &key); err != nil {
			t.Fatal(err)
		}
		n++
		got := map[string]int64{}
		for _, part := range strings.Split(key.String, ",") {
			a, id, ok := strings.Cut(part, ":")
			v, err := strconv.ParseInt(id, 10, 64)
			if !ok || err != nil {
				continue
			}
			got[a] = v
		}
		if len(got) != len(assets) {
			t.Errorf("%s run %d: trigger event %q does not name one event of each of %v", pipeline, run, key.String, assets)
			continue
		}
		for _, a := range assets {
			if got[a] <= last[a] {
				if twice++; twice <= 5 {
					t.Errorf("%s run %d consumed %s up to event %d, but an earlier run had consumed it up to %d", pipeline, run, a, got[a], last[a])
				}
			}
			last[a] = got[a]
		}
	}
	rows.Close()
	if twice > 5 {
		t.Errorf("%s: … and %d more runs that consumed an event again", pipeline, twice-5)
	}
	newer := 0
	for _, a := range assets {
		var cursor, after int64
		if err := db.QueryRow(`SELECT last_event_id, (SELECT count(*) FROM `+schema+`.asset_events e WHERE e.asset = $2 AND e.id > c.last_event_id)
			FROM `+schema+`.asset_consumers c WHERE pipeline_id = $1 AND asset = $2`, pipeline, a).Scan(&cursor, &after); err != nil {
			t.Fatalf("%s cursor of %s: %v", pipeline, a, err)
		}
		if cursor != last[a] {
			t.Errorf("%s: cursor of %s at event %d, its last run consumed up to %d", pipeline, a, cursor, last[a])
		}
		if after > 0 {
			newer++
		}
	}
	if newer == len(assets) {
		t.Errorf("%s: every one of %v has events after the last run's: a run is missing", pipeline, assets)
	}
	if n == 0 {
		t.Errorf("%s never ran", pipeline)
	}
	return n
}
