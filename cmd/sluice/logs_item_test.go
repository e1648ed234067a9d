package main_test

import (
	"fmt"
	"strings"
	"testing"
)

// TestCLILogsOfAnItem reads and follows the log of one item of a mapped
// task.
func TestCLILogsOfAnItem(t *testing.T) {
	t.Parallel()
	s := startCLIServer(t, map[string]string{"mapped.yaml": `id: mapped
tasks:
  each:
    for_each: [alpha, beta]
    run: echo "item $SLUICE_ITEM_INDEX is $SLUICE_ITEM"
`})
	run := fmt.Sprint(runID(t, s.cli(t, "pipelines", "trigger", "mapped", "--wait").want(t, 0)))
	r := s.cli(t, "logs", run, "each", "--item", "1").want(t, 0, "| item 1 is beta")
	if strings.Contains(r.stdout, "alpha") {
		t.Fatalf("item 1's log shows item 0:\n%s", r.stdout)
	}
	s.cli(t, "logs", run, "each", "--item", "0", "-f").want(t, 0, "| item 0 is alpha", "attempt 1 ended: success")
	s.cli(t, "logs", run, "each", "--item", "5").want(t, 1, "no item 5")
	s.cli(t, "logs", run, "each", "--item", "-2").want(t, 2, "--item")
	// Inside a mapped task, SLUICE_ITEM is its run context, not the flag:
	// without --item, the task's own log.
	inTask := *s
	inTask.env = append(append([]string{}, s.env...), "SLUICE_ITEM=7")
	inTask.cli(t, "logs", run, "each").want(t, 0)
}
