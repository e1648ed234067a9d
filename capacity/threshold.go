package capacity

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/sluice-dev/sluice"
	"github.com/sluice-dev/sluice/store"
)

// Threshold is a limit of a volume: the daily mean of a metric a task
// reports, such as daily_orders.load.rows=5000000.
type Threshold struct {
	// Key is pipeline.task.metric.
	Key   string
	Value float64
	// Raw is the value as written, for messages.
	Raw string
}

// ParseThreshold reads "pipeline.task.metric=value". The value is a
// number, optionally with a k, M, G or T suffix (thousands to
// trillions): 5000000, 5e6 and 5M are the same. Pipeline ids may contain
// dots, so the key is matched whole against the metrics reported, not
// split.
func ParseThreshold(s string) (Threshold, error) {
	i := strings.LastIndex(s, "=")
	if i < 0 {
		return Threshold{}, sluice.Errorf(sluice.EINVALID, "threshold %q: want pipeline.task.metric=value, such as daily_orders.load.rows=5M", s)
	}
	key, raw := strings.TrimSpace(s[:i]), strings.TrimSpace(s[i+1:])
	if strings.Count(key, ".") < 2 {
		return Threshold{}, sluice.Errorf(sluice.EINVALID, "threshold %q: name the metric as pipeline.task.metric, such as daily_orders.load.rows", s)
	}
	v, ok := parseAmount(raw)
	if !ok {
		return Threshold{}, sluice.Errorf(sluice.EINVALID, "threshold %q: %q is not a number (write 5000000, 5e6 or 5M)", s, raw)
	}
	return Threshold{Key: key, Value: v, Raw: raw}, nil
}

func parseAmount(s string) (float64, bool) {
	mult := 1.0
	if n := len(s); n > 1 {
		switch s[n-1] {
		case 'k', 'K':
			mult = 1e3
		case 'M':
			mult = 1e6
		case 'G':
			mult = 1e9
		case 'T':
			mult = 1e12
		}
		if mult != 1 {
			s = s[:n-1]
		}
	}
	v, ok := store.MetricValue(s)
	return v * mult, ok
}

// unknownMetric is the error of a threshold whose metric was not
// reported in the window.
func unknownMetric(t Threshold, keys []string, days int) error {
	slices.Sort(keys)
	msg := fmt.Sprintf("threshold %s=%s: no task reported the metric %s in the last %s", t.Key, t.Raw, t.Key, plural(days, "day"))
	if len(keys) == 0 {
		msg += "; no metrics were reported. A task reports one by writing metric.<name>=<number> to $SLUICE_OUTPUT"
	} else {
		if len(keys) > 20 {
			keys = append(keys[:20], "…")
		}
		msg += "; metrics reported: " + strings.Join(keys, ", ")
	}
	return sluice.Errorf(sluice.EINVALID, "%s", msg)
}

// FormatThreshold writes a threshold back as pipeline.task.metric=value.
func FormatThreshold(t Threshold) string {
	raw := t.Raw
	if raw == "" {
		raw = strconv.FormatFloat(t.Value, 'g', -1, 64)
	}
	return t.Key + "=" + raw
}
