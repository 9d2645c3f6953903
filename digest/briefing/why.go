package briefing

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"time"

	"github.com/storepulse/storepulse/datasource/pkg/engine"
	"github.com/storepulse/storepulse/datasource/pkg/models"
	"github.com/storepulse/storepulse/digest/locale"
	"github.com/storepulse/storepulse/internal/kpi"
	"github.com/storepulse/storepulse/internal/schema"
)

// explainDims are the dimensions a change is split by, in order of
// preference on ties.
func explainDims() []string {
	return []string{schema.TagStore, schema.TagChannel, schema.TagCategory, schema.TagCampaign}
}

// funnelKPIs move with the order funnel.
func funnelKPIs() []string {
	return []string{"gmv", "paid_revenue", "net_revenue", "orders", "paid_orders", "items_sold", "buyers", "paying_buyers",
		"conversion_rate", "order_conversion_rate", "payment_conversion", "add_to_cart_rate", "cart_abandonment", "sessions", "visitors"}
}

// explain is section 3: why a change happened.
func (b *Builder) explain(ctx context.Context, st *state, c *Change) error {
	k, _ := b.o.Engine.Catalog.Get(c.KPI)
	filters := st.scope.filters()
	if c.Store != "" {
		filters = map[string][]string{schema.TagStore: {c.Store}}
	}
	if c.Category != "" {
		// a category's own change: explained within the category
		filters = maps.Clone(filters)
		if filters == nil {
			filters = map[string][]string{}
		}
		filters[schema.TagCategory] = []string{c.Category}
	}
	if r, err := b.dimensionReason(ctx, st, k, filters, c); err != nil {
		return err
	} else if r != nil {
		c.Reasons = append(c.Reasons, *r)
	}
	if slices.Contains(funnelKPIs(), k.ID) {
		r, err := b.funnelReason(ctx, st, filters)
		if err != nil {
			return err
		}
		if r != nil {
			c.Reasons = append(c.Reasons, *r)
		}
	}
	c.Reasons = append(c.Reasons, b.campaignReasons(st, storeOf(filters))...)
	c.Reasons = append(c.Reasons, b.silentReasons(ctx, st, c)...)
	switch k.ID {
	case "refund_rate", "refund_amount", "refunds", "refund_count_rate":
		r, err := b.topValue(ctx, st, "refund_amount", schema.TagReason, filters, ReasonRefunds)
		if err != nil {
			return err
		}
		if r != nil {
			c.Reasons = append(c.Reasons, *r)
		}
	case "consultation_conversion", "consultations":
		r, err := b.serviceReason(ctx, st, filters)
		if err != nil {
			return err
		}
		if r != nil {
			c.Reasons = append(c.Reasons, *r)
		}
	}
	if r, err := b.priceReason(ctx, st, c); err != nil {
		return err
	} else if r != nil {
		c.Reasons = append(c.Reasons, *r)
	}
	return nil
}

func storeOf(filters map[string][]string) string {
	if s := filters[schema.TagStore]; len(s) == 1 {
		return s[0]
	}
	return ""
}

// dimensionReason is the value of the dimension that explains most of the
// change: the engine's contribution against the same weekday a week earlier
// for sums and ratios of sums (ratios split into mix and rate); for distinct
// counts, the store that deviates most from its own band.
func (b *Builder) dimensionReason(ctx context.Context, st *state, k kpi.KPI, filters map[string][]string, c *Change) (*Reason, error) {
	d := st.d
	sums := k.Kind == kpi.KindSum || (k.Kind == kpi.KindRatio && !k.Num.IsDistinct() && !k.Den.IsDistinct())
	if !sums {
		if storeOf(filters) != "" || !slices.Contains(k.Dimensions(), schema.TagStore) {
			return nil, nil
		}
		bands, err := b.bands(ctx, st, k, []string{schema.TagStore})
		if err != nil {
			return nil, err
		}
		total := c.Value - c.Expected
		var best *dayBand
		for i := range bands {
			if !bands[i].ok || bands[i].value == nil {
				continue
			}
			if best == nil || (*bands[i].value-bands[i].expected)*sign(total) > (*best.value-best.expected)*sign(total) {
				best = &bands[i]
			}
		}
		if best == nil || total == 0 {
			return nil, nil
		}
		dev := *best.value - best.expected
		r := &Reason{Kind: ReasonDimension, Dimension: schema.TagStore, Value: best.store,
			Numbers: map[string]float64{"value": *best.value, "expected": best.expected, "deviation": dev, "share": dev / total},
			Link:    b.drill(k.ID, best.store, "", "", d.start, d.end)}
		r.Text = st.tr.F("store %s: %s against %s expected (%s of the deviation)", best.store, unitNum(st.tr, k, *best.value), unitNum(st.tr, k, best.expected), share(st.tr, dev/total))
		return r, nil
	}
	var best *engine.ContributionResult
	var bestRow engine.ContributionRow
	for _, dim := range explainDims() {
		if len(filters[dim]) > 0 || !slices.Contains(k.Dimensions(), dim) {
			continue
		}
		q, err := normalise(models.Query{KPI: k.ID, Filters: filters, Compare: models.Compare1w, Contribution: &models.Contribution{Dimension: dim}})
		if err != nil {
			return nil, err
		}
		res, err := b.o.Engine.Contribution(ctx, engine.Request{Query: q, From: d.start, To: d.end})
		if err != nil {
			var sl *engine.SeriesLimitError
			if errors.As(err, &sl) {
				continue
			}
			return nil, fmt.Errorf("briefing: %s contribution by %s: %w", k.ID, dim, err)
		}
		// The first row with a value: points without the tag ("(none)",
		// e.g. orders outside every campaign) explain nothing.
		i := slices.IndexFunc(res.Rows, func(r engine.ContributionRow) bool { return r.Value != "" })
		if i < 0 || res.Rows[i].Share == nil || res.Rows[i].Contribution == nil {
			continue
		}
		top := res.Rows[i]
		// A value that explains the change alone is one whose part has the
		// change's sign; the largest such share wins.
		if *top.Share <= 0 {
			continue
		}
		if best == nil || math.Min(*top.Share, 1) > math.Min(*bestRow.Share, 1)+1e-9 {
			best, bestRow = res, top
		}
	}
	if best == nil {
		return nil, nil
	}
	row := bestRow
	value := row.Value
	if value == "" {
		value = "(none)"
	}
	r := &Reason{Kind: ReasonDimension, Dimension: best.Dimension, Value: value, Numbers: map[string]float64{
		"contribution": *row.Contribution, "share": *row.Share, "change": *best.Change}}
	if row.Current != nil {
		r.Numbers["current"] = *row.Current
	}
	if row.Previous != nil {
		r.Numbers["previous"] = *row.Previous
	}
	store := storeOf(filters)
	if best.Dimension == schema.TagStore {
		store = row.Value
	}
	link := map[string]string{}
	if best.Dimension != schema.TagStore && best.Dimension != schema.TagCampaign {
		link[best.Dimension] = row.Value
	}
	r.Link = b.drill(k.ID, store, keyOf(link), link[keyOf(link)], d.start, d.end)
	r.Text = st.tr.F("%s %s: %s of the change against a week earlier (%s, %s → %s)", st.tr.T(best.Dimension), value,
		share(st.tr, *row.Share), unitSigned(st.tr, k, *row.Contribution), unitPtr(st.tr, k, row.Previous), unitPtr(st.tr, k, row.Current))
	if row.Rate != nil && row.Mix != nil {
		r.Numbers["rate"], r.Numbers["mix"] = *row.Rate, *row.Mix
		r.Effect = "rate"
		if math.Abs(*row.Mix) > math.Abs(*row.Rate) {
			r.Effect = "mix"
		}
		r.Text += st.tr.F("; rate effect %s, mix effect %s: mostly %s", unitSigned(st.tr, k, *row.Rate), unitSigned(st.tr, k, *row.Mix), st.tr.T(r.Effect))
	}
	return r, nil
}

func keyOf(m map[string]string) string {
	for k := range m {
		return k
	}
	return ""
}

// funnelReason is the funnel step whose rate moved most against the same
// weekday a week earlier.
func (b *Builder) funnelReason(ctx context.Context, st *state, filters map[string][]string) (*Reason, error) {
	d := st.d
	read := func(from, to time.Time) (*engine.FunnelResult, error) {
		q, err := normalise(models.Query{Funnel: true, Filters: filters})
		if err != nil {
			return nil, err
		}
		res, err := b.o.Engine.Funnel(ctx, engine.Request{Query: q, From: from, To: to})
		if err != nil {
			return nil, fmt.Errorf("briefing: funnel: %w", err)
		}
		return res, nil
	}
	cur, err := read(d.start, d.end)
	if err != nil {
		return nil, err
	}
	prev, err := read(d.addDays(-7), d.addDays(-6))
	if err != nil {
		return nil, err
	}
	if len(cur.Groups) != 1 || len(prev.Groups) != 1 {
		return nil, nil
	}
	cs, ps := cur.Groups[0].Steps, prev.Groups[0].Steps
	bestI, bestRel := -1, 0.0
	for i := range cs {
		var rel float64
		if i == 0 {
			if ps[0].Value == 0 {
				continue
			}
			rel = cs[0].Value/ps[0].Value - 1
		} else {
			if cs[i].StepRate == nil || ps[i].StepRate == nil || *ps[i].StepRate == 0 {
				continue
			}
			rel = *cs[i].StepRate / *ps[i].StepRate - 1
		}
		if math.Abs(rel) > math.Abs(bestRel) {
			bestI, bestRel = i, rel
		}
	}
	if bestI < 0 || math.Abs(bestRel) < 0.05 {
		return nil, nil
	}
	s, p := cs[bestI], ps[bestI]
	r := &Reason{Kind: ReasonFunnel, Value: s.Name, Numbers: map[string]float64{"value": s.Value, "previousValue": p.Value, "change": bestRel},
		Link: b.drill("order_conversion_rate", storeOf(filters), "", "", d.start, d.end)}
	if bestI == 0 {
		r.Text = st.tr.F("funnel: %s %s against %s a week earlier (%s)", st.tr.T(s.Name), fmtNum(s.Value), fmtNum(p.Value), pct(st.tr, bestRel))
		return r, nil
	}
	r.Numbers["stepRate"], r.Numbers["previousStepRate"] = *s.StepRate, *p.StepRate
	r.Text = st.tr.F("funnel: %s / %s %s against %s a week earlier (%s)", st.tr.T(s.Name), st.tr.T(cs[bestI-1].Name), share(st.tr, *s.StepRate), share(st.tr, *p.StepRate), pct(st.tr, bestRel))
	return r, nil
}

// campaignReasons are the campaign phases that started, ended or ran on
// the day for the store ("" any).
func (b *Builder) campaignReasons(st *state, store string) []Reason {
	d := st.d
	var out []Reason
	for _, c := range st.camps {
		if store != "" && len(c.Stores) > 0 && !slices.Contains(c.Stores, store) {
			continue
		}
		for _, p := range c.Phases {
			var what string
			switch {
			case !p.Start.Before(d.start) && p.Start.Before(d.end):
				what = "started"
			case p.End.After(d.start) && !p.End.After(d.end):
				what = "ended"
			case p.Start.Before(d.start) && p.End.After(d.end):
				what = "running"
			default:
				continue
			}
			out = append(out, Reason{Kind: ReasonCampaign, Value: c.ID, Text: st.tr.F("campaign %s: %s phase %s (%s – %s)", c.Name, st.tr.T(p.Name), st.tr.T(what),
				p.Start.In(d.loc).Format("01-02 15:04"), p.End.In(d.loc).Format("01-02 15:04")),
				Numbers: map[string]float64{}, Link: b.campaignLink(c.ID, d.start, d.end)})
		}
	}
	return out
}

// silentReasons name the hours a store sent nothing (from the data quality
// section's events per hour) when the change is that store's or the
// dimension reason names it.
func (b *Builder) silentReasons(ctx context.Context, st *state, c *Change) []Reason {
	gaps, err := b.gaps(ctx, st)
	if err != nil {
		b.o.Logger.Warn("briefing: events per store and hour", "err", err)
		return nil
	}
	stores := []string{c.Store}
	for _, r := range c.Reasons {
		if r.Kind == ReasonDimension && r.Dimension == schema.TagStore {
			stores = append(stores, r.Value)
		}
	}
	var out []Reason
	for _, g := range gaps {
		if !slices.Contains(stores, g.Store) {
			continue
		}
		out = append(out, Reason{Kind: ReasonSilent, Value: g.Store, Numbers: map[string]float64{"hours": float64(g.Hours)},
			Text: st.tr.F("store %s sent no events for %s (%s – %s)", g.Store, st.tr.Hours(g.Hours),
				g.From.In(st.d.loc).Format("15:04"), g.To.In(st.d.loc).Format("15:04")), Link: g.Link})
	}
	return out
}

// topValue is the value of dim that explains most of kpiID's change against
// a week earlier (refund reasons).
func (b *Builder) topValue(ctx context.Context, st *state, kpiID, dim string, filters map[string][]string, kind string) (*Reason, error) {
	d := st.d
	q, err := normalise(models.Query{KPI: kpiID, Filters: filters, Compare: models.Compare1w, Contribution: &models.Contribution{Dimension: dim}})
	if err != nil {
		return nil, err
	}
	res, err := b.o.Engine.Contribution(ctx, engine.Request{Query: q, From: d.start, To: d.end})
	if err != nil {
		return nil, fmt.Errorf("briefing: %s by %s: %w", kpiID, dim, err)
	}
	if len(res.Rows) == 0 || res.Rows[0].Contribution == nil || res.Change == nil || *res.Change == 0 {
		return nil, nil
	}
	row := res.Rows[0]
	value := row.Value
	if value == "" {
		value = "(none)"
	}
	r := &Reason{Kind: kind, Dimension: dim, Value: value, Numbers: map[string]float64{"contribution": *row.Contribution, "change": *res.Change},
		Link: b.drill(kpiID, storeOf(filters), "", "", d.start, d.end)}
	if row.Share != nil {
		r.Numbers["share"] = *row.Share
	}
	r.Text = st.tr.F("%s by %s: %s %s against a week earlier (%s → %s)", kpiID, st.tr.T(dim), value, signed(*row.Contribution), fmtPtr(row.Previous), fmtPtr(row.Current))
	return r, nil
}

// serviceReason is the first response time of consultations against a week earlier.
func (b *Builder) serviceReason(ctx context.Context, st *state, filters map[string][]string) (*Reason, error) {
	d := st.d
	res, err := run(ctx, b.o.Engine, models.Query{KPI: "first_response_time", Filters: filters, Interval: models.IntervalDay, Compare: models.Compare1w}, d.start, d.end)
	if err != nil {
		return nil, err
	}
	cur, prev := last(current(res)), last(role(res, models.OutputSeries))
	if cur == nil || prev == nil || *prev == 0 {
		return nil, nil
	}
	ch := *cur / *prev - 1
	if math.Abs(ch) < 0.1 {
		return nil, nil
	}
	return &Reason{Kind: ReasonService, Value: "first_response_time", Numbers: map[string]float64{"value": *cur, "previous": *prev, "change": ch},
		Text: st.tr.F("first response time %s against %s a week earlier (%s)", st.tr.Seconds(*cur, false), st.tr.Seconds(*prev, false), pct(st.tr, ch)),
		Link: b.drill("first_response_time", storeOf(filters), "", "", d.start, d.end)}, nil
}

// priceReason is the price index of the category a change's dimension
// reason names, against a week earlier.
func (b *Builder) priceReason(ctx context.Context, st *state, c *Change) (*Reason, error) {
	cat := c.Category
	for _, r := range c.Reasons {
		if cat == "" && r.Kind == ReasonDimension && r.Dimension == schema.TagCategory {
			cat = r.Value
		}
	}
	if cat == "" || cat == "(none)" {
		return nil, nil
	}
	d := st.d
	filters := map[string][]string{schema.TagCategory: {cat}}
	if s := c.Store; s != "" {
		filters[schema.TagStore] = []string{s}
	} else if st.scope.store != "" {
		filters[schema.TagStore] = []string{st.scope.store}
	}
	res, err := run(ctx, b.o.Engine, models.Query{KPI: "price_index", Filters: filters, Interval: models.IntervalDay, Compare: models.Compare1w}, d.start, d.end)
	if err != nil {
		return nil, err
	}
	cur, prev := last(current(res)), last(role(res, models.OutputSeries))
	if cur == nil || prev == nil || *prev == 0 || math.Abs(*cur / *prev - 1) < 0.05 {
		return nil, nil
	}
	ch := *cur / *prev - 1
	return &Reason{Kind: ReasonPrice, Dimension: schema.TagCategory, Value: cat, Numbers: map[string]float64{"value": *cur, "previous": *prev, "change": ch},
		Text: st.tr.F("price index of %s %s against %s a week earlier (%s)", cat, fmtNum(*cur), fmtNum(*prev), pct(st.tr, ch)),
		Link: b.drill("price_index", storeOf(filters), schema.TagCategory, cat, d.start, d.end)}, nil
}

func sign(f float64) float64 {
	if f < 0 {
		return -1
	}
	return 1
}

func share(tr locale.Locale, f float64) string { return tr.Percent(f, 0, false) }

func pct(tr locale.Locale, f float64) string { return tr.Percent(f, 0, true) }

func signed(f float64) string {
	if f >= 0 {
		return "+" + fmtNum(f)
	}
	return fmtNum(f)
}

func fmtPtr(f *float64) string {
	if f == nil {
		return "–"
	}
	return fmtNum(*f)
}

// unitNum formats a value in the KPI's unit: percentages as percent.
func unitNum(tr locale.Locale, k kpi.KPI, v float64) string {
	switch k.Unit {
	case kpi.UnitPercent:
		return tr.Percent(v, 1, false)
	case kpi.UnitSeconds:
		return tr.Seconds(v, false)
	}
	return fmtNum(v)
}

// unitSigned formats a change in the KPI's unit: percentages in points.
func unitSigned(tr locale.Locale, k kpi.KPI, v float64) string {
	if k.Unit == kpi.UnitPercent {
		return tr.Points(v)
	}
	if v >= 0 {
		return "+" + unitNum(tr, k, v)
	}
	return unitNum(tr, k, v)
}

func unitPtr(tr locale.Locale, k kpi.KPI, v *float64) string {
	if v == nil {
		return "–"
	}
	return unitNum(tr, k, *v)
}
