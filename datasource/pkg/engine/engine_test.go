package engine

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/stretchr/testify/require"

	"github.com/storepulse/storepulse/datasource/pkg/models"
	"github.com/storepulse/storepulse/internal/kpi"
	"github.com/storepulse/storepulse/internal/schema"
)

func loc(t *testing.T, name string) *time.Location {
	t.Helper()
	l, err := time.LoadLocation(name)
	require.NoError(t, err)
	return l
}

func utc(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func vals(s Series) []any {
	out := make([]any, len(s.Values))
	for i, v := range s.Values {
		if v != nil {
			out[i] = *v
		}
	}
	return out
}

func times(ts []time.Time) []string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = t.UTC().Format(time.RFC3339)
	}
	return out
}

func order(ts, store, channel, category string, gmv float64) []memPoint {
	tags := map[string]string{"store": store, "channel": channel, "category": category, "ingester": "i1"}
	return []memPoint{
		{t: utc(ts), meas: schema.MeasOrders, field: schema.FieldGMV, tags: tags, v: gmv},
		{t: utc(ts), meas: schema.MeasOrders, field: schema.FieldOrders, tags: tags, v: 1},
	}
}

func point(ts, meas, field, store string, v float64) memPoint {
	return memPoint{t: utc(ts), meas: meas, field: field, tags: map[string]string{"store": store, "channel": "app"}, v: v}
}

func newEngine(t *testing.T, src Source, zone string, limit int) *Engine {
	return &Engine{Catalog: kpi.Default(), Source: src, Location: loc(t, zone), SeriesLimit: limit,
		Now: func() time.Time { return utc("2027-01-01T00:00:00Z") }}
}

func TestRun(t *testing.T) {
	var pts []memPoint
	// Shanghai 20 Nov: two orders (one at 23:59 local); 21 Nov: one order at 00:00 local, by another
	// ingester's point in the same minute too; 22 Nov: none.
	pts = append(pts, order("2026-11-20T01:00:00Z", "tmall", "app", "shoes", 100)...)
	pts = append(pts, order("2026-11-20T15:59:30Z", "jd", "web", "tv", 300)...)
	pts = append(pts, order("2026-11-20T16:00:00Z", "tmall", "app", "tv", 50)...)
	pts = append(pts, order("2026-11-20T16:00:00.000000123Z", "tmall", "", "tv", 10)...)
	pts = append(pts,
		point("2026-11-20T02:00:00Z", schema.MeasPayments, schema.FieldPaidAmount, "tmall", 400),
		point("2026-11-20T03:00:00Z", schema.MeasRefunds, schema.FieldRefundAmount, "tmall", 150),
		point("2026-11-20T02:00:00Z", schema.MeasTraffic, schema.FieldCartSessions, "tmall", 4),
		point("2026-11-20T02:00:00Z", schema.MeasUsers, schema.FieldSignups, "tmall", 5),
		point("2026-11-19T02:00:00Z", schema.MeasUsers, schema.FieldSignups, "tmall", 7),
		point("2026-11-21T02:00:00Z", schema.MeasUsers, schema.FieldSignups, "jd", 1),
		point("2026-10-01T02:00:00Z", schema.MeasUsers, schema.FieldSignups, "jd", 100),
		// a week earlier, for comparisons
		point("2026-11-13T01:00:00Z", schema.MeasOrders, schema.FieldGMV, "tmall", 200),
		point("2026-11-13T01:00:00Z", schema.MeasOrders, schema.FieldOrders, "tmall", 4),
	)
	day := func(d string) map[string]string { return map[string]string{"store": "tmall", "channel": "app"} }
	sks := []memSketch{
		{t: utc("2026-11-19T16:00:00Z"), kind: schema.KindVisitor, window: schema.WindowDay, tags: day(""), ids: ids(0, 1000)},
		{t: utc("2026-11-19T16:00:00Z"), kind: schema.KindBuyer, window: schema.WindowDay, tags: day(""), ids: ids(0, 50)},
		{t: utc("2026-11-20T16:00:00Z"), kind: schema.KindVisitor, window: schema.WindowDay, tags: day(""), ids: ids(500, 1500)},
		{t: utc("2026-11-20T16:00:00Z"), kind: schema.KindBuyer, window: schema.WindowDay, tags: day(""), ids: ids(25, 75)},
		// 22 Nov: buyers but no visitors -> null conversion
		{t: utc("2026-11-21T16:00:00Z"), kind: schema.KindBuyer, window: schema.WindowDay, tags: day(""), ids: ids(0, 10)},
		{t: utc("2026-11-19T16:00:00Z"), kind: schema.KindActive, window: schema.WindowDay, tags: day(""), ids: ids(0, 100)},
		{t: utc("2026-11-20T16:00:00Z"), kind: schema.KindActive, window: schema.WindowDay, tags: day(""), ids: ids(50, 150)},
	}
	from, to := utc("2026-11-19T16:00:00Z"), utc("2026-11-22T16:00:00Z") // 20..22 Nov, Shanghai
	three := []string{"2026-11-19T16:00:00Z", "2026-11-20T16:00:00Z", "2026-11-21T16:00:00Z"}
	tests := []struct {
		name   string
		q      models.Query
		zone   string
		times  []string
		series [][]any // per series
		groups [][]string
		approx bool
	}{
		{"GMV per Shanghai day: 23:59:30 local is the 20th, 00:00 the 21st", models.Query{KPI: "gmv", Interval: "day"}, "Asia/Shanghai",
			three, [][]any{{400.0, 60.0, 0.0}}, [][]string{nil}, false},
		{"GMV per UTC day", models.Query{KPI: "gmv", Interval: "day"}, "UTC",
			[]string{"2026-11-19T00:00:00Z", "2026-11-20T00:00:00Z", "2026-11-21T00:00:00Z", "2026-11-22T00:00:00Z"}, [][]any{{0.0, 460.0, 0.0, 0.0}}, [][]string{nil}, false},
		{"AOV null without orders", models.Query{KPI: "aov", Interval: "day"}, "Asia/Shanghai",
			three, [][]any{{200.0, 30.0, nil}}, [][]string{nil}, false},
		{"net revenue subtracts refunds", models.Query{KPI: "net_revenue", Interval: "day"}, "Asia/Shanghai",
			three, [][]any{{250.0, 0.0, 0.0}}, [][]string{nil}, false},
		{"cart abandonment is 1 - orders/carts, null without carts", models.Query{KPI: "cart_abandonment", Interval: "day",
			Filters: map[string][]string{"store": {"tmall"}}}, "Asia/Shanghai", three, [][]any{{0.75, nil, nil}}, [][]string{nil}, false},
		{"group by store, absent tag kept apart", models.Query{KPI: "orders", Interval: "day", GroupBy: []string{"channel"}}, "Asia/Shanghai",
			three, [][]any{{0.0, 1.0, 0.0}, {1.0, 1.0, 0.0}, {1.0, 0.0, 0.0}}, [][]string{{""}, {"app"}, {"web"}}, false},
		{"multi-value filter", models.Query{KPI: "gmv", Interval: "day", Filters: map[string][]string{"category": {"tv"}, "store": {"tmall", "jd"}}},
			"Asia/Shanghai", three, [][]any{{300.0, 60.0, 0.0}}, [][]string{nil}, false},
		{"filter excludes points without the tag", models.Query{KPI: "gmv", Interval: "day", Filters: map[string][]string{"channel": {"app"}}},
			"Asia/Shanghai", three, [][]any{{100.0, 50.0, 0.0}}, [][]string{nil}, false},
		{"conversion buyers/visitors, null without visitors", models.Query{KPI: "conversion_rate", Interval: "day"}, "Asia/Shanghai",
			three, [][]any{{0.05, 0.05, nil}}, [][]string{nil}, true},
		{"distinct over a week merges days, not adds them", models.Query{KPI: "visitors", Interval: "week"}, "Asia/Shanghai",
			[]string{"2026-11-15T16:00:00Z"}, [][]any{{1500.0}}, [][]string{nil}, true},
		{"total users is cumulative from the first sign-up", models.Query{KPI: "total_users", Interval: "day"}, "Asia/Shanghai",
			three, [][]any{{112.0, 113.0, 113.0}}, [][]string{nil}, false},
		{"stickiness: mean daily actives / actives of the bucket", models.Query{KPI: "stickiness", Interval: "week"}, "Asia/Shanghai",
			[]string{"2026-11-15T16:00:00Z"}, [][]any{{(100.0 + 100.0) / 7 / 150.0}}, [][]string{nil}, true},
		{"compare 1w: series, delta, change", models.Query{KPI: "gmv", Interval: "day", Compare: "1w",
			CompareOutputs: []string{"series", "delta", "change"}}, "Asia/Shanghai",
			three, [][]any{{400.0, 60.0, 0.0}, {200.0, 0.0, 0.0}, {200.0, 60.0, 0.0}, {1.0, nil, nil}}, [][]string{nil, nil, nil, nil}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := &memSource{points: pts, sketches: sks}
			q := tt.q
			q.Filters = map[string][]string{}
			for d, v := range tt.q.Filters {
				q.Filters[d] = v
			}
			res, err := newEngine(t, src, tt.zone, 10).Run(context.Background(), Request{Query: q, From: from, To: to})
			require.NoError(t, err)
			require.Equal(t, tt.times, times(res.Times))
			require.Len(t, res.Series, len(tt.series))
			for i, want := range tt.series {
				require.Equal(t, tt.groups[i], nilIfEmpty(res.Series[i].Groups), "series %d", i)
				got := vals(res.Series[i])
				if !tt.approx {
					require.Equal(t, want, got, "series %d", i)
					continue
				}
				for j := range want {
					if want[j] == nil {
						require.Nil(t, got[j])
						continue
					}
					require.InEpsilon(t, want[j], got[j], 0.02)
				}
			}
		})
	}
}

// requirePluginError requires err to say msg and to be marked as the
// plugin's (the query's) fault, not InfluxDB's.
func requirePluginError(t *testing.T, err error, msg string) {
	t.Helper()
	require.ErrorContains(t, err, msg)
	var es backend.ErrorWithSource
	require.True(t, errors.As(err, &es))
	require.Equal(t, backend.ErrorSourcePlugin, es.ErrorSource())
}

func nilIfEmpty(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	return s
}

func TestRunDSTDays(t *testing.T) {
	// One order every hour, 1-3 Nov 2026 in New York: 1 Nov has 25 hours.
	var pts []memPoint
	for h := time.Duration(0); h < 72*time.Hour; h += time.Hour {
		pts = append(pts, order(utc("2026-11-01T04:00:00Z").Add(h).Format(time.RFC3339), "s", "app", "x", 1)...)
	}
	res, err := newEngine(t, &memSource{points: pts}, "America/New_York", 10).Run(context.Background(), Request{
		Query: models.Query{KPI: "orders", Interval: "day"}, From: utc("2026-11-01T04:00:00Z"), To: utc("2026-11-03T05:00:00Z")})
	require.NoError(t, err)
	require.Equal(t, []string{"2026-11-01T04:00:00Z", "2026-11-02T05:00:00Z"}, times(res.Times))
	require.Equal(t, []any{25.0, 24.0}, vals(res.Series[0]))
}

func TestRunErrors(t *testing.T) {
	pts := append(order("2026-11-20T01:00:00Z", "a", "app", "x", 1), order("2026-11-20T01:00:00Z", "b", "app", "x", 1)...)
	pts = append(pts, order("2026-11-20T01:00:00Z", "c", "app", "x", 1)...)
	from, to := utc("2026-11-19T16:00:00Z"), utc("2026-11-20T16:00:00Z")
	tests := []struct {
		name string
		q    models.Query
		err  string
	}{
		{"no kpi", models.Query{}, "no KPI"},
		{"unknown kpi", models.Query{KPI: "nope"}, "unknown KPI"},
		{"transform", models.Query{KPI: "campaign_uplift"}, "is the uplift transform applied to a sum or ratio KPI"},
		{"dimension the KPI lacks", models.Query{KPI: "conversion_rate", Filters: map[string][]string{"campaign": {"d11"}}}, "cannot be filtered by \"campaign\""},
		{"group by a dimension the KPI lacks", models.Query{KPI: "sessions", GroupBy: []string{"reason"}}, "cannot be grouped"},
		{"distinct by category needs days", models.Query{KPI: "buyers", Interval: "1h", GroupBy: []string{"category"}}, "below"},
		{"stickiness needs days", models.Query{KPI: "stickiness", Interval: "6h"}, "below"},
		{"series limit", models.Query{KPI: "gmv", GroupBy: []string{"store"}}, "3 series, more than the limit of 2"},
		{"series limit counts comparison outputs", models.Query{KPI: "gmv", Compare: "1d", CompareOutputs: []string{"series", "delta"}}, "3 series"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := newEngine(t, &memSource{points: pts}, "Asia/Shanghai", 2).Run(context.Background(), Request{Query: tt.q, From: from, To: to})
			requirePluginError(t, err, tt.err)
		})
	}
}

func TestRunPushesAggregation(t *testing.T) {
	src := &memSource{}
	e := newEngine(t, src, "Asia/Shanghai", 10)
	from, to := utc("2026-11-19T16:00:00Z"), utc("2026-11-21T16:00:00Z")
	_, err := e.Run(context.Background(), Request{Query: models.Query{KPI: "arpu", Interval: "day", Filters: map[string][]string{"store": {"a"}}}, From: from, To: to})
	require.NoError(t, err)
	require.Len(t, src.sums, 1)
	require.Equal(t, time.Hour, src.sums[0].Every, "days in the store zone are summed from hourly windows")
	require.Equal(t, []Term{{schema.MeasPayments, schema.FieldPaidAmount}}, src.sums[0].Terms)
	require.Len(t, src.sks, 1)
	require.Equal(t, schema.WindowDay, src.sks[0].Window, "whole days read daily sketches")
	require.Equal(t, []string{schema.KindActive}, src.sks[0].Kinds)

	src = &memSource{}
	_, err = newEngine(t, src, "Asia/Shanghai", 10).Run(context.Background(), Request{Query: models.Query{KPI: "buyers", Interval: "auto"},
		From: from, To: from.Add(6 * time.Hour), MaxDataPoints: 1000})
	require.NoError(t, err)
	require.Equal(t, schema.WindowHour, src.sks[0].Window, "partial days read hourly sketches")

	src = &memSource{}
	_, err = newEngine(t, src, "Asia/Kolkata", 10).Run(context.Background(), Request{Query: models.Query{KPI: "gmv", Interval: "day"}, From: from, To: to})
	require.NoError(t, err)
	require.Equal(t, 15*time.Minute, src.sums[0].Every, "half-hour zones need finer windows")
}

// While today is in progress, "vs last week" compares today so far with last
// week up to the same time of day, not with last week's whole day; distinct
// counts read last week's partial day from hourly sketches.
func TestCompareInProgressCutsTheEarlierPeriodAtTheSameTime(t *testing.T) {
	tags := map[string]string{"store": "tmall", "channel": "app"}
	src := &memSource{
		points: []memPoint{
			// Shanghai, Thu 19 Nov (a week before): 100 at 09:00, 1000 at 20:00 local.
			point("2026-11-19T01:00:00Z", schema.MeasOrders, schema.FieldGMV, "tmall", 100),
			point("2026-11-19T12:00:00Z", schema.MeasOrders, schema.FieldGMV, "tmall", 1000),
			// Thu 26 Nov (today, now 12:30 local): 150 at 09:00.
			point("2026-11-26T01:00:00Z", schema.MeasOrders, schema.FieldGMV, "tmall", 150),
		},
		sketches: []memSketch{
			{t: utc("2026-11-18T16:00:00Z"), kind: schema.KindActive, window: schema.WindowDay, tags: tags, ids: ids(0, 300)},
			{t: utc("2026-11-19T01:00:00Z"), kind: schema.KindActive, window: schema.WindowHour, tags: tags, ids: ids(0, 100)},
			{t: utc("2026-11-19T12:00:00Z"), kind: schema.KindActive, window: schema.WindowHour, tags: tags, ids: ids(100, 300)},
			{t: utc("2026-11-25T16:00:00Z"), kind: schema.KindActive, window: schema.WindowDay, tags: tags, ids: ids(0, 120)},
		},
	}
	now := utc("2026-11-26T04:30:00Z")
	e := newEngine(t, src, "Asia/Shanghai", 10)
	e.Now = func() time.Time { return now }
	from, to := utc("2026-11-25T16:00:00Z"), utc("2026-11-26T16:00:00Z") // today, Shanghai
	tests := []struct {
		kpi       string
		cur, prev float64
		approx    bool
	}{
		{"gmv", 150, 100, false},         // not 1100: last week's 20:00 is after 12:30
		{"active_users", 120, 100, true}, // the hourly sketch before 12:30, not the day's 300
	}
	for _, tt := range tests {
		t.Run(tt.kpi, func(t *testing.T) {
			res, err := e.Run(context.Background(), Request{Query: models.Query{KPI: tt.kpi, Interval: "day", Compare: "1w",
				CompareOutputs: []string{"series"}, Filters: map[string][]string{}}, From: from, To: to})
			require.NoError(t, err)
			require.Len(t, res.Series, 2)
			got := vals(res.Series[0])
			prev := vals(res.Series[1])
			require.Len(t, got, 1)
			if tt.approx {
				require.InEpsilon(t, tt.cur, got[0], 0.02)
				require.InEpsilon(t, tt.prev, prev[0], 0.02)
				return
			}
			require.Equal(t, tt.cur, got[0])
			require.Equal(t, tt.prev, prev[0])
		})
	}

	// Once the day is over, it is compared with last week's whole day.
	now = to.Add(time.Hour)
	res, err := e.Run(context.Background(), Request{Query: models.Query{KPI: "gmv", Interval: "day", Compare: "1w",
		CompareOutputs: []string{"series"}, Filters: map[string][]string{}}, From: from, To: to})
	require.NoError(t, err)
	require.Equal(t, []any{1100.0}, vals(res.Series[1]))
}
