package engine

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/storepulse/storepulse/datasource/pkg/bucket"
	"github.com/storepulse/storepulse/datasource/pkg/models"
	"github.com/storepulse/storepulse/internal/calendar"
	"github.com/storepulse/storepulse/internal/kpi"
	"github.com/storepulse/storepulse/internal/localday"
	"github.com/storepulse/storepulse/internal/schema"
	"github.com/storepulse/storepulse/internal/sketch"
)

// Roles of the target transform's series.
const (
	RoleTarget     = "target"     // the stored target of the bucket's period
	RoleAttainment = "attainment" // actual / target, a fraction
)

// OtherValue labels the series of everything outside a topN.
const OtherValue = "other"

// periodStart is the start of the local month (mtd) or year (ytd) holding t;
// ok is false without such a cumulative mode.
func (ev *evaluation) periodStart(t time.Time) (time.Time, bool) {
	switch ev.q.Cumulative {
	case models.CumulativeMTD:
		return localday.MonthStart(t, ev.e.Location), true
	case models.CumulativeYTD:
		return localday.YearStart(t, ev.e.Location), true
	}
	return time.Time{}, false
}

// targetPlan says which stored targets a query is measured against.
type targetPlan struct {
	period  string
	byStore bool   // groupBy store: each series against its store's target
	store   string // otherwise: this store's (or "all") target
}

// planTarget checks that a query can be measured against stored targets:
// targets exist per store (or "all") and per day, week or month.
func planTarget(k kpi.KPI, q models.Query, step bucket.Step) (*targetPlan, error) {
	if !slices.Contains([]string{models.IntervalDay, models.IntervalWeek, models.IntervalMonth}, step.Calendar) {
		return nil, pluginErrorf("target needs an interval of day, week or month (the periods targets are set for), got %s", step)
	}
	p := &targetPlan{period: step.Calendar, store: calendar.AllStores}
	for dim := range q.Filters {
		if dim != schema.TagStore {
			return nil, pluginErrorf("targets are set per store: a target query can filter by store only, not %q", dim)
		}
	}
	switch {
	case len(q.GroupBy) == 1 && q.GroupBy[0] == schema.TagStore:
		p.byStore = true
	case len(q.GroupBy) > 0:
		return nil, pluginErrorf("targets are set per store: a target query can group by store only, not %s", strings.Join(q.GroupBy, ", "))
	case len(q.Filters[schema.TagStore]) == 1:
		p.store = q.Filters[schema.TagStore][0]
	case len(q.Filters[schema.TagStore]) > 1:
		return nil, pluginErrorf("target of KPI %s for several stores: group by store (one target per store), or filter to one store", k.ID)
	}
	return p, nil
}

// targets reads the plan's targets of the buckets: store -> period start (Unix) -> value.
func (ev *evaluation) targets(ctx context.Context, p *targetPlan, b bucket.Buckets) (map[string]map[int64]float64, error) {
	out := map[string]map[int64]float64{}
	if b.Len() == 0 {
		return out, nil
	}
	spec := TargetSpec{Start: b.Start(), Stop: b.End, KPI: ev.k.ID, Period: p.period}
	if p.byStore {
		spec.Stores = ev.q.Filters[schema.TagStore]
	} else {
		spec.Stores = []string{p.store}
	}
	rows, err := ev.e.Source.Targets(ctx, spec)
	if err != nil {
		return nil, err
	}
	for _, r := range rows {
		if out[r.Store] == nil {
			out[r.Store] = map[int64]float64{}
		}
		out[r.Store][r.Time.Unix()] = r.Value
	}
	return out, nil
}

// targetSeries are a series' target and attainment (actual / target; null
// without a target or with a zero target).
func targetSeries(p *targetPlan, targets map[string]map[int64]float64, groups []string, vals []*float64, b bucket.Buckets) []Series {
	store := p.store
	if p.byStore {
		store = groups[0]
	}
	tg := Series{Role: RoleTarget, Groups: groups, Values: make([]*float64, len(vals))}
	at := Series{Role: RoleAttainment, Groups: groups, Values: make([]*float64, len(vals))}
	for i, start := range b.Starts {
		v, ok := targets[store][start.Unix()]
		if !ok {
			continue
		}
		tg.Values[i] = ptr(v)
		if vals[i] != nil && v != 0 {
			at.Values[i] = ptr(*vals[i] / v)
		}
	}
	return []Series{tg, at}
}

// topN ranks the series by the KPI over the whole range (largest first,
// null last, ties by value name), keeps n and merges the rest of both
// periods into one "other" series. It returns the keys to output in order.
func (ev *evaluation) topN(fc, fp *fetched, cur, prev bucket.Buckets, n int) ([]string, error) {
	type ranked struct {
		key string
		v   *float64
	}
	var rs []ranked
	for key := range fc.groups {
		v, err := ev.total(fc, key, cur.Len())
		if err != nil {
			return nil, err
		}
		rs = append(rs, ranked{key, v})
	}
	slices.SortFunc(rs, func(a, b ranked) int {
		switch {
		case a.v == nil && b.v != nil:
			return 1
		case a.v != nil && b.v == nil:
			return -1
		case a.v != nil && *a.v != *b.v:
			return cmp.Compare(*b.v, *a.v)
		}
		return strings.Compare(a.key, b.key)
	})
	top := map[string]bool{}
	var keys []string
	for _, r := range rs[:min(n, len(rs))] {
		top[r.key] = true
		keys = append(keys, r.key)
	}
	otherKey := "\x00" + OtherValue
	rest := func(f *fetched) []string {
		var out []string
		for key := range f.groups {
			if !top[key] && key != otherKey {
				out = append(out, key)
			}
		}
		slices.Sort(out)
		return out
	}
	restCur := rest(fc)
	var restPrev []string
	if fp != nil {
		restPrev = rest(fp)
	}
	if len(restCur) == 0 && len(restPrev) == 0 {
		return keys, nil
	}
	if err := fc.merge(restCur, otherKey, []string{OtherValue}, cur.Len()); err != nil {
		return nil, err
	}
	if fp != nil {
		if err := fp.merge(restPrev, otherKey, []string{OtherValue}, prev.Len()); err != nil {
			return nil, err
		}
	}
	return append(keys, otherKey), nil
}

// merge adds the series keys up into a new series into: sums added, sketches
// merged per bucket and per day.
func (f *fetched) merge(keys []string, into string, groups []string, n int) error {
	f.groups[into] = groups
	sums := map[Term][]float64{}
	unions := map[string][]*sketch.Union{}
	days := map[time.Time]*sketch.Union{}
	base := map[Term]float64{}
	for _, key := range keys {
		for t, vs := range f.sums[key] {
			if sums[t] == nil {
				sums[t] = make([]float64, n)
			}
			for i, v := range vs {
				sums[t][i] += v
			}
		}
		for kind, us := range f.unions[key] {
			if unions[kind] == nil {
				unions[kind] = make([]*sketch.Union, n)
			}
			for i, u := range us {
				if u == nil {
					continue
				}
				if unions[kind][i] == nil {
					unions[kind][i] = &sketch.Union{}
				}
				if err := unions[kind][i].Merge(u); err != nil {
					return fmt.Errorf("merge %s sketches into %q: %w", kind, OtherValue, err)
				}
			}
		}
		for d, u := range f.days[key] {
			if days[d] == nil {
				days[d] = &sketch.Union{}
			}
			if err := days[d].Merge(u); err != nil {
				return fmt.Errorf("merge daily sketches into %q: %w", OtherValue, err)
			}
		}
		for t, v := range f.baseline[key] {
			base[t] += v
		}
	}
	f.sums[into], f.unions[into], f.days[into], f.baseline[into] = sums, unions, days, base
	return nil
}

// operandTotal is o over all n buckets of a series: sums added, sketches merged.
func (f *fetched) operandTotal(o kpi.Operand, key string, n int) (float64, error) {
	if o.IsDistinct() {
		u := &sketch.Union{}
		for _, b := range f.unions[key][o.Distinct] {
			if err := u.Merge(b); err != nil {
				return 0, fmt.Errorf("merge %s sketches: %w", o.Distinct, err)
			}
		}
		return float64(u.Estimate()), nil
	}
	v := 0.0
	for i := range n {
		v += f.operand(o, key, i)
	}
	return v, nil
}

// total is the KPI of one series over the whole range (its last value for a
// cumulative KPI); null for a zero denominator.
func (ev *evaluation) total(f *fetched, key string, n int) (*float64, error) {
	num, err := f.operandTotal(ev.k.Num, key, n)
	if err != nil {
		return nil, err
	}
	switch ev.k.Kind {
	case kpi.KindCumulative:
		for _, t := range ev.k.Num.Terms {
			num += t.Sign * f.baseline[key][Term{t.Measurement, t.Field}]
		}
	case kpi.KindRatio:
		den, err := f.operandTotal(*ev.k.Den, key, n)
		if err != nil {
			return nil, err
		}
		r, ok := ev.k.Ratio(num, den)
		if !ok {
			return nil, nil
		}
		return &r, nil
	}
	return &num, nil
}
