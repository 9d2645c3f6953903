package engine

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/storepulse/storepulse/datasource/pkg/models"
)

// transformData: Shanghai days 30 Oct .. 2 Nov 2026 (UTC 16:00 the day before),
// one earlier point in February for year-to-date.
func transformData() *memSource {
	var pts []memPoint
	pts = append(pts, order("2026-02-10T02:00:00Z", "tmall", "app", "tv", 1000)...)
	pts = append(pts, order("2026-10-30T02:00:00Z", "tmall", "app", "tv", 10)...)  // 30 Oct
	pts = append(pts, order("2026-10-31T02:00:00Z", "tmall", "app", "tv", 20)...)  // 31 Oct
	pts = append(pts, order("2026-10-31T15:59:00Z", "jd", "app", "tv", 5)...)      // 31 Oct 23:59
	pts = append(pts, order("2026-10-31T16:00:00Z", "tmall", "app", "tv", 40)...)  // 1 Nov 00:00
	pts = append(pts, order("2026-11-02T01:00:00Z", "pdd", "web", "tv", 80)...)    // 2 Nov
	pts = append(pts, order("2026-11-02T01:00:00Z", "", "web", "shoes", 3)...)     // 2 Nov, no store tag
	pts = append(pts, order("2026-11-02T02:00:00Z", "jd", "web", "shoes", 100)...) // 2 Nov
	pts = append(pts, order("2026-11-02T03:00:00Z", "jd", "web", "shoes", 100)...) // 2 Nov
	src := &memSource{points: pts}
	day := func(s string) TargetRow { return TargetRow{Time: utc(s)} }
	for _, t := range []struct {
		store, at string
		v         float64
	}{{"tmall", "2026-10-30T16:00:00Z", 40}, {"tmall", "2026-10-31T16:00:00Z", 0}, {"all", "2026-10-30T16:00:00Z", 50},
		{"all", "2026-11-01T16:00:00Z", 100}, {"jd", "2026-11-01T16:00:00Z", 400}} {
		r := day(t.at)
		r.Store, r.Value = t.store, t.v
		src.targets = append(src.targets, memTarget{kpi: "gmv", period: "day", row: r})
	}
	src.targets = append(src.targets, memTarget{kpi: "orders", period: "day", row: TargetRow{Time: utc("2026-10-30T16:00:00Z"), Store: "all", Value: 999}})
	return src
}

func TestTransforms(t *testing.T) {
	from, to := utc("2026-10-30T16:00:00Z"), utc("2026-11-02T16:00:00Z") // 31 Oct .. 2 Nov, Shanghai
	three := []string{"2026-10-30T16:00:00Z", "2026-10-31T16:00:00Z", "2026-11-01T16:00:00Z"}
	type out struct {
		role   string
		groups []string
		values []any
	}
	tests := []struct {
		name  string
		q     models.Query
		times []string
		want  []out
	}{
		{"running total from the range start", models.Query{KPI: "gmv", Interval: "day", Cumulative: "running"}, three,
			[]out{{RoleCurrent, nil, []any{25.0, 65.0, 348.0}}}},
		{"month-to-date: 30 Oct in the baseline, reset on 1 Nov", models.Query{KPI: "gmv", Interval: "day", Cumulative: "mtd"}, three,
			[]out{{RoleCurrent, nil, []any{35.0, 40.0, 323.0}}}},
		{"year-to-date from 1 Jan (February included)", models.Query{KPI: "gmv", Interval: "day", Cumulative: "ytd", Filters: map[string][]string{"store": {"tmall"}}}, three,
			[]out{{RoleCurrent, nil, []any{1030.0, 1070.0, 1070.0}}}},
		{"month-to-date by store and 6h steps", models.Query{KPI: "gmv", Interval: "12h", Cumulative: "mtd", Filters: map[string][]string{"store": {"jd"}}},
			[]string{"2026-10-30T16:00:00Z", "2026-10-31T04:00:00Z", "2026-10-31T16:00:00Z", "2026-11-01T04:00:00Z", "2026-11-01T16:00:00Z", "2026-11-02T04:00:00Z"},
			[]out{{RoleCurrent, nil, []any{0.0, 5.0, 0.0, 0.0, 200.0, 200.0}}}},
		{"target of the whole business, attainment", models.Query{KPI: "gmv", Interval: "day", Target: true}, three,
			[]out{{RoleCurrent, nil, []any{25.0, 40.0, 283.0}}, {RoleTarget, nil, []any{50.0, nil, 100.0}}, {RoleAttainment, nil, []any{0.5, nil, 2.83}}}},
		{"target per store; zero target gives null attainment", models.Query{KPI: "gmv", Interval: "day", Target: true, GroupBy: []string{"store"},
			Filters: map[string][]string{"store": {"tmall", "jd"}}}, three,
			[]out{
				{RoleCurrent, []string{"jd"}, []any{5.0, 0.0, 200.0}}, {RoleTarget, []string{"jd"}, []any{nil, nil, 400.0}}, {RoleAttainment, []string{"jd"}, []any{nil, nil, 0.5}},
				{RoleCurrent, []string{"tmall"}, []any{20.0, 40.0, 0.0}}, {RoleTarget, []string{"tmall"}, []any{40.0, 0.0, nil}}, {RoleAttainment, []string{"tmall"}, []any{0.5, nil, nil}},
			}},
		{"target of one filtered store", models.Query{KPI: "gmv", Interval: "day", Target: true, Filters: map[string][]string{"store": {"tmall"}}}, three,
			[]out{{RoleCurrent, nil, []any{20.0, 40.0, 0.0}}, {RoleTarget, nil, []any{40.0, 0.0, nil}}, {RoleAttainment, nil, []any{0.5, nil, nil}}}},
		{"top 2 stores by GMV, the rest (tmall and no store) as other", models.Query{KPI: "gmv", Interval: "day", TopN: &models.TopN{N: 2, By: "store"}}, three,
			[]out{{RoleCurrent, []string{"jd"}, []any{5.0, 0.0, 200.0}}, {RoleCurrent, []string{"pdd"}, []any{0.0, 0.0, 80.0}},
				{RoleCurrent, []string{OtherValue}, []any{20.0, 40.0, 3.0}}}},
		{"top 1 store by AOV: other is sum/sum of the rest", models.Query{KPI: "aov", Interval: "day", TopN: &models.TopN{N: 1, By: "store"}}, three,
			[]out{{RoleCurrent, []string{"pdd"}, []any{nil, nil, 80.0}}, {RoleCurrent, []string{OtherValue}, []any{12.5, 40.0, 203.0 / 3}}}},
		{"top 5 of 4 values: no other; whole weeks, ties by name", models.Query{KPI: "orders", Interval: "week", TopN: &models.TopN{N: 5, By: "store"}},
			[]string{"2026-10-25T16:00:00Z", "2026-11-01T16:00:00Z"},
			[]out{{RoleCurrent, []string{"jd"}, []any{1.0, 2.0}}, {RoleCurrent, []string{"tmall"}, []any{3.0, 0.0}}, {RoleCurrent, []string{""}, []any{0.0, 1.0}}, {RoleCurrent, []string{"pdd"}, []any{0.0, 1.0}}}},
		{"top 1 with compare: other of the earlier period too", models.Query{KPI: "gmv", Interval: "day", TopN: &models.TopN{N: 1, By: "store"},
			Compare: "1d", CompareOutputs: []string{"series"}}, three,
			[]out{{RoleCurrent, []string{"jd"}, []any{5.0, 0.0, 200.0}}, {RoleCompare, []string{"jd"}, []any{0.0, 5.0, 0.0}},
				{RoleCurrent, []string{OtherValue}, []any{20.0, 40.0, 83.0}}, {RoleCompare, []string{OtherValue}, []any{10.0, 20.0, 40.0}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEngine(t, transformData(), "Asia/Shanghai", 100)
			q := tt.q
			if q.Filters == nil {
				q.Filters = map[string][]string{}
			}
			res, err := e.Run(context.Background(), Request{Query: q, From: from, To: to})
			require.NoError(t, err)
			require.Equal(t, tt.times, times(res.Times))
			require.Len(t, res.Series, len(tt.want))
			for i, w := range tt.want {
				s := res.Series[i]
				require.Equal(t, w.role, s.Role, i)
				if w.groups != nil {
					require.Equal(t, w.groups, s.Groups, i)
				}
				got := vals(s)
				require.Len(t, got, len(w.values))
				for j := range got {
					if w.values[j] == nil {
						require.Nil(t, got[j], "series %d bucket %d", i, j)
						continue
					}
					require.NotNil(t, got[j], "series %d bucket %d", i, j)
					require.InDelta(t, w.values[j], got[j], 1e-9, "series %d bucket %d", i, j)
				}
			}
		})
	}
}

func TestTransformErrors(t *testing.T) {
	from, to := utc("2026-10-30T16:00:00Z"), utc("2026-11-02T16:00:00Z")
	tests := []struct {
		name string
		q    models.Query
		msg  string
	}{
		{"cumulative of a ratio", models.Query{KPI: "aov", Cumulative: "running"}, "cumulative running adds up sums only: KPI aov is a ratio"},
		{"cumulative of a distinct count", models.Query{KPI: "buyers", Cumulative: "mtd", Interval: "day"}, "KPI buyers is a distinct"},
		{"mtd by week", models.Query{KPI: "gmv", Cumulative: "mtd", Interval: "week"}, "not week"},
		{"target by hour", models.Query{KPI: "gmv", Target: true, Interval: "1h"}, "target needs an interval of day, week or month"},
		{"target filtered by channel", models.Query{KPI: "gmv", Target: true, Interval: "day", Filters: map[string][]string{"channel": {"app"}}}, "filter by store only"},
		{"target grouped by channel", models.Query{KPI: "gmv", Target: true, Interval: "day", GroupBy: []string{"channel"}}, "group by store only"},
		{"target of two stores without groupBy", models.Query{KPI: "gmv", Target: true, Interval: "day", Filters: map[string][]string{"store": {"a", "b"}}}, "several stores"},
		{"topN by a dimension the KPI lacks", models.Query{KPI: "sessions", TopN: &models.TopN{N: 2, By: "campaign"}}, "cannot be broken down by \"campaign\""},
		{"topN of stickiness", models.Query{KPI: "stickiness", Interval: "day", TopN: &models.TopN{N: 2, By: "store"}}, "not computed for stickiness"},
		{"topN over the series limit", models.Query{KPI: "gmv", Interval: "day", TopN: &models.TopN{N: 3, By: "store"}, Compare: "1d",
			CompareOutputs: []string{"series", "delta"}}, "returns 12 series, more than the limit of 10"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEngine(t, transformData(), "Asia/Shanghai", 10)
			_, err := e.Run(context.Background(), Request{Query: tt.q, From: from, To: to})
			requirePluginError(t, err, tt.msg)
		})
	}
}
