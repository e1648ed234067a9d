package web

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"

	"github.com/sluice-dev/sluice"
	"github.com/sluice-dev/sluice/auth"
	"github.com/sluice-dev/sluice/pipeline"
)

// paramPrefix starts the form field of each param, so that a param can
// have any name, csrf_token included.
const paramPrefix = "param."

type triggerData struct {
	*pipelineHead
	Fields  []*paramField
	Problem string
}

// paramField is one input of the trigger form.
type paramField struct {
	Name, Type, Description string
	Required                bool
	// Value is the text of the input; Checked the state of a checkbox.
	Value   string
	Checked bool
	Values  []string
	Default string
	Problem string
	// ItemType is a list's item type.
	ItemType string
}

// Rows is the height of a list's or a JSON param's text area.
func (f *paramField) Rows() int {
	return min(max(strings.Count(f.Value, "\n")+2, 3), 12)
}

// DefaultShown is the default as the help line shows it: a list on one
// line.
func (f *paramField) DefaultShown() string {
	if f.Type == string(pipeline.ParamList) {
		return "[" + strings.ReplaceAll(f.Default, "\n", ", ") + "]"
	}
	return f.Default
}

// Field is the form field name of the param.
func (f *paramField) Field() string { return paramPrefix + f.Name }

// Step is the step of a number input: 1 for an int, any for a float.
func (f *paramField) Step() string {
	if f.Type == string(pipeline.ParamInt) {
		return "1"
	}
	return "any"
}

// HasDefault reports whether the param has a default.
func (f *paramField) HasDefault() bool { return f.Default != "" }

func defaultText(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	case []any:
		// A list's items, one per line, as its text area takes them.
		lines := make([]string, len(x))
		for i, it := range x {
			lines[i] = defaultText(it)
		}
		return strings.Join(lines, "\n")
	case map[string]any:
		b, _ := json.MarshalIndent(x, "", "  ")
		return string(b)
	}
	return fmt.Sprint(v)
}

// jsonDefaultText is the default of a json param: its JSON.
func jsonDefaultText(v any) string {
	if v == nil {
		return ""
	}
	b, _ := json.MarshalIndent(v, "", "  ")
	return string(b)
}

// paramFields returns the form fields of p's params, required ones first,
// then by name, with
// their defaults or, when form is not nil, the values posted.
func paramFields(p *pipeline.Pipeline, form map[string][]string) []*paramField {
	var out []*paramField
	for name, prm := range p.Params {
		f := &paramField{
			Name: name, Type: string(prm.Type), Description: prm.Description, Required: prm.Required,
			Values: prm.Values, Default: defaultText(prm.Default),
		}
		switch prm.Type {
		case pipeline.ParamJSON:
			f.Default = jsonDefaultText(prm.Default)
		case pipeline.ParamList:
			f.ItemType = "string"
			if prm.Items != "" {
				f.ItemType = string(prm.Items)
			}
		}
		f.Value = f.Default
		if b, ok := prm.Default.(bool); ok {
			f.Checked = b
		}
		if form != nil {
			vals := form[f.Field()]
			f.Value = ""
			if len(vals) > 0 {
				f.Value = vals[len(vals)-1]
			}
			f.Checked = f.Value == "true"
		}
		out = append(out, f)
	}
	// Required params first: they are the ones a trigger must fill in.
	sort.Slice(out, func(i, j int) bool {
		if out[i].Required != out[j].Required {
			return out[i].Required
		}
		return out[i].Name < out[j].Name
	})
	return out
}

// formParams returns the fields of p's params with the values posted in
// form, and the params given.
func formParams(p *pipeline.Pipeline, form map[string][]string) ([]*paramField, map[string]any) {
	fields := paramFields(p, form)
	params := map[string]any{}
	for _, f := range fields {
		if _, sent := form[f.Field()]; !sent {
			continue
		}
		// An empty input means "not given": the default applies, or a
		// required param is reported missing.
		if f.Value == "" && (f.Type != string(pipeline.ParamString) || f.Required || f.HasDefault()) {
			continue
		}
		params[f.Name] = f.Value
	}
	return fields, params
}

// fieldProblems puts the problems of an error about params (its Details
// map each param to its problem) next to their fields.
func fieldProblems(fields []*paramField, se *sluice.Error) {
	if problems, ok := se.Details.(map[string]string); ok {
		for _, f := range fields {
			f.Problem = problems[f.Name]
		}
	}
}

func (w *Web) triggerPage(rw http.ResponseWriter, r *http.Request) error {
	head, err := w.loadHead(r.Context(), r.PathValue("id"), "trigger")
	if err != nil {
		return err
	}
	d := &triggerData{pipelineHead: head}
	if head.P != nil {
		d.Fields = paramFields(head.P, nil)
	}
	return w.render(rw, http.StatusOK, "trigger", w.newView(r, "Trigger "+head.SP.ID, "pipelines", d))
}

func (w *Web) triggerPost(rw http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	head, err := w.loadHead(ctx, r.PathValue("id"), "trigger")
	if err != nil {
		return err
	}
	if err := r.ParseForm(); err != nil {
		return sluice.Errorf(sluice.EBADREQUEST, "cannot read the form: %v", err)
	}
	d := &triggerData{pipelineHead: head}
	params := map[string]any{}
	if head.P != nil {
		d.Fields, params = formParams(head.P, r.PostForm)
	}
	run, err := w.ctl.Trigger(ctx, head.SP.ID, params, auth.FromContext(ctx).Name)
	if err == nil {
		target := fmt.Sprintf("/runs/%d", run.ID)
		if isHTMX(r) {
			rw.Header().Set("HX-Redirect", target)
			rw.WriteHeader(http.StatusOK)
			return nil
		}
		http.Redirect(rw, r, target, http.StatusSeeOther)
		return nil
	}
	var se *sluice.Error
	if !errors.As(err, &se) || (se.Code != sluice.EINVALID && se.Code != sluice.ECONFLICT) {
		return err
	}
	d.Problem = se.Message
	fieldProblems(d.Fields, se)
	v := w.newView(r, "Trigger "+head.SP.ID, "pipelines", d)
	if isHTMX(r) {
		return w.fragment(rw, http.StatusUnprocessableEntity, "trigger-form", v)
	}
	return w.render(rw, http.StatusUnprocessableEntity, "trigger", v)
}
