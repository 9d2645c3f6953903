package engine

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/storepulse/storepulse/datasource/pkg/models"
	"github.com/storepulse/storepulse/internal/schema"
)

// TestRangeDistinctReadsDaysAndEdgeHours: a whole-range distinct count reads
// the daily sketches of the local days it holds whole and the hourly
// sketches of the hours around them (Berlin, across the spring DST day), and
// counts every user of those hours once.
func TestRangeDistinctReadsDaysAndEdgeHours(t *testing.T) {
	ber := loc(t, "Europe/Berlin")
	tags := map[string]string{"store": "s1", "channel": "app"}
	var sks []memSketch
	want := map[int]bool{}
	from := time.Date(2026, 3, 27, 10, 30, 0, 0, ber) // a Friday; Sunday 29 March has 23 hours
	to := time.Date(2026, 3, 31, 15, 10, 0, 0, ber)
	for d := time.Date(2026, 3, 26, 0, 0, 0, 0, ber); d.Before(time.Date(2026, 4, 2, 0, 0, 0, 0, ber)); d = d.AddDate(0, 0, 1) {
		var day []int
		for h := d; h.Before(d.AddDate(0, 0, 1)); h = h.Add(time.Hour) {
			// 5 users an hour from a pool of 400: users come back on other days.
			users := []int{}
			for i := range 5 {
				users = append(users, int(h.Unix()/3600*7+int64(i)*13)%400)
			}
			sks = append(sks, memSketch{t: h, kind: schema.KindActive, window: schema.WindowHour, tags: tags, ids: users})
			day = append(day, users...)
			if !h.Before(from.Truncate(time.Hour)) && h.Before(to) {
				for _, u := range users {
					want[u] = true
				}
			}
		}
		sks = append(sks, memSketch{t: d, kind: schema.KindActive, window: schema.WindowDay, tags: tags, ids: day})
	}
	src := &memSource{sketches: sks}
	e := newEngine(t, src, "Europe/Berlin", 0)
	res, err := e.Run(context.Background(), Request{Query: models.Query{KPI: "active_users", Interval: models.IntervalRange}, From: from, To: to})
	require.NoError(t, err)
	// Flux on InfluxDB 1.8 also returns the sketches stamped at a read's
	// stop (the daily sketch of the day after the daily read): not counted.
	e1 := newEngine(t, &stopInclusiveSource{memSource: &memSource{sketches: sks}}, "Europe/Berlin", 0)
	res1, err := e1.Run(context.Background(), Request{Query: models.Query{KPI: "active_users", Interval: models.IntervalRange}, From: from, To: to})
	require.NoError(t, err)
	require.Equal(t, vals(res.Series[0]), vals(res1.Series[0]))
	require.Equal(t, []string{"2026-03-27T09:00:00Z"}, times(res.Times), "the range bucket starts at the hour holding from")
	require.Len(t, res.Series, 1)
	require.Len(t, res.Series[0].Values, 1)
	require.InDelta(t, float64(len(want)), *res.Series[0].Values[0], 0.02*float64(len(want)))
	require.Less(t, len(want), 5*int(to.Sub(from).Hours()), "users repeat: the test would not see double counting otherwise")

	var got []string
	for _, s := range src.sks {
		got = append(got, s.Window+" "+s.Start.UTC().Format(time.RFC3339)+" "+s.Stop.UTC().Format(time.RFC3339))
	}
	require.Equal(t, []string{
		"1h 2026-03-27T09:00:00Z 2026-03-27T23:00:00Z", // Friday from 10:00 local: hours
		"1d 2026-03-27T23:00:00Z 2026-03-30T22:00:00Z", // Saturday to Monday: daily sketches (Sunday is 23 h)
		"1h 2026-03-30T22:00:00Z 2026-03-31T14:00:00Z", // Tuesday until 16:00 local: hours
	}, got)
}

// stopInclusiveSource reads sketches as Flux on InfluxDB 1.8 does: the
// points stamped exactly at the stop too.
type stopInclusiveSource struct{ *memSource }

func (s *stopInclusiveSource) Sketches(ctx context.Context, spec SketchSpec, fn func(SketchRow) error) error {
	spec.Stop = spec.Stop.Add(time.Nanosecond)
	return s.memSource.Sketches(ctx, spec, fn)
}

// TestLongBucketsRules: what quarter, year and range combine with.
func TestLongBucketsRules(t *testing.T) {
	src := &memSource{points: append(order("2026-02-10T10:00:00Z", "s1", "app", "c1", 100), order("2026-05-10T10:00:00Z", "s1", "app", "c1", 50)...)}
	e := newEngine(t, src, "Asia/Shanghai", 0)
	from, to := utc("2025-12-31T16:00:00Z"), utc("2026-06-30T16:00:00Z")
	run := func(q models.Query) (*Result, error) {
		return e.Run(context.Background(), Request{Query: q, From: from, To: to})
	}
	for _, tt := range []struct {
		name string
		q    models.Query
		err  string
		want []any
	}{
		{"quarters", models.Query{KPI: "gmv", Interval: models.IntervalQuarter}, "", []any{100.0, 50.0}},
		{"ytd by quarter", models.Query{KPI: "gmv", Interval: models.IntervalQuarter, Cumulative: models.CumulativeYTD}, "", []any{100.0, 150.0}},
		{"running over the range", models.Query{KPI: "gmv", Interval: models.IntervalRange, Cumulative: models.CumulativeRunning}, "", []any{150.0}},
		{"range ratio", models.Query{KPI: "aov", Interval: models.IntervalRange}, "", []any{75.0}},
		{"year", models.Query{KPI: "orders", Interval: models.IntervalYear}, "", []any{2.0}},
		{"mtd by quarter", models.Query{KPI: "gmv", Interval: models.IntervalQuarter, Cumulative: models.CumulativeMTD}, "cross month boundaries", nil},
		{"ytd over the range", models.Query{KPI: "gmv", Interval: models.IntervalRange, Cumulative: models.CumulativeYTD}, "cross year boundaries", nil},
		{"target by quarter", models.Query{KPI: "gmv", Interval: models.IntervalQuarter, Target: true}, "target needs an interval of day, week or month", nil},
		{"target over the range", models.Query{KPI: "gmv", Interval: models.IntervalRange, Target: true}, "target needs an interval of day, week or month", nil},
		{"anomaly over the range", models.Query{KPI: "gmv", Interval: models.IntervalRange, Anomaly: &models.Anomaly{K: 3, Weeks: 6}}, "1h or finer, got range", nil},
		{"anomaly by year", models.Query{KPI: "gmv", Interval: models.IntervalYear, Anomaly: &models.Anomaly{K: 3, Weeks: 6}}, "1h or finer, got year", nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			res, err := run(tt.q)
			if tt.err != "" {
				requirePluginError(t, err, tt.err)
				return
			}
			require.NoError(t, err)
			require.Len(t, res.Series, 1)
			require.Equal(t, tt.want, vals(res.Series[0]))
		})
	}
}
