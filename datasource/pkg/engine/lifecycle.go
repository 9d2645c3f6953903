package engine

import (
	"cmp"
	"context"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"

	"github.com/storepulse/storepulse/datasource/pkg/bucket"
	"github.com/storepulse/storepulse/datasource/pkg/models"
	"github.com/storepulse/storepulse/internal/calendar"
	"github.com/storepulse/storepulse/internal/kpi"
	"github.com/storepulse/storepulse/internal/schema"
)

// LifecycleKPI is the catalog's shorthand for the life-cycle transform
// applied to GMV by category.
const LifecycleKPI = "lifecycle_stage"

// LifecycleRow is one value of the dimension with its stage.
type LifecycleRow struct {
	Groups []string // the groupBy value ("" when the tag is absent)
	// Stage is one of LifecycleStages ("" when it cannot be told: fewer
	// than 8 weeks left after campaign weeks, or no sales at all);
	// StageCode is its 1-based position (0 for none).
	Stage     string
	StageCode int
	// Growth is the recent weekly trend (a fraction); nil without a stage.
	Growth *float64
	// Value is the KPI over the last 4 whole weeks, Share its part of the
	// total of every row (nil when the total is 0).
	Value float64
	Share *float64
}

// LifecycleResult is a life-cycle query's table.
type LifecycleResult struct {
	KPI     kpi.KPI
	GroupBy []string
	// From, To are the whole weeks classified (local Mondays).
	From, To time.Time
	Weeks    int
	// Left out are the weeks overlapping a campaign's pre-sale or peak:
	// campaign spikes are not a life cycle.
	LeftOut int
	Rows    []LifecycleRow // by value, largest first
}

// lifecycleSpikePhases are the campaign phases whose weeks are left out of
// the trend and the peak.
func lifecycleSpikePhases() []string { return []string{calendar.PhasePreSale, calendar.PhasePeak} }

// Lifecycle classifies each value of one dimension (category by default)
// into a life-cycle stage from the weekly trend of a sum KPI over the whole
// local weeks (Monday to Sunday) of the range; see ClassifyLifecycle.
// KPI lifecycle_stage is GMV by category.
func (e *Engine) Lifecycle(ctx context.Context, req Request) (*LifecycleResult, error) {
	q := req.Query
	if q.KPI == LifecycleKPI {
		if q.Cumulative != "" || q.Target || q.TopN != nil || q.Contribution != nil || q.Funnel || q.Anomaly != nil || q.Compare != models.CompareNone {
			return nil, pluginErrorf("KPI %s is a table of life-cycle stages: it takes filters and groupBy only (no compare or other transform)", LifecycleKPI)
		}
		q.KPI = "gmv"
	}
	if len(q.GroupBy) == 0 {
		q.GroupBy = []string{schema.TagCategory}
	}
	k, ok := e.Catalog.Get(q.KPI)
	if !ok {
		if q.KPI == "" {
			return nil, pluginErrorf("no KPI chosen")
		}
		return nil, pluginErrorf("unknown KPI %q (see resource /kpis)", q.KPI)
	}
	if k.Kind != kpi.KindSum || len(k.DistinctKinds()) > 0 {
		return nil, pluginErrorf("life-cycle stages come from a sales trend: KPI %s is a %s value, use a sum such as gmv, orders or sessions", k.ID, k.Kind)
	}
	if len(q.GroupBy) > 1 {
		return nil, pluginErrorf("life-cycle stages are per value of one dimension: group by one (category when empty), not %s", strings.Join(q.GroupBy, ", "))
	}
	if err := checkDims(k, q.Filters, q.GroupBy); err != nil {
		return nil, err
	}
	now := e.now()
	to := req.To
	if now.Before(to) {
		to = now
	}
	week := bucket.Step{Calendar: models.IntervalWeek}
	first := bucket.Floor(req.From, week, e.Location)
	if first.Before(req.From) {
		first = bucket.Next(first, week, e.Location)
	}
	last := bucket.Floor(to, week, e.Location)
	var weeks bucket.Buckets
	if first.Before(last) {
		var err error
		if weeks, err = bucket.Make(first, last, week, e.Location, last); err != nil {
			return nil, backend.PluginError(err)
		}
	}
	if weeks.Len() < LifecycleMinWeeks {
		return nil, pluginErrorf("life-cycle stages need at least %d whole weeks (Monday to Sunday) in the range, it holds %d: choose a longer range (e.g. the last 90 days)", LifecycleMinWeeks, weeks.Len())
	}
	ev := &evaluation{e: e, k: k, q: q, step: week, now: now}
	f, err := ev.fetch(ctx, weeks)
	if err != nil {
		return nil, err
	}
	keys := f.keys(1, nil)
	if e.SeriesLimit > 0 && len(keys) > e.SeriesLimit {
		return nil, backend.PluginError(&SeriesLimitError{Got: len(keys), Limit: e.SeriesLimit})
	}
	camps, err := e.Source.Campaigns(ctx)
	if err != nil {
		return nil, err
	}
	res := &LifecycleResult{KPI: k, GroupBy: q.GroupBy, From: weeks.Start(), To: weeks.End, Weeks: weeks.Len()}
	total := 0.0
	for _, key := range keys {
		groups := f.groupsOf(key, nil)
		weekly := make([]float64, weeks.Len())
		row := LifecycleRow{Groups: groups}
		left := 0
		filter := ev.campaignFilter(groups)
		for i := range weekly {
			weekly[i] = f.operand(k.Num, key, i)
			if i >= weeks.Len()-lifecycleLevelWeeks {
				row.Value += weekly[i]
			}
			if inCampaignPhases(camps, filter, lifecycleSpikePhases(), weeks.Starts[i], weeks.EndOf(i)) {
				weekly[i] = math.NaN()
				left++
			}
		}
		res.LeftOut = max(res.LeftOut, left)
		if stage, tr, ok := ClassifyLifecycle(weekly); ok {
			row.Stage, row.StageCode, row.Growth = stage, slices.Index(LifecycleStages(), stage)+1, ptr(tr.Growth)
		}
		total += row.Value
		res.Rows = append(res.Rows, row)
	}
	for i := range res.Rows {
		if total != 0 {
			res.Rows[i].Share = ptr(res.Rows[i].Value / total)
		}
	}
	slices.SortStableFunc(res.Rows, func(a, b LifecycleRow) int {
		if c := cmp.Compare(b.Value, a.Value); c != 0 {
			return c
		}
		return strings.Compare(a.Groups[0], b.Groups[0])
	})
	return res, nil
}

// inCampaignPhases says whether [start, end) overlaps one of the named
// phases of a campaign matching the filters.
func inCampaignPhases(camps []calendar.Campaign, filters map[string][]string, phases []string, start, end time.Time) bool {
	for _, c := range camps {
		if !campaignMatches(c, filters) {
			continue
		}
		for _, ph := range c.Phases {
			if slices.Contains(phases, ph.Name) && ph.Start.Before(end) && ph.End.After(start) {
				return true
			}
		}
	}
	return false
}
