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
	"github.com/storepulse/storepulse/internal/schema"
)

// Roles of the anomaly transform's series.
const (
	RoleExpected = "expected" // median of the same hour-of-week of past weeks
	RoleLower    = "lower"    // expected - k·spread
	RoleUpper    = "upper"    // expected + k·spread
	RoleScore    = "score"    // robust z-score (value - expected) / spread
	RoleAnomaly  = "anomaly"  // 1 outside the band, else 0
)

// MADScale makes the median absolute deviation a consistent estimator of the
// standard deviation for normal data.
const MADScale = 1.4826

// anomalyMinHistory is the number of past values needed for a band.
const anomalyMinHistory = 3

// anomalyRelFloor is the spread's floor relative to |expected|: a perfectly
// regular history (MAD 0) would otherwise flag the smallest change.
const anomalyRelFloor = 0.05

// Band is the detector's verdict for one value against its history.
type Band struct {
	Expected, Lower, Upper, Score, Flag *float64
}

// median of a non-empty slice (sorted in place).
func median(xs []float64) float64 {
	slices.Sort(xs)
	n := len(xs)
	if n%2 == 1 {
		return xs[n/2]
	}
	return (xs[n/2-1] + xs[n/2]) / 2
}

// RobustBand compares v with its history: expected = median, spread =
// max(1.4826·MAD, 5 % of |median|, minSpread), band = expected ± k·spread, score =
// (v − expected) / spread, flag when |score| > k. Fewer than 3 history values
// give no band (all null); a null v gives a band but no score or flag; a zero
// spread (history all equal to 0) gives no score and flag 0. noUp suppresses
// upward flags (planned campaign days). minSpread is √|median| for counts
// (Poisson noise, which a few weeks' MAD underestimates at low volumes), else 0.
func RobustBand(v *float64, history []float64, k float64, noUp bool, counts bool) Band {
	if len(history) < anomalyMinHistory {
		return Band{}
	}
	h := slices.Clone(history)
	m := median(h)
	for i := range h {
		h[i] = math.Abs(h[i] - m)
	}
	spread := math.Max(MADScale*median(h), anomalyRelFloor*math.Abs(m))
	if counts {
		spread = math.Max(spread, math.Sqrt(math.Abs(m)))
	}
	b := Band{Expected: ptr(m), Lower: ptr(m - k*spread), Upper: ptr(m + k*spread)}
	if v == nil {
		return b
	}
	if spread == 0 {
		b.Flag = ptr(0)
		return b
	}
	z := (*v - m) / spread
	b.Score = ptr(z)
	flag := math.Abs(z) > k
	if flag && z > 0 && noUp {
		flag = false
	}
	b.Flag = ptr(0)
	if flag {
		b.Flag = ptr(1)
	}
	return b
}

// anomalyPlan is the history of one query: the same buckets w weeks earlier.
type anomalyPlan struct {
	k       float64
	weeks   []Buckets
	fetched []*fetched
	camps   []calendar.Campaign
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

// anomalyHistory fetches the previous weeks of cur (the range moved back by
// 7·w local days) and the campaigns.
func (ev *evaluation) anomalyHistory(ctx context.Context, a *models.Anomaly, from, to time.Time) (*anomalyPlan, error) {
	p := &anomalyPlan{k: a.K}
	for w := 1; w <= a.Weeks; w++ {
		hf := from.In(ev.e.Location).AddDate(0, 0, -7*w)
		ht := to.In(ev.e.Location).AddDate(0, 0, -7*w)
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

// anomalySeries are the expected, lower, upper, score and anomaly series of
// one KPI series. History buckets inside a campaign phase are left out of the
// baseline (unless fewer than 3 values would remain); current buckets inside
// a campaign phase are never flagged for being high.
func (ev *evaluation) anomalySeries(p *anomalyPlan, key string, groups []string, vals []*float64, cur Buckets) []Series {
	hist := make([][]*float64, len(p.weeks))
	for w := range p.weeks {
		hist[w] = ev.compute(p.fetched[w], key, p.weeks[w])
	}
	filter := ev.campaignFilter(groups)
	counts := ev.k.Unit == kpi.UnitCount && (ev.k.Kind == kpi.KindSum || ev.k.Kind == kpi.KindDistinct)
	out := make([]Series, 5)
	for j, role := range []string{RoleExpected, RoleLower, RoleUpper, RoleScore, RoleAnomaly} {
		out[j] = Series{Role: role, Groups: groups, Values: make([]*float64, len(vals))}
	}
	for i := range vals {
		var all, clean []float64
		for w, b := range p.weeks {
			// the bucket at the same local time w+1 weeks earlier (by index
			// only where no DST change lies between the two weeks)
			j := b.Index(cur.Starts[i].In(ev.e.Location).AddDate(0, 0, -7*(w+1)))
			if j < 0 || hist[w][j] == nil {
				continue
			}
			all = append(all, *hist[w][j])
			if !inCampaign(p.camps, filter, b.Starts[j], b.EndOf(j)) {
				clean = append(clean, *hist[w][j])
			}
		}
		if len(clean) >= anomalyMinHistory {
			all = clean
		}
		band := RobustBand(vals[i], all, p.k, inCampaign(p.camps, filter, cur.Starts[i], cur.EndOf(i)), counts)
		out[0].Values[i], out[1].Values[i], out[2].Values[i] = band.Expected, band.Lower, band.Upper
		out[3].Values[i], out[4].Values[i] = band.Score, band.Flag
	}
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
