package engine

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/storepulse/storepulse/datasource/pkg/models"
	"github.com/storepulse/storepulse/internal/calendar"
)

func TestHistoryCenter(t *testing.T) {
	tests := []struct {
		name                  string
		history               []float64
		expected, mad, volume float64
		ok                    bool
	}{
		// 100 110 90 105 95 100: median 100, |dev| 0 0 5 5 10 10: MAD 5
		{"normal", []float64{100, 110, 90, 105, 95, 100}, 100, 5 * MADScale, 100, true},
		// 90 95 100 105 110 1000: median 102.5, MAD 7.5; the volume is not the mean 250 (a past
		// burst would widen the band for weeks): the 1000 counts as 102.5 + 6 spreads (1.4826·MAD > √102.5)
		{"an outlier barely moves the centre nor the volume", []float64{100, 110, 90, 105, 95, 1000}, 102.5, 7.5 * MADScale, (500 + 102.5 + 6*7.5*MADScale) / 6, true},
		// 8 10 12 14: median 11, |dev| 1 1 3 3: MAD 2
		{"even count: the middle two", []float64{8, 10, 12, 14}, 11, 2 * MADScale, 11, true},
		// a refund now and then: median 0, the mean 0.25 is the volume
		{"mostly zeros", []float64{0, 1, 0, 0}, 0, 0, 0.25, true},
		{"too little history", []float64{100, 100}, 0, 0, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := append([]float64(nil), tt.history...)
			m, mad, u, ok := HistoryCenter(tt.history)
			require.Equal(t, h, tt.history, "history not modified")
			require.Equal(t, tt.ok, ok)
			require.InDelta(t, tt.expected, m, 1e-9)
			require.InDelta(t, tt.mad, mad, 1e-9)
			require.InDelta(t, tt.volume, u, 1e-9)
		})
	}
}

// residuals repeats (value, expected) pairs n times.
func residuals(n int, clean bool, pairs ...[3]float64) []Residual {
	var out []Residual
	for range n {
		for _, p := range pairs {
			out = append(out, Residual{Value: p[0], Expected: p[1], Den: p[2], Clean: clean})
		}
	}
	return out
}

func TestNoiseLevel(t *testing.T) {
	tests := []struct {
		name          string
		rs            []Residual
		ratio, counts bool
		want          float64
	}{
		// Σ(h − m)² / Σ|m| = 12·(100+100) / 12·(100+100) = 1
		{"sums: variance per unit of volume", residuals(12, true, [3]float64{110, 100}, [3]float64{90, 100}), false, false, 1},
		// one large order in a quiet hour: per-unit deviations 23 × 0 and 900/√100 = 90; their
		// median is 0, no robust scale to cap by: (1000−100)² + 23·0 over 24·100: 337.5
		{"sums: a rare large deviation counts where most are exact", append(residuals(23, true, [3]float64{100, 100}), Residual{Value: 1000, Expected: 100, Clean: true}), false, false, 337.5},
		// Poisson noise (±√m) and one burst of 1,017 orders against 15.5: the mean of squares was
		// (143·15.5 + 1001.5²) / (144·15.5) = 450, a band 21 times too wide for weeks; capped at
		// 6 × 1.4826 per unit: (143 + 8.8956²) / 144
		{"sums: one past burst does not set the level", append(residuals(143, true, [3]float64{15.5 + math.Sqrt(15.5), 15.5}), Residual{Value: 1017, Expected: 15.5, Clean: true}), false, true, (143 + 6*MADScale*6*MADScale) / 144},
		{"counts are at least Poisson", residuals(24, true, [3]float64{100, 100}), false, true, 1},
		// ratios: mean((r − m)²·D) = (0.1² · 50) = 0.5
		{"ratios: variance times the denominator", residuals(12, true, [3]float64{0.6, 0.5, 50}, [3]float64{0.4, 0.5, 50}), true, false, 0.5},
		{"ratios: zero denominators are left out", append(residuals(12, true, [3]float64{0.6, 0.5, 50}, [3]float64{0.4, 0.5, 50}), Residual{Value: 9, Expected: 0.5, Clean: true}), true, false, 0.5},
		// too few clean values: robust, (1.4826 · median |h − m|/√m)²; |dev|/√m = 10/10 for all
		{"inside a campaign: robust from all values", residuals(4, false, [3]float64{110, 100}, [3]float64{90, 100}), false, false, MADScale * MADScale},
		{"inside a campaign, counts: Poisson", residuals(4, false, [3]float64{300, 100}, [3]float64{90, 100}), false, true, 1},
		{"nothing to go by", nil, false, false, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.InDelta(t, tt.want, NoiseLevel(tt.rs, tt.ratio, tt.counts), 1e-9)
		})
	}
}

func TestSpread(t *testing.T) {
	tests := []struct {
		name                              string
		expected, mad, volume, level, den float64
		ratio                             bool
		want                              float64
	}{
		{"the history's own spread", 100, 20, 100, 1, 0, false, 20},
		{"a flat history: 5 % of expected", 100, 0, 100, 0, 0, false, 5},
		{"Poisson floor of a count: √100", 100, 3, 100, 1, 0, false, 10},
		{"heavy-tailed amounts: √(300·120)", 100, 30, 120, 300, 0, false, math.Sqrt(300 * 120)},
		{"a ratio over 4 orders: √(0.16/4)", 0.9, 0, 0.9, 0.16, 4, true, 0.2},
		{"the same ratio over 400 orders: 5 %", 0.9, 0, 0.9, 0.16, 400, true, 0.045},
		{"a ratio without a denominator: no floor", 0.9, 0.01, 0.9, 0.16, 0, true, 0.045},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.InDelta(t, tt.want, Spread(tt.expected, tt.mad, tt.volume, tt.level, tt.den, tt.ratio), 1e-9)
		})
	}
}

func TestScoreAndBand(t *testing.T) {
	tests := []struct {
		name       string
		v, m, u, s float64
		sq         bool
		want       float64
	}{
		{"below expected: linear", 60, 100, 100, 10, true, -4},
		// 2·√100·(√400 − √100)/10 = 20: compressed from (400 − 100)/10 = 30
		{"above expected: square-root scale", 400, 100, 100, 10, true, 20},
		{"linear when asked", 400, 100, 100, 10, false, 30},
		// expected 0 (a history of zeros), volume 1: 2·√1·√9 / 1
		{"above a zero expected value", 9, 0, 1, 1, true, 6},
		{"a negative expected value: linear", 0, -50, 50, 10, true, 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.InDelta(t, tt.want, Score(tt.v, tt.m, tt.u, tt.s, tt.sq), 1e-9)
		})
	}
	// The band's limits score exactly ∓k.
	for _, sq := range []bool{true, false} {
		lo, hi := BandLimits(100, 120, 10, 3, sq)
		require.InDelta(t, -3, Score(lo, 100, 120, 10, sq), 1e-9)
		require.InDelta(t, 3, Score(hi, 100, 120, 10, sq), 1e-9)
	}
	lo, hi := BandLimits(100, 100, 10, 3, true)
	require.InDelta(t, 70.0, lo, 1e-9)
	require.InDelta(t, 132.25, hi, 1e-9) // (10 + 1.5)²
}

func fps(vs ...any) []*float64 {
	out := make([]*float64, len(vs))
	for i, v := range vs {
		if f, ok := v.(float64); ok {
			out[i] = &f
		}
	}
	return out
}

func TestFlags(t *testing.T) {
	o, pl, cl := DayOrdinary, DayPlanned, DayClosed
	tests := []struct {
		name         string
		values       []*float64
		scores       []*float64
		days         []int
		single       []bool
		better, prev int
		want         []any
	}{
		{"one odd bucket is noise", fps(1.0, 9.0, 1.0), fps(0.0, 5.0, 0.0), []int{o, o, o}, nil, 1, 0, []any{0.0, 0.0, 0.0}},
		// today's rule needed a neighbour: a 30-spread spike alone was never flagged
		{"an extreme single bucket is flagged (beyond 5k/3)", fps(1.0, 90.0, 1.0), fps(0.0, 5.01, 0.0), []int{o, o, o}, nil, 1, 0, []any{0.0, 1.0, 0.0}},
		{"an extreme single drop is flagged", fps(0.0), fps(-30.0), []int{o}, nil, 1, 0, []any{1.0}},
		// looking back only: the first bucket of a run waits for the second
		{"two in a row are an incident, from the second", fps(1.0, 0.0, 0.0, 1.0), fps(0.0, -5.0, -4.0, 0.0), []int{o, o, o, o}, nil, 1, 0, []any{0.0, 0.0, 1.0, 0.0}},
		{"the bucket before the range counts", fps(0.0), fps(-4.0), []int{o}, nil, 1, -1, []any{1.0}},
		{"the bucket after does not", fps(0.0, 0.0), fps(-4.0, -4.0), []int{o, o}, nil, 1, 0, []any{0.0, 1.0}},
		{"the direction must persist", fps(9.0, 0.0), fps(4.0, -4.0), []int{o, o}, nil, 1, 0, []any{0.0, 0.0}},
		{"a null breaks the run", fps(0.0, nil, 0.0), fps(-4.0, nil, -4.0), []int{o, o, o}, nil, 1, 0, []any{0.0, nil, 0.0}},
		{"campaign: high is planned", fps(99.0, 99.0), fps(9.0, 9.0), []int{pl, pl}, nil, 1, 0, []any{0.0, 0.0}},
		{"campaign: a drop to half is planned", fps(5.0, 5.0), fps(-5.0, -5.0), []int{pl, pl}, nil, 1, 0, []any{0.0, 0.0}},
		{"campaign: a collapse is not", fps(2.0, 0.0), fps(-4.0, -6.0), []int{pl, pl}, nil, 1, 0, []any{0.0, 1.0}},
		{"campaign, lower is better: refunds double", fps(20.0, 20.0), fps(5.0, 5.0), []int{pl, pl}, nil, -1, 0, []any{0.0, 0.0}},
		{"campaign, lower is better: refunds fourfold", fps(40.0, 40.0), fps(4.0, 4.0), []int{pl, pl}, nil, -1, 0, []any{0.0, 1.0}},
		{"campaign, lower is better: a drop is good news", fps(0.0, 0.0), fps(-5.0, -5.0), []int{pl, pl}, nil, -1, 0, []any{0.0, 0.0}},
		{"outside campaigns both directions count", fps(40.0, 40.0), fps(4.0, 4.0), []int{o, o}, nil, 1, 0, []any{0.0, 1.0}},
		{"a planned closure is never flagged", fps(0.0, 0.0), fps(-30.0, -30.0), []int{cl, cl}, nil, 1, 0, []any{0.0, 0.0}},
		// one unpaid order of two: extreme in score, not in events; a second such hour is flagged
		{"an extreme bucket without the events is not flagged alone", fps(0.0, 9.0, 0.0, 0.0), fps(-20.0, 0.0, -20.0, -20.0), []int{o, o, o, o}, []bool{false, true, false, false}, 1, 0, []any{0.0, 0.0, 0.0, 1.0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := len(tt.values)
			exp, vol := make([]*float64, n), make([]*float64, n)
			for i := range exp {
				exp[i], vol[i] = ptr(10), ptr(10)
			}
			got := Flags(tt.values, exp, vol, tt.scores, tt.days, tt.single, 3, tt.better, tt.prev)
			for i, w := range tt.want {
				if w == nil {
					require.Nil(t, got[i], i)
					continue
				}
				require.NotNil(t, got[i], i)
				require.InDelta(t, w, *got[i], 0, i)
			}
		})
	}
}

// anomalyData: hourly GMV of tmall and jd at Shanghai 10:00 and 11:00 (02:00
// and 03:00 UTC) on Monday 23 Nov 2026 and the four Mondays before; nothing
// at 12:00, the hour in progress at the engine's now (04:30 UTC).
func anomalyData() *memSource {
	var pts []memPoint
	add := func(day, hour, store string, v float64) {
		pts = append(pts, order(day+"T"+hour+":30:00Z", store, "app", "tv", v)...)
	}
	// weeks back:          1    2    3    4
	days := []string{"2026-11-16", "2026-11-09", "2026-11-02", "2026-10-26"}
	for i, v := range []float64{1000, 1100, 900, 1050} {
		add(days[i], "02", "tmall", v)
	}
	// both stores sell before the first history week (a series' first day with
	// data is not history: the store may have opened that afternoon)
	add("2026-10-25", "08", "tmall", 100)
	add("2026-10-25", "08", "jd", 100)
	for _, d := range days {
		add(d, "03", "tmall", 1000)
		add(d, "02", "jd", 500)
		add(d, "03", "jd", 500)
	}
	add("2026-11-23", "02", "tmall", 1500) // high two hours running: flagged
	add("2026-11-23", "03", "tmall", 1300)
	add("2026-11-23", "02", "jd", 1500) // high in jd's campaign peak: planned
	add("2026-11-23", "03", "jd", 1500) // high after it, but for one hour only
	return &memSource{points: pts, camps: []calendar.Campaign{{ID: "jd-flash", Name: "JD flash sale", Kind: "activity", Stores: []string{"jd"},
		Phases: []calendar.Phase{{Name: calendar.PhasePeak, Start: utc("2026-11-23T02:00:00Z"), End: utc("2026-11-23T03:00:00Z")}}}}}
}

func anomalyEngine(t *testing.T, src Source) *Engine {
	e := newEngine(t, src, "Asia/Shanghai", 100)
	e.Now = func() time.Time { return utc("2026-11-23T04:30:00Z") }
	return e
}

func TestAnomaly(t *testing.T) {
	from, to := utc("2026-11-23T02:00:00Z"), utc("2026-11-23T05:00:00Z")
	e := anomalyEngine(t, anomalyData())
	q, err := models.ParseQuery([]byte(`{"kpi":"gmv","interval":"1h","groupBy":["store"],"anomaly":{"weeks":4}}`))
	require.NoError(t, err)
	res, err := e.Run(context.Background(), Request{Query: q, From: from, To: to})
	require.NoError(t, err)
	require.Equal(t, []string{"2026-11-23T02:00:00Z", "2026-11-23T03:00:00Z", "2026-11-23T04:00:00Z"}, times(res.Times))
	require.InDelta(t, 3.0, res.Anomaly, 0)
	// tmall 02:00: history 900 1000 1050 1100: median 1025, MAD 50, spread 74.13
	// (the noise floor is lower: 8 values, too few for a clean level, give a robust
	// level of 0.335 and √(0.335·1025) = 18.5). 03:00: history 1000 ×4: 5 % = 50.
	// High values score on the square-root scale: 2·√1025·(√1500 − √1025)/74.13.
	// 04:00: no history, no value yet (in progress): expected 0, no score.
	sp := 50 * MADScale
	z0 := 2 * math.Sqrt(1025) * (math.Sqrt(1500) - math.Sqrt(1025)) / sp
	z1 := 2 * math.Sqrt(1000) * (math.Sqrt(1300) - math.Sqrt(1000)) / 50
	up0 := math.Pow(math.Sqrt(1025)+3*sp/(2*math.Sqrt(1025)), 2)
	up1 := math.Pow(math.Sqrt(1000)+3*50/(2*math.Sqrt(1000)), 2)
	// jd: history 500 ×4: spread 25 (5 %). 02:00 is its campaign peak (not
	// flagged for being high); 03:00 is high alone, but 29 spreads: extreme.
	// tmall: 02:00 scores 5.8 and 03:00 5.6, both beyond 5 = 5k/3.
	zj := 2 * math.Sqrt(500) * (math.Sqrt(1500) - math.Sqrt(500)) / 25
	upj := math.Pow(math.Sqrt(500)+3*25/(2*math.Sqrt(500)), 2)
	want := map[string][][]any{
		"jd": {{1500.0, 1500.0, 0.0}, {500.0, 500.0, 0.0}, {425.0, 425.0, 0.0}, {upj, upj, 0.0}, {zj, zj, nil}, {0.0, 1.0, nil}},
		"tmall": {{1500.0, 1300.0, 0.0}, {1025.0, 1000.0, 0.0}, {1025 - 3*sp, 850.0, 0.0}, {up0, up1, 0.0},
			{z0, z1, nil}, {1.0, 1.0, nil}},
	}
	roles := []string{RoleCurrent, RoleExpected, RoleLower, RoleUpper, RoleScore, RoleAnomaly}
	require.Len(t, res.Series, 12)
	for i, s := range res.Series {
		store := s.Groups[0]
		require.Equal(t, roles[i%6], s.Role, i)
		got := vals(s)
		for j := range got {
			if want[store][i%6][j] == nil {
				require.Nil(t, got[j], "%s %s bucket %d", store, s.Role, j)
				continue
			}
			require.InDelta(t, want[store][i%6][j], got[j], 1e-6, "%s %s bucket %d", store, s.Role, j)
		}
	}
}

// TestAnomalyCampaignHistory: a campaign in a past week is left out of the baseline.
func TestAnomalyCampaignHistory(t *testing.T) {
	src := anomalyData()
	src.camps = append(src.camps, calendar.Campaign{ID: "tmall-old", Name: "old", Kind: "activity", Stores: []string{"tmall"},
		Phases: []calendar.Phase{{Name: calendar.PhasePeak, Start: utc("2026-11-09T00:00:00Z"), End: utc("2026-11-10T00:00:00Z")}}})
	e := anomalyEngine(t, src)
	q, err := models.ParseQuery([]byte(`{"kpi":"gmv","interval":"1h","filters":{"store":["tmall"]},"anomaly":{"weeks":4}}`))
	require.NoError(t, err)
	res, err := e.Run(context.Background(), Request{Query: q, From: utc("2026-11-23T02:00:00Z"), To: utc("2026-11-23T03:00:00Z")})
	require.NoError(t, err)
	require.Len(t, res.Series, 6)
	// history 1000 900 1050 (the 1100 was a campaign day): median 1000, MAD 50
	require.InDelta(t, 1000.0, *res.Series[1].Values[0], 1e-9)
	require.InDelta(t, 1000-3*50*MADScale, *res.Series[2].Values[0], 1e-6)
}

func TestAnomalyVanishedSeries(t *testing.T) {
	src := anomalyData()
	for _, d := range []string{"2026-11-16", "2026-11-09", "2026-11-02", "2026-10-26", "2026-10-25"} {
		src.points = append(src.points, order(d+"T02:10:00Z", "pdd", "app", "tv", 40)...)
		src.points = append(src.points, order(d+"T03:10:00Z", "pdd", "app", "tv", 40)...)
	}
	e := anomalyEngine(t, src)
	q, err := models.ParseQuery([]byte(`{"kpi":"gmv","interval":"1h","filters":{"store":["pdd"]},"groupBy":["store"],"anomaly":{"weeks":4}}`))
	require.NoError(t, err)
	res, err := e.Run(context.Background(), Request{Query: q, From: utc("2026-11-23T02:00:00Z"), To: utc("2026-11-23T04:00:00Z")})
	require.NoError(t, err)
	require.Len(t, res.Series, 6, "a store without data now is still checked")
	require.Equal(t, []string{"pdd"}, res.Series[0].Groups)
	require.Equal(t, []any{0.0, 0.0}, vals(res.Series[0]))
	require.Equal(t, []any{1.0, 1.0}, vals(res.Series[5]), "silent for two hours")
}

func TestAnomalyRegions(t *testing.T) {
	e := anomalyEngine(t, anomalyData())
	// no interval: 1h
	q, err := models.ParseQuery([]byte(`{"kpi":"gmv","groupBy":["store"],"anomaly":{"weeks":4}}`))
	require.NoError(t, err)
	res, regions, err := e.AnomalyRegions(context.Background(), Request{Query: q, From: utc("2026-11-23T00:00:00Z"), To: utc("2026-11-23T06:00:00Z")})
	require.NoError(t, err)
	require.Equal(t, time.Hour, res.Step.Fixed)
	require.Len(t, regions, 2, "tmall's two high hours; jd's campaign peak is planned, its next hour extreme")
	require.Equal(t, []string{"tmall"}, regions[0].Groups)
	require.Equal(t, []string{"jd"}, regions[1].Groups)
	require.True(t, utc("2026-11-23T03:00:00Z").Equal(regions[1].Start))
	require.True(t, utc("2026-11-23T02:00:00Z").Equal(regions[0].Start))
	require.True(t, utc("2026-11-23T04:00:00Z").Equal(regions[0].End))
	require.InDelta(t, 1500.0, regions[0].Value, 0)
	require.InDelta(t, 1025.0, regions[0].Expected, 0)
	require.InDelta(t, 2*math.Sqrt(1025)*(math.Sqrt(1500)-math.Sqrt(1025))/(50*MADScale), regions[0].Score, 1e-6)

	q.Anomaly = nil // the defaults: k = 3, 6 weeks
	res, _, err = e.AnomalyRegions(context.Background(), Request{Query: q, From: utc("2026-11-23T00:00:00Z"), To: utc("2026-11-23T06:00:00Z")})
	require.NoError(t, err)
	require.InDelta(t, 3.0, res.Anomaly, 0)

	q.Compare = "1d"
	_, _, err = e.AnomalyRegions(context.Background(), Request{Query: q, From: utc("2026-11-23T00:00:00Z"), To: utc("2026-11-23T06:00:00Z")})
	require.ErrorContains(t, err, "no compare")
}

// TestAnomalyDST: in New York the range of 1 Nov 2026 00:00-04:00 holds five
// hours (01:00 twice, DST ends); each is compared with the same local hour of
// the previous weeks, not with the bucket of the same index.
func TestAnomalyDST(t *testing.T) {
	var pts []memPoint
	for w := 1; w <= 4; w++ {
		day := utc("2026-11-01T04:00:00Z").AddDate(0, 0, -7*w) // 00:00 EDT
		for h := range 4 {                                     // 00:00 .. 03:00 EDT: 10, 20, 30, 40
			pts = append(pts, order(day.Add(time.Duration(h)*time.Hour+time.Minute).Format(time.RFC3339), "s", "app", "tv", float64(10*(h+1)))...)
		}
	}
	src := &memSource{points: pts}
	e := newEngine(t, src, "America/New_York", 100)
	q, err := models.ParseQuery([]byte(`{"kpi":"gmv","interval":"1h","anomaly":{"weeks":4}}`))
	require.NoError(t, err)
	res, err := e.Run(context.Background(), Request{Query: q, From: utc("2026-11-01T04:00:00Z"), To: utc("2026-11-01T09:00:00Z")})
	require.NoError(t, err)
	require.Len(t, res.Times, 5)
	// 00:00 EDT, 01:00 EDT, 01:00 EST, 02:00 EST, 03:00 EST
	require.Equal(t, []any{10.0, 20.0, 20.0, 30.0, 40.0}, vals(res.Series[1]))
}

func TestAnomalyErrors(t *testing.T) {
	from := utc("2026-11-23T02:00:00Z")
	tests := []struct {
		name, json string
		to         time.Time
		limit      int
		msg        string
	}{
		{"daily interval", `{"kpi":"gmv","interval":"day","anomaly":{}}`, from.Add(48 * time.Hour), 100, "needs an interval of 1h or finer, got day"},
		{"2h interval", `{"kpi":"gmv","interval":"2h","anomaly":{}}`, from.Add(4 * time.Hour), 100, "got 2h"},
		{"stickiness", `{"kpi":"stickiness","interval":"day","anomaly":{}}`, from.Add(48 * time.Hour), 100, "not computed for KPI stickiness"},
		{"series limit counts the band", `{"kpi":"gmv","interval":"1h","groupBy":["store"],"anomaly":{"weeks":4}}`, from.Add(time.Hour), 10, "returns 12 series"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := anomalyEngine(t, anomalyData())
			e.SeriesLimit = tt.limit
			q, err := models.ParseQuery([]byte(tt.json))
			require.NoError(t, err)
			_, err = e.Run(context.Background(), Request{Query: q, From: from, To: tt.to})
			requirePluginError(t, err, tt.msg)
		})
	}
}
