package web

import (
	"context"
	"fmt"
	"hash/fnv"
	"net/http"
	"strconv"
	"strings"

	"github.com/sluice-dev/sluice"
	"github.com/sluice-dev/sluice/auth"
	"github.com/sluice-dev/sluice/store"
)

type poolsData struct {
	Pools       []*poolRow
	Form        *entryForm
	Fingerprint string
}

// poolRow is a pool with its utilisation.
type poolRow struct {
	*store.Pool
	// Pct is the share of slots in use, 0 to 100 (more slots can be in
	// use than the pool has after it shrank; the bar stops at 100).
	Pct int
	// Level names how full the pool is: empty, ok, busy (75% or more),
	// full, or closed (no slots).
	Level string
}

func newPoolRow(p *store.Pool) *poolRow {
	row := &poolRow{Pool: p}
	switch {
	case p.Slots == 0:
		row.Level = "closed"
	default:
		row.Pct = min(100, p.Used*100/p.Slots)
		switch {
		case p.Used == 0:
			row.Level = "empty"
		case p.Used >= p.Slots:
			row.Level = "full"
		case row.Pct >= 75:
			row.Level = "busy"
		default:
			row.Level = "ok"
		}
	}
	return row
}

// LevelText says how full the pool is, in words.
func (p *poolRow) LevelText() string {
	switch p.Level {
	case "closed":
		return "closed: 0 slots hold its tasks back"
	case "full":
		return "full"
	case "busy":
		return "busy"
	case "empty":
		return "idle"
	}
	return "in use"
}

func poolsFingerprint(pools []*store.Pool) string {
	h := fnv.New64a()
	for _, p := range pools {
		fmt.Fprintf(h, "%s|%d|%d|%d|%s;", p.Name, p.Slots, p.Used, p.Queued, p.Description)
	}
	return fmt.Sprintf("%x", h.Sum64())
}

func (w *Web) loadPools(ctx context.Context) (*poolsData, error) {
	pools, err := w.st.PoolList(ctx)
	if err != nil {
		return nil, err
	}
	d := &poolsData{Fingerprint: poolsFingerprint(pools), Form: &entryForm{}}
	for _, p := range pools {
		d.Pools = append(d.Pools, newPoolRow(p))
	}
	return d, nil
}

func (w *Web) poolsPage(rw http.ResponseWriter, r *http.Request) error {
	d, err := w.loadPools(r.Context())
	if err != nil {
		return err
	}
	if name := r.URL.Query().Get("edit"); name != "" {
		for _, p := range d.Pools {
			if p.Name == name {
				d.Form = &entryForm{Name: p.Name, Slots: strconv.Itoa(p.Slots), Description: p.Description, Editing: true}
			}
		}
	}
	return w.render(rw, http.StatusOK, "pools", w.newView(r, "Pools", "pools", d))
}

func (w *Web) poolsLive(rw http.ResponseWriter, r *http.Request) error {
	d, err := w.loadPools(r.Context())
	if err != nil {
		return err
	}
	return w.fragment(rw, http.StatusOK, "pools-live", w.newView(r, "", "", d))
}

func (w *Web) poolsEvents(ctx context.Context, s *sseWriter, r *http.Request) error {
	return w.changes(ctx, s, r, []store.Topic{store.TopicInstances, store.TopicReady}, func() (string, error) {
		pools, err := w.st.PoolList(ctx)
		if err != nil {
			return "", err
		}
		return poolsFingerprint(pools), nil
	})
}

func (w *Web) poolSet(rw http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	f := &entryForm{
		Name:        strings.TrimSpace(r.PostFormValue("name")),
		Slots:       strings.TrimSpace(r.PostFormValue("slots")),
		Description: strings.TrimSpace(r.PostFormValue("description")),
		Editing:     r.PostFormValue("editing") == "true",
	}
	problem := func(se *sluice.Error) error {
		d, err := w.loadPools(ctx)
		if err != nil {
			return err
		}
		f.Problem, d.Form = se.Message, f
		return w.formProblem(rw, r, problemStatus(se), "pools", "pool-form", "pool-form", w.newView(r, "Pools", "pools", d))
	}
	if f.Name == "" {
		return problem(sluice.Errorf(sluice.EINVALID, "Name the pool: up to 64 letters, digits, _, . and -."))
	}
	slots, err := strconv.Atoi(f.Slots)
	if err != nil || slots < 0 {
		return problem(sluice.Errorf(sluice.EINVALID, "Slots must be a whole number, 0 or more (0 holds every task of the pool back), not %q.", f.Slots))
	}
	before, _ := w.ctl.Pool(ctx, f.Name)
	p, err := w.ctl.PoolSet(ctx, f.Name, slots, f.Description, auth.FromContext(ctx).Name)
	if err != nil {
		if se := fixable(err); se != nil {
			return problem(se)
		}
		return err
	}
	msg := fmt.Sprintf("Pool %s created with %d %s.", p.Name, p.Slots, pluralWord(p.Slots, "slot", "slots"))
	if before != nil {
		msg = fmt.Sprintf("Pool %s now has %d %s (was %d).", p.Name, p.Slots, pluralWord(p.Slots, "slot", "slots"), before.Slots)
	}
	return w.formOK(rw, r, "/pools", msg, "pool-form", w.newView(r, "", "", &poolsData{Form: &entryForm{OOB: true}}))
}

func (w *Web) poolDelete(rw http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("name")
	if err := w.ctl.PoolDelete(r.Context(), name, auth.FromContext(r.Context()).Name); err != nil {
		return err
	}
	return w.done(rw, r, "/pools", fmt.Sprintf("Pool %s deleted: tasks that use it wait until it exists again.", name))
}
