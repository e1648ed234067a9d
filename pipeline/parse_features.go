package pipeline

import (
	"fmt"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/sluice-dev/sluice"
	"github.com/sluice-dev/sluice/expression"
)

// Defaults of the task features.
const (
	defaultHTTPTimeout  = Duration(30 * time.Second)
	defaultPokeInterval = Duration(30 * time.Second)
	defaultSensorWait   = Duration(24 * time.Hour)
)

var (
	labelPattern = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,64}$`)
	httpMethods  = []string{"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"}
	httpKeys     = []string{"method", "url", "headers", "body", "expect", "timeout"}
	waitForKeys  = []string{"file", "url", "pipeline", "poke_interval", "timeout"}
	actionKeys   = []string{"run", "command", "http"}
)

// exprRef is an expression field and the tasks and secrets it mentions.
type exprRef struct {
	field   string
	at      pos
	tasks   []string
	secrets []string
}

// template checks the ${{ }} expressions of a text field and records the
// tasks they mention.
func (p *parser) template(at pos, label, s string) {
	if !expression.HasExpressions(s) {
		return
	}
	if _, err := expression.ParseTemplate(s); err != nil {
		p.errorf(at, "write ${{ expression }}, e.g. ${{ params.region }} or ${{ tasks.extract.outputs.path }}", "%s: %v", label, err)
		return
	}
	p.refs(at, label, s)
}

func (p *parser) refs(at pos, label, s string) {
	names, other := expression.Members(s, "secrets")
	switch {
	case (len(names) > 0 || other) && !p.secretsOK:
		p.errorf(at, "use ${{ secrets.NAME }} only in a task's env: and http: (url, headers, body), where the worker masks it; "+
			"a task that lists a secret under secrets: also gets it as $NAME",
			"%s: secrets cannot be used here", label)
		names = nil
	case other:
		p.errorf(at, "write secrets.NAME, with the secret's name, so it can be checked against secrets:", "%s: use secrets.NAME", label)
	}
	if p.exprSink != nil {
		if ids := expression.TaskRefs(s); len(ids) > 0 || len(names) > 0 {
			*p.exprSink = append(*p.exprSink, exprRef{field: label, at: at, tasks: ids, secrets: names})
		}
	}
}

// condition checks an expression field (when:, for_each:).
func (p *parser) condition(e entry, label string) (string, bool) {
	s, ok := p.str(e, label)
	if !ok {
		return "", false
	}
	if _, err := expression.Compile(s); err != nil {
		p.errorf(e.valAt, `write an expression such as ${{ params.region == "eu" }}`, "%s: %v", label, err)
		return "", false
	}
	p.refs(e.valAt, label, s)
	return strings.TrimSpace(s), true
}

// taskFeature reads the task keys added to the basic ones, and returns
// false for an unknown key.
func (p *parser) taskFeature(e entry, t *rawTask, where string) bool {
	prev := p.exprSink
	p.exprSink = &t.exprs
	defer func() { p.exprSink = prev }()
	switch e.key {
	case "http":
		t.kinds = append(t.kinds, e.at())
		p.secretsOK = true
		t.http = p.httpSpec(e, "http")
		p.secretsOK = false
	case "wait_for":
		t.kinds = append(t.kinds, e.at())
		t.waitFor = p.waitFor(e)
	case "pipeline":
		t.kinds = append(t.kinds, e.at())
		if s, ok := p.str(e, "pipeline"); ok {
			if !idPattern.MatchString(s) {
				p.errorf(e.valAt, idHint, "pipeline: %s is not a pipeline id", quoteShort(s))
			}
			t.pipeline = s
		}
	case "params":
		t.params = p.textMap(e, "params", nil)
		if t.params == nil {
			t.params = map[string]string{}
		}
	case "when":
		t.when, _ = p.condition(e, "when")
	case "for_each":
		t.forEach = p.forEach(e)
	case "produces":
		at := e.keyAt
		t.producesAt = &at
		t.produces = p.names(e, "produces", assetName, assetHint)
	case "allow_failure":
		t.allowFail, _ = p.boolean(e, "allow_failure")
	case "group":
		p.taskGroup(e, t)
	case "max_parallel":
		at := e.keyAt
		t.maxParAt = &at
		if n, ok := p.integer(e, "max_parallel"); ok {
			if n < 0 {
				p.errorf(e.valAt, "use 0 for no limit", "max_parallel: must be 0 or more, got %d", n)
			} else {
				t.maxParallel = n
			}
		}
	default:
		return false
	}
	return true
}

// settingFeature reads the settings added to the basic ones (they may also
// appear under defaults:), and returns false for an unknown key.
func (p *parser) settingFeature(e entry, s *settings) bool {
	prev := p.exprSink
	p.exprSink = &s.exprs
	defer func() { p.exprSink = prev }()
	switch e.key {
	case "trigger_rule":
		if v, ok := p.str(e, e.key); ok {
			if !sluice.TriggerRule(v).Valid() {
				rules := make([]string, len(sluice.TriggerRules))
				for i, r := range sluice.TriggerRules {
					rules[i] = string(r)
				}
				p.errorf(e.valAt, didYouMean(v, rules, "use one of "+strings.Join(rules, ", ")), "trigger_rule: %s is not a trigger rule", quoteShort(v))
			} else {
				s.triggerRule = &v
			}
		}
	case "pool":
		if v, ok := p.str(e, e.key); ok {
			if v != "" && !labelPattern.MatchString(v) { // "" undoes a pool from defaults:
				p.errorf(e.valAt, "use up to 64 letters, digits, _, . and -", "pool: %s is not a pool name", quoteShort(v))
			} else {
				s.pool = &v
			}
		}
	case "pool_slots":
		if v, ok := p.integer(e, e.key); ok {
			if v < 1 {
				p.errorf(e.valAt, "a task takes at least one slot", "pool_slots: must be 1 or more, got %d", v)
			} else {
				s.poolSlots = &v
			}
		}
	case "requires":
		s.requires = p.names(e, "requires", labelPattern, "use labels of up to 64 letters, digits, _, . and -, e.g. [gpu, python3.12]")
	case "secrets":
		s.secrets = p.names(e, "secrets", envName, "secret names are environment variable names: letters, digits and _")
		for _, n := range s.secrets {
			if strings.HasPrefix(n, "SLUICE_") {
				p.errorf(e.valAt, "pick a name without the SLUICE_ prefix", "secrets: %s is reserved", quoteShort(n))
			}
		}
	case "interpreter":
		at := e.keyAt
		s.interpAt = &at
		if isScalar(e.val) && !isNull(e.val) {
			if v, ok := p.str(e, "interpreter"); ok && strings.TrimSpace(v) != "" {
				s.interpreter = []string{v}
			}
		} else {
			s.interpreter = p.command(e)
		}
	case "queued_timeout":
		if v, ok := p.duration(e, e.key); ok {
			if v <= 0 {
				p.errorf(e.valAt, "e.g. queued_timeout: 1h", "queued_timeout: must be more than 0")
			} else {
				s.queuedTimeout = &v
			}
		}
	case "on_success":
		s.onSuccess = p.action(e, "on_success")
	case "on_failure":
		s.onFailure = p.action(e, "on_failure")
	case "on_retry":
		s.onRetry = p.action(e, "on_retry")
	default:
		return false
	}
	return true
}

// names reads a list of names (or one name), sorted and without repeats.
func (p *parser) names(e entry, label string, pattern *regexp.Regexp, hint string) []string {
	var items []entry
	switch kindOf(e.val) {
	case kindString:
		items = []entry{e}
	case kindList:
		items, _ = p.list(e, label, hint)
	default:
		p.wrongType(e.valAt, label, "a list of names", e.val, hint)
		return nil
	}
	seen := map[string]bool{}
	out := []string{}
	for _, it := range items {
		s, ok := p.str(it, label)
		if !ok {
			continue
		}
		if !pattern.MatchString(s) {
			p.errorf(it.valAt, hint, "%s: %s is not a valid name", label, quoteShort(s))
			continue
		}
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	sort.Strings(out)
	return out
}

// textMap reads a map of text values (numbers and booleans become text),
// checking expressions in them. keyPattern, when set, checks the keys.
func (p *parser) textMap(e entry, label string, keyPattern *regexp.Regexp) map[string]string {
	if kindOf(e.val) != kindMap {
		if !isNull(e.val) {
			p.wrongType(e.valAt, label, "a map", e.val, "")
		}
		return nil
	}
	ents, _ := p.entries(e, label, func(key string, first pos) (string, string) {
		return fmt.Sprintf("duplicate key %q in %s (first defined at line %d)", key, label, first.line), "remove one of them"
	})
	out := map[string]string{}
	for _, it := range ents {
		if keyPattern != nil && !keyPattern.MatchString(it.key) {
			p.errorf(it.keyAt, "use letters, digits and _", "%s: %s is not a valid name", label, quoteShort(it.key))
			continue
		}
		l := fmt.Sprintf("%s %s", label, quoteShort(it.key))
		if v, ok := p.text(it, l); ok {
			out[it.key] = v
			p.template(it.valAt, l, v)
		}
	}
	return out
}

// httpSpec reads an HTTP request.
func (p *parser) httpSpec(e entry, label string) *HTTP {
	if kindOf(e.val) != kindMap {
		p.wrongType(e.valAt, label, "a map with url: and optionally method:, headers:, body:, expect:, timeout:", e.val,
			"e.g. http: {method: POST, url: https://example.com/hook}")
		return nil
	}
	ents, _ := p.entries(e, label, func(key string, first pos) (string, string) {
		return fmt.Sprintf("duplicate key %q in %s (first defined at line %d)", key, label, first.line), "remove one of them"
	})
	h := &HTTP{Method: "GET", Timeout: defaultHTTPTimeout}
	hasURL := false
	for _, it := range ents {
		switch it.key {
		case "method":
			if v, ok := p.str(it, label+": method"); ok {
				m := strings.ToUpper(v)
				if !contains(httpMethods, m) {
					p.errorf(it.valAt, "use one of "+strings.Join(httpMethods, ", "), "%s: method %s is not supported", label, quoteShort(v))
				}
				h.Method = m
			}
		case "url":
			if v, ok := p.str(it, label+": url"); ok {
				hasURL = true
				h.URL = v
				p.template(it.valAt, label+": url", v)
				if !expression.HasExpressions(v) {
					if u, err := url.Parse(v); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
						p.errorf(it.valAt, "write a full URL such as https://example.com/path", "%s: url %s is not an http(s) URL", label, quoteShort(v))
					}
				}
			}
		case "headers":
			h.Headers = p.textMap(it, label+": headers", nil)
		case "body":
			if v, ok := p.text(it, label+": body"); ok {
				h.Body = v
				p.template(it.valAt, label+": body", v)
			}
		case "expect":
			h.Expect = p.statuses(it, label+": expect")
		case "timeout":
			if v, ok := p.duration(it, label+": timeout"); ok {
				if v <= 0 {
					p.errorf(it.valAt, "give the request time, e.g. 30s", "%s: timeout must be more than 0", label)
				} else {
					h.Timeout = v
				}
			}
		default:
			p.errorf(it.keyAt, didYouMean(it.key, httpKeys, "the keys of http: are "+strings.Join(httpKeys, ", ")),
				"unknown key %s in %s", quoteShort(it.key), label)
		}
	}
	if !hasURL {
		p.errorf(e.keyAt, "add url:, e.g. url: https://example.com/load", "%s has no url", label)
	}
	return h
}

// statuses reads expect: a status or a list of them, sorted.
func (p *parser) statuses(e entry, label string) []int {
	var items []entry
	if kindOf(e.val) == kindList {
		items, _ = p.list(e, label, "")
	} else {
		items = []entry{e}
	}
	var out []int
	for _, it := range items {
		n, ok := p.integer(it, label)
		if !ok {
			continue
		}
		if n < 100 || n > 599 {
			p.errorf(it.valAt, "HTTP statuses are 100 to 599", "%s: %d is not an HTTP status", label, n)
			continue
		}
		if !containsInt(out, n) {
			out = append(out, n)
		}
	}
	sort.Ints(out)
	return out
}

// waitFor reads a sensor's condition.
func (p *parser) waitFor(e entry) *WaitFor {
	const label = "wait_for"
	if kindOf(e.val) != kindMap {
		p.wrongType(e.valAt, label, "a map with one of file:, url: or pipeline:", e.val, "e.g. wait_for: {file: /data/in/*.csv, poke_interval: 1m}")
		return nil
	}
	ents, _ := p.entries(e, label, func(key string, first pos) (string, string) {
		return fmt.Sprintf("duplicate key %q in %s (first defined at line %d)", key, label, first.line), "remove one of them"
	})
	w := &WaitFor{PokeInterval: defaultPokeInterval, Timeout: defaultSensorWait}
	var what []entry
	for _, it := range ents {
		switch it.key {
		case "file":
			what = append(what, it)
			if v, ok := p.str(it, label+": file"); ok {
				w.File = v
				p.template(it.valAt, label+": file", v)
			}
		case "url":
			what = append(what, it)
			if v, ok := p.str(it, label+": url"); ok {
				w.URL = v
				p.template(it.valAt, label+": url", v)
			}
		case "pipeline":
			what = append(what, it)
			if v, ok := p.str(it, label+": pipeline"); ok {
				if !idPattern.MatchString(v) {
					p.errorf(it.valAt, idHint, "%s: pipeline %s is not a pipeline id", label, quoteShort(v))
				}
				w.Pipeline = v
			}
		case "poke_interval":
			if v, ok := p.duration(it, label+": poke_interval"); ok {
				if v < Duration(time.Second) {
					p.errorf(it.valAt, "poke at most once a second, e.g. 30s", "%s: poke_interval must be 1s or more", label)
				} else {
					w.PokeInterval = v
				}
			}
		case "timeout":
			if v, ok := p.duration(it, label+": timeout"); ok {
				if v <= 0 {
					p.errorf(it.valAt, "e.g. timeout: 6h", "%s: timeout must be more than 0", label)
				} else {
					w.Timeout = v
				}
			}
		default:
			p.errorf(it.keyAt, didYouMean(it.key, waitForKeys, "the keys of wait_for: are "+strings.Join(waitForKeys, ", ")),
				"unknown key %s in %s", quoteShort(it.key), label)
		}
	}
	switch len(what) {
	case 0:
		p.errorf(e.keyAt, "add file: (a path or glob), url: (answers 2xx) or pipeline: (its run for the same logical date succeeded)", "wait_for: says nothing to wait for")
	case 1:
	default:
		p.errorf(what[1].keyAt, "a sensor waits for one thing: keep one of file:, url: and pipeline:", "wait_for: sets both %s and %s", what[0].key, what[1].key)
	}
	return w
}

// forEach reads for_each: a literal list, or an expression.
func (p *parser) forEach(e entry) *ForEach {
	switch kindOf(e.val) {
	case kindList:
		items, _ := p.list(e, "for_each", "")
		f := &ForEach{Items: []string{}}
		for _, it := range items {
			if v, ok := p.text(it, "for_each"); ok {
				f.Items = append(f.Items, v)
			}
		}
		return f
	default:
		s, ok := p.condition(e, "for_each")
		if !ok {
			return nil
		}
		return &ForEach{Expr: s}
	}
}

// action reads a callback: one of run:, command: or http:.
func (p *parser) action(e entry, label string) *Action {
	if kindOf(e.val) != kindMap {
		p.wrongType(e.valAt, label, "a map with run:, command: or http:", e.val, fmt.Sprintf(`e.g. %s: {run: ./notify.sh}`, label))
		return nil
	}
	ents, _ := p.entries(e, label, func(key string, first pos) (string, string) {
		return fmt.Sprintf("duplicate key %q in %s (first defined at line %d)", key, label, first.line), "remove one of them"
	})
	a := &Action{}
	var kinds []entry
	for _, it := range ents {
		switch it.key {
		case "run":
			kinds = append(kinds, it)
			a.Run, _ = p.str(it, label+": run")
			p.noTemplate(it, label+": run", a.Run)
		case "command":
			kinds = append(kinds, it)
			a.Command = p.command(it)
		case "http":
			kinds = append(kinds, it)
			a.HTTP = p.httpSpec(it, label+": http")
		default:
			p.errorf(it.keyAt, didYouMean(it.key, actionKeys, "a callback has one of run:, command: or http:"),
				"unknown key %s in %s", quoteShort(it.key), label)
		}
	}
	switch len(kinds) {
	case 0:
		p.errorf(e.keyAt, "add run:, command: or http:", "%s does nothing", label)
	case 1:
	default:
		p.errorf(kinds[1].keyAt, "keep one of run:, command: and http:", "%s sets both %s and %s", label, kinds[0].key, kinds[1].key)
	}
	return a
}

// checkRefs checks that the tasks an expression mentions are upstream of
// the task: only their outputs exist when it runs.
func (p *parser) checkRefs(f *file) {
	known := map[string]bool{}
	for _, t := range f.tasks {
		known[t.id] = true
	}
	// The expressions of each variable of defaults: env:, found once
	// rather than once per task.
	byField := map[string][]exprRef{}
	for _, r := range f.defaults.exprs {
		byField[r.field] = append(byField[r.field], r)
	}
	defaultEnvRefs := map[string][]exprRef{}
	for k := range f.defaults.env {
		if rs := byField[fmt.Sprintf("env %s", quoteShort(k))]; len(rs) > 0 {
			defaultEnvRefs[k] = rs
		}
	}
	for _, t := range f.tasks {
		deps := map[string]bool{}
		for _, d := range t.deps {
			deps[d.id] = true
		}
		set := t.settings()
		refs := append(append([]exprRef(nil), t.exprs...), set.exprs...)
		secrets := set.secrets
		if secrets == nil {
			secrets = f.defaults.secrets
		}
		// The env of defaults that the task keeps is the task's too.
		for k, rs := range defaultEnvRefs {
			if _, own := set.env[k]; own {
				continue
			}
			for _, r := range rs {
				p.checkSecretRefs(r, secrets, "task "+quoteShort(t.id))
			}
		}
		for _, r := range refs {
			p.checkSecretRefs(r, secrets, "task "+quoteShort(t.id))
			for _, id := range r.tasks {
				switch {
				case !known[id]:
					p.errorf(r.at, "tasks.<id> must name a task of this pipeline", "%s of task %s mentions unknown task %s", r.field, quoteShort(t.id), quoteShort(id))
				case !deps[id]:
					p.errorf(r.at, fmt.Sprintf("add %s to depends_on: a task sees the outputs of the tasks it depends on", id),
						"%s of task %s uses tasks.%s, which is not in its depends_on", r.field, quoteShort(t.id), id)
				}
			}
		}
	}
	for _, r := range f.defaults.exprs {
		p.checkSecretRefs(r, f.defaults.secrets, "defaults")
		if len(r.tasks) > 0 {
			p.errorf(r.at, "use tasks.<id> in a task's own settings, where its depends_on is known", "%s in defaults mentions tasks.%s", r.field, r.tasks[0])
		}
	}
}

// checkSecretRefs checks that the secrets an expression mentions are
// listed under secrets: where it is written: only those are opened for
// the task, and masked in what it produces.
func (p *parser) checkSecretRefs(r exprRef, listed []string, where string) {
	for _, name := range r.secrets {
		if !contains(listed, name) {
			p.errorf(r.at, fmt.Sprintf("add %s to the secrets: of %s", name, where),
				"%s of %s uses secrets.%s, which is not in its secrets:", r.field, where, name)
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func containsInt(list []int, n int) bool {
	for _, x := range list {
		if x == n {
			return true
		}
	}
	return false
}
