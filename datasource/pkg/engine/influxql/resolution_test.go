package influxql_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	influxdb2 "github.com/influxdata/influxdb-client-go/v2"
	"github.com/influxdata/influxdb-client-go/v2/api"
	"github.com/stretchr/testify/require"

	"github.com/storepulse/storepulse/datasource/pkg/engine"
	"github.com/storepulse/storepulse/datasource/pkg/engine/flux"
	"github.com/storepulse/storepulse/datasource/pkg/engine/influxql"
	"github.com/storepulse/storepulse/datasource/pkg/models"
	"github.com/storepulse/storepulse/ingest/consolidate"
	"github.com/storepulse/storepulse/ingest/sim"
	iql "github.com/storepulse/storepulse/internal/influxql"
	"github.com/storepulse/storepulse/internal/influxtest"
	"github.com/storepulse/storepulse/internal/kpi"
	"github.com/storepulse/storepulse/internal/localday"
	"github.com/storepulse/storepulse/internal/schema"
	"github.com/storepulse/storepulse/internal/simload"
	"github.com/storepulse/storepulse/internal/storezone"
)

func TestPlan(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	require.NoError(t, err)
	at := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339, s)
		require.NoError(t, err)
		return v
	}
	marks := influxql.Marks{Hours: at("2026-03-31T10:00:00Z"), Days: at("2026-03-30T22:00:00Z")}
	withStore := marks
	withStore.StoreFrom = at("2026-03-28T05:00:00Z")
	type pc struct {
		from, to string
		suffix   string
	}
	tests := []struct {
		name  string
		spec  engine.SumSpec
		marks influxql.Marks
		want  []pc
	}{
		{"days, across the 23-hour DST day, then hours and minutes",
			engine.SumSpec{Start: at("2026-03-27T07:13:00Z"), Stop: at("2026-03-31T12:00:00Z"), Every: time.Hour, DayZone: berlin}, marks,
			[]pc{{"2026-03-27T07:13:00Z", "2026-03-27T08:00:00Z", ""}, {"2026-03-27T08:00:00Z", "2026-03-27T23:00:00Z", "_1h"},
				{"2026-03-27T23:00:00Z", "2026-03-30T22:00:00Z", "_1d"}, {"2026-03-30T22:00:00Z", "2026-03-31T10:00:00Z", "_1h"},
				{"2026-03-31T10:00:00Z", "2026-03-31T12:00:00Z", ""}}},
		{"hour buckets never read days",
			engine.SumSpec{Start: at("2026-03-27T00:00:00Z"), Stop: at("2026-03-30T00:00:00Z"), Every: time.Hour}, marks,
			[]pc{{"2026-03-27T00:00:00Z", "2026-03-30T00:00:00Z", "_1h"}}},
		{"one sum (Every 0) with days",
			engine.SumSpec{Start: at("2026-03-28T23:00:00Z"), Stop: at("2026-03-29T22:00:00Z"), DayZone: berlin}, marks,
			[]pc{{"2026-03-28T23:00:00Z", "2026-03-29T22:00:00Z", "_1d"}}},
		{"windows below an hour read minutes",
			engine.SumSpec{Start: at("2026-03-27T00:00:00Z"), Stop: at("2026-03-30T00:00:00Z"), Every: 5 * time.Minute, DayZone: berlin}, marks,
			[]pc{{"2026-03-27T00:00:00Z", "2026-03-30T00:00:00Z", ""}}},
		{"no watermark: minutes",
			engine.SumSpec{Start: at("2026-03-27T00:00:00Z"), Stop: at("2026-03-30T00:00:00Z"), Every: time.Hour, DayZone: berlin}, influxql.Marks{},
			[]pc{{"2026-03-27T00:00:00Z", "2026-03-30T00:00:00Z", ""}}},
		{"entirely above the watermark",
			engine.SumSpec{Start: at("2026-03-31T10:00:00Z"), Stop: at("2026-03-31T12:00:00Z"), Every: time.Hour, DayZone: berlin}, marks,
			[]pc{{"2026-03-31T10:00:00Z", "2026-03-31T12:00:00Z", ""}}},
		{"inside one hour",
			engine.SumSpec{Start: at("2026-03-27T07:13:00Z"), Stop: at("2026-03-27T07:50:00Z"), DayZone: berlin}, marks,
			[]pc{{"2026-03-27T07:13:00Z", "2026-03-27T07:50:00Z", ""}}},
		{"store totals from store_from on: hours at it, local days from the first that starts at or after it",
			engine.SumSpec{Start: at("2026-03-27T07:13:00Z"), Stop: at("2026-03-31T12:00:00Z"), Every: time.Hour, DayZone: berlin,
				GroupBy: []string{"store"}, Filters: map[string][]string{"store": {"tmall"}}}, withStore,
			[]pc{{"2026-03-27T07:13:00Z", "2026-03-27T08:00:00Z", ""}, {"2026-03-27T08:00:00Z", "2026-03-27T23:00:00Z", "_1h"},
				{"2026-03-27T23:00:00Z", "2026-03-28T23:00:00Z", "_1d"}, {"2026-03-28T23:00:00Z", "2026-03-30T22:00:00Z", "_1d_store"},
				{"2026-03-30T22:00:00Z", "2026-03-31T10:00:00Z", "_1h_store"}, {"2026-03-31T10:00:00Z", "2026-03-31T12:00:00Z", ""}}},
		{"store totals split an hour piece at store_from",
			engine.SumSpec{Start: at("2026-03-28T00:00:00Z"), Stop: at("2026-03-28T12:00:00Z"), Every: time.Hour}, withStore,
			[]pc{{"2026-03-28T00:00:00Z", "2026-03-28T05:00:00Z", "_1h"}, {"2026-03-28T05:00:00Z", "2026-03-28T12:00:00Z", "_1h_store"}}},
		{"a filter on another tag never reads store totals",
			engine.SumSpec{Start: at("2026-03-30T22:00:00Z"), Stop: at("2026-03-31T10:00:00Z"), Every: time.Hour, DayZone: berlin,
				Filters: map[string][]string{"channel": {"app"}}}, withStore,
			[]pc{{"2026-03-30T22:00:00Z", "2026-03-31T10:00:00Z", "_1h"}}},
		{"a group by another tag never reads store totals",
			engine.SumSpec{Start: at("2026-03-30T22:00:00Z"), Stop: at("2026-03-31T10:00:00Z"), Every: time.Hour, DayZone: berlin,
				GroupBy: []string{"store", "category"}}, withStore,
			[]pc{{"2026-03-30T22:00:00Z", "2026-03-31T10:00:00Z", "_1h"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []pc
			for _, p := range influxql.Plan(tt.spec, tt.marks) {
				got = append(got, pc{p.Start.UTC().Format(time.RFC3339), p.Stop.UTC().Format(time.RFC3339), p.Suffix})
			}
			require.Equal(t, tt.want, got)
		})
	}
}

// TestConsolidatedAgrees: on simulated stores whose history is consolidated
// (up to an hour before now, in a zone with a DST change in the range),
// every KPI through the engine reads the same from the InfluxQL and the Flux
// sources (days, hours and minutes as the watermarks allow) as from the Flux
// source reading only the minute series.
func TestConsolidatedAgrees(t *testing.T) {
	srv := influxtest.Start(t)
	ctx := context.Background()
	berlin, err := time.LoadLocation("Europe/Berlin")
	require.NoError(t, err)
	from := time.Date(2026, 3, 22, 0, 0, 0, 0, berlin)
	const days = 12
	to := localday.AddDays(from, days, berlin)
	now := localday.AddDays(from, days-1, berlin).Add(14*time.Hour + 23*time.Minute)

	client := &iql.Client{URL: srv.URL, Token: srv.Token, Database: influxtest.Database, Timeout: time.Minute}
	zone, err := storezone.Line("simload", berlin.String(), storezone.RecordTime())
	require.NoError(t, err)
	srv.WriteLines(t, []string{zone})
	c, err := consolidate.New(consolidate.Options{Ingester: "simload", Location: berlin, Fine: client, Main: client,
		Write: writer{srv}, FineBucket: srv.Bucket, Now: func() time.Time { return now }})
	require.NoError(t, err)
	// As the flusher does: loaded before anything is written, so the
	// store-level sketches count from the first sketch on.
	require.NoError(t, c.Load(ctx))
	simload.Into(t, srv, sim.Config{Seed: 5, NumStores: 3, Days: days, Start: from, Location: berlin, Scale: 0.5})
	for more := true; more; {
		more, err = c.Tick(ctx, time.Minute)
		require.NoError(t, err)
	}
	marks, err := influxql.ReadMarks(ctx, client)
	require.NoError(t, err)
	require.Equal(t, now.Add(-10*time.Minute).Truncate(time.Hour).UTC(), marks.Hours)
	require.Equal(t, localday.Floor(now, berlin).UTC(), marks.Days)

	fc := influxdb2.NewClient(srv.URL, srv.Token)
	t.Cleanup(fc.Close)
	ql, err := influxql.New(srv.URL, srv.Token, srv.Bucket, nil)
	require.NoError(t, err)
	eng := func(src engine.Source) *engine.Engine {
		return &engine.Engine{Catalog: kpi.Default(), Source: src, Location: berlin, SeriesLimit: 500, Now: func() time.Time { return now }}
	}
	qapi := func() api.QueryAPI { return fc.QueryAPI(srv.Org) }
	ef := eng(&flux.Source{QueryAPI: qapi, Bucket: srv.Bucket, MinutesOnly: true}) // the oracle
	eq := eng(ql)
	efc := eng(&flux.Source{QueryAPI: qapi, Bucket: srv.Bucket})
	day := 24 * time.Hour
	shapes := []struct {
		name     string
		q        models.Query
		from, to time.Time
	}{
		{"days", models.Query{Interval: models.IntervalDay}, from, to},
		{"days by store, unaligned start", models.Query{Interval: models.IntervalDay, GroupBy: []string{"store"}}, from.Add(7*time.Hour + 41*time.Minute), to},
		{"hours across the watermark", models.Query{Interval: "1h"}, now.Add(-30*time.Hour - 17*time.Minute), to},
		{"3h by channel (missing tags)", models.Query{Interval: "3h", GroupBy: []string{"channel"}}, from.Add(5 * day), to},
		{"week", models.Query{Interval: models.IntervalWeek}, from, to},
		{"today vs 1w, cut at now", models.Query{Interval: "1h", Compare: models.Compare1w}, localday.Floor(now, berlin), to},
		{"days vs previous", models.Query{Interval: models.IntervalDay, Compare: models.ComparePrevious, GroupBy: []string{"store"}}, from.Add(6 * day), to},
		{"5m, filtered", models.Query{Interval: "5m", Filters: map[string][]string{"store": {"s002"}}}, from.Add(6 * day), from.Add(6*day + 3*time.Hour)},
		{"mtd", models.Query{Interval: models.IntervalDay, Cumulative: models.CumulativeMTD}, from.Add(10 * day), to},
	}
	var ids []string
	for _, k := range kpi.Default().All() {
		if k.Kind != kpi.KindTransform {
			ids = append(ids, k.ID)
		}
	}
	ran, values := 0, 0
	compare := func(t *testing.T, eq, efc *engine.Engine) {
		for _, s := range shapes {
			for _, id := range ids {
				t.Run(s.name+"/"+id, func(t *testing.T) {
					q := s.q
					q.KPI = id
					req := engine.Request{Query: q, From: s.from, To: s.to, MaxDataPoints: 400}
					want, werr := ef.Run(ctx, req)
					got, gerr := eq.Run(ctx, req)
					ran++
					if werr != nil {
						require.EqualError(t, gerr, werr.Error())
						return
					}
					require.NoError(t, gerr)
					same(t, want, got)
					gotFlux, err := efc.Run(ctx, req)
					require.NoError(t, err)
					same(t, want, gotFlux, "the Flux source reading consolidated series")
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
	}
	compare(t, eq, efc)
	t.Logf("%d requests, %d non-zero values compared", ran, values)
	require.Greater(t, values, 5000)

	// Not vacuous: the day shape reads daily and hourly series, their store
	// totals when it filters and groups by store at most.
	suffixes := func(spec engine.SumSpec, m influxql.Marks) []string {
		var out []string
		for _, p := range influxql.Plan(spec, m) {
			out = append(out, p.Suffix)
		}
		return out
	}
	require.Equal(t, time.Unix(0, 0).UTC(), marks.StoreFrom, "store totals from the first point")
	all := engine.SumSpec{Start: from, Stop: to, Every: time.Hour, DayZone: berlin}
	require.Equal(t, []string{schema.SuffixDayStore, schema.SuffixHourStore, ""}, suffixes(all, marks))
	byChannel := all
	byChannel.GroupBy = []string{schema.TagChannel}
	require.Equal(t, []string{schema.SuffixDay, schema.SuffixHour, ""}, suffixes(byChannel, marks))
	// ...and distinct counts the store-level sketches, unless by channel.
	require.Equal(t, time.Unix(0, 0).UTC(), marks.SketchStoreFrom, "store-level sketches from the first sketch")
	sketchIn := func(spec engine.SketchSpec, m influxql.Marks) []bool {
		var out []bool
		for _, p := range engine.PlanSketches(spec, m) {
			out = append(out, p.FromStore)
		}
		return out
	}
	daily := engine.SketchSpec{Start: from, Stop: to, Window: schema.WindowDay, Kinds: []string{schema.KindActive}, GroupBy: []string{schema.TagStore}}
	require.Equal(t, []bool{true}, sketchIn(daily, marks))
	dailyByChannel := daily
	dailyByChannel.GroupBy = []string{schema.TagChannel}
	require.Equal(t, []bool{false}, sketchIn(dailyByChannel, marks))

	// Funnel and contribution (one sum over the range each).
	freq := engine.Request{Query: models.Query{Funnel: true}, From: from, To: to}
	wf, err := ef.Funnel(ctx, freq)
	require.NoError(t, err)
	for _, e := range []*engine.Engine{eq, efc} {
		gf, err := e.Funnel(ctx, freq)
		require.NoError(t, err)
		same(t, wf, gf)
	}
	creq := engine.Request{Query: models.Query{KPI: "gmv", Compare: models.ComparePrevious, Contribution: &models.Contribution{Dimension: "store"}},
		From: from.Add(6 * day), To: to}
	wc, err := ef.Contribution(ctx, creq)
	require.NoError(t, err)
	for _, e := range []*engine.Engine{eq, efc} {
		gc, err := e.Contribution(ctx, creq)
		require.NoError(t, err)
		same(t, wc, gc)
	}

	// An ingester that consolidated before store totals existed: its store
	// totals start later (here mid-history, on an hour that is not a local
	// day's start), and nothing before that is read from them. The store
	// totals before it are deleted, so reading one would show.
	// The same for the store-level sketches of an upgraded ingester: from
	// a local day's start mid-history, the ones before it deleted.
	mid := localday.AddDays(from, 5, berlin).Add(7 * time.Hour).UTC()
	midDay := localday.AddDays(from, 6, berlin).UTC() // after mid: /_store$/ matches sp_distinct_store too
	srv.WriteLines(t, []string{fmt.Sprintf("sp_rollup,ingester=simload sketch_store_from=%di,store_from=%di %d",
		midDay.UnixNano(), mid.UnixNano(), storezone.RecordTime().UnixNano())})
	require.NoError(t, client.Query(ctx, fmt.Sprintf("DELETE FROM /_store$/ WHERE time < %s", iql.Time(mid)), iql.Options{},
		func(int, *iql.Series) error { return nil }))
	require.NoError(t, client.Query(ctx, fmt.Sprintf("DELETE FROM %s WHERE time < %s", schema.MeasDistinctStore, iql.Time(midDay)), iql.Options{},
		func(int, *iql.Series) error { return nil }))
	marks, err = influxql.ReadMarks(ctx, client)
	require.NoError(t, err)
	require.Equal(t, mid, marks.StoreFrom)
	require.Equal(t, midDay, marks.SketchStoreFrom)
	require.Equal(t, []string{schema.SuffixDay, schema.SuffixDayStore, schema.SuffixHourStore, ""}, suffixes(all, marks))
	require.Equal(t, []bool{false, true}, sketchIn(daily, marks))
	ql2, err := influxql.New(srv.URL, srv.Token, srv.Bucket, nil)
	require.NoError(t, err)
	t.Run("store totals and store-level sketches from mid-history", func(t *testing.T) {
		compare(t, eng(ql2), eng(&flux.Source{QueryAPI: qapi, Bucket: srv.Bucket}))
	})
}

type writer struct{ srv *influxtest.Server }

func (w writer) Write(ctx context.Context, lines []string) error { return w.srv.Write(ctx, lines) }
