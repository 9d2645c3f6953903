package pipeline

import "github.com/prometheus/client_golang/prometheus"

type metrics struct {
	flushed      prometheus.Counter
	lines        prometheus.Counter
	flushErrors  *prometheus.CounterVec
	flushSeconds prometheus.Histogram
}

func newMetrics(reg prometheus.Registerer, p *Pipeline) *metrics {
	m := &metrics{
		flushed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "storepulse_ingest_segments_flushed_total",
			Help: "Spool segments rolled up, written to InfluxDB and removed.",
		}),
		lines: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "storepulse_ingest_rollup_lines_total",
			Help: "Line-protocol lines produced by the rollup and written.",
		}),
		flushErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "storepulse_ingest_flush_errors_total",
			Help: "Failed segment flushes by stage (read, rollup, write, dedup, remove); the segment is retried.",
		}, []string{"stage"}),
		flushSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "storepulse_ingest_flush_duration_seconds",
			Help:    "Time to roll up and write one segment.",
			Buckets: prometheus.ExponentialBuckets(0.005, 2, 14),
		}),
	}
	reg.MustRegister(m.flushed, m.lines, m.flushErrors, m.flushSeconds,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "storepulse_ingest_spool_bytes",
			Help: "Bytes in the on-disk spool not yet written to InfluxDB.",
		}, func() float64 { return float64(p.spool.Bytes()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "storepulse_ingest_pending_segments",
			Help: "Sealed spool segments waiting to be written to InfluxDB.",
		}, func() float64 { return float64(len(p.spool.Sealed())) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "storepulse_ingest_lag_seconds",
			Help: "How long the oldest pending segment has waited since it was sealed (0 when none).",
		}, p.lag),
	)
	return m
}
