// Package engine computes KPI series from the stored numbers: it resolves the
// interval into store-time-zone buckets, asks a Source for windowed sums and
// sketches (aggregation pushed into InfluxDB), adds them up per bucket and
// series, and evaluates the catalog's formula (ratios as sum/sum, distinct
// counts as merged sketches, comparisons with an earlier period).
package engine

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"

	"github.com/storepulse/storepulse/datasource/pkg/bucket"
	"github.com/storepulse/storepulse/datasource/pkg/models"
	"github.com/storepulse/storepulse/internal/holidays"
	"github.com/storepulse/storepulse/internal/kpi"
	"github.com/storepulse/storepulse/internal/localday"
	"github.com/storepulse/storepulse/internal/schema"
	"github.com/storepulse/storepulse/internal/sketch"
)

// Engine evaluates KPI queries. It is safe for concurrent use.
type Engine struct {
	Catalog     *kpi.Catalog
	Source      Source
	Location    *time.Location
	SeriesLimit int
	// Holidays are the holiday lists (nil: none loaded); HolidayMarkets the
	// markets whose holidays anomaly detection treats as planned days when a
	// query names none.
	Holidays       *holidays.Set
	HolidayMarkets []string
	Now            func() time.Time
}

// now is the engine's clock: Now, or the wall clock when unset.
func (e *Engine) now() time.Time {
	if e.Now != nil {
		return e.Now()
	}
	return time.Now()
}

// Request is one KPI query with Grafana's time range and interval hints.
type Request struct {
	Query         models.Query
	From, To      time.Time
	Interval      time.Duration
	MaxDataPoints int64
}

// Roles of result series.
const (
	RoleCurrent = "current"
	RoleCompare = models.OutputSeries
	RoleDelta   = models.OutputDelta
	RoleChange  = models.OutputChange
)

// Series is one output series on the Result's time axis.
type Series struct {
	Role   string
	Groups []string // values of the query's GroupBy ("" = tag absent)
	Values []*float64
	// Notice is shown with the series (an anomaly band still learning).
	Notice string
}

// Result is a computed KPI query.
type Result struct {
	KPI     kpi.KPI
	GroupBy []string
	Step    bucket.Step
	Compare string
	// Cumulative is the query's cumulative mode ("" for none).
	Cumulative string
	// TopN is the query's n of a topN breakdown (0 for none); the "other"
	// series has the group value OtherValue.
	TopN int
	// Anomaly is the band width k of an anomaly query (0 for none).
	Anomaly float64
	// CompareCampaign is the campaign matched by compare campaign (nil otherwise).
	CompareCampaign *CampaignMatch
	Times           []time.Time // bucket starts
	Series          []Series
}

// SeriesLimitError is returned when a query would produce more series than
// the configured limit.
type SeriesLimitError struct{ Got, Limit int }

func (e *SeriesLimitError) Error() string {
	return fmt.Sprintf("the query returns %d series, more than the limit of %d: filter or group by fewer dimensions (or raise the datasource's series limit)", e.Got, e.Limit)
}

func pluginErrorf(format string, a ...any) error { return backend.PluginErrorf(format, a...) }

// Run computes the query.
func (e *Engine) Run(ctx context.Context, req Request) (*Result, error) {
	q, cal := calendarQuery(req.Query)
	k, ok := e.Catalog.Get(q.KPI)
	if !ok {
		if q.KPI == "" {
			return nil, pluginErrorf("no KPI chosen")
		}
		return nil, pluginErrorf("unknown KPI %q (see resource /kpis)", q.KPI)
	}
	if k.Kind == kpi.KindTransform {
		return nil, pluginErrorf("KPI %s is %s", k.ID, k.Note)
	}
	dims := k.Dimensions()
	if q.TopN != nil {
		if !slices.Contains(dims, q.TopN.By) {
			return nil, pluginErrorf("KPI %s cannot be broken down by %q (dimensions: %s)", k.ID, q.TopN.By, strings.Join(dims, ", "))
		}
		if k.Kind == kpi.KindStickiness {
			return nil, pluginErrorf("topN is not computed for stickiness (the mean of daily counts does not combine into \"other\")")
		}
		q.GroupBy = []string{q.TopN.By}
	}
	if q.Cumulative != "" && k.Kind != kpi.KindSum {
		return nil, pluginErrorf("cumulative %s adds up sums only: KPI %s is a %s value, whose running total would mean nothing (use a sum KPI, e.g. its numerator)", q.Cumulative, k.ID, k.Kind)
	}
	for dim := range q.Filters {
		if !slices.Contains(dims, dim) {
			return nil, pluginErrorf("KPI %s cannot be filtered by %q (dimensions: %s)", k.ID, dim, strings.Join(dims, ", "))
		}
	}
	for _, dim := range q.GroupBy {
		if !slices.Contains(dims, dim) {
			return nil, pluginErrorf("KPI %s cannot be grouped by %q (dimensions: %s)", k.ID, dim, strings.Join(dims, ", "))
		}
	}
	distinct := len(k.DistinctKinds()) > 0
	byCategory := len(q.Filters[schema.TagCategory]) > 0 || slices.Contains(q.GroupBy, schema.TagCategory)
	minStep := time.Minute
	switch {
	case k.Kind == kpi.KindStickiness || (distinct && byCategory):
		minStep = 24 * time.Hour
	case distinct:
		minStep = time.Hour
	}
	step, err := bucket.ResolveStep(q.Interval, req.From, req.To, req.Interval, req.MaxDataPoints, minStep)
	if err != nil {
		return nil, backend.PluginError(err)
	}
	if minStep == 24*time.Hour && !step.WholeDays() {
		return nil, pluginErrorf("KPI %s needs an interval of a day, week or month here (daily sketches: stickiness, or distinct counts by category)", k.ID)
	}
	if err := checkCumulativeStep(q.Cumulative, step); err != nil {
		return nil, err
	}
	if q.Anomaly != nil {
		if step.IsRange() {
			return nil, pluginErrorf("anomaly compares the same hour-of-week of past weeks: it needs an interval of 1h or finer, got range")
		}
		if err := checkAnomalyStep(k, step); err != nil {
			return nil, err
		}
	}
	var tgt *targetPlan
	if q.Target {
		if tgt, err = planTarget(k, q, step); err != nil {
			return nil, err
		}
	}
	now := e.now()
	cur, err := bucket.Make(req.From, req.To, step, e.Location, now)
	if err != nil {
		return nil, backend.PluginError(err)
	}
	res := &Result{KPI: k, GroupBy: q.GroupBy, Step: step, Compare: q.Compare, Cumulative: q.Cumulative, Times: cur.Starts}
	if q.TopN != nil {
		res.TopN = q.TopN.N
	}
	ev := evaluation{e: e, k: k, q: q, step: step, now: now, byCategory: byCategory}
	fc, err := ev.fetch(ctx, cur)
	if err != nil {
		return nil, err
	}
	var fp *fetched
	var prev bucket.Buckets
	if q.Compare != models.CompareNone {
		pf, pt, match, err := e.comparePeriod(ctx, q.Compare, cal, req.From, req.To)
		if err != nil {
			return nil, err
		}
		res.CompareCampaign = match
		if prev, err = bucket.Make(pf, pt, step, e.Location, now); err != nil {
			return nil, backend.PluginError(err)
		}
		prev = bucket.CutAtNow(prev, cur, now, e.compareInstant(q.Compare, now, req.From, req.To, pt))
		if fp, err = ev.fetch(ctx, prev); err != nil {
			return nil, err
		}
	}
	var anom *anomalyPlan
	if q.Anomaly != nil {
		if anom, err = ev.anomalyHistory(ctx, q.Anomaly, req.From, req.To); err != nil {
			return nil, err
		}
		res.Anomaly = q.Anomaly.K
	}
	keys := fc.keys(len(q.GroupBy), fp)
	if anom != nil { // a series that vanished (a store down) is still checked
		for _, h := range append(anom.fetched, anom.cur) {
			for key := range h.groups {
				if _, ok := fc.groups[key]; !ok {
					fc.groups[key] = h.groups[key]
				}
			}
		}
		keys = fc.keys(len(q.GroupBy), nil)
	}
	if q.TopN != nil {
		if keys, err = ev.topN(fc, fp, cur, prev, q.TopN.N); err != nil {
			return nil, backend.DownstreamError(err)
		}
	}
	perKey := 1 + len(q.CompareOutputs)
	if tgt != nil {
		perKey += 2
	}
	flagOnly := anom != nil && q.Anomaly.FlagOnly
	switch {
	case flagOnly:
		perKey = 1
	case anom != nil:
		perKey += 5
	}
	if n := len(keys) * perKey; e.SeriesLimit > 0 && n > e.SeriesLimit {
		return nil, backend.PluginError(&SeriesLimitError{Got: n, Limit: e.SeriesLimit})
	}
	var targets map[string]map[int64]float64
	if tgt != nil {
		if targets, err = ev.targets(ctx, tgt, cur); err != nil {
			return nil, err
		}
	}
	for _, key := range keys {
		groups := fc.groupsOf(key, fp)
		if flagOnly { // only the flag: an alert rule reduces it with max and fires on >= 1
			res.Series = append(res.Series, slices.DeleteFunc(ev.anomalySeries(anom, key, groups, cur),
				func(s Series) bool { return s.Role != RoleAnomaly })...)
			continue
		}
		vals := ev.compute(fc, key, cur)
		res.Series = append(res.Series, Series{Role: RoleCurrent, Groups: groups, Values: vals})
		if tgt != nil {
			res.Series = append(res.Series, targetSeries(tgt, targets, groups, vals, cur)...)
		}
		if anom != nil {
			res.Series = append(res.Series, ev.anomalySeries(anom, key, groups, cur)...)
		}
		if fp == nil {
			continue
		}
		pv := ev.compute(fp, key, prev)
		aligned := make([]*float64, len(vals)) // comparison bucket i against current bucket i
		copy(aligned, pv)
		for _, out := range q.CompareOutputs {
			s := Series{Role: out, Groups: groups, Values: make([]*float64, len(vals))}
			for i := range vals {
				s.Values[i] = compareValue(out, vals[i], aligned[i])
			}
			res.Series = append(res.Series, s)
		}
	}
	return res, nil
}

// checkCumulativeStep refuses buckets that can cross the period a cumulative
// total restarts at: mtd needs a duration, day or month; ytd also allows
// quarter and year. A range bucket can cross both.
func checkCumulativeStep(mode string, step bucket.Step) error {
	var ok []string
	switch mode {
	case models.CumulativeMTD:
		ok = []string{models.IntervalDay, models.IntervalMonth}
	case models.CumulativeYTD:
		ok = []string{models.IntervalDay, models.IntervalMonth, models.IntervalQuarter, models.IntervalYear}
	default:
		return nil
	}
	if step.Calendar == "" || slices.Contains(ok, step.Calendar) {
		return nil
	}
	return pluginErrorf("cumulative %s needs an interval that does not cross %s boundaries: a duration or %s, not %s",
		mode, map[string]string{models.CumulativeMTD: "month", models.CumulativeYTD: "year"}[mode], strings.Join(ok, ", "), step.Calendar)
}

func compareValue(out string, cur, prev *float64) *float64 {
	switch out {
	case models.OutputSeries:
		return prev
	case models.OutputDelta:
		if cur == nil || prev == nil {
			return nil
		}
		return ptr(*cur - *prev)
	case models.OutputChange:
		if cur == nil || prev == nil || *prev == 0 {
			return nil
		}
		d := *prev
		if d < 0 {
			d = -d
		}
		return ptr((*cur - *prev) / d)
	}
	return nil
}

func ptr(f float64) *float64 { return &f }

// evaluation is one query's fixed parameters.
type evaluation struct {
	e          *Engine
	k          kpi.KPI
	q          models.Query
	step       bucket.Step
	now        time.Time
	byCategory bool
}

// fetched holds what the Source returned for one period, per series key.
type fetched struct {
	groups   map[string][]string
	sums     map[string]map[Term][]float64          // per bucket
	unions   map[string]map[string][]*sketch.Union  // kind -> per bucket
	days     map[string]map[time.Time]*sketch.Union // stickiness: per local day
	baseline map[string]map[Term]float64            // cumulative: before the first bucket
}

func seriesKey(groups []string) string { return strings.Join(groups, "\x1f") }

func (f *fetched) add(groups []string) string {
	key := seriesKey(groups)
	if _, ok := f.groups[key]; !ok {
		f.groups[key] = slices.Clone(groups)
	}
	return key
}

// keys are the series of both periods, sorted; without groupBy always one.
func (f *fetched) keys(nGroups int, other *fetched) []string {
	var out []string
	for k := range f.groups {
		out = append(out, k)
	}
	if other != nil {
		for k := range other.groups {
			if _, ok := f.groups[k]; !ok {
				out = append(out, k)
			}
		}
	}
	if nGroups == 0 && len(out) == 0 {
		out = append(out, "")
	}
	slices.Sort(out)
	return out
}

func (f *fetched) groupsOf(key string, other *fetched) []string {
	if g, ok := f.groups[key]; ok {
		return g
	}
	if other != nil {
		if g, ok := other.groups[key]; ok {
			return g
		}
	}
	return nil
}

func terms(o kpi.Operand) []Term {
	var out []Term
	for _, t := range o.Terms {
		out = append(out, Term{Measurement: t.Measurement, Field: t.Field})
	}
	return out
}

func (ev *evaluation) operands() []kpi.Operand {
	if ev.k.Den != nil {
		return []kpi.Operand{ev.k.Num, *ev.k.Den}
	}
	return []kpi.Operand{ev.k.Num}
}

// fetch reads one period's sums and sketches.
func (ev *evaluation) fetch(ctx context.Context, b bucket.Buckets) (*fetched, error) {
	f := &fetched{groups: map[string][]string{}, sums: map[string]map[Term][]float64{},
		unions: map[string]map[string][]*sketch.Union{}, days: map[string]map[time.Time]*sketch.Union{},
		baseline: map[string]map[Term]float64{}}
	if b.Len() == 0 {
		return f, nil
	}
	var ts []Term
	for _, o := range ev.operands() {
		ts = append(ts, terms(o)...)
	}
	slices.SortFunc(ts, func(a, b Term) int { return strings.Compare(a.Measurement+"."+a.Field, b.Measurement+"."+b.Field) })
	ts = slices.Compact(ts)
	if len(ts) > 0 {
		spec := SumSpec{Start: b.Start(), Stop: b.End,
			Every: bucket.Grain(ev.step, ev.e.Location, b.Start(), b.End), Terms: ts, Filters: ev.q.Filters, GroupBy: ev.q.GroupBy}
		if ev.step.WholeDays() {
			spec.DayZone = ev.e.Location
		}
		rows, err := ev.e.Source.Sums(ctx, spec)
		if err != nil {
			return nil, err
		}
		for _, r := range rows {
			i := b.Index(r.Time)
			if i < 0 {
				continue
			}
			key := f.add(r.Groups)
			if f.sums[key] == nil {
				f.sums[key] = map[Term][]float64{}
			}
			if f.sums[key][r.Term] == nil {
				f.sums[key][r.Term] = make([]float64, b.Len())
			}
			f.sums[key][r.Term][i] += r.Value
		}
		baseStart, withBase := time.Unix(0, 0).UTC(), ev.k.Kind == kpi.KindCumulative
		if ps, ok := ev.periodStart(b.Start()); ok {
			baseStart, withBase = ps, true
		}
		if withBase && baseStart.Before(b.Start()) {
			rows, err := ev.e.Source.Sums(ctx, SumSpec{Start: baseStart, Stop: b.Start(),
				Terms: ts, Filters: ev.q.Filters, GroupBy: ev.q.GroupBy, DayZone: ev.e.Location})
			if err != nil {
				return nil, err
			}
			for _, r := range rows {
				key := f.add(r.Groups)
				if f.baseline[key] == nil {
					f.baseline[key] = map[Term]float64{}
				}
				f.baseline[key][r.Term] += r.Value
			}
		}
	}
	kinds := ev.k.DistinctKinds()
	if len(kinds) == 0 {
		return f, nil
	}
	window := schema.WindowHour
	if ev.step.WholeDays() || ev.byCategory {
		window = schema.WindowDay
	}
	// A period cut short (a comparison up to the same time last week) reads
	// its last, partial day from hourly sketches: hour precision instead of
	// the whole day. Daily sketches are the only ones keyed by category.
	specs := []SketchSpec{{Start: b.Start(), Stop: b.End, Kinds: kinds, Window: window, Filters: ev.q.Filters, GroupBy: ev.q.GroupBy}}
	switch last := b.Starts[b.Len()-1]; {
	case ev.step.IsRange() && !ev.byCategory:
		specs = ev.rangeSketchSpecs(b.Start(), b.End, kinds)
	case window == schema.WindowDay && !ev.byCategory && b.End.Before(bucket.Next(last, ev.step, ev.e.Location)):
		specs[0].Stop = last
		specs = append(specs, SketchSpec{Start: last, Stop: b.End, Kinds: kinds, Window: schema.WindowHour, Filters: ev.q.Filters, GroupBy: ev.q.GroupBy})
	}
	for _, spec := range specs {
		if !spec.Start.Before(spec.Stop) {
			continue
		}
		if err := ev.fetchSketches(ctx, spec, b, f); err != nil {
			return nil, err
		}
	}
	return f, nil
}

// rangeSketchSpecs reads a range bucket [start, stop) (aligned to the hour)
// from the daily sketches of the local days it holds whole and the hourly
// sketches of the hours before the first and after the last of them: a year
// is about 365 sketches per series and kind, not 8760, and exact to the hour.
func (ev *evaluation) rangeSketchSpecs(start, stop time.Time, kinds []string) []SketchSpec {
	loc := ev.e.Location
	d0, d1 := localday.Floor(start, loc), localday.Floor(stop, loc)
	if d0.Before(start) {
		d0 = localday.Next(d0, loc)
	}
	spec := func(from, to time.Time, window string) SketchSpec {
		return SketchSpec{Start: from, Stop: to, Kinds: kinds, Window: window, Filters: ev.q.Filters, GroupBy: ev.q.GroupBy}
	}
	if !d0.Before(d1) {
		return []SketchSpec{spec(start, stop, schema.WindowHour)}
	}
	return []SketchSpec{spec(start, d0, schema.WindowHour), spec(d0, d1, schema.WindowDay), spec(d1, stop, schema.WindowHour)}
}

// inSpec reports whether a sketch stamped t lies in [spec.Start, spec.Stop).
// Flux on InfluxDB 1.8 also returns the points stamped exactly at the stop: a
// daily sketch there is the whole next day, which a read ending at that
// day's start (hourly sketches follow) must not count.
func inSpec(t time.Time, spec SketchSpec) bool {
	return !t.Before(spec.Start) && t.Before(spec.Stop)
}

// fetchSketches merges the sketches of spec into f's buckets b.
func (ev *evaluation) fetchSketches(ctx context.Context, spec SketchSpec, b bucket.Buckets, f *fetched) error {
	return ev.e.Source.Sketches(ctx, spec, func(r SketchRow) error {
		i := b.Index(r.Time)
		if i < 0 || !inSpec(r.Time, spec) {
			return nil
		}
		key := f.add(r.Groups)
		if f.unions[key] == nil {
			f.unions[key] = map[string][]*sketch.Union{}
		}
		us := f.unions[key][r.Kind]
		if us == nil {
			us = make([]*sketch.Union, b.Len())
			f.unions[key][r.Kind] = us
		}
		if us[i] == nil {
			us[i] = &sketch.Union{}
		}
		if err := us[i].AddEncodedEstimate(r.Sketch, r.Estimate); err != nil {
			return backend.DownstreamError(fmt.Errorf("InfluxDB returned an undecodable %s sketch at %s: %w", r.Kind, r.Time.Format(time.RFC3339), err))
		}
		if ev.k.Kind == kpi.KindStickiness {
			day := bucket.Midnight(r.Time, ev.e.Location)
			if f.days[key] == nil {
				f.days[key] = map[time.Time]*sketch.Union{}
			}
			if f.days[key][day] == nil {
				f.days[key][day] = &sketch.Union{}
			}
			if err := f.days[key][day].AddEncoded(r.Sketch); err != nil {
				return backend.DownstreamError(err)
			}
		}
		return nil
	})
}

// operand is the value of o for a series and bucket: absent data is 0.
func (f *fetched) operand(o kpi.Operand, key string, i int) float64 {
	if o.IsDistinct() {
		us := f.unions[key][o.Distinct]
		if us == nil || us[i] == nil {
			return 0
		}
		return float64(us[i].Estimate())
	}
	v := 0.0
	for _, t := range o.Terms {
		if s := f.sums[key][Term{t.Measurement, t.Field}]; s != nil {
			v += t.Sign * s[i]
		}
	}
	return v
}

// compute evaluates the KPI per bucket for one series.
func (ev *evaluation) compute(f *fetched, key string, b bucket.Buckets) []*float64 {
	out := make([]*float64, b.Len())
	k := ev.k
	running := 0.0
	for _, t := range k.Num.Terms {
		running += t.Sign * f.baseline[key][Term{t.Measurement, t.Field}]
	}
	for i := range out {
		switch k.Kind {
		case kpi.KindSum, kpi.KindDistinct:
			v := f.operand(k.Num, key, i)
			if ev.q.Cumulative != "" {
				if ps, ok := ev.periodStart(b.Starts[i]); ok && i > 0 && ps.After(b.Starts[i-1]) {
					running = 0 // a new month or year
				}
				running += v
				v = running
			}
			out[i] = ptr(v)
		case kpi.KindCumulative:
			running += f.operand(k.Num, key, i)
			out[i] = ptr(running)
		case kpi.KindRatio:
			if r, ok := k.Ratio(f.operand(k.Num, key, i), f.operand(*k.Den, key, i)); ok {
				out[i] = ptr(r)
			}
		case kpi.KindStickiness:
			whole := f.operand(k.Num, key, i)
			if whole == 0 {
				continue
			}
			n, total := 0, 0.0
			for d := b.Starts[i]; d.Before(b.EndOf(i)) && !d.After(ev.now); d = localday.Next(d, ev.e.Location) {
				n++
				if u := f.days[key][d]; u != nil {
					total += float64(u.Estimate())
				}
			}
			if n > 0 {
				out[i] = ptr(total / float64(n) / whole)
			}
		}
	}
	return out
}
