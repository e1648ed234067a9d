package pipeline

import (
	"fmt"
	"regexp"
	"slices"

	"github.com/sluice-dev/sluice"
)

// Assets are names of data (warehouse.orders, s3://bucket/orders): a task
// that lists an asset under produces: records an event of it each time it
// succeeds, and a pipeline whose schedule: is {assets: [a, b]} runs when
// every asset it lists has had an event since its last run on assets.
// any: and all: nest for OR and AND:
//
//	schedule: {assets: {any: [a, {all: [b, c]}]}}
//
// and cron: beside assets: runs the pipeline on both, "daily, or when b
// changes": cron runs stay cron runs (logical dates, catch-up), asset runs
// are asset runs, and neither consumes for the other.

// assetName is what an asset name looks like: URI-like text.
var assetName = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.:/@+=-]{0,127}$`)

const assetHint = "an asset is up to 128 letters, digits and _ . : / @ + = -, such as warehouse.orders or s3://bucket/orders"

// MaxScheduleAssets is the most assets a schedule may wait for.
const MaxScheduleAssets = 32

// maxAssetDepth bounds the nesting of any: and all:; a deeper condition
// is no longer something a reader can check by eye.
const maxAssetDepth = 4

var (
	assetScheduleKeys  = []string{"assets", "cron"}
	assetConditionKeys = []string{"all", "any"}
)

const conditionHint = "write a list of assets (all of them), or {any: [a, b]} / {all: [a, b]}, whose items are assets or more any:/all:"

// assetSchedule reads a schedule written as a map: {assets: …} with an
// optional cron: beside it. It sets the pipeline's Schedule, Assets and
// AssetCondition (nil for a plain list: all of Assets).
func (p *parser) assetSchedule(pl *Pipeline, e entry) {
	ents, _ := p.entries(e, "schedule", func(key string, first pos) (string, string) {
		return fmt.Sprintf("duplicate key %q in schedule (first defined at line %d)", key, first.line), "remove one of them"
	})
	for _, it := range ents {
		switch it.key {
		case "assets":
			cond := p.assetCondition(it, "schedule: assets", 1)
			if cond == nil {
				continue
			}
			names := cond.Names()
			if len(names) > MaxScheduleAssets {
				p.errorf(it.valAt, "split the pipeline", "schedule: assets lists %d assets; at most %d are allowed", len(names), MaxScheduleAssets)
				continue
			}
			pl.Assets = names
			if kindOf(it.val) == kindMap || slices.ContainsFunc(cond.All, func(c *sluice.AssetCondition) bool { return c.Asset == "" }) {
				pl.AssetCondition = cond
			}
		case "cron":
			if s, ok := p.str(it, "schedule: cron"); ok {
				pl.Schedule = p.schedule(it, s)
			}
		default:
			p.errorf(it.keyAt, didYouMean(it.key, assetScheduleKeys, `a schedule is cron text, such as "0 3 * * *", or {assets: [name, …]}, with cron: beside assets: for both`),
				"unknown key %s in schedule", quoteShort(it.key))
		}
	}
	if len(ents) == 0 {
		p.errorf(e.valAt, "write schedule: {assets: [warehouse.orders]}", "schedule: a map needs assets:")
	}
}

// assetCondition reads a list of assets (all of them) or a map with one
// key, any: or all:, whose items are assets or conditions in turn. It
// returns nil after reporting an error.
func (p *parser) assetCondition(e entry, label string, depth int) *sluice.AssetCondition {
	if depth > maxAssetDepth {
		p.errorf(e.valAt, "flatten the condition", "schedule: assets: any: and all: nest at most %d deep", maxAssetDepth)
		return nil
	}
	switch kindOf(e.val) {
	case kindList:
		items, _ := p.list(e, label, conditionHint)
		if len(items) == 0 {
			p.errorf(e.valAt, "list the assets the pipeline waits for, or remove the schedule", "%s is empty", label)
			return nil
		}
		out := &sluice.AssetCondition{All: []*sluice.AssetCondition{}}
		seen := map[string]bool{}
		for _, it := range items {
			var c *sluice.AssetCondition
			if kindOf(it.val) == kindMap {
				c = p.assetCondition(it, label, depth+1)
			} else if s, ok := p.str(it, label); ok {
				if !assetName.MatchString(s) {
					p.errorf(it.valAt, assetHint, "%s: %s is not a valid name", label, quoteShort(s))
					continue
				}
				if seen[s] {
					continue
				}
				seen[s] = true
				c = &sluice.AssetCondition{Asset: s}
			}
			if c != nil {
				out.All = append(out.All, c)
			}
		}
		if len(out.All) == 0 {
			return nil
		}
		return out
	case kindMap:
		ents, _ := p.entries(e, label, func(key string, first pos) (string, string) {
			return fmt.Sprintf("duplicate key %q in %s (first defined at line %d)", key, label, first.line), "remove one of them"
		})
		if len(ents) != 1 {
			if len(ents) > 1 {
				p.errorf(ents[1].keyAt, "nest them: {any: [a, {all: [b, c]}]}", "%s: write one of any: or all:, not both", label)
			} else {
				p.errorf(e.valAt, conditionHint, "%s: the map is empty", label)
			}
			return nil
		}
		it := ents[0]
		if !slices.Contains(assetConditionKeys, it.key) {
			p.errorf(it.keyAt, didYouMean(it.key, assetConditionKeys, conditionHint), "unknown key %s in %s", quoteShort(it.key), label)
			return nil
		}
		if kindOf(it.val) != kindList {
			p.wrongType(it.valAt, label+": "+it.key, "a list", it.val, conditionHint)
			return nil
		}
		inner := p.assetCondition(it, label+": "+it.key, depth)
		if inner == nil {
			return nil
		}
		if it.key == "any" {
			return &sluice.AssetCondition{Any: inner.All}
		}
		return inner
	}
	p.wrongType(e.valAt, label, "a list of assets or a map with any: or all:", e.val, conditionHint)
	return nil
}

// checkProduces refuses produces: on a mapped task: its items succeed
// one by one, and which of them would make the event is not settled.
func (p *parser) checkProduces(f *file) {
	for _, t := range f.tasks {
		if t.producesAt != nil && t.forEach != nil {
			p.errorf(*t.producesAt, "produce the asset from a task downstream of the mapped one", "task %s: produces: cannot be used with for_each:", quoteShort(t.id))
		}
	}
}

// ValidAssetName reports whether s is a valid asset name.
func ValidAssetName(s string) bool { return assetName.MatchString(s) }
