package engine

import (
	"context"
	"math"
	"slices"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"

	"github.com/storepulse/storepulse/datasource/pkg/analysis/holtwinters"
	"github.com/storepulse/storepulse/datasource/pkg/bucket"
	"github.com/storepulse/storepulse/datasource/pkg/models"
	"github.com/storepulse/storepulse/internal/kpi"
	"github.com/storepulse/storepulse/internal/localday"
)

// Roles of the forecast's series besides RoleLower, RoleUpper and RoleTarget.
const (
	RoleActual   = "actual"   // the KPI so far in the period, cumulated
	RoleForecast = "forecast" // the projected cumulative path to the period's end
)

// Forecast settings (docs/query.md#forecast).
const (
	// forecastDayHistory and forecastMonthHistory are the days of history
	// before the period a model is fitted on: four weeks of hours (a daily
	// season seen 28 times), twelve weeks of days (a weekly season seen 12
	// times, and room for backtests a month long).
	forecastDayHistory   = 28
	forecastMonthHistory = 84
	// forecastLowQ and forecastHighQ bound the 80 % band.
	forecastLowQ  = 0.1
	forecastHighQ = 0.9
	// forecastZ is the standard normal's 90th percentile: ±z·σ holds 80 %.
	forecastZ = 1.2816
	// forecastMinBacktests is the fewest past forecasts a band is read from.
	forecastMinBacktests = 5
)

// ForecastSeries is one output series on its own time axis: actual up to
// At, forecast, lower and upper from At to the period's end, target at the
// period's start and end. Every value is stamped at the instant it refers to
// (the cumulative value up to that time), so the lines join at At.
type ForecastSeries struct {
	Role   string
	Groups []string
	Times  []time.Time
	Values []*float64
}

// ForecastResult is a forecast query's answer.
type ForecastResult struct {
	KPI     kpi.KPI
	GroupBy []string
	Horizon string
	// Step is the model's bucket: 1h for the day, a day for the month.
	Step                   bucket.Step
	PeriodStart, PeriodEnd time.Time
	At                     time.Time // min(to, now)
	// Series per series key: actual, forecast, lower, upper and target
	// (only where a target is stored).
	Series []ForecastSeries
}

// forecastPlan is the geometry of one forecast: the period, the history
// buckets (ending at the start of the current bucket), the current bucket's
// partial part [cur, at) and the buckets left to the period's end.
type forecastPlan struct {
	step    bucket.Step
	season  int
	at, cur time.Time
	p0, p1  time.Time
	hist    bucket.Buckets
	rest    bucket.Buckets
	elapsed int // whole buckets of the period in hist (its last ones)
}

func planForecast(horizon string, at time.Time, loc *time.Location) (*forecastPlan, error) {
	p := &forecastPlan{at: at}
	last := at.Add(-time.Nanosecond) // the period holding the range's last instant
	histDays := forecastDayHistory
	switch horizon {
	case models.HorizonDay:
		p.step, p.season = bucket.Step{Fixed: time.Hour}, 24
		p.p0 = bucket.Midnight(last, loc)
		p.p1 = localday.Next(p.p0, loc)
	case models.HorizonMonth:
		p.step, p.season = bucket.Step{Calendar: models.IntervalDay}, 7
		p.p0 = bucket.Floor(last, bucket.Step{Calendar: models.IntervalMonth}, loc)
		p.p1 = localday.AddMonths(p.p0, 1, loc)
		histDays = forecastMonthHistory
	default:
		return nil, pluginErrorf("forecast horizon must be day or month, got %q", horizon)
	}
	p.cur = bucket.Floor(at, p.step, loc)
	var err error
	if p.hist, err = bucket.Make(localday.AddDays(p.p0, -histDays, loc), p.cur, p.step, loc, p.cur); err != nil {
		return nil, backend.PluginError(err)
	}
	for _, s := range p.hist.Starts {
		if !s.Before(p.p0) {
			p.elapsed++
		}
	}
	if p.cur.Before(p.p1) {
		if p.rest, err = bucket.Make(p.cur, p.p1, p.step, loc, p.p1); err != nil {
			return nil, backend.PluginError(err)
		}
	}
	return p, nil
}

// Forecast projects a sum or ratio-of-sums KPI to the end of the local day
// or month holding min(to, now), per series: Holt-Winters on the series' own
// hourly (day) or daily (month) history, ratios as the forecast numerator
// over the forecast denominator. The band is read from the model's own
// errors when it forecast the same remaining buckets from the same point of
// past days.
func (e *Engine) Forecast(ctx context.Context, req Request) (*ForecastResult, error) {
	q := req.Query
	k, ok := e.Catalog.Get(q.KPI)
	if !ok {
		if q.KPI == "" {
			return nil, pluginErrorf("no KPI chosen")
		}
		return nil, pluginErrorf("unknown KPI %q (see resource /kpis)", q.KPI)
	}
	switch {
	case k.Kind == kpi.KindTransform:
		return nil, pluginErrorf("KPI %s is %s", k.ID, k.Note)
	case len(k.DistinctKinds()) > 0:
		return nil, pluginErrorf("forecast of KPI %s is not computed: distinct counts do not add up over hours or days (the same user comes back); forecast works on sums and ratios of sums", k.ID)
	case k.Kind != kpi.KindSum && k.Kind != kpi.KindRatio:
		return nil, pluginErrorf("forecast of KPI %s is not computed: a %s value is not a sum or a ratio of sums", k.ID, k.Kind)
	}
	if err := checkDims(k, q.Filters, q.GroupBy); err != nil {
		return nil, err
	}
	now := e.now()
	at := req.To
	if now.Before(at) {
		at = now
	}
	p, err := planForecast(q.Forecast.Horizon, at, e.Location)
	if err != nil {
		return nil, err
	}
	ev := &evaluation{e: e, k: k, q: q, step: p.step, now: at}
	fh, err := ev.fetch(ctx, p.hist)
	if err != nil {
		return nil, err
	}
	var fp *fetched
	if at.After(p.cur) {
		if fp, err = ev.fetch(ctx, bucket.Buckets{Starts: []time.Time{p.cur}, End: at}); err != nil {
			return nil, err
		}
	}
	keys := fh.keys(len(q.GroupBy), fp)
	tgt, terr := planTarget(k, q, bucket.Step{Calendar: q.Forecast.Horizon})
	if terr != nil {
		tgt = nil // a target is optional here: the query's filters rule it out
	}
	perKey := 4
	if tgt != nil {
		perKey++
	}
	if n := len(keys) * perKey; e.SeriesLimit > 0 && n > e.SeriesLimit {
		return nil, backend.PluginError(&SeriesLimitError{Got: n, Limit: e.SeriesLimit})
	}
	var targets map[string]map[int64]float64
	if tgt != nil {
		if targets, err = ev.targets(ctx, tgt, bucket.Buckets{Starts: []time.Time{p.p0}, End: p.p1}); err != nil {
			return nil, err
		}
	}
	res := &ForecastResult{KPI: k, GroupBy: q.GroupBy, Horizon: q.Forecast.Horizon, Step: p.step,
		PeriodStart: p.p0, PeriodEnd: p.p1, At: at}
	for _, key := range keys {
		if err := ctx.Err(); err != nil {
			return nil, backend.DownstreamError(err)
		}
		groups := fh.groupsOf(key, fp)
		res.Series = append(res.Series, ev.forecastSeries(p, fh, fp, key, groups)...)
		if tgt == nil {
			continue
		}
		store := tgt.store
		if tgt.byStore {
			store = groups[0]
		}
		if v, ok := targets[store][p.p0.Unix()]; ok {
			res.Series = append(res.Series, ForecastSeries{Role: RoleTarget, Groups: groups,
				Times: []time.Time{p.p0, p.p1}, Values: []*float64{ptr(v), ptr(v)}})
		}
	}
	return res, nil
}

// forecastOperand is one operand's history, partial bucket and model.
type forecastOperand struct {
	y       []float64
	partial float64
	fit     *holtwinters.Model
}

// value is the KPI of cumulated operands: the sum, or num/den (null for a
// zero denominator).
func (ev *evaluation) value(ops []float64) *float64 {
	if ev.k.Kind != kpi.KindRatio {
		return ptr(ops[0])
	}
	r, ok := ev.k.Ratio(ops[0], ops[1])
	if !ok {
		return nil
	}
	return ptr(r)
}

// forecastSeries computes one series' actual, forecast, lower and upper.
func (ev *evaluation) forecastSeries(p *forecastPlan, fh, fp *fetched, key string, groups []string) []ForecastSeries {
	n := p.hist.Len()
	ops := make([]forecastOperand, 0, 2)
	first := n // the series starts at its first data: the buckets before it are not a history of zeros
	for _, o := range ev.operands() {
		op := forecastOperand{y: make([]float64, n)}
		for i := range n {
			op.y[i] = fh.operand(o, key, i)
			if op.y[i] != 0 {
				first = min(first, i)
			}
		}
		if fp != nil {
			op.partial = fp.operand(o, key, 0)
		}
		ops = append(ops, op)
	}
	// Never trim into the period itself: its buckets are the actual.
	first = min(first, n-p.elapsed)
	modelled := true
	for j := range ops {
		ops[j].y = ops[j].y[first:]
		var ok bool
		if ops[j].fit, ok = holtwinters.Fit(ops[j].y, p.season); !ok {
			modelled = false
		}
	}
	n -= first
	cum := make([]float64, len(ops))

	actual := ForecastSeries{Role: RoleActual, Groups: groups}
	actual.Times = append(actual.Times, p.p0)
	actual.Values = append(actual.Values, ev.value(cum))
	for i := n - p.elapsed; i < n; i++ {
		for j := range ops {
			cum[j] += ops[j].y[i]
		}
		actual.Times = append(actual.Times, p.hist.EndOf(first+i))
		actual.Values = append(actual.Values, ev.value(cum))
	}
	if fp != nil {
		for j := range ops {
			cum[j] += ops[j].partial
		}
		actual.Times = append(actual.Times, p.at)
		actual.Values = append(actual.Values, ev.value(cum))
	}
	soFar := ev.value(cum)

	H := p.rest.Len()
	fc := ForecastSeries{Role: RoleForecast, Groups: groups, Times: make([]time.Time, H+1), Values: make([]*float64, H+1)}
	lo := ForecastSeries{Role: RoleLower, Groups: groups, Times: fc.Times, Values: make([]*float64, H+1)}
	hi := ForecastSeries{Role: RoleUpper, Groups: groups, Times: fc.Times, Values: make([]*float64, H+1)}
	fc.Times[0], fc.Values[0], lo.Values[0], hi.Values[0] = p.at, soFar, soFar, soFar
	for j := range H {
		fc.Times[j+1] = p.rest.EndOf(j)
	}
	if !modelled || H == 0 {
		return []ForecastSeries{actual, fc, lo, hi}
	}
	paths := make([][]float64, len(ops)) // cumulative projected path per operand
	for j, op := range ops {
		f := op.fit.Forecast(n, H)
		if fp != nil { // the current bucket already holds part of its forecast
			f[0] -= op.partial
			if op.fit.NonNeg && f[0] < 0 {
				f[0] = 0
			}
		}
		paths[j] = make([]float64, H)
		acc := cum[j]
		for h, v := range f {
			acc += v
			paths[j][h] = acc
		}
	}
	point := make([]float64, len(ops))
	for h := range H {
		for j := range ops {
			point[j] = paths[j][h]
		}
		fc.Values[h+1] = ev.value(point)
	}
	low, high := ev.forecastBand(p, ops, H)
	nonNeg := true
	for _, op := range ops {
		nonNeg = nonNeg && op.fit.NonNeg
	}
	floor := math.Inf(-1)
	switch {
	case !nonNeg:
	case ev.k.Kind == kpi.KindSum && soFar != nil:
		floor = *soFar // a cumulative sum of non-negative values cannot fall below what is done
	case ev.k.Kind == kpi.KindRatio && !ev.k.Complement:
		floor = 0 // a ratio of non-negative sums
	}
	// For a sum, the model's own spread as well: one-step errors of the fit,
	// taken as independent, grow as √h over h buckets (z = 1.2816 for 80 %).
	// The backtests alone can be too few or too alike (a short history).
	sigma := math.NaN()
	if ev.k.Kind == kpi.KindSum {
		sigma = ops[0].fit.RMSE()
	}
	for h := range H {
		if fc.Values[h+1] == nil {
			continue
		}
		v := *fc.Values[h+1]
		l, u := math.Inf(1), math.Inf(-1)
		if low[h] != nil {
			l, u = v+*low[h], v+*high[h]
		}
		if !math.IsNaN(sigma) {
			w := forecastZ * sigma * math.Sqrt(float64(h+1))
			l, u = math.Min(l, v-w), math.Max(u, v+w)
		}
		if math.IsInf(l, 1) {
			continue // no band: neither backtests nor a model spread
		}
		// The past errors may lean to one side: the band still holds the
		// forecast itself.
		l, u = math.Min(l, v), math.Max(u, v)
		l = math.Max(l, floor)
		lo.Values[h+1], hi.Values[h+1] = ptr(l), ptr(math.Max(u, l))
	}
	return []ForecastSeries{actual, fc, lo, hi}
}

// forecastBand backtests the fitted models: from each past origin at the
// same point of the season (the same hour of past days for the day; every
// past day for the month), with the same number of buckets already elapsed
// and to go, it compares the projected path with what happened. The band's
// offsets at step h are the 10th and 90th percentiles of those errors (nil
// with fewer than 5 backtests).
func (ev *evaluation) forecastBand(p *forecastPlan, ops []forecastOperand, H int) (low, high []*float64) {
	n := len(ops[0].y)
	stride := 1
	if p.step.Fixed > 0 {
		stride = p.season
	}
	errs := make([][]float64, H)
	base, pred, act := make([]float64, len(ops)), make([]float64, len(ops)), make([]float64, len(ops))
	for o := n - stride; o >= 2*p.season && o-p.elapsed >= 0; o -= stride {
		if o+H > n {
			continue
		}
		fs := make([][]float64, len(ops))
		for j, op := range ops {
			fs[j] = op.fit.Forecast(o, H)
			base[j] = 0
			for _, v := range op.y[o-p.elapsed : o] {
				base[j] += v
			}
			pred[j], act[j] = base[j], base[j]
		}
		for h := range H {
			for j, op := range ops {
				pred[j] += fs[j][h]
				act[j] += op.y[o+h]
			}
			pv, av := ev.value(pred), ev.value(act)
			if pv != nil && av != nil {
				errs[h] = append(errs[h], *av-*pv)
			}
		}
	}
	low, high = make([]*float64, H), make([]*float64, H)
	for h, es := range errs {
		if len(es) < forecastMinBacktests {
			continue
		}
		slices.Sort(es)
		low[h], high[h] = ptr(quantile(es, forecastLowQ)), ptr(quantile(es, forecastHighQ))
	}
	return low, high
}

// quantile of sorted xs, linearly interpolated between order statistics.
func quantile(xs []float64, q float64) float64 {
	if len(xs) == 1 {
		return xs[0]
	}
	pos := q * float64(len(xs)-1)
	i := int(pos)
	if i+1 >= len(xs) {
		return xs[len(xs)-1]
	}
	return xs[i] + (pos-float64(i))*(xs[i+1]-xs[i])
}
