// Package digesttest is the fixed simulated data set of the briefing's
// integration tests, loaded into a real InfluxDB 1.8 (internal/influxtest).
package digesttest

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/storepulse/storepulse/datasource/pkg/engine"
	"github.com/storepulse/storepulse/datasource/pkg/engine/influxql"
	"github.com/storepulse/storepulse/ingest/sim"
	"github.com/storepulse/storepulse/internal/calendar"
	"github.com/storepulse/storepulse/internal/influxtest"
	"github.com/storepulse/storepulse/internal/kpi"
	"github.com/storepulse/storepulse/internal/simload"
)

// Shanghai is the stores' time zone.
func Shanghai() *time.Location {
	loc, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		panic(err)
	}
	return loc
}

// The data set: 3 simulated stores (seed 7, scale 0.5) from Monday
// 2026-03-16 to the briefing's morning, Wednesday 2026-05-20 07:00 in
// Shanghai, with a checkout failure planted at s001 from 09:00 to 21:00 on
// Tuesday 2026-05-19 (IncidentDay, the day briefed by default) and nothing
// planted on Tuesday 2026-05-12 (QuietDay). 618's warm-up starts on
// 2026-05-25.
const (
	IncidentDay   = "2026-05-19"
	QuietDay      = "2026-05-12"
	IncidentStore = "s001"
)

// Now is the briefing's morning.
func Now() time.Time { return time.Date(2026, 5, 20, 7, 0, 0, 0, Shanghai()) }

// Config is the simulator's configuration of the data set.
func Config() sim.Config {
	sh := Shanghai()
	in := sim.Incident{Store: IncidentStore, Kind: sim.IncidentCheckoutFailure,
		Start: time.Date(2026, 5, 19, 9, 0, 0, 0, sh), End: time.Date(2026, 5, 19, 21, 0, 0, 0, sh)}
	return sim.Config{Seed: 7, NumStores: 3, Scale: 0.5, Location: sh,
		Start: time.Date(2026, 3, 16, 0, 0, 0, 0, sh), End: Now(), IncidentPlan: []sim.Incident{in}}
}

// Targets are the simulator's daily targets of the data set's days and of
// the rest of May.
func Targets(t testing.TB) []sim.Target {
	t.Helper()
	cfg := Config()
	cfg.End = time.Date(2026, 6, 1, 0, 0, 0, 0, Shanghai())
	g, err := sim.New(cfg)
	require.NoError(t, err)
	return g.Targets()
}

// Campaign618 is 2026's 618 Mid-Year Sale.
func Campaign618() calendar.Campaign {
	sh := Shanghai()
	d := func(m time.Month, day int) time.Time { return time.Date(2026, m, day, 0, 0, 0, 0, sh) }
	return calendar.Campaign{ID: "618-2026", Name: "618 Mid-Year Sale 2026", Kind: "618", Stores: []string{}, Phases: []calendar.Phase{
		{Name: "warm-up", Start: d(5, 25), End: d(6, 1)}, {Name: "pre-sale", Start: d(6, 1), End: d(6, 18)},
		{Name: "peak", Start: d(6, 18), End: d(6, 19)}, {Name: "after-sales", Start: d(6, 19), End: d(6, 26)}}}
}

// Fixture is a running InfluxDB holding the data set and an engine reading
// it with InfluxQL, on a clock stopped at Now.
type Fixture struct {
	Server *influxtest.Server
	Sim    *simload.Result
	Engine *engine.Engine
}

// Start starts InfluxDB, loads the data set and builds the engine.
func Start(t testing.TB) *Fixture {
	t.Helper()
	srv := influxtest.Start(t)
	res := simload.Into(t, srv, Config())
	require.Len(t, res.Generator.Incidents(), 1)
	// The simulator writes the campaigns of its own range; 618 is planned
	// ahead in the calendar, as an operator would (its phases as the
	// simulator's, ingest/sim/calendar.go).
	c := Campaign618()
	line, err := calendar.CampaignLine(&c, false)
	require.NoError(t, err)
	lines := []string{line}
	// Targets are set ahead too: the simulator's daily targets to the end
	// of May, so that the month has a target.
	for _, tg := range Targets(t) {
		ct := calendar.Target{KPI: tg.KPI, Store: tg.Store, Period: tg.Period, Start: tg.Start, Value: tg.Value}
		l, err := calendar.TargetLine(&ct, Shanghai(), false)
		require.NoError(t, err)
		lines = append(lines, l)
	}
	srv.WriteLines(t, lines)
	src, err := influxql.New(srv.URL, srv.Token, srv.Bucket, nil)
	require.NoError(t, err)
	e := &engine.Engine{Catalog: kpi.Default(), Source: src, Location: Shanghai(), SeriesLimit: 500, Now: Now}
	return &Fixture{Server: srv, Sim: res, Engine: e}
}
