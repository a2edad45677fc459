package app

import (
	"context"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/steelengine/steelengine/store"
	"github.com/steelengine/steelengine/store/postgres"
)

// metrics are the appliance's Prometheus series, on a registry of its own so tests can
// open several apps in one process.
type metrics struct {
	reg        *prometheus.Registry
	requests   *prometheus.CounterVec
	latency    *prometheus.HistogramVec
	executions *prometheus.CounterVec
	runTime    *prometheus.HistogramVec
	settled    prometheus.Counter // PostgreSQL only (watch)
}

func newMetrics() *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "steelengine_http_requests_total", Help: "HTTP requests by method and status code.",
		}, []string{"method", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "steelengine_http_request_duration_seconds", Help: "HTTP request latency.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 4, 10),
		}, []string{"method"}),
		executions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "steelengine_executions_total", Help: "Finished workflow executions by trigger and status.",
		}, []string{"trigger", "status"}),
		runTime: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "steelengine_execution_duration_seconds", Help: "Workflow execution duration.",
			Buckets: prometheus.ExponentialBuckets(0.001, 4, 10),
		}, []string{"trigger"}),
	}
	m.reg.MustRegister(m.requests, m.latency, m.executions, m.runTime,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// watch adds the series read from a at scrape time: runs in flight and, on PostgreSQL,
// the replicas serving, the shared queue's jobs and the epoch listener.
func (m *metrics) watch(a *App) {
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "steelengine_runs_in_flight", Help: "Workflow runs this process is running now.",
	}, func() float64 { return float64(len(a.Service.Held())) }))
	ps, ok := a.Store.(*postgres.Store)
	if !ok {
		return
	}
	m.settled = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "steelengine_runs_interrupted_by_settle_total",
		Help: "Runs of replicas that stopped, marked interrupted by this replica.",
	})
	m.reg.MustRegister(m.settled,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "steelengine_replicas", Help: "Replicas serving on the database, as of this replica's last heartbeat.",
		}, func() float64 { return float64(a.replicas.Load()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "steelengine_epoch_listener_up", Help: "1 while changes made on other replicas arrive by notification (0: polling).",
		}, func() float64 {
			if ps.Listening() {
				return 1
			}
			return 0
		}),
		jobsCollector{q: a.jobs, log: a.log})
}

// jobsCollector reports the shared queue's unfinished jobs (the same on every replica).
type jobsCollector struct {
	q   *postgres.Queue
	log *slog.Logger
}

var jobsDesc = prometheus.NewDesc("steelengine_jobs", "Jobs of the shared queue still to finish, by queue and state.", []string{"queue", "state"}, nil)

func (c jobsCollector) Describe(ch chan<- *prometheus.Desc) { ch <- jobsDesc }

func (c jobsCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	counts, err := c.q.Counts(ctx)
	if err != nil {
		c.log.Warn("metrics: count jobs", "err", err)
		return
	}
	for k, n := range counts {
		ch <- prometheus.MustNewConstMetric(jobsDesc, prometheus.GaugeValue, float64(n), k[0], k[1])
	}
}

// observeExecution counts a finished run.
func (m *metrics) observeExecution(e *store.Execution) {
	m.executions.WithLabelValues(e.Trigger, e.Status).Inc()
	m.runTime.WithLabelValues(e.Trigger).Observe(float64(e.DurationMs) / 1000)
}

// instrument counts every request. Labels are method and status only: paths carry ids,
// and ids as labels would grow the series without bound.
func (m *metrics) instrument(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, code: http.StatusOK}
		next.ServeHTTP(sw, r)
		m.requests.WithLabelValues(r.Method, strconv.Itoa(sw.code)).Inc()
		m.latency.WithLabelValues(r.Method).Observe(time.Since(start).Seconds())
	})
}

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// statusWriter remembers the status code; Unwrap keeps http.ResponseController (SSE
// flushing, deadlines) working through it.
type statusWriter struct {
	http.ResponseWriter
	code        int
	wroteHeader bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wroteHeader {
		w.code, w.wroteHeader = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	w.wroteHeader = true
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Flush lets streaming handlers that type-assert http.Flusher work too.
func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}
