package bench

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestPercentile(t *testing.T) {
	ms := func(xs ...int) []time.Duration {
		out := make([]time.Duration, len(xs))
		for i, x := range xs {
			out[i] = time.Duration(x) * time.Millisecond
		}
		return out
	}
	oneToTwenty := ms(20, 19, 18, 17, 16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1)
	for _, tc := range []struct {
		name string
		ds   []time.Duration
		p    float64
		want time.Duration
	}{
		{"empty", nil, 50, 0},
		{"one value", ms(7), 95, 7 * time.Millisecond},
		{"median of odd count", ms(3, 1, 2), 50, 2 * time.Millisecond},
		{"median of even count is the lower middle (nearest rank)", ms(4, 1, 3, 2), 50, 2 * time.Millisecond},
		{"p95 of 20 is the 19th (0.95·20 exactly, no float overshoot)", oneToTwenty, 95, 19 * time.Millisecond},
		{"p95 of 21 rounds the rank up", append(oneToTwenty, 21*time.Millisecond), 95, 20 * time.Millisecond},
		{"p100 is the maximum", ms(5, 9, 1), 100, 9 * time.Millisecond},
		{"tiny p is the minimum", ms(5, 9, 1), 0.01, time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, Percentile(tc.ds, tc.p))
		})
	}
	in := ms(3, 1, 2)
	Percentile(in, 50)
	require.Equal(t, ms(3, 1, 2), in, "the input is not reordered")
}

func TestMedianRatio(t *testing.T) {
	for _, tc := range []struct {
		name string
		a, b []time.Duration
		want float64
	}{
		{"pairs, odd", []time.Duration{2, 9, 3}, []time.Duration{1, 3, 3}, 2},
		{"pairs, even: mean of the middle two", []time.Duration{1, 2, 3, 4}, []time.Duration{1, 1, 1, 1}, 2.5},
		{"zero denominators skipped", []time.Duration{5, 4}, []time.Duration{0, 2}, 2},
		{"nothing", nil, nil, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.InDelta(t, tc.want, MedianRatio(tc.a, tc.b), 1e-12)
		})
	}
}

func TestLatestTimeOfDay(t *testing.T) {
	loc := time.FixedZone("CST", 8*3600)
	for _, tc := range []struct {
		name      string
		now, want time.Time
	}{
		{"later the same day", time.Date(2026, 11, 24, 18, 30, 0, 0, loc), time.Date(2026, 11, 24, 17, 0, 0, 0, loc)},
		{"exactly then", time.Date(2026, 11, 24, 17, 0, 0, 0, loc), time.Date(2026, 11, 24, 17, 0, 0, 0, loc)},
		{"earlier: yesterday's", time.Date(2026, 11, 24, 5, 0, 0, 0, loc), time.Date(2026, 11, 23, 17, 0, 0, 0, loc)},
		{"across a month", time.Date(2026, 12, 1, 1, 0, 0, 0, loc), time.Date(2026, 11, 30, 17, 0, 0, 0, loc)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.True(t, tc.want.Equal(latestTimeOfDay(tc.now, 17*time.Hour, loc)))
		})
	}
}
