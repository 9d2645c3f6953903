// Package app assembles the ingest service from its configuration: it owns
// the wiring of the stages (spool, de-duplication, rollup, InfluxDB writer,
// pipeline, HTTP server) and the start-up and shutdown order.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/storepulse/storepulse/ingest/auth"
	"github.com/storepulse/storepulse/ingest/calendarstore"
	"github.com/storepulse/storepulse/ingest/config"
	"github.com/storepulse/storepulse/ingest/consolidate"
	"github.com/storepulse/storepulse/ingest/dedup"
	"github.com/storepulse/storepulse/ingest/event"
	"github.com/storepulse/storepulse/ingest/influx"
	"github.com/storepulse/storepulse/ingest/parse"
	"github.com/storepulse/storepulse/ingest/pipeline"
	"github.com/storepulse/storepulse/ingest/rollup"
	"github.com/storepulse/storepulse/ingest/server"
	"github.com/storepulse/storepulse/ingest/spool"
	"github.com/storepulse/storepulse/internal/atomicfile"
	"github.com/storepulse/storepulse/internal/clock"
	"github.com/storepulse/storepulse/internal/influxql"
	"github.com/storepulse/storepulse/internal/schema"
	"github.com/storepulse/storepulse/internal/storezone"
)

// App is a configured ingest service.
type App struct {
	cfg      *config.Config
	log      *slog.Logger
	spool    *spool.Spool
	db       *influx.Client
	pipeline *pipeline.Pipeline
	http     *http.Server
	ln       net.Listener
	ingester string
	now      clock.Func
}

// New opens the data directory, recovers the spool and prepares the server.
// It does not serve yet.
func New(cfg *config.Config, log *slog.Logger, now clock.Func) (*App, error) {
	if now == nil {
		now = time.Now
	}
	if cfg.MemoryLimit > 0 && os.Getenv("GOMEMLIMIT") == "" {
		// A soft limit keeps the heap (and RSS) near the working set instead
		// of twice it; the GC works harder only when close to it.
		debug.SetMemoryLimit(cfg.MemoryLimit)
	}
	if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
		return nil, fmt.Errorf("data_dir %s: %w", cfg.DataDir, err)
	}
	ingester, err := ingesterID(cfg.DataDir, cfg.Ingester)
	if err != nil {
		return nil, err
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	reserve := cfg.Spool.ReserveBytes
	if reserve == 0 {
		reserve = cfg.Spool.SegmentMaxBytes / 2
	}
	commits := prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "storepulse_ingest_spool_commit_seconds",
		Help:    "Duration of the spool's group commits (write, fsync, commit record and its fsync): what an acknowledgement waits for the disk. A slow tail here is the disk, shared with InfluxDB or others.",
		Buckets: []float64{.0005, .001, .002, .005, .01, .02, .035, .05, .1, .25, .5, 1, 2.5},
	})
	reg.MustRegister(commits)
	sp, err := spool.Open(spool.Options{
		Dir: filepath.Join(cfg.DataDir, "spool"), SegmentMaxBytes: cfg.Spool.SegmentMaxBytes,
		MaxBytes: cfg.Spool.MaxBytes, Logger: log.With("component", "spool"),
		QuarantineDir: filepath.Join(cfg.DataDir, "quarantine"), ReserveBytes: max(reserve, 0), Now: now,
		OnCommit: func(took time.Duration) { commits.Observe(took.Seconds()) },
	})
	if err != nil {
		return nil, fmt.Errorf("open spool: %w; see docs/operations.md", err)
	}
	registerSpoolMetrics(reg, sp)
	dd, err := dedup.Open(filepath.Join(cfg.DataDir, "dedup"), cfg.Dedup.Window, now, log.With("component", "dedup"))
	if err != nil {
		_ = sp.Close()
		return nil, fmt.Errorf("open de-duplication index: %w", err)
	}
	db, err := influx.New(influx.Config{
		URL: cfg.Influx.URL, Token: cfg.Influx.Token, Org: cfg.Influx.Org, Bucket: cfg.Influx.Bucket,
		Timeout: cfg.Influx.Timeout, BatchLines: cfg.Influx.BatchLines, Concurrency: cfg.Influx.Concurrency,
		MinBackoff: cfg.Influx.MinBackoff, MaxBackoff: cfg.Influx.MaxBackoff,
		DeadLetterDir: filepath.Join(cfg.DataDir, "deadletter"),
	}, log.With("component", "influx"), influx.NewMetrics(reg))
	if err != nil {
		_ = sp.Close()
		return nil, fmt.Errorf("InfluxDB client: %w", err)
	}
	// Reads back (stored sketches, the calendar) with InfluxQL by default:
	// InfluxDB 3.x has no Flux.
	sketches := rollup.NewInfluxSketches(db.QueryAPI(), cfg.Influx.Bucket, ingester)
	cal := calendarstore.New(db, cfg.Influx.Bucket, cfg.Location)
	database, rp, err := influxql.SplitBucket(cfg.Influx.Bucket)
	if err != nil {
		_ = sp.Close()
		return nil, fmt.Errorf("influx.bucket: %w (the consolidation reads it with InfluxQL)", err)
	}
	ql := &influxql.Client{URL: cfg.Influx.URL, Token: cfg.Influx.Token, Database: database, RetentionPolicy: rp,
		Timeout: cfg.Influx.Timeout}
	if cfg.Influx.QueryLanguage != config.QueryFlux {
		sketches = rollup.NewInfluxQLSketches(ql, ingester)
		cal = calendarstore.NewInfluxQL(db, ql, cfg.Influx.Bucket, cfg.Location)
	}
	// The minute series go to influx.fine_bucket when set (a bucket or
	// retention policy that expires them); everything else to influx.bucket.
	var writer pipeline.Writer = db
	fineQL, fineBucket := ql, cfg.Influx.Bucket
	if cfg.Influx.FineBucket != "" && cfg.Influx.FineBucket != cfg.Influx.Bucket {
		fine, err := influx.New(influx.Config{
			URL: cfg.Influx.URL, Token: cfg.Influx.Token, Org: cfg.Influx.Org, Bucket: cfg.Influx.FineBucket,
			Timeout: cfg.Influx.Timeout, BatchLines: cfg.Influx.BatchLines, Concurrency: cfg.Influx.Concurrency,
			MinBackoff: cfg.Influx.MinBackoff, MaxBackoff: cfg.Influx.MaxBackoff,
			DeadLetterDir: filepath.Join(cfg.DataDir, "deadletter"),
		}, log.With("component", "influx", "bucket", cfg.Influx.FineBucket), nil)
		if err != nil {
			_ = sp.Close()
			return nil, fmt.Errorf("InfluxDB client of influx.fine_bucket: %w", err)
		}
		fdb, frp, err := influxql.SplitBucket(cfg.Influx.FineBucket)
		if err != nil {
			_ = sp.Close()
			return nil, fmt.Errorf("influx.fine_bucket: %w", err)
		}
		fineQL = &influxql.Client{URL: cfg.Influx.URL, Token: cfg.Influx.Token, Database: fdb, RetentionPolicy: frp,
			Timeout: cfg.Influx.Timeout}
		fineBucket = cfg.Influx.FineBucket
		writer = routeWriter{main: db, fine: fine}
	}
	cons, err := consolidate.New(consolidate.Options{
		Ingester: ingester, Location: cfg.Location, Fine: fineQL, Main: ql, Write: db, FineBucket: fineBucket,
		Grace: cfg.Influx.ConsolidateGrace, FineRetention: cfg.Influx.FineRetention, Now: now,
		StateFile:    filepath.Join(cfg.DataDir, "late-hours.json"), // late hours deferred by a backlog
		MemoryPoints: cfg.Influx.ConsolidateMemory,                  // the pipeline adds every segment's sums
		Logger:       log.With("component", "consolidate"),
	})
	if err != nil {
		_ = sp.Close()
		return nil, err
	}
	ru, err := rollup.New(rollup.Options{
		Ingester: ingester, Location: cfg.Location,
		Sketches:  sketches,
		CacheSize: cfg.Spool.SketchCache,
		Now:       now, // late data: events of days already over (sp_late)
		Logger:    log.With("component", "rollup"),
		Metrics:   reg,
	})
	if err != nil {
		_ = sp.Close()
		return nil, err
	}
	pl := pipeline.New(pipeline.Options{SealInterval: cfg.Spool.SealInterval, MaxSpoolBytes: cfg.Spool.MaxBytes,
		SketchInterval: cfg.Spool.SketchInterval, Consolidator: cons,
		// Pending sketches are the cache's own (merged, not yet written): half
		// the cache lets a burst's sketches be written once, not per segment.
		MaxPendingSketches: max(1, cfg.Spool.SketchCache/2)},
		spoolAdapter{sp}, dd, rollupAdapter{ru}, writer, dedup.Key, log.With("component", "pipeline"), reg)
	if err := pl.Recover(); err != nil {
		_ = sp.Close()
		return nil, err
	}
	authn, err := auth.New(cfg.Auth.Tokens)
	if err != nil {
		_ = sp.Close()
		return nil, err
	}
	srv := server.New(server.Options{
		MaxBodyBytes: cfg.Limits.MaxBodyBytes, MaxDecompressedBytes: cfg.Limits.MaxDecompressedBytes,
		RequestTimeout: cfg.Limits.RequestTimeout, RetryAfter: cfg.Spool.RetryAfter, Location: cfg.Location,
		BodyMemory: bodyMemory(cfg), Databases: cfg.LineProtocol.Databases,
		Limits: parse.Limits{MaxItems: cfg.Limits.MaxItems, MaxErrors: cfg.Limits.MaxErrors,
			LateHorizon: cfg.Limits.LateHorizon, HistoryHorizon: cfg.Limits.HistoryHorizon,
			FutureTolerance: cfg.Limits.FutureTolerance, Now: now,
			AllowUnsigned: cfg.Influx.UnsignedFields},
	}, authn, pl, pl, cal, server.NewMetrics(reg),
		promhttp.HandlerFor(reg, promhttp.HandlerOpts{}), log.With("component", "http"))

	log.Info("ingest service ready", "ingester", ingester, "pending_segments", len(sp.Sealed()),
		"spool_bytes", sp.Bytes(), "influx_url", config.RedactURL(cfg.Influx.URL), "bucket", cfg.Influx.Bucket,
		"body_memory_bytes", bodyMemory(cfg))
	return &App{cfg: cfg, log: log, spool: sp, db: db, pipeline: pl, ingester: ingester, now: now,
		http: &http.Server{
			Handler:           srv.Handler(),
			ReadHeaderTimeout: 10 * time.Second,
			ReadTimeout:       cfg.Limits.RequestTimeout,
			WriteTimeout:      cfg.Limits.RequestTimeout + 5*time.Second,
			IdleTimeout:       2 * time.Minute,
			ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		}}, nil
}

// bodyMemory is the memory that request bodies in flight may hold, all
// together: a quarter of memory_limit (the rest is the flusher's working
// set, the sketch cache, the hourly sums and two segments' rollups, about
// 250-300 MB at the defaults under a backfill; the spool's buffers, the
// de-duplication index and the runtime). Without a memory_limit, 0 lets the
// server take 8 times max_decompressed_bytes.
func bodyMemory(cfg *config.Config) int64 {
	if cfg.MemoryLimit > 0 {
		return cfg.MemoryLimit / 4
	}
	return 0
}

// Listen binds the configured address (so callers learn the port before Run).
func (a *App) Listen() (net.Addr, error) {
	ln, err := net.Listen("tcp", a.cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("listen %s: %w", a.cfg.Listen, err)
	}
	a.ln = ln
	return ln.Addr(), nil
}

// Run serves until ctx ends, then shuts down gracefully: stop taking
// requests, finish those in flight, flush what InfluxDB accepts within the
// grace period, fsync and close the spool.
func (a *App) Run(ctx context.Context) error {
	if a.ln == nil {
		if _, err := a.Listen(); err != nil {
			return err
		}
	}
	runCtx, stopRun := context.WithCancel(context.Background())
	defer stopRun()
	flushed := make(chan error, 1)
	go func() { flushed <- a.pipeline.Run(runCtx) }()
	recorded := make(chan struct{})
	go func() { defer close(recorded); a.recordTimeZone(runCtx) }()

	served := make(chan error, 1)
	go func() {
		var err error
		if a.cfg.TLS.CertFile != "" {
			err = a.http.ServeTLS(a.ln, a.cfg.TLS.CertFile, a.cfg.TLS.KeyFile)
		} else {
			err = a.http.Serve(a.ln)
		}
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		served <- err
	}()
	a.log.Info("listening", "addr", a.ln.Addr().String(), "tls", a.cfg.TLS.CertFile != "")
	if a.cfg.PprofListen != "" {
		go a.servePprof()
	}

	var serveErr error
	select {
	case <-ctx.Done():
	case serveErr = <-served:
	}
	a.log.Info("shutting down")
	shutCtx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := a.http.Shutdown(shutCtx); err != nil {
		a.log.Warn("http shutdown", "err", err)
	}
	stopRun()
	<-recorded
	if err := <-flushed; err != nil {
		a.log.Warn("flush loop", "err", err)
	}
	drainCtx, cancelDrain := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancelDrain()
	if err := a.pipeline.Drain(drainCtx); err != nil {
		a.log.Warn("not everything reached InfluxDB before shutdown; it stays in the spool for the next start", "err", err)
	}
	if err := a.spool.Close(); err != nil {
		a.log.Error("close spool", "err", err)
		serveErr = errors.Join(serveErr, err)
	}
	a.db.Close()
	a.log.Info("stopped")
	return serveErr
}

// servePprof exposes the Go profiler on its own listener, for "where does the
// time go" questions; off unless pprof_listen is set.
func (a *App) servePprof() {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Addr: a.cfg.PprofListen, Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	a.log.Info("pprof listening", "addr", a.cfg.PprofListen)
	if err := srv.ListenAndServe(); err != nil {
		a.log.Warn("pprof server stopped", "err", err)
	}
}

// ingesterID returns this instance's stable id. Rolled-up points carry it as a
// tag, so it must not change while segments are pending: it is kept in the
// data directory and a different configured id is refused.
func ingesterID(dataDir, configured string) (string, error) {
	path := filepath.Join(dataDir, "ingester-id")
	b, err := os.ReadFile(path) // #nosec G304 -- path inside the configured data dir
	switch {
	case err == nil:
		stored := strings.TrimSpace(string(b))
		if configured != "" && configured != stored {
			return "", fmt.Errorf("ingester: configured %q but data_dir %s belongs to ingester %q; "+
				"an instance's id must not change (its points would be counted twice): use a new data_dir or the old id",
				configured, dataDir, stored)
		}
		return stored, nil
	case !errors.Is(err, os.ErrNotExist):
		return "", fmt.Errorf("ingester: read %s: %w", path, err)
	}
	id := configured
	if id == "" {
		host, err := os.Hostname()
		if err != nil || host == "" {
			host = "ingest"
		}
		id = host
	}
	if err := atomicfile.Write(path, []byte(id+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("ingester: write %s: %w", path, err)
	}
	return id, nil
}

// registerSpoolMetrics exposes the spool's health, quarantine and reserve.
func registerSpoolMetrics(reg prometheus.Registerer, sp *spool.Spool) {
	reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "storepulse_ingest_spool_writable",
			Help: "1 while the spool accepts writes; 0 after a failed write (disk full, unwritable) until a write succeeds again, or while the drain reserve is released. Alert when 0.",
		}, func() float64 {
			if sp.Health() != nil {
				return 0
			}
			return 1
		}),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "storepulse_ingest_spool_write_errors_total",
			Help: "Spool group commits that failed (ENOSPC, EACCES, EIO); their requests were answered 503 and nothing of them was acknowledged.",
		}, func() float64 { return float64(sp.Stats().WriteErrors) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "storepulse_ingest_spool_quarantined_bytes_total",
			Help: "Bytes of acknowledged spool data found damaged and moved to the quarantine directory since start. Alert on any increase.",
		}, func() float64 { return float64(sp.Stats().QuarantinedBytes) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "storepulse_ingest_spool_torn_bytes_total",
			Help: "Bytes of torn, never acknowledged writes cut from the spool at start (moved to the quarantine directory); expected after a crash.",
		}, func() float64 { return float64(sp.Stats().TruncatedBytes) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "storepulse_ingest_spool_quarantine_files",
			Help: "Files in the spool's quarantine directory awaiting an operator (see docs/operations.md). Alert when above 0.",
		}, func() float64 {
			q, err := sp.Quarantined()
			if err != nil {
				return -1
			}
			return float64(len(q))
		}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "storepulse_ingest_spool_drain_reserve_held",
			Help: "1 while the spool's drain reserve (spool.reserve_bytes) is allocated.",
		}, func() float64 {
			if sp.Stats().ReserveHeld {
				return 1
			}
			return 0
		}),
	)
}

// spoolAdapter and rollupAdapter fit the stage packages to the pipeline's
// small interfaces.
type spoolAdapter struct{ s *spool.Spool }

func (a spoolAdapter) Append(ctx context.Context, rec []byte) (uint64, error) {
	id, err := a.s.Append(ctx, rec)
	return uint64(id), err
}

func (a spoolAdapter) Seal() (uint64, bool, error) {
	id, ok, err := a.s.Seal()
	return uint64(id), ok, err
}

func (a spoolAdapter) Sealed() []uint64 {
	ids := a.s.Sealed()
	out := make([]uint64, len(ids))
	for i, id := range ids {
		out[i] = uint64(id)
	}
	return out
}

func (a spoolAdapter) Read(id uint64, fn func(rec []byte) error) error {
	return a.s.Read(spool.SegmentID(id), fn)
}
func (a spoolAdapter) Remove(id uint64) error { return a.s.RemoveThenRestore(spool.SegmentID(id)) }
func (a spoolAdapter) Bytes() int64           { return a.s.Bytes() }
func (a spoolAdapter) IsFull(err error) bool  { return errors.Is(err, spool.ErrFull) }
func (a spoolAdapter) IsCorrupt(err error) bool {
	return errors.Is(err, spool.ErrCorrupt)
}
func (a spoolAdapter) Quarantined() ([]string, error) { return a.s.Quarantined() }
func (a spoolAdapter) ReleaseReserve() (bool, error)  { return a.s.ReleaseReserve() }
func (a spoolAdapter) Health() error                  { return a.s.Health() }
func (a spoolAdapter) Quarantine(id uint64, reason string) (string, error) {
	rep, err := a.s.Quarantine(spool.SegmentID(id), reason)
	return rep.File, err
}

type rollupAdapter struct{ r *rollup.Rollup }

func (a rollupAdapter) Begin(segment uint64) pipeline.RollupSegment {
	return rollupSegment{r: a.r, s: a.r.NewSegment(segment)}
}

func (a rollupAdapter) PendingSketchLines() ([]string, func()) { return a.r.PendingSketchLines() }
func (a rollupAdapter) PendingSketches() int                   { return a.r.PendingSketches() }
func (a rollupAdapter) Prepare(ctx context.Context)            { a.r.Prepare(ctx) }

type rollupSegment struct {
	r *rollup.Rollup
	s *rollup.Segment
}

func (s rollupSegment) Add(b *event.Batch)                      { s.s.Add(b) }
func (s rollupSegment) SumLines() ([]string, error)             { return s.r.SumLines(s.s) }
func (s rollupSegment) MergeSketches(ctx context.Context) error { return s.r.MergeSketches(ctx, s.s) }
func (s rollupSegment) HourStores() map[int64][]string          { return s.s.HourStores() }
func (s rollupSegment) HourSums(fn func(meas string, hour int64, tags [][2]string, fields map[string]float64)) {
	s.s.HourSums(fn)
}

// routeWriter sends the minute series to the fine bucket and every other
// line (sketches, pass-through points, consolidated series) to the main one.
type routeWriter struct{ main, fine *influx.Client }

func (w routeWriter) Write(ctx context.Context, lines []string) error {
	var fine, main []string
	for _, l := range lines {
		if schema.IsFineLine(l) {
			fine = append(fine, l)
		} else {
			main = append(main, l)
		}
	}
	if len(fine) > 0 {
		if err := w.fine.Write(ctx, fine); err != nil {
			return err
		}
	}
	if len(main) > 0 {
		return w.main.Write(ctx, main)
	}
	return nil
}

func (w routeWriter) Ready(ctx context.Context) error { return w.main.Ready(ctx) }

// zoneRewrite is how often the store time zone is written again (in case the
// point was deleted); zoneRetry after a failure.
const (
	zoneRewrite = 24 * time.Hour
	zoneRetry   = time.Minute
)

// recordTimeZone writes the store time zone to InfluxDB (schema.MeasMeta,
// package storezone) at start and once a day until ctx ends, so that the
// datasource cuts its days where the daily sketches are cut. The point's
// time is storezone.RecordTime, so writes replace each other.
func (a *App) recordTimeZone(ctx context.Context) {
	zone := a.cfg.Location.String()
	for {
		wait := zoneRewrite
		line, err := storezone.Line(a.ingester, zone, storezone.RecordTime())
		if err != nil {
			a.log.Error("cannot record the store time zone", "timezone", zone, "err", err)
			return
		}
		wctx, cancel := context.WithTimeout(ctx, a.cfg.Influx.Timeout+time.Minute)
		err = a.db.Write(wctx, []string{line})
		cancel()
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			a.log.Warn("cannot record the store time zone in InfluxDB yet; the datasource falls back to its own setting until it is", "timezone", zone, "err", err)
			wait = zoneRetry
		default:
			a.log.Info("recorded the store time zone", "timezone", zone)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
	}
}
