package pipeline

import (
	"fmt"
	"regexp"
)

// Assets are names of data (warehouse.orders, s3://bucket/orders): a task
// that lists an asset under produces: records an event of it each time it
// succeeds, and a pipeline whose schedule: is {assets: [a, b]} runs when
// every asset it lists has had an event since its last run on assets.

// assetName is what an asset name looks like: URI-like text.
var assetName = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.:/@+=-]{0,127}$`)

const assetHint = "an asset is up to 128 letters, digits and _ . : / @ + = -, such as warehouse.orders or s3://bucket/orders"

// MaxScheduleAssets is the most assets a schedule may wait for.
const MaxScheduleAssets = 32

var assetScheduleKeys = []string{"assets"}

// assetSchedule reads schedule: {assets: [a, b]}.
func (p *parser) assetSchedule(e entry) []string {
	ents, _ := p.entries(e, "schedule", func(key string, first pos) (string, string) {
		return fmt.Sprintf("duplicate key %q in schedule (first defined at line %d)", key, first.line), "remove one of them"
	})
	var out []string
	for _, it := range ents {
		switch it.key {
		case "assets":
			out = p.names(it, "schedule: assets", assetName, assetHint)
			if len(out) == 0 && kindOf(it.val) == kindList && len(it.val.Content) == 0 {
				p.errorf(it.valAt, "list the assets the pipeline waits for, or remove the schedule", "schedule: assets is empty")
			}
			if len(out) > MaxScheduleAssets {
				p.errorf(it.valAt, "split the pipeline", "schedule: assets lists %d assets; at most %d are allowed", len(out), MaxScheduleAssets)
				out = out[:MaxScheduleAssets]
			}
		default:
			p.errorf(it.keyAt, didYouMean(it.key, assetScheduleKeys, `a schedule is cron text, such as "0 3 * * *", or {assets: [name, …]}`),
				"unknown key %s in schedule", quoteShort(it.key))
		}
	}
	if len(ents) == 0 {
		p.errorf(e.valAt, "write schedule: {assets: [warehouse.orders]}", "schedule: a map needs assets:")
	}
	return out
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
