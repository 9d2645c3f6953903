package engine

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

// weeks builds n weekly values from f(week), with multiplicative noise of
// relative size noise (seeded).
func weeks(n int, noise float64, f func(w float64) float64) []float64 {
	rng := rand.New(rand.NewPCG(5, uint64(n)))
	out := make([]float64, n)
	for i := range out {
		out[i] = f(float64(i)) * (1 + noise*rng.NormFloat64())
	}
	return out
}

func logistic(x float64) float64 { return 1 / (1 + math.Exp(-x)) }

func TestClassifyLifecycle(t *testing.T) {
	tests := []struct {
		name   string
		weekly []float64
		want   string
	}{
		// S-curve foot: flat and low, then taking off (convex).
		{"take-off", weeks(16, 0.02, func(w float64) float64 { return 100 + 900*logistic((w-18)/3) }), StageIntroduction},
		{"take-off after a flat start", append(weeks(8, 0, func(float64) float64 { return 50 }), weeks(8, 0, func(w float64) float64 { return 50 * math.Pow(1.08, w) })...), StageIntroduction},
		// Past the inflection: still rising fast, but slowing (concave).
		{"growth slowing", weeks(16, 0.02, func(w float64) float64 { return 300 + 700*logistic((w-4)/4) }), StageGrowth},
		{"steady exponential growth", weeks(12, 0.01, func(w float64) float64 { return 100 * math.Pow(1.05, w) }), StageGrowth},
		{"flat", weeks(16, 0.03, func(float64) float64 { return 1000 }), StageMaturity},
		{"plateau after growth", weeks(20, 0.02, func(w float64) float64 { return 200 + 800*logistic((w-3)/2) }), StageMaturity},
		{"falling", weeks(12, 0.02, func(w float64) float64 { return 1000 * math.Pow(0.96, w) }), StageDecline},
		{"flat, far below its peak", append(weeks(6, 0, func(float64) float64 { return 1000 }), weeks(10, 0.01, func(float64) float64 { return 500 })...), StageDecline},
		{"one spike week does not make growth", func() []float64 {
			w := weeks(12, 0.02, func(float64) float64 { return 1000 })
			w[10] = 5000
			return w
		}(), StageMaturity},
		{"campaign weeks left out (NaN)", func() []float64 {
			w := weeks(14, 0.02, func(float64) float64 { return 1000 })
			w[6], w[12] = math.NaN(), math.NaN()
			return w
		}(), StageMaturity},
		{"weeks without sales count as tiny, not missing", append(weeks(8, 0, func(float64) float64 { return 800 }), 0, 0, 0, 0, 0, 0), StageDecline},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, tr, ok := ClassifyLifecycle(tt.weekly)
			require.True(t, ok)
			require.Equal(t, tt.want, got, "growth %+.3f earlier %+.3f level/peak %.2f", tr.Growth, tr.Earlier, tr.Level/tr.Peak)
		})
	}
}

func TestClassifyLifecycleRefuses(t *testing.T) {
	for _, tt := range []struct {
		name   string
		weekly []float64
	}{
		{"seven weeks", weeks(7, 0, func(float64) float64 { return 1 })},
		{"eight weeks, one a campaign week", append(weeks(7, 0, func(float64) float64 { return 1 }), math.NaN())},
		{"no sales", make([]float64, 10)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, _, ok := ClassifyLifecycle(tt.weekly)
			require.False(t, ok)
		})
	}
	require.Equal(t, []string{"introduction", "growth", "maturity", "decline"}, LifecycleStages())
}
