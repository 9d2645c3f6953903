package band

import (
	"math"
	"testing"

	"github.com/stretchr/testify/require"
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

// TestSevere: in the daily phase a bucket is beyond ±k only past a factor
// of 3 and beyond the band; the limits are the values scoring ∓k.
func TestSevere(t *testing.T) {
	const k = 3.0
	tests := []struct {
		name        string
		z, v, m, u  float64
		want        float64
		lower, high float64 // limits of a band m ± 24 (spread 8)
	}{
		// 60 expected, 0 (silent): z −7.5, factor score 3·(0 − 60)/40 = −4.5
		{"a silent store", -7.5, 0, 60, 60, -4.5, 20, 180},
		// a weekend at 0.6×: z −3, factor score 3·(36 − 60)/40 = −1.8: not beyond
		{"a weekend dip", -3, 36, 60, 60, -1.8, 20, 180},
		// five times: z 20, factor score 3·(300 − 60)/(180 − 60) = 6
		{"a spike of 5x", 20, 300, 60, 60, 6, 20, 180},
		// twice the usual, far beyond the band: the factor score 3·60/120 = 1.5
		{"twice the usual", 9, 120, 60, 60, 1.5, 20, 180},
		// a small factor score, the band is the binding one: z
		{"beyond 3x but within the band", 2, 200, 60, 60, 2, 20, 180},
		// nothing expected: no factor below (nothing to divide); above, 3 × volume 1 lies inside the band
		{"expected 0", 4, 4, 0, 1, 3 * 4.0 / 3, -24, 24},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.InDelta(t, tt.want, SevereScore(tt.z, tt.v, tt.m, tt.u, k), 1e-12)
			lo, hi := SevereLimits(tt.m-24, tt.m+24, tt.m, tt.u)
			require.InDelta(t, tt.lower, lo, 1e-12)
			require.InDelta(t, tt.high, hi, 1e-12)
		})
	}
}

// TestShareTail checks the binomial tails against sums of the probability
// mass function computed here term by term.
func TestShareTail(t *testing.T) {
	pmf := func(x, n int, p float64) float64 {
		lg := func(v int) float64 { r, _ := math.Lgamma(float64(v) + 1); return r }
		return math.Exp(lg(n) - lg(x) - lg(n-x) + float64(x)*math.Log(p) + float64(n-x)*math.Log1p(-p))
	}
	tests := []struct {
		name        string
		v, p, n     float64
		level       float64
		lo, hi      int // the tail's counts, inclusive
		nn          int // the items counted (n, or n shrunk by the level)
		pp          float64
		beyondLimit bool
	}{
		{"one paid of 7 where 95.5 % are", 1.0 / 7, 0.955, 7, 0, 0, 1, 7, 0.95, true},
		{"one unpaid of 2 where 93 % are paid", 0.5, 0.93, 2, 0, 0, 1, 2, 0.93, false},
		{"three of three unpaid", 0, 0.93, 3, 0, 0, 0, 3, 0.93, false},
		{"four of four unpaid", 0, 0.93, 4, 0, 0, 0, 4, 0.93, true},
		{"six of seven where all were paid", 6.0 / 7, 1, 7, 0, 0, 6, 7, 0.95, false},
		{"one of one unpaid where all were paid", 0, 1, 1, 0, 0, 0, 1, 0.95, false},
		{"refunds 12 of 40 where 3 % are refunded", 12.0 / 40, 0.03, 40, 0, 12, 40, 40, 0.05, true},
		{"refunds 4 of 40 where 3 % are refunded", 4.0 / 40, 0.03, 40, 0, 4, 40, 40, 0.05, false},
		{"conversion as usual (a rise judged against 5 %)", 0.03, 0.03, 1000, 0, 30, 1000, 1000, 0.05, false},
		{"no order among 2,000 sessions where 3 % order", 0, 0.03, 2000, 0, 0, 0, 2000, 0.03, true},
		{"3 of 8 where the shares vary twice as much as a binomial's", 3.0 / 8, 1, 8, 2 * 0.95 * 0.05, 0, 1, 4, 0.95, false},
		{"1 of 8 where the shares vary twice as much as a binomial's", 1.0 / 8, 1, 8, 2 * 0.95 * 0.05, 0, 0, 4, 0.95, true},
		{"a level below the binomial's changes nothing", 0, 0.93, 4, 0.01, 0, 0, 4, 0.93, true},
		{"above 100 % (orders paid later)", 1.2, 0.9, 10, 0, 10, 10, 10, 0.9, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := 0.0
			for x := tt.lo; x <= tt.hi; x++ {
				want += pmf(x, tt.nn, tt.pp)
			}
			got := ShareTail(tt.v, tt.p, tt.n, tt.level)
			require.InEpsilon(t, want, got, 1e-9)
			require.Equal(t, tt.beyondLimit, got < ShareEvidence, "tail %g", got)
		})
	}
	require.InDelta(t, 1.0, ShareTail(0, 0.5, 0, 0), 0, "nothing to judge")
	for _, c := range [][4]float64{{2, 1.125, 1, 0.125}, {1.5, 1.2, 10, 0}, {0.9, 1.2, 10, 0.1}, {0, 0, 10, 0}, {0.5, 0, 10, 0.2}} {
		got := ShareTail(c[0], c[1], c[2], c[3]) // expected shares outside [0, 1] (payment conversion above 100 %)
		require.False(t, math.IsNaN(got), "%v", c)
		require.GreaterOrEqual(t, got, ShareEvidence, "%v: no evidence", c)
	}
}
