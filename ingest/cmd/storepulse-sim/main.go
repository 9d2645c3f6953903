// Command storepulse-sim generates realistic store events for StorePulse and
// writes them to files or sends them to the ingest service.
//
//	storepulse-sim file     [flags]   NDJSON to --out, plus --labels/--campaigns/--targets files
//	storepulse-sim backfill [flags]   --days of history through the HTTP API, as fast as accepted
//	storepulse-sim live     [flags]   real time from now on, for the demo
//	storepulse-sim feed     [flags]   backfill once, then live for good (docker compose; --state)
//
// See docs/simulator.md.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/pflag"

	"github.com/storepulse/storepulse/ingest/sim"
	"github.com/storepulse/storepulse/internal/clock"
)

func main() {
	now, err := clock.FromEnv(os.Getenv)
	if err != nil {
		fmt.Fprintln(os.Stderr, "storepulse-sim:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err = run(ctx, os.Args[1:], os.Stdout, os.Stderr, os.Getenv, now)
	stop()
	if err != nil && !errors.Is(err, context.Canceled) {
		fmt.Fprintln(os.Stderr, "storepulse-sim:", err)
		os.Exit(1)
	}
}

type options struct {
	mode                            string
	url, token                      string
	seed                            uint64
	stores, days                    int
	start, tz, incidents            string
	scale                           float64
	out, labels, campaigns, targets string
	concurrency, batch              int
	interval, timeout               time.Duration
	progress, verbose               bool
	stateDir                        string
	liveDays                        int
	catchUp                         time.Duration
}

func parseFlags(args []string, stderr io.Writer, getenv func(string) string) (options, error) {
	var o options
	fs := pflag.NewFlagSet("storepulse-sim", pflag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: storepulse-sim file|backfill|live|feed [flags]")
		fs.PrintDefaults()
	}
	fs.StringVar(&o.url, "url", "http://localhost:8080", "ingest service base URL (backfill, live)")
	fs.StringVar(&o.token, "token", "", "bearer token (default $STOREPULSE_TOKEN)")
	fs.Uint64Var(&o.seed, "seed", 1, "random seed: same config and seed give byte-identical output")
	fs.IntVar(&o.stores, "stores", 3, "number of stores (1..100)")
	fs.IntVar(&o.days, "days", 7, "days to simulate (live: horizon)")
	fs.StringVar(&o.start, "start", "", "first day, YYYY-MM-DD or RFC 3339 (default: file/backfill --days before today, live now)")
	fs.StringVar(&o.tz, "tz", "Asia/Shanghai", "stores' time zone")
	fs.StringVar(&o.incidents, "incidents", "all", "incidents to inject: all, none or a list of "+fmt.Sprint(sim.IncidentKinds()))
	fs.Float64Var(&o.scale, "scale", 1, "volume multiplier (0.2 = a small shop)")
	fs.StringVar(&o.out, "out", "-", "file mode: events NDJSON file, - for stdout")
	fs.StringVar(&o.labels, "labels", "", "write incident ground truth (JSON array) to this file")
	fs.StringVar(&o.campaigns, "campaigns", "", "write the campaign calendar (JSON array) to this file")
	fs.StringVar(&o.targets, "targets", "", "write the daily targets (JSON array) to this file")
	fs.IntVar(&o.concurrency, "concurrency", 2, "backfill: requests in flight")
	fs.IntVar(&o.batch, "batch", sim.MaxBatch, "backfill: events per request (max 5000)")
	fs.DurationVar(&o.interval, "interval", 2*time.Second, "live: send interval")
	fs.DurationVar(&o.timeout, "timeout", 30*time.Second, "HTTP timeout per attempt")
	fs.BoolVar(&o.progress, "progress", true, "backfill/file: progress bar on stderr")
	fs.BoolVar(&o.verbose, "verbose", false, "debug logging")
	fs.StringVar(&o.stateDir, "state", "", "feed: directory remembering the backfill and the live feed's progress (required)")
	fs.IntVar(&o.liveDays, "live-days", 28, "feed: length of one live run (a new run, with new incidents, follows)")
	fs.DurationVar(&o.catchUp, "catch-up", 24*time.Hour, "feed: after a longer stop, events older than this are not sent")
	if err := fs.Parse(args); err != nil {
		return o, fmt.Errorf("flags: %w", err)
	}
	o.mode = "file"
	if fs.NArg() > 0 {
		o.mode = fs.Arg(0)
	}
	if fs.NArg() > 1 {
		return o, fmt.Errorf("unexpected arguments %v", fs.Args()[1:])
	}
	if o.token == "" {
		o.token = getenv("STOREPULSE_TOKEN")
	}
	return o, nil
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string, now func() time.Time) error {
	o, err := parseFlags(args, stderr, getenv)
	if err != nil {
		return err
	}
	level := slog.LevelInfo
	if o.verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	if o.mode == "feed" {
		return runFeed(ctx, o, now, log, stderr)
	}
	cfg, err := config(o, now())
	if err != nil {
		return err
	}
	g, err := sim.New(cfg)
	if err != nil {
		return fmt.Errorf("generator: %w", err)
	}
	if err := writeSideFiles(g, o); err != nil {
		return err
	}
	var progress io.Writer
	if o.progress {
		progress = stderr
	}
	switch o.mode {
	case "file":
		return writeEvents(ctx, g, o.out, stdout, progress, log)
	case "backfill", "live":
		c, err := sim.NewClient(sim.ClientOptions{URL: o.url, Token: o.token, Timeout: o.timeout, Log: log})
		if err != nil {
			return fmt.Errorf("client: %w", err)
		}
		if o.mode == "backfill" {
			_, err = sim.Backfill(ctx, g, c, sim.BackfillOptions{BatchSize: o.batch, Concurrency: o.concurrency, Progress: progress, Log: log})
		} else {
			log.Info("live: sending events as they happen", "url", o.url, "from", g.Config().Start, "until", g.Config().End)
			_, err = sim.Live(ctx, g, c, sim.LiveOptions{Interval: o.interval, Log: log})
		}
		if err != nil {
			return fmt.Errorf("%s: %w", o.mode, err)
		}
		return nil
	}
	return fmt.Errorf("unknown mode %q (want file, backfill, live or feed)", o.mode)
}

// config turns flags into a generator config. Backfill never generates the
// future (the API rejects it); live starts now.
func config(o options, now time.Time) (sim.Config, error) {
	loc, err := time.LoadLocation(o.tz)
	if err != nil {
		return sim.Config{}, fmt.Errorf("--tz: %w", err)
	}
	kinds, err := sim.ParseIncidents(o.incidents)
	if err != nil {
		return sim.Config{}, fmt.Errorf("--incidents: %w", err)
	}
	if o.days < 1 {
		return sim.Config{}, errors.New("--days must be at least 1")
	}
	cfg := sim.Config{Seed: o.seed, NumStores: o.stores, Scale: o.scale, Location: loc, Days: o.days, Incidents: kinds}
	now = now.In(loc)
	today := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, loc)
	switch {
	case o.start != "":
		if cfg.Start, err = time.ParseInLocation(time.DateOnly, o.start, loc); err != nil {
			if cfg.Start, err = time.Parse(time.RFC3339, o.start); err != nil {
				return cfg, fmt.Errorf("--start %q: want YYYY-MM-DD or RFC 3339: %w", o.start, err)
			}
		}
	case o.mode == "live":
		cfg.Start = now
	default:
		cfg.Start = today.AddDate(0, 0, -o.days)
	}
	if o.mode == "backfill" {
		end := cfg.Start.AddDate(0, 0, o.days)
		if end.After(now) {
			cfg.End = now
		}
	}
	return cfg, nil
}

func writeSideFiles(g *sim.Generator, o options) error {
	files := []struct {
		path string
		v    any
	}{{o.labels, g.Incidents()}, {o.campaigns, g.Campaigns()}, {o.targets, g.Targets()}}
	for _, f := range files {
		if f.path == "" {
			continue
		}
		if err := sim.WriteJSONFile(f.path, f.v); err != nil {
			return err
		}
	}
	return nil
}

func writeEvents(ctx context.Context, g *sim.Generator, path string, stdout, progress io.Writer, log *slog.Logger) error {
	w := stdout
	var file *os.File
	if path != "-" {
		f, err := os.Create(path) //nolint:gosec // the operator chooses the output path
		if err != nil {
			return fmt.Errorf("create %s: %w", path, err)
		}
		defer f.Close()
		w, file = f, f
	}
	var report func(float64, int64)
	if progress != nil && path != "-" {
		last := time.Now()
		report = func(done float64, n int64) {
			if time.Since(last) > 250*time.Millisecond || done >= 1 {
				last = time.Now()
				_, _ = fmt.Fprintf(progress, "\r%5.1f%%  %d events ", done*100, n)
			}
		}
	}
	n, err := g.WriteAll(ctx, w, report)
	if report != nil {
		_, _ = fmt.Fprintln(progress)
	}
	if err != nil {
		return err
	}
	if file != nil {
		if err := file.Close(); err != nil {
			return fmt.Errorf("close %s: %w", path, err)
		}
	}
	log.Info("events written", "events", n, "out", path)
	return nil
}
