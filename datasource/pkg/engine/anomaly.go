package engine

import (
	"context"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"

	"github.com/storepulse/storepulse/datasource/pkg/analysis/band"
	"github.com/storepulse/storepulse/datasource/pkg/bucket"
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

// anomalyNoiseHours is the span of buckets, ending at a bucket, whose
// history sets that bucket's noise level (at most anomalyNoiseCells
// buckets): a fixed trailing window of a week (every hour of the week), so
// that a bucket's level is the same whatever range it is queried in.
const anomalyNoiseHours = 7 * 24

// anomalyNoiseCells bounds the noise window of fine intervals (work).
const anomalyNoiseCells = 7 * 24

// anomalySingleMinCount is the evidence a single extreme bucket needs to be
// flagged without a neighbour, in events: for counts, a deviation of at
// least 10 (one refund among none expected is not extreme, whatever its
// score); for ratios other than shares, a denominator of at least 10.
// Shares (kpi.Share: payment conversion) need a binomial tail below
// band.ShareEvidence instead: one paid order of 7 where 95 % are paid is a
// payment outage, one unpaid order of 2 is not. Amounts (GMV) need none
// beyond the score.
const anomalySingleMinCount = 10

// KindHoliday is the kind of the campaigns made from public holidays.
const KindHoliday = "holiday"

// KindClosure is the campaign kind of a planned closure (a store shut for a
// day, a stock-take): in its phases nothing is flagged.
const KindClosure = "closure"

// anomalyPlan is the history of one query: the range's buckets extended
// back by a noise window (the cells), their values, the same cells w weeks
// earlier, and the days on which each series had data.
type anomalyPlan struct {
	k     float64
	weeks int
	// cells are the range's buckets extended back by the noise window and
	// one more bucket: each bucket's noise level and the previous bucket's
	// direction come from cells of their own, whatever the range.
	cells   bucket.Buckets
	cur     *fetched // the cells' values (ratios: each bucket's denominator)
	hist    []bucket.Buckets
	fetched []*fetched
	// days are the local days from one day before the earliest history
	// bucket's window to the range's end; daysF their sums: a history
	// bucket counts only when its series had data on an earlier day.
	days  bucket.Buckets
	daysF *fetched
	camps []calendar.Campaign // campaigns, closures and the market's public holidays
	win   int                 // the noise window in cells
}

func checkAnomalyStep(k kpi.KPI, step bucket.Step) error {
	if k.Kind == kpi.KindStickiness || k.Kind == kpi.KindCumulative {
		return pluginErrorf("anomaly is not computed for KPI %s (a %s value has no hour-of-week pattern)", k.ID, k.Kind)
	}
	if step.WholeDays() || step.Fixed > time.Hour {
		return pluginErrorf("anomaly compares the same hour-of-week of past weeks: it needs an interval of 1h or finer, got %s", step)
	}
	return nil
}

// noiseWindow is the number of cells whose history sets a bucket's noise level.
func noiseWindow(step bucket.Step) int {
	return max(1, min(int(anomalyNoiseHours*time.Hour/step.Fixed), anomalyNoiseCells))
}

// anomalyHistory fetches the cells (the range extended back by the noise
// window and one bucket), their previous weeks (moved back by 7·w local
// days), the days with data and the calendar.
func (ev *evaluation) anomalyHistory(ctx context.Context, a *models.Anomaly, from, to time.Time) (*anomalyPlan, error) {
	p := &anomalyPlan{k: a.K, weeks: a.Weeks, win: noiseWindow(ev.step)}
	ext := bucket.Floor(from, ev.step, ev.e.Location).Add(-time.Duration(p.win+1) * ev.step.Fixed)
	cells, err := bucket.Make(ext, to, ev.step, ev.e.Location, ev.now)
	if err != nil {
		return nil, backend.PluginError(err)
	}
	p.cells = cells
	if p.cur, err = ev.fetch(ctx, cells); err != nil {
		return nil, err
	}
	for w := 1; w <= a.Weeks; w++ {
		hf := localday.ShiftDays(ext, -7*w, ev.e.Location)
		ht := localday.ShiftDays(to, -7*w, ev.e.Location)
		b, err := bucket.Make(hf, ht, ev.step, ev.e.Location, ev.now)
		if err != nil {
			return nil, backend.PluginError(err)
		}
		f, err := ev.fetch(ctx, b)
		if err != nil {
			return nil, err
		}
		p.hist = append(p.hist, b)
		p.fetched = append(p.fetched, f)
	}
	days := *ev
	days.step = bucket.Step{Calendar: models.IntervalDay}
	if p.days, err = bucket.Make(localday.ShiftDays(ext, -7*a.Weeks-1, ev.e.Location), to, days.step, ev.e.Location, ev.now); err != nil {
		return nil, backend.PluginError(err)
	}
	if p.daysF, err = days.fetch(ctx, p.days); err != nil {
		return nil, err
	}
	cs, err := ev.e.Source.Campaigns(ctx)
	if err != nil {
		return nil, err
	}
	hs, err := ev.holidayCampaigns(a, localday.ShiftDays(ext, -7*a.Weeks-1, ev.e.Location), to)
	if err != nil {
		return nil, err
	}
	p.camps = append(cs, hs...)
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
	return calendarDay(camps, filters, start, end) != band.DayOrdinary
}

// calendarDay is the calendar state of [start, end): band.DayClosed in a phase
// of a matching closure, band.DayPlanned in a phase of any other matching
// campaign (public holidays included), else band.DayOrdinary.
func calendarDay(camps []calendar.Campaign, filters map[string][]string, start, end time.Time) int {
	state := band.DayOrdinary
	for _, c := range camps {
		if !campaignMatches(c, filters) {
			continue
		}
		for _, ph := range c.Phases {
			if !ph.Start.Before(end) || !ph.End.After(start) {
				continue
			}
			if c.Kind == KindClosure {
				return band.DayClosed
			}
			state = band.DayPlanned
		}
	}
	return state
}

// cellHistory is one cell's history: the values used for its expected
// value, and the residuals for the noise level.
type cellHistory struct {
	expected, madSpread, volume float64
	ok                          bool
	rs                          []band.Residual
	valid                       int // history weeks after the series' first day with data
	// daily: the daily phase (1 or 2 valid history weeks): the history is
	// the same time of day on the 7 previous days, and only severe moves
	// are beyond the band (band.SevereScore).
	daily bool
}

// seriesDays says, per local day of the plan, whether the series had data;
// started[d] counts the days with data before day d.
func (ev *evaluation) seriesDays(p *anomalyPlan, key string) []int {
	started := make([]int, p.days.Len()+1)
	for d := range p.days.Len() {
		has := false
		for _, o := range ev.operands() {
			if p.daysF.operand(o, key, d) != 0 {
				has = true
			}
		}
		started[d+1] = started[d]
		if has {
			started[d+1]++
		}
	}
	return started
}

// cellHistories are the history, expected value and residuals of every
// cell of one series. A history bucket counts when it is not null and the
// series had data on a day before it and no more than weeks·7 + 1 days
// before the cell (the same test for any range): the buckets before a new
// series' first day are not a history of zeros. A cell with 1 or 2 such
// history weeks is in the daily phase: its history is the same time of day
// on the 7 previous days instead (all after the series' first day, since a
// week earlier is), read from the cells or the first history week, which
// hold them for any cell.
func (ev *evaluation) cellHistories(p *anomalyPlan, key string, filter map[string][]string, ratio bool) []cellHistory {
	hist := make([][]*float64, len(p.hist))
	for w := range p.hist {
		hist[w] = ev.compute(p.fetched[w], key, p.hist[w])
	}
	cur := ev.compute(p.cur, key, p.cells)
	started := ev.seriesDays(p, key)
	dayIndex := func(t time.Time) int { return max(p.days.Index(t), 0) }
	// residual is the history value of the bucket holding at (from the
	// cells, else the first history week), or false where there is none.
	residual := func(at time.Time) (band.Residual, bool) {
		f, b, vs := p.cur, p.cells, cur
		j := b.Index(at)
		if j < 0 {
			f, b, vs = p.fetched[0], p.hist[0], hist[0]
			j = b.Index(at)
		}
		if j < 0 || vs[j] == nil {
			return band.Residual{}, false
		}
		r := band.Residual{Value: *vs[j], Clean: calendarDay(p.camps, filter, b.Starts[j], b.EndOf(j)) == band.DayOrdinary}
		if ratio {
			r.Den = f.operand(*ev.k.Den, key, j)
		}
		return r, true
	}
	cells := make([]cellHistory, p.cells.Len())
	for c, start := range p.cells.Starts {
		lo := dayIndex(localday.ShiftDays(start, -7*p.weeks-1, ev.e.Location))
		var all, clean []band.Residual
		valid := 0
		for w, b := range p.hist {
			// the bucket at the same local time w+1 weeks earlier (by index
			// only where no DST change lies between the two weeks)
			at := localday.ShiftDays(start, -7*(w+1), ev.e.Location)
			j := b.Index(at)
			if j < 0 || started[dayIndex(at)]-started[lo] == 0 {
				continue
			}
			valid++
			if hist[w][j] == nil {
				continue
			}
			r := band.Residual{Value: *hist[w][j], Clean: calendarDay(p.camps, filter, b.Starts[j], b.EndOf(j)) == band.DayOrdinary}
			if ratio {
				r.Den = p.fetched[w].operand(*ev.k.Den, key, j)
			}
			all = append(all, r)
			if r.Clean {
				clean = append(clean, r)
			}
		}
		daily := valid > 0 && valid < band.MinHistory
		if daily {
			all, clean = all[:0], clean[:0]
			for d := 1; d <= band.DailyDays; d++ {
				at := localday.ShiftDays(start, -d, ev.e.Location)
				r, ok := residual(at)
				if !ok || started[dayIndex(at)]-started[lo] == 0 {
					continue
				}
				all = append(all, r)
				if r.Clean {
					clean = append(clean, r)
				}
			}
		}
		if len(clean) >= band.MinHistory {
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
		m, mad, u, ok := band.HistoryCenter(values)
		cells[c] = cellHistory{expected: m, madSpread: mad, volume: u, ok: ok, valid: valid, daily: daily}
		if !ok {
			continue
		}
		for i := range all {
			all[i].Expected = m
		}
		cells[c].rs = all
	}
	return cells
}

// anomalySeries are the expected, lower, upper, score and anomaly series of
// one KPI series (docs/query.md#anomaly). Everything is computed on the
// plan's cells and depends only on a bucket's own history, the noise window
// before it and the bucket before it, so any range holding a bucket gives it
// the same outputs. History buckets inside a campaign phase or a public
// holiday are left out of the baseline (unless fewer than 3 values would
// remain); the bucket in progress gets a band but no score or flag (a
// partial hour would look low). A series still learning (fewer than 3
// history weeks since its first day with data at the range's last bucket)
// carries a notice: in its first week it has no band, then until its third
// history week a band from its daily pattern, beyond which only moves past a
// factor of 3 lie (cellHistories, band.SevereScore).
func (ev *evaluation) anomalySeries(p *anomalyPlan, key string, groups []string, cur bucket.Buckets) []Series {
	filter := ev.campaignFilter(groups)
	counts := ev.k.Unit == kpi.UnitCount && (ev.k.Kind == kpi.KindSum || ev.k.Kind == kpi.KindDistinct)
	ratio := ev.k.Kind == kpi.KindRatio
	sqrtScale := !ratio // a sum of non-negative terms: amounts and counts, skewed upwards
	for _, t := range ev.k.Num.Terms {
		if t.Sign < 0 {
			sqrtScale = false // a difference (net revenue) can be negative
		}
	}
	cells := ev.cellHistories(p, key, filter, ratio)
	vals := ev.compute(p.cur, key, p.cells)
	n := p.cells.Len()
	outs := make([][]*float64, 4) // expected, lower, upper, score
	for j := range outs {
		outs[j] = make([]*float64, n)
	}
	days := make([]int, n)
	single := make([]bool, n)
	volumes := make([]*float64, n)
	var window []band.Residual
	// the cells shown and the one before them (its direction counts for
	// the first): the cells before are only the noise window's history
	need := max(0, p.cells.Index(cur.Start())-1)
	for c := need; c < n; c++ {
		ch := cells[c]
		if !ch.ok {
			continue
		}
		window = window[:0]
		for w := max(0, c-p.win+1); w <= c; w++ {
			if cells[w].daily == ch.daily { // each phase its own noise: the weekly one as before the daily phase existed
				window = append(window, cells[w].rs...)
			}
		}
		level := band.NoiseLevel(window, ratio, counts)
		m, u := ch.expected, ch.volume
		den := 0.0
		if ratio {
			den = p.cur.operand(*ev.k.Den, key, c)
		}
		if counts {
			u = math.Max(u, 1) // a history of zeros still has Poisson noise
		}
		volumes[c] = ptr(u)
		mad := ch.madSpread
		if ch.daily {
			// the 7 previous days mix weekdays and the weekend: their MAD
			// measures the weekly pattern, which the factor of 3 allows
			// for, not noise; the noise level, pooled over the week, stays
			mad = 0
		}
		s := band.Spread(m, mad, u, level, den, ratio)
		lo, hi := band.BandLimits(m, u, s, p.k, sqrtScale)
		if ch.daily {
			lo, hi = band.SevereLimits(lo, hi, m, u)
		}
		outs[0][c], outs[1][c], outs[2][c] = ptr(m), ptr(lo), ptr(hi)
		if vals[c] == nil || s == 0 || p.cells.EndOf(c).After(ev.now) {
			continue
		}
		z := band.Score(*vals[c], m, u, s, sqrtScale)
		if ch.daily {
			z = band.SevereScore(z, *vals[c], m, u, p.k)
		}
		outs[3][c] = ptr(z)
		days[c] = calendarDay(p.camps, filter, p.cells.Starts[c], p.cells.EndOf(c))
		switch {
		case ratio && ev.k.Share:
			single[c] = band.ShareTail(*vals[c], m, den, level) < band.ShareEvidence
		case ratio:
			single[c] = den >= anomalySingleMinCount
		case counts:
			single[c] = math.Abs(*vals[c]-m) >= anomalySingleMinCount
		default:
			single[c] = true
		}
	}
	flags := band.Flags(vals, outs[0], volumes, outs[3], days, single, p.k, ev.k.PlannedDirection(), 0)

	out := make([]Series, 5)
	for j, role := range []string{RoleExpected, RoleLower, RoleUpper, RoleScore, RoleAnomaly} {
		out[j] = Series{Role: role, Groups: groups, Values: make([]*float64, cur.Len())}
	}
	for i, start := range cur.Starts {
		c := p.cells.Index(start)
		if c < 0 {
			continue
		}
		for j := range outs {
			out[j].Values[i] = outs[j][c]
		}
		out[4].Values[i] = flags[c]
	}
	if notice := ev.learning(p, key, cells); notice != "" {
		for j := range out {
			out[j].Notice = notice
		}
	}
	return out
}

// learning is the notice of a series whose last cell has fewer than 3
// history weeks since the series' first day with data, else "": in its
// first week no band, then the daily phase.
func (ev *evaluation) learning(p *anomalyPlan, key string, cells []cellHistory) string {
	last := len(cells) - 1
	if last < 0 || cells[last].valid >= band.MinHistory {
		return ""
	}
	phase := "no band in the first week"
	if cells[last].daily {
		phase = "daily pattern only; only severe moves are flagged"
	}
	started := ev.seriesDays(p, key)
	first := -1
	for d := range p.days.Len() {
		if started[d+1] > 0 {
			first = d
			break
		}
	}
	need := 7 * band.MinHistory
	if first < 0 {
		return fmt.Sprintf("learning: no data yet, 0 days of %d (%s)", need, phase)
	}
	have := max(0, p.days.Index(p.cells.Starts[last])-first-1)
	return fmt.Sprintf("learning: %d days of %d (%s)", min(have, need-1), need, phase)
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
	if q.Anomaly != nil && q.Anomaly.FlagOnly {
		return nil, nil, pluginErrorf("the anomalies query type returns the flagged regions with their values and scores: flagOnly is for kpi queries (alert rules), leave it out here")
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
	b := bucket.Buckets{Starts: res.Times}
	if n := len(res.Times); n > 0 {
		b.End = bucket.Next(res.Times[n-1], res.Step, e.Location)
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

// holidayCampaigns are the public holidays of the query's markets (the
// datasource's holidayMarkets unless the query names its own) between from
// and to as campaigns of kind "holiday" without stores (so in every store),
// each a phase over its local day.
func (ev *evaluation) holidayCampaigns(a *models.Anomaly, from, to time.Time) ([]calendar.Campaign, error) {
	markets := ev.e.HolidayMarkets
	if a.Holidays != nil {
		markets = a.Holidays
	}
	if len(markets) == 0 {
		return nil, nil
	}
	if ev.e.Holidays == nil {
		return nil, pluginErrorf("anomaly holidays %v: no holiday lists are loaded", markets)
	}
	if err := ev.e.Holidays.Check(markets); err != nil {
		return nil, backend.PluginError(fmt.Errorf("anomaly holidays: %w", err))
	}
	loc := ev.e.Location
	var out []calendar.Campaign
	for _, code := range markets {
		m, _ := ev.e.Holidays.Market(code)
		for _, d := range m.Between(from.In(loc), to.In(loc)) {
			start := localday.Start(d.Year, d.Month, d.Day, loc)
			out = append(out, calendar.Campaign{ID: fmt.Sprintf("holiday-%s-%04d-%02d-%02d", code, d.Year, d.Month, d.Day),
				Name: d.Name + " (" + code + ")", Kind: KindHoliday,
				Phases: []calendar.Phase{{Name: KindHoliday, Start: start, End: localday.Next(start, loc)}}})
		}
	}
	return out, nil
}
