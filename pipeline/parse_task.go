package pipeline

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/sluice-dev/sluice"
)

// Task keys. settingKeys may also appear under defaults:.
var (
	settingKeys = []string{
		"description", "env", "workdir", "retries", "retry_delay", "retry_backoff",
		"max_retry_delay", "timeout", "priority", "trigger_rule", "pool", "pool_slots",
		"requires", "secrets", "on_success", "on_failure", "on_retry", "interpreter", "queued_timeout",
	}
	// kindKeys are the keys that say what a task runs; a task has one.
	kindKeys     = []string{"run", "command", "noop", "http", "wait_for", "pipeline"}
	taskOnlyKeys = append(append([]string(nil), kindKeys...), "container", "depends_on", "params", "when", "for_each", "max_parallel", "produces", "allow_failure", "group")
	taskKeys     = append(append([]string(nil), taskOnlyKeys...), settingKeys...)
)

// Task defaults, used when neither the task nor defaults: sets a value.
const (
	defaultRetryDelay    = Duration(30 * time.Second)
	defaultRetryBackoff  = BackoffFixed
	defaultMaxRetryDelay = Duration(time.Hour)
	defaultQueuedTimeout = Duration(time.Hour)
)

// envName is what an environment variable name looks like.
var envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// settings are the task settings that defaults: can give every task. A nil
// field is not set.
type settings struct {
	description   *string
	env           map[string]string
	envAt         pos
	workdir       *string
	retries       *int
	retryDelay    *Duration
	retryBackoff  *Backoff
	maxRetryDelay *Duration
	timeout       *Duration
	priority      *int
	triggerRule   *string
	pool          *string
	poolSlots     *int
	requires      []string
	secrets       []string
	onSuccess     *Action
	onFailure     *Action
	onRetry       *Action
	interpreter   []string
	interpAt      *pos
	queuedTimeout *Duration
	// exprs are the expression fields among these settings, to check the
	// tasks they mention.
	exprs []exprRef
}

// rawTask is a task as written, before defaults are merged in.
type rawTask struct {
	id string
	at pos
	// valid is false when the task is not a map; only its id is known.
	valid bool
	// kinds are the keys among run, command and noop that are written, in
	// the order written.
	kinds   []entry
	run     string
	command []string
	deps    []depRef
	// set is what the task's own settings set; nil when it writes none
	// (see settings).
	set         *settings
	http        *HTTP
	waitFor     *WaitFor
	pipeline    string
	params      map[string]string
	when        string
	forEach     *ForEach
	maxParallel int
	maxParAt    *pos
	produces    []string
	producesAt  *pos
	allowFail   bool
	// group is the task's group:, written at groupAt.
	group   string
	groupAt pos
	// container is set by container:, at containerAt; entrypointAt is
	// where it sets an entrypoint.
	container    *Container
	containerAt  *pos
	entrypointAt *pos
	// exprs are the task's expression fields, to check the tasks they
	// mention are upstream of it.
	exprs []exprRef
}

// isSettingKey holds the settingKeys.
var isSettingKey = func() map[string]bool {
	m := make(map[string]bool, len(settingKeys))
	for _, k := range settingKeys {
		m[k] = true
	}
	return m
}()

// noSettings is the settings of a task that writes none. It is never
// written to.
var noSettings settings

// settings returns the task's own settings: its set, or noSettings. Most
// tasks of a big generated file set none, and a settings is about half a
// task's record, so it is only made for a task that writes one.
func (t *rawTask) settings() *settings {
	if t.set == nil {
		return &noSettings
	}
	return t.set
}

// depRef is one entry of depends_on.
type depRef struct {
	id string
	at pos
}

// defaults walks the defaults: map.
func (p *parser) defaults(f *file, e entry) {
	p.exprSink = &f.defaults.exprs
	defer func() { p.exprSink = nil }()
	ents, _ := p.entries(e, "defaults", func(key string, first pos) (string, string) {
		return fmt.Sprintf("duplicate key %q in defaults (first defined at line %d)", key, first.line), "remove one of them"
	})
	for _, e := range ents {
		if p.setting(e, &f.defaults) {
			continue
		}
		switch e.key {
		case "run", "command", "noop", "http", "wait_for", "pipeline", "container", "depends_on", "params", "when", "for_each", "max_parallel", "produces", "allow_failure", "group":
			p.errorf(e.keyAt, fmt.Sprintf("set %s: in each task that needs it", e.key), "defaults cannot set %s", e.key)
		default:
			p.errorf(e.keyAt, didYouMean(e.key, settingKeys, "defaults can set "+strings.Join(settingKeys, ", ")),
				"unknown key %s in defaults", quoteShort(e.key))
		}
	}
}

// tasks walks the tasks: map.
func (p *parser) tasks(f *file, e entry) {
	if isNull(e.val) {
		p.errorf(e.valAt, "add at least one task, e.g. tasks: {hello: {run: echo hello}}", "tasks is empty")
		return
	}
	ents, ok := p.entries(e, "tasks", duplicateTask)
	if ok && len(ents) == 0 {
		if kindOf(e.val) == kindMap && len(e.val.Content) == 0 {
			p.errorf(e.valAt, "add at least one task, e.g. tasks: {hello: {run: echo hello}}", "tasks is empty")
		}
	}
	// Each task's part of the YAML tree is let go once it is walked, so a
	// big file does not hold its whole tree beside the tasks made of it
	// (the tree is most of the memory a parse takes). An anchored map may
	// be read again through an alias, so it is left as it is.
	if e.val != nil && e.val.Anchor == "" {
		e.val.Content = nil
	}
	for i := range ents {
		f.tasks = append(f.tasks, p.task(ents[i]))
		ents[i].val = nil
	}
}

// duplicateTask words the error of a task id used twice.
func duplicateTask(key string, first pos) (string, string) {
	return fmt.Sprintf("duplicate task id %q (first defined at line %d)", key, first.line),
		"task ids must be unique: rename or remove one of the tasks"
}

// task walks one task.
func (p *parser) task(e entry) *rawTask {
	t := &rawTask{id: e.key, at: e.keyAt}
	p.exprSink = &t.exprs
	defer func() { p.exprSink = nil }()
	if !idPattern.MatchString(e.key) {
		p.errorf(e.keyAt, idHint, "task id %s is not valid", quoteShort(e.key))
	}
	where := fmt.Sprintf("task %s", quoteShort(e.key))
	if kindOf(e.val) != kindMap {
		hint := fmt.Sprintf("write the settings of the task under it, e.g. %s: {run: echo hello}", e.key)
		if isScalar(e.val) && !isNull(e.val) {
			hint = fmt.Sprintf("put the script under run:, e.g. %s: {run: %s}", e.key, describe(e.val))
		}
		if e.val != nil {
			p.wrongType(e.valAt, where, "a map of task settings", e.val, hint)
		}
		return t
	}
	t.valid = true
	ents, _ := p.entries(e, where, func(key string, first pos) (string, string) {
		return fmt.Sprintf("duplicate key %q in %s (first defined at line %d)", key, where, first.line), "remove one of them"
	})
	for _, e := range ents {
		if isSettingKey[e.key] {
			if t.set == nil {
				t.set = &settings{}
			}
			p.setting(e, t.set)
			continue
		}
		switch e.key {
		case "run":
			t.kinds = append(t.kinds, e.at())
			t.run, _ = p.str(e, "run")
			p.noTemplate(e, "run", t.run)
			p.jinjaWarning(e.valAt, "run", t.run, false)
		case "command":
			t.kinds = append(t.kinds, e.at())
			t.command = p.command(e)
		case "noop":
			t.kinds = append(t.kinds, e.at())
			if v, ok := p.boolean(e, "noop"); ok && !v {
				p.errorf(e.valAt, "remove noop: false and say what the task runs with run: or command:",
					"noop: must be true when present, got false")
			}
		case "depends_on":
			t.deps = p.dependsOn(e, t.id)
		case "container":
			at := e.keyAt
			t.containerAt = &at
			t.container, t.entrypointAt = p.containerSpec(e)
		default:
			if p.taskFeature(e, t, where) {
				continue
			}
			p.errorf(e.keyAt, didYouMean(e.key, taskKeys, "the keys of a task are "+strings.Join(taskKeys, ", ")),
				"unknown key %s in %s", quoteShort(e.key), where)
		}
	}
	switch {
	case t.containerAt != nil:
		p.checkContainerTask(t, where)
	case len(t.kinds) == 0:
		p.errorf(t.at, "add run: (a shell script), command: (an argv list), noop: true, http:, wait_for:, pipeline: or container:",
			"%s has nothing to run", where)
	case len(t.kinds) == 1:
	default:
		names := make([]string, len(t.kinds))
		for i, k := range t.kinds {
			names[i] = k.key
		}
		what := "both " + names[0] + " and " + names[1]
		if len(names) > 2 {
			what = strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1]
		}
		p.errorf(t.kinds[len(t.kinds)-1].keyAt,
			"keep only one: run: for a shell script, command: for an argv list, noop: true, http:, wait_for: or pipeline:",
			"%s sets %s", where, what)
	}
	if t.settings().interpAt != nil && len(t.kinds) == 1 && t.kinds[0].key != "run" && t.containerAt == nil {
		p.errorf(*t.set.interpAt, "interpreter: runs a run: script; a command: names its program itself", "%s sets interpreter: without run:", where)
	}
	if t.params != nil && t.pipeline == "" && t.valid {
		p.errorf(t.at, "params: passes params to the pipeline a pipeline: task runs; remove it", "%s sets params: without pipeline:", where)
	}
	if t.maxParAt != nil && t.forEach == nil {
		p.errorf(*t.maxParAt, "max_parallel: limits the items of a for_each: task; remove it", "%s sets max_parallel: without for_each:", where)
	}
	return t
}

// command reads the argv of a task: a non-empty list whose items are text.
func (p *parser) command(e entry) []string {
	const hint = "use a list, e.g. [python3, -m, etl] or write it as run:"
	if isScalar(e.val) && !isNull(e.val) {
		p.errorf(e.valAt, hint, "command: want a list of arguments, got %s", describe(e.val))
		return nil
	}
	items, ok := p.list(e, "command", hint)
	if !ok {
		return nil
	}
	if len(items) == 0 {
		p.errorf(e.valAt, "list the program and its arguments, e.g. [python3, -m, etl]", "command is empty")
		return nil
	}
	argv := make([]string, 0, len(items))
	for _, it := range items {
		if s, ok := p.text(it, "command"); ok {
			p.noTemplate(it, "command", s)
			p.jinjaWarning(it.valAt, "command", s, false)
			argv = append(argv, s)
		}
	}
	return argv
}

// noTemplate refuses ${{ … }} in a script or argv: a value spliced into
// code could run as code (GitHub Actions' script injection), so scripts
// read values from the environment instead.
func (p *parser) noTemplate(e entry, label, s string) {
	if !strings.Contains(s, "${{") {
		return
	}
	p.errorf(e.valAt, `scripts are not templated, so a value cannot inject code: read $SLUICE_OUTPUT_<TASK>_<KEY> or $SLUICE_PARAM_<NAME>, or set env: { NAME: "${{ … }}" } and use $NAME`,
		"%s: ${{ … }} is not expanded here", label)
}

// dependsOn reads depends_on: one task id, or a list of them.
func (p *parser) dependsOn(e entry, self string) []depRef {
	var items []entry
	switch kindOf(e.val) {
	case kindNone:
		return nil
	case kindString:
		items = []entry{e}
	case kindList:
		items, _ = p.list(e, "depends_on", "")
	default:
		p.wrongType(e.valAt, "depends_on", "a task id or a list of task ids", e.val, "")
		return nil
	}
	var deps []depRef
	seen := map[string]bool{}
	for _, it := range items {
		id, ok := p.str(it, "depends_on")
		if !ok {
			continue
		}
		if seen[id] {
			p.errorf(it.valAt, "remove the repeated entry", "task %s depends on %s twice", quoteShort(self), quoteShort(id))
			continue
		}
		seen[id] = true
		deps = append(deps, depRef{id: id, at: it.valAt})
	}
	return deps
}

// setting reads one of the settingKeys into s, and returns false for any
// other key.
func (p *parser) setting(e entry, s *settings) bool {
	switch e.key {
	case "description":
		if v, ok := p.str(e, e.key); ok {
			s.description = &v
		}
	case "env":
		p.secretsOK = true
		s.env, s.envAt = p.env(e), e.keyAt
		p.secretsOK = false
	case "workdir":
		if v, ok := p.str(e, e.key); ok {
			s.workdir = &v
		}
	case "retries":
		if v, ok := p.integer(e, e.key); ok {
			if v < 0 {
				p.errorf(e.valAt, "use 0 for no retries", "retries: must be 0 or more, got %d", v)
			} else {
				s.retries = &v
			}
		}
	case "priority":
		if v, ok := p.integer(e, e.key); ok {
			s.priority = &v
		}
	case "retry_delay":
		if v, ok := p.duration(e, e.key); ok {
			s.retryDelay = &v
		}
	case "max_retry_delay":
		if v, ok := p.duration(e, e.key); ok {
			s.maxRetryDelay = &v
		}
	case "timeout":
		if v, ok := p.duration(e, e.key); ok {
			if v == 0 {
				p.errorf(e.valAt, "leave timeout: out for no timeout", "timeout: must be more than 0")
			} else {
				s.timeout = &v
			}
		}
	case "retry_backoff":
		if v, ok := p.str(e, e.key); ok {
			switch b := Backoff(v); b {
			case BackoffFixed, BackoffExponential:
				s.retryBackoff = &b
			default:
				p.errorf(e.valAt, didYouMean(v, []string{"fixed", "exponential"}, "use fixed or exponential"),
					"retry_backoff: %s is not a backoff", quoteShort(v))
			}
		}
	default:
		return p.settingFeature(e, s)
	}
	return true
}

// env reads a map of environment variables. Numbers and booleans become
// their text.
func (p *parser) env(e entry) map[string]string {
	ents, _ := p.entries(e, "env", func(key string, first pos) (string, string) {
		return fmt.Sprintf("duplicate env variable %q (first defined at line %d)", key, first.line), "remove one of them"
	})
	env := map[string]string{}
	for _, e := range ents {
		label := fmt.Sprintf("env %s", quoteShort(e.key))
		switch {
		case !envName.MatchString(e.key):
			p.errorf(e.keyAt, "use letters, digits and _, not starting with a digit", "env name %s is not valid", quoteShort(e.key))
		case strings.HasPrefix(e.key, "SLUICE_"):
			p.errorf(e.keyAt, "pick a name without the SLUICE_ prefix", "env name %s is reserved: sluice sets the SLUICE_ variables itself", quoteShort(e.key))
		default:
			if v, ok := p.text(e, label); ok {
				env[e.key] = v
				p.template(e.valAt, label, v)
				p.jinjaWarning(e.valAt, label, v, true)
			}
		}
	}
	return env
}

// buildTasks merges defaults into every task and returns them by id. It
// takes f.tasks: each task as written is let go once built, so a big
// file does not hold both forms of every task at once.
func (p *parser) buildTasks(f *file) map[string]*Task {
	tasks := make(map[string]*Task, len(f.tasks))
	for i, rt := range f.tasks {
		f.tasks[i] = nil
		t := &Task{
			ID:            rt.id,
			RetryDelay:    defaultRetryDelay,
			RetryBackoff:  defaultRetryBackoff,
			MaxRetryDelay: defaultMaxRetryDelay,
		}
		if len(rt.kinds) == 1 && rt.container == nil {
			switch rt.kinds[0].key {
			case "run":
				t.Kind, t.Run = KindShell, rt.run
			case "command":
				t.Kind, t.Command = KindCommand, rt.command
			case "noop":
				t.Kind = KindNoop
			case "http":
				t.Kind, t.HTTP = KindHTTP, rt.http
			case "wait_for":
				t.Kind, t.WaitFor = KindSensor, rt.waitFor
			case "pipeline":
				t.Kind, t.Pipeline, t.Params = KindPipeline, rt.pipeline, rt.params
			}
		}
		t.When, t.ForEach, t.MaxParallel, t.Produces, t.AllowFailure = rt.when, rt.forEach, rt.maxParallel, rt.produces, rt.allowFail
		t.Group = rt.group
		t.TriggerRule, t.PoolSlots, t.QueuedTimeout = string(sluice.AllSuccess), 1, defaultQueuedTimeout
		for _, d := range rt.deps {
			t.DependsOn = append(t.DependsOn, d.id)
		}
		sort.Strings(t.DependsOn)
		env := map[string]string{}
		for _, s := range []*settings{&f.defaults, rt.settings()} {
			s.apply(t)
			for k, v := range s.env {
				env[k] = v
			}
		}
		if len(env) > 0 {
			t.Env = env
		}
		if rt.container != nil {
			containerTask(t, rt)
		}
		tasks[t.ID] = t
	}
	f.tasks = nil
	return tasks
}

// apply copies the settings that s sets into t. Env is merged by the caller.
func (s *settings) apply(t *Task) {
	if s.description != nil {
		t.Description = *s.description
	}
	if s.workdir != nil {
		t.Workdir = *s.workdir
	}
	if s.retries != nil {
		t.Retries = *s.retries
	}
	if s.retryDelay != nil {
		t.RetryDelay = *s.retryDelay
	}
	if s.retryBackoff != nil {
		t.RetryBackoff = *s.retryBackoff
	}
	if s.maxRetryDelay != nil {
		t.MaxRetryDelay = *s.maxRetryDelay
	}
	if s.timeout != nil {
		t.Timeout = *s.timeout
	}
	if s.priority != nil {
		t.Priority = *s.priority
	}
	if s.triggerRule != nil {
		t.TriggerRule = *s.triggerRule
	}
	if s.pool != nil {
		t.Pool = *s.pool
	}
	if s.poolSlots != nil {
		t.PoolSlots = *s.poolSlots
	}
	if s.requires != nil {
		t.Requires = s.requires
	}
	if s.secrets != nil {
		t.Secrets = s.secrets
	}
	if s.onSuccess != nil {
		t.OnSuccess = s.onSuccess
	}
	if s.onFailure != nil {
		t.OnFailure = s.onFailure
	}
	if s.onRetry != nil {
		t.OnRetry = s.onRetry
	}
	if s.interpreter != nil {
		t.Interpreter = s.interpreter
	}
	if s.queuedTimeout != nil {
		t.QueuedTimeout = *s.queuedTimeout
	}
}
