// Package scheduler makes runs happen: it creates the runs a pipeline's
// schedule makes due, starts queued runs when max_active_runs allows, and
// takes back the leases of attempts whose worker stopped heartbeating.
// It also watches the folders of files triggers and starts a run for each
// file that arrives (files.go).
//
// Decisions (which runs are due, how cron behaves when clocks change) are
// pure functions, tested without a database. The loop around them keeps no
// state of its own: any number of schedulers may run against one database,
// because every step is idempotent (runs are unique per pipeline and key)
// or guarded by row locks in the store.
package scheduler
