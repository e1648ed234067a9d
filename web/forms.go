package web

import (
	"bytes"
	"errors"
	"net/http"

	"github.com/sluice-dev/sluice"
)

// Forms that set a named thing (a pool, a variable, a secret) post in
// place with htmx and work as plain posts too:
//
//   - On success, htmx gets the notice, the form fresh again (swapped out
//     of band by its id) and an event that refreshes the page's lists; a
//     plain post is redirected back with the notice in the URL.
//   - A problem the person can fix (a bad name, a value too large, no
//     secret key) comes back next to the form, keeping what was typed
//     (never a secret's value): htmx swaps the form alone, a plain post
//     gets the whole page again.
//   - Anything else is an error page or notice, from fail.

// entryForm is the data of a form that sets a named thing.
type entryForm struct {
	Name, Value, Description string
	// Slots is a pool's slots as typed.
	Slots string
	// Editing is set when the form was filled from an existing entry.
	Editing bool
	Problem string
	// OOB makes the form replace its twin on the page out of band.
	OOB bool
}

// fixable returns the error a form's user can fix, or nil.
func fixable(err error) *sluice.Error {
	var se *sluice.Error
	if !errors.As(err, &se) {
		return nil
	}
	switch se.Code {
	case sluice.EINVALID, sluice.EBADREQUEST, sluice.ETOOLARGE, sluice.ECONFLICT, sluice.EUNAVAIL, sluice.ENOTFOUND:
		return se
	}
	return nil
}

// problemStatus is the status of a form sent back with a problem.
func problemStatus(se *sluice.Error) int {
	st := status(se.Code)
	if st == http.StatusBadRequest {
		return http.StatusUnprocessableEntity
	}
	return st
}

// formOK answers a form post that succeeded. form is the partial of the
// form, rendered with v (whose form data must have OOB set).
func (w *Web) formOK(rw http.ResponseWriter, r *http.Request, back, notice, form string, v *view) error {
	if !isHTMX(r) {
		return w.done(rw, r, back, notice)
	}
	var buf bytes.Buffer
	if err := w.tmpl.base().ExecuteTemplate(&buf, "notice-ok", w.newView(r, "", "", notice)); err != nil {
		return err
	}
	if err := w.tmpl.base().ExecuteTemplate(&buf, form, v); err != nil {
		return err
	}
	rw.Header().Set("HX-Trigger", "sluice:refresh")
	return writeHTML(rw, http.StatusOK, buf.Bytes())
}

// formProblem answers a form post with a problem to fix: htmx gets the
// form (the partial form, whose element id is formID) in its place, a
// plain post the whole page.
func (w *Web) formProblem(rw http.ResponseWriter, r *http.Request, st int, page, form, formID string, v *view) error {
	if isHTMX(r) {
		rw.Header().Set("HX-Retarget", "#"+formID)
		rw.Header().Set("HX-Reswap", "outerHTML")
		return w.fragment(rw, st, form, v)
	}
	return w.render(rw, st, page, v)
}
