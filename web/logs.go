package web

import (
	"bytes"
	"context"
	"fmt"
	"hash/fnv"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"time"

	"github.com/sluice-dev/sluice"
	"github.com/sluice-dev/sluice/store"
)

// maxLogLines bounds the lines a log page shows; the rest is in log.txt.
const maxLogLines = 20000

type logData struct {
	Run      *store.Run
	Task     string
	Instance *store.Instance
	Attempts []*store.Attempt
	Sel      *store.Attempt
	// Pinned is set when the URL names the attempt; otherwise the page
	// follows the newest one.
	Pinned    bool
	Lines     []logLine
	LastSeq   int
	Truncated int
	Outputs   []keyValue
	// zone is the timezone of the run's pipeline version.
	zone string
	// Live is set while the page must follow the task: the selected
	// attempt runs, or the task has not started its next attempt yet.
	Live        bool
	Fingerprint string
	// Item is the map index of the item shown, for an item of a mapped
	// task; -1 for a task. ItemValue is the item.
	Item      int
	ItemValue string
}

// Link returns the query of this page's URL for an attempt (0 for the
// newest): "?item=2&attempt=1".
func (d *logData) Link(attempt int) string {
	q := url.Values{}
	if d.Item >= 0 {
		q.Set("item", strconv.Itoa(d.Item))
	}
	if attempt > 0 {
		q.Set("attempt", strconv.Itoa(attempt))
	}
	if len(q) == 0 {
		return ""
	}
	return "?" + q.Encode()
}

// LiveLink is the query of the live fragment: the same item and, when the
// page is pinned to one, attempt.
func (d *logData) LiveLink() string {
	if d.Pinned {
		return d.Link(d.AttemptNumber())
	}
	return d.Link(0)
}

// findInstance returns a task's instance in a run, or the instance of
// one of its items when item >= 0.
func (w *Web) findInstance(ctx context.Context, runID int64, task string, item int) (*store.Instance, error) {
	if item < 0 {
		in, err := w.st.InstanceGet(ctx, runID, task)
		if sluice.ErrorCode(err) == sluice.ENOTFOUND {
			return nil, sluice.Errorf(sluice.ENOTFOUND, "run %d has no task %q", runID, task)
		}
		return in, err
	}
	ins, err := w.st.InstanceSelect(ctx, &store.InstanceSelectParams{RunIDs: []int64{runID}, TaskID: task, Which: store.Item, MapIndex: item})
	if err != nil {
		return nil, err
	}
	if len(ins) > 0 {
		return ins[0], nil
	}
	return nil, sluice.Errorf(sluice.ENOTFOUND, "task %q of run %d has no item %d", task, runID, item)
}

// itemParam reads the ?item= of a request; -1 when there is none.
func itemParam(r *http.Request) int {
	n, err := strconv.Atoi(r.URL.Query().Get("item"))
	if err != nil || n < 0 {
		return -1
	}
	return n
}

// logLine is one line of a task log. Stream is 'o' (stdout), 'e' (stderr)
// or 's' (sluice's own notes).
type logLine struct {
	At     time.Time
	Stream string
	Text   string
}

// ansiEscape matches the CSI sequences (colours) the log page removes. A
// secret split by one is whole once it is removed: the worker's mask reads
// each line as this page and a terminal show it, so such a line is stored
// masked (secret.Masker.String).
var ansiEscape = regexp.MustCompile(`\x1b\[[0-9;?]*[ -/]*[@-~]`)

// parseLog splits log chunks into lines of the form
// "<unix micros> <o|e|s> <text>"; a line in another form is kept whole.
func parseLog(chunks []*store.LogChunk) []logLine {
	var out []logLine
	for _, c := range chunks {
		data := c.Data
		for len(data) > 0 {
			line := data
			if i := bytes.IndexByte(data, '\n'); i >= 0 {
				line, data = data[:i], data[i+1:]
			} else {
				data = nil
			}
			out = append(out, parseLogLine(line))
		}
	}
	return out
}

func parseLogLine(line []byte) logLine {
	sp := bytes.IndexByte(line, ' ')
	if sp > 0 && len(line) >= sp+2 && (len(line) == sp+2 || line[sp+2] == ' ') {
		if us, err := strconv.ParseInt(string(line[:sp]), 10, 64); err == nil {
			text := ""
			if len(line) > sp+3 {
				text = string(line[sp+3:])
			}
			return logLine{At: time.UnixMicro(us), Stream: string(line[sp+1]), Text: ansiEscape.ReplaceAllString(text, "")}
		}
	}
	return logLine{Stream: "o", Text: ansiEscape.ReplaceAllString(string(line), "")}
}

// instanceFingerprint sums up an instance's state and attempts.
func instanceFingerprint(in *store.Instance) string {
	if in == nil {
		return "none"
	}
	h := fnv.New64a()
	fmt.Fprintf(h, "%s/%d/%d/%t:%s", in.State, in.Attempts, in.Failures, isBlocked(in), in.Blocked)
	return fmt.Sprintf("%x", h.Sum64())
}

func (w *Web) loadLog(ctx context.Context, r *http.Request) (*logData, error) {
	id, err := pathID(r, "id")
	if err != nil {
		return nil, err
	}
	task := r.PathValue("task")
	run, err := w.st.RunGet(ctx, id)
	if err != nil {
		return nil, err
	}
	d := &logData{Run: run, Task: task, Item: itemParam(r)}
	if p, err := w.versionOf(ctx, run.VersionID); err == nil && p != nil {
		d.zone = p.Timezone
	}
	if d.Instance, err = w.findInstance(ctx, id, task, d.Item); err != nil {
		return nil, err
	}
	if d.Instance.Item != nil {
		d.ItemValue = *d.Instance.Item
	}
	d.Fingerprint = instanceFingerprint(d.Instance)
	if d.Attempts, err = w.st.AttemptList(ctx, d.Instance.ID); err != nil {
		return nil, err
	}
	if s := r.URL.Query().Get("attempt"); s != "" {
		n, _ := strconv.Atoi(s)
		for _, a := range d.Attempts {
			if a.Number == n {
				d.Sel = a
			}
		}
		if d.Sel == nil {
			return nil, sluice.Errorf(sluice.ENOTFOUND, "task %s of run %d has no attempt %q", task, id, s)
		}
		d.Pinned = true
	} else if n := len(d.Attempts); n > 0 {
		d.Sel = d.Attempts[n-1]
	}
	switch {
	case d.Sel != nil:
		d.Live = d.Sel.State == sluice.AttemptRunning || (!d.Pinned && !d.Instance.State.Finished())
	default:
		d.Live = !d.Instance.State.Finished()
	}
	if d.Sel != nil {
		chunks, err := w.st.LogList(ctx, d.Sel.ID, 0)
		if err != nil {
			return nil, err
		}
		for _, c := range chunks {
			d.LastSeq = max(d.LastSeq, c.Seq)
		}
		d.Lines = parseLog(chunks)
		if n := len(d.Lines); n > maxLogLines {
			d.Truncated = n - maxLogLines
			d.Lines = d.Lines[n-maxLogLines:]
		}
		if d.Sel.State == sluice.AttemptSuccess {
			outs, err := w.st.OutputList(ctx, id, []string{task})
			if err != nil {
				return nil, err
			}
			for k, v := range outs[task] {
				d.Outputs = append(d.Outputs, keyValue{k, v})
			}
			sort.Slice(d.Outputs, func(i, j int) bool { return d.Outputs[i].Key < d.Outputs[j].Key })
		}
	}
	return d, nil
}

// AttemptNumber is the selected attempt's number, 0 when there is none.
func (d *logData) AttemptNumber() int {
	if d.Sel == nil {
		return 0
	}
	return d.Sel.Number
}

func (w *Web) logPage(rw http.ResponseWriter, r *http.Request) error {
	d, err := w.loadLog(r.Context(), r)
	if err != nil {
		return err
	}
	return w.render(rw, http.StatusOK, "log", w.newView(r, fmt.Sprintf("%s · run %d · %s", d.Run.PipelineID, d.Run.ID, d.Task), "pipelines", d))
}

func (w *Web) logLive(rw http.ResponseWriter, r *http.Request) error {
	d, err := w.loadLog(r.Context(), r)
	if err != nil {
		return err
	}
	return w.fragment(rw, http.StatusOK, "log-live", w.newView(r, "", "", d))
}

// logText serves an attempt's whole log as plain text, with times in the
// reader's zone.
func (w *Web) logText(rw http.ResponseWriter, r *http.Request) error {
	d, err := w.loadLog(r.Context(), r)
	if err != nil {
		return err
	}
	if d.Sel == nil {
		return sluice.Errorf(sluice.ENOTFOUND, "task %s of run %d has not started yet", d.Task, d.Run.ID)
	}
	chunks, err := w.st.LogList(r.Context(), d.Sel.ID, 0)
	if err != nil {
		return err
	}
	zone := requestZone(r)
	var buf bytes.Buffer
	for _, l := range parseLog(chunks) {
		if !l.At.IsZero() {
			buf.WriteString(l.At.In(zone).Format("2006-01-02 15:04:05.000 "))
		}
		buf.WriteString(l.Stream)
		buf.WriteByte(' ')
		buf.WriteString(l.Text)
		buf.WriteByte('\n')
	}
	h := rw.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("Content-Disposition", fmt.Sprintf("inline; filename=%q", fmt.Sprintf("run-%d-%s-attempt-%d.log", d.Run.ID, d.Task, d.Sel.Number)))
	_, err = rw.Write(buf.Bytes())
	return err
}
