package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/storepulse/storepulse/ingest/sim"
)

// feedState is what feed mode remembers in --state between restarts: the
// plan (configuration and the hour the live feed starts, which fixes every
// event id), whether the backfill finished, and up to when the live feed
// has sent everything.
//
// Why restarts never count an event twice: a restarted backfill regenerates
// the same events with the same ids (same configuration, same start), which
// the ingest service drops as duplicates; a restarted live run regenerates
// its events from the live start and sends only those after SentUntil (the
// few seconds between the last save and a crash are again duplicates the
// service drops). Removing the state while keeping InfluxDB's data would
// backfill again under new ids: remove both volumes together.
type feedState struct {
	Version    int       `json:"version"`
	Seed       uint64    `json:"seed"`
	Stores     int       `json:"stores"`
	Scale      float64   `json:"scale"`
	TZ         string    `json:"tz"`
	Incidents  string    `json:"incidents"`
	Days       int       `json:"backfillDays"`
	LiveDays   int       `json:"liveDays"`
	LiveStart  time.Time `json:"liveStart"`
	Backfilled bool      `json:"backfilled"`
	SentUntil  time.Time `json:"sentUntil"`
}

const (
	feedStateVersion = 1
	feedStateFile    = "feed.json"
	// feedSaveEvery bounds how much the live feed resends after a crash.
	feedSaveEvery = 10 * time.Second
)

func loadFeedState(path string) (feedState, bool, error) {
	var st feedState
	b, err := os.ReadFile(path) //nolint:gosec // the operator chooses the state directory
	if errors.Is(err, fs.ErrNotExist) {
		return st, false, nil
	}
	if err != nil {
		return st, false, fmt.Errorf("feed: read state: %w", err)
	}
	if err := json.Unmarshal(b, &st); err != nil {
		return st, false, fmt.Errorf("feed: state %s is corrupt (remove it together with the data to start over): %w", path, err)
	}
	if st.Version != feedStateVersion {
		return st, false, fmt.Errorf("feed: state %s has version %d, want %d", path, st.Version, feedStateVersion)
	}
	return st, true, nil
}

// save writes the state atomically (temporary file, then rename).
func (st *feedState) save(path string) error {
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return fmt.Errorf("feed: encode state: %w", err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("feed: write state: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("feed: write state: %w", err)
	}
	return nil
}

func (st *feedState) config(loc *time.Location) (sim.Config, error) {
	kinds, err := sim.ParseIncidents(st.Incidents)
	if err != nil {
		return sim.Config{}, fmt.Errorf("feed: incidents: %w", err)
	}
	return sim.Config{Seed: st.Seed, NumStores: st.Stores, Scale: st.Scale, Location: loc, Incidents: kinds}, nil
}

// runFeed is feed mode: on the first start, backfill --days up to the
// current hour; then (and on every later start) the live feed from that
// hour on, one --live-days run after another.
func runFeed(ctx context.Context, o options, now func() time.Time, log *slog.Logger, stderr io.Writer) error {
	if o.stateDir == "" {
		return errors.New("feed: --state is required")
	}
	if o.days < 1 || o.liveDays < 1 {
		return errors.New("feed: --days and --live-days must be at least 1")
	}
	if err := os.MkdirAll(o.stateDir, 0o750); err != nil {
		return fmt.Errorf("feed: %w", err)
	}
	path := filepath.Join(o.stateDir, feedStateFile)
	st, found, err := loadFeedState(path)
	if err != nil {
		return err
	}
	plan := feedState{Version: feedStateVersion, Seed: o.seed, Stores: o.stores, Scale: o.scale, TZ: o.tz,
		Incidents: o.incidents, Days: o.days, LiveDays: o.liveDays}
	if found {
		stored := st
		stored.Backfilled, stored.LiveStart, stored.SentUntil = false, time.Time{}, time.Time{}
		if stored != plan {
			log.Warn("feed: the flags differ from the plan in the state; the state wins (remove it with the data to start over)", "state", path)
		}
	}
	loc, err := time.LoadLocation(st.TZ)
	if !found {
		loc, err = time.LoadLocation(plan.TZ)
	}
	if err != nil {
		return fmt.Errorf("feed: --tz: %w", err)
	}
	if !found {
		// The start of the current local hour: the backfill ends there and
		// the live feed starts there, so no hour is sent twice or missed.
		t := now().In(loc)
		st = plan
		st.LiveStart = time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), 0, 0, 0, loc)
		if err := st.save(path); err != nil {
			return err
		}
		log.Info("feed: new plan", "state", path, "backfill_days", st.Days, "live_from", st.LiveStart)
	}
	base, err := st.config(loc)
	if err != nil {
		return err
	}
	c, err := sim.NewClient(sim.ClientOptions{URL: o.url, Token: o.token, Timeout: o.timeout, Log: log})
	if err != nil {
		return fmt.Errorf("feed: client: %w", err)
	}

	if !st.Backfilled {
		cfg := base
		cfg.Start, cfg.End = st.LiveStart.AddDate(0, 0, -st.Days), st.LiveStart
		g, err := sim.New(cfg)
		if err != nil {
			return fmt.Errorf("feed: generator: %w", err)
		}
		log.Info("feed: backfill", "stores", st.Stores, "from", cfg.Start, "to", cfg.End)
		var progress io.Writer
		if o.progress {
			progress = stderr
		}
		if _, err := sim.Backfill(ctx, g, c, sim.BackfillOptions{BatchSize: o.batch, Concurrency: o.concurrency, Progress: progress, Log: log}); err != nil {
			return fmt.Errorf("feed: backfill: %w", err)
		}
		st.Backfilled = true
		if err := st.save(path); err != nil {
			return err
		}
	}

	for {
		cfg := base
		cfg.Start, cfg.Days = st.LiveStart, st.LiveDays
		g, err := sim.New(cfg)
		if err != nil {
			return fmt.Errorf("feed: generator: %w", err)
		}
		skip := st.SentUntil
		if oldest := now().Add(-o.catchUp); skip.Before(oldest) && st.LiveStart.Before(oldest) {
			log.Warn("feed: stopped too long; events older than the catch-up window are not sent", "catch_up", o.catchUp)
			skip = oldest
		}
		log.Info("feed: live", "from", st.LiveStart, "until", g.Config().End, "resume_after", skip)
		var saved time.Time
		var saveErr error
		sent := func(upTo time.Time) {
			st.SentUntil = upTo
			if time.Since(saved) >= feedSaveEvery {
				saved = time.Now()
				if err := st.save(path); err != nil && saveErr == nil {
					saveErr = err
					log.Error("feed: cannot save the state; a restart would resend events (the service drops them as duplicates)", "err", err)
				}
			}
		}
		_, err = sim.Live(ctx, g, c, sim.LiveOptions{Interval: o.interval, Now: now, SkipUntil: skip, Sent: sent, Log: log})
		if serr := st.save(path); serr != nil {
			return errors.Join(err, serr)
		}
		if err != nil {
			return fmt.Errorf("feed: live: %w", err)
		}
		// The run reached its horizon: the next one starts where it ended,
		// with its own ids and incidents.
		st.LiveStart = g.Config().End
		if err := st.save(path); err != nil {
			return err
		}
	}
}
