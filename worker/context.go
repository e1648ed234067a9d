package worker

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/sluice-dev/sluice/executor"
	"github.com/sluice-dev/sluice/expression"
	"github.com/sluice-dev/sluice/pipeline"
	"github.com/sluice-dev/sluice/store"
)

// exprContext is what an attempt's expressions see. The upstream outputs
// come with the claim; variables are read on first use, once.
type exprContext struct {
	w     *Worker
	ctx   context.Context
	v     *version
	task  *pipeline.Task
	claim *store.Claim

	// secrets are the task's secrets by name, for the env: and http:
	// fields (the parser allows ${{ secrets.X }} nowhere else); the mask
	// of the attempt already hides them.
	secrets map[string]any

	once    sync.Once
	env     map[string]any
	loadErr error
}

func (w *Worker) newExprContext(ctx context.Context, v *version, task *pipeline.Task, c *store.Claim, secrets []openedSecret) (*exprContext, error) {
	x := &exprContext{w: w, ctx: ctx, v: v, task: task, claim: c, secrets: map[string]any{}}
	for _, s := range secrets {
		x.secrets[s.name] = s.value
	}
	return x, nil
}

// outputs returns the outputs of the task's direct upstream tasks, as the
// claim brought them.
func (x *exprContext) outputs() map[string]map[string]string {
	return x.claim.Outputs
}

func (x *exprContext) load() {
	x.once.Do(func() {
		c := x.claim
		var params map[string]any
		if len(c.Params) > 0 {
			if err := json.Unmarshal(c.Params, &params); err != nil {
				x.loadErr = fmt.Errorf("run params are not a JSON object: %w", err)
				return
			}
		}
		tasks := map[string]any{}
		for _, up := range x.task.DependsOn {
			o := map[string]any{}
			for k, v := range c.Outputs[up] {
				o[k] = v
			}
			tasks[up] = map[string]any{"outputs": o}
		}
		vars := map[string]any{}
		if x.usesVars() {
			list, err := x.w.st.VariableList(x.ctx)
			if err != nil {
				x.loadErr = fmt.Errorf("cannot read variables: %w", err)
				return
			}
			for _, v := range list {
				vars[v.Name] = v.Value
			}
		}
		// trigger.events: the asset events that started the run, as
		// $SLUICE_TRIGGER_EVENTS has them; an empty list for any other run.
		events := []any{}
		if len(c.TriggerEvents) > 0 {
			if err := json.Unmarshal(c.TriggerEvents, &events); err != nil {
				x.loadErr = fmt.Errorf("the run's trigger events are not a JSON list: %w", err)
				return
			}
		}
		loc := x.v.Pipeline.Location()
		x.env = map[string]any{
			"trigger": map[string]any{"events": events},
			"params":  params,
			"run": map[string]any{
				"id": c.RunID, "key": c.RunKey, "pipeline": c.PipelineID,
				"logical_date": c.LogicalDate.UTC().Format("2006-01-02T15:04:05Z07:00"),
				"ds":           c.LogicalDate.In(loc).Format("2006-01-02"),
			},
			"tasks": tasks,
			"vars":  vars,
		}
		if c.Item != nil {
			x.env["item"] = *c.Item
			x.env["item_index"] = c.MapIndex
		}
	})
}

// usesVars reports whether any expression of the task mentions vars.
func (x *exprContext) usesVars() bool {
	b, _ := json.Marshal(x.task)
	return strings.Contains(string(b), "vars.")
}

// render renders a text field. Only texts see the task's secrets; when:
// and for_each: do not, since what they yield is shown and stored.
func (x *exprContext) render(s string) (string, error) {
	if !expression.HasExpressions(s) {
		return s, nil
	}
	x.load()
	if x.loadErr != nil {
		return "", x.loadErr
	}
	env := x.env
	if names, _ := expression.Members(s, "secrets"); len(names) > 0 {
		env = make(map[string]any, len(x.env)+1)
		for k, v := range x.env {
			env[k] = v
		}
		env["secrets"] = x.secrets
		for _, n := range names {
			if _, ok := x.secrets[n]; !ok {
				return "", fmt.Errorf("secrets.%s: the task does not list %s under secrets:", n, n)
			}
		}
	}
	return expression.Render(s, env)
}

func (x *exprContext) eval(src string) (any, error) {
	x.load()
	if x.loadErr != nil {
		return nil, x.loadErr
	}
	p, err := expression.Compile(src)
	if err != nil {
		return nil, err
	}
	return p.Eval(x.env)
}

// when evaluates a task's condition.
func (x *exprContext) when(src string) (bool, error) {
	x.load()
	if x.loadErr != nil {
		return false, x.loadErr
	}
	p, err := expression.Compile(src)
	if err != nil {
		return false, err
	}
	return p.Bool(x.env)
}

// items evaluates a for_each: a literal list, a list value, or a JSON
// array text. Items that are not text become JSON.
func (x *exprContext) items(f *pipeline.ForEach) ([]string, error) {
	if f.Expr == "" {
		return f.Items, nil
	}
	v, err := x.eval(f.Expr)
	if err != nil {
		return nil, err
	}
	if s, ok := v.(string); ok {
		var arr []any
		if err := json.Unmarshal([]byte(s), &arr); err != nil {
			return nil, fmt.Errorf("for_each: %q is not a JSON array", shorten(s, 80))
		}
		v = arr
	}
	list, ok := v.([]any)
	if !ok {
		if strs, ok2 := v.([]string); ok2 {
			return strs, nil
		}
		// Other lists, such as the []int of a range (${{ 1..100 }}),
		// which the pipeline's check accepts.
		rv := reflect.ValueOf(v)
		if rv.Kind() != reflect.Slice && rv.Kind() != reflect.Array {
			return nil, fmt.Errorf("for_each: %s is %T, not a list", f.Expr, v)
		}
		list = make([]any, rv.Len())
		for i := range list {
			list[i] = rv.Index(i).Interface()
		}
	}
	out := make([]string, len(list))
	for i, it := range list {
		if s, ok := it.(string); ok {
			out[i] = s
			continue
		}
		b, err := json.Marshal(it)
		if err != nil {
			return nil, fmt.Errorf("for_each: item %d: %v", i, err)
		}
		out[i] = string(b)
	}
	return out, nil
}

// httpRequest renders an HTTP task's request.
func (x *exprContext) httpRequest(h *pipeline.HTTP) (*executor.HTTPRequest, error) {
	url, err := x.render(h.URL)
	if err != nil {
		return nil, fmt.Errorf("http url: %w", err)
	}
	body, err := x.render(h.Body)
	if err != nil {
		return nil, fmt.Errorf("http body: %w", err)
	}
	headers := map[string]string{}
	for k, v := range h.Headers {
		if headers[k], err = x.render(v); err != nil {
			return nil, fmt.Errorf("http header %s: %w", k, err)
		}
	}
	return &executor.HTTPRequest{Method: h.Method, URL: url, Headers: headers, Body: body, Expect: h.Expect, Timeout: h.Timeout.D()}, nil
}

// shorten cuts s to at most n bytes, between characters (see the
// executor's truncate), and marks the cut with "…".
func shorten(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
