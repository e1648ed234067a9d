package bench

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/sluice-dev/sluice"
	"github.com/sluice-dev/sluice/auth"
	"github.com/sluice-dev/sluice/secret"
	"github.com/sluice-dev/sluice/server"
	"github.com/sluice-dev/sluice/store"
	"github.com/sluice-dev/sluice/store/sqlite"
)

// The webhook scenario runs the server roles of `sluice server` in this
// process (the workers too, unless WorkerProcs puts them in processes of
// their own) and sends it signed deliveries, one after another, as
// GitHub would: POST /hooks/bench_hook with X-Hub-Signature-256 and an
// Idempotency-Key. For each it times, from the moment the request is
// sent: the answer (201: the run and its queued task are committed), the
// task's ready time and its attempt's start.

// WebhookSource is the webhook scenario's pipeline. Its runs do not
// wait for each other (max_active_runs), so a run's task is queued when
// the run is made.
const WebhookSource = `id: bench_hook
max_active_runs: 100000
params:
  n: {type: int, default: 0}
triggers:
  - webhook:
      secret: BENCH_HOOK
      params: {n: "${{ body.n }}"}
tasks:
  t:
    noop: true
`

// webhookWarmup deliveries go first and are not counted: the first
// requests pay for connections and caches that a running server has.
const webhookWarmup = 10

// Webhook runs the webhook scenario with o.Requests deliveries.
func Webhook(ctx context.Context, o Options) (*Result, error) {
	if o.Requests <= 0 {
		o.Requests = 200
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 16
	}
	o.Workers = 1
	dir, err := os.MkdirTemp("", "sluice-bench-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	pipes := filepath.Join(dir, "pipelines")
	if err := os.Mkdir(pipes, 0o755); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(pipes, "bench_hook.yaml"), []byte(WebhookSource), 0o644); err != nil {
		return nil, err
	}
	cfg := server.Config{Home: filepath.Join(dir, "home"), Sync: o.Sync, Pipelines: pipes, Listen: "127.0.0.1:0", Auth: auth.ModeNone,
		Scheduler: true, Web: true, Worker: o.WorkerProcs == 0, Concurrency: o.Concurrency, RetentionEvery: -1, Holder: "sluice bench",
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	var st store.Store
	if o.DB != "" {
		// Processes share the secret key through the environment.
		if os.Getenv(secret.EnvVar) == "" {
			var k [32]byte
			_, _ = rand.Read(k[:])
			os.Setenv(secret.EnvVar, hex.EncodeToString(k[:]))
		}
		var cleanup func()
		if st, cfg.DB, cleanup, err = openStore(ctx, o, dir); err != nil {
			return nil, err
		}
		defer cleanup()
	} else if o.WorkerProcs > 0 {
		return nil, errors.New("--workers-procs needs --db postgres://…: worker processes cannot share a SQLite store")
	}
	res := newResult(o, cfg.DB)
	res.Tasks = o.Requests

	sctx, stop := context.WithCancel(ctx)
	listening := make(chan string, 1)
	cfg.Listening = func(addr string) { listening <- addr }
	done := make(chan error, 1)
	go func() { done <- server.Run(sctx, cfg, nil) }()
	stopped := false
	stopServer := func() error {
		if stopped {
			return nil
		}
		stopped = true
		stop()
		return <-done
	}
	defer stopServer()
	var base string
	select {
	case addr := <-listening:
		base = "http://" + addr
	case err := <-done:
		stopped = true
		return nil, fmt.Errorf("server: %w", err)
	case <-time.After(60 * time.Second):
		return nil, errors.New("the server did not listen within 60s")
	}
	if o.WorkerProcs > 0 {
		stopProcs, err := startWorkerProcs(sctx, o, cfg.DB)
		if err != nil {
			return nil, err
		}
		defer stopProcs()
	}
	hook := &hookClient{base: base, http: &http.Client{Timeout: 30 * time.Second}, secret: []byte("bench-hook-secret")}
	if err := hook.setSecret(ctx, "BENCH_HOOK"); err != nil {
		return nil, err
	}
	// The first delivery waits for the pipeline to be loaded.
	for deadline := time.Now().Add(60 * time.Second); ; {
		code, _, err := hook.deliver(ctx, -1)
		if err != nil {
			return nil, err
		}
		if code == http.StatusCreated {
			break
		}
		if code != http.StatusNotFound || time.Now().After(deadline) {
			return nil, fmt.Errorf("the first delivery was answered %d", code)
		}
		time.Sleep(20 * time.Millisecond)
	}
	for i := 0; i < webhookWarmup; i++ {
		if _, _, err := hook.deliver(ctx, -2-i); err != nil {
			return nil, err
		}
	}

	type sent struct {
		run        int64
		at, answer time.Time
	}
	var deliveries []sent
	for i := 0; i < o.Requests; i++ {
		at := time.Now()
		code, run, err := hook.deliver(ctx, i)
		if err != nil {
			return nil, err
		}
		if code != http.StatusCreated {
			return nil, fmt.Errorf("delivery %d was answered %d, want 201", i, code)
		}
		deliveries = append(deliveries, sent{run: run, at: at, answer: time.Now()})
	}
	res.Seconds = deliveries[len(deliveries)-1].answer.Sub(deliveries[0].at).Seconds()
	res.TasksPerSec = float64(o.Requests) / res.Seconds
	for _, d := range deliveries {
		if err := hook.waitRun(ctx, d.run); err != nil {
			return nil, err
		}
	}
	if err := stopServer(); err != nil && !errors.Is(err, context.Canceled) {
		return nil, fmt.Errorf("server: %w", err)
	}
	if st == nil {
		// SQLite serves one process: read once the server is gone.
		s, err := sqlite.Open(ctx, cfg.Home, sqlite.Options{Holder: "sluice bench"})
		if err != nil {
			return nil, err
		}
		defer s.Close()
		st = s
	}
	var answered, queued, started []time.Duration
	for _, d := range deliveries {
		ins, err := st.InstanceList(ctx, d.run)
		if err != nil {
			return nil, err
		}
		atts, err := st.AttemptListByRun(ctx, d.run)
		if err != nil {
			return nil, err
		}
		if len(ins) != 1 || ins[0].ReadyAt == nil || len(atts) != 1 {
			return nil, fmt.Errorf("run %d: %d instances and %d attempts, want one of each", d.run, len(ins), len(atts))
		}
		answered = append(answered, d.answer.Sub(d.at))
		queued = append(queued, ins[0].ReadyAt.Sub(d.at))
		started = append(started, atts[0].StartedAt.Sub(d.at))
	}
	res.Answered, res.Queued, res.Started = spread(answered), spread(queued), spread(started)
	res.PeakRSSMB = peakRSSMB()
	return res, nil
}

// hookClient sends the webhook scenario's requests.
type hookClient struct {
	base   string
	http   *http.Client
	secret []byte
}

func (h *hookClient) setSecret(ctx context.Context, name string) error {
	body, _ := json.Marshal(map[string]string{"value": string(h.secret)})
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, h.base+"/api/v1/secrets/"+name, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := h.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		b, _ := io.ReadAll(resp.Body)
		return fmt.Errorf("set secret %s: %d %s", name, resp.StatusCode, b)
	}
	return nil
}

// deliver sends delivery n and returns the answer's status and run.
func (h *hookClient) deliver(ctx context.Context, n int) (int, int64, error) {
	body := []byte(fmt.Sprintf(`{"n": %d, "ref": "refs/heads/main"}`, n))
	mac := hmac.New(sha256.New, h.secret)
	mac.Write(body)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.base+"/hooks/bench_hook", bytes.NewReader(body))
	if err != nil {
		return 0, 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Hub-Signature-256", "sha256="+hex.EncodeToString(mac.Sum(nil)))
	req.Header.Set("Idempotency-Key", fmt.Sprintf("bench-%d", n))
	resp, err := h.http.Do(req)
	if err != nil {
		return 0, 0, err
	}
	defer resp.Body.Close()
	var run struct {
		ID int64 `json:"id"`
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, 0, err
	}
	_ = json.Unmarshal(b, &run)
	return resp.StatusCode, run.ID, nil
}

// waitRun waits until a run has finished with success.
func (h *hookClient) waitRun(ctx context.Context, id int64) error {
	deadline := time.Now().Add(5 * time.Minute)
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("%s/api/v1/runs/%d", h.base, id), nil)
		if err != nil {
			return err
		}
		resp, err := h.http.Do(req)
		if err != nil {
			return err
		}
		var run struct {
			State sluice.RunState `json:"state"`
		}
		err = json.NewDecoder(resp.Body).Decode(&run)
		resp.Body.Close()
		if err != nil {
			return fmt.Errorf("run %d: %w", id, err)
		}
		if run.State.Finished() {
			if run.State != sluice.RunSuccess {
				return fmt.Errorf("run %d ended %s", id, run.State)
			}
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("run %d did not finish within 5 minutes", id)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
