// Command storepulse-digest writes the morning briefing of a business (or
// of one store) for a day, by default yesterday in the store time zone: the
// headline KPIs, what changed and why, what to do (from the playbook), the
// campaign rhythm and the data quality, as JSON, Markdown (generic, Slack,
// WeCom, DingTalk webhook payloads) or an HTML e-mail. See docs/briefing.md.
//
//	storepulse-digest --influx-url http://localhost:8086 --format html --out briefing.html
//	storepulse-digest serve --config digest.yaml   # deliver on the lists' schedules
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/spf13/pflag"

	"github.com/storepulse/storepulse/datasource/pkg/engine"
	"github.com/storepulse/storepulse/datasource/pkg/engine/influxql"
	"github.com/storepulse/storepulse/digest/briefing"
	"github.com/storepulse/storepulse/digest/deliver"
	"github.com/storepulse/storepulse/digest/render"
	"github.com/storepulse/storepulse/internal/clock"
	"github.com/storepulse/storepulse/internal/kpi"
)

func main() {
	now, err := clock.FromEnv(os.Getenv)
	if err != nil {
		fmt.Fprintln(os.Stderr, "storepulse-digest:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err = run(ctx, os.Args[1:], os.Stdout, os.Stderr, os.Getenv, now)
	stop()
	switch {
	case errors.Is(err, pflag.ErrHelp):
	case err != nil:
		fmt.Fprintln(os.Stderr, "storepulse-digest:", err)
		os.Exit(1)
	}
}

// run is the command with its inputs injected (tests run it in process).
func run(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string, now clock.Func) error {
	serve := len(args) > 0 && args[0] == "serve"
	if serve {
		args = args[1:]
	}
	cfg, err := loadConfig(args, stderr, getenv)
	if err != nil {
		return err
	}
	if serve {
		// Checked before InfluxDB is read; the schedules are read again in
		// the store time zone below.
		if _, err = cfg.serveLists(time.UTC); err != nil {
			return err
		}
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	cat := kpi.Default()
	pb, err := briefing.LoadPlaybook(cat, cfg.Playbook)
	if err != nil {
		return err
	}
	// Every InfluxDB call is bounded by the HTTP client's timeout.
	src, err := influxql.New(cfg.Influx.URL, cfg.Influx.Token, cfg.Influx.Bucket, &http.Client{Timeout: cfg.Influx.Timeout})
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	opts := briefing.Options{Engine: &engine.Engine{Catalog: cat, Source: src, Location: time.UTC, SeriesLimit: cfg.SeriesLimit, Now: now},
		Location: time.UTC, Now: now, Playbook: pb, Logger: logger,
		Business: cfg.Business, Currency: cfg.Currency, Language: cfg.Language, GrafanaURL: cfg.GrafanaURL, Headline: cfg.Headline, Watch: cfg.Watch,
		K: cfg.Sensitivity, IngestDataDir: cfg.IngestDataDir}
	// The options are checked before InfluxDB is read for the zone.
	if _, err := briefing.New(opts); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	retry := time.Duration(0) // the one-shot command fails when InfluxDB cannot be read
	if serve {
		retry = zoneRetry
	}
	loc, err := storeZone(ctx, cfg.override, influxZones(src.Client), retry, logger)
	if err != nil {
		return err
	}
	var lists []deliver.List
	if serve {
		if lists, err = cfg.serveLists(loc); err != nil {
			return err
		}
	}
	e := *opts.Engine
	e.Location = loc
	opts.Engine, opts.Location = &e, loc
	b, err := briefing.New(opts)
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	if serve {
		svc := &deliver.Service{Lists: lists, Builder: timeoutBuilder{b, cfg.Timeout}, SMTP: cfg.smtp(), Webhook: cfg.webhook(),
			FailedDir: cfg.FailedDir, StateDir: cfg.StateDir, CatchUp: cfg.CatchUp, Logger: logger, Now: now}
		logger.Info("serving", "lists", len(lists), "timezone", loc.String(), "state_dir", cfg.StateDir, "catch_up", cfg.CatchUp)
		return svc.Run(ctx)
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	br, err := b.Build(ctx, cfg.Date, cfg.Store)
	if err != nil {
		return err
	}
	for _, format := range cfg.formats {
		out, err := render.Render(br, format)
		if err != nil {
			return err
		}
		if cfg.Out == "-" {
			if _, err := stdout.Write(out); err != nil {
				return err
			}
			continue
		}
		path := cfg.Out
		if len(cfg.formats) > 1 {
			path = filepath.Join(cfg.Out, fileName(br, format))
		}
		if err := writeFile(path, out); err != nil {
			return err
		}
		abs, _ := filepath.Abs(path)
		logger.Info("briefing written", "date", br.Date, "store", br.Store, "format", format, "changes", len(br.Changes), "file", abs)
	}
	return nil
}

// fileName is a briefing's file in an output directory:
// briefing-2026-05-19[-store].<format>.<ext>.
func fileName(br *briefing.Briefing, format string) string {
	name := "briefing-" + br.Date
	if br.Store != "" {
		name += "-" + br.Store
	}
	switch format {
	case render.FormatHTML:
		return name + ".html"
	case render.FormatMarkdown:
		return name + ".md"
	case render.FormatJSON:
		return name + ".json"
	}
	return name + "." + format + ".json"
}

// timeoutBuilder bounds every scheduled build by the run timeout.
type timeoutBuilder struct {
	b       *briefing.Builder
	timeout time.Duration
}

func (t timeoutBuilder) Build(ctx context.Context, date, store string) (*briefing.Briefing, error) {
	ctx, cancel := context.WithTimeout(ctx, t.timeout)
	defer cancel()
	return t.b.Build(ctx, date, store)
}

func (t timeoutBuilder) BuildIn(ctx context.Context, date, store, language string) (*briefing.Briefing, error) {
	ctx, cancel := context.WithTimeout(ctx, t.timeout)
	defer cancel()
	return t.b.BuildIn(ctx, date, store, language)
}

// writeFile writes through a temporary file and a rename: a reader never
// sees half a briefing.
func writeFile(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".digest-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name()) //nolint:errcheck // gone after the rename
	if _, err := tmp.Write(data); err != nil {
		tmp.Close() //nolint:errcheck,gosec // the write error is reported
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil { //nolint:gosec // a briefing is meant to be read
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
