package engine_test

import (
	"context"
	"math/rand/v2"
	"sort"
	"testing"
	"time"

	influxdb2 "github.com/influxdata/influxdb-client-go/v2"
	"github.com/influxdata/influxdb-client-go/v2/api"
	"github.com/stretchr/testify/require"

	"github.com/storepulse/storepulse/datasource/pkg/bucket"
	"github.com/storepulse/storepulse/datasource/pkg/engine"
	"github.com/storepulse/storepulse/datasource/pkg/engine/flux"
	"github.com/storepulse/storepulse/datasource/pkg/models"
	"github.com/storepulse/storepulse/ingest/event"
	"github.com/storepulse/storepulse/ingest/rollup"
	"github.com/storepulse/storepulse/internal/calendar"
	"github.com/storepulse/storepulse/internal/influxtest"
	"github.com/storepulse/storepulse/internal/kpi"
)

// TestTransformsAgainstInfluxDB checks target, topN, funnel, contribution
// and the campaign calendar against a real InfluxDB fed through the ingest
// rollup and the calendar's stored lines, each against an independent
// computation from the raw events.
func TestTransformsAgainstInfluxDB(t *testing.T) {
	srv := influxtest.Start(t)
	client := influxdb2.NewClient(srv.URL, srv.Token)
	defer client.Close()
	ctx := context.Background()
	sh, err := time.LoadLocation("Asia/Shanghai")
	require.NoError(t, err)

	from := time.Date(2026, 11, 20, 0, 0, 0, 0, sh)
	rng := rand.New(rand.NewPCG(7, 11))
	events := storeEvents(rng, 12000, from, 72*time.Hour)
	for i := range events {
		if events[i].Type == event.TypeSession {
			events[i].AddedToCart = rng.IntN(4) == 0
		}
	}
	r, err := rollup.New(rollup.Options{Ingester: "i1", Location: sh, CacheSize: 100000,
		Sketches: rollup.NewInfluxSketches(client.QueryAPI(srv.Org), srv.Bucket, "i1")})
	require.NoError(t, err)
	for s := range 2 {
		seg := r.NewSegment(uint64(200 + s))
		seg.Add(&event.Batch{Events: events[s*len(events)/2 : (s+1)*len(events)/2]})
		lines, err := r.Lines(ctx, seg)
		require.NoError(t, err)
		writeLines(t, srv, lines)
	}

	// Targets as the calendar API stores them; s1's first day is deleted again.
	var lines []string
	targets := []calendar.Target{
		{KPI: "gmv", Store: "s0", Period: "day", Start: "2026-11-20", Value: 50000},
		{KPI: "gmv", Store: "s0", Period: "day", Start: "2026-11-21", Value: 40000},
		{KPI: "gmv", Store: "s1", Period: "day", Start: "2026-11-20", Value: 30000},
		{KPI: "gmv", Store: "s2", Period: "day", Start: "2026-11-22", Value: 0},
		{KPI: "gmv", Store: "all", Period: "day", Start: "2026-11-21", Value: 150000},
		{KPI: "gmv", Store: "s0", Period: "week", Start: "2026-11-16", Value: 1},
		{KPI: "orders", Store: "s0", Period: "day", Start: "2026-11-20", Value: 1},
	}
	for i := range targets {
		require.NoError(t, targets[i].Validate(sh))
		l, err := calendar.TargetLine(&targets[i], sh, false)
		require.NoError(t, err)
		lines = append(lines, l)
	}
	writeLines(t, srv, lines)
	gone, err := calendar.TargetLine(&targets[2], sh, true)
	require.NoError(t, err)
	writeLines(t, srv, []string{gone})

	// Campaigns: one live, one replaced by a tombstone.
	d11 := calendar.Campaign{ID: "d11", Name: "Double Eleven", Kind: "double11", Stores: []string{"s0"}, Phases: []calendar.Phase{
		{Name: calendar.PhasePeak, Start: from.AddDate(0, 0, -9), End: from.AddDate(0, 0, -8)},
		{Name: calendar.PhaseAfterSales, Start: from.AddDate(0, 0, -8), End: from.AddDate(0, 0, 1)}}}
	old := calendar.Campaign{ID: "old", Name: "Cancelled", Kind: "weekly", Phases: []calendar.Phase{
		{Name: calendar.PhaseActivity, Start: from, End: from.AddDate(0, 0, 2)}}}
	var cl []string
	for _, c := range []struct {
		c       *calendar.Campaign
		deleted bool
	}{{&d11, false}, {&old, false}, {&old, true}} {
		l, err := calendar.CampaignLine(c.c, c.deleted)
		require.NoError(t, err)
		cl = append(cl, l)
	}
	writeLines(t, srv, cl[:2])
	writeLines(t, srv, cl[2:])

	e := &engine.Engine{Catalog: kpi.Default(), Source: &flux.Source{QueryAPI: func() api.QueryAPI { return client.QueryAPI(srv.Org) }, Bucket: srv.Bucket},
		Location: sh, SeriesLimit: 100, Now: func() time.Time { return from.AddDate(0, 0, 10) }}
	to := from.AddDate(0, 0, 3)
	day := func(t time.Time) time.Time { return bucket.Midnight(t, sh) }
	days := []time.Time{from, from.AddDate(0, 0, 1), from.AddDate(0, 0, 2)}
	// gmvBy[store][day] from the raw events.
	gmvBy := map[string]map[int64]float64{}
	for _, ev := range events {
		if ev.Type != event.TypeOrder {
			continue
		}
		if gmvBy[ev.Store] == nil {
			gmvBy[ev.Store] = map[int64]float64{}
		}
		gmvBy[ev.Store][day(time.Unix(0, ev.Time)).Unix()] += ev.Amount
	}

	t.Run("target per store", func(t *testing.T) {
		res, err := e.Run(ctx, engine.Request{Query: models.Query{KPI: "gmv", Interval: "day", Target: true, GroupBy: []string{"store"}}, From: from, To: to})
		require.NoError(t, err)
		require.Len(t, res.Series, 9)
		want := map[string][]*float64{"s0": {ptr(50000), ptr(40000), nil}, "s1": {nil, nil, nil}, "s2": {nil, nil, ptr(0)}}
		for i := 0; i < 9; i += 3 {
			store := res.Series[i].Groups[0]
			require.Equal(t, []string{engine.RoleCurrent, engine.RoleTarget, engine.RoleAttainment}, []string{res.Series[i].Role, res.Series[i+1].Role, res.Series[i+2].Role})
			for j, d := range days {
				actual := gmvBy[store][d.Unix()]
				require.InDelta(t, actual, *res.Series[i].Values[j], 1e-6)
				w := want[store][j]
				if w == nil {
					require.Nil(t, res.Series[i+1].Values[j], "%s %s", store, d)
					require.Nil(t, res.Series[i+2].Values[j])
					continue
				}
				require.Equal(t, *w, *res.Series[i+1].Values[j], "%s %s", store, d)
				if *w == 0 {
					require.Nil(t, res.Series[i+2].Values[j])
				} else {
					require.InDelta(t, actual / *w, *res.Series[i+2].Values[j], 1e-9)
				}
			}
		}
	})
	t.Run("target of the whole business", func(t *testing.T) {
		res, err := e.Run(ctx, engine.Request{Query: models.Query{KPI: "gmv", Interval: "day", Target: true}, From: from, To: to})
		require.NoError(t, err)
		total := 0.0
		for _, s := range gmvBy {
			total += s[days[1].Unix()]
		}
		require.Nil(t, res.Series[1].Values[0])
		require.Equal(t, 150000.0, *res.Series[1].Values[1])
		require.InDelta(t, total/150000, *res.Series[2].Values[1], 1e-9)
	})

	t.Run("top 2 stores by GMV, the third as other", func(t *testing.T) {
		res, err := e.Run(ctx, engine.Request{Query: models.Query{KPI: "gmv", Interval: "day", TopN: &models.TopN{N: 2, By: "store"}}, From: from, To: to})
		require.NoError(t, err)
		stores := []string{"s0", "s1", "s2"}
		tot := func(s string) float64 {
			v := 0.0
			for _, x := range gmvBy[s] {
				v += x
			}
			return v
		}
		sort.Slice(stores, func(i, j int) bool { return tot(stores[i]) > tot(stores[j]) })
		require.Len(t, res.Series, 3)
		for i, want := range []string{stores[0], stores[1], engine.OtherValue} {
			require.Equal(t, []string{want}, res.Series[i].Groups)
			src := want
			if want == engine.OtherValue {
				src = stores[2]
			}
			for j, d := range days {
				require.InDelta(t, gmvBy[src][d.Unix()], *res.Series[i].Values[j], 1e-6)
			}
		}
	})

	t.Run("funnel by channel for two stores", func(t *testing.T) {
		fFrom, fTo := from.Add(5*time.Hour), from.Add(50*time.Hour)
		res, err := e.Funnel(ctx, engine.Request{Query: models.Query{Funnel: true, GroupBy: []string{"channel"}, Filters: map[string][]string{"store": {"s0", "s2"}}},
			From: fFrom, To: fTo})
		require.NoError(t, err)
		want := map[string][]float64{}
		paid := map[string]map[string]bool{} // channel -> paid order ids
		for _, ev := range events {
			at := time.Unix(0, ev.Time)
			if at.Before(fFrom) || !at.Before(fTo) || ev.Store == "s1" {
				continue
			}
			if want[ev.Channel] == nil {
				want[ev.Channel] = make([]float64, 4)
			}
			switch ev.Type {
			case event.TypeSession:
				want[ev.Channel][0]++
				if ev.AddedToCart {
					want[ev.Channel][1]++
				}
			case event.TypeOrder:
				want[ev.Channel][2]++
			case event.TypePayment:
				if paid[ev.Channel] == nil {
					paid[ev.Channel] = map[string]bool{}
				}
				paid[ev.Channel][ev.Order] = true
				want[ev.Channel][3] = float64(len(paid[ev.Channel]))
			}
		}
		require.Len(t, res.Groups, 2)
		for _, g := range res.Groups {
			w := want[g.Groups[0]]
			require.NotNil(t, w, g.Groups)
			for i, s := range g.Steps {
				tol := 1e-12 // sums are exact; paid orders are distinct order ids (sketches)
				if s.Name == "paid" {
					tol = 0.02
				}
				require.InEpsilon(t, w[i], s.Value, max(tol, 1e-12), "%s %s", g.Groups[0], s.Name)
				if i > 0 {
					require.InEpsilon(t, w[i]/w[i-1], *s.StepRate, max(tol, 1e-12))
					require.InEpsilon(t, w[i]/w[0], *s.OverallRate, max(tol, 1e-12))
				}
			}
		}
	})

	t.Run("contribution of channels to the day-on-day change of AOV", func(t *testing.T) {
		cFrom := days[2]
		res, err := e.Contribution(ctx, engine.Request{Query: models.Query{KPI: "aov", Compare: "1d", Contribution: &models.Contribution{Dimension: "channel"}},
			From: cFrom, To: to})
		require.NoError(t, err)
		type nd struct{ n, d float64 }
		acc := map[bool]map[string]*nd{true: {}, false: {}}
		var tot [2]nd
		for _, ev := range events {
			at := time.Unix(0, ev.Time)
			if ev.Type != event.TypeOrder || at.Before(days[1]) || !at.Before(to) {
				continue
			}
			cur := !at.Before(cFrom)
			if acc[cur][ev.Channel] == nil {
				acc[cur][ev.Channel] = &nd{}
			}
			acc[cur][ev.Channel].n += ev.Amount
			acc[cur][ev.Channel].d++
			i := 0
			if cur {
				i = 1
			}
			tot[i].n += ev.Amount
			tot[i].d++
		}
		require.InDelta(t, tot[1].n/tot[1].d-tot[0].n/tot[0].d, *res.Change, 1e-9)
		require.Len(t, res.Rows, 2)
		sum := 0.0
		for _, r := range res.Rows {
			c, p := acc[true][r.Value], acc[false][r.Value]
			require.InDelta(t, c.n/tot[1].d-p.n/tot[0].d, *r.Contribution, 1e-9, r.Value)
			require.InDelta(t, c.n/c.d, *r.Current, 1e-9)
			sum += *r.Contribution
		}
		require.InDelta(t, *res.Change, sum, 1e-9)
		require.GreaterOrEqual(t, abs(*res.Rows[0].Contribution), abs(*res.Rows[1].Contribution))
	})

	t.Run("campaigns: tombstones skipped, phases overlapping the range", func(t *testing.T) {
		cs, err := e.Source.Campaigns(ctx)
		require.NoError(t, err)
		require.Len(t, cs, 1)
		require.Equal(t, d11.ID, cs[0].ID)
		require.True(t, d11.Phases[1].End.Equal(cs[0].Phases[1].End))
		rows, err := e.CampaignPhases(ctx, from, to, map[string][]string{"store": {"s0"}})
		require.NoError(t, err)
		require.Len(t, rows, 1)
		require.Equal(t, calendar.PhaseAfterSales, rows[0].Phase.Name)
		rows, err = e.CampaignPhases(ctx, from, to, map[string][]string{"store": {"s1"}})
		require.NoError(t, err)
		require.Empty(t, rows)
	})
}

func abs(f float64) float64 {
	if f < 0 {
		return -f
	}
	return f
}
