package web_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// The browser tests drive the real sluice binary, started on port 0 with
// its own data dir, from headless Chromium.

// binary is the sluice binary, built once by TestMain.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "sluice-web-bin-")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "sluice")
	build := exec.Command("go", "build", "-o", binary, "../cmd/sluice")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building sluice for the browser tests:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

const adminPassword = "browser-test-password"

// chromium returns the path of Chromium, skipping the test when there is
// none, except under CI=true, where a missing browser fails it.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{os.Getenv("SLUICE_CHROMIUM"), "/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome"} {
		if name == "" {
			continue
		}
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	msg := "Chromium not found (looked for $SLUICE_CHROMIUM, /usr/bin/chromium, chromium, chromium-browser, google-chrome): " +
		"install it (Debian: apt-get install chromium) to run the web UI's browser tests"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// sluiceServer is a running `sluice server`.
type sluiceServer struct {
	url   string
	pipes string
	mu    sync.Mutex
	log   strings.Builder
}

func (s *sluiceServer) logs() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.log.String()
}

var listeningText = regexp.MustCompile(`msg=listening url=(\S+)`)

// startSluice starts the binary on port 0 over dir and waits until it
// listens.
func startSluice(t *testing.T, dir string) *sluiceServer {
	t.Helper()
	s := &sluiceServer{pipes: filepath.Join(dir, "pipelines")}
	cmd := exec.Command(binary, "server", "--listen", "127.0.0.1:0", "--home", filepath.Join(dir, "home"), "--pipelines", s.pipes)
	cmd.Env = append(os.Environ(), "SLUICE_ADMIN_PASSWORD="+adminPassword)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	listening := make(chan string, 1)
	done := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			s.mu.Lock()
			s.log.WriteString(line + "\n")
			s.mu.Unlock()
			var rec map[string]any
			if json.Unmarshal([]byte(line), &rec) == nil && rec["msg"] == "listening" {
				listening <- fmt.Sprint(rec["url"])
			} else if m := listeningText.FindStringSubmatch(line); m != nil {
				listening <- m[1]
			}
		}
	}()
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-done
	})
	select {
	case s.url = <-listening:
	case <-done:
		t.Fatalf("sluice exited early:\n%s", s.logs())
	case <-time.After(60 * time.Second):
		t.Fatalf("sluice did not listen:\n%s", s.logs())
	}
	return s
}

// browser is a headless Chromium with one tab per context.
type browser struct {
	t     *testing.T
	ctx   context.Context
	shots string
	n     int

	mu      sync.Mutex
	dialogs []string
}

func newBrowser(t *testing.T) *browser {
	t.Helper()
	path := chromium(t)
	profile, err := os.MkdirTemp("", "sluice-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.UserDataDir(profile),
		chromedp.WindowSize(1360, 900),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("no-default-browser-check", true),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.Flag("mute-audio", true),
		chromedp.Flag("password-store", "basic"),
		chromedp.Flag("lang", "en-US"),
	)
	ctx, cancel := chromedp.NewContext(alloc)
	if err := chromedp.Do(ctx); err != nil {
		cancel()
		cancelAlloc()
		t.Fatalf("starting Chromium (%s): %v", path, err)
	}
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
		// Chromium's helpers may write to the profile for a moment after
		// the browser exits.
		deadline := time.Now().Add(10 * time.Second)
		for os.RemoveAll(profile) != nil && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
		}
	})
	b := &browser{t: t, ctx: ctx}
	b.shots = os.Getenv("SLUICE_SCREENSHOTS")
	if b.shots == "" {
		if b.shots, err = os.MkdirTemp("", "sluice-screenshots-"); err != nil {
			t.Fatal(err)
		}
	} else if err := os.MkdirAll(b.shots, 0o755); err != nil {
		t.Fatal(err)
	}
	old, _ := filepath.Glob(filepath.Join(b.shots, "[0-9][0-9]-*.png"))
	for _, f := range old {
		_ = os.Remove(f) // the screenshots of an earlier run
	}
	t.Logf("screenshots in %s", b.shots)
	b.watchDialogs(ctx)
	watchCSP(t, ctx)
	return b
}

// watchCSP makes every page of a tab record violations of its content
// security policy in window.__csp: the UI must work within its policy.
func watchCSP(t *testing.T, ctx context.Context) {
	t.Helper()
	_, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{
		Source: `window.__csp = []; document.addEventListener("securitypolicyviolation", e => window.__csp.push(e.violatedDirective + " " + e.blockedURI + " " + e.sourceFile + ":" + e.lineNumber));`,
	})
	if err != nil {
		t.Fatal(err)
	}
}

// noCSPViolations fails the test if the page broke its policy.
func noCSPViolations(t *testing.T, ctx context.Context) {
	t.Helper()
	if !eval[bool](t, ctx, `Array.isArray(window.__csp)`) {
		t.Fatal("the policy watcher is not installed")
	}
	if v := eval[[]string](t, ctx, `window.__csp`); len(v) > 0 {
		t.Errorf("content security policy violations on %s: %v", eval[string](t, ctx, "location.pathname"), v)
	}
}

// watchDialogs records (and dismisses) every JavaScript dialog of a tab:
// markup that ran would show one.
func (b *browser) watchDialogs(ctx context.Context) {
	dialogs := chromedp.Events(ctx, page.JavascriptDialogOpening)
	go func() {
		for ev, err := range dialogs {
			if err != nil {
				return
			}
			b.mu.Lock()
			b.dialogs = append(b.dialogs, fmt.Sprint(ev.Type)+": "+ev.Message)
			b.mu.Unlock()
			_, _ = chromedp.Call(ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: false})
		}
	}()
}

// tab opens another tab in the same browser (sharing cookies).
func (b *browser) tab() context.Context {
	b.t.Helper()
	ctx, cancel := chromedp.NewContext(b.ctx)
	b.t.Cleanup(cancel)
	if err := chromedp.Do(ctx); err != nil {
		b.t.Fatal(err)
	}
	b.watchDialogs(ctx)
	watchCSP(b.t, ctx)
	return ctx
}

// do runs actions with a deadline.
func do(t *testing.T, ctx context.Context, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// eval evaluates a JavaScript expression.
func eval[T any](t *testing.T, ctx context.Context, expr string) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("evaluating %s: %v", expr, err)
	}
	return v
}

// waitJS polls a JavaScript condition until it holds, with a deadline.
// Errors while a page loads count as "not yet".
func waitJS(t *testing.T, ctx context.Context, what, cond string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var last error
	for {
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		ok, err := chromedp.Run(cctx, chromedp.Evaluate[bool]("!!("+cond+")"))
		cancel()
		if err == nil && ok {
			return
		}
		if err != nil {
			last = err
		}
		if time.Now().After(deadline) {
			url, _ := chromedp.Run(ctx, chromedp.Location())
			body, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText.slice(0, 3000) : ""`))
			t.Fatalf("%s: not within %v (last error %v) at %s; page text:\n%s", what, timeout, last, url, body)
		}
		time.Sleep(100 * time.Millisecond) // the poll interval, not a wait for the condition
	}
}

// shot saves a full-page screenshot.
func (b *browser) shot(ctx context.Context, name string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Fatalf("screenshot %s: %v", name, err)
	}
	b.n++
	path := filepath.Join(b.shots, fmt.Sprintf("%02d-%s.png", b.n, name))
	if err := os.WriteFile(path, png, 0o644); err != nil {
		b.t.Fatal(err)
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	data, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

var pipelineID = regexp.MustCompile(`(?m)^id:\s*([A-Za-z0-9_.-]+)`)

// reportV1 has params of every type, a slow task and a task that fails
// when asked to; it prints markup and stderr lines.
const reportV1 = `id: report
description: Build the weekly report for a region
params:
  region: {type: enum, values: [eu, us, apac], default: eu, description: where the data lives}
  rows: {type: int, default: 100, description: rows to sample}
  ratio: {type: float, default: 0.5}
  dry_run: {type: bool, default: false, description: compute but do not publish}
  fail: {type: bool, default: false, description: make the check fail}
  label: {type: string, required: true, description: a name for this report}
defaults:
  retries: 1
  retry_delay: 1s
tasks:
  extract:
    run: |
      echo "extracting $SLUICE_PARAM_ROWS rows for $SLUICE_PARAM_REGION"
      echo "label=$SLUICE_PARAM_LABEL"
      echo "rows=$SLUICE_PARAM_ROWS" >> "$SLUICE_OUTPUT"
  render:
    depends_on: [extract]
    run: |
      echo '<script>alert(1)</script>'
      echo 'a warning on stderr' >&2
      for i in 1 2 3 4 5 6; do echo "rendering page $i"; sleep 0.4; done
  check:
    depends_on: [extract]
    run: |
      if [ "$SLUICE_PARAM_FAIL" = true ]; then echo "the numbers do not add up" >&2; exit 3; fi
      echo checked
  publish:
    depends_on: [render, check]
    run: echo "published $SLUICE_PARAM_LABEL (dry run $SLUICE_PARAM_DRY_RUN)"
`

// reportV2 adds a task, for the diff.
const reportV2 = reportV1 + `  notify:
    depends_on: [publish]
    run: echo "told the team"
`

func TestBrowser(t *testing.T) {
	if testing.Short() && os.Getenv("CI") != "true" {
		t.Skip("browser tests are not short")
	}
	dir := t.TempDir()
	pipes := filepath.Join(dir, "pipelines")
	if err := os.MkdirAll(pipes, 0o755); err != nil {
		t.Fatal(err)
	}
	examples, _ := filepath.Glob("../examples/*.yaml")
	if len(examples) < 4 {
		t.Fatalf("found %d examples", len(examples))
	}
	var exampleIDs []string
	for _, f := range examples {
		copyFile(t, f, filepath.Join(pipes, filepath.Base(f)))
		data, _ := os.ReadFile(f)
		if m := pipelineID.FindSubmatch(data); m != nil {
			exampleIDs = append(exampleIDs, string(m[1]))
		}
	}
	writeFile(t, filepath.Join(pipes, "report.yaml"), reportV1)
	writeFile(t, filepath.Join(pipes, "broken.yaml"), "id: broken\ntasks:\n  \"<script>alert(1)</script>\":\n    run: echo hi\n")
	writeFile(t, filepath.Join(pipes, "pooled.yaml"), pooledPipeline(filepath.Join(dir, "release")))
	writeFile(t, filepath.Join(pipes, "dbt_models.yaml"), dbtPipeline)
	writeFile(t, filepath.Join(pipes, "nightly.yaml"), nightlyPipeline)
	writeFile(t, filepath.Join(pipes, "lifecycle.yaml"), lifecyclePipeline)
	writeFile(t, filepath.Join(pipes, "grouped.yaml"), groupedPipeline(dir))
	writeFile(t, filepath.Join(pipes, "listy.yaml"), "id: listy\nparams:\n  tables: {type: list, default: [orders, customers]}\n  config: {type: object, default: {mode: full}}\ntasks:\n  load:\n    for_each: ${{ params.tables }}\n    run: echo loading $SLUICE_ITEM\n")
	writeFile(t, filepath.Join(pipes, "whenskip.yaml"), "id: whenskip\nparams:\n  go: {type: bool, default: false}\ntasks:\n  maybe:\n    when: ${{ params.go }}\n    run: echo ran\n")
	writeFile(t, filepath.Join(pipes, "besteffort.yaml"), "id: besteffort\ntasks:\n  try:\n    allow_failure: true\n    run: exit 3\n  alert:\n    depends_on: [try]\n    trigger_rule: one_failed\n    run: echo alert\n")

	srv := startSluice(t, dir)
	br := newBrowser(t)
	ctx := br.ctx
	base := srv.url
	defer func() {
		if t.Failed() {
			t.Logf("sluice log:\n%s", srv.logs())
		}
	}()

	t.Run("login", func(t *testing.T) {
		do(t, ctx, "open the home page", chromedp.Navigate(base+"/pipelines/report"))
		waitJS(t, ctx, "redirect to the login page", `location.pathname === "/login" && location.search === "?next=%2Fpipelines%2Freport"`, 20*time.Second)
		br.shot(ctx, "login")
		do(t, ctx, "log in",
			chromedp.SendKeys(chromedp.ID("name"), "admin"),
			chromedp.SendKeys(chromedp.ID("password"), adminPassword),
			chromedp.Click(chromedp.CSS(".login-card button[type=submit]")),
		)
		waitJS(t, ctx, "back at the page asked for", `location.pathname === "/pipelines/report" && document.querySelector("h1") && document.querySelector("h1").textContent.includes("report")`, 20*time.Second)
		if tok := eval[string](t, ctx, `document.querySelector('meta[name="csrf-token"]').content`); len(tok) < 20 {
			t.Fatalf("no CSRF token on the first page after login: %q", tok)
		}
	})

	t.Run("pipelines listed", func(t *testing.T) {
		do(t, ctx, "open the home page", chromedp.Navigate(base+"/"))
		for _, id := range append(exampleIDs, "report") {
			waitJS(t, ctx, "pipeline "+id+" listed", fmt.Sprintf(`document.querySelector('#p-%s a.pid')`, id), 20*time.Second)
		}
		waitJS(t, ctx, "the broken file in the banner", `document.querySelector('.banner.error') && document.querySelector('.banner.error').textContent.includes("broken")`, 20*time.Second)
		// The bad task id is shown as text in the error, never as markup.
		waitJS(t, ctx, "the error text", `[...document.querySelectorAll('pre.perr')].some(e => e.textContent.includes('task id "<script>alert(1)</script>" is not valid'))`, 10*time.Second)
		if n := eval[int](t, ctx, `document.querySelectorAll('main script, #notice script').length`); n != 0 {
			t.Fatalf("%d script elements in the page body", n)
		}
		br.shot(ctx, "pipelines")
	})

	// A second version of report, for the code tab's diff.
	t.Run("new version", func(t *testing.T) {
		writeFile(t, filepath.Join(pipes, "report.yaml"), reportV2)
		deadline := time.Now().Add(30 * time.Second)
		for {
			do(t, ctx, "open the code tab", chromedp.Navigate(base+"/pipelines/report/code"))
			if eval[int](t, ctx, `document.querySelectorAll('#version option').length`) >= 2 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the changed file did not make a new version:\n%s", srv.logs())
			}
		}
	})

	t.Run("a list param in the trigger form", func(t *testing.T) {
		do(t, ctx, "open the trigger form", chromedp.Navigate(base+"/pipelines/listy/trigger"))
		waitJS(t, ctx, "the list's text area with its default", `document.querySelector('textarea#f-tables') && document.querySelector('textarea#f-tables').value === "orders\ncustomers"`, 10*time.Second)
		if got := eval[string](t, ctx, `document.querySelector('textarea#f-config').value`); !strings.Contains(got, `"mode": "full"`) {
			t.Errorf("the object's text area holds %q", got)
		}
		do(t, ctx, "three tables", chromedp.SetValue(chromedp.CSS(`textarea#f-tables`), "a\nb\nc"))
		br.shot(ctx, "trigger-list")
		do(t, ctx, "trigger", chromedp.Click(chromedp.CSS("#trigger-form button[type=submit]")))
		waitJS(t, ctx, "the run succeeds with three items", `/^\/runs\/\d+$/.test(location.pathname) && document.querySelector('#run-state').dataset.state === "success" && document.querySelectorAll('tr.item-row').length === 3`, 60*time.Second)
		// [] is the empty list: no instance of load, not the default.
		do(t, ctx, "open the trigger form again", chromedp.Navigate(base+"/pipelines/listy/trigger"))
		waitJS(t, ctx, "the hint", `document.querySelector('#h-tables').textContent.includes("[] for none")`, 10*time.Second)
		do(t, ctx, "no tables", chromedp.SetValue(chromedp.CSS(`textarea#f-tables`), "[]"), chromedp.Click(chromedp.CSS("#trigger-form button[type=submit]")))
		waitJS(t, ctx, "the run succeeds with load skipped, no items", `/^\/runs\/\d+$/.test(location.pathname) && document.querySelector('#run-state').dataset.state === "success" && document.querySelector('#task-load').dataset.state === "skipped" && document.querySelectorAll('tr.item-row').length === 0`, 60*time.Second)
		// A bad object is refused next to its field.
		do(t, ctx, "open the trigger form again", chromedp.Navigate(base+"/pipelines/listy/trigger"))
		do(t, ctx, "a list for the object", chromedp.SetValue(chromedp.CSS(`textarea#f-config`), "[1]"), chromedp.Click(chromedp.CSS("#trigger-form button[type=submit]")))
		waitJS(t, ctx, "the problem beside config", `document.querySelector('#e-config') && document.querySelector('#e-config').textContent.includes("want a JSON object")`, 10*time.Second)
	})

	t.Run("a task skipped by when: shows its condition, no attempt", func(t *testing.T) {
		do(t, ctx, "open the trigger form", chromedp.Navigate(base+"/pipelines/whenskip/trigger"))
		do(t, ctx, "trigger", chromedp.Click(chromedp.CSS("#trigger-form button[type=submit]")))
		waitJS(t, ctx, "the run succeeds", `/^\/runs\/\d+$/.test(location.pathname) && document.querySelector('#run-state').dataset.state === "success"`, 60*time.Second)
		if got := eval[string](t, ctx, `document.querySelector('#task-maybe .note').textContent`); got != "when: ${{ params.go }} is false" {
			t.Errorf("maybe's note = %q", got)
		}
		if got := eval[string](t, ctx, `document.querySelector('#task-maybe td[data-label=Attempts]').textContent.trim()`); got != "0" {
			t.Errorf("maybe's attempts = %q, want 0", got)
		}
		do(t, ctx, "its page", chromedp.Navigate(base+eval[string](t, ctx, `location.pathname`)+"/tasks/maybe"))
		waitJS(t, ctx, "never ran, with the condition", `document.querySelector('#task-note') && document.querySelector('#task-note').textContent === "when: ${{ params.go }} is false"`, 10*time.Second)
	})

	t.Run("an allowed failure leaves the run green", func(t *testing.T) {
		do(t, ctx, "open the trigger form", chromedp.Navigate(base+"/pipelines/besteffort/trigger"))
		do(t, ctx, "trigger", chromedp.Click(chromedp.CSS("#trigger-form button[type=submit]")))
		waitJS(t, ctx, "the run succeeds", `/^\/runs\/\d+$/.test(location.pathname) && document.querySelector('#run-state').dataset.state === "success"`, 60*time.Second)
		waitJS(t, ctx, "try failed, marked allowed", `document.querySelector('#task-try').dataset.state === "failed" && document.querySelector('#task-try .tag.allowed') !== null`, 10*time.Second)
		if eval[bool](t, ctx, `document.querySelector('#task-alert .tag.allowed') !== null`) {
			t.Error("alert, which does not allow failure, is marked allowed")
		}

		// Clear with options: the dialog previews what the options
		// select, and clears that.
		runPath := eval[string](t, ctx, `location.pathname`)
		do(t, ctx, "open the clear dialog", chromedp.Click(chromedp.CSS("#task-try a.act-clear")))
		waitJS(t, ctx, "the preview of try and its downstream", `location.pathname === "`+runPath+`/clear" && document.querySelectorAll('#selection-list tbody tr').length === 2`, 10*time.Second)
		if got := eval[string](t, ctx, `[...document.querySelectorAll('#selection-list tbody tr')].map(r => r.dataset.task).join(",")`); got != "alert,try" && got != "try,alert" {
			t.Errorf("previewed %q, want try and alert", got)
		}
		br.shot(ctx, "clear-dialog")
		do(t, ctx, "without downstream", chromedp.Click(chromedp.CSS(`#selection-options input[name=downstream]`)), chromedp.Click(chromedp.CSS("#selection-preview")))
		waitJS(t, ctx, "only try", `document.querySelectorAll('#selection-list tbody tr').length === 1 && document.querySelector('#selection-list tbody tr').dataset.task === "try"`, 10*time.Second)
		do(t, ctx, "clear it", chromedp.Click(chromedp.CSS("#selection-apply button[type=submit]")))
		waitJS(t, ctx, "back on the run, try cleared", `location.pathname === "`+runPath+`" && document.body.textContent.includes("1 task instance in 1 run cleared")`, 10*time.Second)
		waitJS(t, ctx, "try failed a second time, the run still green", `document.querySelector('#task-try').dataset.state === "failed" && document.querySelector('#task-try td[data-label=Attempts]').textContent.trim().startsWith("2") && document.querySelector('#run-state').dataset.state === "success"`, 60*time.Second)
		noCSPViolations(t, ctx)
	})

	var runURL string
	t.Run("trigger with params and watch it succeed", func(t *testing.T) {
		do(t, ctx, "open the trigger form", chromedp.Navigate(base+"/pipelines/report/trigger"))
		waitJS(t, ctx, "the form", `document.querySelector('#trigger-form #f-region')`, 10*time.Second)
		// A missing required param is reported next to the form, keeping
		// what was typed.
		do(t, ctx, "fill in without the label",
			chromedp.SetValue(chromedp.ID("f-region"), "us"),
			chromedp.SetValue(chromedp.ID("f-rows"), "250"),
			chromedp.Click(chromedp.CSS("#trigger-form button[type=submit]")),
		)
		waitJS(t, ctx, "the error", `document.querySelector('#e-label') && document.querySelector('#e-label').textContent.includes("required")`, 10*time.Second)
		if v := eval[string](t, ctx, `document.querySelector('#f-rows').value + "/" + document.querySelector('#f-region').value`); v != "250/us" {
			t.Fatalf("the form lost its input: %s", v)
		}
		br.shot(ctx, "trigger-form-error")
		do(t, ctx, "fill in the label",
			chromedp.SendKeys(chromedp.ID("f-label"), "weekly <b>numbers</b>"),
			chromedp.Click(chromedp.ID("f-dry_run")),
			chromedp.Click(chromedp.CSS("#trigger-form button[type=submit]")),
		)
		waitJS(t, ctx, "the run page", `/^\/runs\/\d+$/.test(location.pathname) && document.querySelector('#run-state')`, 20*time.Second)
		runURL = eval[string](t, ctx, `location.href`)
		eval[chromedp.Void](t, ctx, `window.__sameDocument = true`)
		wantParams := eval[string](t, ctx, `document.querySelector('.params').textContent`)
		for _, w := range []string{"us", "250", "weekly <b>numbers</b>", "true"} {
			if !strings.Contains(wantParams, w) {
				t.Errorf("params %q lack %q", wantParams, w)
			}
		}
		// Record the states the page shows until it shows success.
		seen := []string{}
		deadline := time.Now().Add(90 * time.Second)
		for {
			st := eval[string](t, ctx, `(document.querySelector('#run-state') || {}).dataset ? document.querySelector('#run-state').dataset.state : ""`)
			if len(seen) == 0 || seen[len(seen)-1] != st {
				seen = append(seen, st)
			}
			if st == "success" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the run did not turn success; states seen %v", seen)
			}
			time.Sleep(100 * time.Millisecond) // the poll interval
		}
		if len(seen) < 2 {
			t.Errorf("the page showed only %v: it should have shown the run before it finished", seen)
		}
		if !eval[bool](t, ctx, `window.__sameDocument === true`) {
			t.Fatal("the page reloaded to show the new state")
		}
		noCSPViolations(t, ctx)
		waitJS(t, ctx, "every task green", `[...document.querySelectorAll('tr[data-state]')].every(r => r.dataset.state === "success") && document.querySelectorAll('svg.gantt-plot rect.bar').length >= 4`, 10*time.Second)
		br.shot(ctx, "run-success")
	})

	t.Run("task log", func(t *testing.T) {
		do(t, ctx, "open the log", chromedp.Navigate(runURL+"/tasks/render"))
		waitJS(t, ctx, "the log lines", `document.querySelector('#log-lines') && document.querySelector('#log-lines').textContent.includes("rendering page 6")`, 20*time.Second)
		if !eval[bool](t, ctx, `[...document.querySelectorAll('#log-lines .lx')].some(e => e.textContent === "<script>alert(1)</script>")`) {
			t.Error("the line with markup is not shown as text")
		}
		if n := eval[int](t, ctx, `document.querySelectorAll('#log-lines script, #log-lines b').length`); n != 0 {
			t.Errorf("%d elements made from log text", n)
		}
		if !eval[bool](t, ctx, `[...document.querySelectorAll('#log-lines .ll.s-e .lx')].some(e => e.textContent === "a warning on stderr")`) {
			t.Error("the stderr line is not marked")
		}
		if !eval[bool](t, ctx, `/^\d\d:\d\d:\d\d\.\d\d\d$/.test(document.querySelector('#log-lines .lt').textContent)`) {
			t.Error("log lines lack a time with milliseconds")
		}
		br.shot(ctx, "log")
	})

	var tailRunURL, failedRunURL string
	t.Run("live log tail", func(t *testing.T) {
		// Trigger through htmx's path from a page, then open the slow
		// task's log before it has finished and watch the lines arrive.
		do(t, ctx, "open the trigger form", chromedp.Navigate(base+"/pipelines/report/trigger"))
		do(t, ctx, "trigger",
			chromedp.SendKeys(chromedp.ID("f-label"), "tail"),
			chromedp.Click(chromedp.CSS("#trigger-form button[type=submit]")),
		)
		waitJS(t, ctx, "the run page", `/^\/runs\/\d+$/.test(location.pathname)`, 20*time.Second)
		url := eval[string](t, ctx, `location.href`)
		tailRunURL = url
		do(t, ctx, "open the log at once", chromedp.Navigate(url+"/tasks/render"))
		eval[chromedp.Void](t, ctx, `window.__sameDocument = true`)
		live := eval[bool](t, ctx, `document.querySelector('#log-live').dataset.live === "1"`)
		waitJS(t, ctx, "the last line", `document.querySelector('#log-lines') && document.querySelector('#log-lines').textContent.includes("rendering page 6")`, 60*time.Second)
		waitJS(t, ctx, "the final state", `document.querySelector('#task-state').dataset.state === "success"`, 30*time.Second)
		if !live {
			t.Error("the log of a task that had not finished was not live")
		}
		noCSPViolations(t, ctx)
		if !eval[bool](t, ctx, `window.__sameDocument === true`) {
			t.Error("the log page reloaded")
		}
	})

	t.Run("failed run", func(t *testing.T) {
		do(t, ctx, "open the trigger form", chromedp.Navigate(base+"/pipelines/report/trigger"))
		do(t, ctx, "trigger a failing run",
			chromedp.SendKeys(chromedp.ID("f-label"), "bad numbers"),
			chromedp.Click(chromedp.ID("f-fail")),
			chromedp.Click(chromedp.CSS("#trigger-form button[type=submit]")),
		)
		waitJS(t, ctx, "the run page", `/^\/runs\/\d+$/.test(location.pathname)`, 20*time.Second)
		waitJS(t, ctx, "the run fails", `document.querySelector('#run-state').dataset.state === "failed"`, 60*time.Second)
		failedRunURL = eval[string](t, ctx, `location.href`)
		waitJS(t, ctx, "publish is upstream_failed", `document.querySelector('#task-publish').dataset.state === "upstream_failed"`, 10*time.Second)
		waitJS(t, ctx, "two attempts of check in the Gantt", `document.querySelectorAll('svg.gantt-plot a[href*="/tasks/check?attempt="]').length === 2`, 10*time.Second)
		br.shot(ctx, "run-failed")
		do(t, ctx, "the check log", chromedp.Navigate(eval[string](t, ctx, `location.href`)+"/tasks/check"))
		waitJS(t, ctx, "two attempts", `document.querySelectorAll('table.attempts tbody tr').length === 2`, 10*time.Second)
		br.shot(ctx, "log-failed")
	})

	t.Run("mapped task", func(t *testing.T) {
		if !slices.Contains(exampleIDs, "mapping") {
			t.Log("no mapping example to run")
			return
		}
		do(t, ctx, "open the trigger form", chromedp.Navigate(base+"/pipelines/mapping/trigger"))
		do(t, ctx, "trigger", chromedp.Click(chromedp.CSS("#trigger-form button[type=submit]")))
		waitJS(t, ctx, "the run succeeds", `/^\/runs\/\d+$/.test(location.pathname) && document.querySelector('#run-state').dataset.state === "success"`, 60*time.Second)
		waitJS(t, ctx, "a row per item", `document.querySelectorAll('tr.item-row[data-state="success"]').length >= 4`, 10*time.Second)
		br.shot(ctx, "run-mapped")
		do(t, ctx, "open an item's log", chromedp.Navigate(eval[string](t, ctx, `location.href`)+"/tasks/process?item=1"))
		waitJS(t, ctx, "the item's log", `document.querySelector('#log-lines') && document.querySelector('#log-lines').textContent.includes("processing item 1")`, 20*time.Second)
	})

	t.Run("pipeline views", func(t *testing.T) {
		do(t, ctx, "open the grid", chromedp.Navigate(base+"/pipelines/report"))
		waitJS(t, ctx, "the grid", `document.querySelectorAll('table.grid tbody tr').length >= 5 && document.querySelectorAll('table.grid a.sq.st-failed').length >= 1`, 20*time.Second)
		noCSPViolations(t, ctx)
		br.shot(ctx, "grid")
		do(t, ctx, "open the graph", chromedp.Navigate(base+"/pipelines/report/graph"))
		waitJS(t, ctx, "the graph", `document.querySelectorAll('svg.dag g.node').length === 5 && document.querySelectorAll('svg.dag path.edge').length === 5`, 20*time.Second)
		br.shot(ctx, "graph")
		do(t, ctx, "open the diff", chromedp.Navigate(base+"/pipelines/report/code"))
		do(t, ctx, "compare", chromedp.Click(chromedp.CSS("#diff button[type=submit]")))
		waitJS(t, ctx, "the diff", `document.querySelectorAll('pre.diff .d-add').length >= 3`, 20*time.Second)
		br.shot(ctx, "code-diff")
		do(t, ctx, "open the runs", chromedp.Navigate(base+"/pipelines/report/runs"))
		waitJS(t, ctx, "the runs", `document.querySelectorAll('table.runs-table tbody tr').length >= 3`, 20*time.Second)
		br.shot(ctx, "runs")
		if slices.Contains(exampleIDs, "fanout") {
			do(t, ctx, "open the fan-out graph", chromedp.Navigate(base+"/pipelines/fanout/graph"))
			waitJS(t, ctx, "the graph", `document.querySelectorAll('svg.dag g.node').length >= 2`, 20*time.Second)
			br.shot(ctx, "graph-fanout")
		}
		do(t, ctx, "open the home page", chromedp.Navigate(base+"/"))
		waitJS(t, ctx, "runs on the home page", `document.querySelectorAll('#p-report .runs a.sq').length >= 3`, 20*time.Second)
		br.shot(ctx, "pipelines-with-runs")
	})

	t.Run("upload as a plain form", func(t *testing.T) {
		noJS := br.tab()
		if _, err := chromedp.Call(noJS, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true}); err != nil {
			t.Fatal(err)
		}
		file := filepath.Join(dir, "plain_upload.yaml")
		writeFile(t, file, "id: plain_upload\ndescription: Uploaded without JavaScript\ntasks:\n  a: {run: echo a}\n  b: {run: echo b, depends_on: [a]}\n")
		do(t, noJS, "upload", chromedp.Navigate(base+"/upload"),
			chromedp.SetUploadFiles(chromedp.ID("file"), []string{file}),
			chromedp.Click(chromedp.CSS("#upload-form button[type=submit]")),
		)
		waitJS(t, noJS, "the result page", `location.pathname === "/upload" && document.querySelector('#upload-ok')`, 20*time.Second)
		if !eval[bool](t, noJS, `document.querySelector('#upload-ok a[href="/pipelines/plain_upload"]') !== null`) {
			t.Error("no link to the uploaded pipeline")
		}
		do(t, ctx, "open the home page", chromedp.Navigate(base+"/"))
		waitJS(t, ctx, "the uploaded pipeline", `document.querySelector('#p-plain_upload')`, 10*time.Second)
	})

	t.Run("upload with htmx", func(t *testing.T) {
		bad := filepath.Join(dir, "bad.yaml")
		writeFile(t, bad, "id: bad upload\ntasks:\n  extract:\n    runn: echo\n    retries: lots\n  load:\n    depends_on: [extrct]\n    run: echo\n")
		do(t, ctx, "open the upload page", chromedp.Navigate(base+"/upload"))
		eval[chromedp.Void](t, ctx, `window.__sameDocument = true`)
		do(t, ctx, "upload a bad file",
			chromedp.SetUploadFiles(chromedp.ID("file"), []string{bad}),
			chromedp.Click(chromedp.CSS("#upload-form button[type=submit]")),
		)
		waitJS(t, ctx, "the errors", `document.querySelectorAll('#upload-error ol.perrors li').length >= 3`, 20*time.Second)
		text := eval[string](t, ctx, `document.querySelector('#upload-error').textContent`)
		for _, w := range []string{"bad.yaml:1:5", "bad.yaml:4:5", `unknown key "runn"`, "hint:", "extrct"} {
			if !strings.Contains(text, w) {
				t.Errorf("the errors lack %q:\n%s", w, text)
			}
		}
		if !eval[bool](t, ctx, `window.__sameDocument === true`) {
			t.Error("the htmx upload reloaded the page")
		}
		noCSPViolations(t, ctx)
		br.shot(ctx, "upload-errors")
		good := filepath.Join(dir, "htmx_upload.yaml")
		writeFile(t, good, "id: htmx_upload\ntasks:\n  only: {run: echo only}\n")
		do(t, ctx, "upload a good file",
			chromedp.SetUploadFiles(chromedp.ID("file"), []string{good}),
			chromedp.Click(chromedp.CSS("#upload-form button[type=submit]")),
		)
		waitJS(t, ctx, "the success", `document.querySelector('#upload-ok a[href="/pipelines/htmx_upload"]')`, 20*time.Second)
		if !eval[bool](t, ctx, `window.__sameDocument === true`) {
			t.Error("the htmx upload reloaded the page")
		}
	})

	t.Run("cross-origin and tokenless posts are refused", func(t *testing.T) {
		token := eval[string](t, ctx, `document.querySelector('meta[name="csrf-token"]').content`)
		// A page on another origin (another port) posts to sluice: a form
		// that carries even the right token, and a fetch with credentials.
		evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			switch r.URL.Path {
			case "/form":
				fmt.Fprintf(w, `<!doctype html><form id="f" method="post" action="%s/pipelines/hello/pause">
<input name="paused" value="true"><input name="csrf_token" value="%s"></form>
<script>document.getElementById("f").submit()</script>`, base, token)
			case "/fetch":
				fmt.Fprintf(w, `<!doctype html><p id="out">…</p><script>
fetch(%q, {method: "POST", credentials: "include", mode: "no-cors",
  headers: {"Content-Type": "application/x-www-form-urlencoded"}, body: "paused=true"})
  .then(() => document.getElementById("out").textContent = "sent", e => document.getElementById("out").textContent = "error " + e)
</script>`, base+"/pipelines/hello/pause")
			}
		}))
		defer evil.Close()
		do(t, ctx, "the other origin's form", chromedp.Navigate(evil.URL+"/form"))
		waitJS(t, ctx, "the 403 page", `location.origin === `+jsString(base)+` && document.querySelector('#error-message') && document.querySelector('.error-code').textContent === "403"`, 20*time.Second)
		msg := eval[string](t, ctx, `document.querySelector('#error-message').textContent`)
		if !strings.Contains(msg, "cross-origin request refused") {
			t.Errorf("the 403 page says %q", msg)
		}
		br.shot(ctx, "forbidden")
		do(t, ctx, "the other origin's fetch", chromedp.Navigate(evil.URL+"/fetch"))
		waitJS(t, ctx, "the fetch went out", `document.getElementById("out").textContent !== "…"`, 20*time.Second)

		// Same origin, but no token or a wrong one.
		do(t, ctx, "open a page", chromedp.Navigate(base+"/"))
		for _, body := range []string{"paused=true", "paused=true&csrf_token=wrong"} {
			st := eval[int](t, ctx, `fetch("/pipelines/hello/pause", {method: "POST", headers: {"Content-Type": "application/x-www-form-urlencoded"}, body: `+jsString(body)+`}).then(r => r.status)`)
			if st != http.StatusForbidden {
				t.Errorf("same-origin POST %q: %d, want 403", body, st)
			}
		}
		st := eval[int](t, ctx, `fetch("/pipelines/hello/pause", {method: "POST", headers: {"X-CSRF-Token": "wrong", "HX-Request": "true"}, body: new URLSearchParams({paused: "true"})}).then(r => r.status)`)
		if st != http.StatusForbidden {
			t.Errorf("htmx-like POST with a wrong header token: %d, want 403", st)
		}
		// Nothing changed: hello is still active, and the server logged no
		// pause.
		do(t, ctx, "reload the home page", chromedp.Navigate(base+"/"))
		waitJS(t, ctx, "hello listed", `document.querySelector('#p-hello button[role=switch]')`, 10*time.Second)
		if got := eval[string](t, ctx, `document.querySelector('#p-hello button[role=switch]').getAttribute("aria-checked")`); got != "true" {
			t.Errorf("hello's pause switch is %s after refused requests", got)
		}
		if strings.Contains(srv.logs(), `"msg":"pipeline paused"`) || strings.Contains(srv.logs(), "msg=\"pipeline paused\"") {
			t.Errorf("a refused request paused a pipeline:\n%s", srv.logs())
		}
		// The real switch, with the token from the page, works.
		do(t, ctx, "pause hello", chromedp.Click(chromedp.CSS("#p-hello button[role=switch]")))
		waitJS(t, ctx, "hello paused", `document.querySelector('#p-hello button[role=switch]').getAttribute("aria-checked") === "false" && document.querySelector('#notice .notice.ok')`, 20*time.Second)
		noCSPViolations(t, ctx)
		br.shot(ctx, "paused-notice")
		do(t, ctx, "unpause hello", chromedp.Click(chromedp.CSS("#p-hello button[role=switch]")))
		waitJS(t, ctx, "hello active", `document.querySelector('#p-hello button[role=switch]').getAttribute("aria-checked") === "true"`, 20*time.Second)
	})

	t.Run("users and tokens", func(t *testing.T) {
		do(t, ctx, "open users", chromedp.Navigate(base+"/admin/users"))
		do(t, ctx, "add a user",
			chromedp.SendKeys(chromedp.ID("new-name"), "olga"),
			chromedp.SetValue(chromedp.ID("new-role"), "operator"),
			chromedp.SendKeys(chromedp.ID("new-password"), "olga-password"),
			chromedp.Click(chromedp.CSS("form[action='/admin/users'] button[type=submit]")),
		)
		waitJS(t, ctx, "olga listed", `[...document.querySelectorAll('table.users td')].some(td => td.textContent.includes("olga"))`, 20*time.Second)
		br.shot(ctx, "users")
		do(t, ctx, "open tokens", chromedp.Navigate(base+"/admin/tokens"))
		do(t, ctx, "create a token",
			chromedp.SendKeys(chromedp.ID("tk-name"), "nightly backfill"),
			chromedp.SetValue(chromedp.ID("tk-role"), "operator"),
			chromedp.Click(chromedp.CSS("form[action='/admin/tokens'] button[type=submit]")),
		)
		waitJS(t, ctx, "the secret", `document.querySelector('#secret') && document.querySelector('#secret').value.startsWith("slc_")`, 20*time.Second)
		br.shot(ctx, "tokens")
	})

	t.Run("clear with options, mark with downstream", func(t *testing.T) {
		if failedRunURL == "" || tailRunURL == "" {
			t.Skip("needs the runs of report made above")
		}
		// The failed run of report (its second version): extract and
		// render succeeded, check failed, publish and notify are
		// upstream_failed; two good runs are before it.
		rows := `[...document.querySelectorAll('#selection-list tbody tr')].map(r => r.dataset.run + "." + r.dataset.task).sort().join(" ")`
		failedRun := strings.TrimPrefix(failedRunURL, base+"/runs/")
		do(t, ctx, "open the failed run", chromedp.Navigate(failedRunURL))
		waitJS(t, ctx, "its clear buttons", `document.querySelector('#task-extract a.act-clear')`, 20*time.Second)
		do(t, ctx, "clear extract…", chromedp.Click(chromedp.CSS("#task-extract a.act-clear")))
		waitJS(t, ctx, "extract and its downstream", `document.querySelectorAll('#selection-list tbody tr').length === 5`, 10*time.Second)
		do(t, ctx, "only failed", chromedp.Click(chromedp.CSS(`#selection-options input[name=only_failed]`)), chromedp.Click(chromedp.CSS("#selection-preview")))
		waitJS(t, ctx, "only check, publish and notify", rows+` === "`+failedRun+`.check `+failedRun+`.notify `+failedRun+`.publish"`, 10*time.Second)
		// Past runs instead, without downstream: extract in every run of
		// report up to this one.
		do(t, ctx, "past, not downstream, not only failed",
			chromedp.Click(chromedp.CSS(`#selection-options input[name=only_failed]`)),
			chromedp.Click(chromedp.CSS(`#selection-options input[name=downstream]`)),
			chromedp.Click(chromedp.CSS(`#selection-options input[name=past]`)),
			chromedp.Click(chromedp.CSS("#selection-preview")))
		waitJS(t, ctx, "extract in three runs", `document.querySelectorAll('#selection-list tbody tr').length === 3 && [...document.querySelectorAll('#selection-list tbody tr')].every(r => r.dataset.task === "extract") && document.querySelector('#selection-count').textContent === "3 task instances in 3 runs"`, 10*time.Second)

		// Mark a good run's render failed with its downstream: render,
		// publish and notify fail, the run fails, extract and check stay
		// green.
		tailRun := strings.TrimPrefix(tailRunURL, base+"/runs/")
		do(t, ctx, "open a good run", chromedp.Navigate(tailRunURL))
		waitJS(t, ctx, "its mark buttons", `document.querySelector('#run-state').dataset.state === "success" && document.querySelector('#task-render a.act-mark-failed')`, 20*time.Second)
		do(t, ctx, "mark render failed…", chromedp.Click(chromedp.CSS("#task-render a.act-mark-failed")))
		waitJS(t, ctx, "render alone", rows+` === "`+tailRun+`.render"`, 10*time.Second)
		do(t, ctx, "with downstream", chromedp.Click(chromedp.CSS(`#selection-options input[name=downstream]`)), chromedp.Click(chromedp.CSS("#selection-preview")))
		waitJS(t, ctx, "render, publish and notify", rows+` === "`+tailRun+`.notify `+tailRun+`.publish `+tailRun+`.render" && document.querySelector('#selection-apply button[type=submit]').textContent.trim() === "Mark failed 3 task instances"`, 10*time.Second)
		noCSPViolations(t, ctx)
		br.shot(ctx, "mark-dialog")
		do(t, ctx, "mark them", chromedp.Click(chromedp.CSS("#selection-apply button[type=submit]")))
		waitJS(t, ctx, "the run failed by the mark", `location.pathname === "/runs/`+tailRun+`" && document.body.textContent.includes("3 task instances in 1 run marked failed") && document.querySelector('#run-state').dataset.state === "failed"`, 20*time.Second)
		states := eval[string](t, ctx, `["extract", "render", "check", "publish", "notify"].map(t => document.querySelector('#task-' + t).dataset.state).join(" ")`)
		if states != "success failed success failed failed" {
			t.Errorf("after the mark, extract render check publish notify = %s", states)
		}
	})

	featureTests(t, br, srv)
	groupTests(t, br, srv)

	t.Run("phone", func(t *testing.T) {
		phone := br.tab()
		do(t, phone, "phone viewport", chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile))
		do(t, phone, "open the home page", chromedp.Navigate(base+"/"))
		waitJS(t, phone, "cards", `document.querySelector('#p-report')`, 20*time.Second)
		if w := eval[int](t, phone, `document.documentElement.scrollWidth`); w > 400 {
			t.Errorf("the home page is %dpx wide on a 390px phone; too wide: %s", w, eval[string](t, phone, wideElements))
		}
		br.shot(phone, "phone-pipelines")
		do(t, phone, "open the run", chromedp.Navigate(runURL))
		waitJS(t, phone, "the run", `document.querySelector('#run-state')`, 20*time.Second)
		if w := eval[int](t, phone, `document.documentElement.scrollWidth`); w > 400 {
			t.Errorf("the run page is %dpx wide on a 390px phone; too wide: %s", w, eval[string](t, phone, wideElements))
		}
		br.shot(phone, "phone-run")
		for _, page := range []struct{ path, ready, shot string }{
			{"/pools", `document.querySelector('#pool-reports_pool')`, "phone-pools"},
			{"/workers", `document.querySelector('.workers-table tbody tr')`, "phone-workers"},
			{"/variables", `document.querySelector('#var-bucket')`, ""},
			{"/secrets", `document.querySelector('#secret-API_TOKEN')`, ""},
			{"/pipelines/nightly/backfills", `document.querySelector('#backfill-form') && document.querySelector('.bf')`, "phone-backfills"},
			{"/pipelines/lifecycle", `document.querySelector('#missing-badge')`, ""},
		} {
			do(t, phone, "open "+page.path, chromedp.Navigate(base+page.path))
			waitJS(t, phone, page.path+" shown", page.ready, 20*time.Second)
			if w := eval[int](t, phone, `document.documentElement.scrollWidth`); w > 400 {
				t.Errorf("%s is %dpx wide on a 390px phone; too wide: %s", page.path, w, eval[string](t, phone, wideElements))
			}
			noCSPViolations(t, phone)
			if page.shot != "" {
				br.shot(phone, page.shot)
			}
		}
	})

	br.mu.Lock()
	defer br.mu.Unlock()
	if len(br.dialogs) > 0 {
		t.Errorf("JavaScript dialogs opened (markup ran?): %v", br.dialogs)
	}
}

// wideElements lists the innermost elements that reach past the
// viewport's right edge.
const wideElements = `[...document.querySelectorAll("body *")].filter(e => e.getBoundingClientRect().right > 391 && ![...e.children].some(c => c.getBoundingClientRect().right > 391)).slice(0, 8).map(e => e.tagName + "." + e.className + " " + Math.round(e.getBoundingClientRect().right)).join(", ")`

// jsString quotes s as a JavaScript string.
func jsString(s string) string {
	b, err := json.Marshal(s)
	if err != nil {
		panic(errors.New("jsString: " + err.Error()))
	}
	return string(b)
}
