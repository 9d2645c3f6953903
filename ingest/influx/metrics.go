package influx

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the Prometheus collectors of the InfluxDB writer. Fields are
// exported so the server and tests can read them.
type Metrics struct {
	// WriteDuration is the latency of each write request (one attempt of one
	// batch), whatever its outcome.
	WriteDuration prometheus.Histogram
	// LinesWritten counts lines InfluxDB accepted.
	LinesWritten prometheus.Counter
	// WriteErrors counts failed write requests by class (Class* constants).
	WriteErrors *prometheus.CounterVec
	// DeadLetteredLines and DeadLetteredBatches count what InfluxDB rejected
	// as invalid and was set aside in the dead-letter directory. A refused
	// batch is bisected down to single lines, so each record holds one line
	// (except a single line too large for InfluxDB, also one line).
	DeadLetteredLines   prometheus.Counter
	DeadLetteredBatches prometheus.Counter
	// Bisections counts refused batches of more than one line that were
	// halved to find the refused lines.
	Bisections prometheus.Counter
	// Retries counts write requests repeated after a retryable failure.
	Retries prometheus.Counter
	// LastSuccess is the Unix time of the last accepted batch: ingest lag is
	// time() - storepulse_influx_last_success_timestamp_seconds.
	LastSuccess prometheus.Gauge
}

// NewMetrics creates the collectors and registers them with reg (nil: not
// registered, e.g. in tests). Like prometheus.MustRegister it panics when a
// collector is already registered: that is a wiring bug.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		WriteDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: "storepulse", Subsystem: "influx", Name: "write_duration_seconds",
			Help:    "Latency of one InfluxDB write request (one attempt of one batch).",
			Buckets: prometheus.ExponentialBuckets(0.005, 2, 14), // 5ms .. ~41s
		}),
		LinesWritten: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "storepulse", Subsystem: "influx", Name: "lines_written_total",
			Help: "Line-protocol lines accepted by InfluxDB.",
		}),
		WriteErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "storepulse", Subsystem: "influx", Name: "write_errors_total",
			Help: "Failed InfluxDB write requests by class (network, timeout, throttled, server, auth, not_found, too_large, invalid, unexpected).",
		}, []string{"class"}),
		DeadLetteredLines: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "storepulse", Subsystem: "influx", Name: "dead_lettered_lines_total",
			Help: "Lines InfluxDB rejected as invalid, written to the dead-letter directory.",
		}),
		DeadLetteredBatches: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "storepulse", Subsystem: "influx", Name: "dead_lettered_batches_total",
			Help: "Dead-letter records written (one refused line each: refused batches are bisected first).",
		}),
		Bisections: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "storepulse", Subsystem: "influx", Name: "write_bisections_total",
			Help: "Batches InfluxDB refused as invalid that were halved to find the refused lines.",
		}),
		Retries: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "storepulse", Subsystem: "influx", Name: "write_retries_total",
			Help: "InfluxDB write requests repeated after a retryable failure.",
		}),
		LastSuccess: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "storepulse", Subsystem: "influx", Name: "last_success_timestamp_seconds",
			Help: "Unix time of the last batch InfluxDB accepted (0: none yet).",
		}),
	}
	// Pre-create every class so dashboards see zeros, not absent series.
	for _, c := range []string{ClassNetwork, ClassTimeout, ClassThrottled, ClassServer, ClassAuth,
		ClassNotFound, ClassTooLarge, ClassInvalid, ClassUnexpected} {
		m.WriteErrors.WithLabelValues(c)
	}
	if reg != nil {
		reg.MustRegister(m.WriteDuration, m.LinesWritten, m.WriteErrors, m.DeadLetteredLines,
			m.DeadLetteredBatches, m.Bisections, m.Retries, m.LastSuccess)
	}
	return m
}
