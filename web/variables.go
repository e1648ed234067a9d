package web

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/sluice-dev/sluice/auth"
	"github.com/sluice-dev/sluice/store"
)

// variablePreview is how many characters of a value the list shows.
const variablePreview = 160

type variablesData struct {
	Variables []*variableRow
	Form      *entryForm
}

type variableRow struct {
	*store.Variable
	// Preview is the start of the value; Cut is set when it is shorter
	// than the value.
	Preview string
	Cut     bool
}

// Bytes is the value's size.
func (v *variableRow) Bytes() int { return len(v.Value) }

func (w *Web) loadVariables(ctx context.Context) (*variablesData, error) {
	vars, err := w.st.VariableList(ctx)
	if err != nil {
		return nil, err
	}
	d := &variablesData{Form: &entryForm{}}
	for _, v := range vars {
		row := &variableRow{Variable: v, Preview: v.Value}
		if utf8.RuneCountInString(v.Value) > variablePreview {
			row.Preview, row.Cut = string([]rune(v.Value)[:variablePreview]), true
		}
		d.Variables = append(d.Variables, row)
	}
	return d, nil
}

func (w *Web) variablesPage(rw http.ResponseWriter, r *http.Request) error {
	d, err := w.loadVariables(r.Context())
	if err != nil {
		return err
	}
	if name := r.URL.Query().Get("edit"); name != "" {
		for _, v := range d.Variables {
			if v.Name == name {
				d.Form = &entryForm{Name: v.Name, Value: v.Value, Editing: true}
			}
		}
	}
	return w.render(rw, http.StatusOK, "variables", w.newView(r, "Variables", "variables", d))
}

func (w *Web) variablesLive(rw http.ResponseWriter, r *http.Request) error {
	d, err := w.loadVariables(r.Context())
	if err != nil {
		return err
	}
	return w.fragment(rw, http.StatusOK, "variables-live", w.newView(r, "", "", d))
}

func (w *Web) variableSet(rw http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	// A value is kept as typed, spaces and all; browsers send a textarea's
	// line breaks as CRLF, which a variable read in a shell would not want.
	f := &entryForm{
		Name:    strings.TrimSpace(r.PostFormValue("name")),
		Value:   strings.ReplaceAll(r.PostFormValue("value"), "\r\n", "\n"),
		Editing: r.PostFormValue("editing") == "true",
	}
	existed := w.variableExists(ctx, f.Name)
	if err := w.ctl.VariableSet(ctx, f.Name, f.Value, auth.FromContext(ctx).Name); err != nil {
		se := fixable(err)
		if se == nil {
			return err
		}
		d, err := w.loadVariables(ctx)
		if err != nil {
			return err
		}
		f.Problem, d.Form = se.Message, f
		return w.formProblem(rw, r, problemStatus(se), "variables", "variable-form", "variable-form", w.newView(r, "Variables", "variables", d))
	}
	msg := fmt.Sprintf("Variable %s created: read it as ${{ vars.%s }}.", f.Name, f.Name)
	if existed {
		msg = fmt.Sprintf("Variable %s changed.", f.Name)
	}
	return w.formOK(rw, r, "/variables", msg, "variable-form", w.newView(r, "", "", &variablesData{Form: &entryForm{OOB: true}}))
}

// variableExists reports whether a variable is set, for the notice.
func (w *Web) variableExists(ctx context.Context, name string) bool {
	vars, err := w.st.VariableList(ctx)
	if err != nil {
		return false
	}
	for _, v := range vars {
		if v.Name == name {
			return true
		}
	}
	return false
}

func (w *Web) variableDelete(rw http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("name")
	if err := w.ctl.VariableDelete(r.Context(), name, auth.FromContext(r.Context()).Name); err != nil {
		return err
	}
	return w.done(rw, r, "/variables", fmt.Sprintf("Variable %s deleted: expressions that read it without a fallback now fail.", name))
}
