package web_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/sluice-dev/sluice/sluicetest"
)

// An asset chain across pipelines, with a name that needs escaping in a
// URL, and a webhook pipeline.
const (
	oddAsset      = "s3://lake/orders@v1+fmt=parquet"
	assetsExtract = "id: extract\ntasks:\n  pull:\n    run: echo pulled\n    produces: [raw.orders]\n"
	assetsBuild   = "id: build\nschedule: {assets: [raw.orders]}\ntasks:\n  load:\n    run: echo loaded\n    produces: [\"" + oddAsset + "\"]\n"
	assetsReport  = "id: weekly\nschedule: {assets: [\"" + oddAsset + "\", crm.customers]}\ntasks:\n  render:\n    run: echo rendered\n"
	assetsDrop    = "id: dropped\ntriggers:\n  - files: {path: %q, pattern: \"*.csv\", stable_for: 0s}\ntasks:\n  load:\n    run: echo loaded\n"
	assetsHook    = "id: hooked\nparams:\n  ref: {type: string, default: none}\ntriggers:\n  - webhook:\n      secret: HOOK_KEY\n      params:\n        ref: ${{ body.ref }}\ntasks:\n  build:\n    run: echo \"$SLUICE_PARAM_REF\"\n"
)

// TestBrowserAssets walks the Assets pages of a real server in Chromium:
// the list, an asset whose name holds / : @ + = (its page, recent events
// linking to the producing run, and the lineage across pipelines), the
// "waiting for" line of a pipeline scheduled on assets, and what
// triggered an asset run and a webhook run.
func TestBrowserAssets(t *testing.T) {
	if testing.Short() && os.Getenv("CI") != "true" {
		t.Skip("browser tests are not short")
	}
	dir := t.TempDir()
	pipes := filepath.Join(dir, "pipelines")
	if err := os.MkdirAll(pipes, 0o755); err != nil {
		t.Fatal(err)
	}
	drop := filepath.Join(dir, "drop")
	if err := os.MkdirAll(drop, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, src := range map[string]string{"extract.yaml": assetsExtract, "build.yaml": assetsBuild, "weekly.yaml": assetsReport, "hooked.yaml": assetsHook, "dropped.yaml": fmt.Sprintf(assetsDrop, drop)} {
		writeFile(t, filepath.Join(pipes, name), src)
	}
	srv := startSluice(t, dir)
	br := newBrowser(t)
	ctx := br.ctx
	base := srv.url
	defer func() {
		if t.Failed() {
			t.Logf("sluice log:\n%s", srv.logs())
		}
	}()
	token, err := os.ReadFile(filepath.Join(dir, "home", "cli-token"))
	if err != nil {
		t.Fatal(err)
	}
	apiCall := func(method, path string, body []byte, header map[string]string) (int, []byte) {
		t.Helper()
		req, err := http.NewRequest(method, base+path, bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(path, "/hooks/") {
			req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(token)))
		}
		req.Header.Set("Content-Type", "application/json")
		for k, v := range header {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		out, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, out
	}
	runsOf := func(pipeline string) []struct {
		ID    int64  `json:"id"`
		State string `json:"state"`
	} {
		t.Helper()
		_, body := apiCall("GET", "/api/v1/runs?pipeline="+pipeline, nil, nil)
		var list struct {
			Runs []struct {
				ID    int64  `json:"id"`
				State string `json:"state"`
			} `json:"runs"`
		}
		_ = json.Unmarshal(body, &list)
		return list.Runs
	}
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("%s: not within 30s", what)
			}
			time.Sleep(100 * time.Millisecond) // the poll interval
		}
	}
	for _, id := range []string{"extract", "build", "weekly", "hooked", "dropped"} {
		waitFor(id+" to load", func() bool { st, _ := apiCall("GET", "/api/v1/pipelines/"+id, nil, nil); return st == 200 })
	}

	// extract runs by hand; its success runs build, whose success makes
	// the odd asset fresh for weekly, which still waits for crm.customers.
	if st, body := apiCall("POST", "/api/v1/pipelines/extract/runs", []byte(`{}`), nil); st != 201 {
		t.Fatalf("trigger extract: %d %s", st, body)
	}
	var buildRun int64
	waitFor("build to run on raw.orders and succeed", func() bool {
		runs := runsOf("build")
		if len(runs) == 1 && runs[0].State == "success" {
			buildRun = runs[0].ID
		}
		return buildRun != 0
	})

	do(t, ctx, "open the assets page", chromedp.Navigate(base+"/assets"))
	waitJS(t, ctx, "the login page", `location.pathname === "/login"`, 20*time.Second)
	do(t, ctx, "log in",
		chromedp.SendKeys(chromedp.ID("name"), "admin"),
		chromedp.SendKeys(chromedp.ID("password"), adminPassword),
		chromedp.Click(chromedp.CSS(".login-card button[type=submit]")),
	)

	t.Run("assets page", func(t *testing.T) {
		waitJS(t, ctx, "the assets page", `location.pathname === "/assets" && document.querySelectorAll('tr.asset-row').length === 3`, 20*time.Second)
		if got := eval[string](t, ctx, `[...document.querySelectorAll('tr.asset-row')].map(r => r.dataset.asset).join(" ")`); got != "crm.customers raw.orders "+oddAsset {
			t.Fatalf("asset rows = %q", got)
		}
		if on := eval[string](t, ctx, `document.querySelector('nav.nav a.on').textContent`); on != "Assets" {
			t.Errorf("highlighted nav entry = %q", on)
		}
		row := fmt.Sprintf(`document.querySelector('tr.asset-row[data-asset=%q]')`, oddAsset)
		waitJS(t, ctx, "the odd asset's row", row+`.textContent.includes("build.load") && `+row+`.textContent.includes("weekly") && `+row+fmt.Sprintf(`.querySelector('a[href="/runs/%d"]')`, buildRun), 5*time.Second)
		// Lineage: 3 pipelines (hooked has no assets) and 3 assets, with
		// an edge for each producer and consumer.
		waitJS(t, ctx, "the lineage", `document.querySelectorAll('#lineage svg.lineage g.lin-pipeline').length === 3 && document.querySelectorAll('#lineage svg.lineage g.lin-asset').length === 3 && document.querySelectorAll('#lineage svg.lineage path.edge').length === 5`, 5*time.Second)
		noCSPViolations(t, ctx)
		br.shot(ctx, "assets")
	})

	t.Run("asset page", func(t *testing.T) {
		do(t, ctx, "follow the odd asset's link", chromedp.Click(chromedp.CSS(fmt.Sprintf(`tr.asset-row[data-asset=%q] a.asset-name`, oddAsset))))
		waitJS(t, ctx, "the asset page", `document.querySelector('h1.asset-title') && document.querySelector('h1.asset-title').textContent === `+jsString(oddAsset), 20*time.Second)
		if p := eval[string](t, ctx, `location.pathname`); p != "/assets/"+url.PathEscape(oddAsset) {
			t.Errorf("path = %q, want the name as one escaped segment", p)
		}
		waitJS(t, ctx, "the event from build's run", fmt.Sprintf(`document.querySelector('#asset-events a.producer-run[href="/runs/%d"]')`, buildRun), 5*time.Second)
		waitJS(t, ctx, "weekly waits with it fresh", `document.querySelector('#asset-consumers tr[data-consumer="weekly"] .tag.ok')`, 5*time.Second)
		// The lineage around the asset: extract → raw.orders → build → it →
		// weekly, and crm.customers → weekly; the asset itself highlighted.
		waitJS(t, ctx, "the lineage around it", `document.querySelectorAll('#lineage g.node').length === 6 && document.querySelector('#lineage g.lin-asset.current').dataset.name === `+jsString(oddAsset), 5*time.Second)
		noCSPViolations(t, ctx)
		br.shot(ctx, "asset")
		// A name that no asset can have, and one nothing knows.
		do(t, ctx, "open a bad name", chromedp.Navigate(base+"/assets/has%20space"))
		waitJS(t, ctx, "the invalid-name page", `document.body.textContent.includes("is not an asset name")`, 10*time.Second)
		// Markup in the path is text on the page.
		do(t, ctx, "open a name with markup", chromedp.Navigate(base+"/assets/"+url.PathEscape(`<img src=x onerror=alert(1)>"'`)))
		waitJS(t, ctx, "the markup as text", `document.querySelector('main').textContent.includes('"<img src=x onerror=alert(1)>\\"\'" is not an asset name') && !document.querySelector('main img')`, 10*time.Second)
		do(t, ctx, "open an unknown asset", chromedp.Navigate(base+"/assets/no.such"))
		waitJS(t, ctx, "the unknown-asset page", `document.body.textContent.includes('asset "no.such" is unknown')`, 10*time.Second)
	})

	t.Run("waiting for", func(t *testing.T) {
		do(t, ctx, "open weekly", chromedp.Navigate(base+"/pipelines/weekly"))
		waitJS(t, ctx, "the waiting-for line", `document.querySelector('#asset-wait')`, 20*time.Second)
		want := "waiting for crm.customers: no event yet; " + oddAsset + ": fresh"
		if got := eval[string](t, ctx, `document.querySelector('#asset-wait dd').textContent.trim()`); got != want {
			t.Fatalf("waiting-for line = %q, want %q", got, want)
		}
		// crm.customers comes only from outside: the loader's warning
		// says so on the page.
		if got := eval[string](t, ctx, `(document.querySelector('#asset-warnings pre') || {}).textContent || ""`); !strings.Contains(got, "crm.customers") {
			t.Errorf("the asset warning is not on the page: %q", got)
		}
		br.shot(ctx, "pipeline-waiting")
	})

	t.Run("triggered by assets", func(t *testing.T) {
		// weekly's page, open while the event comes, follows it live.
		live := br.tab()
		do(t, live, "open weekly", chromedp.Navigate(base+"/pipelines/weekly"))
		waitJS(t, live, "the waiting-for line", `document.querySelector('#asset-wait dd').textContent.includes("no event yet")`, 20*time.Second)
		st, body := apiCall("POST", "/api/v1/assets/crm.customers/events", []byte(`{"extra":{"rows":"12"}}`), nil)
		if st != 201 {
			t.Fatalf("emit crm.customers: %d %s", st, body)
		}
		var res struct {
			Runs []struct {
				ID int64 `json:"id"`
			} `json:"runs"`
		}
		if err := json.Unmarshal(body, &res); err != nil || len(res.Runs) != 1 {
			t.Fatalf("emit = %s, want one run of weekly", body)
		}
		do(t, ctx, "open weekly's run", chromedp.Navigate(fmt.Sprintf("%s/runs/%d", base, res.Runs[0].ID)))
		waitJS(t, ctx, "the trigger", `document.querySelectorAll('#run-trigger .trigger-events li').length === 2`, 20*time.Second)
		trigger := eval[string](t, ctx, `document.querySelector('#run-trigger').textContent`)
		for _, want := range []string{"new events of the assets", "crm.customers", "sent from outside", oddAsset, "build.load"} {
			if !strings.Contains(trigger, want) {
				t.Errorf("the trigger %q lacks %q", trigger, want)
			}
		}
		waitJS(t, ctx, "a link to the producing run", fmt.Sprintf(`document.querySelector('#run-trigger a.producer-run[href="/runs/%d"]')`, buildRun), 5*time.Second)
		noCSPViolations(t, ctx)
		br.shot(ctx, "run-triggered-by-assets")
		waitJS(t, live, "both consumed, without a reload", `document.querySelector('#asset-wait dd').textContent.trim().startsWith("waiting for crm.customers: last event")`, 30*time.Second)
	})

	t.Run("triggered by a webhook", func(t *testing.T) {
		if st, body := apiCall("PUT", "/api/v1/secrets/HOOK_KEY", []byte(`{"value":"hook-s3cret"}`), nil); st != 204 {
			t.Fatalf("set the secret: %d %s", st, body)
		}
		payload := []byte(`{"ref":"refs/heads/main"}`)
		mac := hmac.New(sha256.New, []byte("hook-s3cret"))
		mac.Write(payload)
		st, body := apiCall("POST", "/hooks/hooked", payload, map[string]string{"X-Hub-Signature-256": "sha256=" + hex.EncodeToString(mac.Sum(nil)), "Idempotency-Key": "delivery-<42>"})
		if st != 201 {
			t.Fatalf("deliver: %d %s", st, body)
		}
		var run struct {
			ID int64 `json:"id"`
		}
		_ = json.Unmarshal(body, &run)
		do(t, ctx, "open the webhook run", chromedp.Navigate(fmt.Sprintf("%s/runs/%d", base, run.ID)))
		waitJS(t, ctx, "the delivery key", `document.querySelector('#run-trigger code.delivery-key') && document.querySelector('#run-trigger code.delivery-key').textContent === "delivery-<42>"`, 20*time.Second)
		if got := eval[string](t, ctx, `document.querySelector('#run-trigger dd').textContent`); !strings.Contains(got, "a webhook delivery: webhook") {
			t.Errorf("webhook trigger = %q", got)
		}
		noCSPViolations(t, ctx)
		br.shot(ctx, "run-triggered-by-webhook")
		// The pipeline's page says where its webhook is.
		do(t, ctx, "open hooked", chromedp.Navigate(base+"/pipelines/hooked"))
		waitJS(t, ctx, "the webhook's path", `document.querySelector('.webhook-path code') && document.querySelector('.webhook-path code').textContent === "POST /hooks/hooked"`, 20*time.Second)
		if got := eval[string](t, ctx, `document.querySelector('#pipeline-head .facts').textContent`); !strings.Contains(got, "on webhook") {
			t.Errorf("hooked's schedule does not say it runs on its webhook: %q", got)
		}
		br.shot(ctx, "pipeline-webhook")
	})

	var runID int64 // the file's run
	t.Run("triggered by a file", func(t *testing.T) {
		waitFor("dropped to watch its folder", func() bool {
			_, body := apiCall("GET", "/api/v1/pipelines/dropped", nil, nil)
			var p struct {
				FileTriggers []struct {
					WatchingSince *time.Time `json:"watching_since"`
				} `json:"file_triggers"`
			}
			_ = json.Unmarshal(body, &p)
			return len(p.FileTriggers) == 1 && p.FileTriggers[0].WatchingSince != nil
		})
		file := filepath.Join(drop, "orders <1>.csv")
		sluicetest.WriteFile(t, file, "id,amount\n1,10\n") // whole: stable_for is 0s
		fi, err := os.Stat(file)
		if err != nil {
			t.Fatal(err)
		}
		waitFor("a run for the file", func() bool {
			if runs := runsOf("dropped"); len(runs) == 1 {
				runID = runs[0].ID
			}
			return runID != 0
		})
		do(t, ctx, "open the file's run", chromedp.Navigate(fmt.Sprintf("%s/runs/%d", base, runID)))
		waitJS(t, ctx, "the file", `document.querySelector('#run-trigger code.arrived-file') && document.querySelector('#run-trigger code.arrived-file').textContent === `+jsString(file), 20*time.Second)
		got := eval[string](t, ctx, `document.querySelector('#run-trigger dd').textContent`)
		if want := fmt.Sprintf("(%d bytes, modified", fi.Size()); !strings.Contains(got, "a file arriving in a watched folder: files") || !strings.Contains(got, want) {
			t.Errorf("file trigger = %q, want the kind, the trigger and %q", got, want)
		}
		if title := eval[string](t, ctx, `document.querySelector('#run-trigger .file-version span').title`); !strings.Contains(title, fi.ModTime().UTC().Format("2006-01-02 15:04:05")) && !strings.Contains(title, fi.ModTime().Format("2006-01-02 15:04:05")) {
			t.Errorf("the file's mtime reads %q, want %s", title, fi.ModTime())
		}
		noCSPViolations(t, ctx)
		br.shot(ctx, "run-triggered-by-file")
	})

	// Phones: the pages fit.
	phone := br.tab()
	do(t, phone, "phone viewport", chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile))
	for i, p := range []string{"/assets", "/assets/" + url.PathEscape(oddAsset), fmt.Sprintf("/runs/%d", runID)} {
		do(t, phone, "open "+p, chromedp.Navigate(base+p))
		waitJS(t, phone, "the page", `document.querySelector('h1')`, 20*time.Second)
		if w := eval[int](t, phone, `document.documentElement.scrollWidth`); w > 400 {
			t.Errorf("%s is %dpx wide on a 390px phone: %s", p, w, eval[string](t, phone, wideElements))
		}
		br.shot(phone, []string{"phone-assets", "phone-asset", "phone-run-triggered-by-file"}[i])
	}
	br.mu.Lock()
	defer br.mu.Unlock()
	if len(br.dialogs) > 0 {
		t.Errorf("dialogs opened: %v", br.dialogs)
	}
}
