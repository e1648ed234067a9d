package api_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/api"
)

const hookPipeline = `id: on_push
params:
  ref: {type: string, required: true}
  commits: {type: int, default: 0}
triggers:
  - webhook:
      secret: GITHUB_HOOK
      params:
        ref: ${{ body.ref }}
        commits: ${{ len(body.commits) }}
  - webhook:
      name: deploy
      secret: DEPLOY_HOOK
      key: ${{ body.id }}
      params:
        ref: "deploy-${{ body.id }}"
tasks:
  build:
    run: test "$SLUICE_PARAM_REF" = refs/heads/main -a "$SLUICE_PARAM_COMMITS" = 2
`

func sign(secret string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// deliver posts a webhook delivery with the headers given.
func (s *testServer) deliver(path string, body []byte, header map[string]string) *response {
	s.t.Helper()
	return s.do(request{method: "POST", path: path, raw: body, contentType: "application/json", header: header})
}

func TestWebhook(t *testing.T) {
	t.Parallel()
	s := newTestServer(t)
	s.writePipeline("on_push.yaml", hookPipeline)
	s.start("--rescan", "100ms", "--poll", "100ms", "--allowed-hosts", "hooks.example.com")
	waitFor(t, 30*time.Second, "the pipeline to load", func() bool {
		return s.asAdmin("GET", "/api/v1/pipelines/on_push", nil).status == 200
	})
	const secret = "s3cret-hook-key"
	body := []byte(`{"ref": "refs/heads/main", "commits": [{"id": 1}, {"id": 2}], "pusher": {"name": "ann"}}`)

	// Before the secret is set, a delivery is refused, and says why.
	e := s.deliver("/hooks/on_push", body, map[string]string{"X-Hub-Signature-256": sign(secret, body)}).wantError(t, 409, "conflict")
	// An unsigned caller may send this, so the answer does not name the
	// secret (the server's log does).
	if !strings.Contains(e.Message, "sluice secrets set NAME") || strings.Contains(e.Message, "GITHUB_HOOK") {
		t.Fatalf("missing secret: %q, want how to set it, without its name", e.Message)
	}
	waitFor(t, 10*time.Second, "the server's log to name the missing secret", func() bool {
		return strings.Contains(s.logs(), `"secret":"GITHUB_HOOK"`)
	})
	s.setSecret("GITHUB_HOOK", secret)
	s.setSecret("DEPLOY_HOOK", "another-key")

	// No session, no token, no CSRF token: the signature is the proof, and
	// without a good one nothing runs.
	for name, h := range map[string]map[string]string{
		"unsigned":       {},
		"wrong key":      {"X-Hub-Signature-256": sign("guess", body)},
		"not hex":        {"X-Hub-Signature-256": "sha256=zz"},
		"sha1":           {"X-Hub-Signature-256": "sha1=" + strings.Repeat("0", 40)},
		"other body":     {"X-Hub-Signature-256": sign(secret, []byte(`{}`))},
		"other's secret": {"X-Hub-Signature-256": sign("another-key", body)},
	} {
		r := s.deliver("/hooks/on_push", body, h)
		e := r.wantError(t, 401, "unauthorized")
		if strings.Contains(r.header.Get("WWW-Authenticate"), "Bearer") || !strings.Contains(e.Message, "X-Hub-Signature-256") && !strings.Contains(e.Message, "signature") {
			t.Errorf("%s: %d %v %q", name, r.status, r.header, e.Message)
		}
	}

	// A signed delivery starts a run with the params its body maps to.
	good := map[string]string{"X-Hub-Signature-256": sign(secret, body), "X-GitHub-Delivery": "d-1"}
	var run api.Run
	s.deliver("/hooks/on_push", body, good).want(t, 201).decode(t, &run)
	if run.Pipeline != "on_push" || run.Kind != "webhook" {
		t.Fatalf("run = %+v", run)
	}
	var params map[string]any
	if err := json.Unmarshal(run.Params, &params); err != nil || params["ref"] != "refs/heads/main" || params["commits"] != float64(2) {
		t.Fatalf("params = %s (%v)", run.Params, err)
	}
	if d := s.waitRun(run.ID, "success", "failed"); d.State != "success" {
		t.Fatalf("run ended %s", d.State)
	}

	// The same delivery again (GitHub's "redeliver") returns the first run.
	var again api.Run
	s.deliver("/hooks/on_push", body, good).want(t, 200).decode(t, &again)
	if again.ID != run.ID {
		t.Fatalf("replay made run %d, want %d", again.ID, run.ID)
	}
	// Idempotency-Key wins over X-GitHub-Delivery.
	keyed := map[string]string{"X-Hub-Signature-256": sign(secret, body), "X-GitHub-Delivery": "d-1", "Idempotency-Key": "k-1"}
	var third api.Run
	s.deliver("/hooks/on_push", body, keyed).want(t, 201).decode(t, &third)
	if third.ID == run.ID {
		t.Fatal("a new Idempotency-Key returned the old run")
	}

	// Two deliveries of one key at once make one run.
	race := map[string]string{"X-Hub-Signature-256": sign(secret, body), "Idempotency-Key": "race"}
	const copies = 8
	var (
		wg       sync.WaitGroup
		statuses [copies]int
		ids      [copies]int64
	)
	for i := range copies {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := s.deliver("/hooks/on_push", body, race)
			var got api.Run
			if r.status < 300 {
				r.decode(t, &got)
			}
			statuses[i], ids[i] = r.status, got.ID
		}()
	}
	wg.Wait()
	created := 0
	for i := range copies {
		if ids[i] == 0 || ids[i] != ids[0] {
			t.Fatalf("concurrent deliveries: statuses %v, runs %v; want one run", statuses, ids)
		}
		if statuses[i] == 201 {
			created++
		}
	}
	if created != 1 {
		t.Fatalf("concurrent deliveries: statuses %v, want one 201 and the rest 200", statuses)
	}

	// Params are checked like a trigger form's: the body has no ref.
	bad := []byte(`{"commits": []}`)
	e = s.deliver("/hooks/on_push", bad, map[string]string{"X-Hub-Signature-256": sign(secret, bad)}).wantError(t, 422, "invalid")
	if !strings.Contains(e.Message, `param "ref"`) {
		t.Fatalf("bad params: %q", e.Message)
	}
	notJSON := []byte(`ref=main`)
	s.deliver("/hooks/on_push", notJSON, map[string]string{"X-Hub-Signature-256": sign(secret, notJSON)}).wantError(t, 400, "bad_request")

	// GitHub's other content type: a form whose payload field holds the
	// JSON, signed as sent (the form, not the JSON in it).
	form := []byte("payload=" + url.QueryEscape(string(body)))
	formDelivery := func(raw []byte, sig string) *response {
		return s.do(request{method: "POST", path: "/hooks/on_push", raw: raw, contentType: "application/x-www-form-urlencoded",
			header: map[string]string{"X-Hub-Signature-256": sig, "X-GitHub-Delivery": "form-1"}})
	}
	formDelivery(form, sign(secret, body)).wantError(t, 401, "unauthorized")
	var formRun api.Run
	formDelivery(form, sign(secret, form)).want(t, 201).decode(t, &formRun)
	if err := json.Unmarshal(formRun.Params, &params); err != nil || params["ref"] != "refs/heads/main" || params["commits"] != float64(2) {
		t.Fatalf("params of a form delivery = %s (%v)", formRun.Params, err)
	}
	if d := s.waitRun(formRun.ID, "success", "failed"); d.State != "success" {
		t.Fatalf("the form delivery's run ended %s", d.State)
	}
	noPayload := []byte("ref=main")
	e = formDelivery(noPayload, sign(secret, noPayload)).wantError(t, 400, "bad_request")
	if !strings.Contains(e.Message, "payload field") {
		t.Fatalf("form without payload: %q", e.Message)
	}
	badPayload := []byte("payload=%7Bref")
	e = formDelivery(badPayload, sign(secret, badPayload)).wantError(t, 400, "bad_request")
	if !strings.Contains(e.Message, "payload field is not JSON") {
		t.Fatalf("form with a payload that is not JSON: %q", e.Message)
	}

	// A named webhook has its own path, secret and key expression.
	dep := []byte(`{"id": "42"}`)
	var d1, d2 api.Run
	s.deliver("/hooks/on_push/deploy", dep, map[string]string{"X-Hub-Signature-256": sign("another-key", dep)}).want(t, 201).decode(t, &d1)
	s.deliver("/hooks/on_push/deploy", dep, map[string]string{"X-Hub-Signature-256": sign("another-key", dep)}).want(t, 200).decode(t, &d2)
	if d1.ID != d2.ID || !strings.Contains(string(d1.Params), `"deploy-42"`) {
		t.Fatalf("named webhook: %+v then %+v", d1, d2)
	}
	s.deliver("/hooks/on_push/deploy", body, map[string]string{"X-Hub-Signature-256": sign(secret, body)}).wantError(t, 401, "unauthorized")

	// Paths without a webhook, other methods, and foreign Host names.
	s.deliver("/hooks/ghost", body, good).wantError(t, 404, "not_found")
	s.deliver("/hooks/on_push/nameless", body, good).wantError(t, 404, "not_found")
	s.deliver("/hooks/on_push/deploy/x", body, good).wantError(t, 404, "not_found")
	r := s.do(request{method: "GET", path: "/hooks/on_push"})
	r.wantError(t, 405, "method_not_allowed")
	if r.header.Get("Allow") != "POST" {
		t.Fatalf("Allow: %q", r.header.Get("Allow"))
	}
	s.deliver("/hooks/on_push", body, map[string]string{"X-Hub-Signature-256": sign(secret, body), "Host": "evil.example"}).wantError(t, 403, "forbidden")
	h := map[string]string{"X-Hub-Signature-256": sign(secret, body), "Host": "hooks.example.com", "Idempotency-Key": "via-name"}
	s.deliver("/hooks/on_push", body, h).want(t, 201)

	// A body over the limit is refused before it is read whole.
	big := []byte(fmt.Sprintf(`{"ref": "main", "pad": %q}`, strings.Repeat("x", api.MaxHookBody)))
	s.deliver("/hooks/on_push", big, map[string]string{"X-Hub-Signature-256": sign(secret, big)}).wantError(t, http.StatusRequestEntityTooLarge, "too_large")

	// A paused pipeline's webhook starts nothing.
	s.asAdmin("POST", "/api/v1/pipelines/on_push/pause", nil).want(t, 200)
	s.deliver("/hooks/on_push", body, map[string]string{"X-Hub-Signature-256": sign(secret, body), "Idempotency-Key": "paused"}).wantError(t, 409, "conflict")
}
