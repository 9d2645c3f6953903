package engine

import (
	"context"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/stretchr/testify/require"

	"github.com/storepulse/storepulse/datasource/pkg/models"
	"github.com/storepulse/storepulse/internal/kpi"
	"github.com/storepulse/storepulse/internal/schema"
)

// weeklyFactor is a weekday's share of an average day, Sunday first.
func weeklyFactor() []float64 { return []float64{1.3, 0.9, 0.95, 1, 1, 1.05, 1.25} }

// seasonalPoints are days of perfectly seasonal hourly sales: the hour's
// value (dayTotal × the weekday factor × the hour's share of dailyShape)
// spread over six points ten minutes apart.
func seasonalPoints(from time.Time, days int, meas, field, store string, dayTotal float64, weekly bool) []memPoint {
	shape := dailyShape()
	sum := 0.0
	for _, v := range shape {
		sum += v
	}
	var out []memPoint
	for d := range days {
		day := from.AddDate(0, 0, d)
		total := dayTotal
		if weekly {
			total *= weeklyFactor()[day.Weekday()]
		}
		for h := range 24 {
			for k := range 6 {
				out = append(out, memPoint{t: day.Add(time.Duration(h)*time.Hour + time.Duration(10*k)*time.Minute), meas: meas, field: field,
					tags: map[string]string{"store": store, "channel": "app"}, v: total * shape[h] / sum / 6})
			}
		}
	}
	return out
}

func lastValue(s ForecastSeries) float64 { return *s.Values[len(s.Values)-1] }

func TestForecast(t *testing.T) {
	sh := loc(t, "Asia/Shanghai")
	start := time.Date(2025, 11, 1, 0, 0, 0, 0, sh)
	var pts []memPoint
	pts = append(pts, seasonalPoints(start, 160, schema.MeasOrders, schema.FieldGMV, "tmall", 2400, false)...)
	pts = append(pts, seasonalPoints(start, 160, schema.MeasOrders, schema.FieldOrders, "tmall", 48, false)...)
	pts = append(pts, seasonalPoints(start, 160, schema.MeasOrders, schema.FieldGMV, "jd", 700, true)...)
	pts = append(pts, seasonalPoints(start, 160, schema.MeasOrders, schema.FieldOrders, "jd", 10, true)...)
	src := &memSource{points: pts, targets: []memTarget{
		{kpi: "gmv", period: "day", row: TargetRow{Time: time.Date(2026, 3, 10, 0, 0, 0, 0, sh), Store: "tmall", Value: 2500}},
		{kpi: "gmv", period: "month", row: TargetRow{Time: time.Date(2026, 3, 1, 0, 0, 0, 0, sh), Store: "all", Value: 90000}},
	}}
	now := time.Date(2026, 3, 10, 14, 30, 0, 0, sh) // a Tuesday
	jdDay := 700 * weeklyFactor()[now.Weekday()]
	jdMarch := 0.0
	for d := 1; d <= 31; d++ {
		jdMarch += 700 * weeklyFactor()[time.Date(2026, 3, d, 0, 0, 0, 0, sh).Weekday()]
	}
	tests := []struct {
		name string
		q    string
		to   time.Time
		// per series (in key order): the last value of actual, forecast;
		// the number of actual and forecast points; whether a target is there
		actual, forecast []float64
		tol              float64 // relative error of the forecast (default 1e-6)
		limit            int     // series limit (default 100)
		nActual, nFcst   int
		target           []bool
		err              string
	}{
		{name: "day, two stores: the end-of-day total of a perfect season, target for tmall only",
			q: `{"kpi":"gmv","groupBy":["store"],"forecast":{"horizon":"day"}}`, to: now.Add(10 * time.Hour),
			nActual: 1 + 14 + 1, nFcst: 1 + 10, forecast: []float64{jdDay, 2400}, target: []bool{false, true},
			tol: 1e-3}, // jd's weekdays differ: an hourly model with a daily season adapts within the day
		{name: "day, ratio: AOV forecast is numerator over denominator",
			q: `{"kpi":"aov","filters":{"store":["tmall"]},"forecast":{"horizon":"day"}}`, to: now,
			nActual: 16, nFcst: 11, forecast: []float64{50}, target: []bool{false}},
		{name: "month, weekly season of days, the whole business's target",
			q: `{"kpi":"gmv","filters":{"store":["jd"]},"forecast":{"horizon":"month"}}`, to: now,
			nActual: 1 + 9 + 1, nFcst: 1 + 22, forecast: []float64{jdMarch}, target: []bool{false}},
		{name: "month without filters: the 'all' target",
			q: `{"kpi":"gmv","forecast":{"horizon":"month"}}`, to: now,
			nActual: 11, nFcst: 23, forecast: []float64{jdMarch + 31*2400}, target: []bool{true}},
		{name: "range ending at midnight: the day that ended, nothing left to forecast",
			q: `{"kpi":"gmv","filters":{"store":["tmall"]},"forecast":{"horizon":"day"}}`, to: time.Date(2026, 3, 9, 0, 0, 0, 0, sh),
			actual: []float64{2400}, nActual: 25, nFcst: 1, forecast: []float64{2400}, target: []bool{false}},
		{name: "distinct counts refused", q: `{"kpi":"active_users","forecast":{"horizon":"day"}}`, to: now, err: "distinct counts do not add up"},
		{name: "conversion rate (distinct ratio) refused", q: `{"kpi":"conversion_rate","forecast":{"horizon":"day"}}`, to: now, err: "distinct counts do not add up"},
		{name: "stickiness refused", q: `{"kpi":"stickiness","forecast":{"horizon":"month"}}`, to: now, err: "distinct counts"},
		{name: "cumulative KPI refused", q: `{"kpi":"total_users","forecast":{"horizon":"month"}}`, to: now, err: "not a sum or a ratio of sums"},
		{name: "unknown dimension", q: `{"kpi":"gmv","groupBy":["reason"],"forecast":{"horizon":"day"}}`, to: now, err: "cannot be split by \"reason\""},
		{name: "series limit: 2 stores × 5 outputs", q: `{"kpi":"gmv","groupBy":["store"],"forecast":{"horizon":"day"}}`, to: now, limit: 9, err: "returns 10 series, more than the limit of 9"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q, err := models.ParseQuery([]byte(tt.q))
			require.NoError(t, err)
			limit := tt.limit
			if limit == 0 {
				limit = 100
			}
			e := &Engine{Catalog: kpi.Default(), Source: src, Location: sh, SeriesLimit: limit, Now: func() time.Time { return now }}
			res, err := e.Forecast(context.Background(), Request{Query: q, From: tt.to.Add(-24 * time.Hour), To: tt.to})
			if tt.err != "" {
				require.ErrorContains(t, err, tt.err)
				require.True(t, backend.IsPluginError(err), "a plugin error")
				return
			}
			require.NoError(t, err)
			i := 0
			for k, want := range tt.forecast {
				actual, fc, lo, hi := res.Series[i], res.Series[i+1], res.Series[i+2], res.Series[i+3]
				require.Equal(t, []string{RoleActual, RoleForecast, RoleLower, RoleUpper}, []string{actual.Role, fc.Role, lo.Role, hi.Role})
				require.Len(t, actual.Times, tt.nActual)
				require.Len(t, fc.Times, tt.nFcst)
				require.True(t, actual.Times[len(actual.Times)-1].Equal(fc.Times[0]), "the lines join at min(to, now)")
				require.True(t, fc.Times[len(fc.Times)-1].Equal(res.PeriodEnd))
				require.InDelta(t, lastValue(actual), *fc.Values[0], 1e-9)
				tol := max(tt.tol, 1e-6)
				require.InEpsilon(t, want, lastValue(fc), tol, "series %d", k)
				if len(tt.actual) > k && tt.actual[k] != 0 {
					require.InEpsilon(t, tt.actual[k], lastValue(actual), 1e-6)
				}
				// a perfect season: every backtest was exact, the band is the forecast
				require.InEpsilon(t, want, lastValue(lo), 10*tol)
				require.InEpsilon(t, want, lastValue(hi), 10*tol)
				require.LessOrEqual(t, lastValue(lo), lastValue(hi))
				i += 4
				if tt.target[k] {
					require.Equal(t, RoleTarget, res.Series[i].Role)
					require.Equal(t, []time.Time{res.PeriodStart, res.PeriodEnd}, res.Series[i].Times)
					i++
				}
			}
			require.Len(t, res.Series, i)
		})
	}
}

// TestForecastActualSoFar: the actual path is the KPI cumulated from the
// period's start, stamped at each bucket's end, and at min(to, now).
func TestForecastActualSoFar(t *testing.T) {
	sh := loc(t, "Asia/Shanghai")
	day := time.Date(2026, 3, 10, 0, 0, 0, 0, sh)
	src := &memSource{points: []memPoint{
		{t: day.Add(30 * time.Minute), meas: schema.MeasOrders, field: schema.FieldGMV, tags: map[string]string{"store": "s"}, v: 10},
		{t: day.Add(90 * time.Minute), meas: schema.MeasOrders, field: schema.FieldGMV, tags: map[string]string{"store": "s"}, v: 20},
		{t: day.Add(150 * time.Minute), meas: schema.MeasOrders, field: schema.FieldGMV, tags: map[string]string{"store": "s"}, v: 40},
		{t: day.Add(170 * time.Minute), meas: schema.MeasOrders, field: schema.FieldGMV, tags: map[string]string{"store": "s"}, v: 80}, // after to
	}}
	to := day.Add(160 * time.Minute)
	e := &Engine{Catalog: kpi.Default(), Source: src, Location: sh, Now: func() time.Time { return day.AddDate(0, 0, 5) }}
	q, err := models.ParseQuery([]byte(`{"kpi":"gmv","forecast":{"horizon":"day"}}`))
	require.NoError(t, err)
	res, err := e.Forecast(context.Background(), Request{Query: q, From: day, To: to})
	require.NoError(t, err)
	require.True(t, res.At.Equal(to))
	actual := res.Series[0]
	require.Equal(t, []time.Time{day, day.Add(time.Hour), day.Add(2 * time.Hour), to}, actual.Times)
	require.Equal(t, []any{0.0, 10.0, 30.0, 70.0}, vals(Series{Values: actual.Values}))
	fc := res.Series[1]
	require.Len(t, fc.Times, 1+22)
	require.InDelta(t, 70.0, *fc.Values[0], 0, "the forecast starts at the actual")
	for _, v := range fc.Values[1:] {
		require.Nil(t, v, "a series needs two seasons of its own history (the buckets before its first data do not count)")
	}
}

func TestQuantile(t *testing.T) {
	xs := []float64{1, 2, 3, 4, 5}
	for _, tt := range []struct{ q, want float64 }{{0, 1}, {0.1, 1.4}, {0.5, 3}, {0.9, 4.6}, {1, 5}} {
		require.InDelta(t, tt.want, quantile(xs, tt.q), 1e-12, "q %v", tt.q)
	}
	require.InDelta(t, 7.0, quantile([]float64{7}, 0.9), 0)
}

// dailyShape is a sales day: quiet nights, lunch and evening peaks.
func dailyShape() []float64 {
	return []float64{2, 1, 1, 1, 1, 1, 2, 3, 4, 5, 6, 6, 7, 6, 5, 5, 5, 5, 6, 7, 8, 8, 6, 4}
}
