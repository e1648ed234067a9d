// Package metrics defines the Prometheus metrics of a sluice process,
// served at /metrics by every role. Names and labels follow Prometheus
// conventions; labels have bounded cardinality (pipeline, pool, state and
// operation names; never run or attempt ids). docs/operations.md lists them.
//
// Events (runs, attempts, lease expirations) are counted by the process
// that made them happen, so summing over processes counts each once.
// Gauges of the work in the store (ready and blocked instances) are read
// from the database at scrape time and are the same on every process: use
// max() across processes in alerts.
package metrics

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/sluice-dev/sluice"
	"github.com/sluice-dev/sluice/store"
)

// Metrics holds a process's collectors. A nil *Metrics records nothing,
// so code that records works unchanged where no one scrapes.
type Metrics struct {
	reg *prometheus.Registry

	runsStarted     *prometheus.CounterVec
	runsFinished    *prometheus.CounterVec
	attempts        *prometheus.CounterVec
	readyToStarted  *prometheus.HistogramVec
	taskDuration    *prometheus.HistogramVec
	leaseExpiries   prometheus.Counter
	schedulerLoop   prometheus.Histogram
	dbCalls         *prometheus.HistogramVec
	dbErrors        *prometheus.CounterVec
	parseErrors     prometheus.Counter
	versionsLoaded  prometheus.Counter
	httpRequests    *prometheus.CounterVec
	httpDuration    *prometheus.HistogramVec
	retentionPruned *prometheus.CounterVec
}

// latencyBuckets suit hand-offs and database calls, from half a
// millisecond to a minute.
var latencyBuckets = []float64{.0005, .001, .002, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60}

// durationBuckets suit tasks that take seconds to hours.
var durationBuckets = []float64{.01, .1, .5, 1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200, 21600}

// New returns the metrics of a process, registered with the Go runtime's
// and the process's collectors.
func New() *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		runsStarted: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sluice_runs_started_total",
			Help: "Runs started by this process, by pipeline and kind (scheduled, manual, backfill)."}, []string{"pipeline", "kind"}),
		runsFinished: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sluice_runs_finished_total",
			Help: "Runs finished by this process, by pipeline and final state (success, failed, cancelled)."}, []string{"pipeline", "state"}),
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sluice_attempts_total",
			Help: "Task attempts ended on this worker, by pipeline and outcome (success, failed, timed_out, skipped, rescheduled, handed_back, lost)."}, []string{"pipeline", "outcome"}),
		readyToStarted: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "sluice_task_ready_to_started_seconds",
			Help: "Time from a task instance becoming ready to a worker starting its attempt, by pool (\"\" for none).", Buckets: latencyBuckets}, []string{"pool"}),
		taskDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "sluice_task_duration_seconds",
			Help: "Duration of task attempts, by pipeline and outcome.", Buckets: durationBuckets}, []string{"pipeline", "outcome"}),
		leaseExpiries: prometheus.NewCounter(prometheus.CounterOpts{Name: "sluice_lease_expirations_total",
			Help: "Attempts this scheduler requeued because their worker stopped renewing the lease."}),
		schedulerLoop: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "sluice_scheduler_loop_seconds",
			Help: "Duration of one scheduling pass (due runs, queued runs, leases, blocked instances).", Buckets: latencyBuckets}),
		dbCalls: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "sluice_db_call_seconds",
			Help: "Latency of database calls, by operation (the store method of a write transaction, or read).", Buckets: latencyBuckets}, []string{"op"}),
		dbErrors: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sluice_db_errors_total",
			Help: "Database calls that failed, by operation (domain refusals such as a lost lease included)."}, []string{"op"}),
		parseErrors: prometheus.NewCounter(prometheus.CounterOpts{Name: "sluice_pipeline_parse_errors_total",
			Help: "Pipeline files this process failed to parse when it loaded them."}),
		versionsLoaded: prometheus.NewCounter(prometheus.CounterOpts{Name: "sluice_pipeline_versions_loaded_total",
			Help: "Pipeline files this process loaded that changed a pipeline's live version."}),
		httpRequests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sluice_http_requests_total",
			Help: "HTTP requests, by route pattern and status code."}, []string{"route", "code"}),
		httpDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "sluice_http_request_seconds",
			Help: "HTTP request latency, by route pattern (log follows excluded).", Buckets: latencyBuckets}, []string{"route"}),
		retentionPruned: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sluice_retention_pruned_total",
			Help: "Rows deleted by retention on this process, by kind (runs, instances, attempts, logs, outputs)."}, []string{"kind"}),
	}
	m.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.runsStarted, m.runsFinished, m.attempts, m.readyToStarted, m.taskDuration, m.leaseExpiries, m.schedulerLoop,
		m.dbCalls, m.dbErrors, m.parseErrors, m.versionsLoaded, m.httpRequests, m.httpDuration, m.retentionPruned)
	return m
}

// DBCall implements store.Observer.
func (m *Metrics) DBCall(op string, d time.Duration, err error) {
	if m == nil {
		return
	}
	m.dbCalls.WithLabelValues(op).Observe(d.Seconds())
	if err != nil {
		m.dbErrors.WithLabelValues(op).Inc()
	}
}

// RunChanged implements store.Observer.
func (m *Metrics) RunChanged(e store.RunEvent) {
	if m == nil {
		return
	}
	if e.State == sluice.RunRunning {
		m.runsStarted.WithLabelValues(e.PipelineID, string(e.Kind)).Inc()
		return
	}
	m.runsFinished.WithLabelValues(e.PipelineID, string(e.State)).Inc()
}

// AttemptStarted records a worker starting an attempt, ready for wait.
func (m *Metrics) AttemptStarted(pool string, wait time.Duration) {
	if m == nil {
		return
	}
	m.readyToStarted.WithLabelValues(pool).Observe(max(wait, 0).Seconds())
}

// AttemptEnded records an attempt's outcome and how long it ran.
func (m *Metrics) AttemptEnded(pipelineID string, outcome sluice.AttemptState, d time.Duration) {
	if m == nil {
		return
	}
	m.attempts.WithLabelValues(pipelineID, string(outcome)).Inc()
	m.taskDuration.WithLabelValues(pipelineID, string(outcome)).Observe(max(d, 0).Seconds())
}

// LeasesExpired records attempts requeued because their lease expired.
func (m *Metrics) LeasesExpired(n int) {
	if m == nil || n <= 0 {
		return
	}
	m.leaseExpiries.Add(float64(n))
}

// SchedulerPass records one scheduling pass.
func (m *Metrics) SchedulerPass(d time.Duration) {
	if m == nil {
		return
	}
	m.schedulerLoop.Observe(d.Seconds())
}

// PipelineLoaded records loading a pipeline file: a parse error, or a
// new live version.
func (m *Metrics) PipelineLoaded(parseErr bool, changed bool) {
	if m == nil {
		return
	}
	if parseErr {
		m.parseErrors.Inc()
	}
	if changed {
		m.versionsLoaded.Inc()
	}
}

// Pruned records rows retention deleted, by kind.
func (m *Metrics) Pruned(kind string, n int) {
	if m == nil || n <= 0 {
		return
	}
	m.retentionPruned.WithLabelValues(kind).Add(float64(n))
}

// Middleware measures the requests h serves, labelled by route: the
// route pattern routes tells for a request (never the raw path, whose ids
// would make the label unbounded).
func (m *Metrics) Middleware(routes *http.ServeMux, h http.Handler) http.Handler {
	if m == nil {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		_, route := routes.Handler(r)
		h.ServeHTTP(sw, r)
		if route == "" {
			route = "unmatched"
		}
		m.httpRequests.WithLabelValues(route, strconv.Itoa(sw.status)).Inc()
		if !strings.HasPrefix(sw.Header().Get("Content-Type"), "text/event-stream") {
			m.httpDuration.WithLabelValues(route).Observe(time.Since(start).Seconds())
		}
	})
}

// statusWriter remembers a response's status; it passes Flush on, for
// Server-Sent Events.
type statusWriter struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wrote {
		w.status, w.wrote = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	w.wrote = true
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Handler serves the metrics in Prometheus' text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// WatchStore adds gauges read from the store at scrape time.
func (m *Metrics) WatchStore(st store.StatsReader) {
	m.reg.MustRegister(&storeCollector{st: st})
}

// storeCollector reads the store's state when scraped.
type storeCollector struct {
	st store.StatsReader
}

var (
	readyDesc   = prometheus.NewDesc("sluice_task_instances_ready", "Task instances ready and waiting for a worker, by pool (\"\" for none).", []string{"pool"}, nil)
	runningDesc = prometheus.NewDesc("sluice_task_instances_running", "Task instances running, by pool.", []string{"pool"}, nil)
	blockedDesc = prometheus.NewDesc("sluice_task_instances_blocked", "Ready task instances that nothing can start (no worker with their labels, a pool too small, no live worker).", nil, nil)
	activeDesc  = prometheus.NewDesc("sluice_runs_active", "Runs queued or running, by state.", []string{"state"}, nil)
	errorsDesc  = prometheus.NewDesc("sluice_pipelines_with_parse_errors", "Pipelines whose file does not parse (their last good version stays live).", nil, nil)
	slotsDesc   = prometheus.NewDesc("sluice_pool_slots", "Slots of each pool.", []string{"pool"}, nil)
	upDesc      = prometheus.NewDesc("sluice_store_up", "1 when the database answered the scrape's query.", nil, nil)
)

func (c *storeCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{readyDesc, runningDesc, blockedDesc, activeDesc, errorsDesc, slotsDesc, upDesc} {
		ch <- d
	}
}

func (c *storeCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := c.st.StatsGet(ctx)
	if err != nil {
		ch <- prometheus.MustNewConstMetric(upDesc, prometheus.GaugeValue, 0)
		return
	}
	ch <- prometheus.MustNewConstMetric(upDesc, prometheus.GaugeValue, 1)
	for pool, n := range s.Ready {
		ch <- prometheus.MustNewConstMetric(readyDesc, prometheus.GaugeValue, float64(n), pool)
	}
	for pool, n := range s.Running {
		ch <- prometheus.MustNewConstMetric(runningDesc, prometheus.GaugeValue, float64(n), pool)
	}
	for state, n := range s.ActiveRuns {
		ch <- prometheus.MustNewConstMetric(activeDesc, prometheus.GaugeValue, float64(n), state)
	}
	for pool, n := range s.PoolSlots {
		ch <- prometheus.MustNewConstMetric(slotsDesc, prometheus.GaugeValue, float64(n), pool)
	}
	ch <- prometheus.MustNewConstMetric(blockedDesc, prometheus.GaugeValue, float64(s.Blocked))
	ch <- prometheus.MustNewConstMetric(errorsDesc, prometheus.GaugeValue, float64(s.PipelinesWithErrors))
}
