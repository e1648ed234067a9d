package pipeline

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/sluice-dev/sluice/expression"
)

// Trigger is one way, besides the schedule, that events start runs of a
// pipeline. Exactly one of its kinds is set.
type Trigger struct {
	// Webhook starts a run for each signed POST to the pipeline's hook path.
	Webhook *Webhook `json:"webhook,omitempty"`
	// Files starts a run for each file that arrives in a folder (files.go).
	Files *Files `json:"files,omitempty"`
}

// Webhook is a trigger by HTTP POST, signed with a sluice secret the way
// GitHub signs its deliveries (X-Hub-Signature-256).
type Webhook struct {
	// Name tells the webhooks of a pipeline apart. The unnamed webhook (at
	// most one) is served at /hooks/<pipeline>, a named one at
	// /hooks/<pipeline>/<name>.
	Name string `json:"name,omitempty"`
	// Secret names the sluice secret (sluice secrets set NAME) whose value
	// is the HMAC-SHA256 key of the deliveries.
	Secret string `json:"secret"`
	// Params maps a delivery to the run's params: each value is text with
	// ${{ }} expressions over body (the JSON body) and headers (lowercase
	// names). A value that is one whole expression keeps its type.
	Params map[string]string `json:"params,omitempty"`
	// Key, when set, is an expression whose text is the delivery's dedup
	// key; otherwise the Idempotency-Key or X-GitHub-Delivery header is.
	Key string `json:"key,omitempty"`
}

// Source is the name of the webhook's events in the store: "webhook", or
// "webhook/<name>" for a named one.
func (w *Webhook) Source() string {
	if w.Name == "" {
		return "webhook"
	}
	return "webhook/" + w.Name
}

// Webhook returns the pipeline's webhook of the given name ("" for the
// unnamed one), or nil.
func (p *Pipeline) Webhook(name string) *Webhook {
	for _, t := range p.Triggers {
		if t.Webhook != nil && t.Webhook.Name == name {
			return t.Webhook
		}
	}
	return nil
}

// MaxTriggers is the most triggers a pipeline may list.
const MaxTriggers = 16

var (
	triggerKinds = []string{"webhook", "files"}
	webhookKeys  = []string{"name", "secret", "params", "key"}
	hookName     = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$`)
	// webhookRoots are the variables a webhook's expressions may read.
	webhookRoots = []string{"body", "headers"}
)

// rawWebhook is a webhook with where its parts are written, for the checks
// that need the params of the whole file.
type rawWebhook struct {
	w        *Webhook
	at       pos
	paramsAt map[string]pos
}

// triggers reads triggers:, a list of maps with one kind each.
func (p *parser) triggers(f *file, e entry) {
	items, ok := p.list(e, "triggers", "e.g. triggers: [{webhook: {secret: GITHUB_HOOK}}]")
	if !ok {
		return
	}
	if len(items) > MaxTriggers {
		p.errorf(items[MaxTriggers].valAt, "split the pipeline", "triggers: at most %d triggers are allowed, got %d", MaxTriggers, len(items))
		return
	}
	names, fileNames := map[string]pos{}, map[string]pos{}
	for _, it := range items {
		ents, ok := p.entries(it, "trigger", func(key string, first pos) (string, string) {
			return fmt.Sprintf("duplicate key %q in trigger (first defined at line %d)", key, first.line), "remove one of them"
		})
		if !ok {
			continue
		}
		if len(ents) != 1 {
			p.errorf(it.valAt, "write each trigger as its own list item, e.g. - webhook: {secret: HOOK}",
				"a trigger has exactly one kind (%s), got %d keys", strings.Join(triggerKinds, ", "), len(ents))
			continue
		}
		k := ents[0]
		switch k.key {
		case "webhook":
			rw := p.webhook(k)
			if rw == nil {
				continue
			}
			if first, dup := names[rw.w.Name]; dup {
				if rw.w.Name == "" {
					p.errorf(k.keyAt, "give each webhook a name: (its path is /hooks/<pipeline>/<name>)",
						"a second webhook without a name (the first is at line %d)", first.line)
				} else {
					p.errorf(k.keyAt, "give each webhook its own name", "duplicate webhook name %s (first at line %d)", quoteShort(rw.w.Name), first.line)
				}
				continue
			}
			names[rw.w.Name] = k.keyAt
			f.webhooks = append(f.webhooks, rw)
			f.pl.Triggers = append(f.pl.Triggers, &Trigger{Webhook: rw.w})
		case "files":
			rf := p.files(k)
			if rf == nil {
				continue
			}
			if first, dup := fileNames[rf.f.Name]; dup {
				if rf.f.Name == "" {
					p.errorf(k.keyAt, "give each files trigger a name:", "a second files trigger without a name (the first is at line %d)", first.line)
				} else {
					p.errorf(k.keyAt, "give each files trigger its own name", "duplicate files trigger name %s (first at line %d)", quoteShort(rf.f.Name), first.line)
				}
				continue
			}
			fileNames[rf.f.Name] = k.keyAt
			f.files = append(f.files, rf)
			f.pl.Triggers = append(f.pl.Triggers, &Trigger{Files: rf.f})
		default:
			p.errorf(k.keyAt, didYouMean(k.key, triggerKinds, "the trigger kinds are "+strings.Join(triggerKinds, ", ")),
				"unknown trigger kind %s", quoteShort(k.key))
		}
	}
}

// webhook reads one webhook: trigger.
func (p *parser) webhook(e entry) *rawWebhook {
	ents, ok := p.entries(e, "webhook", func(key string, first pos) (string, string) {
		return fmt.Sprintf("duplicate key %q in webhook (first defined at line %d)", key, first.line), "remove one of them"
	})
	if !ok {
		return nil
	}
	rw := &rawWebhook{w: &Webhook{}, at: e.keyAt}
	hasSecret := false
	for _, it := range ents {
		switch it.key {
		case "name":
			rw.w.Name = p.triggerName(it, "webhook")
		case "secret":
			if s, ok := p.str(it, "webhook: secret"); ok {
				hasSecret = true
				if !envName.MatchString(s) {
					p.errorf(it.valAt, "name a sluice secret: letters, digits and _, e.g. GITHUB_HOOK", "webhook: secret %s is not a valid secret name", quoteShort(s))
				}
				rw.w.Secret = s
			}
		case "params":
			rw.w.Params, rw.paramsAt = p.hookParams(it)
		case "key":
			if s, ok := p.str(it, "webhook: key"); ok {
				p.hookExpr(it.valAt, "webhook: key", s)
				rw.w.Key = s
			}
		default:
			p.errorf(it.keyAt, didYouMean(it.key, webhookKeys, "the keys of a webhook are "+strings.Join(webhookKeys, ", ")),
				"unknown key %s in webhook", quoteShort(it.key))
		}
	}
	if !hasSecret {
		p.errorf(e.keyAt, "add secret: NAME, the sluice secret that signs the deliveries (sluice secrets set NAME)",
			"a webhook needs secret:, so that only signed deliveries start runs")
	}
	return rw
}

// triggerName reads the name: of a trigger of the given kind.
func (p *parser) triggerName(e entry, kind string) string {
	s, ok := p.str(e, kind+": name")
	if ok && !hookName.MatchString(s) {
		p.errorf(e.valAt, "use up to 64 letters, digits, _, . and -", "%s: name %s is not a valid name", kind, quoteShort(s))
	}
	return s
}

// hookParams reads a webhook's params: map of expressions.
func (p *parser) hookParams(e entry) (map[string]string, map[string]pos) {
	return p.triggerParams(e, "webhook", p.hookExpr)
}

// hookExpr checks the expressions of a webhook field: they compile, and
// they read only body and headers.
func (p *parser) hookExpr(at pos, label, s string) bool {
	return p.triggerExpr(at, label, s, webhookRoots, "${{ body.ref }}",
		"a webhook's expressions read the delivery: body (its JSON) and headers (lowercase names)", "a delivery arrives")
}

// triggerParams reads the params: map of a trigger of the given kind:
// text with ${{ }} expressions, each checked by check.
func (p *parser) triggerParams(e entry, kind string, check func(at pos, label, s string) bool) (map[string]string, map[string]pos) {
	ents, ok := p.entries(e, kind+": params", func(key string, first pos) (string, string) {
		return fmt.Sprintf("duplicate key %q in %s: params (first defined at line %d)", key, kind, first.line), "remove one of them"
	})
	if !ok {
		return nil, nil
	}
	out := map[string]string{}
	at := map[string]pos{}
	for _, it := range ents {
		label := kind + ": params " + quoteShort(it.key)
		if v, ok := p.text(it, label); ok {
			check(it.valAt, label, v)
			out[it.key] = v
			at[it.key] = it.keyAt
		}
	}
	return out, at
}

// exprRoots are the variables any sluice expression may read; a trigger's
// expressions read only some of them.
var exprRoots = []string{"params", "tasks", "run", "vars", "secrets", "item", "item_index", "trigger", "body", "headers", "file"}

// triggerExpr checks the expressions of a trigger's field: they compile,
// and they read no variable but roots. It reports whether they do.
func (p *parser) triggerExpr(at pos, label, s string, roots []string, example, readsHint, when string) bool {
	if !expression.HasExpressions(s) {
		return true
	}
	if _, err := expression.ParseTemplate(s); err != nil {
		p.errorf(at, "write ${{ expression }}, e.g. "+example, "%s: %v", label, err)
		return false
	}
	for _, root := range exprRoots {
		if slices.Contains(roots, root) {
			continue
		}
		if names, dyn := expression.Members(s, root); len(names) > 0 || dyn {
			p.errorf(at, readsHint, "%s: %s is not known when %s", label, root, when)
			return false
		}
	}
	return true
}

// checkWebhooks checks what needs the whole file: each mapped param is a
// param of the pipeline.
func (p *parser) checkWebhooks(f *file) {
	for _, rw := range f.webhooks {
		for _, name := range sortedKeys(rw.w.Params) {
			if _, ok := f.pl.Params[name]; !ok {
				p.errorf(rw.paramsAt[name], didYouMean(name, sortedKeys(f.pl.Params), "declare it under params: first"),
					"webhook: params %s is not a param of the pipeline", quoteShort(name))
			}
		}
	}
}

// EvalParams evaluates a trigger's params: (name → text with ${{ }}
// expressions) in env. A value that is one whole expression keeps its
// type (a number stays a number; null counts as not given, so the
// param's default applies); other text is rendered. The error, an
// EINVALID naming each param that failed, starts with what.
func EvalParams(params map[string]string, env map[string]any, what string) (map[string]any, error) {
	out := map[string]any{}
	problems := map[string]string{}
	for name, src := range params {
		var (
			v   any
			err error
		)
		if s := strings.TrimSpace(src); strings.HasPrefix(s, "${{") && strings.HasSuffix(s, "}}") && strings.Count(s, "${{") == 1 {
			var prog *expression.Program
			if prog, err = expression.Compile(s); err == nil {
				v, err = prog.Eval(env)
			}
		} else {
			v, err = expression.Render(src, env)
		}
		if err != nil {
			problems[name] = err.Error()
			continue
		}
		out[name] = v
	}
	if len(problems) > 0 {
		return nil, ParamsError(what, problems)
	}
	return out, nil
}

// Events names what else than its schedule starts runs of p, for lists:
// "assets", "webhook", "files". Empty for a pipeline that runs only on
// its schedule or by hand.
func (p *Pipeline) Events() []string {
	var out []string
	if len(p.Assets) > 0 {
		out = append(out, "assets")
	}
	var hook, files bool
	for _, t := range p.Triggers {
		hook = hook || t.Webhook != nil
		files = files || t.Files != nil
	}
	if hook {
		out = append(out, "webhook")
	}
	if files {
		out = append(out, "files")
	}
	return out
}
