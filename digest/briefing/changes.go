package briefing

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/storepulse/storepulse/datasource/pkg/analysis/band"
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

// dayBand is one series' value of the day in its band.
type dayBand struct {
	store            string // "" for the scope's total
	category         string // the category of a store's category cell
	key              string // groupKey of the series' groups (hours' key)
	value            *float64
	expected, lo, hi float64
	score            float64
	ok, flagged      bool
	den              float64 // ratios: the day's denominator
}

// filters select the band's series: its store (the scope's for the total)
// and category.
func (band dayBand) filters(store string) map[string][]string {
	f := map[string][]string{}
	if store != "" {
		f[schema.TagStore] = []string{store}
	}
	if band.category != "" {
		f[schema.TagCategory] = []string{band.category}
	}
	if len(f) == 0 {
		return nil
	}
	return f
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

// kpiChanges checks one KPI: the scope's total; when the total is within
// its range, each store; and for the KPIs checked per category
// (Options.ByCategory), each category of each store that stayed in its
// range.
func (b *Builder) kpiChanges(ctx context.Context, st *state, k kpi.KPI) ([]Change, error) {
	total, err := b.bands(ctx, st, k, nil)
	if err != nil {
		return nil, err
	}
	totalHours, _, err := b.hours(ctx, st, k, nil)
	if err != nil {
		return nil, err
	}
	if c, ok, err := b.change(ctx, st, k, total[0], totalHours[""]); err != nil || ok {
		if ok {
			return []Change{c}, err
		}
		return nil, err
	}
	var out []Change
	changed := map[string]bool{} // stores with a change of their own
	if st.scope.store == "" && slices.Contains(k.Dimensions(), schema.TagStore) {
		cs, err := b.groupChanges(ctx, st, k, []string{schema.TagStore}, nil)
		if err != nil {
			return nil, err
		}
		for _, c := range cs {
			changed[c.Store] = true
		}
		out = append(out, cs...)
	}
	if !slices.Contains(b.o.ByCategory, k.ID) || !slices.Contains(k.Dimensions(), schema.TagCategory) {
		return out, nil
	}
	by := []string{schema.TagCategory}
	if st.scope.store == "" && slices.Contains(k.Dimensions(), schema.TagStore) {
		by = []string{schema.TagStore, schema.TagCategory}
	}
	cs, err := b.groupChanges(ctx, st, k, by, changed)
	if err != nil {
		return nil, err
	}
	return append(out, cs...), nil
}

// groupChanges checks each series of k grouped by the dimensions by (store;
// store and category), leaving out the stores in skip.
func (b *Builder) groupChanges(ctx context.Context, st *state, k kpi.KPI, by []string, skip map[string]bool) ([]Change, error) {
	bands, err := b.bands(ctx, st, k, by)
	if err != nil {
		return nil, err
	}
	hours, _, err := b.hours(ctx, st, k, by)
	if err != nil {
		return nil, err
	}
	var out []Change
	for _, band := range bands {
		if skip[band.store] {
			continue
		}
		c, ok, err := b.change(ctx, st, k, band, hours[band.key])
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
		if fc, err = b.dayForecast(ctx, st, k, band.filters(store), *band.value); err != nil {
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
	c := Change{KPI: k.ID, Name: localName(st.tr, k), Unit: string(k.Unit), Store: band.store, Category: band.category, Value: *band.value,
		Expected: band.expected, Lower: band.lo, Upper: band.hi, Score: band.score, DayFlag: band.flagged, Hours: hours}
	c.Link = b.drill(k.ID, store, dimOf(band.category), band.category, d.start, d.end)
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

// bands computes the day's band of the scope's total (by nil), or of each
// series grouped by the dimensions by (store; store and category): the
// history is the same weekday of the 6 weeks before, the band the engine's
// (HistoryCenter, NoiseLevel, Spread, Score, BandLimits) at the day's grain.
func (b *Builder) bands(ctx context.Context, st *state, k kpi.KPI, by []string) ([]dayBand, error) {
	d := st.d
	from := d.addDays(-(bandWeeks*7 + noiseDays - 1))
	q := models.Query{KPI: k.ID, Filters: st.scope.filters(), Interval: models.IntervalDay, GroupBy: by}
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
				dens[groupKey(s.Groups)] = s.Values
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
		g := groupValues(by, s.Groups)
		if len(by) > 0 && slices.Contains(g, "") {
			continue // points without one of the tags
		}
		store, category := st.scope.store, ""
		for i, dim := range by {
			switch dim {
			case schema.TagStore:
				store = g[i]
			case schema.TagCategory:
				category = g[i]
			}
		}
		phases := make([]string, n)
		for i, t := range res.Times {
			phases[i] = campaignPhases(st.camps, store, t, nextDay(res.Times, i, d))
		}
		band := b.band(k, s.Values, dens[groupKey(s.Groups)], phases)
		if slices.Contains(by, schema.TagStore) {
			band.store = store
		}
		band.category = category
		band.key = groupKey(g)
		out = append(out, band)
	}
	if len(by) == 0 && len(out) == 0 {
		out = append(out, dayBand{})
	}
	return out, nil
}

// groupValues are a series' values of the dimensions by, in order ("" where
// the series has none).
func groupValues(by, groups []string) []string {
	out := make([]string, len(by))
	copy(out, groups)
	return out
}

func groupOf(s engine.Series) string {
	if len(s.Groups) == 0 {
		return ""
	}
	return s.Groups[0]
}

func groupKey(groups []string) string { return strings.Join(groups, "\x00") }

func nextDay(times []time.Time, i int, d day) time.Time {
	if i+1 < len(times) {
		return times[i+1]
	}
	return d.end
}

// history is day i's history: the same weekday 1..bandWeeks weeks before,
// outside campaign phases unless fewer than 3 values would remain; same
// says every value of it lies in the same kinds of campaign phases as day i
// (a weekly member day's history of member days).
func history(vals, dens []*float64, phases []string, i int) (values []float64, resid []band.Residual, same bool) {
	var all, clean []band.Residual
	var allPhases []string
	for w := 1; w <= bandWeeks; w++ {
		j := i - 7*w
		if j < 0 {
			break
		}
		if vals[j] == nil {
			continue
		}
		r := band.Residual{Value: *vals[j], Clean: phases[j] == ""}
		if dens != nil && dens[j] != nil {
			r.Den = *dens[j]
		}
		all = append(all, r)
		allPhases = append(allPhases, phases[j])
		if r.Clean {
			clean = append(clean, r)
		}
	}
	if len(clean) >= band.MinHistory {
		all = clean
		allPhases = nil
	} else {
		for i := range all {
			all[i].Clean = false
		}
	}
	for _, r := range all {
		values = append(values, r.Value)
	}
	same = phases[i] != "" && len(allPhases) > 0
	for _, p := range allPhases {
		same = same && p == phases[i]
	}
	return values, all, same
}

// band computes one series' band of its last day.
func (b *Builder) band(k kpi.KPI, vals, dens []*float64, phases []string) dayBand {
	n := len(vals)
	ratio := k.Kind == kpi.KindRatio
	counts := k.Unit == kpi.UnitCount && (k.Kind == kpi.KindSum || k.Kind == kpi.KindDistinct)
	sq := !ratio
	for _, t := range k.Num.Terms {
		if t.Sign < 0 {
			sq = false
		}
	}
	var rs []band.Residual
	for i := n - noiseDays; i < n; i++ {
		if i < 0 {
			continue
		}
		values, resid, _ := history(vals, dens, phases, i)
		m, _, _, ok := band.HistoryCenter(values)
		if !ok {
			continue
		}
		for _, r := range resid {
			r.Expected = m
			rs = append(rs, r)
		}
	}
	level := band.NoiseLevel(rs, ratio, counts)
	out := dayBand{value: vals[n-1]}
	values, _, same := history(vals, dens, phases, n-1)
	m, mad, u, ok := band.HistoryCenter(values)
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
	s := band.Spread(m, mad, u, level, den, ratio)
	out.expected = m
	out.lo, out.hi = band.BandLimits(m, u, s, b.o.K, sq)
	out.ok = true
	if out.value == nil || s == 0 {
		return out
	}
	out.score = band.Score(*out.value, m, u, s, sq)
	// The engine's flag rule on a run of two equal days: flagged exactly
	// when the day is beyond ±k, with its campaign rule (a move in the
	// better direction during a phase is planned; a worse one counts only
	// past a factor of 3). A day whose history lies in the same kinds of
	// phases (a weekly member day against past member days) has the
	// campaign in its expected value already: the campaign does not
	// explain a move away from it, and the day is judged as an ordinary one.
	v, e, vol, z := out.value, ptr(m), ptr(u), ptr(out.score)
	day := band.DayOrdinary
	if phases[n-1] != "" && !same {
		day = band.DayPlanned
	}
	// The second bucket of the run: flagged when it and the one before it
	// (the same day) are beyond ±k, under the planned-day rule.
	flags := band.Flags([]*float64{v, v}, []*float64{e, e}, []*float64{vol, vol}, []*float64{z, z}, []int{day, day}, nil, b.o.K, k.PlannedDirection(), 0)
	out.flagged = flags[1] != nil && *flags[1] == 1
	return out
}

// campaignPhases are the kinds of the campaign phases of the store ("":
// any campaign) that overlap [start, end), as "kind/phase" in order ("":
// none), so that days in the same kinds of phases compare equal.
func campaignPhases(camps []calendar.Campaign, store string, start, end time.Time) string {
	var out []string
	for _, c := range camps {
		if store != "" && len(c.Stores) > 0 && !slices.Contains(c.Stores, store) {
			continue
		}
		for _, p := range c.Phases {
			if p.Start.Before(end) && p.End.After(start) {
				out = append(out, c.Kind+"/"+p.Name)
			}
		}
	}
	slices.Sort(out)
	return strings.Join(slices.Compact(out), ",")
}

// hours runs the engine's hourly anomaly band over the day (the total, or
// each series grouped by the dimensions by) and returns its flagged runs by
// group key (groupKey of the groups; "" for the total), and the result for
// the impact of hourly-only changes.
func (b *Builder) hours(ctx context.Context, st *state, k kpi.KPI, by []string) (map[string][]HourRun, *engine.Result, error) {
	d := st.d
	sens, err := json.Marshal(b.o.K)
	if err != nil {
		return nil, nil, err
	}
	q := models.Query{KPI: k.ID, Filters: st.scope.filters(), Interval: "1h", Anomaly: &models.Anomaly{Sensitivity: sens}, GroupBy: by}
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
		if len(by) > 0 {
			g = groupKey(groupValues(by, r.Groups))
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
		store := band.store
		if store == "" {
			store = st.scope.store
		}
		v, err := b.hourlyImpact(ctx, st, k, band.filters(store), c.Hours)
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
func (b *Builder) hourlyImpact(ctx context.Context, st *state, k kpi.KPI, filters map[string][]string, runs []HourRun) (float64, error) {
	if len(runs) == 0 {
		return 0, nil
	}
	if filters == nil {
		filters = st.scope.filters()
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
func (b *Builder) dayForecast(ctx context.Context, st *state, k kpi.KPI, filters map[string][]string, actual float64) (*DayForecast, error) {
	if !hasForecast(k) {
		return nil, nil
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

// dimOf is the category dimension when a category is named.
func dimOf(category string) string {
	if category == "" {
		return ""
	}
	return schema.TagCategory
}

// hasForecast: the engine forecasts sums and ratios of sums, not distinct
// counts.
func hasForecast(k kpi.KPI) bool {
	return k.Kind == kpi.KindSum || (k.Kind == kpi.KindRatio && !k.Num.IsDistinct() && !k.Den.IsDistinct())
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
