package worker_test

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/sluice-dev/sluice"
	"github.com/sluice-dev/sluice/secret"
	"github.com/sluice-dev/sluice/worker"
)

// These tests give tasks secrets and make every kind of task put them in
// everything it produces, then look for them in all that sluice keeps: the
// attempts' errors, the outputs, the log chunks and the callbacks read back
// through the store, the worker's own log, and the bytes of the SQLite
// files.

// testSecret is a secret whose value has a random part: any 8 bytes of it
// found anywhere are a leak, not a coincidence, whatever quoting or cutting
// the text went through.
type testSecret struct {
	name, value, random string
}

func newSecret(t *testing.T, name string, shape func(random string) string) testSecret {
	t.Helper()
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	r := hex.EncodeToString(b)
	return testSecret{name: name, value: shape(r), random: r}
}

// maskBundle is a testBundle with secrets, a worker that can open them, and
// the worker's log captured.
type maskBundle struct {
	*testBundle
	box    *secret.Box
	logged *syncBuffer
}

func setupMask(t *testing.T, secrets ...testSecret) *maskBundle {
	t.Helper()
	b := &maskBundle{testBundle: setup(t), logged: &syncBuffer{}}
	box, err := secret.NewBox(make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	b.box = box
	for _, s := range secrets {
		if err := b.st.SecretSet(b.ctx, s.name, box.Seal(s.name, []byte(s.value))); err != nil {
			t.Fatal(err)
		}
	}
	return b
}

func (b *maskBundle) startWorker() {
	b.t.Helper()
	logger := slog.New(slog.NewJSONHandler(b.logged, &slog.HandlerOptions{Level: slog.LevelDebug}))
	b.start(worker.Config{Secrets: b.box, Logger: logger})
}

// syncBuffer is a log destination that goroutines share.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()
}

// kept returns, by where it is kept, all that sluice keeps of the runs.
func (b *maskBundle) kept(runs ...int64) map[string]string {
	b.t.Helper()
	out := map[string]string{"the worker's log": b.logged.String()}
	for _, run := range runs {
		ins, err := b.st.InstanceList(b.ctx, run)
		if err != nil {
			b.t.Fatal(err)
		}
		var tasks []string
		for _, in := range ins {
			tasks = append(tasks, in.TaskID)
			atts, err := b.st.AttemptList(b.ctx, in.ID)
			if err != nil {
				b.t.Fatal(err)
			}
			for _, a := range atts {
				where := fmt.Sprintf("run %d task %s[%d] attempt %d", run, in.TaskID, in.MapIndex, a.Number)
				out[where+" error"] = a.Error
				chunks, err := b.st.LogList(b.ctx, a.ID, 0)
				if err != nil {
					b.t.Fatal(err)
				}
				var log strings.Builder
				for _, c := range chunks {
					log.Write(c.Data)
				}
				out[where+" log"] = log.String()
			}
		}
		outs, err := b.st.OutputList(b.ctx, run, tasks)
		if err != nil {
			b.t.Fatal(err)
		}
		out[fmt.Sprintf("run %d outputs", run)] = fmt.Sprint(outs)
		cbs, err := b.st.CallbackList(b.ctx, run)
		if err != nil {
			b.t.Fatal(err)
		}
		for _, cb := range cbs {
			out[fmt.Sprintf("run %d callback %s %s", run, cb.TaskID, cb.Event)] = cb.Error
		}
	}
	// The database's own files, WAL included: what a copy of the disk shows.
	err := filepath.WalkDir(b.home, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(path)
		out["file "+filepath.Base(path)] = string(data)
		return err
	})
	if err != nil {
		b.t.Fatal(err)
	}
	return out
}

// noLeak fails the test where any 8 bytes of a secret's random part show
// in what sluice keeps of the runs.
func (b *maskBundle) noLeak(runs []int64, secrets ...testSecret) {
	b.t.Helper()
	kept := b.kept(runs...)
	places := make([]string, 0, len(kept))
	for p := range kept {
		places = append(places, p)
	}
	sort.Strings(places)
	for _, s := range secrets {
		for _, p := range places {
			for i := 0; i+8 <= len(s.random); i++ {
				if j := strings.Index(kept[p], s.random[i:i+8]); j >= 0 {
					from, to := max(0, j-60), min(len(kept[p]), j+60)
					b.t.Errorf("secret %s shows in %s: …%q…", s.name, p, kept[p][from:to])
					break
				}
			}
		}
	}
}

// TestMaskEchoedSecret: a secret a task prints is masked in its log, also
// where a program prints it escaped in JSON, as structured logs do.
func TestMaskEchoedSecret(t *testing.T) {
	t.Parallel()
	token := newSecret(t, "TOKEN", func(r string) string { return "tok-" + r })
	weird := newSecret(t, "WEIRD", func(r string) string { return `we"ird\pa` + "\t" + "ß-" + r })
	b := setupMask(t, token, weird)
	run := b.trigger(`id: echo
tasks:
  echo:
    secrets: [TOKEN, WEIRD]
    run: |
      echo "token $TOKEN"
      echo "to stderr $TOKEN" >&2
      printf '{"weird":"%s"}\n' "$(printf '%s' "$WEIRD" | sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/\t/\\t/g')"
`)
	b.startWorker()
	if s := b.waitRun(run.ID); s != sluice.RunSuccess {
		t.Fatalf("run %s: %+v", s, b.attempts(run.ID, "echo"))
	}
	log := b.log(run.ID, "echo")
	for _, want := range []string{" o token ***\n", " e to stderr ***\n", ` o {"weird":"***"}` + "\n"} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %q:\n%s", want, log)
		}
	}
	b.noLeak([]int64{run.ID}, token, weird)
}

// TestMaskWhatDisplaysShow: real shell tasks print secrets the way a
// display joins them back (split by escape codes, overwritten after a
// carriage return or a backspace, split by an invisible character), with
// the blanks around a value dropped by an unquoted $VAR, and quoted by
// bash's set -x, printf %q, ${X@Q} and declare -p. Each line is stored
// masked, as a terminal or the web UI would show it.
func TestMaskWhatDisplaysShow(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("no bash on this machine:", err)
	}
	split := newSecret(t, "SPLIT", func(r string) string { return "Sup3r" + r + "$ecret.*[x](y)+?" })
	spaced := newSecret(t, "SPACED", func(r string) string { return "  spaced-" + r + "  " })
	quoted := newSecret(t, "QUOTED", func(r string) string { return "it's-a-" + r + " pass" })
	b := setupMask(t, split, spaced, quoted)
	run := b.trigger(`id: displays
tasks:
  split:
    secrets: [SPLIT]
    run: |
      A=$(printf %s "$SPLIT" | head -c 21); B=${SPLIT#"$A"}; X=$(printf %s "$A" | sed 's/./X/g')
      printf 'ansi: %s\033[0m%s\n' "$A" "$B"
      printf 'grep: \033[01;31m\033[K%s\033[m\033[K%s\n' "$A" "$B"
      printf '%s%s\r%s\n' "$X" "$B" "$A"
      printf 'bs: %sQ\b%s\n' "$A" "$B"
      printf 'zwsp: %s\342\200\213%s\n' "$A" "$B"
      printf 'split: %s\033[0m%s\n' "$A" "$B" >> "$SLUICE_OUTPUT"
  spaced:
    secrets: [SPACED]
    run: echo unquoted $SPACED
  quoted:
    secrets: [QUOTED]
    run: |
      bash -c 'set -x; : "Authorization: Bearer $QUOTED"; set +x
      printf "%q\n" "$QUOTED"; echo "${QUOTED@Q}"; declare -p QUOTED'
`)
	b.startWorker()
	if s := b.waitRun(run.ID); s != sluice.RunFailed {
		t.Fatalf("run %s", s)
	}
	for task, want := range map[string][]string{
		"split":  {" o ansi: ***\n", " o grep: ***\n", " o ***\n", " o bs: ***\n", " o zwsp: ***\n"},
		"spaced": {" o unquoted ***\n"},
		"quoted": {" e + : 'Authorization: Bearer ***'\n", " o ***\n", " o '***'\n", ` o declare -x QUOTED="***"` + "\n"},
	} {
		log := b.log(run.ID, task)
		for _, w := range want {
			if !strings.Contains(log, w) {
				t.Errorf("%s's log lacks %q:\n%s", task, w, log)
			}
		}
	}
	// A malformed output line is quoted in the attempt's error: split by
	// an escape code, it is masked there too.
	if e := b.attempts(run.ID, "split")[0].Error; !strings.HasSuffix(e, `got "split: ***"`) {
		t.Errorf("split: error %q", e)
	}
	b.noLeak([]int64{run.ID}, split, spaced, quoted)
}

// TestMaskOutputs: an output whose value or key holds a secret is stored
// masked, the log says which, and tasks downstream get the masked value,
// as GitHub Actions does not pass secret-bearing outputs on.
func TestMaskOutputs(t *testing.T) {
	t.Parallel()
	token := newSecret(t, "TOKEN", func(r string) string { return "tok-" + r })
	b := setupMask(t, token)
	run := b.trigger(`id: outputs
tasks:
  produce:
    secrets: [TOKEN]
    run: |
      echo "tok=$TOKEN" >> "$SLUICE_OUTPUT"
      echo "dsn=postgres://app:$TOKEN@db/x" >> "$SLUICE_OUTPUT"
      echo "key_$TOKEN=value" >> "$SLUICE_OUTPUT"
      echo "plain=ok" >> "$SLUICE_OUTPUT"
  consume:
    depends_on: [produce]
    env: {FROM_EXPR: "${{ tasks.produce.outputs.tok }}"}
    run: echo "env=$SLUICE_OUTPUT_PRODUCE_TOK expr=$FROM_EXPR dsn=$SLUICE_OUTPUT_PRODUCE_DSN plain=$SLUICE_OUTPUT_PRODUCE_PLAIN"
`)
	b.startWorker()
	if s := b.waitRun(run.ID); s != sluice.RunSuccess {
		t.Fatalf("run %s: %+v", s, b.attempts(run.ID, "produce"))
	}
	outs, err := b.st.OutputList(b.ctx, run.ID, []string{"produce"})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"tok": "***", "dsn": "postgres://app:***@db/x", "key_***": "value", "plain": "ok"}
	if fmt.Sprint(outs["produce"]) != fmt.Sprint(want) {
		t.Errorf("outputs = %q, want %q", outs["produce"], want)
	}
	if log := b.log(run.ID, "consume"); !strings.Contains(log, " o env=*** expr=*** dsn=postgres://app:***@db/x plain=ok\n") {
		t.Errorf("consume log = %q", log)
	}
	log := b.log(run.ID, "produce")
	for _, key := range []string{`"dsn"`, `"tok"`, `"key_***"`} {
		if !strings.Contains(log, " s output "+key) {
			t.Errorf("produce's log does not say output %s was masked:\n%s", key, log)
		}
	}
	if strings.Contains(log, `output "plain"`) {
		t.Errorf("produce's log says plain was masked:\n%s", log)
	}
	b.noLeak([]int64{run.ID}, token)
}

// TestMaskMalformedOutputLine: a malformed $SLUICE_OUTPUT line becomes the
// attempt's error, quoted: the secret is masked there in its quoted form,
// where the line is cut in the middle of it, and where it is a delimiter.
func TestMaskMalformedOutputLine(t *testing.T) {
	t.Parallel()
	token := newSecret(t, "TOKEN", func(r string) string { return "tok-" + r })
	weird := newSecret(t, "WEIRD", func(r string) string { return `we"ird\pa` + "\t" + "ß\x01-" + r })
	// Every other character of ACCENTS is two bytes: a cut by bytes can
	// fall inside one, where %q writes what is left of it as \xNN.
	accents := newSecret(t, "ACCENTS", func(r string) string {
		var sb strings.Builder
		for _, c := range r {
			sb.WriteString(string(c) + "é")
		}
		return sb.String()
	})
	accents.random = accents.value
	b := setupMask(t, token, weird, accents)
	run := b.trigger(`id: malformed
defaults: {secrets: [TOKEN, WEIRD, ACCENTS]}
tasks:
  plain: {run: 'echo "oops $TOKEN" >> "$SLUICE_OUTPUT"'}
  escaped: {run: 'printf "oops %s\n" "$WEIRD" >> "$SLUICE_OUTPUT"'}
  cut: {run: 'printf "%060d %s\n" 0 "$TOKEN" >> "$SLUICE_OUTPUT"'}
  cutrune: {run: 'printf "%062d %s\n" 0 "$ACCENTS" >> "$SLUICE_OUTPUT"'}
  delimiter: {run: 'echo "notes<<$TOKEN" >> "$SLUICE_OUTPUT"'}
`)
	b.startWorker()
	if s := b.waitRun(run.ID); s != sluice.RunFailed {
		t.Fatalf("run %s", s)
	}
	for task, want := range map[string]string{
		"plain":     `$SLUICE_OUTPUT line 1: want key=value or key<<DELIMITER, got "oops ***"`,
		"escaped":   `$SLUICE_OUTPUT line 1: want key=value or key<<DELIMITER, got "oops ***"`,
		"cut":       `$SLUICE_OUTPUT line 1: want key=value or key<<DELIMITER, got "` + strings.Repeat("0", 60) + ` ***…"`,
		"cutrune":   `$SLUICE_OUTPUT line 1: want key=value or key<<DELIMITER, got "` + strings.Repeat("0", 62) + ` ***…"`,
		"delimiter": `$SLUICE_OUTPUT line 1: "notes" has no closing "***" line`,
	} {
		if atts := b.attempts(run.ID, task); atts[0].State != sluice.AttemptFailed || atts[0].Error != want {
			t.Errorf("%s: attempt %s %q, want failed %q", task, atts[0].State, atts[0].Error, want)
		}
	}
	b.noLeak([]int64{run.ID}, token, weird, accents)
}

// TestMaskMultiLineSecret: a secret of several lines is masked whole and
// line by line: in the log, in an output, and in an error that quotes one
// of its lines.
func TestMaskMultiLineSecret(t *testing.T) {
	t.Parallel()
	pem := newSecret(t, "PEM", func(r string) string {
		return "-----BEGIN TEST KEY-----\n" + r[:16] + "\n" + r[16:] + "\n-----END TEST KEY-----"
	})
	b := setupMask(t, pem)
	run := b.trigger(`id: multiline
tasks:
  pem:
    secrets: [PEM]
    run: |
      echo "$PEM"
      { echo "key<<EOF"; echo "$PEM"; echo "EOF"; } >> "$SLUICE_OUTPUT"
  bad:
    secrets: [PEM]
    run: printf 'oops %s\n' "$(echo "$PEM" | sed -n 2p)" >> "$SLUICE_OUTPUT"
`)
	b.startWorker()
	if s := b.waitRun(run.ID); s != sluice.RunFailed {
		t.Fatalf("run %s", s)
	}
	if log := b.log(run.ID, "pem"); strings.Count(log, " o ***\n") != 4 {
		t.Errorf("pem log = %q", log)
	}
	outs, _ := b.st.OutputList(b.ctx, run.ID, []string{"pem"})
	if outs["pem"]["key"] != "***" {
		t.Errorf("output = %q", outs["pem"]["key"])
	}
	if atts := b.attempts(run.ID, "bad"); !strings.HasSuffix(atts[0].Error, `got "oops ***"`) {
		t.Errorf("bad: %q", atts[0].Error)
	}
	b.noLeak([]int64{run.ID}, pem)
}

// TestMaskHTTPTask: an HTTP task's response body is masked in its body
// output and in its error, as sent and as escaped in JSON, and where the
// error cuts the body in the middle of a secret.
func TestMaskHTTPTask(t *testing.T) {
	t.Parallel()
	token := newSecret(t, "TOKEN", func(r string) string { return "tok-" + r })
	weird := newSecret(t, "WEIRD", func(r string) string { return `we"ird\pa` + "\t<ß>-" + r })
	// A server that answers with the credentials it holds, as a token
	// endpoint does, or puts them in an error page.
	body, _ := json.Marshal(map[string]string{"token": token.value, "weird": weird.value})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/fail":
			w.WriteHeader(http.StatusInternalServerError)
		case "/long":
			w.WriteHeader(http.StatusBadGateway)
			fmt.Fprintf(w, "%s %s", strings.Repeat("x", 180), token.value)
			return
		}
		w.Write(body)
	}))
	t.Cleanup(srv.Close)
	b := setupMask(t, token, weird)
	run := b.trigger(`id: http_mask
defaults: {secrets: [TOKEN, WEIRD]}
tasks:
  ok: {http: {url: "` + srv.URL + `/ok"}}
  fail: {http: {url: "` + srv.URL + `/fail"}}
  long: {http: {url: "` + srv.URL + `/long"}}
  after: {depends_on: [ok], run: 'echo "body $SLUICE_OUTPUT_OK_BODY"'}
`)
	b.startWorker()
	if s := b.waitRun(run.ID); s != sluice.RunFailed {
		t.Fatalf("run %s", s)
	}
	outs, _ := b.st.OutputList(b.ctx, run.ID, []string{"ok"})
	if want := `{"token":"***","weird":"***"}`; outs["ok"]["body"] != want {
		t.Errorf("body output = %q, want %q", outs["ok"]["body"], want)
	}
	if log := b.log(run.ID, "after"); !strings.Contains(log, ` o body {"token":"***","weird":"***"}`) {
		t.Errorf("after log = %q", log)
	}
	if e := b.attempts(run.ID, "fail")[0].Error; !strings.HasSuffix(e, `answered 500, want a 2xx status: {"token":"***","weird":"***"}`) {
		t.Errorf("fail: %q", e)
	}
	if e := b.attempts(run.ID, "long")[0].Error; !strings.HasSuffix(e, "answered 502, want a 2xx status: "+strings.Repeat("x", 180)+" ***…") {
		t.Errorf("long: %q", e)
	}
	b.noLeak([]int64{run.ID}, token, weird)
}

// TestMaskCallbacks: a callback's error, recorded and logged, is masked
// with the secrets of its task, or for a pipeline's callback with those of
// all its tasks; and the attempt error it is given is the masked one.
func TestMaskCallbacks(t *testing.T) {
	t.Parallel()
	token := newSecret(t, "TOKEN", func(r string) string { return "tok-" + r })
	var (
		mu     sync.Mutex
		bodies []string
	)
	// A hook that refuses, quoting the credential it expected.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sent, _ := io.ReadAll(r.Body)
		mu.Lock()
		bodies = append(bodies, string(sent))
		mu.Unlock()
		w.WriteHeader(http.StatusForbidden)
		fmt.Fprintf(w, "expected token %s", token.value)
	}))
	t.Cleanup(srv.Close)
	b := setupMask(t, token)
	run := b.trigger(`id: callbacks_mask
on_failure: {http: {method: POST, url: "` + srv.URL + `/run", body: 'run ${{ run.id }} failed'}}
tasks:
  fails:
    secrets: [TOKEN]
    run: echo "oops $TOKEN" >> "$SLUICE_OUTPUT"
    on_failure: {http: {method: POST, url: "` + srv.URL + `/task", body: '${{ error }}'}}
`)
	b.startWorker()
	if s := b.waitRun(run.ID); s != sluice.RunFailed {
		t.Fatalf("run %s", s)
	}
	b.waitFor("the callbacks", func() bool {
		cbs, err := b.st.CallbackList(b.ctx, run.ID)
		if err != nil || len(cbs) != 2 {
			return false
		}
		for _, cb := range cbs {
			if cb.State != "failed" {
				return false
			}
		}
		return true
	})
	cbs, _ := b.st.CallbackList(b.ctx, run.ID)
	for _, cb := range cbs {
		if !strings.HasSuffix(cb.Error, "answered 403, want a 2xx status: expected token ***") {
			t.Errorf("callback %q %s: error %q", cb.TaskID, cb.Event, cb.Error)
		}
	}
	mu.Lock()
	sent := strings.Join(bodies, "\n")
	mu.Unlock()
	if !strings.Contains(sent, `got "oops ***"`) {
		t.Errorf("the task's callback was sent %q", sent)
	}
	if strings.Contains(sent, token.random) {
		t.Errorf("a callback sent the secret: %q", sent)
	}
	b.noLeak([]int64{run.ID}, token)
}

// TestMaskShortSecretNoted: a secret too short to mask is not masked, and
// the task's log says so, naming it without showing it.
func TestMaskShortSecretNoted(t *testing.T) {
	t.Parallel()
	b := setupMask(t, testSecret{name: "PIN", value: "42"})
	run := b.trigger(`id: short
tasks:
  short: {secrets: [PIN], run: 'echo "pin $PIN"'}
`)
	b.startWorker()
	if s := b.waitRun(run.ID); s != sluice.RunSuccess {
		t.Fatalf("run %s", s)
	}
	log := b.log(run.ID, "short")
	if !strings.Contains(log, fmt.Sprintf(" s secret PIN is 2 bytes, too short to mask (under %d)", secret.MinMaskLength)) || !strings.Contains(log, " o pin 42\n") {
		t.Errorf("log = %q", log)
	}
}

// TestMaskEveryKindNeedsItsSecrets: a task of any kind that declares
// secrets runs only where they can be opened, as its response or error
// could hold them and could not be masked otherwise.
func TestMaskEveryKindNeedsItsSecrets(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	t.Cleanup(srv.Close)
	b := setupMask(t, newSecret(t, "TOKEN", func(r string) string { return r }))
	run := b.trigger(`id: keyless
tasks:
  call: {secrets: [TOKEN], http: {url: "` + srv.URL + `"}}
`)
	b.start(worker.Config{}) // no key
	if s := b.waitRun(run.ID); s != sluice.RunFailed {
		t.Fatalf("run %s", s)
	}
	if e := b.attempts(run.ID, "call")[0].Error; !strings.Contains(e, "the task needs secrets [TOKEN], but this worker has no secret key") {
		t.Errorf("error = %q", e)
	}
}

// TestMaskCallbackWithheldWithoutKey: a worker that cannot open a task's
// secrets cannot mask them, so a failing callback of that task has its
// error withheld rather than stored and logged as it is.
func TestMaskCallbackWithheldWithoutKey(t *testing.T) {
	t.Parallel()
	token := newSecret(t, "TOKEN", func(r string) string { return "tok-" + r })
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusForbidden)
		fmt.Fprintf(w, "expected token %s", token.value)
	}))
	t.Cleanup(srv.Close)
	b := setupMask(t, token)
	run := b.trigger(`id: withheld
tasks:
  fails:
    secrets: [TOKEN]
    run: echo never
    on_failure: {http: {method: POST, url: "` + srv.URL + `"}}
`)
	logger := slog.New(slog.NewJSONHandler(b.logged, nil))
	b.start(worker.Config{Logger: logger}) // no key
	if s := b.waitRun(run.ID); s != sluice.RunFailed {
		t.Fatalf("run %s", s)
	}
	b.waitFor("the callback", func() bool {
		cbs, err := b.st.CallbackList(b.ctx, run.ID)
		return err == nil && len(cbs) == 1 && cbs[0].State == "failed"
	})
	cbs, _ := b.st.CallbackList(b.ctx, run.ID)
	if want := "the callback failed, and its error is not shown: it may hold a secret that cannot be masked, as the task needs secrets [TOKEN], but this worker has no secret key"; !strings.HasPrefix(cbs[0].Error, want) {
		t.Errorf("callback error = %q, want %q…", cbs[0].Error, want)
	}
	b.noLeak([]int64{run.ID}, token)
}

// TestSecretsInExpressions: an HTTP task sends a declared secret in a
// header and its URL through ${{ secrets.NAME }}, and an env value gets
// one; what comes back, and the URL in an error, is masked.
func TestSecretsInExpressions(t *testing.T) {
	t.Parallel()
	token := newSecret(t, "TOKEN", func(r string) string { return "tok-" + r })
	var (
		mu   sync.Mutex
		auth []string
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		auth = append(auth, r.Header.Get("Authorization")+" "+r.URL.Path)
		mu.Unlock()
		if r.URL.Path == "/fail/"+token.value {
			w.WriteHeader(http.StatusForbidden)
			fmt.Fprintf(w, "no access for %s", r.Header.Get("Authorization"))
			return
		}
		fmt.Fprintf(w, "hello %s", r.Header.Get("Authorization"))
	}))
	t.Cleanup(srv.Close)
	b := setupMask(t, token)
	run := b.trigger(`id: secret_exprs
tasks:
  call:
    secrets: [TOKEN]
    http:
      url: "` + srv.URL + `/ok"
      headers: {Authorization: "Bearer ${{ secrets.TOKEN }}"}
  refused:
    secrets: [TOKEN]
    http:
      url: "` + srv.URL + `/fail/${{ secrets.TOKEN }}"
      headers: {Authorization: "Bearer ${{ secrets['TOKEN'] }}"}
  shell:
    secrets: [TOKEN]
    env: {API_KEY: "key=${{ secrets.TOKEN }}"}
    run: 'test "$API_KEY" = "key=$TOKEN" && echo "got $API_KEY"'
`)
	b.startWorker()
	if s := b.waitRun(run.ID); s != sluice.RunFailed {
		t.Fatalf("run %s", s)
	}
	mu.Lock()
	got := strings.Join(auth, "\n")
	mu.Unlock()
	if !strings.Contains(got, "Bearer "+token.value+" /ok") || !strings.Contains(got, "Bearer "+token.value+" /fail/"+token.value) {
		t.Fatalf("the server did not get the secret: %q", got)
	}
	if outs, _ := b.st.OutputList(b.ctx, run.ID, []string{"call"}); outs["call"]["body"] != "hello Bearer ***" {
		t.Errorf("body output = %q", outs["call"]["body"])
	}
	if e := b.attempts(run.ID, "refused")[0].Error; !strings.Contains(e, "403") || !strings.Contains(e, "no access for Bearer ***") {
		t.Errorf("refused: %q", e)
	}
	if st := b.attempts(run.ID, "shell")[0].State; st != sluice.AttemptSuccess {
		t.Errorf("shell: %s\n%s", st, b.log(run.ID, "shell"))
	}
	if log := b.log(run.ID, "shell"); !strings.Contains(log, "got key=***") {
		t.Errorf("shell log = %q", log)
	}
	b.noLeak([]int64{run.ID}, token)
}
