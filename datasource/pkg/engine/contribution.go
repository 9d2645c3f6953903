package engine

import (
	"cmp"
	"context"
	"maps"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"

	"github.com/storepulse/storepulse/internal/kpi"
)

// ContributionRow is one value of the dimension.
type ContributionRow struct {
	Value             string   // "" when the tag is absent
	Current, Previous *float64 // the KPI of this value alone in each period
	// Contribution is this value's part of the total change; the parts add up
	// to the change. Null when the total KPI is null in either period.
	Contribution *float64
	// Share is Contribution / the total change (null when the change is 0).
	Share *float64
	// Rate and Mix split a ratio's Contribution (ratios only): the change of
	// the value's own ratio weighted by its average share of the denominator,
	// and the change of that share weighted by its average ratio.
	Rate, Mix *float64
}

// ContributionResult ranks the values of a dimension by their contribution
// to the change of a KPI between the current and the comparison period.
type ContributionResult struct {
	KPI                        kpi.KPI
	Dimension, Compare         string
	From, To, PrevFrom, PrevTo time.Time
	Current, Previous, Change  *float64
	Rows                       []ContributionRow // by |contribution|, largest first
}

// Contribution computes a contribution query: the KPI over [From, To) and the
// comparison period, per value of the dimension. Sums split additively;
// ratios num/den by the exact decomposition
// Δ(N/D) = Σ_g (N1_g/D1 − N0_g/D0), each term split into rate and mix effects.
func (e *Engine) Contribution(ctx context.Context, req Request) (*ContributionResult, error) {
	q, cal := calendarQuery(req.Query)
	k, ok := e.Catalog.Get(q.KPI)
	if !ok {
		return nil, pluginErrorf("unknown KPI %q (see resource /kpis)", q.KPI)
	}
	dim := q.Contribution.Dimension
	if err := checkDims(k, q.Filters, []string{dim}); err != nil {
		return nil, err
	}
	if len(q.GroupBy) > 0 {
		return nil, pluginErrorf("contribution splits by its own dimension: leave groupBy empty")
	}
	ratio := k.Kind == kpi.KindRatio
	if (k.Kind != kpi.KindSum && !ratio) || k.Num.IsDistinct() || (ratio && k.Den.IsDistinct()) {
		return nil, pluginErrorf("contribution needs a KPI of sums or a ratio of sums: the distinct counts of %s (%s) do not add up over %s values", k.ID, k.Kind, dim)
	}
	if !req.From.Before(req.To) {
		return nil, pluginErrorf("empty time range %s .. %s", req.From, req.To)
	}
	pf, pt, _, err := e.comparePeriod(ctx, q.Compare, cal, req.From, req.To)
	if err != nil {
		return nil, err
	}
	var ts []Term
	operands := []kpi.Operand{k.Num}
	if ratio {
		operands = append(operands, *k.Den)
	}
	for _, o := range operands {
		ts = append(ts, terms(o)...)
	}
	type side struct{ num, den map[string]float64 }
	read := func(from, to time.Time) (side, error) {
		s := side{num: map[string]float64{}, den: map[string]float64{}}
		rows, err := e.Source.Sums(ctx, SumSpec{Start: from, Stop: to, Terms: ts, Filters: q.Filters, GroupBy: []string{dim}, DayZone: e.Location})
		if err != nil {
			return s, err
		}
		for _, r := range rows {
			g := r.Groups[0]
			s.num[g] += termValue(k.Num, r)
			if ratio {
				s.den[g] += termValue(*k.Den, r)
			}
		}
		return s, nil
	}
	cur, err := read(req.From, req.To)
	if err != nil {
		return nil, err
	}
	prev, err := read(pf, pt)
	if err != nil {
		return nil, err
	}
	values := map[string]bool{}
	for _, m := range []map[string]float64{cur.num, cur.den, prev.num, prev.den} {
		for g := range m {
			values[g] = true
		}
	}
	if len(values) > e.SeriesLimit && e.SeriesLimit > 0 {
		return nil, backend.PluginError(&SeriesLimitError{Got: len(values), Limit: e.SeriesLimit})
	}
	// Summed in key order: a map's order would change the last bits of a
	// total from one run to the next.
	total := func(m map[string]float64) float64 {
		v := 0.0
		for _, g := range slices.Sorted(maps.Keys(m)) {
			v += m[g]
		}
		return v
	}
	sign := 1.0
	if k.Complement {
		sign = -1
	}
	value := func(n, d float64) *float64 {
		if !ratio {
			return ptr(n)
		}
		r, ok := k.Ratio(n, d)
		if !ok {
			return nil
		}
		return ptr(r)
	}
	res := &ContributionResult{KPI: k, Dimension: dim, Compare: q.Compare, From: req.From, To: req.To, PrevFrom: pf, PrevTo: pt}
	n1, d1, n0, d0 := total(cur.num), total(cur.den), total(prev.num), total(prev.den)
	res.Current, res.Previous = value(n1, d1), value(n0, d0)
	if res.Current != nil && res.Previous != nil {
		res.Change = ptr(*res.Current - *res.Previous)
	}
	for g := range values {
		row := ContributionRow{Value: g, Current: value(cur.num[g], cur.den[g]), Previous: value(prev.num[g], prev.den[g])}
		switch {
		case res.Change == nil:
		case !ratio:
			row.Contribution = ptr(cur.num[g] - prev.num[g])
		default:
			row.Contribution = ptr(sign * (cur.num[g]/d1 - prev.num[g]/d0))
			if cur.den[g] > 0 || prev.den[g] > 0 {
				w1, w0 := cur.den[g]/d1, prev.den[g]/d0
				r1, r0 := 0.0, 0.0
				if cur.den[g] > 0 {
					r1 = cur.num[g] / cur.den[g]
				}
				if prev.den[g] > 0 {
					r0 = prev.num[g] / prev.den[g]
				}
				if cur.den[g] == 0 {
					r1 = r0
				}
				if prev.den[g] == 0 {
					r0 = r1
				}
				row.Rate = ptr(sign * (w0 + w1) / 2 * (r1 - r0))
				row.Mix = ptr(sign * (r0 + r1) / 2 * (w1 - w0))
			}
		}
		if row.Contribution != nil && *res.Change != 0 {
			row.Share = ptr(*row.Contribution / *res.Change)
		}
		res.Rows = append(res.Rows, row)
	}
	slices.SortFunc(res.Rows, func(a, b ContributionRow) int {
		switch {
		case a.Contribution == nil && b.Contribution != nil:
			return 1
		case a.Contribution != nil && b.Contribution == nil:
			return -1
		case a.Contribution != nil:
			if c := cmp.Compare(math.Abs(*b.Contribution), math.Abs(*a.Contribution)); c != 0 {
				return c
			}
		}
		return strings.Compare(a.Value, b.Value)
	})
	return res, nil
}

// termValue is r's value signed as in o (0 when r is not one of o's terms).
func termValue(o kpi.Operand, r SumRow) float64 {
	v := 0.0
	for _, t := range o.Terms {
		if t.Measurement == r.Term.Measurement && t.Field == r.Term.Field {
			v += t.Sign * r.Value
		}
	}
	return v
}

// checkDims refuses filters and splits on dimensions the KPI lacks.
func checkDims(k kpi.KPI, filters map[string][]string, split []string) error {
	dims := k.Dimensions()
	for dim := range filters {
		if !slices.Contains(dims, dim) {
			return pluginErrorf("KPI %s cannot be filtered by %q (dimensions: %s)", k.ID, dim, strings.Join(dims, ", "))
		}
	}
	for _, dim := range split {
		if !slices.Contains(dims, dim) {
			return pluginErrorf("KPI %s cannot be split by %q (dimensions: %s)", k.ID, dim, strings.Join(dims, ", "))
		}
	}
	return nil
}
