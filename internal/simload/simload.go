// Package simload fills an InfluxDB with simulated store data without the
// ingest service's HTTP layer: the simulator's events go through the ingest
// parser and rollup (the same code the service runs) and the rolled-up lines,
// campaigns and targets are written straight to InfluxDB. Tests and
// benchmarks of the datasource, dashboards and alert rules use it to get
// realistic data quickly; the end-to-end path through the service is tested
// in ingest/simtest.
package simload

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/storepulse/storepulse/ingest/parse"
	"github.com/storepulse/storepulse/ingest/rollup"
	"github.com/storepulse/storepulse/ingest/sim"
	"github.com/storepulse/storepulse/internal/calendar"
	"github.com/storepulse/storepulse/internal/influxql"
	"github.com/storepulse/storepulse/internal/influxtest"
)

// Target is the InfluxDB to fill.
type Target struct {
	URL, Token, Org, Bucket string
	// Write writes line-protocol lines to the bucket (for example
	// influxtest.Server.WriteLines wrapped in a closure). Required.
	Write func(ctx context.Context, lines []string) error
	// Ingester is the rolled-up points' ingester tag ("simload" when
	// empty): loads of disjoint time ranges run at once under different
	// names, as two ingest instances would write.
	Ingester string
}

// Result describes what was loaded.
type Result struct {
	Generator *sim.Generator // for Incidents(), Config() and the like
	Events    int
	Campaigns []calendar.Campaign
	Targets   []calendar.Target
}

// Load simulates cfg and writes it into dst: events rolled up one simulated
// day per segment, then the campaign calendar and the simulator's daily
// targets.
func Load(ctx context.Context, dst Target, cfg sim.Config) (*Result, error) {
	if dst.Write == nil {
		return nil, errors.New("simload: Target.Write is required")
	}
	g, err := sim.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("simload: %w", err)
	}
	loc := g.Config().Location
	ingester := dst.Ingester
	if ingester == "" {
		ingester = "simload"
	}
	db, rp, err := influxql.SplitBucket(dst.Bucket)
	if err != nil {
		return nil, fmt.Errorf("simload: %w", err)
	}
	// The ingest's own sketch reader (InfluxQL), for the windows a segment
	// shares with those before it. (Flux's, used before, took over 20 s a
	// segment once a bucket held a few months of 100 stores.)
	ql := &influxql.Client{URL: dst.URL, Token: dst.Token, Database: db, RetentionPolicy: rp, Timeout: 5 * time.Minute}
	r, err := rollup.New(rollup.Options{Ingester: ingester, Location: loc, CacheSize: 1 << 20,
		Sketches: rollup.NewInfluxQLSketches(ql, ingester)})
	if err != nil {
		return nil, fmt.Errorf("simload: rollup: %w", err)
	}
	// Every simulated event is "late" relative to the real clock; accept them all.
	end := g.Config().End
	lim := parse.Limits{MaxItems: 1 << 24, LateHorizon: 100 * 365 * 24 * time.Hour, Now: func() time.Time { return end }}

	res := &Result{Generator: g}
	var buf []byte
	seg := uint64(1)
	flush := func() error {
		if len(buf) == 0 {
			return nil
		}
		b, err := parse.Events(bytes.NewReader(buf), lim)
		if err != nil {
			return fmt.Errorf("simload: simulated events rejected by the parser: %w", err)
		}
		s := r.NewSegment(seg)
		seg++
		s.Add(&b)
		lines, err := r.Lines(ctx, s)
		if err != nil {
			return fmt.Errorf("simload: rollup: %w", err)
		}
		buf = buf[:0]
		return dst.Write(ctx, lines)
	}
	for h := 0; ; h++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		evs, ok := g.Next()
		if !ok {
			break
		}
		for i := range evs {
			buf = evs[i].AppendJSON(buf, loc)
			buf = append(buf, '\n')
			res.Events++
		}
		if h%24 == 23 {
			if err := flush(); err != nil {
				return nil, err
			}
		}
	}
	if err := flush(); err != nil {
		return nil, err
	}

	var lines []string
	for _, c := range g.Campaigns() {
		cc := calendar.Campaign{ID: c.ID, Name: c.Name, Kind: c.Kind, Stores: c.Stores}
		for _, p := range c.Phases {
			cc.Phases = append(cc.Phases, calendar.Phase{Name: p.Name, Start: p.Start, End: p.End})
		}
		l, err := calendar.CampaignLine(&cc, false)
		if err != nil {
			return nil, fmt.Errorf("simload: campaign %s: %w", c.ID, err)
		}
		lines = append(lines, l)
		res.Campaigns = append(res.Campaigns, cc)
	}
	for _, t := range g.Targets() {
		ct := calendar.Target{KPI: t.KPI, Store: t.Store, Period: t.Period, Start: t.Start, Value: t.Value}
		l, err := calendar.TargetLine(&ct, loc, false)
		if err != nil {
			return nil, fmt.Errorf("simload: target %s %s %s: %w", t.KPI, t.Store, t.Start, err)
		}
		lines = append(lines, l)
		res.Targets = append(res.Targets, ct)
	}
	for len(lines) > 0 {
		n := min(len(lines), 5000)
		if err := dst.Write(ctx, lines[:n]); err != nil {
			return nil, err
		}
		lines = lines[n:]
	}
	return res, nil
}

// Into loads cfg into a test InfluxDB started by internal/influxtest and
// fails the test on any error.
func Into(t testing.TB, srv *influxtest.Server, cfg sim.Config) *Result {
	t.Helper()
	dst := Target{URL: srv.URL, Token: srv.Token, Org: srv.Org, Bucket: srv.Bucket,
		Write: func(_ context.Context, lines []string) error { srv.WriteLines(t, lines); return nil }}
	res, err := Load(context.Background(), dst, cfg)
	if err != nil {
		t.Fatalf("simload: %v", err)
	}
	return res
}
