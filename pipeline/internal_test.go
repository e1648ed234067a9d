package pipeline

import (
	"strings"
	"testing"
	"time"
)

func TestParseDuration(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want time.Duration
		err  bool
	}{
		{in: "30s", want: 30 * time.Second},
		{in: "1h30m", want: 90 * time.Minute},
		{in: "1.5h", want: 90 * time.Minute},
		{in: "2d", want: 48 * time.Hour},
		{in: "1d12h", want: 36 * time.Hour},
		{in: "0.5d", want: 12 * time.Hour},
		{in: "1h0m0s", want: time.Hour},
		{in: "0s", want: 0},
		{in: "1.5µs", want: 1500 * time.Nanosecond},
		{in: "10us", want: 10 * time.Microsecond},
		{in: "250ms", want: 250 * time.Millisecond},
		{in: "", err: true},
		{in: "30", err: true},
		{in: "0", err: true},
		{in: "-5m", err: true},
		{in: "+5m", err: true},
		{in: ".5h", err: true},
		{in: "5.h", err: true},
		{in: "5 m", err: true},
		{in: "5w", err: true},
		{in: "1h30", err: true},
		{in: "999999999999d", err: true},
		{in: "106752d", err: true},
		{in: "106751d23h47m16s854ms775us807ns", want: time.Duration(1<<63 - 1)},
		{in: "106751d23h47m16s854ms775us808ns", err: true},
	}
	for _, tt := range tests {
		got, err := ParseDuration(tt.in)
		if (err != nil) != tt.err {
			t.Errorf("ParseDuration(%q) error = %v, want error %v", tt.in, err, tt.err)
			continue
		}
		if !tt.err && time.Duration(got) != tt.want {
			t.Errorf("ParseDuration(%q) = %v, want %v", tt.in, time.Duration(got), tt.want)
		}
		if !tt.err {
			back, err := ParseDuration(got.String())
			if err != nil || back != got {
				t.Errorf("ParseDuration(%q.String()) = %v, %v; want %v", tt.in, back, err, got)
			}
		}
	}
}

func TestParseSchedule(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in string
		ok bool
	}{
		{"0 3 * * *", true},
		{"*/15 9-17 * * mon-fri", true},
		{"0 0 29 2 *", true},
		{"  0   3 * * *  ", true},
		{"@hourly", true},
		{"@daily", true},
		{"@midnight", true},
		{"@weekly", true},
		{"@monthly", true},
		{"@yearly", true},
		{"@annually", true},
		{"@every 10m", true},
		{"@every 1h30m", true},
		{"", false},
		{"0 0 3 * * *", false},  // seconds field
		{"0 3 * *", false},      // four fields
		{"60 * * * *", false},   // minute out of range
		{"0 0 30 2 *", false},   // never fires
		{"@every 2d", false},    // days are not a Go duration
		{"@every -5m", false},   // negative
		{"@every 0s", false},    // zero
		{"@every 500ms", false}, // below a second
		{"@every 1.5s", false},  // not whole seconds
		{"@fortnightly", false}, // no such descriptor
		{"TZ=UTC", false},       // would panic in cron
		{"CRON_TZ=UTC 0 3 * * *", false},
	}
	for _, tt := range tests {
		s, err := ParseSchedule(tt.in)
		if (err == nil) != tt.ok {
			t.Errorf("ParseSchedule(%q) error = %v, want ok %v", tt.in, err, tt.ok)
		}
		if tt.ok && s == nil {
			t.Errorf("ParseSchedule(%q) = nil", tt.in)
		}
	}
}

func TestCronScheduleUsesTimezone(t *testing.T) {
	t.Parallel()
	p := &Pipeline{Schedule: "0 3 * * *", Timezone: "Europe/Warsaw"}
	from := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	got := p.CronSchedule().Next(from)
	want := time.Date(2026, 1, 1, 3, 0, 0, 0, p.Location())
	if !got.Equal(want) {
		t.Errorf("Next(%v) = %v, want %v", from, got, want)
	}
	if (&Pipeline{}).CronSchedule() != nil {
		t.Error("CronSchedule of a pipeline without schedule is not nil")
	}
	if loc := (&Pipeline{Timezone: "Nowhere/Special"}).Location(); loc != time.UTC {
		t.Errorf("Location of an unknown zone = %v, want UTC", loc)
	}
}

func TestZoneNamesLoad(t *testing.T) {
	t.Parallel()
	for _, name := range zoneNames {
		if _, err := loadZone(name); err != nil {
			t.Errorf("zone %q: %v", name, err)
		}
	}
	for _, name := range []string{"Local", "", "europe/warsaw", "posix/Europe/Warsaw"} {
		if _, err := loadZone(name); err == nil {
			t.Errorf("zone %q accepted", name)
		}
	}
}

func TestSuggest(t *testing.T) {
	t.Parallel()
	keys := []string{"retries", "retry_delay", "retry_backoff", "timeout", "run", "command", "requires", "depends_on"}
	tests := []struct{ word, want string }{
		{"retires", "retries"},
		{"Retries", "retries"},
		{"timout", "timeout"},
		{"commands", "command"},
		{"retry", "retry_delay"},
		{"retry_back", "retry_backoff"},
		{"x", ""},
		{"zzzzzz", ""},
		// A swap of two letters is one edit, closer than "requires".
		{"reqiures", "requires"},
		{"depnedson", "depends_on"},
	}
	for _, tt := range tests {
		if got := suggest(tt.word, keys); got != tt.want {
			t.Errorf("suggest(%q) = %q, want %q", tt.word, got, tt.want)
		}
	}
}

func TestFindCycles(t *testing.T) {
	t.Parallel()
	edge := func(pairs ...string) map[string]map[string]pos {
		m := map[string]map[string]pos{}
		for i := 0; i < len(pairs); i += 2 {
			if m[pairs[i]] == nil {
				m[pairs[i]] = map[string]pos{}
			}
			m[pairs[i]][pairs[i+1]] = pos{1, 1}
		}
		return m
	}
	tests := []struct {
		name  string
		edges map[string]map[string]pos
		want  [][]string
	}{
		{"none", edge("a", "b", "b", "c"), nil},
		{"triangle", edge("a", "b", "b", "c", "c", "a"), [][]string{{"a", "b", "c", "a"}}},
		{"two", edge("a", "b", "b", "a", "x", "y", "y", "x"), [][]string{{"a", "b", "a"}, {"x", "y", "x"}}},
		// Two cycles through a: both are reported, shortest first.
		{"shared", edge("a", "b", "b", "a", "a", "c", "c", "d", "d", "a"),
			[][]string{{"a", "b", "a"}, {"a", "c", "d", "a"}}},
	}
	for _, tt := range tests {
		if got, _ := findCycles(tt.edges, 1000); !equalPaths(got, tt.want) {
			t.Errorf("%s: findCycles = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func equalPaths(a, b [][]string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if len(a[i]) != len(b[i]) {
			return false
		}
		for j := range a[i] {
			if a[i][j] != b[i][j] {
				return false
			}
		}
	}
	return true
}

// TestJinjaWarnings: a Jinja template in run:, command: or env: is a
// warning with its position and the sluice way to write it; ${{ }} and
// text that only looks alike are not.
func TestJinjaWarnings(t *testing.T) {
	t.Parallel()
	src := `id: j
tasks:
  a:
    run: echo "{{ ds }}"
  b:
    command: [load, "--day={{ds_nodash}}"]
  c:
    env:
      DAY: "{{ params.day }}"
      FINE: "${{ run.ds }}"
      VAR: "{{ var.value.bucket }}"
    run: |
      echo "$DAY" '{"a": {"b": 1}}'
  d:
    run: echo "{{ something_else }}"
`
	p, err := Parse("j.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		`j.yaml:4:10: warning: run: {{ ds }} looks like a Jinja template; sluice does not render Jinja, so the task sees it as written` + "\n\thint: read $SLUICE_DS from the environment",
		`j.yaml:6:21: warning: command: {{ ds_nodash }} looks like a Jinja template`,
		`j.yaml:9:12: warning: env "DAY": {{ params.day }} looks like a Jinja template; sluice does not render Jinja, so the task sees it as written` + "\n\thint: write ${{ params.day }}",
		`j.yaml:11:12: warning: env "VAR": {{ var.value.bucket }}`,
		`j.yaml:15:10: warning: run: {{ something_else }}`,
	}
	if len(p.Warnings) != len(want) {
		t.Fatalf("%d warnings, want %d:\n%v", len(p.Warnings), len(want), p.Warnings)
	}
	for i, w := range want {
		if got := p.Warnings[i].String(); !strings.HasPrefix(got, w) {
			t.Errorf("warning %d:\n%s\nwant it to start with\n%s", i, got, w)
		}
	}
	if !strings.Contains(p.Warnings[3].Hint, "${{ vars.bucket }}") {
		t.Errorf("var.value hint: %q", p.Warnings[3].Hint)
	}
	// The version does not hold them: the same file without them hashes
	// alike once they are gone, and Decode gives none.
	q, err := Decode(p.Normalized())
	if err != nil || len(q.Warnings) != 0 {
		t.Fatalf("decoded: %v, %v", q.Warnings, err)
	}
}
