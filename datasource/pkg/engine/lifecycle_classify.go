package engine

import (
	"math"
	"slices"

	"github.com/storepulse/storepulse/datasource/pkg/analysis/band"
)

// Life-cycle stages, in the order of their stage codes 1..4.
const (
	StageIntroduction = "introduction"
	StageGrowth       = "growth"
	StageMaturity     = "maturity"
	StageDecline      = "decline"
)

// LifecycleStages are the stages in life-cycle order (stage code = index + 1).
func LifecycleStages() []string {
	return []string{StageIntroduction, StageGrowth, StageMaturity, StageDecline}
}

// Life-cycle rule parameters (docs/query.md#life-cycle).
const (
	// LifecycleMinWeeks is the fewest whole weeks a classification needs:
	// two halves of at least 4 weeks for the trend and its change.
	LifecycleMinWeeks = 8
	// lifecycleTrendWeeks is the longest trend window: older weeks only
	// count for the peak.
	lifecycleTrendWeeks = 16
	// lifecycleLevelWeeks is the window of the level (and of the value).
	lifecycleLevelWeeks = 4
	// lifecycleMove is the weekly trend beyond which sales are rising or
	// falling (±2 % a week is about ±10 % a month).
	lifecycleMove = 0.02
	// lifecycleTakeOff is how much steeper (in weekly log growth) the recent
	// half's trend must be than the earlier half's for a take-off.
	lifecycleTakeOff = 0.01
	// lifecycleNearPeak is the level, relative to the peak, below which a
	// flat series has fallen from its peak.
	lifecycleNearPeak = 0.75
	// lifecycleFloor is the smallest weekly value, relative to the largest,
	// taken for the log trend (a week without sales has no logarithm).
	lifecycleFloor = 0.01
)

// LifecycleTrend are the measures the stage is decided on.
type LifecycleTrend struct {
	// Growth is the recent weekly trend, a fraction (0.05 = +5 % a week):
	// exp(Theil–Sen slope of ln(weekly value) over the trend window's recent
	// half) − 1.
	Growth float64
	// Earlier is the same over the trend window's earlier half.
	Earlier float64
	// Level is the median of the last 4 weeks, Peak the largest median of 4
	// consecutive weeks in the range; both over the weeks kept.
	Level, Peak float64
}

// ClassifyLifecycle decides the life-cycle stage of a series of weekly
// values (oldest first; a NaN marks a week left out, e.g. a campaign week).
// ok is false with fewer than LifecycleMinWeeks weeks kept or without any
// positive value. The rule (the classic product life cycle read off an
// S-shaped sales curve):
//
//   - decline: the recent trend falls by 2 % a week or more, or it is flat
//     (below +2 %) with the level under 75 % of the peak;
//   - introduction: it rises by 2 % a week or more and is taking off: its
//     weekly log growth is at least 1 point steeper than in the earlier half
//     (the convex foot of the S-curve);
//   - growth: it rises by 2 % a week or more, not taking off (steady or
//     slowing growth, the concave part of the S-curve);
//   - maturity: otherwise (flat near its peak).
func ClassifyLifecycle(weekly []float64) (string, LifecycleTrend, bool) {
	var xs, ys []float64
	top := math.Inf(-1)
	for _, v := range weekly {
		if !math.IsNaN(v) {
			top = math.Max(top, v)
		}
	}
	if top <= 0 {
		return "", LifecycleTrend{}, false
	}
	floor := lifecycleFloor * top
	for i, v := range weekly {
		if math.IsNaN(v) {
			continue
		}
		xs = append(xs, float64(i))
		ys = append(ys, math.Log(math.Max(v, floor)))
	}
	if len(xs) < LifecycleMinWeeks {
		return "", LifecycleTrend{}, false
	}
	var tr LifecycleTrend
	w := min(len(xs), lifecycleTrendWeeks)
	tx, ty := xs[len(xs)-w:], ys[len(ys)-w:]
	h := w / 2
	tr.Growth = math.Expm1(theilSen(tx[w-h:], ty[w-h:]))
	tr.Earlier = math.Expm1(theilSen(tx[:w-h], ty[:w-h]))

	kept := make([]float64, 0, len(xs))
	for _, v := range weekly {
		if !math.IsNaN(v) {
			kept = append(kept, v)
		}
	}
	for i := lifecycleLevelWeeks; i <= len(kept); i++ {
		m := band.Median(slices.Clone(kept[i-lifecycleLevelWeeks : i]))
		tr.Peak = math.Max(tr.Peak, m)
		tr.Level = m
	}
	rel := 0.0
	if tr.Peak > 0 {
		rel = tr.Level / tr.Peak
	}
	recent, earlier := math.Log1p(tr.Growth), math.Log1p(tr.Earlier)
	switch {
	case tr.Growth <= -lifecycleMove:
		return StageDecline, tr, true
	case tr.Growth < lifecycleMove && rel < lifecycleNearPeak:
		return StageDecline, tr, true
	case tr.Growth >= lifecycleMove && recent-earlier >= lifecycleTakeOff:
		return StageIntroduction, tr, true
	case tr.Growth >= lifecycleMove:
		return StageGrowth, tr, true
	}
	return StageMaturity, tr, true
}

// theilSen is the median of the slopes between every pair of points: a trend
// that one or two odd weeks cannot tilt.
func theilSen(xs, ys []float64) float64 {
	var slopes []float64
	for i := range xs {
		for j := i + 1; j < len(xs); j++ {
			if xs[j] != xs[i] {
				slopes = append(slopes, (ys[j]-ys[i])/(xs[j]-xs[i]))
			}
		}
	}
	if len(slopes) == 0 {
		return 0
	}
	return band.Median(slopes)
}
