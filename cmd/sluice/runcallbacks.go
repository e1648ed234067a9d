package main

import (
	"io"

	"github.com/sluice-dev/sluice/api"
)

// showCallbacks lists a run's callbacks; the API does not send them yet.
func showCallbacks(out io.Writer, d *api.RunDetail) {}
