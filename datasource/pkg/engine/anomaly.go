package engine

import (
	"context"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"

	"github.com/storepulse/storepulse/datasource/pkg/models"
	"github.com/storepulse/storepulse/internal/calendar"
	"github.com/storepulse/storepulse/internal/kpi"
	"github.com/storepulse/storepulse/internal/localday"
	"github.com/storepulse/storepulse/internal/schema"
)

// Roles of the anomaly transform's series.
const (
	RoleExpected = "expected" // median of the same hour-of-week of past weeks
	RoleLower    = "lower"    // expected - k·spread
	RoleUpper    = "upper"    // expected + k·spread
	RoleScore    = "score"    // (value - expected) / spread
	RoleAnomaly  = "anomaly"  // 1 where the deviation persists beyond the band, else 0
)

// MADScale makes the median absolute deviation a consistent estimator of the
// standard deviation for normal data.
const MADScale = 1.4826

// anomalyMinHistory is the number of past values needed for a band.
const anomalyMinHistory = 3

// anomalyRelFloor is the spread's floor relative to |expected|: a perfectly
// regular history (MAD 0) would otherwise flag the smallest change.
const anomalyRelFloor = 0.05

// anomalyNoiseHours is the least span whose history sets a series' noise
// level: short alert-rule ranges still estimate it from a day of cells.
const anomalyNoiseHours = 24

// anomalyMinResiduals is the number of history values outside campaigns
// needed to estimate the noise level from them; with fewer (a range inside
// a long campaign) it comes robustly from all history values.
const anomalyMinResiduals = 24

// anomalyCampaignFactor is the factor by which a campaign phase may lower a
// KPI below its expected value without being flagged: planned phases move
// KPIs by up to about 3× (the peak day triples traffic; the after-sales lull
// follows busier pre-sale weeks, which make up its history).
const anomalyCampaignFactor = 3

// median of a non-empty slice (sorted in place).
func median(xs []float64) float64 {
	slices.Sort(xs)
	n := len(xs)
	if n%2 == 1 {
		return xs[n/2]
	}
	return (xs[n/2-1] + xs[n/2]) / 2
}

// HistoryCenter is the expected value of a bucket, the median of its
// history, and the history's own spread 1.4826·MAD; ok is false with fewer
// than 3 values. The history is not modified.
func HistoryCenter(history []float64) (expected, madSpread, volume float64, ok bool) {
	if len(history) < anomalyMinHistory {
		return 0, 0, 0, false
	}
	h := slices.Clone(history)
	m := median(h)
	mean := 0.0
	for i := range h {
		mean += math.Abs(h[i]) / float64(len(h))
		h[i] = math.Abs(h[i] - m)
	}
	return m, MADScale * median(h), math.Max(math.Abs(m), mean), true
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
// phases, against an expected value from clean values): a mean, not a
// median, since the rare large deviations are the noise that matters; with
// fewer than 24 clean values (a range inside a long campaign, whose phases
// move the history) sums and ratios take a robust estimate from all values
// (the square of 1.4826 × the median of |h − m|/√|m|, or of |r − m|·√D) and
// counts the Poisson level. Count KPIs are at least Poisson (1).
func NoiseLevel(rs []Residual, ratio, counts bool) float64 {
	var clean, all []float64 // squared deviations per unit, and their units
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
		all = append(all, math.Abs(d)/math.Sqrt(u))
		if r.Clean {
			clean = append(clean, d*d)
			units = append(units, u)
		}
	}
	level := 0.0
	switch {
	case len(clean) >= anomalyMinResiduals:
		var sq, su float64
		for i := range clean {
			sq += clean[i]
			su += units[i]
		}
		if su > 0 {
			level = sq / su
		}
	case len(all) >= anomalyMinHistory && !counts:
		s := MADScale * median(all)
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
	s := math.Max(madSpread, anomalyRelFloor*math.Abs(expected))
	switch {
	case ratio && den > 0:
		s = math.Max(s, math.Sqrt(level/den))
	case !ratio:
		s = math.Max(s, math.Sqrt(level*volume))
	}
	return s
}

// Flags marks the anomalies of a series from its scores: a bucket is
// flagged when its score is beyond ±k and so is a neighbour's (the previous
// or the next bucket) in the same direction — one odd bucket (a single large
// order, a quiet night hour) is noise, an incident lasts. In a campaign phase
// (campaign[i]) a move in the KPI's better direction (better: +1 higher, −1
// lower) is never beyond, and a move in the worse direction only past a
// factor of 3 (below a third of the expected value, or above three times the
// history's volume). Null scores give null flags and break runs.
func Flags(values, expected, volume, scores []*float64, campaign []bool, k float64, better int) []*float64 {
	n := len(scores)
	dir := make([]int, n)
	for i, z := range scores {
		if z == nil {
			continue
		}
		d := 0
		switch {
		case *z > k:
			d = 1
		case *z < -k:
			d = -1
		}
		if d != 0 && campaign[i] {
			switch {
			case d == better:
				d = 0
			case d < 0 && *values[i] >= *expected[i]/anomalyCampaignFactor:
				d = 0
			case d > 0 && *values[i] <= *volume[i]*anomalyCampaignFactor:
				d = 0
			}
		}
		dir[i] = d
	}
	out := make([]*float64, n)
	for i, z := range scores {
		if z == nil {
			continue
		}
		f := 0.0
		if dir[i] != 0 && ((i > 0 && dir[i-1] == dir[i]) || (i+1 < n && dir[i+1] == dir[i])) {
			f = 1
		}
		out[i] = ptr(f)
	}
	return out
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

// anomalyPlan is the history of one query: the same buckets w weeks earlier.
type anomalyPlan struct {
	k float64
	// cells are the range's buckets, extended back to at least a day: every
	// cell's history enters the noise level.
	cells   Buckets
	weeks   []Buckets
	fetched []*fetched
	camps   []calendar.Campaign
	cur     *fetched // the current period (ratios: each bucket's denominator)
}

func checkAnomalyStep(k kpi.KPI, step Step) error {
	if k.Kind == kpi.KindStickiness || k.Kind == kpi.KindCumulative {
		return pluginErrorf("anomaly is not computed for KPI %s (a %s value has no hour-of-week pattern)", k.ID, k.Kind)
	}
	if step.WholeDays() || step.Fixed > time.Hour {
		return pluginErrorf("anomaly compares the same hour-of-week of past weeks: it needs an interval of 1h or finer, got %s", step)
	}
	return nil
}

// anomalyHistory fetches the previous weeks of the range extended back to
// at least a day (moved back by 7·w local days) and the campaigns.
func (ev *evaluation) anomalyHistory(ctx context.Context, a *models.Anomaly, from, to time.Time, cur *fetched) (*anomalyPlan, error) {
	p := &anomalyPlan{k: a.K, cur: cur}
	ext := from
	if d := anomalyNoiseHours * time.Hour; to.Sub(from) < d {
		ext = to.Add(-d)
	}
	cells, err := MakeBuckets(ext, to, ev.step, ev.e.Location, ev.now)
	if err != nil {
		return nil, backend.PluginError(err)
	}
	p.cells = cells
	for w := 1; w <= a.Weeks; w++ {
		hf := localday.ShiftDays(ext, -7*w, ev.e.Location)
		ht := localday.ShiftDays(to, -7*w, ev.e.Location)
		b, err := MakeBuckets(hf, ht, ev.step, ev.e.Location, ev.now)
		if err != nil {
			return nil, backend.PluginError(err)
		}
		f, err := ev.fetch(ctx, b)
		if err != nil {
			return nil, err
		}
		p.weeks = append(p.weeks, b)
		p.fetched = append(p.fetched, f)
	}
	cs, err := ev.e.Source.Campaigns(ctx)
	if err != nil {
		return nil, err
	}
	p.camps = cs
	return p, nil
}

// campaignFilter is the store filter of one series for the campaign rule.
func (ev *evaluation) campaignFilter(groups []string) map[string][]string {
	if i := slices.Index(ev.q.GroupBy, schema.TagStore); i >= 0 && groups[i] != "" {
		return map[string][]string{schema.TagStore: {groups[i]}}
	}
	if s := ev.q.Filters[schema.TagStore]; len(s) > 0 {
		return map[string][]string{schema.TagStore: s}
	}
	return nil
}

// inCampaign says whether [start, end) overlaps any phase of a matching campaign.
func inCampaign(camps []calendar.Campaign, filters map[string][]string, start, end time.Time) bool {
	for _, c := range camps {
		if !campaignMatches(c, filters) {
			continue
		}
		for _, ph := range c.Phases {
			if ph.Start.Before(end) && ph.End.After(start) {
				return true
			}
		}
	}
	return false
}

// cellHistory is one cell's history: the values used for its expected value.
type cellHistory struct {
	expected, madSpread, volume float64
	ok                          bool
}

// anomalySeries are the expected, lower, upper, score and anomaly series of
// one KPI series (docs/query.md#anomaly). History buckets inside a campaign
// phase are left out of the baseline (unless fewer than 3 values would
// remain); the bucket in progress gets a band but no score or flag (a
// partial hour would look low).
func (ev *evaluation) anomalySeries(p *anomalyPlan, key string, groups []string, vals []*float64, cur Buckets) []Series {
	hist := make([][]*float64, len(p.weeks))
	for w := range p.weeks {
		hist[w] = ev.compute(p.fetched[w], key, p.weeks[w])
	}
	filter := ev.campaignFilter(groups)
	counts := ev.k.Unit == kpi.UnitCount && (ev.k.Kind == kpi.KindSum || ev.k.Kind == kpi.KindDistinct)
	ratio := ev.k.Kind == kpi.KindRatio
	sqrtScale := !ratio // a sum of non-negative terms: amounts and counts, skewed upwards
	for _, t := range ev.k.Num.Terms {
		if t.Sign < 0 {
			sqrtScale = false // a difference (net revenue) can be negative
		}
	}
	cells := make([]cellHistory, p.cells.Len())
	var rs []Residual
	for c, start := range p.cells.Starts {
		var all, clean []Residual
		for w, b := range p.weeks {
			// the bucket at the same local time w+1 weeks earlier (by index
			// only where no DST change lies between the two weeks)
			j := b.Index(localday.ShiftDays(start, -7*(w+1), ev.e.Location))
			if j < 0 || hist[w][j] == nil {
				continue
			}
			r := Residual{Value: *hist[w][j], Clean: !inCampaign(p.camps, filter, b.Starts[j], b.EndOf(j))}
			if ratio {
				r.Den = p.fetched[w].operand(*ev.k.Den, key, j)
			}
			all = append(all, r)
			if r.Clean {
				clean = append(clean, r)
			}
		}
		if len(clean) >= anomalyMinHistory {
			all = clean
		} else {
			for i := range all {
				all[i].Clean = false // its expected value is not a clean one
			}
		}
		values := make([]float64, len(all))
		for i, r := range all {
			values[i] = r.Value
		}
		m, mad, u, ok := HistoryCenter(values)
		cells[c] = cellHistory{expected: m, madSpread: mad, volume: u, ok: ok}
		if !ok {
			continue
		}
		for _, r := range all {
			r.Expected = m
			rs = append(rs, r)
		}
	}
	level := NoiseLevel(rs, ratio, counts)

	n := len(vals)
	out := make([]Series, 5)
	for j, role := range []string{RoleExpected, RoleLower, RoleUpper, RoleScore, RoleAnomaly} {
		out[j] = Series{Role: role, Groups: groups, Values: make([]*float64, n)}
	}
	inCamp := make([]bool, n)
	volumes := make([]*float64, n)
	for i := range vals {
		c := p.cells.Index(cur.Starts[i])
		if c < 0 || !cells[c].ok {
			continue
		}
		m := cells[c].expected
		den := 0.0
		if ratio {
			den = p.cur.operand(*ev.k.Den, key, i)
		}
		u := cells[c].volume
		if counts {
			u = math.Max(u, 1) // a history of zeros still has Poisson noise
		}
		volumes[i] = ptr(u)
		s := Spread(m, cells[c].madSpread, u, level, den, ratio)
		sq := sqrtScale
		lo, hi := BandLimits(m, u, s, p.k, sq)
		out[0].Values[i], out[1].Values[i], out[2].Values[i] = ptr(m), ptr(lo), ptr(hi)
		if vals[i] == nil || s == 0 || cur.EndOf(i).After(ev.now) {
			continue
		}
		out[3].Values[i] = ptr(Score(*vals[i], m, u, s, sq))
		inCamp[i] = inCampaign(p.camps, filter, cur.Starts[i], cur.EndOf(i))
	}
	better := 1
	if ev.k.Direction == kpi.LowerIsBetter {
		better = -1
	}
	out[4].Values = Flags(vals, out[0].Values, volumes, out[3].Values, inCamp, p.k, better)
	return out
}

// AnomalyRegion is a run of consecutive flagged buckets of one series.
type AnomalyRegion struct {
	Groups     []string
	Start, End time.Time
	// Peak is the bucket with the largest |score|: its value, expected
	// value and score.
	Value, Expected, Score float64
}

// AnomalyRegions runs the query with its anomaly settings (the defaults when
// it has none; interval auto means 1h) and returns the flagged time regions, ordered by start, then
// by series.
func (e *Engine) AnomalyRegions(ctx context.Context, req Request) (*Result, []AnomalyRegion, error) {
	q := req.Query
	if q.Compare != models.CompareNone || q.Cumulative != "" || q.Target || q.TopN != nil || q.Contribution != nil || q.Funnel {
		return nil, nil, pluginErrorf("the anomalies query type takes a KPI, filters, groupBy, interval and anomaly settings only (no compare or other transform)")
	}
	if q.Anomaly == nil {
		req.Query.Anomaly = models.DefaultAnomaly()
	}
	if q.Interval == "" || q.Interval == models.IntervalAuto {
		req.Query.Interval = "1h" // annotation requests carry no useful interval hint
	}
	res, err := e.Run(ctx, req)
	if err != nil {
		return nil, nil, err
	}
	b := Buckets{Starts: res.Times}
	if n := len(res.Times); n > 0 {
		b.End = next(res.Times[n-1], res.Step, e.Location)
	}
	var out []AnomalyRegion
	for i := 0; i+5 < len(res.Series); i += 6 {
		cur, exp, score, flag := res.Series[i], res.Series[i+1], res.Series[i+4], res.Series[i+5]
		if cur.Role != RoleCurrent || flag.Role != RoleAnomaly {
			return nil, nil, fmt.Errorf("anomaly series out of order at %d", i)
		}
		var open *AnomalyRegion
		for j, f := range flag.Values {
			if f == nil || *f != 1 {
				if open != nil {
					out = append(out, *open)
					open = nil
				}
				continue
			}
			if open == nil {
				open = &AnomalyRegion{Groups: cur.Groups, Start: b.Starts[j]}
			}
			open.End = b.EndOf(j)
			if s := *score.Values[j]; open.Score == 0 || math.Abs(s) > math.Abs(open.Score) {
				open.Score, open.Value, open.Expected = s, *cur.Values[j], *exp.Values[j]
			}
		}
		if open != nil {
			out = append(out, *open)
		}
	}
	slices.SortStableFunc(out, func(a, b AnomalyRegion) int { return a.Start.Compare(b.Start) })
	return res, out, nil
}
