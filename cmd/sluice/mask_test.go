package main_test

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestSecretsMaskedEverywhere: a secret a task prints (whole, or split by
// escape codes a display does not show), writes as an output or in a
// malformed output line, gets back in an HTTP response, or a
// callback's endpoint answers with, shows nowhere a viewer or an operator
// looks: the API, the UI's run and log pages, the CLI, the server's log,
// and the database's files.
func TestSecretsMaskedEverywhere(t *testing.T) {
	t.Parallel()
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	random := hex.EncodeToString(b)
	token := "tok-" + random
	// An endpoint that answers with the credential it holds, as a token
	// endpoint does, or quotes it in its error.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusForbidden)
		fmt.Fprintf(w, `{"error": "expected token %s"}`, token)
	}))
	t.Cleanup(srv.Close)
	s := startCLIServer(t, map[string]string{"leaky.yaml": `id: leaky
on_failure: {http: {method: POST, url: "` + srv.URL + `/run", body: 'run ${{ run.id }}'}}
defaults: {secrets: [TOKEN]}
tasks:
  echo:
    run: |
      echo "token $TOKEN"
      echo "out=$TOKEN" >> "$SLUICE_OUTPUT"
  after: {depends_on: [echo], run: 'echo "got $SLUICE_OUTPUT_ECHO_OUT"'}
  malformed:
    run: echo "oops $TOKEN" >> "$SLUICE_OUTPUT"
    on_failure: {http: {method: POST, url: "` + srv.URL + `/task", body: '${{ error }}'}}
  call: {http: {url: "` + srv.URL + `/call"}}
  split:
    run: |
      A=$(printf %s "$TOKEN" | head -c 12)
      printf 'split: \033[01;31m\033[K%s\033[m\033[K%s\n' "$A" "${TOKEN#"$A"}"
`})
	s.cliIn(t, s.dir, token+"\n", "secrets", "set", "TOKEN").want(t, 0, "set secret TOKEN")
	run := runID(t, s.cli(t, "pipelines", "trigger", "leaky", "--wait").want(t, 1))

	cli, _ := os.ReadFile(filepath.Join(s.dir, ".sluice", "cli-token"))
	get := func(path string) string {
		t.Helper()
		req, _ := http.NewRequest("GET", s.url+path, nil)
		req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(cli)))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %s %s", path, resp.Status, body)
		}
		return string(body)
	}
	// Both callbacks fail (403), after the run has ended.
	runPage := fmt.Sprintf("/runs/%d", run)
	deadline := time.Now().Add(60 * time.Second)
	for strings.Count(get(runPage), `badge cb-failed`) != 2 {
		if time.Now().After(deadline) {
			t.Fatalf("the callbacks did not fail:\n%s\nserver log:\n%s", get(runPage), s.logs())
		}
		time.Sleep(100 * time.Millisecond)
	}

	seen := map[string]string{}
	seen["UI run page"] = get(runPage)
	seen["API run"] = get(fmt.Sprintf("/api/v1/runs/%d", run))
	seen["CLI runs show"] = s.cli(t, "runs", "show", fmt.Sprint(run), "--json").stdout
	for _, task := range []string{"echo", "after", "malformed", "call", "split"} {
		seen["API task "+task] = get(fmt.Sprintf("/api/v1/runs/%d/tasks/%s", run, task))
		seen["API log "+task] = get(fmt.Sprintf("/api/v1/runs/%d/tasks/%s/logs", run, task))
		seen["UI log page "+task] = get(fmt.Sprintf("/runs/%d/tasks/%s", run, task))
		seen["UI log.txt "+task] = get(fmt.Sprintf("/runs/%d/tasks/%s/log.txt", run, task))
		seen["CLI logs "+task] = s.cli(t, "logs", fmt.Sprint(run), task).stdout
	}
	for what, want := range map[string]string{
		"API task echo":      `"out":"***"`,
		"API log echo":       "token ***",
		"API log after":      "got ***",
		"API task malformed": `got \"oops ***\"`,
		"API task call":      `answered 403, want a 2xx status: {\"error\": \"expected token ***\"}`,
		"UI run page":        "expected token ***",
		// Split by grep's highlight: stored as a display shows it.
		"API log split":     "split: ***",
		"UI log page split": "split: ***",
		"UI log.txt split":  "split: ***",
		"CLI logs split":    "split: ***",
	} {
		if !strings.Contains(seen[what], want) {
			t.Errorf("%s lacks %q:\n%s", what, want, seen[what])
		}
	}
	s.stop()
	seen["server log"] = s.logs()
	if !strings.Contains(seen["server log"], `got \"oops ***\"`) {
		t.Errorf("the server's log does not have the masked error of malformed:\n%s", seen["server log"])
	}
	err := filepath.WalkDir(filepath.Join(s.dir, ".sluice"), func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(path)
		seen["file "+d.Name()] = string(data)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	for what, text := range seen {
		for i := 0; i+8 <= len(random); i++ {
			if j := strings.Index(text, random[i:i+8]); j >= 0 {
				t.Errorf("the secret shows in %s: …%q…", what, text[max(0, j-80):min(len(text), j+40)])
				break
			}
		}
	}
}
