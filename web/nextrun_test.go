package web_test

import (
	"regexp"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/scheduler"
	"github.com/sluice-dev/sluice/sluicetest"
	"github.com/sluice-dev/sluice/store"
	"github.com/sluice-dev/sluice/store/sqlite"
)

// nextRunFact is the "Next run" of a pipeline page's head.
var nextRunFact = regexp.MustCompile(`<dt>Next run</dt><dd>(.*?)</dd>`)

// TestNextRunEveryTab checks that an @every pipeline's next run is the one
// the scheduler creates (its last run plus the interval, not now plus the
// interval), and that every tab of its page and the pipelines list show
// that same time.
func TestNextRunEveryTab(t *testing.T) {
	t.Parallel()
	now := time.Now().UTC().Truncate(time.Second)
	b := setupWith(t, sqlite.Options{Clock: sluicetest.NewClock(now)})
	b.user("ada", store.RoleAdmin)
	b.upload("hourly.yaml", "id: hourly\nschedule: \"@every 1h\"\ntasks:\n  a:\n    run: echo hi\n")
	last := now.Add(-10 * time.Minute)
	_, _, err := b.st.RunCreate(b.ctx, &store.RunCreateParams{PipelineID: "hourly", Key: scheduler.RunKey(last), Kind: store.RunScheduled, LogicalDate: last, Params: []byte("{}")})
	must(t, err)
	want := last.Add(time.Hour).Format("2006-01-02 15:04:05 MST") // the title: UTC, to the second

	c := b.login("ada")
	// The pages, and the head each of them reloads when the pipeline
	// changes.
	for _, tab := range []string{"", "/graph", "/code", "/runs", "/backfills", "/trigger", "/delete", "/live/head?tab=runs"} {
		st, body := c.get("/pipelines/hourly" + tab)
		if st != 200 {
			t.Fatalf("%s: status %d", tab, st)
		}
		m := nextRunFact.FindStringSubmatch(body)
		if m == nil {
			t.Fatalf("tab %q shows no Next run:\n%s", tab, shorten(body))
		}
		if !regexp.MustCompile(`title="` + want + `">in 50m<`).MatchString(m[1]) {
			t.Errorf("tab %q: Next run is %q, want %s (in 50m)", tab, m[1], want)
		}
	}
	_, body := c.get("/")
	wantContains(t, "pipelines list", body, `<span title="`+want+`">in 50m</span>`)
}
