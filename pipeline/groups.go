package pipeline

import (
	"fmt"
	"sort"
)

// Group is a named set of tasks, as Airflow's TaskGroup: the UI shows
// its tasks collapsible under one node and row with their aggregate
// state, and its tasks can be cleared together. It is display and bulk
// actions only: a group does not change when or how its tasks run.
type Group struct {
	// Description says what the group's tasks do together; shown as the
	// group's tooltip. Empty by default.
	Description string `json:"description,omitempty"`
}

// groupDecl is one entry of the groups: block.
type groupDecl struct {
	at   pos
	desc string
}

// groupsBlock reads the optional groups: map, which names the groups and
// describes them: groups: {extract: {description: …}}.
func (p *parser) groupsBlock(f *file, e entry) {
	at := e.keyAt
	f.groupsAt = &at
	f.groups = map[string]groupDecl{}
	if isNull(e.val) {
		return
	}
	ents, _ := p.entries(e, "groups", func(key string, first pos) (string, string) {
		return fmt.Sprintf("duplicate group %q (first defined at line %d)", key, first.line), "remove one of them"
	})
	for _, g := range ents {
		if !idPattern.MatchString(g.key) {
			p.errorf(g.keyAt, idHint, "group name %s is not valid", quoteShort(g.key))
			continue
		}
		d := groupDecl{at: g.keyAt}
		where := fmt.Sprintf("group %s", quoteShort(g.key))
		if !isNull(g.val) {
			keys, _ := p.entries(g, where, func(key string, first pos) (string, string) {
				return fmt.Sprintf("duplicate key %q in %s (first defined at line %d)", key, where, first.line), "remove one of them"
			})
			for _, k := range keys {
				switch k.key {
				case "description":
					d.desc, _ = p.str(k, "description")
				default:
					p.errorf(k.keyAt, didYouMean(k.key, []string{"description"}, "a group has only description:"),
						"unknown key %s in %s", quoteShort(k.key), where)
				}
			}
		}
		f.groups[g.key] = d
	}
}

// taskGroup reads a task's group: the name of one group.
func (p *parser) taskGroup(e entry, t *rawTask) {
	s, ok := p.str(e, "group")
	if !ok {
		return
	}
	if !idPattern.MatchString(s) {
		p.errorf(e.valAt, idHint, "group: %s is not a valid group name", quoteShort(s))
		return
	}
	t.group, t.groupAt = s, e.valAt
}

// checkGroups builds Pipeline.Groups from the groups the tasks name, and
// checks them against the groups: block: when there is one, every group
// a task names must be in it (a typo would otherwise make a new group),
// and a declared group no task names is a warning. A group may not share
// a name with a task, so a name on the graph or in sluice runs clear
// --group means one thing.
func (p *parser) checkGroups(f *file) {
	used := map[string]bool{}
	taskIDs := map[string]bool{}
	for _, t := range f.tasks {
		taskIDs[t.id] = true
	}
	declared := sortedKeys(f.groups)
	for _, t := range f.tasks {
		if t.group == "" {
			continue
		}
		switch {
		case taskIDs[t.group]:
			p.errorf(t.groupAt, "rename the group or the task", "group %s has the name of a task", quoteShort(t.group))
			continue
		case f.groupsAt != nil && !declaredGroup(f, t.group):
			p.errorf(t.groupAt, didYouMean(t.group, declared, "add it to groups: at line "+fmt.Sprint(f.groupsAt.line)+", or remove the groups: block"),
				"task %s is in group %s, which groups: does not list", quoteShort(t.id), quoteShort(t.group))
			continue
		}
		used[t.group] = true
	}
	for _, name := range declared {
		if !used[name] {
			p.warnf(f.groups[name].at, "set group: "+name+" on its tasks, or remove it from groups:", "group %s has no tasks", quoteShort(name))
		}
	}
	if len(used) == 0 {
		return
	}
	f.pl.Groups = map[string]*Group{}
	for name := range used {
		f.pl.Groups[name] = &Group{Description: f.groups[name].desc}
	}
}

func declaredGroup(f *file, name string) bool {
	_, ok := f.groups[name]
	return ok
}

// GroupNames returns the names of p's groups, sorted.
func (p *Pipeline) GroupNames() []string { return sortedKeys(p.Groups) }

// GroupTasks returns the ids of the tasks in group name, sorted; none
// when there is no such group.
func (p *Pipeline) GroupTasks(name string) []string {
	var ids []string
	for id, t := range p.Tasks {
		if t.Group == name && name != "" {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	return ids
}
