package briefing

import (
	"context"
	"fmt"
	"time"

	"github.com/storepulse/storepulse/datasource/pkg/engine"
	"github.com/storepulse/storepulse/datasource/pkg/models"
	"github.com/storepulse/storepulse/internal/calendar"
	"github.com/storepulse/storepulse/internal/kpi"
	"github.com/storepulse/storepulse/internal/localday"
)

// glance is section 1: the headline KPIs of the day.
func (b *Builder) glance(ctx context.Context, st *state) ([]Headline, error) {
	var out []Headline
	for _, k := range b.kpis {
		h, err := b.headline(ctx, st, k)
		if err != nil {
			return nil, err
		}
		out = append(out, h)
		st.values[k.ID] = h.Value
		switch k.ID {
		case "aov":
			st.aov = h.Value
		case "arpu":
			st.arpu = h.Value
		}
	}
	e := b.o.Engine
	d := st.d
	for _, need := range []struct {
		id  string
		dst **float64
	}{{"aov", &st.aov}, {"arpu", &st.arpu}} {
		if *need.dst != nil {
			continue
		}
		res, err := run(ctx, e, models.Query{KPI: need.id, Filters: st.scope.filters(), Interval: models.IntervalDay}, d.start, d.end)
		if err != nil {
			return nil, err
		}
		*need.dst = last(current(res))
	}
	return out, nil
}

// headline computes one KPI of the glance.
func (b *Builder) headline(ctx context.Context, st *state, k kpi.KPI) (Headline, error) {
	e, d, loc := b.o.Engine, st.d, st.d.loc
	h := Headline{KPI: k.ID, Name: localName(st.tr, k), Unit: string(k.Unit), Direction: string(k.Direction),
		Link: b.drill(k.ID, st.scope.store, "", "", d.addDays(-SparkDays+1), d.end)}
	weekStart := localday.WeekStart(d.start, loc)
	monthStart := localday.MonthStart(d.start, loc)
	from := d.addDays(-SparkDays + 1)
	if monthStart.Before(from) {
		from = monthStart
	}
	daily, err := run(ctx, e, models.Query{KPI: k.ID, Filters: st.scope.filters(), Interval: models.IntervalDay, Target: true}, from, d.end)
	if err != nil {
		return h, err
	}
	vals, tgts := current(daily), role(daily, engine.RoleTarget)
	n := len(daily.Times)
	if n == 0 || !daily.Times[n-1].Equal(d.start) {
		return h, fmt.Errorf("briefing: %s: no daily bucket for %s", k.ID, d.date)
	}
	h.Value = vals[n-1]
	if n > 7 {
		h.LastWeek = vals[n-8]
	}
	h.Change, h.ChangeTone = change(h.Value, h.LastWeek, k)
	if tgts != nil {
		h.Target = tgts[n-1]
	}
	h.Attainment, h.TargetTone = attainment(h.Value, h.Target, k)
	for i := max(0, n-SparkDays); i < n; i++ {
		h.Spark = append(h.Spark, vals[i])
	}
	sumTargets := func(from time.Time) *float64 {
		if k.Kind != kpi.KindSum || tgts == nil {
			return nil
		}
		var s float64
		for i, t := range daily.Times {
			if t.Before(from) {
				continue
			}
			if tgts[i] == nil {
				return nil // a day without a target: no target to date
			}
			s += *tgts[i]
		}
		return &s
	}
	if h.WeekToDate, err = b.period(ctx, st, k, "week to date", models.IntervalWeek, weekStart, sumTargets(weekStart)); err != nil {
		return h, err
	}
	if h.MonthToDate, err = b.period(ctx, st, k, "month to date", models.IntervalMonth, monthStart, sumTargets(monthStart)); err != nil {
		return h, err
	}
	if k.Kind == kpi.KindSum || (k.Kind == kpi.KindRatio && !k.Num.IsDistinct() && !k.Den.IsDistinct()) {
		if h.Forecast, err = b.monthForecast(ctx, st, k, monthStart); err != nil {
			return h, err
		}
	}
	return h, nil
}

// period is the KPI over [from, end of day) in one bucket of the interval,
// against the stored target of that period, else the daily targets' sum.
func (b *Builder) period(ctx context.Context, st *state, k kpi.KPI, label, interval string, from time.Time, daysTarget *float64) (Period, error) {
	d := st.d
	p := Period{Label: st.tr.T(label), From: from.In(d.loc).Format(time.DateOnly), To: d.date}
	q, err := normalise(models.Query{KPI: k.ID, Filters: st.scope.filters()})
	if err != nil {
		return p, err
	}
	tot, err := b.o.Engine.Total(ctx, engine.Request{Query: q, From: from, To: d.end})
	if err != nil {
		return p, fmt.Errorf("briefing: %s %s: %w", k.ID, label, err)
	}
	if len(tot.Series) > 0 {
		p.Value = tot.Series[0].Values[0]
	}
	res, err := run(ctx, b.o.Engine, models.Query{KPI: k.ID, Filters: st.scope.filters(), Interval: interval, Target: true}, from, d.end)
	if err != nil {
		return p, err
	}
	// The daily targets of the days so far; else the stored target of the
	// whole week or month, prorated by the days elapsed.
	p.Target = daysTarget
	if t := last(role(res, engine.RoleTarget)); p.Target == nil && t != nil && k.Kind == kpi.KindSum {
		elapsed, total := daysBetween(from, d.end, d.loc), daysBetween(from, nextPeriod(from, interval, d.loc), d.loc)
		p.Target = ptr(*t * float64(elapsed) / float64(total))
		p.Label += st.tr.T(" (target prorated)")
	}
	p.Attainment, p.Tone = attainment(p.Value, p.Target, k)
	return p, nil
}

// monthForecast is the engine's end-of-month forecast made at the end of
// the day, against the month's stored target or the sum of its daily targets.
func (b *Builder) monthForecast(ctx context.Context, st *state, k kpi.KPI, monthStart time.Time) (*MonthForecast, error) {
	d := st.d
	q, err := normalise(models.Query{KPI: k.ID, Filters: st.scope.filters(), Forecast: &models.Forecast{Horizon: models.HorizonMonth}})
	if err != nil {
		return nil, err
	}
	res, err := b.o.Engine.Forecast(ctx, engine.Request{Query: q, From: monthStart, To: d.end})
	if err != nil {
		return nil, fmt.Errorf("briefing: %s month forecast: %w", k.ID, err)
	}
	f := &MonthForecast{}
	for _, s := range res.Series {
		v := lastOf(s.Values)
		switch s.Role {
		case engine.RoleForecast:
			f.Value = v
		case engine.RoleLower:
			f.Lower = v
		case engine.RoleUpper:
			f.Upper = v
		case engine.RoleTarget:
			f.Target, f.TargetSource = v, "month"
		case engine.RoleActual:
			if f.Value == nil && !res.At.Before(res.PeriodEnd) {
				f.Value = v // the month is over: the forecast is the actual
			}
		}
	}
	if f.Target == nil && k.Kind == kpi.KindSum {
		store := calendar.AllStores
		if st.scope.store != "" {
			store = st.scope.store
		}
		monthEnd := localday.AddMonths(monthStart, 1, d.loc)
		rows, err := b.o.Engine.Source.Targets(ctx, engine.TargetSpec{Start: monthStart, Stop: monthEnd, KPI: k.ID,
			Period: calendar.PeriodDay, Stores: []string{store}})
		if err != nil {
			return nil, fmt.Errorf("briefing: %s targets: %w", k.ID, err)
		}
		days := map[int64]float64{}
		for _, r := range rows {
			days[r.Time.Unix()] = r.Value
		}
		n := 0
		for t := monthStart; t.Before(monthEnd); t = localday.Next(t, d.loc) {
			n++
		}
		if len(days) == n && n > 0 {
			var s float64
			for _, v := range days {
				s += v
			}
			f.Target, f.TargetSource = &s, "days"
		}
	}
	f.Attainment, f.Tone = attainment(f.Value, f.Target, k)
	return f, nil
}

// current is the first series of role current (the query is not grouped).
func current(res *engine.Result) []*float64 { return role(res, engine.RoleCurrent) }

func role(res *engine.Result, r string) []*float64 {
	for _, s := range res.Series {
		if s.Role == r {
			return s.Values
		}
	}
	return nil
}

func last(vs []*float64) *float64 { return lastOf(vs) }

func lastOf(vs []*float64) *float64 {
	if len(vs) == 0 {
		return nil
	}
	return vs[len(vs)-1]
}

// better is +1 when higher is better, −1 when lower is.
func better(k kpi.KPI) float64 {
	if k.Direction == kpi.LowerIsBetter {
		return -1
	}
	return 1
}

// change is (v − p) / |p| and its tone by the KPI's direction.
func change(v, p *float64, k kpi.KPI) (*float64, string) {
	if v == nil || p == nil || *p == 0 {
		return nil, ToneNeutral
	}
	c := (*v - *p) / abs(*p)
	switch s := c * better(k); {
	case s > 0.005:
		return &c, ToneGood
	case s < -0.005:
		return &c, ToneBad
	}
	return &c, ToneNeutral
}

// attainment is v / t and its tone: on target or better is good.
func attainment(v, t *float64, k kpi.KPI) (*float64, string) {
	if v == nil || t == nil || *t == 0 {
		return nil, ToneNeutral
	}
	a := *v / *t
	if (a-1)*better(k) >= 0 {
		return &a, ToneGood
	}
	return &a, ToneBad
}

func abs(f float64) float64 {
	if f < 0 {
		return -f
	}
	return f
}

func nextPeriod(t time.Time, interval string, loc *time.Location) time.Time {
	if interval == models.IntervalWeek {
		return localday.AddDays(t, 7, loc)
	}
	return localday.AddMonths(t, 1, loc)
}
