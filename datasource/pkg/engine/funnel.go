package engine

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"

	"github.com/storepulse/storepulse/datasource/pkg/bucket"
	"github.com/storepulse/storepulse/datasource/pkg/models"
	"github.com/storepulse/storepulse/internal/schema"
	"github.com/storepulse/storepulse/internal/sketch"
)

// FunnelStep is one step of the funnel: a sum (Term) or a distinct count
// (Distinct, a sketch kind).
type FunnelStep struct {
	Name     string
	Term     Term
	Distinct string
	Value    float64
	// StepRate is Value / the previous step's value, OverallRate Value / the
	// first step's; null when that is 0. The first step has neither.
	StepRate, OverallRate *float64
}

// FunnelGroup is the funnel of one combination of groupBy values.
type FunnelGroup struct {
	Groups []string
	Steps  []FunnelStep
}

// FunnelResult is a funnel query over [From, To).
type FunnelResult struct {
	GroupBy []string
	Groups  []FunnelGroup // sorted by group values
}

// FunnelSteps are the funnel's steps: sessions → add-to-cart → orders → paid.
func FunnelSteps() []FunnelStep {
	return []FunnelStep{
		{Name: "sessions", Term: Term{schema.MeasTraffic, schema.FieldSessions}},
		{Name: "add-to-cart", Term: Term{schema.MeasTraffic, schema.FieldCartSessions}},
		{Name: "orders", Term: Term{schema.MeasOrders, schema.FieldOrders}},
		// Orders with a payment, each once (an order paid in two parts is one).
		{Name: "paid", Distinct: schema.KindPaidOrder},
	}
}

// FunnelDimensions are the dimensions every funnel measurement carries.
func FunnelDimensions() []string {
	return []string{schema.TagStore, schema.TagChannel, schema.TagCategory}
}

// Funnel computes the funnel over the request's range (no buckets: one value
// per step and group). Each step counts its own events in the range (orders
// by order time, payments by payment time), so a step rate may exceed 1.
// Paid orders are distinct order ids from the sketches of the range,
// aligned to the hour (to local days with a category).
func (e *Engine) Funnel(ctx context.Context, req Request) (*FunnelResult, error) {
	q := req.Query
	for dim := range q.Filters {
		if !slices.Contains(FunnelDimensions(), dim) {
			return nil, pluginErrorf("the funnel cannot be filtered by %q (dimensions: store, channel, category)", dim)
		}
	}
	for _, dim := range q.GroupBy {
		if !slices.Contains(FunnelDimensions(), dim) {
			return nil, pluginErrorf("the funnel cannot be grouped by %q (dimensions: store, channel, category)", dim)
		}
	}
	if q.Compare != models.CompareNone {
		return nil, pluginErrorf("the funnel has no compare: use one funnel query per period")
	}
	to := req.To
	if !req.From.Before(to) {
		return nil, pluginErrorf("empty time range %s .. %s", req.From, to)
	}
	var ts []Term
	var kinds []string
	for _, s := range FunnelSteps() {
		if s.Distinct != "" {
			kinds = append(kinds, s.Distinct)
		} else {
			ts = append(ts, s.Term)
		}
	}
	rows, err := e.Source.Sums(ctx, SumSpec{Start: req.From, Stop: to, Terms: ts, Filters: q.Filters, GroupBy: q.GroupBy, DayZone: e.Location})
	if err != nil {
		return nil, err
	}
	byKey := map[string]*FunnelGroup{}
	var keys []string
	group := func(groups []string) *FunnelGroup {
		key := seriesKey(groups)
		g := byKey[key]
		if g == nil {
			g = &FunnelGroup{Groups: slices.Clone(groups), Steps: FunnelSteps()}
			byKey[key] = g
			keys = append(keys, key)
		}
		return g
	}
	for _, r := range rows {
		g := group(r.Groups)
		for i := range g.Steps {
			if g.Steps[i].Distinct == "" && g.Steps[i].Term == r.Term {
				g.Steps[i].Value += r.Value
			}
		}
	}
	unions, err := e.funnelDistinct(ctx, req, kinds)
	if err != nil {
		return nil, err
	}
	for _, byKind := range unions {
		g := group(byKind.groups)
		for i := range g.Steps {
			if u := byKind.kinds[g.Steps[i].Distinct]; u != nil {
				g.Steps[i].Value = float64(u.Estimate())
			}
		}
	}
	if len(q.GroupBy) == 0 && len(keys) == 0 {
		byKey[""] = &FunnelGroup{Groups: []string{}, Steps: FunnelSteps()}
		keys = append(keys, "")
	}
	if e.SeriesLimit > 0 && len(keys) > e.SeriesLimit {
		return nil, backend.PluginError(&SeriesLimitError{Got: len(keys), Limit: e.SeriesLimit})
	}
	slices.Sort(keys)
	res := &FunnelResult{GroupBy: q.GroupBy}
	for _, key := range keys {
		g := byKey[key]
		for i := 1; i < len(g.Steps); i++ {
			if p := g.Steps[i-1].Value; p != 0 {
				g.Steps[i].StepRate = ptr(g.Steps[i].Value / p)
			}
			if f := g.Steps[0].Value; f != 0 {
				g.Steps[i].OverallRate = ptr(g.Steps[i].Value / f)
			}
		}
		res.Groups = append(res.Groups, *g)
	}
	return res, nil
}

// funnelUnions are one group's merged sketches by kind.
type funnelUnions struct {
	groups []string
	kinds  map[string]*sketch.Union
}

// funnelDistinct merges the sketches of kinds over the request's range as
// one whole-range bucket, per group.
func (e *Engine) funnelDistinct(ctx context.Context, req Request, kinds []string) (map[string]*funnelUnions, error) {
	out := map[string]*funnelUnions{}
	if len(kinds) == 0 {
		return out, nil
	}
	q := req.Query
	byCategory := len(q.Filters[schema.TagCategory]) > 0 || slices.Contains(q.GroupBy, schema.TagCategory)
	step := bucket.Step{Calendar: models.IntervalRange, Unit: time.Hour}
	if byCategory {
		step.Unit = 24 * time.Hour // only daily sketches carry the category
	}
	b, err := bucket.Make(req.From, req.To, step, e.Location, e.now())
	if err != nil {
		return nil, backend.PluginError(err)
	}
	if b.Len() == 0 { // a range after now
		return out, nil
	}
	ev := evaluation{e: e, q: q, step: step, byCategory: byCategory}
	specs := []SketchSpec{{Start: b.Start(), Stop: b.End, Kinds: kinds, Window: schema.WindowDay, Filters: q.Filters, GroupBy: q.GroupBy}}
	if !byCategory {
		specs = ev.rangeSketchSpecs(b.Start(), b.End, kinds)
	}
	for _, spec := range specs {
		if !spec.Start.Before(spec.Stop) {
			continue
		}
		err := e.Source.Sketches(ctx, spec, func(r SketchRow) error {
			if !inSpec(r.Time, spec) {
				return nil
			}
			key := seriesKey(r.Groups)
			fu := out[key]
			if fu == nil {
				fu = &funnelUnions{groups: slices.Clone(r.Groups), kinds: map[string]*sketch.Union{}}
				out[key] = fu
			}
			u := fu.kinds[r.Kind]
			if u == nil {
				u = &sketch.Union{}
				fu.kinds[r.Kind] = u
			}
			if err := u.AddEncodedEstimate(r.Sketch, r.Estimate); err != nil {
				return backend.DownstreamError(fmt.Errorf("InfluxDB returned an undecodable %s sketch at %s: %w", r.Kind, r.Time.Format(time.RFC3339), err))
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}
