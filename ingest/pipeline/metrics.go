package pipeline

import "github.com/prometheus/client_golang/prometheus"

type metrics struct {
	lateDeferred    prometheus.Gauge
	quarantined     prometheus.Counter
	reserveReleases prometheus.Counter
	flushed         prometheus.Counter
	lines           prometheus.Counter
	flushErrors     *prometheus.CounterVec
	flushSeconds    prometheus.Histogram
}

func newMetrics(reg prometheus.Registerer, p *Pipeline) *metrics {
	m := &metrics{
		lateDeferred: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "storepulse_ingest_late_hours_deferred",
			Help: "1 while late hours of segments already removed from the spool wait, kept in data_dir/late-hours.json, to be consolidated again (a backlog is draining); the hourly and daily series lack those late events until it is 0.",
		}),
		quarantined: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "storepulse_ingest_segments_quarantined_total",
			Help: "Spool segments whose acknowledged data was damaged, moved to the quarantine directory (their readable records kept and flushed). Alert on any increase.",
		}),
		reserveReleases: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "storepulse_ingest_drain_reserve_releases_total",
			Help: "Times the disk was too full to keep de-duplication ids and the spool's drain reserve was freed to go on draining.",
		}),
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
			Help: "Failed segment flushes by stage (read, quarantine, rollup, write, dedup, remove); the segment is retried.",
		}, []string{"stage"}),
		flushSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "storepulse_ingest_flush_duration_seconds",
			Help:    "Time to roll up and write one segment.",
			Buckets: prometheus.ExponentialBuckets(0.005, 2, 14),
		}),
	}
	reg.MustRegister(m.lateDeferred, m.quarantined, m.reserveReleases, m.flushed, m.lines, m.flushErrors, m.flushSeconds,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "storepulse_ingest_blocked_segments",
			Help: "Damaged spool segments that could not be quarantined yet (retried; later segments flow). Alert when above 0.",
		}, func() float64 { return float64(p.Blocked()) }),
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
