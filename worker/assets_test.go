package worker_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/sluice-dev/sluice"
	"github.com/sluice-dev/sluice/secret"
	"github.com/sluice-dev/sluice/store"
	"github.com/sluice-dev/sluice/worker"
)

// TestAssetTriggerEvents runs a producer whose task writes extras
// (asset.rows, and asset.token holding a secret) and checks what its
// consumer's task sees: ${{ trigger.events }} in expressions and
// $SLUICE_TRIGGER_EVENTS in its environment, with the secret masked;
// and that a run not started by assets sees an empty list.
func TestAssetTriggerEvents(t *testing.T) {
	t.Parallel()
	b := setup(t)
	box, err := secret.NewBox(make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	if err := b.st.SecretSet(b.ctx, "TOKEN", box.Seal("TOKEN", []byte("tok-s3cret-value"))); err != nil {
		t.Fatal(err)
	}
	b.savePipe("consumer.yaml", `id: consumer
schedule: {assets: [warehouse.orders]}
tasks:
  read:
    env:
      COUNT: ${{ len(trigger.events) }}
      ROWS: ${{ trigger.events[0].extra.rows }}
      FROM: ${{ trigger.events[0].pipeline }}/${{ trigger.events[0].task }}
    run: |
      echo "count=$COUNT" >> "$SLUICE_OUTPUT"
      echo "rows=$ROWS" >> "$SLUICE_OUTPUT"
      echo "from=$FROM" >> "$SLUICE_OUTPUT"
      echo "json=$SLUICE_TRIGGER_EVENTS" >> "$SLUICE_OUTPUT"
`)
	producer := b.trigger(`id: producer
tasks:
  load:
    secrets: [TOKEN]
    produces: [warehouse.orders]
    run: |
      echo "asset.rows=42" >> "$SLUICE_OUTPUT"
      echo "asset.token=$TOKEN" >> "$SLUICE_OUTPUT"
      echo "events=$SLUICE_TRIGGER_EVENTS" >> "$SLUICE_OUTPUT"
`)
	b.start(worker.Config{Secrets: box})
	if s := b.waitRun(producer.ID); s != sluice.RunSuccess {
		t.Fatalf("producer run %s: %s", s, b.describeInstances(producer.ID))
	}
	var consumer *store.Run
	b.waitFor("the consumer's run", func() bool {
		runs, err := b.st.RunList(b.ctx, &store.RunListParams{PipelineID: "consumer"})
		if err != nil || len(runs) == 0 {
			return false
		}
		consumer = runs[0]
		return true
	})
	if s := b.waitRun(consumer.ID); s != sluice.RunSuccess {
		t.Fatalf("consumer run %s: %s", s, b.describeInstances(consumer.ID))
	}
	outs, err := b.st.OutputList(b.ctx, consumer.ID, []string{"read"})
	if err != nil {
		t.Fatal(err)
	}
	got := outs["read"]
	if got["count"] != "1" || got["rows"] != "42" || got["from"] != "producer/load" {
		t.Fatalf("consumer outputs = %v, want count=1 rows=42 from=producer/load", got)
	}
	var events []store.AssetEvent
	if err := json.Unmarshal([]byte(got["json"]), &events); err != nil || len(events) != 1 {
		t.Fatalf("$SLUICE_TRIGGER_EVENTS = %q (%v), want a list of one event", got["json"], err)
	}
	e := events[0]
	if e.Asset != "warehouse.orders" || e.RunID == nil || *e.RunID != producer.ID || strings.Contains(string(e.Extra), "s3cret") ||
		!strings.Contains(string(e.Extra), `"token":"`+secret.Masked+`"`) || !strings.Contains(string(e.Extra), `"rows":"42"`) {
		t.Fatalf("event = %+v, extra %s; want the producer's, rows 42 and the token masked", e, e.Extra)
	}
	prodOuts, err := b.st.OutputList(b.ctx, producer.ID, []string{"load"})
	if err != nil {
		t.Fatal(err)
	}
	if ev := prodOuts["load"]["events"]; ev != "[]" {
		t.Fatalf("a manual run's $SLUICE_TRIGGER_EVENTS = %q, want []", ev)
	}
}
