// Package pipeline reads pipeline files: it parses the YAML, checks
// everything it can, and returns the pipeline in a normalized form whose
// hash addresses a pipeline version.
//
// A pipeline file is a YAML map:
//
//	id: daily_orders                 # required; letters, digits, _ . -
//	description: Load orders         # optional
//	schedule: "0 3 * * *"            # 5-field cron or @hourly, @daily, @every 10m, …; absent = manual only
//	timezone: Europe/Warsaw          # IANA name; default UTC
//	start: 2026-01-01                # date (midnight in timezone), local time or RFC 3339
//	end: 2026-12-31                  # optional; after start
//	catchup: false                   # one run per missed interval when true; default false
//	max_active_runs: 1               # default 16
//	params:                          # typed inputs of a run
//	  region: {type: enum, values: [eu, us], default: eu}
//	  count:  {type: int, required: true}
//	defaults:                        # settings every task gets unless it sets them
//	  retries: 3
//	  timeout: 1h
//	tasks:                           # required; keyed by task id
//	  extract:
//	    run: ./extract.sh            # a shell script, or
//	  transform:
//	    command: [python3, -m, etl]  # an argv list, or
//	    depends_on: extract          # one id or a list of ids
//	  done:
//	    noop: true                   # nothing at all
//	    depends_on: [transform]
//
// A task sets exactly one of run, command and noop: true, and any of
// description, env, workdir, retries (default 0), retry_delay (30s),
// retry_backoff (fixed or exponential; default fixed), max_retry_delay
// (1h), timeout (none) and priority (0). Durations are written with units:
// "30s", "1h30m", "2d". defaults: takes the same settings (not run, command,
// noop or depends_on); env is merged key by key.
//
// Parse reports every problem of a file at once, each positioned at the key
// or value at fault and worded for someone who has never seen sluice:
// unknown and duplicate keys (with a "did you mean" hint), values of the
// wrong type, unknown dependencies, dependency cycles, bad cron
// expressions, durations, time zones and dates. The JSON Schema in
// docs/pipeline.schema.json describes the same format for editors.
//
// Normalized is the canonical JSON of a parsed pipeline, with defaults
// merged into every task; Hash is its SHA-256, so files that differ only in
// formatting have the same hash; Decode reads the normalized form back.
package pipeline
