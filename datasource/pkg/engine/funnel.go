package engine

import (
	"context"
	"slices"

	"github.com/grafana/grafana-plugin-sdk-go/backend"

	"github.com/storepulse/storepulse/datasource/pkg/models"
	"github.com/storepulse/storepulse/internal/schema"
)

// FunnelStep is one step of the funnel.
type FunnelStep struct {
	Name  string
	Term  Term
	Value float64
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
		{Name: "paid", Term: Term{schema.MeasPayments, schema.FieldPaidOrders}},
	}
}

// FunnelDimensions are the dimensions every funnel measurement carries.
func FunnelDimensions() []string {
	return []string{schema.TagStore, schema.TagChannel, schema.TagCategory}
}

// Funnel computes the funnel over the request's range (no buckets: one value
// per step and group). Each step counts its own events in the range (orders
// by order time, payments by payment time), so a step rate may exceed 1.
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
	steps := FunnelSteps()
	ts := make([]Term, len(steps))
	for i, s := range steps {
		ts[i] = s.Term
	}
	rows, err := e.Source.Sums(ctx, SumSpec{Start: req.From, Stop: to, Terms: ts, Filters: q.Filters, GroupBy: q.GroupBy, DayZone: e.Location})
	if err != nil {
		return nil, err
	}
	byKey := map[string]*FunnelGroup{}
	var keys []string
	for _, r := range rows {
		key := seriesKey(r.Groups)
		g := byKey[key]
		if g == nil {
			g = &FunnelGroup{Groups: slices.Clone(r.Groups), Steps: FunnelSteps()}
			byKey[key] = g
			keys = append(keys, key)
		}
		for i := range g.Steps {
			if g.Steps[i].Term == r.Term {
				g.Steps[i].Value += r.Value
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
