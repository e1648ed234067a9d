package web

import (
	"bytes"
	"embed"
	"encoding/json"
	"errors"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/sluice-dev/sluice"
	"github.com/sluice-dev/sluice/auth"
)

//go:embed templates
var templateFS embed.FS

// templates holds one template set per page (the layout, the shared
// partials and the page's own file), and the partials alone for fragments.
// Each set is parsed when first used: parsed at start, the 24 sets (each
// a deep copy of the layout and every partial, as html/template's Clone
// makes) held 15 MB of an idle server's 18 MB heap, for pages most
// servers rarely show. A set parses in about 3 ms (2 cores, 2026-12-04).
type templates struct {
	mu    sync.Mutex
	pages map[string]*template.Template // page name → its set, once parsed
	files map[string]string             // page name → its file
	base  func() *template.Template
}

var sharedFiles = []string{"templates/layout.html", "templates/partials/*.html"}

func mustParseTemplates() *templates {
	names, err := fs.Glob(templateFS, "templates/pages/*.html")
	if err != nil {
		panic(err)
	}
	t := &templates{pages: map[string]*template.Template{}, files: map[string]string{}}
	for _, name := range names {
		t.files[strings.TrimSuffix(path.Base(name), ".html")] = name
	}
	t.base = sync.OnceValue(func() *template.Template {
		return template.Must(template.New("").Funcs(funcs).ParseFS(templateFS, sharedFiles...))
	})
	return t
}

// page returns the template set of a page, parsing it on first use.
func (t *templates) page(name string) (*template.Template, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if set, ok := t.pages[name]; ok {
		return set, true
	}
	file, ok := t.files[name]
	if !ok {
		return nil, false
	}
	// The templates are embedded: one that does not parse is a bug that
	// every test rendering the page finds.
	set := template.Must(template.New("").Funcs(funcs).ParseFS(templateFS, append(sharedFiles[:len(sharedFiles):len(sharedFiles)], file)...))
	t.pages[name] = set
	return set, true
}

// view is what every template gets: who is asking, the request's CSRF
// token and time zone, and the page's own data in D.
type view struct {
	Title string
	// Section is the navigation item to highlight.
	Section string
	User    *auth.Principal
	Version string
	Zone    *time.Location
	// ZonePref is the reader's choice of zone ("local", "utc",
	// "pipeline"); PipelineZoned is set when Zone is a pipeline's.
	ZonePref      string
	PipelineZoned bool
	Now           time.Time
	// Notice and Problem are shown in a banner at the top of the page.
	Notice, Problem string
	// Path is the request's path and query, for "next" links.
	Path string
	D    any
}

// newView returns the view of a request.
func (w *Web) newView(r *http.Request, title, section string, d any) *view {
	v := &view{
		Title:   title,
		Section: section,
		User:    auth.FromContext(r.Context()),
		Version: w.version,
		Now:     w.clock.Now(),
		Notice:  r.URL.Query().Get("notice"),
		Path:    r.URL.RequestURI(),
		D:       d,
	}
	v.zoneFor(r, d)
	return v
}

// CSRF is the session's CSRF token; empty without a session.
func (v *view) CSRF() string {
	if v.User == nil {
		return ""
	}
	return v.User.CSRFToken
}

// HXHeaders is the hx-headers value that makes every htmx request carry
// the CSRF token.
func (v *view) HXHeaders() string {
	b, _ := json.Marshal(map[string]string{auth.CSRFHeader: v.CSRF()})
	return string(b)
}

// CSRFField is the name of the form field of the CSRF token.
func (v *view) CSRFField() string { return auth.CSRFField }

// Can reports whether the user may do an action of auth's table of
// permissions, such as "runs.trigger" or "pools.edit". A name that is not
// an action panics, so a typo in a template fails its tests rather than
// hiding a button.
func (v *view) Can(action string) bool {
	a := auth.Action(action)
	if !a.Valid() {
		panic("web: template asks Can of unknown action " + action)
	}
	return v.User.Can(a)
}

// render writes a full page.
func (w *Web) render(rw http.ResponseWriter, status int, page string, v *view) error {
	set, ok := w.tmpl.page(page)
	if !ok {
		return sluice.Errorf(sluice.EINTERNAL, "web: no page template %q", page)
	}
	var buf bytes.Buffer
	if err := set.ExecuteTemplate(&buf, "layout", v); err != nil {
		return err
	}
	return writeHTML(rw, status, buf.Bytes())
}

// fragment writes one named partial, for htmx to swap in.
func (w *Web) fragment(rw http.ResponseWriter, status int, name string, v *view) error {
	var buf bytes.Buffer
	if err := w.tmpl.base().ExecuteTemplate(&buf, name, v); err != nil {
		return err
	}
	return writeHTML(rw, status, buf.Bytes())
}

func writeHTML(rw http.ResponseWriter, status int, body []byte) error {
	h := rw.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	rw.WriteHeader(status)
	_, err := rw.Write(body)
	return err
}

// handlerFunc is a page or action handler; an error it returns is shown to
// the user by fail.
type handlerFunc func(rw http.ResponseWriter, r *http.Request) error

// page serves a page or a form action for those who may do act:
// anonymous visitors are sent to the login page and come back after it. A
// state-changing request has already passed the auth middleware's checks
// of its origin and CSRF token.
func (w *Web) page(act auth.Action, h handlerFunc) http.Handler {
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if err := auth.Allow(r.Context(), act); err != nil {
			w.fail(rw, r, err)
			return
		}
		if err := h(rw, r); err != nil {
			w.fail(rw, r, err)
		}
	})
}

// isHTMX reports whether htmx made the request (and so wants a fragment).
func isHTMX(r *http.Request) bool { return r.Header.Get("HX-Request") == "true" }

// status maps an error code to an HTTP status.
func status(code string) int {
	switch code {
	case sluice.EINVALID, sluice.EBADREQUEST:
		return http.StatusBadRequest
	case sluice.EUNAUTH:
		return http.StatusUnauthorized
	case sluice.EFORBIDDEN:
		return http.StatusForbidden
	case sluice.ENOTFOUND:
		return http.StatusNotFound
	case sluice.ECONFLICT:
		return http.StatusConflict
	case sluice.ETOOLARGE:
		return http.StatusRequestEntityTooLarge
	case sluice.ERATELIMIT:
		return http.StatusTooManyRequests
	case sluice.EUNAVAIL:
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// errorData is the data of the error page and the error notice.
type errorData struct {
	Status  int
	Heading string
	Message string
}

// fail shows an error: anonymous users go to the login page, htmx requests
// get a notice to show in place, others an error page. Errors that are not
// the user's are logged and shown without their internals.
func (w *Web) fail(rw http.ResponseWriter, r *http.Request, err error) {
	code := sluice.ErrorCode(err)
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		code = sluice.ETOOLARGE
		err = sluice.Errorf(code, "file too large: the limit is %d bytes", mbe.Limit)
	}
	if code == sluice.EUNAUTH && auth.FromContext(r.Context()) == nil {
		w.toLogin(rw, r)
		return
	}
	st := status(code)
	msg := sluice.ErrorMessage(err)
	if st == http.StatusInternalServerError {
		w.log.Error("web request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		msg = "Something went wrong on the server; the error is in its log. Try again, or tell whoever runs sluice."
	}
	if st == http.StatusRequestEntityTooLarge && !strings.HasPrefix(msg, "file too large") {
		msg = "file too large: " + msg
	}
	d := &errorData{Status: st, Heading: http.StatusText(st), Message: msg}
	v := w.newView(r, d.Heading, "", d)
	if isHTMX(r) {
		// Whatever the request meant to replace, the error goes to the
		// notices, so that a live region is never swapped for it.
		rw.Header().Set("HX-Retarget", "#notice")
		rw.Header().Set("HX-Reswap", "innerHTML")
		_ = w.fragment(rw, st, "notice-error", v)
		return
	}
	_ = w.render(rw, st, "error", v)
}

// onAuthError is the auth middleware's error page: refused cross-origin
// requests and wrong CSRF tokens get a 403 page with the reason.
func (w *Web) onAuthError(rw http.ResponseWriter, r *http.Request, err error) {
	if strings.HasPrefix(r.URL.Path, "/events/") {
		http.Error(rw, sluice.ErrorMessage(err), status(sluice.ErrorCode(err)))
		return
	}
	w.fail(rw, r, err)
}

// toLogin sends an anonymous visitor to the login page, to come back to
// the page they asked for (or, after a form post, the page it came from).
func (w *Web) toLogin(rw http.ResponseWriter, r *http.Request) {
	next := r.URL.RequestURI()
	// A fragment or a form post comes from a page: come back to that page.
	from := ""
	switch {
	case isHTMX(r):
		from = r.Header.Get("HX-Current-URL")
	case r.Method != http.MethodGet:
		from = r.Referer()
	}
	if isHTMX(r) || r.Method != http.MethodGet {
		next = "/"
		if u, err := url.Parse(from); err == nil && u.Host == r.Host {
			next = localPath(u.RequestURI())
		}
	}
	target := "/login?next=" + url.QueryEscape(next)
	if isHTMX(r) {
		rw.Header().Set("HX-Redirect", target)
		rw.WriteHeader(http.StatusUnauthorized)
		return
	}
	http.Redirect(rw, r, target, http.StatusSeeOther)
}

// localPath returns p when it is a path on this site, else "/": "next"
// parameters must not send anyone elsewhere.
func localPath(p string) string {
	if p == "" || !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "//") || strings.HasPrefix(p, "/\\") || strings.ContainsAny(p, "\r\n") {
		return "/"
	}
	u, err := url.Parse(p)
	if err != nil || u.Scheme != "" || u.Host != "" {
		return "/"
	}
	return p
}

// done finishes an action: htmx gets a notice and an event that makes the
// page's live regions refresh; a plain form post is redirected to back,
// with the notice in the URL.
func (w *Web) done(rw http.ResponseWriter, r *http.Request, back, notice string) error {
	if isHTMX(r) {
		rw.Header().Set("HX-Trigger", "sluice:refresh")
		return w.fragment(rw, http.StatusOK, "notice-ok", w.newView(r, "", "", notice))
	}
	back = localPath(back)
	if notice != "" {
		sep := "?"
		if strings.Contains(back, "?") {
			sep = "&"
		}
		back += sep + "notice=" + url.QueryEscape(notice)
	}
	http.Redirect(rw, r, back, http.StatusSeeOther)
	return nil
}

// backTo returns the form's "back" field when it is a local path, else def.
func backTo(r *http.Request, def string) string {
	if b := r.PostFormValue("back"); b != "" {
		if p := localPath(b); p != "/" || b == "/" {
			return stripNotice(p)
		}
	}
	return def
}

// stripNotice removes a notice parameter, so that notices do not pile up
// in the URL after several actions.
func stripNotice(p string) string {
	u, err := url.Parse(p)
	if err != nil {
		return p
	}
	q := u.Query()
	if !q.Has("notice") {
		return p
	}
	q.Del("notice")
	u.RawQuery = q.Encode()
	return u.RequestURI()
}
