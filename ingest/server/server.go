// Package server is the ingest service's HTTP API: it receives requests,
// authenticates them, caps and decompresses their bodies, hands them to the
// validators (ingest/parse) and the pipeline, and answers. One file per
// endpoint family.
package server

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/storepulse/storepulse/ingest/auth"
	"github.com/storepulse/storepulse/ingest/calendarstore"
	"github.com/storepulse/storepulse/ingest/event"
	"github.com/storepulse/storepulse/ingest/parse"
	"github.com/storepulse/storepulse/internal/kpi"
)

// ErrSpoolFull is returned by an Acceptor whose disk budget is used up.
var ErrSpoolFull = errors.New("spool full")

// Result counts what an accepted request contributed.
type Result struct {
	Accepted   int `json:"accepted"`
	Duplicates int `json:"duplicates"`
}

// Acceptor makes a validated batch durable (the pipeline).
type Acceptor interface {
	Accept(ctx context.Context, b *event.Batch) (Result, error)
}

// Readiness reports whether the service can take traffic: InfluxDB reachable
// and the spool below its limit and writable.
type Readiness interface {
	Ready(ctx context.Context) error
}

// Degradation is optionally implemented by a Readiness: conditions an
// operator must act on that do not stop the service taking traffic (data in
// the spool's quarantine). /readyz stays 200 but says "degraded" and names them.
type Degradation interface {
	Degraded() []string
}

// Options configure the server.
type Options struct {
	MaxBodyBytes         int64
	MaxDecompressedBytes int64
	RequestTimeout       time.Duration
	RetryAfter           time.Duration // told to clients when the spool is full
	Limits               parse.Limits
	Location             *time.Location
	// Databases, when not empty, are the only database (/write?db=) and
	// bucket (/api/v2/write?bucket=) names the line-protocol endpoints
	// accept (lineprotocol.databases); others get InfluxDB's 404.
	Databases []string
	// BodyMemory bounds the memory of request bodies in flight, all requests
	// together (see admission); 0 takes 8 times MaxDecompressedBytes.
	BodyMemory int64
	// AdmissionWait is how long a request waits for body memory before 503
	// (0: 2s).
	AdmissionWait time.Duration
}

// Server is the HTTP API.
type Server struct {
	opts     Options
	auth     *auth.Authenticator
	pipeline Acceptor
	ready    Readiness
	calendar *calendarstore.Store
	metrics  *Metrics
	log      *slog.Logger
	metricsH http.Handler
	admit    *admission
	kpis     *kpi.Catalog // targets must name one of its KPIs
}

// New wires the API. metricsHandler serves /metrics.
func New(opts Options, a *auth.Authenticator, p Acceptor, ready Readiness, cal *calendarstore.Store, m *Metrics, metricsHandler http.Handler, log *slog.Logger) *Server {
	budget := opts.BodyMemory
	if budget <= 0 {
		budget = 8 * max(opts.MaxDecompressedBytes, opts.MaxBodyBytes, maxCalendarBody)
	}
	return &Server{opts: opts, auth: a, pipeline: p, ready: ready, calendar: cal, metrics: m, log: log,
		metricsH: metricsHandler, admit: newAdmission(budget), kpis: kpi.Default()}
}

// Handler returns the routed, instrumented handler.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", s.healthz)
	mux.HandleFunc("GET /readyz", s.readyz)
	mux.Handle("GET /metrics", s.metricsH)

	mux.Handle("POST /v1/events", s.authed("events", s.postEvents))
	mux.Handle("POST /v1/metrics", s.authed("metrics", s.postMetrics))
	mux.Handle("POST /v1/import/csv", s.authed("csv", s.postCSV))
	mux.Handle("POST /api/v2/write", s.authed("write_v2", s.postWriteV2))
	mux.Handle("POST /write", s.authed("write_v1", s.postWriteV1))
	// Telegraf's v1 output sends CREATE DATABASE at start.
	mux.Handle("POST /query", s.authed("query", s.query))
	mux.Handle("GET /query", s.authed("query", s.query))
	// Telegraf's v1 output and other clients probe /ping before writing.
	mux.HandleFunc("GET /ping", s.ping)
	mux.HandleFunc("HEAD /ping", s.ping)

	mux.Handle("GET /v1/campaigns", s.authed("campaigns", s.getCampaigns))
	mux.Handle("PUT /v1/campaigns", s.authed("campaigns", s.putCampaigns))
	mux.Handle("DELETE /v1/campaigns/{id}", s.authed("campaigns", s.deleteCampaign))
	mux.Handle("GET /v1/targets", s.authed("targets", s.getTargets))
	mux.Handle("PUT /v1/targets", s.authed("targets", s.putTargets))
	mux.Handle("DELETE /v1/targets", s.authed("targets", s.deleteTarget))
	return mux
}

type principalKey struct{}

type handlerFunc func(w http.ResponseWriter, r *http.Request, p *auth.Principal)

// authed authenticates, applies the request timeout and records metrics.
func (s *Server) authed(endpoint string, h handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		defer func() { s.metrics.observe(endpoint, rec.status, time.Since(start)) }()
		p, err := s.auth.Authenticate(r)
		if err != nil {
			rec.Header().Set("WWW-Authenticate", `Bearer realm="storepulse"`)
			s.metrics.rejected(endpoint, "unauthorized", 1)
			writeError(rec, http.StatusUnauthorized, "unauthorized", err.Error(), nil)
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), s.opts.RequestTimeout)
		defer cancel()
		h(rec, r.WithContext(context.WithValue(ctx, principalKey{}, p)), p)
	})
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

func (s *Server) healthz(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	var warnings []string
	if d, ok := s.ready.(Degradation); ok {
		for _, w := range d.Degraded() {
			warnings = append(warnings, redactKeepNames(w))
		}
	}
	if err := s.ready.Ready(ctx); err != nil {
		// /readyz is unauthenticated: the reason says what is wrong, never
		// where (URLs, addresses, directories); the log has the whole error.
		s.log.Warn("not ready", "err", err)
		body := map[string]any{"status": "not ready", "reason": redactKeepNames(err.Error())}
		if len(warnings) > 0 {
			body["warnings"] = warnings
		}
		writeJSON(w, http.StatusServiceUnavailable, body)
		return
	}
	if len(warnings) > 0 {
		writeJSON(w, http.StatusOK, map[string]any{"status": "degraded", "warnings": warnings})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

func (s *Server) ping(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("X-Influxdb-Version", "storepulse")
	w.WriteHeader(http.StatusNoContent)
}
