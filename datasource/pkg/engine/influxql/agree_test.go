package influxql_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/axiomhq/hyperloglog"
	influxdb2 "github.com/influxdata/influxdb-client-go/v2"
	"github.com/influxdata/influxdb-client-go/v2/api"
	"github.com/stretchr/testify/require"

	"github.com/storepulse/storepulse/datasource/pkg/engine"
	"github.com/storepulse/storepulse/datasource/pkg/engine/flux"
	"github.com/storepulse/storepulse/datasource/pkg/engine/influxql"
	"github.com/storepulse/storepulse/datasource/pkg/models"
	"github.com/storepulse/storepulse/ingest/sim"
	"github.com/storepulse/storepulse/internal/influxtest"
	"github.com/storepulse/storepulse/internal/kpi"
	"github.com/storepulse/storepulse/internal/simload"
)

// The agreement tests: the same reads and the same engine requests through
// the Flux source (flux.Source, the oracle) and the InfluxQL source,
// on one real InfluxDB 1.8 filled with simulated stores plus hand-written
// edge cases, must give the same answers.
//
// One exception, found by these tests: Flux on InfluxDB 1.8 reads a stored
// point exactly at range(stop:) although Flux documents stop as exclusive
// (2.x excludes it): sum() counts it, aggregateWindow() adds it to the FIRST
// window (stamped with the range start), raw reads return it. The InfluxQL
// source follows the documented [start, stop). The tests check that the Flux
// answer differs exactly by such points (fluxAtStop) and the InfluxQL answer
// against hand-computed values.

type fixture struct {
	srv        *influxtest.Server
	flux, ql   engine.Source
	loc        *time.Location
	from, to   time.Time // the simulated days
	edge       time.Time // 00:00 UTC of the hand-written edge cases' day
	denseBytes int
}

func ns(t time.Time, off int64) string { return strconv.FormatInt(t.UnixNano()+off, 10) }

func setup(t *testing.T) *fixture {
	t.Helper()
	srv := influxtest.Start(t)
	sh, err := time.LoadLocation("Asia/Shanghai")
	require.NoError(t, err)
	from := time.Date(2026, 11, 9, 0, 0, 0, 0, sh)
	simload.Into(t, srv, sim.Config{Seed: 12, NumStores: 3, Days: 5, Start: from, Location: sh, Scale: 0.3})

	// Edge cases on their own day, 2026-11-20 UTC, store "edge":
	// points exactly on hour boundaries, points without channel (a missing
	// tag), integer and float fields, two ingesters and segment offsets,
	// and a dense sketch (over 16 KB binary).
	edge := time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
	h := func(n int) time.Time { return edge.Add(time.Duration(n) * time.Hour) }
	lines := []string{
		"sp_orders,ingester=i1,store=edge,channel=app gmv=10,orders=1 " + ns(h(0), 0),
		"sp_orders,ingester=i1,store=edge gmv=7,orders=1 " + ns(h(0), 5),
		"sp_orders,ingester=i2,store=edge gmv=1,orders=1 " + ns(h(1), -1),
		"sp_orders,ingester=i1,store=edge,channel=web gmv=100,orders=2,gmv_new=100 " + ns(h(1), 0),
		"sp_orders,ingester=i1,store=edge,channel=web gmv=1000,orders=3 " + ns(h(3), 0),
		"sp_orders,ingester=i1,store=edge,channel=web gmv=5,orders=1 " + ns(h(1), int64(40*time.Minute)),
		"sp_orders,ingester=i1,store=edge,channel=web,category=tv gmv=0.1,orders=1 " + ns(h(2), int64(17*time.Minute)),
		"sp_ingest,ingester=i1,store=edge,type=order events=3i " + ns(h(3), 0),
		"sp_ingest,ingester=i2,store=edge,type=order events=2i " + ns(h(2), 7),
		"sp_ingest,ingester=i1,type=order events=1i " + ns(h(4), 0), // no store
	}
	sk := hyperloglog.New14()
	for i := range 200000 {
		sk.InsertHash(uint64(i) * 0x9E3779B97F4A7C15)
	}
	bin, err := sk.MarshalBinary()
	require.NoError(t, err)
	dense := base64.StdEncoding.EncodeToString(bin)
	small := hyperloglog.New14()
	small.InsertHash(42)
	sbin, err := small.MarshalBinary()
	require.NoError(t, err)
	for _, w := range []string{"1h", "1d"} {
		lines = append(lines,
			fmt.Sprintf(`sp_distinct,ingester=i1,kind=buyer,store=edge,window=%s sketch="%s",estimate=%di %s`, w, dense, sk.Estimate(), ns(h(0), 0)),
			fmt.Sprintf(`sp_distinct,ingester=i1,kind=buyer,store=edge,channel=web,window=%s sketch="%s",estimate=1i %s`, w, base64.StdEncoding.EncodeToString(sbin), ns(h(1), 0)),
			fmt.Sprintf(`sp_distinct,ingester=i1,kind=buyer,store=edge,channel=app,window=%s sketch="%s",estimate=1i %s`, w, base64.StdEncoding.EncodeToString(sbin), ns(h(3), 0)))
	}
	srv.WriteLines(t, lines)

	client := influxdb2.NewClient(srv.URL, srv.Token)
	t.Cleanup(client.Close)
	ql, err := influxql.New(srv.URL, srv.Token, srv.Bucket, nil)
	require.NoError(t, err)
	return &fixture{srv: srv, loc: sh, from: from, to: from.AddDate(0, 0, 5), edge: edge, denseBytes: len(bin),
		flux: &flux.Source{QueryAPI: func() api.QueryAPI { return client.QueryAPI(srv.Org) }, Bucket: srv.Bucket},
		ql:   ql}
}

// same requires want and got equal as JSON, numbers within a relative 1e-9
// (sums added in another order).
func same(t *testing.T, want, got any, msg ...any) {
	t.Helper()
	var w, g any
	wb, err := json.Marshal(want)
	require.NoError(t, err)
	gb, err := json.Marshal(got)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(wb, &w))
	require.NoError(t, json.Unmarshal(gb, &g))
	if !near(w, g) {
		require.JSONEq(t, string(wb), string(gb), msg...) // shows the difference
		require.Fail(t, "numbers differ beyond 1e-9", msg...)
	}
}

func near(a, b any) bool {
	switch x := a.(type) {
	case float64:
		y, ok := b.(float64)
		return ok && math.Abs(x-y) <= 1e-9*math.Max(1, math.Max(math.Abs(x), math.Abs(y)))
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !near(x[i], y[i]) {
				return false
			}
		}
		return true
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k := range x {
			if !near(x[k], y[k]) {
				return false
			}
		}
		return true
	}
	return a == b
}

func sortedSums(rows []engine.SumRow) []engine.SumRow {
	slices.SortFunc(rows, func(a, b engine.SumRow) int {
		return strings.Compare(fmt.Sprint(a.Time.UnixNano(), a.Term, a.Groups), fmt.Sprint(b.Time.UnixNano(), b.Term, b.Groups))
	})
	for i := range rows {
		rows[i].Time = rows[i].Time.UTC()
	}
	return rows
}

func sketches(t *testing.T, s engine.Source, spec engine.SketchSpec) []engine.SketchRow {
	t.Helper()
	var rows []engine.SketchRow
	require.NoError(t, s.Sketches(context.Background(), spec, func(r engine.SketchRow) error {
		r.Time = r.Time.UTC()
		rows = append(rows, r)
		return nil
	}))
	slices.SortFunc(rows, func(a, b engine.SketchRow) int {
		return strings.Compare(fmt.Sprint(a.Time.UnixNano(), a.Kind, a.Groups, a.Sketch), fmt.Sprint(b.Time.UnixNano(), b.Kind, b.Groups, b.Sketch))
	})
	return rows
}

func TestSourcesAgree(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	orders := []engine.Term{{Measurement: "sp_orders", Field: "gmv"}, {Measurement: "sp_orders", Field: "orders"},
		{Measurement: "sp_orders", Field: "gmv_new"}}
	mixed := append(slices.Clone(orders), engine.Term{Measurement: "sp_payments", Field: "paid_amount"},
		engine.Term{Measurement: "sp_refunds", Field: "refund_amount"}, engine.Term{Measurement: "sp_traffic", Field: "sessions"},
		engine.Term{Measurement: "sp_ingest", Field: "events"})
	e := f.edge

	t.Run("sums", func(t *testing.T) {
		tests := []struct {
			name string
			spec engine.SumSpec
			want []engine.SumRow // checked too when set
		}{
			{"hourly, all simulated days", engine.SumSpec{Start: f.from, Stop: f.to, Every: time.Hour, Terms: mixed}, nil},
			{"daily total grouped by store and channel", engine.SumSpec{Start: f.from, Stop: f.to, Terms: mixed, GroupBy: []string{"store", "channel"}}, nil},
			{"15m, unaligned start and stop", engine.SumSpec{Start: f.from.Add(12*time.Hour + 17*time.Minute + 13*time.Second), Stop: f.to.Add(-29 * time.Minute),
				Every: 15 * time.Minute, Terms: orders, GroupBy: []string{"channel"}}, nil},
			{"1m windows, filters", engine.SumSpec{Start: f.from.Add(20 * time.Hour), Stop: f.from.Add(22 * time.Hour), Every: time.Minute,
				Terms: mixed, Filters: map[string][]string{"store": {"s002", "s003", "edge"}, "channel": {"app", "web"}}}, nil},
			{"a filter value no series has", engine.SumSpec{Start: f.from, Stop: f.to, Every: time.Hour, Terms: orders,
				Filters: map[string][]string{"store": {"x' OR 'a'='a"}}}, nil},
			{"edge: boundary points, missing channel, fill(none)", engine.SumSpec{Start: e, Stop: e.Add(3 * time.Hour), Every: time.Hour,
				Terms: orders, GroupBy: []string{"channel"}}, nil}, // want set below
			{"edge: unaligned start stamps the cut window at the start", engine.SumSpec{Start: e.Add(90 * time.Minute), Stop: e.Add(3*time.Hour + 1),
				Every: time.Hour, Terms: orders[:1], Filters: map[string][]string{"store": {"edge"}}}, []engine.SumRow{
				{Time: e.Add(90 * time.Minute), Term: orders[0], Groups: []string{}, Value: 5},
				{Time: e.Add(2 * time.Hour), Term: orders[0], Groups: []string{}, Value: 0.1},
				{Time: e.Add(3 * time.Hour), Term: orders[0], Groups: []string{}, Value: 1000},
			}},
			{"edge: filter on the missing tag excludes it", engine.SumSpec{Start: e, Stop: e.Add(24 * time.Hour), Terms: orders[:2],
				Filters: map[string][]string{"channel": {"app", "web"}, "store": {"edge"}}}, []engine.SumRow{
				{Time: e, Term: orders[0], Groups: []string{}, Value: 1115.1},
				{Time: e, Term: orders[1], Groups: []string{}, Value: 8},
			}},
		}
		// The first edge case's full answer: hour 0 holds 10 (app) + 7 (no
		// channel); hour 1 starts exactly on a web point (100, plus 5 at 1h40m),
		// the point 1 ns before it is hour 0's; the point at 3h is outside
		// [0h, 3h).
		tests[5].want = []engine.SumRow{
			{Time: e, Term: orders[0], Groups: []string{""}, Value: 8},
			{Time: e, Term: orders[1], Groups: []string{""}, Value: 2},
			{Time: e, Term: orders[0], Groups: []string{"app"}, Value: 10},
			{Time: e, Term: orders[1], Groups: []string{"app"}, Value: 1},
			{Time: e.Add(time.Hour), Term: orders[0], Groups: []string{"web"}, Value: 105},
			{Time: e.Add(time.Hour), Term: orders[1], Groups: []string{"web"}, Value: 3},
			{Time: e.Add(time.Hour), Term: orders[2], Groups: []string{"web"}, Value: 100},
			{Time: e.Add(2 * time.Hour), Term: orders[0], Groups: []string{"web"}, Value: 0.1},
			{Time: e.Add(2 * time.Hour), Term: orders[1], Groups: []string{"web"}, Value: 1},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				want, err := f.flux.Sums(ctx, tt.spec)
				require.NoError(t, err)
				got, err := f.ql.Sums(ctx, tt.spec)
				require.NoError(t, err)
				if tt.want != nil {
					same(t, sortedSums(tt.want), sortedSums(got))
				}
				if tt.name == "edge: boundary points, missing channel, fill(none)" {
					// Flux on 1.8 adds the web point at exactly 3h (the stop) to
					// the first window: gmv 1000 and orders 3 at 0h.
					fluxAtStop := append(slices.Clone(tt.want),
						engine.SumRow{Time: e, Term: orders[0], Groups: []string{"web"}, Value: 1000},
						engine.SumRow{Time: e, Term: orders[1], Groups: []string{"web"}, Value: 3})
					same(t, sortedSums(fluxAtStop), sortedSums(want))
					return
				}
				same(t, sortedSums(want), sortedSums(got))
			})
		}
	})

	t.Run("a filter with no values matches nothing", func(t *testing.T) {
		// The engine never sends one (no values means no filter there);
		// Flux would not even parse it. Nothing must leak through.
		got, err := f.ql.Sums(ctx, engine.SumSpec{Start: f.from, Stop: f.to, Terms: orders, Filters: map[string][]string{"store": {}}})
		require.NoError(t, err)
		require.Empty(t, got)
	})

	t.Run("sketches", func(t *testing.T) {
		tests := []struct {
			name string
			spec engine.SketchSpec
		}{
			{"daily, by store", engine.SketchSpec{Start: f.from, Stop: f.to, Kinds: []string{"buyer", "visitor"}, Window: "1d", GroupBy: []string{"store"}}},
			{"hourly, filtered, unaligned", engine.SketchSpec{Start: f.from.Add(90 * time.Minute), Stop: f.from.Add(30 * time.Hour), Kinds: []string{"active"},
				Window: "1h", Filters: map[string][]string{"channel": {"app"}}}},
			{"daily by category", engine.SketchSpec{Start: f.from, Stop: f.to, Kinds: []string{"buyer"}, Window: "1d", GroupBy: []string{"category"}}},
			{"edge: dense sketch, boundaries, missing channel", engine.SketchSpec{Start: e, Stop: e.Add(3 * time.Hour), Kinds: []string{"buyer"},
				Window: "1h", GroupBy: []string{"channel"}}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				want := sketches(t, f.flux, tt.spec)
				got := sketches(t, f.ql, tt.spec)
				require.NotEmpty(t, got)
				// Sketches are stored at their window's start, so a range
				// ending on a window boundary meets the next window's: Flux
				// on 1.8 returns them, the InfluxQL source does not.
				inRange := slices.DeleteFunc(slices.Clone(want), func(r engine.SketchRow) bool { return !r.Time.Before(tt.spec.Stop) })
				for _, r := range got {
					require.True(t, r.Time.Before(tt.spec.Stop), r.Time)
				}
				same(t, inRange, got)
			})
		}
		rows := sketches(t, f.ql, tests[3].spec)
		require.Len(t, rows, 2, "the point at the stop is outside the range")
		require.Equal(t, []string{""}, rows[0].Groups)
		require.Greater(t, f.denseBytes, 16<<10)
		require.Greater(t, len(rows[0].Sketch), 21<<10)
	})

	t.Run("dimension values", func(t *testing.T) {
		for _, spec := range []engine.DimensionSpec{
			{Start: f.from, Stop: f.to, Dimension: "store"},
			{Start: f.from, Stop: f.to, Dimension: "channel", Filters: map[string][]string{"store": {"s002"}}},
			{Start: f.from, Stop: f.to, Dimension: "category"},
			{Start: f.from, Stop: f.to, Dimension: "campaign"},
			{Start: f.from, Stop: f.to, Dimension: "reason", Filters: map[string][]string{"store": {"s001", "s003"}}},
			{Start: e, Stop: e.Add(24 * time.Hour), Dimension: "channel"},
			{Start: e, Stop: e.Add(24 * time.Hour), Dimension: "category"}, // no daily category sketch: from the sums
		} {
			want, err := f.flux.DimensionValues(ctx, spec)
			require.NoError(t, err)
			got, err := f.ql.DimensionValues(ctx, spec)
			require.NoError(t, err)
			require.Equal(t, want, got, "%+v", spec)
		}
		_, err := f.ql.DimensionValues(ctx, engine.DimensionSpec{Start: f.from, Stop: f.to, Dimension: "ingester"})
		require.ErrorContains(t, err, `unknown dimension "ingester"`)
	})

	t.Run("calendar and freshness", func(t *testing.T) {
		wantC, err := f.flux.Campaigns(ctx)
		require.NoError(t, err)
		gotC, err := f.ql.Campaigns(ctx)
		require.NoError(t, err)
		require.NotEmpty(t, wantC)
		same(t, wantC, gotC)

		for _, spec := range []engine.TargetSpec{
			{Start: f.from.AddDate(0, 0, -7), Stop: f.to.AddDate(0, 0, 7), KPI: "gmv", Period: "day"},
			{Start: f.from, Stop: f.to, KPI: "gmv", Period: "day", Stores: []string{"s002", "all"}},
		} {
			want, err := f.flux.Targets(ctx, spec)
			require.NoError(t, err)
			got, err := f.ql.Targets(ctx, spec)
			require.NoError(t, err)
			require.NotEmpty(t, want)
			sortT := func(r []engine.TargetRow) []engine.TargetRow {
				slices.SortFunc(r, func(a, b engine.TargetRow) int {
					return strings.Compare(fmt.Sprint(a.Time.UnixNano(), a.Store), fmt.Sprint(b.Time.UnixNano(), b.Store))
				})
				return r
			}
			same(t, sortT(want), sortT(got))
		}

		for _, spec := range []engine.LatestSpec{
			{Start: f.from, Stop: f.to},
			{Start: f.from, Stop: f.from.Add(30 * time.Hour), Stores: []string{"s001", "s003"}},
			{Start: e, Stop: e.Add(3 * time.Hour)},   // i2's point at 2h+7ns is newest; 3h excluded
			{Start: e, Stop: e.Add(3*time.Hour + 1)}, // now 3h exactly
		} {
			want, err := f.flux.(engine.LatestSource).Latest(ctx, spec)
			require.NoError(t, err)
			got, err := f.ql.(engine.LatestSource).Latest(ctx, spec)
			require.NoError(t, err)
			sortL := func(r []engine.LatestRow) []engine.LatestRow {
				slices.SortFunc(r, func(a, b engine.LatestRow) int { return strings.Compare(a.Store, b.Store) })
				return r
			}
			require.NotEmpty(t, want)
			if spec.Start.Equal(e) && spec.Stop.Equal(e.Add(3*time.Hour)) {
				// Flux on 1.8 finds the point at the stop (3h).
				same(t, []engine.LatestRow{{Store: "edge", Time: e.Add(3 * time.Hour)}}, sortL(want))
				same(t, []engine.LatestRow{{Store: "edge", Time: e.Add(2*time.Hour + 7)}}, sortL(got))
				continue
			}
			same(t, sortL(want), sortL(got), "%+v", spec)
		}
	})
}

// TestEngineAgrees runs engine requests (a table over KPI kinds, group-bys,
// filters, comparisons and intervals) through both sources.
func TestEngineAgrees(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	now := f.from.AddDate(0, 0, 4).Add(14*time.Hour + 23*time.Minute) // inside the last simulated day
	eng := func(src engine.Source) *engine.Engine {
		return &engine.Engine{Catalog: kpi.Default(), Source: src, Location: f.loc, SeriesLimit: 500, Now: func() time.Time { return now }}
	}
	ef, eq := eng(f.flux), eng(f.ql)
	day := 24 * time.Hour
	type shape struct {
		name     string
		q        models.Query
		from, to time.Time
	}
	shapes := []shape{
		{"days", models.Query{Interval: models.IntervalDay}, f.from, f.to},
		{"hours of a partial range", models.Query{Interval: "1h"}, f.from.Add(10*time.Hour + 17*time.Minute), f.from.Add(39 * time.Hour)},
		{"6h by store", models.Query{Interval: "6h", GroupBy: []string{"store"}}, f.from, f.from.Add(3 * day)},
		{"week by channel (missing tags)", models.Query{Interval: models.IntervalWeek, GroupBy: []string{"channel"}}, f.from, f.to},
		{"5m, filtered", models.Query{Interval: "5m", Filters: map[string][]string{"store": {"s002"}, "channel": {"app", "web"}}}, f.from.Add(20 * time.Hour), f.from.Add(23 * time.Hour)},
		{"today vs 1d, cut at now", models.Query{Interval: "1h", Compare: models.Compare1d}, f.from.AddDate(0, 0, 4), f.to},
		{"days vs previous", models.Query{Interval: models.IntervalDay, Compare: models.ComparePrevious, GroupBy: []string{"store"}}, f.from.AddDate(0, 0, 2), f.to},
		{"auto interval", models.Query{}, f.from, f.from.Add(2 * day)},
	}
	var ids []string
	for _, k := range kpi.Default().All() {
		if k.Kind != kpi.KindTransform {
			ids = append(ids, k.ID)
		}
	}
	require.Greater(t, len(ids), 40)
	ran, failed, values := 0, 0, 0
	for _, s := range shapes {
		for _, id := range ids {
			t.Run(s.name+"/"+id, func(t *testing.T) {
				q := s.q
				q.KPI = id
				req := engine.Request{Query: q, From: s.from, To: s.to, MaxDataPoints: 200}
				want, werr := ef.Run(ctx, req)
				got, gerr := eq.Run(ctx, req)
				ran++
				if werr != nil { // e.g. a KPI that cannot be grouped by channel
					failed++
					require.EqualError(t, gerr, werr.Error())
					return
				}
				require.NoError(t, gerr)
				same(t, want, got)
				for _, s := range got.Series {
					for _, v := range s.Values {
						if v != nil && *v != 0 {
							values++
						}
					}
				}
			})
		}
	}
	// The table is not vacuous: most requests succeed, with real numbers.
	t.Logf("%d requests, %d refused alike by both, %d non-zero values compared", ran, failed, values)
	require.Less(t, failed, ran/4)
	require.Greater(t, values, 5000)

	t.Run("transforms", func(t *testing.T) {
		reqs := []engine.Request{
			{Query: models.Query{KPI: "gmv", Interval: models.IntervalDay, Target: true, GroupBy: []string{"store"}}, From: f.from, To: f.to},
			{Query: models.Query{KPI: "gmv", Interval: models.IntervalDay, TopN: &models.TopN{By: "store", N: 2}}, From: f.from, To: f.to},
			{Query: models.Query{KPI: "total_users", Interval: models.IntervalDay, Cumulative: ""}, From: f.from.AddDate(0, 0, 2), To: f.to},
			{Query: models.Query{KPI: "gmv", Interval: models.IntervalDay, Cumulative: models.CumulativeMTD}, From: f.from.AddDate(0, 0, 1), To: f.to},
		}
		for i, req := range reqs {
			want, err := ef.Run(ctx, req)
			require.NoError(t, err, i)
			got, err := eq.Run(ctx, req)
			require.NoError(t, err, i)
			same(t, want, got, i)
		}
		freq := engine.Request{Query: models.Query{Funnel: true}, From: f.from, To: f.to}
		wf, err := ef.Funnel(ctx, freq)
		require.NoError(t, err)
		gf, err := eq.Funnel(ctx, freq)
		require.NoError(t, err)
		same(t, wf, gf)
		creq := engine.Request{Query: models.Query{KPI: "gmv", Compare: models.ComparePrevious, Contribution: &models.Contribution{Dimension: "store"}},
			From: f.from.AddDate(0, 0, 2), To: f.to}
		wc, err := ef.Contribution(ctx, creq)
		require.NoError(t, err)
		gc, err := eq.Contribution(ctx, creq)
		require.NoError(t, err)
		same(t, wc, gc)
		wt, err := ef.CalendarTimeline(ctx, f.from, f.to, nil)
		require.NoError(t, err)
		gt, err := eq.CalendarTimeline(ctx, f.from, f.to, nil)
		require.NoError(t, err)
		same(t, wt, gt)
		wfr, err := ef.Freshness(ctx, f.to, nil)
		require.NoError(t, err)
		gfr, err := eq.Freshness(ctx, f.to, nil)
		require.NoError(t, err)
		require.NotEmpty(t, wfr.Rows)
		same(t, wfr, gfr)
	})
}
