package pipeline

import (
	"fmt"
	"regexp"
	"strings"
)

// Warning is something in a pipeline file that is valid but likely not
// what its author meant: the file loads, and sluice validate prints the
// warning with its position. Parse sets Pipeline.Warnings.
type Warning struct {
	File      string
	Line, Col int
	Msg, Hint string
}

// String returns "FILE:LINE:COL: warning: MSG", followed by the hint on
// the next line, as sluice validate prints it.
func (w Warning) String() string {
	s := fmt.Sprintf("%s:%d:%d: warning: %s", w.File, w.Line, w.Col, w.Msg)
	if w.Hint != "" {
		s += "\n\thint: " + w.Hint
	}
	return s
}

// warnf records a warning at p.
func (p *parser) warnf(at pos, hint, format string, args ...any) {
	p.warns = append(p.warns, Warning{File: p.file, Line: at.line, Col: at.col, Msg: fmt.Sprintf(format, args...), Hint: hint})
}

// jinja finds a Jinja template, {{ … }}, that is not sluice's ${{ … }}.
var jinja = regexp.MustCompile(`(^|[^$])\{\{\s*([^{}]*?)\s*\}\}`)

// macroHint returns, for a Jinja macro people bring from Airflow, what a
// sluice task reads instead: an environment variable in a script (or an
// env: to set), an expression in env:. ok is false for other text.
func macroHint(inner string, inEnv bool) (hint string, ok bool) {
	var env, expr string
	switch rest, dotted := strings.CutPrefix(inner, "params."); {
	case dotted && rest != "":
		env, expr = "$SLUICE_PARAM_"+strings.ToUpper(rest), "params."+rest
	case strings.HasPrefix(inner, "var.value.") && len(inner) > len("var.value."):
		expr = "vars." + strings.TrimPrefix(inner, "var.value.")
	case inner == "ds":
		env, expr = "$SLUICE_DS", "run.ds"
	case inner == "ds_nodash":
		env, expr = "$SLUICE_DS without its dashes, $(echo $SLUICE_DS | tr -d -),", "replace(run.ds, '-', '')"
	case inner == "ts" || inner == "logical_date" || inner == "execution_date":
		env, expr = "$SLUICE_LOGICAL_DATE", "run.logical_date"
	case inner == "run_id":
		env, expr = "$SLUICE_RUN_ID", "run.id"
	case strings.HasPrefix(inner, "ti.xcom_pull"):
		env, expr = "$SLUICE_OUTPUT_<TASK>_<KEY>", "tasks.<task>.outputs.<key>"
	default:
		return "", false
	}
	switch {
	case inEnv:
		return fmt.Sprintf("write ${{ %s }}", expr), true
	case env != "":
		return fmt.Sprintf("read %s from the environment", env), true
	}
	return fmt.Sprintf("set env: {NAME: \"${{ %s }}\"} and read $NAME", expr), true
}

// jinjaWarning warns when a script, an argv or an env value holds a
// Jinja template: sluice does not render Jinja, so the text reaches the
// task as written. inEnv says whether ${{ … }} is the fix (env:) or an
// environment variable is (run:, command:).
func (p *parser) jinjaWarning(at pos, label, s string, inEnv bool) {
	if !strings.Contains(s, "{{") {
		return
	}
	m := jinja.FindStringSubmatch(s)
	if m == nil {
		return
	}
	inner := m[2]
	hint := "read values from the environment ($SLUICE_DS, $SLUICE_PARAM_<NAME>, $SLUICE_OUTPUT_<TASK>_<KEY>), or set env: {NAME: \"${{ … }}\"} and use $NAME"
	if inEnv {
		hint = "write an expression as ${{ … }}, e.g. ${{ run.ds }}"
	}
	if h, ok := macroHint(inner, inEnv); ok {
		hint = h
	}
	if label == "command" {
		hint = "command: passes its arguments as written, with no shell to expand them: use run: instead, or let the program read the environment; " + hint
	}
	p.warnf(at, hint, "%s: {{ %s }} looks like a Jinja template; sluice does not render Jinja, so the task sees it as written", label, inner)
}
