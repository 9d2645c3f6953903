package engine

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/stretchr/testify/require"

	"github.com/storepulse/storepulse/datasource/pkg/models"
	"github.com/storepulse/storepulse/internal/calendar"
	"github.com/storepulse/storepulse/internal/kpi"
	"github.com/storepulse/storepulse/internal/schema"
)

// categoryWeeks writes one category's weekly GMV (value of week w, from the
// Monday start) as one point a day.
func categoryWeeks(start time.Time, n int, category string, f func(w float64) float64) []memPoint {
	var out []memPoint
	for w := range n {
		for d := range 7 {
			out = append(out, memPoint{t: start.AddDate(0, 0, 7*w+d).Add(12 * time.Hour), meas: schema.MeasOrders, field: schema.FieldGMV,
				tags: map[string]string{"store": "s1", "category": category}, v: f(float64(w)) / 7})
		}
	}
	return out
}

func TestLifecycle(t *testing.T) {
	sh := loc(t, "Asia/Shanghai")
	monday := time.Date(2026, 1, 5, 0, 0, 0, 0, sh)
	var pts []memPoint
	pts = append(pts, categoryWeeks(monday, 14, "drones", func(w float64) float64 { return 100 + 900*logistic((w-16)/3) })...)
	pts = append(pts, categoryWeeks(monday, 14, "shoes", func(w float64) float64 { return 300 + 700*logistic((w-3)/4) })...)
	pts = append(pts, categoryWeeks(monday, 14, "tea", func(w float64) float64 { return 200 + 800*logistic((w-2)/1.5) })...)
	pts = append(pts, categoryWeeks(monday, 14, "food", func(w float64) float64 {
		if w == 9 {
			return 5000 // Double Eleven's peak week: left out
		}
		return 1000
	})...)
	pts = append(pts, categoryWeeks(monday, 14, "dvds", func(w float64) float64 { return 1000 * math.Pow(0.95, w) })...)
	camp := calendar.Campaign{ID: "d11", Name: "Double Eleven", Kind: "double11", Phases: []calendar.Phase{
		{Name: calendar.PhasePeak, Start: monday.AddDate(0, 0, 7*9+2), End: monday.AddDate(0, 0, 7*9+3)},
		{Name: calendar.PhaseAfterSales, Start: monday.AddDate(0, 0, 7*9+3), End: monday.AddDate(0, 0, 7*11)}}}
	src := &memSource{points: pts, camps: []calendar.Campaign{camp}}
	end := monday.AddDate(0, 0, 7*14)
	stage := func(r LifecycleRow) string { return r.Groups[0] + ":" + r.Stage }
	tests := []struct {
		name     string
		q        string
		from, to time.Time
		want     []string
		weeks    int
		err      string
	}{
		{"GMV by category over 14 weeks, the range ending mid-week", `{"kpi":"gmv","lifecycle":true,"groupBy":["category"]}`, monday.Add(-time.Hour), end.Add(50 * time.Hour),
			[]string{"food:maturity", "tea:maturity", "shoes:growth", "dvds:decline", "drones:introduction"}, 14, ""},
		{"lifecycle_stage is GMV by category", `{"kpi":"lifecycle_stage"}`, monday, end,
			[]string{"food:maturity", "tea:maturity", "shoes:growth", "dvds:decline", "drones:introduction"}, 14, ""},
		{"a range starting mid-week drops the partial week", `{"kpi":"gmv","lifecycle":true}`, monday.Add(time.Hour), monday.AddDate(0, 0, 62),
			nil, 0, "at least 8 whole weeks (Monday to Sunday) in the range, it holds 7"},
		{"seven weeks", `{"kpi":"gmv","lifecycle":true}`, monday, monday.AddDate(0, 0, 49), nil, 0, "at least 8 whole weeks"},
		{"ratio refused", `{"kpi":"aov","lifecycle":true}`, monday, end, nil, 0, "use a sum"},
		{"distinct refused", `{"kpi":"buyers","lifecycle":true}`, monday, end, nil, 0, "use a sum"},
		{"two dimensions refused", `{"kpi":"gmv","lifecycle":true,"groupBy":["store","category"]}`, monday, end, nil, 0, "one dimension"},
		{"the shorthand takes no transform", `{"kpi":"lifecycle_stage","target":true}`, monday, end, nil, 0, "no compare or other transform"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q, err := models.ParseQuery([]byte(tt.q))
			require.NoError(t, err)
			e := &Engine{Catalog: kpi.Default(), Source: src, Location: sh, SeriesLimit: 10, Now: func() time.Time { return end.AddDate(1, 0, 0) }}
			res, err := e.Lifecycle(context.Background(), Request{Query: q, From: tt.from, To: tt.to})
			if tt.err != "" {
				require.ErrorContains(t, err, tt.err)
				require.True(t, backend.IsPluginError(err))
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.weeks, res.Weeks)
			require.Equal(t, []string{"category"}, res.GroupBy)
			var got []string
			share := 0.0
			for _, r := range res.Rows {
				got = append(got, stage(r))
				share += *r.Share
				require.Equal(t, r.StageCode, indexOf(LifecycleStages(), r.Stage)+1)
			}
			require.Equal(t, tt.want, got)
			require.InDelta(t, 1.0, share, 1e-9)
			require.Equal(t, 1, res.LeftOut, "the peak week")
		})
	}
}

func indexOf(xs []string, x string) int {
	for i, v := range xs {
		if v == x {
			return i
		}
	}
	return -1
}

// TestLifecycleValues: value is the KPI over the last 4 weeks; a store's own
// campaign is left out of its series only; the series limit counts rows.
func TestLifecycleValues(t *testing.T) {
	sh := loc(t, "Asia/Shanghai")
	monday := time.Date(2026, 1, 5, 0, 0, 0, 0, sh)
	var pts []memPoint
	for _, s := range []string{"a", "b", "c"} {
		for w := range 8 {
			pts = append(pts, memPoint{t: monday.AddDate(0, 0, 7*w+1), meas: schema.MeasOrders, field: schema.FieldGMV,
				tags: map[string]string{"store": s}, v: 100 + float64(w)})
		}
	}
	camp := calendar.Campaign{ID: "c", Stores: []string{"a"}, Phases: []calendar.Phase{
		{Name: calendar.PhasePreSale, Start: monday.AddDate(0, 0, 1), End: monday.AddDate(0, 0, 2)}}}
	e := &Engine{Catalog: kpi.Default(), Source: &memSource{points: pts, camps: []calendar.Campaign{camp}}, Location: sh, SeriesLimit: 3,
		Now: func() time.Time { return monday.AddDate(1, 0, 0) }}
	q, err := models.ParseQuery([]byte(`{"kpi":"gmv","lifecycle":true,"groupBy":["store"]}`))
	require.NoError(t, err)
	res, err := e.Lifecycle(context.Background(), Request{Query: q, From: monday, To: monday.AddDate(0, 0, 56)})
	require.NoError(t, err)
	require.Len(t, res.Rows, 3)
	for _, r := range res.Rows {
		require.InDelta(t, 104.0+105+106+107, r.Value, 1e-9)
		require.InDelta(t, 1.0/3, *r.Share, 1e-9)
		if r.Groups[0] == "a" {
			require.Empty(t, r.Stage, "store a's pre-sale week leaves 7 weeks: no stage")
			require.Nil(t, r.Growth)
		} else {
			require.Equal(t, StageMaturity, r.Stage, "+1 %% a week is flat")
		}
	}
	e.SeriesLimit = 2
	_, err = e.Lifecycle(context.Background(), Request{Query: q, From: monday, To: monday.AddDate(0, 0, 56)})
	require.ErrorContains(t, err, "returns 3 series, more than the limit of 2")
}
