package holtwinters

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

// dailyShape is a sales day: quiet nights, lunch and evening peaks.
func dailyShape() []float64 {
	return []float64{2, 1, 1, 1, 1, 1, 2, 3, 4, 5, 6, 6, 7, 6, 5, 5, 5, 5, 6, 7, 8, 8, 6, 4}
}

func TestHoltWinters(t *testing.T) {
	shape := dailyShape()
	rng := rand.New(rand.NewPCG(1, 2))
	tests := []struct {
		name    string
		y       func(i int) float64
		n, m, h int
		want    func(i int) float64 // the truth at time i
		tol     float64             // relative error of the horizon's total
	}{
		{"perfect daily season", func(i int) float64 { return 100 * shape[i%24] }, 28 * 24, 24, 24,
			func(i int) float64 { return 100 * shape[i%24] }, 1e-9},
		{"season scaled by a growing level (multiplicative)", func(i int) float64 { return (50 + 0.1*float64(i)) * shape[i%24] }, 28 * 24, 24, 24,
			func(i int) float64 { return (50 + 0.1*float64(i)) * shape[i%24] }, 0.02},
		{"weekly season of days", func(i int) float64 { return 1000 * []float64{1.2, 0.9, 0.95, 1, 1, 1.05, 1.3}[i%7] }, 84, 7, 30,
			func(i int) float64 { return 1000 * []float64{1.2, 0.9, 0.95, 1, 1, 1.05, 1.3}[i%7] }, 1e-9},
		{"noisy daily season", func(i int) float64 { return 100 * shape[i%24] * (1 + 0.1*rng.NormFloat64()) }, 28 * 24, 24, 24,
			func(i int) float64 { return 100 * shape[i%24] }, 0.05},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			y := make([]float64, tt.n)
			for i := range y {
				y[i] = tt.y(i)
			}
			f, ok := Fit(y, tt.m)
			require.True(t, ok)
			got, want := 0.0, 0.0
			for i, v := range f.Forecast(tt.n, tt.h) {
				got += v
				want += tt.want(tt.n + i)
			}
			require.InEpsilon(t, want, got, tt.tol+1e-12, "forecast %v of truth %v (mult %v α %v β %v γ %v)", got, want, f.mult, f.alpha, f.beta, f.gamma)
		})
	}
}

func TestHoltWintersEdges(t *testing.T) {
	_, ok := Fit(make([]float64, 47), 24)
	require.False(t, ok, "fewer than two seasons")

	zeros, ok := Fit(make([]float64, 48), 24)
	require.True(t, ok, "a series of zeros is a valid (additive) series")
	require.Equal(t, make([]float64, 5), zeros.Forecast(48, 5))

	// A falling series of sales is floored at 0, never forecast negative.
	y := make([]float64, 72)
	for i := range y {
		y[i] = math.Max(0, 300-5*float64(i))
	}
	f, ok := Fit(y, 24)
	require.True(t, ok)
	for _, v := range f.Forecast(72, 48) {
		require.GreaterOrEqual(t, v, 0.0)
	}

	// From an earlier origin the forecast uses only what was known then.
	shape := dailyShape()
	y = make([]float64, 96)
	for i := range y {
		y[i] = 10 * shape[i%24]
		if i >= 72 {
			y[i] = 1000 // a jump on the last day: unknown at origin 72
		}
	}
	f, ok = Fit(y, 24)
	require.True(t, ok)
	require.Less(t, f.Forecast(72, 1)[0], 500.0)
}
