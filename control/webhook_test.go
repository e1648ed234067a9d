package control_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/sluice-dev/sluice"
	"github.com/sluice-dev/sluice/catalog"
	"github.com/sluice-dev/sluice/control"
	"github.com/sluice-dev/sluice/internal/pgtest"
	"github.com/sluice-dev/sluice/pipeline"
	"github.com/sluice-dev/sluice/secret"
	"github.com/sluice-dev/sluice/store"
	"github.com/sluice-dev/sluice/store/postgres"
	"github.com/sluice-dev/sluice/store/sqlite"
)

const hookSource = `id: on_push
params:
  ref: {type: string, required: true}
triggers:
  - webhook:
      secret: PUSH_HOOK
      params:
        ref: ${{ body.ref }}
tasks:
  build: {noop: true}
`

// TestDeliver takes webhook deliveries through Control on SQLite and on
// PostgreSQL: a missing secret and a bad signature start nothing; a
// signed delivery starts one run, also when sent again or as a GitHub
// form; copies of one delivery racing through several web processes'
// stores make one run between them.
func TestDeliver(t *testing.T) {
	t.Parallel()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	stores := map[string]func(t *testing.T) func() store.Store{
		"sqlite": func(t *testing.T) func() store.Store {
			st, err := sqlite.Open(context.Background(), t.TempDir(), sqlite.Options{})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st.Close() })
			return func() store.Store { return st } // one process on SQLite
		},
		"postgres": func(t *testing.T) func() store.Store {
			url := pgtest.Schema(t)
			return func() store.Store {
				st, err := postgres.Open(context.Background(), url, postgres.Options{MaxConns: 4, Logger: quiet})
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { st.Close() })
				return st
			}
		},
	}
	for name, opener := range stores {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			open := opener(t)
			testDeliver(t, open, quiet)
		})
	}
}

func testDeliver(t *testing.T, open func() store.Store, log *slog.Logger) {
	ctx := context.Background()
	st := open()
	p, err := pipeline.Parse("on_push.yaml", []byte(hookSource))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.PipelineSave(ctx, catalog.SaveParams(p, []byte(hookSource), "")); err != nil {
		t.Fatal(err)
	}
	box, err := secret.NewBox(make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	ctl := control.New(st, nil, log).WithSecrets(box)
	const key = "push-s3cret"
	sign := func(body []byte) string {
		mac := hmac.New(sha256.New, []byte(key))
		mac.Write(body)
		return "sha256=" + hex.EncodeToString(mac.Sum(nil))
	}
	body := []byte(`{"ref": "refs/heads/main"}`)
	deliver := func(c *control.Control, d control.Delivery) (*store.Run, bool, error) {
		t.Helper()
		d.Pipeline = "on_push"
		return c.Deliver(ctx, &d)
	}
	runCount := func() int {
		t.Helper()
		runs, err := st.RunList(ctx, &store.RunListParams{PipelineID: "on_push"})
		if err != nil {
			t.Fatal(err)
		}
		return len(runs)
	}

	// The secret is not set yet: refused, saying how to set it.
	if _, _, err := deliver(ctl, control.Delivery{Body: body, Signature: sign(body), Key: "d-1"}); sluice.ErrorCode(err) != sluice.ECONFLICT || !strings.Contains(err.Error(), "sluice secrets set") {
		t.Fatalf("delivery before the secret: %v, want a conflict saying how to set it", err)
	}
	if err := ctl.SecretSet(ctx, "PUSH_HOOK", []byte(key), "test"); err != nil {
		t.Fatal(err)
	}
	for what, sig := range map[string]string{"unsigned": "", "wrong key": "sha256=" + strings.Repeat("00", 32), "not hex": "sha256=zz"} {
		if _, _, err := deliver(ctl, control.Delivery{Body: body, Signature: sig, Key: "d-1"}); sluice.ErrorCode(err) != sluice.EUNAUTH {
			t.Errorf("%s: %v, want unauthorized", what, err)
		}
	}
	if n := runCount(); n != 0 {
		t.Fatalf("%d runs after refused deliveries, want 0", n)
	}

	first, created, err := deliver(ctl, control.Delivery{Body: body, Signature: sign(body), Key: "d-1"})
	if err != nil || !created || first.Kind != store.RunWebhook {
		t.Fatalf("signed delivery: created=%v run=%+v err=%v, want a new webhook run", created, first, err)
	}
	var params map[string]any
	if err := json.Unmarshal(first.Params, &params); err != nil || params["ref"] != "refs/heads/main" {
		t.Fatalf("params = %s (%v)", first.Params, err)
	}
	again, created, err := deliver(ctl, control.Delivery{Body: body, Signature: sign(body), Key: "d-1"})
	if err != nil || created || again.ID != first.ID {
		t.Fatalf("repeated delivery: created=%v run=%v err=%v, want run %d again", created, again, err, first.ID)
	}
	trs, err := st.RunTriggerList(ctx, first.ID)
	if err != nil || len(trs) != 1 || trs[0].Source != "webhook" || trs[0].Key != "d-1" {
		t.Fatalf("the run's trigger events = %+v (%v), want webhook d-1", trs, err)
	}

	// GitHub's form: the JSON in the payload field, signed as sent.
	form := []byte("payload=" + url.QueryEscape(`{"ref": "refs/tags/v1"}`))
	formHeaders := map[string]string{"content-type": "application/x-www-form-urlencoded"}
	fr, created, err := deliver(ctl, control.Delivery{Body: form, Signature: sign(form), Key: "d-2", Headers: formHeaders})
	if err != nil || !created || !strings.Contains(string(fr.Params), `"refs/tags/v1"`) {
		t.Fatalf("form delivery: created=%v run=%+v err=%v, want a run with ref refs/tags/v1", created, fr, err)
	}
	noPayload := []byte("ref=main")
	if _, _, err := deliver(ctl, control.Delivery{Body: noPayload, Signature: sign(noPayload), Key: "d-3", Headers: formHeaders}); sluice.ErrorCode(err) != sluice.EBADREQUEST {
		t.Fatalf("form without a payload: %v, want bad request", err)
	}

	// Copies of one delivery through several web processes at once (on
	// PostgreSQL each its own connection pool): one run, one "created".
	const copies = 8
	var (
		wg      sync.WaitGroup
		ids     [copies]int64
		creates [copies]bool
	)
	controls := make([]*control.Control, copies)
	for i := range controls {
		controls[i] = control.New(open(), nil, log).WithSecrets(box)
	}
	for i := range copies {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, c, err := deliver(controls[i], control.Delivery{Body: body, Signature: sign(body), Key: "race"})
			if err != nil {
				t.Errorf("racing copy %d: %v", i, err)
				return
			}
			ids[i], creates[i] = r.ID, c
		}()
	}
	wg.Wait()
	n := 0
	for i := range copies {
		if ids[i] != ids[0] {
			t.Fatalf("racing copies made different runs: %v", ids)
		}
		if creates[i] {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("%d racing copies say they created the run, want 1", n)
	}
	if got := runCount(); got != 3 {
		t.Fatalf("%d runs, want 3: d-1, the form d-2, race", got)
	}

	// A paused pipeline's webhook starts nothing.
	if err := st.PipelineSetPaused(ctx, "on_push", true); err != nil {
		t.Fatal(err)
	}
	if _, _, err := deliver(ctl, control.Delivery{Body: body, Signature: sign(body), Key: "paused"}); sluice.ErrorCode(err) != sluice.ECONFLICT {
		t.Fatalf("delivery to a paused pipeline: %v, want a conflict", err)
	}
}
