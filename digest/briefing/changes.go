package briefing

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/storepulse/storepulse/datasource/pkg/engine"
	"github.com/storepulse/storepulse/datasource/pkg/models"
	"github.com/storepulse/storepulse/internal/calendar"
	"github.com/storepulse/storepulse/internal/kpi"
	"github.com/storepulse/storepulse/internal/schema"
)

type calendarCampaign = calendar.Campaign

// bandWeeks is the history of a day's band: the same weekday 1..6 weeks
// earlier (the engine's default anomaly weeks).
const bandWeeks = models.AnomalyDefaultWeeks

// noiseDays are the days whose history fits a series' noise level: a whole
// week, every weekday once (the engine fits it to at least a day of cells).
const noiseDays = 7

// minHistory is the fewest history values a band is computed from (the
// engine's anomalyMinHistory).
const minHistory = 3

// dayBand is one series' value of the day in its band.
type dayBand struct {
	store            string // "" for the scope's total
	value            *float64
	expected, lo, hi float64
	score            float64
	ok, flagged      bool
	den              float64 // ratios: the day's denominator
}

// changes is section 2: the KPIs beyond their normal range, ranked by impact.
func (b *Builder) changes(ctx context.Context, st *state) ([]Change, error) {
	var out []Change
	for _, k := range b.watch {
		cs, err := b.kpiChanges(ctx, st, k)
		if err != nil {
			return nil, err
		}
		out = append(out, cs...)
	}
	slices.SortStableFunc(out, func(a, b Change) int {
		switch {
		case a.Impact.Currency != nil && b.Impact.Currency == nil:
			return -1
		case a.Impact.Currency == nil && b.Impact.Currency != nil:
			return 1
		case a.Impact.Currency != nil:
			if c := cmp.Compare(math.Abs(*b.Impact.Currency), math.Abs(*a.Impact.Currency)); c != 0 {
				return c
			}
		}
		return cmp.Compare(math.Abs(b.Score), math.Abs(a.Score))
	})
	if len(out) > b.o.MaxChanges {
		out = out[:b.o.MaxChanges]
	}
	for i := range out {
		out[i].Rank = i + 1
		if err := b.explain(ctx, st, &out[i]); err != nil {
			return nil, err
		}
		out[i].Actions = b.o.Playbook.Match(&out[i])
	}
	return out, nil
}

// kpiChanges checks one KPI: the scope's total, and when the total is within
// its range, each store.
func (b *Builder) kpiChanges(ctx context.Context, st *state, k kpi.KPI) ([]Change, error) {
	total, err := b.bands(ctx, st, k, false)
	if err != nil {
		return nil, err
	}
	totalHours, _, err := b.hours(ctx, st, k, false)
	if err != nil {
		return nil, err
	}
	if c, ok, err := b.change(ctx, st, k, total[0], totalHours[""]); err != nil || ok {
		if ok {
			return []Change{c}, err
		}
		return nil, err
	}
	if st.scope.store != "" || !slices.Contains(k.Dimensions(), schema.TagStore) {
		return nil, nil
	}
	stores, err := b.bands(ctx, st, k, true)
	if err != nil {
		return nil, err
	}
	storeHours, _, err := b.hours(ctx, st, k, true)
	if err != nil {
		return nil, err
	}
	var out []Change
	for _, band := range stores {
		c, ok, err := b.change(ctx, st, k, band, storeHours[band.store])
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, c)
		}
	}
	return out, nil
}

// change builds a Change when the band or the hours flag the series.
func (b *Builder) change(ctx context.Context, st *state, k kpi.KPI, band dayBand, hours []HourRun) (Change, bool, error) {
	if band.ok && band.value != nil && (math.Abs(band.score) > 2 || len(hours) > 0) {
		b.o.Logger.Debug("band", "kpi", k.ID, "store", band.store, "value", *band.value, "expected", band.expected, "score", band.score, "flagged", band.flagged, "hours", len(hours))
	}
	if !band.ok || band.value == nil || (!band.flagged && len(hours) == 0) {
		return Change{}, false, nil
	}
	store := band.store
	if store == "" {
		store = st.scope.store
	}
	var fc *DayForecast
	if band.flagged {
		var err error
		if fc, err = b.dayForecast(ctx, st, k, store, *band.value); err != nil {
			return Change{}, false, err
		}
		// The day's band and the forecast must agree: a day beyond its band
		// that the forecast expected (within k−1 of its spreads) is not
		// reported, nor one without a forecast (distinct counts), unless
		// the hourly band flagged hours of it.
		if fc != nil && fc.Z != nil {
			b.o.Logger.Debug("forecast", "kpi", k.ID, "store", band.store, "f", fc.Value, "z", *fc.Z)
		}
		corroborated := fc != nil && fc.Z != nil && math.Abs(*fc.Z) >= b.o.K-1 && *fc.Z*(*band.value-band.expected) > 0
		if !corroborated && len(hours) == 0 {
			return Change{}, false, nil
		}
	}
	d := st.d
	c := Change{KPI: k.ID, Name: localName(st.tr, k), Unit: string(k.Unit), Store: band.store, Value: *band.value,
		Expected: band.expected, Lower: band.lo, Upper: band.hi, Score: band.score, DayFlag: band.flagged, Hours: hours}
	c.Link = b.drill(k.ID, store, "", "", d.start, d.end)
	c.Direction = "up"
	dev := *band.value - band.expected
	if !band.flagged && len(hours) > 0 {
		dev = hours[0].Value - hours[0].Expected
	}
	if dev < 0 {
		c.Direction = "down"
	}
	c.Tone = ToneGood
	if dev*better(k) < 0 {
		c.Tone = ToneBad
	}
	if err := b.impact(ctx, st, k, band, &c); err != nil {
		return c, false, err
	}
	c.Forecast = fc
	return c, true, nil
}

// bands computes the day's band of the scope's total (grouped false) or of
// each store: the history is the same weekday of the 6 weeks before, the
// band the engine's (HistoryCenter, NoiseLevel, Spread, Score, BandLimits)
// at the day's grain.
func (b *Builder) bands(ctx context.Context, st *state, k kpi.KPI, byStore bool) ([]dayBand, error) {
	d := st.d
	from := d.addDays(-(bandWeeks*7 + noiseDays - 1))
	q := models.Query{KPI: k.ID, Filters: st.scope.filters(), Interval: models.IntervalDay}
	if byStore {
		q.GroupBy = []string{schema.TagStore}
	}
	res, err := run(ctx, b.o.Engine, q, from, d.end)
	if err != nil {
		return nil, err
	}
	ratio := k.Kind == kpi.KindRatio
	dens := map[string][]*float64{}
	if ratio {
		dq := q
		dq.KPI = k.ID + denSuffix
		dr, err := run(ctx, b.parts, dq, from, d.end)
		if err != nil {
			return nil, err
		}
		for _, s := range dr.Series {
			if s.Role == engine.RoleCurrent {
				dens[groupOf(s)] = s.Values
			}
		}
	}
	n := len(res.Times)
	if n == 0 || !res.Times[n-1].Equal(d.start) {
		return nil, fmt.Errorf("briefing: %s: no daily bucket for %s", k.ID, d.date)
	}
	var out []dayBand
	for _, s := range res.Series {
		if s.Role != engine.RoleCurrent {
			continue
		}
		store := groupOf(s)
		if byStore && store == "" {
			continue // points without a store tag
		}
		scopeStore := store
		if !byStore {
			scopeStore = st.scope.store
		}
		inCamp := make([]bool, n)
		for i, t := range res.Times {
			inCamp[i] = inCampaign(st.camps, scopeStore, t, nextDay(res.Times, i, d))
		}
		out = append(out, b.band(k, store, s.Values, dens[store], inCamp))
	}
	if !byStore && len(out) == 0 {
		out = append(out, dayBand{})
	}
	return out, nil
}

func nextDay(times []time.Time, i int, d day) time.Time {
	if i+1 < len(times) {
		return times[i+1]
	}
	return d.end
}

func groupOf(s engine.Series) string {
	if len(s.Groups) == 0 {
		return ""
	}
	return s.Groups[0]
}

// history is day i's history: the same weekday 1..bandWeeks weeks before,
// outside campaign phases unless fewer than 3 values would remain.
func history(vals, dens []*float64, inCamp []bool, i int) (values []float64, resid []engine.Residual) {
	var all, clean []engine.Residual
	for w := 1; w <= bandWeeks; w++ {
		j := i - 7*w
		if j < 0 {
			break
		}
		if vals[j] == nil {
			continue
		}
		r := engine.Residual{Value: *vals[j], Clean: !inCamp[j]}
		if dens != nil && dens[j] != nil {
			r.Den = *dens[j]
		}
		all = append(all, r)
		if r.Clean {
			clean = append(clean, r)
		}
	}
	if len(clean) >= minHistory {
		all = clean
	} else {
		for i := range all {
			all[i].Clean = false
		}
	}
	for _, r := range all {
		values = append(values, r.Value)
	}
	return values, all
}

// band computes one series' band of its last day.
func (b *Builder) band(k kpi.KPI, store string, vals, dens []*float64, inCamp []bool) dayBand {
	n := len(vals)
	ratio := k.Kind == kpi.KindRatio
	counts := k.Unit == kpi.UnitCount && (k.Kind == kpi.KindSum || k.Kind == kpi.KindDistinct)
	sq := !ratio
	for _, t := range k.Num.Terms {
		if t.Sign < 0 {
			sq = false
		}
	}
	var rs []engine.Residual
	for i := n - noiseDays; i < n; i++ {
		if i < 0 {
			continue
		}
		values, resid := history(vals, dens, inCamp, i)
		m, _, _, ok := engine.HistoryCenter(values)
		if !ok {
			continue
		}
		for _, r := range resid {
			r.Expected = m
			rs = append(rs, r)
		}
	}
	level := engine.NoiseLevel(rs, ratio, counts)
	out := dayBand{store: store, value: vals[n-1]}
	values, _ := history(vals, dens, inCamp, n-1)
	m, mad, u, ok := engine.HistoryCenter(values)
	if !ok {
		return out
	}
	if counts {
		u = math.Max(u, 1)
	}
	den := 0.0
	if ratio && dens != nil && dens[n-1] != nil {
		den = *dens[n-1]
	}
	out.den = den
	s := engine.Spread(m, mad, u, level, den, ratio)
	out.expected = m
	out.lo, out.hi = engine.BandLimits(m, u, s, b.o.K, sq)
	out.ok = true
	if out.value == nil || s == 0 {
		return out
	}
	out.score = engine.Score(*out.value, m, u, s, sq)
	// The engine's flag rule on a run of two equal days: flagged exactly
	// when the day is beyond ±k, with its campaign rule (a move in the
	// better direction during a phase is planned; a worse one counts only
	// past a factor of 3).
	v, e, vol, z := out.value, ptr(m), ptr(u), ptr(out.score)
	day := engine.DayOrdinary
	if inCamp[n-1] {
		day = engine.DayPlanned
	}
	// The second bucket of the run: flagged when it and the one before it
	// (the same day) are beyond ±k, under the planned-day rule.
	flags := engine.Flags([]*float64{v, v}, []*float64{e, e}, []*float64{vol, vol}, []*float64{z, z}, []int{day, day}, nil, b.o.K, int(better(k)), 0)
	out.flagged = flags[1] != nil && *flags[1] == 1
	return out
}

// inCampaign says whether [start, end) overlaps a phase of a campaign of the
// store ("" : any campaign).
func inCampaign(camps []calendar.Campaign, store string, start, end time.Time) bool {
	for _, c := range camps {
		if store != "" && len(c.Stores) > 0 && !slices.Contains(c.Stores, store) {
			continue
		}
		for _, p := range c.Phases {
			if p.Start.Before(end) && p.End.After(start) {
				return true
			}
		}
	}
	return false
}

// hours runs the engine's hourly anomaly band over the day (the total, or
// per store) and returns its flagged runs per store ("" for the total), and
// the result for the impact of hourly-only changes.
func (b *Builder) hours(ctx context.Context, st *state, k kpi.KPI, byStore bool) (map[string][]HourRun, *engine.Result, error) {
	d := st.d
	sens, err := json.Marshal(b.o.K)
	if err != nil {
		return nil, nil, err
	}
	q := models.Query{KPI: k.ID, Filters: st.scope.filters(), Interval: "1h", Anomaly: &models.Anomaly{Sensitivity: sens}}
	if byStore {
		q.GroupBy = []string{schema.TagStore}
	}
	if q, err = normalise(q); err != nil {
		return nil, nil, err
	}
	res, regions, err := b.o.Engine.AnomalyRegions(ctx, engine.Request{Query: q, From: d.start, To: d.end})
	if err != nil {
		return nil, nil, fmt.Errorf("briefing: %s hourly band: %w", k.ID, err)
	}
	out := map[string][]HourRun{}
	for _, r := range regions {
		g := ""
		if byStore && len(r.Groups) > 0 {
			g = r.Groups[0]
		}
		out[g] = append(out[g], HourRun{Start: r.Start, End: r.End, Value: r.Value, Expected: r.Expected, Score: r.Score})
	}
	for g := range out { // the strongest run first
		slices.SortStableFunc(out[g], func(a, b HourRun) int { return cmp.Compare(math.Abs(b.Score), math.Abs(a.Score)) })
	}
	return out, res, nil
}

// impact is the change's effect in the numerator's unit and in currency.
func (b *Builder) impact(ctx context.Context, st *state, k kpi.KPI, band dayBand, c *Change) error {
	unit := numeratorUnit(b.o.Engine.Catalog, k)
	var dev float64
	switch {
	case band.flagged && k.Kind == kpi.KindRatio:
		dev = (*band.value - band.expected) * band.den
	case band.flagged:
		dev = *band.value - band.expected
	default:
		v, err := b.hourlyImpact(ctx, st, k, band.store, c.Hours)
		if err != nil {
			return err
		}
		dev = v
	}
	c.Impact = Impact{Value: dev * better(k), Unit: unit}
	var rate *float64
	switch unit {
	case "currency":
		rate = ptr(1)
	case "orders":
		rate = st.aov
	case "people", "sessions":
		rate = st.arpu
	}
	if rate != nil {
		c.Impact.Currency = ptr(c.Impact.Value * *rate)
	}
	return nil
}

// hourlyImpact adds up value − expected (ratios: times the hour's
// denominator) over the flagged hours of the series.
func (b *Builder) hourlyImpact(ctx context.Context, st *state, k kpi.KPI, store string, runs []HourRun) (float64, error) {
	if len(runs) == 0 {
		return 0, nil
	}
	filters := st.scope.filters()
	if store != "" {
		filters = map[string][]string{schema.TagStore: {store}}
	}
	from, to := runs[0].Start, runs[0].End
	for _, r := range runs {
		from, to = minT(from, r.Start), maxT(to, r.End)
	}
	sens, err := json.Marshal(b.o.K)
	if err != nil {
		return 0, err
	}
	res, err := run(ctx, b.o.Engine, models.Query{KPI: k.ID, Filters: filters, Interval: "1h", Anomaly: &models.Anomaly{Sensitivity: sens}}, st.d.start, st.d.end)
	if err != nil {
		return 0, err
	}
	vals, exp, flag := role(res, engine.RoleCurrent), role(res, engine.RoleExpected), role(res, engine.RoleAnomaly)
	var dens []*float64
	if k.Kind == kpi.KindRatio {
		dr, err := run(ctx, b.parts, models.Query{KPI: k.ID + denSuffix, Filters: filters, Interval: "1h"}, st.d.start, st.d.end)
		if err != nil {
			return 0, err
		}
		dens = current(dr)
	}
	sum := 0.0
	for i, t := range res.Times {
		if t.Before(from) || !t.Before(to) || flag[i] == nil || *flag[i] != 1 || vals[i] == nil || exp[i] == nil {
			continue
		}
		dv := *vals[i] - *exp[i]
		if dens != nil {
			if i >= len(dens) || dens[i] == nil {
				continue
			}
			dv *= *dens[i]
		}
		sum += dv
	}
	return sum, nil
}

// dayForecast is the engine's forecast of the day made at its start, and
// the actual's error in spreads of its 80 % band.
func (b *Builder) dayForecast(ctx context.Context, st *state, k kpi.KPI, store string, actual float64) (*DayForecast, error) {
	if k.Kind != kpi.KindSum && (k.Kind != kpi.KindRatio || k.Num.IsDistinct() || k.Den.IsDistinct()) {
		return nil, nil
	}
	var filters map[string][]string
	if store != "" {
		filters = map[string][]string{schema.TagStore: {store}}
	}
	q, err := normalise(models.Query{KPI: k.ID, Filters: filters, Forecast: &models.Forecast{Horizon: models.HorizonDay}})
	if err != nil {
		return nil, err
	}
	d := st.d
	res, err := b.o.Engine.Forecast(ctx, engine.Request{Query: q, From: d.start, To: d.start.Add(time.Second)})
	if err != nil {
		return nil, fmt.Errorf("briefing: %s day forecast: %w", k.ID, err)
	}
	f := &DayForecast{}
	found := false
	for _, s := range res.Series {
		v := lastOf(s.Values)
		switch s.Role {
		case engine.RoleForecast:
			if v != nil {
				f.Value, found = *v, true
			}
		case engine.RoleLower:
			f.Lower = v
		case engine.RoleUpper:
			f.Upper = v
		}
	}
	if !found {
		return nil, nil
	}
	if f.Lower != nil && f.Upper != nil && *f.Upper > *f.Lower {
		sigma := (*f.Upper - *f.Lower) / 2 / 1.2816
		f.Z = ptr(round((actual-f.Value)/sigma, 2))
	}
	return f, nil
}

func round(f float64, digits int) float64 {
	p := math.Pow(10, float64(digits))
	return math.Round(f*p) / p
}

func minT(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func maxT(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// fmtNum formats a number for reason texts: thousands unrounded to
// integers, small numbers with 2 decimals.
func fmtNum(f float64) string {
	if math.Abs(f) >= 100 {
		return strconv.FormatFloat(math.Round(f), 'f', 0, 64)
	}
	return strconv.FormatFloat(f, 'f', 2, 64)
}
