package server

import (
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the HTTP side's Prometheus collectors.
type Metrics struct {
	requests     *prometheus.HistogramVec
	acceptedN    *prometheus.CounterVec
	duplicates   *prometheus.CounterVec
	rejectedReqs *prometheus.CounterVec
}

// NewMetrics registers the collectors on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		requests: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "storepulse_ingest_request_duration_seconds",
			Help:    "Time to answer an API request, by endpoint and status code.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"endpoint", "code"}),
		acceptedN: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "storepulse_ingest_accepted_items_total",
			Help: "Items (events, metrics, points) made durable, by endpoint.",
		}, []string{"endpoint"}),
		duplicates: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "storepulse_ingest_deduplicated_items_total",
			Help: "Items acknowledged but not counted again because their id was already seen.",
		}, []string{"endpoint"}),
		rejectedReqs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "storepulse_ingest_rejected_requests_total",
			Help: "Requests rejected, by endpoint and reason (nothing of them was stored).",
		}, []string{"endpoint", "reason"}),
	}
	reg.MustRegister(m.requests, m.acceptedN, m.duplicates, m.rejectedReqs)
	return m
}

func (m *Metrics) observe(endpoint string, status int, d time.Duration) {
	m.requests.WithLabelValues(endpoint, strconv.Itoa(status)).Observe(d.Seconds())
}

func (m *Metrics) accepted(endpoint string, r Result) {
	m.acceptedN.WithLabelValues(endpoint).Add(float64(r.Accepted))
	m.duplicates.WithLabelValues(endpoint).Add(float64(r.Duplicates))
}

func (m *Metrics) rejected(endpoint, reason string, n int) {
	m.rejectedReqs.WithLabelValues(endpoint, reason).Add(float64(n))
}
