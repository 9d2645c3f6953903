package briefing_test

import (
	"context"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/data"
	"github.com/stretchr/testify/require"

	"github.com/storepulse/storepulse/datasource/pkg/plugin/plugintest"
	"github.com/storepulse/storepulse/digest/briefing"
	"github.com/storepulse/storepulse/digest/internal/digesttest"
	"github.com/storepulse/storepulse/ingest/sim"
	"github.com/storepulse/storepulse/internal/localday"
)

// TestBriefingInflux builds briefings from the fixed simulated data set in a
// real InfluxDB 1.8: the numbers against an independent count of the
// simulated events, a quiet day, and the planted incident.
func TestBriefingInflux(t *testing.T) {
	f := digesttest.Start(t)
	pb, err := briefing.LoadPlaybook(f.Engine.Catalog, "")
	require.NoError(t, err)
	b, err := briefing.New(briefing.Options{Engine: f.Engine, Location: digesttest.Shanghai(), Now: digesttest.Now, Playbook: pb,
		Business: "Demo Retail", Currency: "CNY", GrafanaURL: "https://grafana.example.com"})
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	incident, err := b.Build(ctx, "", "") // yesterday by the clock
	require.NoError(t, err)
	require.Equal(t, digesttest.IncidentDay, incident.Date)

	t.Run("numbers", func(t *testing.T) { checkNumbers(t, incident) })

	t.Run("same as the plugin", func(t *testing.T) {
		// Each glance number equals what the plugin answers over gRPC for
		// the same query (the day, a week earlier, the target).
		c := plugintest.ServeAt(t, digesttest.Now())
		pc := plugintest.Context(f.Server, "storepulse-kpi", "Asia/Shanghai")
		day, err := time.ParseInLocation(time.DateOnly, incident.Date, digesttest.Shanghai())
		require.NoError(t, err)
		for _, h := range incident.Glance {
			r := plugintest.Query(ctx, t, c, pc, "A", "kpi", []byte(`{"kpi":"`+h.KPI+`","interval":"day","compare":"1w","compareOutputs":["series"]}`),
				day, day.AddDate(0, 0, 1))
			require.NoError(t, r.Error, plugintest.String(r))
			require.Len(t, r.Frames, 2, h.KPI)
			requireSame(t, h.Value, lastValue(t, r.Frames[0]), h.KPI)
			requireSame(t, h.LastWeek, lastValue(t, r.Frames[1]), h.KPI+" last week")
			r = plugintest.Query(ctx, t, c, pc, "B", "kpi", []byte(`{"kpi":"`+h.KPI+`","interval":"day","target":true}`), day, day.AddDate(0, 0, 1))
			require.NoError(t, r.Error, plugintest.String(r))
			require.Len(t, r.Frames, 3, h.KPI)
			requireSame(t, h.Target, lastValue(t, r.Frames[1]), h.KPI+" target")
		}
	})

	t.Run("quiet day", func(t *testing.T) {
		quiet, err := b.Build(ctx, digesttest.QuietDay, "")
		require.NoError(t, err)
		require.True(t, quiet.NothingUnusual, "changes on the quiet day: %+v", quiet.Changes)
		require.Empty(t, quiet.Changes)
	})

	t.Run("incident", func(t *testing.T) {
		require.False(t, incident.NothingUnusual)
		require.NotEmpty(t, incident.Changes)
		first := incident.Changes[0]
		// The checkout failure shows as orders per session collapsing.
		require.Contains(t, []string{"order_conversion_rate", "orders", "conversion_rate", "cart_abandonment"}, first.KPI)
		require.Equal(t, "down", map[bool]string{true: "up", false: "down"}[first.Value > first.Expected])
		require.Equal(t, briefing.ToneBad, first.Tone)
		require.True(t, first.Store == digesttest.IncidentStore || hasReason(first, briefing.ReasonDimension, "store", digesttest.IncidentStore),
			"the store is not named: %+v", first)
		require.True(t, hasReason(first, briefing.ReasonFunnel, "", "orders"), "the funnel step is not named: %+v", first.Reasons)
		require.NotEmpty(t, first.Actions)
		require.Equal(t, "checkout-broken", first.Actions[0].Rule)
		require.Contains(t, first.Link, "var-kpi="+first.KPI)
		for _, c := range incident.Changes {
			require.NotEmpty(t, c.Actions, "change %s %s has no suggestion", c.KPI, c.Store)
			require.NotEmpty(t, c.Reasons, "change %s %s has no reason", c.KPI, c.Store)
		}
	})

	t.Run("rhythm", func(t *testing.T) {
		var warm *briefing.PhasePlan
		for _, c := range incident.Rhythm.Campaigns {
			for i, p := range c.Phases {
				if c.ID == "618-2026" && p.Name == "warm-up" {
					warm = &c.Phases[i]
				}
			}
		}
		require.NotNil(t, warm, "618 is not in the next 30 days: %+v", incident.Rhythm.Campaigns)
		require.Equal(t, briefing.PhaseUpcoming, warm.State)
		require.Equal(t, 5, warm.Days) // from the morning of 2026-05-20 to 2026-05-25
		require.Equal(t, "618 Mid-Year Sale 2026 warm-up starts in 5 days", warm.Text)
	})

	t.Run("store", func(t *testing.T) {
		one, err := b.Build(ctx, digesttest.IncidentDay, digesttest.IncidentStore)
		require.NoError(t, err)
		require.Equal(t, digesttest.IncidentStore, one.Store)
		require.NotEmpty(t, one.Changes)
		want := dayTotals(t, digesttest.IncidentDay, digesttest.IncidentStore)
		require.InDelta(t, want.gmv, *headline(t, one, "gmv").Value, 1e-6)
	})
}

func hasReason(c briefing.Change, kind, dim, value string) bool {
	return slices.ContainsFunc(c.Reasons, func(r briefing.Reason) bool {
		return r.Kind == kind && (dim == "" || r.Dimension == dim) && r.Value == value
	})
}

func headline(t *testing.T, br *briefing.Briefing, id string) briefing.Headline {
	t.Helper()
	i := slices.IndexFunc(br.Glance, func(h briefing.Headline) bool { return h.KPI == id })
	require.GreaterOrEqual(t, i, 0, "no headline %s", id)
	return br.Glance[i]
}

// totals are one local day's numbers counted from the simulated events.
type totals struct {
	gmv, orders, paid, paidOrders, refunds, signups float64
	consultations, converted                        float64
	visitors, buyers, active                        map[string]bool
}

// dayTotals regenerates the simulated events and adds up those of the
// local date (of one store when store is set): an independent computation,
// not through the ingest rollup nor the engine.
func dayTotals(t *testing.T, date, store string) totals {
	t.Helper()
	all := daysTotals(t, store)
	return *all[date]
}

func daysTotals(t *testing.T, store string) map[string]*totals {
	t.Helper()
	g, err := sim.New(digesttest.Config())
	require.NoError(t, err)
	loc := digesttest.Shanghai()
	out := map[string]*totals{}
	for {
		evs, ok := g.Next()
		if !ok {
			break
		}
		for i := range evs {
			e := &evs[i]
			if store != "" && e.Store != store {
				continue
			}
			date := e.Time.In(loc).Format(time.DateOnly)
			d := out[date]
			if d == nil {
				d = &totals{visitors: map[string]bool{}, buyers: map[string]bool{}, active: map[string]bool{}}
				out[date] = d
			}
			switch e.Type {
			case sim.TypeOrder:
				d.gmv += e.Amount
				d.orders++
				addID(d.buyers, e.User)
				addID(d.active, e.User)
			case sim.TypePayment:
				d.paid += e.Amount
				d.paidOrders++
				addID(d.active, e.User)
			case sim.TypeRefund:
				d.refunds += e.Amount
			case sim.TypeSignup:
				d.signups++
				addID(d.active, e.User)
			case sim.TypeSession:
				addID(d.visitors, e.Visitor)
				addID(d.active, e.User)
			case sim.TypeConsultation:
				d.consultations++
				if e.Converted {
					d.converted++
				}
				addID(d.active, e.User)
			}
		}
	}
	return out
}

// checkNumbers compares the glance with the events counted directly.
func checkNumbers(t *testing.T, br *briefing.Briefing) {
	days := daysTotals(t, "")
	loc := digesttest.Shanghai()
	d := days[br.Date]
	day, err := time.ParseInLocation(time.DateOnly, br.Date, loc)
	require.NoError(t, err)
	lastWeek := days[day.AddDate(0, 0, -7).Format(time.DateOnly)]
	sum := func(from string, get func(*totals) float64) float64 {
		s := 0.0
		for date, x := range days {
			if date >= from && date <= br.Date {
				s += get(x)
			}
		}
		return s
	}
	monthStart := localday.MonthStart(day, loc).Format(time.DateOnly)
	weekStart := localday.WeekStart(day, loc).Format(time.DateOnly)

	exact := []struct {
		kpi         string
		value, week float64
		get         func(*totals) float64
	}{
		{"gmv", d.gmv, lastWeek.gmv, func(x *totals) float64 { return x.gmv }},
		{"paid_revenue", d.paid, lastWeek.paid, func(x *totals) float64 { return x.paid }},
		{"orders", d.orders, lastWeek.orders, func(x *totals) float64 { return x.orders }},
		{"new_users", d.signups, lastWeek.signups, func(x *totals) float64 { return x.signups }},
	}
	for _, c := range exact {
		h := headline(t, br, c.kpi)
		require.InDelta(t, c.value, *h.Value, 1e-6*math.Max(1, c.value), c.kpi)
		require.InDelta(t, c.week, *h.LastWeek, 1e-6*math.Max(1, c.week), c.kpi+" last week")
		require.InDelta(t, (c.value-c.week)/c.week, *h.Change, 1e-9, c.kpi+" change")
		require.InDelta(t, sum(monthStart, c.get), *h.MonthToDate.Value, 1e-6*sum(monthStart, c.get), c.kpi+" month to date")
		require.InDelta(t, sum(weekStart, c.get), *h.WeekToDate.Value, 1e-6*sum(weekStart, c.get), c.kpi+" week to date")
		require.Len(t, h.Spark, briefing.SparkDays)
		require.InDelta(t, c.value, *h.Spark[briefing.SparkDays-1], 1e-6*math.Max(1, c.value))
	}
	require.InDelta(t, d.gmv/d.orders, *headline(t, br, "aov").Value, 1e-9)
	require.InDelta(t, d.refunds/d.paid, *headline(t, br, "refund_rate").Value, 1e-9)
	require.InDelta(t, d.converted/d.consultations, *headline(t, br, "consultation_conversion").Value, 1e-9)
	// Distinct counts are HyperLogLog estimates: within 2 %.
	require.InEpsilon(t, float64(len(d.active)), *headline(t, br, "active_users").Value, 0.02)
	monthActive := map[string]bool{}
	for date, x := range days {
		if date >= monthStart && date <= br.Date {
			for u := range x.active {
				monthActive[u] = true
			}
		}
	}
	require.InEpsilon(t, float64(len(monthActive)), *headline(t, br, "active_users").MonthToDate.Value, 0.02)
	require.InEpsilon(t, float64(len(d.buyers))/float64(len(d.visitors)), *headline(t, br, "conversion_rate").Value, 0.03)

	// Targets: the simulator's daily targets for all stores.
	targets := map[string]float64{}
	for _, tg := range digesttest.Targets(t) {
		if tg.KPI == "gmv" && tg.Store == "all" && tg.Period == "day" {
			targets[tg.Start] = tg.Value
		}
	}
	gmv := headline(t, br, "gmv")
	require.InDelta(t, targets[br.Date], *gmv.Target, 1e-6)
	require.InDelta(t, d.gmv/targets[br.Date], *gmv.Attainment, 1e-9)
	wt := 0.0
	for date, v := range targets {
		if date >= weekStart && date <= br.Date {
			wt += v
		}
	}
	require.InDelta(t, wt, *gmv.WeekToDate.Target, 1e-6)
	mt := 0.0
	for date, v := range targets {
		if date[:7] == br.Date[:7] {
			mt += v
		}
	}
	require.NotNil(t, gmv.Forecast)
	require.Equal(t, "days", gmv.Forecast.TargetSource)
	require.InDelta(t, mt, *gmv.Forecast.Target, 1e-6)
	require.NotNil(t, gmv.Forecast.Value)
	// The month's forecast made on the 19th lies above what is already sold.
	require.Greater(t, *gmv.Forecast.Value, sum(monthStart, func(x *totals) float64 { return x.gmv }))
}

// addID adds a non-empty id (the rollup's rule: an anonymous session feeds
// no user count).
func addID(set map[string]bool, id string) {
	if id != "" {
		set[id] = true
	}
}

// lastValue is the last value of a frame's numeric field.
func lastValue(t *testing.T, fr *data.Frame) *float64 {
	t.Helper()
	for _, fld := range fr.Fields {
		if fld.Type() == data.FieldTypeNullableFloat64 && fld.Len() > 0 {
			return fld.At(fld.Len() - 1).(*float64)
		}
	}
	t.Fatalf("frame %s has no numeric field", fr.Name)
	return nil
}

func requireSame(t *testing.T, want, got *float64, what string) {
	t.Helper()
	if want == nil || got == nil {
		require.Equal(t, want == nil, got == nil, what)
		return
	}
	require.InDelta(t, *want, *got, 1e-9*math.Max(1, math.Abs(*want)), what)
}
