// Package band is the anomaly band's arithmetic, shared by the datasource's
// anomaly transform and the morning briefing: a bucket's expected value and
// volume from its history, a series' noise level, the spread, the score on
// the square-root scale, the band's limits and the flags
// (docs/query.md#anomaly). It reads nothing: the callers gather the history.
package band

import (
	"math"
	"slices"
)

// MADScale makes the median absolute deviation a consistent estimator of the
// standard deviation for normal data.
const MADScale = 1.4826

// MinHistory is the number of past values needed for a band.
const MinHistory = 3

// RelFloor is the spread's floor relative to |expected|: a perfectly
// regular history (MAD 0) would otherwise flag the smallest change.
const RelFloor = 0.05

// MinResiduals is the number of history values outside campaigns
// needed to estimate the noise level from them; with fewer (a range inside
// a long campaign) it comes robustly from all history values.
const MinResiduals = 24

// Winsor is the cap of one history value's deviation in the noise
// level, in robust spreads of the window (1.4826 × the median per-unit
// deviation): one past burst (1,017 orders against 15.5) then counts as a
// large deviation, not as one that sets the band for weeks.
const Winsor = 6

// SingleFactor: a single bucket beyond ±factor·k is flagged without
// a neighbour (an outage shorter than two buckets, a spike of 30 spreads).
const SingleFactor = 5.0 / 3

// CampaignFactor is the factor by which a campaign phase may lower a
// KPI below its expected value without being flagged: planned phases move
// KPIs by up to about 3× (the peak day triples traffic; the after-sales lull
// follows busier pre-sale weeks, which make up its history).
const CampaignFactor = 3

// DailyDays is the number of previous days whose same time of day is the
// history of a series in its daily phase (docs/query.md#anomaly): a new
// series with one to three weeks of data knows its daily pattern only. A
// week of days holds every weekday once, and their median is an ordinary
// day's level even with a weekend dip among them.
const DailyDays = 7

// SevereScore is the score of a bucket in the daily phase: the smaller in
// magnitude of its score z and its factor score, which is ∓k at a third of
// the expected value m (for m > 0) and at three times the volume u, as the
// campaign rule's factor (CampaignFactor): a history of one to three weeks
// does not know the weekly pattern (a new store's weekend is 20 to 50 % below
// its weekdays), so only a move past a factor of 3 in either direction — a
// store gone silent, a runaway spike — is beyond the band. Below m the
// factor score is k·(v − m) / (⅔·m), so never beyond −1.5k: a low bucket
// needs a neighbour to be flagged; above, k·(v − m) / (3u − m).
func SevereScore(z, v, m, u, k float64) float64 {
	switch {
	case v < m && m > 0:
		return math.Max(z, k*(v-m)/(m*(1-1.0/CampaignFactor)))
	case v > m && CampaignFactor*u > m:
		return math.Min(z, k*(v-m)/(CampaignFactor*u-m))
	}
	return z
}

// SevereLimits are the daily phase's band limits, the values whose
// SevereScore is ∓k: the band's limits lo and hi widened to a third of the
// expected value m (for m > 0) and to three times the volume u.
func SevereLimits(lo, hi, m, u float64) (lower, upper float64) {
	if m > 0 {
		lo = math.Min(lo, m/CampaignFactor)
	}
	if CampaignFactor*u > m {
		hi = math.Max(hi, CampaignFactor*u)
	}
	return lo, hi
}

// Median of a non-empty slice (sorted in place).
func Median(xs []float64) float64 {
	slices.Sort(xs)
	n := len(xs)
	if n%2 == 1 {
		return xs[n/2]
	}
	return (xs[n/2-1] + xs[n/2]) / 2
}

// HistoryCenter is the expected value of a bucket, the median of its
// history, the history's own spread 1.4826·MAD and its volume: the larger
// of |expected| and the mean |history|, each value capped at |expected| + 6
// robust spreads (the larger of 1.4826·MAD and √|expected|), so that one
// past burst is not volume (a history of mostly zeros, expected 0, keeps
// its plain mean); ok is false with fewer than 3 values. The history is not
// modified.
func HistoryCenter(history []float64) (expected, madSpread, volume float64, ok bool) {
	if len(history) < MinHistory {
		return 0, 0, 0, false
	}
	h := slices.Clone(history)
	m := Median(h)
	for i := range h {
		h[i] = math.Abs(history[i] - m)
	}
	mad := MADScale * Median(h)
	capv := math.Inf(1)
	if m != 0 {
		capv = math.Abs(m) + Winsor*math.Max(mad, math.Sqrt(math.Abs(m)))
	}
	mean := 0.0
	for _, v := range history {
		mean += math.Min(math.Abs(v), capv) / float64(len(history))
	}
	return m, mad, math.Max(math.Abs(m), mean), true
}

// Residual is one history value against its bucket's expected value, for
// the noise level: Den is the value's denominator (ratios only), Clean
// says it lies outside every campaign phase.
type Residual struct {
	Value, Expected, Den float64
	Clean                bool
}

// NoiseLevel is a series' noise per unit of volume, from the deviations of
// its history values from their buckets' expected values. Sums: the variance
// per unit of the expected value, Σ(h − m)² / Σ|m| (1 for Poisson counts;
// the mean squared order value over the mean order value for GMV, whose
// large single orders make it heavy-tailed). Ratios: the variance of the
// ratio times its denominator, mean((r − m)²·D), so a ratio over few orders
// is noisier than one over many. It uses the clean values (outside campaign
// phases, against an expected value from clean values): a mean, since the
// rare large deviations are the noise that matters, but winsorised: each
// per-unit deviation (|h − m|/√|m|, or |r − m|·√D) is capped at 6 robust
// spreads (1.4826 × their median; not capped where the median is 0, a
// history mostly exactly on its expected values), so that one past burst, itself an
// anomaly, does not widen the band. With fewer than 24 clean values (a range
// inside a long campaign, whose phases move the history) sums and ratios
// take a robust estimate from all values (the square of 1.4826 × the median
// per-unit deviation) and counts the Poisson level. Count KPIs are at least
// Poisson (1).
func NoiseLevel(rs []Residual, ratio, counts bool) float64 {
	var clean, all []float64 // per-unit deviations, and the units of the clean ones
	var units []float64
	for _, r := range rs {
		d, u := r.Value-r.Expected, math.Abs(r.Expected)
		if ratio {
			if r.Den <= 0 {
				continue
			}
			d, u = d*math.Sqrt(r.Den), 1
		}
		if u == 0 {
			continue
		}
		x := math.Abs(d) / math.Sqrt(u)
		all = append(all, x)
		if r.Clean {
			clean = append(clean, x)
			units = append(units, u)
		}
	}
	level := 0.0
	switch {
	case len(clean) >= MinResiduals:
		capx := Winsor * MADScale * Median(slices.Clone(clean))
		if capx == 0 { // most values exactly on their expected value: no robust scale to cap by
			capx = math.Inf(1)
		}
		var sq, su float64
		for i, x := range clean {
			x = math.Min(x, capx)
			sq += x * x * units[i]
			su += units[i]
		}
		if su > 0 {
			level = sq / su
		}
	case len(all) >= MinHistory && !counts:
		s := MADScale * Median(all)
		level = s * s
	}
	if counts {
		level = math.Max(level, 1)
	}
	return level
}

// Spread is the scale of a bucket's deviations: the largest of the
// history's own spread (1.4826·MAD), 5 % of |expected| and the noise floor
// — √(level·volume) for sums (volume: the larger of |expected| and the
// history's mean), √(level / den) for ratios (den: the bucket's denominator;
// no floor when it is 0).
func Spread(expected, madSpread, volume, level, den float64, ratio bool) float64 {
	s := math.Max(madSpread, RelFloor*math.Abs(expected))
	switch {
	case ratio && den > 0:
		s = math.Max(s, math.Sqrt(level/den))
	case !ratio:
		s = math.Max(s, math.Sqrt(level*volume))
	}
	return s
}

// Calendar states of a bucket for the flags.
const (
	DayOrdinary = iota
	DayPlanned  // a campaign phase or a public holiday: planned moves are not anomalies
	DayClosed   // a planned closure: nothing is flagged
)

// Flags marks the anomalies of a series from its scores, looking back only
// (so a bucket's flag does not depend on the buckets after it, nor on where
// the range ends): a bucket is flagged when its score is beyond ±k and so
// is the previous bucket's in the same direction — one odd bucket (a single
// large order, a quiet night hour) is noise, an incident lasts — or when
// its score alone is beyond ±5k/3 (±5 at k = 3) with the events behind it
// (single): an extreme bucket. prev is
// the direction (−1, 0, +1) of the bucket before the first, which the caller
// computes from its own history. On planned days (days[i] DayPlanned: a
// campaign phase, a public holiday) a move in the KPI's better direction
// (better: +1 higher, −1 lower) is never beyond, and a move in the worse
// direction only past a factor of 3 (below a third of the expected value,
// or above three times the history's volume); with better 0 (a KPI judged
// either way) both directions are judged as the worse one. On closed days
// nothing is.
// single[i] says whether bucket i has the events to be flagged alone (nil:
// every bucket). Null scores give null flags and break runs.
func Flags(values, expected, volume, scores []*float64, days []int, single []bool, k float64, better, prev int) []*float64 {
	out := make([]*float64, len(scores))
	for i, z := range scores {
		d := direction(z, values[i], expected[i], volume[i], days[i], k, better)
		if z != nil {
			f := 0.0
			alone := math.Abs(*z) > SingleFactor*k && (single == nil || single[i])
			if d != 0 && (prev == d || alone) {
				f = 1
			}
			out[i] = ptr(f)
		}
		prev = d
	}
	return out
}

// direction is +1 or −1 when the score z is beyond ±k (and the calendar
// does not explain it), else 0.
func direction(z, value, expected, volume *float64, day int, k float64, better int) int {
	if z == nil {
		return 0
	}
	d := 0
	switch {
	case *z > k:
		d = 1
	case *z < -k:
		d = -1
	}
	switch {
	case d == 0 || day == DayOrdinary:
	case day == DayClosed || d == better:
		d = 0
	case d < 0 && *value >= *expected/CampaignFactor:
		d = 0
	case d > 0 && *value <= *volume*CampaignFactor:
		d = 0
	}
	return d
}

// Score is the deviation of v from the expected value m in spreads s. On the
// square-root scale (sq; m > 0) it is 2·√m·(√v − √m) / s: the same near m,
// compressed for large values and stretched for small ones, as the noise of
// counts and amounts (a few large orders) is skewed.
func Score(v, m, u, s float64, sq bool) float64 {
	if !sq || v <= m || m < 0 {
		return (v - m) / s
	}
	return 2 * math.Sqrt(u) * (math.Sqrt(v) - math.Sqrt(m)) / s
}

// BandLimits are the values whose score is ∓k.
func BandLimits(m, u, s, k float64, sq bool) (lower, upper float64) {
	if !sq || m < 0 || u <= 0 {
		return m - k*s, m + k*s
	}
	d := k * s / (2 * math.Sqrt(u))
	r := math.Sqrt(m)
	return m - k*s, (r + d) * (r + d)
}

func ptr(f float64) *float64 { return &f }
