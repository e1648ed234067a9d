package control_test

import (
	"testing"
	"time"

	"github.com/sluice-dev/sluice"
	"github.com/sluice-dev/sluice/control"
)

func TestBackfillBounds(t *testing.T) {
	t.Parallel()
	warsaw, err := time.LoadLocation("Europe/Warsaw")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		from, to         string
		wantFrom, wantTo string
		wantErr          map[string]string
	}{
		// A date is a whole day in the pipeline's zone: from its start to
		// the last moment before the next midnight, 25 hours later on the
		// night the clocks go back.
		{from: "2026-10-25", to: "2026-10-25", wantFrom: "2026-10-24T22:00:00Z", wantTo: "2026-10-25T22:59:59.999999999Z"},
		{from: "2026-01-01T06:00", to: "2026-01-02 06:30:15", wantFrom: "2026-01-01T05:00:00Z", wantTo: "2026-01-02T05:30:15Z"},
		{from: "2026-01-01T06:00:00+02:00", to: " 2026-01-01T04:00:00Z ", wantFrom: "2026-01-01T04:00:00Z", wantTo: "2026-01-01T04:00:00Z"},
		{from: "", to: "tomorrow", wantErr: map[string]string{"from": "is missing", "to": `"tomorrow" is not a date`}},
		{from: "2026-01-02", to: "2026-01-01", wantErr: map[string]string{"to": "is before from"}},
	}
	for _, tt := range tests {
		from, to, err := control.BackfillBounds(warsaw, tt.from, tt.to)
		if tt.wantErr != nil {
			se, ok := err.(*sluice.Error)
			if !ok || se.Code != sluice.EINVALID {
				t.Errorf("%q..%q: error %v, want EINVALID", tt.from, tt.to, err)
				continue
			}
			details, _ := se.Details.(map[string]string)
			for field, want := range tt.wantErr {
				if got := details[field]; len(got) < len(want) || got[:len(want)] != want {
					t.Errorf("%q..%q: %s problem %q, want %q…", tt.from, tt.to, field, got, want)
				}
			}
			continue
		}
		if err != nil {
			t.Errorf("%q..%q: %v", tt.from, tt.to, err)
			continue
		}
		if got := from.UTC().Format(time.RFC3339Nano); got != tt.wantFrom {
			t.Errorf("%q: from %s, want %s", tt.from, got, tt.wantFrom)
		}
		if got := to.UTC().Format(time.RFC3339Nano); got != tt.wantTo {
			t.Errorf("%q: to %s, want %s", tt.to, got, tt.wantTo)
		}
	}
}
