package engine

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"

	"github.com/storepulse/storepulse/datasource/pkg/bucket"
	"github.com/storepulse/storepulse/datasource/pkg/models"
	"github.com/storepulse/storepulse/internal/calendar"
	"github.com/storepulse/storepulse/internal/kpi"
	"github.com/storepulse/storepulse/internal/localday"
)

// UpliftRow is one campaign (of one series when grouped) of an uplift query.
type UpliftRow struct {
	Campaign calendar.Campaign
	Groups   []string // values of the query's GroupBy ("" = tag absent)
	// During and Baseline are the KPI per day (sums: the daily average;
	// ratios: sum/sum over the days); null without days or with a zero
	// denominator.
	During, Baseline *float64
	// Uplift is During / Baseline − 1, null when either is null or the
	// baseline is 0.
	Uplift *float64
	// Days and BaselineDays are the days counted: the campaign's local days
	// up to now (today by its elapsed part), and the baseline days left
	// after other campaigns' days are taken out.
	Days, BaselineDays float64
}

// UpliftResult is an uplift query: one row per campaign overlapping the
// range (and series), ordered by campaign start, id, then series.
type UpliftResult struct {
	KPI          kpi.KPI
	GroupBy      []string
	BaselineDays int
	Rows         []UpliftRow
}

// upliftDays are a campaign's during and baseline days as indexes of the
// fetched day buckets.
type upliftDays struct {
	during, baseline []int
}

// Uplift computes an uplift query: per campaign of the calendar overlapping
// [From, To) (store and campaign filters applied to the calendar), the KPI
// per day during the campaign's local days against the BaselineDays local
// days before its first day, leaving out days that overlap a phase of
// another campaign of the series' stores (docs/query.md#uplift).
func (e *Engine) Uplift(ctx context.Context, req Request) (*UpliftResult, error) {
	q, cal := calendarQuery(req.Query)
	k, ok := e.Catalog.Get(q.KPI)
	switch {
	case !ok && q.KPI == "":
		return nil, pluginErrorf("no KPI chosen: uplift needs the KPI to measure (e.g. gmv)")
	case !ok:
		return nil, pluginErrorf("unknown KPI %q (see resource /kpis)", q.KPI)
	case k.Kind == kpi.KindTransform:
		return nil, pluginErrorf("KPI %s is %s: choose the KPI to measure, e.g. gmv", k.ID, k.Note)
	case len(k.DistinctKinds()) > 0:
		return nil, pluginErrorf("uplift compares per-day values: KPI %s counts distinct users (%s), which do not add up over days (the same user comes back); use a sum such as orders or a ratio of sums such as AOV", k.ID, k.Kind)
	case k.Kind != kpi.KindSum && k.Kind != kpi.KindRatio:
		return nil, pluginErrorf("uplift is computed for sums and ratios of sums: KPI %s is a %s value", k.ID, k.Kind)
	}
	if err := checkDims(k, q.Filters, q.GroupBy); err != nil {
		return nil, err
	}
	if !req.From.Before(req.To) {
		return nil, pluginErrorf("empty time range %s .. %s", req.From, req.To)
	}
	baseDays := models.UpliftDefaultBaselineDays
	if q.Uplift != nil && q.Uplift.BaselineDays > 0 {
		baseDays = q.Uplift.BaselineDays
	}
	now := e.now()
	all, err := e.Source.Campaigns(ctx)
	if err != nil {
		return nil, err
	}
	res := &UpliftResult{KPI: k, GroupBy: q.GroupBy, BaselineDays: baseDays}
	var camps []calendar.Campaign
	for _, c := range all {
		if campaignMatches(c, cal) && c.Start().Before(req.To) && c.End().After(req.From) {
			camps = append(camps, c)
		}
	}
	if len(camps) == 0 {
		return res, nil
	}
	// One read of daily sums from the first baseline day to the last
	// campaign day (days after now are not read).
	first, last := bucket.Midnight(camps[0].Start(), e.Location), camps[0].End()
	for _, c := range camps {
		first = minTime(first, bucket.Midnight(c.Start(), e.Location))
		last = maxTime(last, c.End())
	}
	first = localday.AddDays(first, -baseDays, e.Location)
	day := bucket.Step{Calendar: models.IntervalDay}
	days, err := bucket.Make(first, last, day, e.Location, now)
	if err != nil {
		return nil, backend.PluginError(err)
	}
	ev := evaluation{e: e, k: k, q: q, step: day, now: now}
	f, err := ev.fetch(ctx, days)
	if err != nil {
		return nil, err
	}
	keys := f.keys(len(q.GroupBy), nil)
	for _, c := range camps {
		for _, key := range keys {
			groups := f.groupsOf(key, nil)
			if groups == nil {
				groups = make([]string, len(q.GroupBy))
			}
			stores := ev.campaignFilter(groups)
			if !campaignMatches(c, stores) {
				continue
			}
			d := upliftDaysOf(c, all, stores, days, baseDays, e.Location)
			res.Rows = append(res.Rows, ev.upliftRow(f, key, c, groups, d, days))
		}
	}
	SortUpliftRows(res.Rows)
	if e.SeriesLimit > 0 && len(res.Rows) > e.SeriesLimit {
		return nil, backend.PluginError(&SeriesLimitError{Got: len(res.Rows), Limit: e.SeriesLimit})
	}
	return res, nil
}

// upliftDaysOf are the day buckets of a campaign (its local days) and of its
// baseline (the baseDays local days before its first day, less the days
// overlapping a phase of another campaign matching the stores).
func upliftDaysOf(c calendar.Campaign, all []calendar.Campaign, stores map[string][]string, days bucket.Buckets, baseDays int, loc *time.Location) upliftDays {
	var d upliftDays
	firstDay := bucket.Midnight(c.Start(), loc)
	baseStart := localday.AddDays(firstDay, -baseDays, loc)
	for i, start := range days.Starts {
		end := days.EndOf(i)
		switch {
		case start.Before(c.End()) && end.After(c.Start()):
			d.during = append(d.during, i)
		case !start.Before(baseStart) && start.Before(firstDay):
			other := false
			for _, o := range all {
				if o.ID != c.ID && campaignMatches(o, stores) && phaseOverlaps(o, start, end) {
					other = true
					break
				}
			}
			if !other {
				d.baseline = append(d.baseline, i)
			}
		}
	}
	return d
}

func phaseOverlaps(c calendar.Campaign, start, end time.Time) bool {
	for _, p := range c.Phases {
		if p.Start.Before(end) && p.End.After(start) {
			return true
		}
	}
	return false
}

// upliftRow computes one row: sums per day (the day in progress counted by
// its elapsed part), ratios as sum/sum.
func (ev *evaluation) upliftRow(f *fetched, key string, c calendar.Campaign, groups []string, d upliftDays, days bucket.Buckets) UpliftRow {
	row := UpliftRow{Campaign: c, Groups: groups}
	value := func(idx []int) (*float64, float64) {
		var num, den, n float64
		for _, i := range idx {
			num += f.operand(ev.k.Num, key, i)
			if ev.k.Den != nil {
				den += f.operand(*ev.k.Den, key, i)
			}
			start, end := days.Starts[i], days.EndOf(i)
			if end.After(ev.now) {
				n += float64(ev.now.Sub(start)) / float64(end.Sub(start))
			} else {
				n++
			}
		}
		if n <= 0 {
			return nil, n
		}
		if ev.k.Kind == kpi.KindRatio {
			r, ok := ev.k.Ratio(num, den)
			if !ok {
				return nil, n
			}
			return &r, n
		}
		v := num / n
		return &v, n
	}
	row.During, row.Days = value(d.during)
	row.Baseline, row.BaselineDays = value(d.baseline)
	if row.During != nil && row.Baseline != nil && *row.Baseline != 0 {
		row.Uplift = ptr(*row.During / *row.Baseline - 1)
	}
	return row
}

// SortUpliftRows orders rows by campaign start, id, then series.
func SortUpliftRows(rows []UpliftRow) {
	slices.SortStableFunc(rows, func(a, b UpliftRow) int {
		if c := a.Campaign.Start().Compare(b.Campaign.Start()); c != 0 {
			return c
		}
		if c := strings.Compare(a.Campaign.ID, b.Campaign.ID); c != 0 {
			return c
		}
		return strings.Compare(seriesKey(a.Groups), seriesKey(b.Groups))
	})
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
