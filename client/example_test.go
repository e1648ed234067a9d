package client_test

import (
	"context"
	"fmt"
	"os"

	"github.com/sluice-dev/sluice"
	"github.com/sluice-dev/sluice/api"
	"github.com/sluice-dev/sluice/client"
)

// Trigger a run with params, follow one task's log, and report how the run
// ended.
func Example() {
	ctx := context.Background()
	c := client.New("http://127.0.0.1:8080", os.Getenv("SLUICE_TOKEN"))
	run, err := c.Trigger(ctx, "daily_orders", map[string]any{"region": "us"})
	if sluice.ErrorCode(err) == sluice.EINVALID {
		fmt.Println("bad params:", err) // the server's message names each param
		return
	}
	if err != nil {
		fmt.Println(err)
		return
	}
	end, err := c.FollowLogs(ctx, run.ID, "extract", 0, func(l api.LogLine) {
		fmt.Println(l.Time.Format("15:04:05"), l.Line)
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("extract:", end.State)
}
