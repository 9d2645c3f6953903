package engine

import (
	"context"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"

	"github.com/storepulse/storepulse/datasource/pkg/bucket"
	"github.com/storepulse/storepulse/datasource/pkg/models"
	"github.com/storepulse/storepulse/internal/kpi"
	"github.com/storepulse/storepulse/internal/localday"
)

// TotalResult is a KPI over a whole range, one value per series.
type TotalResult struct {
	KPI     kpi.KPI
	GroupBy []string
	Series  []Series // one value each, Role RoleCurrent
}

// Total computes a sum, ratio or distinct-count KPI over exactly [From, To)
// as one value per series: sums added, ratios as sum/sum, distinct counts
// as the merged sketches of the range. From and To must be local midnights
// (whole days of the store time zone): week or month to date cut at the end
// of a day, which a week or month bucket of Run does not do (a bucket is
// read whole, up to the data's end). Filters and groupBy work as in Run;
// no compare nor transform.
func (e *Engine) Total(ctx context.Context, req Request) (*TotalResult, error) {
	q := req.Query
	k, ok := e.Catalog.Get(q.KPI)
	if !ok {
		return nil, pluginErrorf("unknown KPI %q (see resource /kpis)", q.KPI)
	}
	if k.Kind != kpi.KindSum && k.Kind != kpi.KindRatio && k.Kind != kpi.KindDistinct {
		return nil, pluginErrorf("a total over a range is computed for sums, ratios and distinct counts, not for a %s KPI (%s)", k.Kind, k.ID)
	}
	if q.Compare != models.CompareNone || q.Cumulative != "" || q.Target || q.TopN != nil || q.Contribution != nil ||
		q.Funnel || q.Anomaly != nil || q.Forecast != nil || q.Uplift != nil || q.Lifecycle {
		return nil, pluginErrorf("a total takes a KPI, filters and groupBy only")
	}
	if err := checkDims(k, q.Filters, q.GroupBy); err != nil {
		return nil, err
	}
	if !req.From.Before(req.To) || !localday.Floor(req.From, e.Location).Equal(req.From) || !localday.Floor(req.To, e.Location).Equal(req.To) {
		return nil, pluginErrorf("a total needs a range of whole local days, got %s .. %s", req.From.Format(time.RFC3339), req.To.Format(time.RFC3339))
	}
	day := bucket.Step{Calendar: models.IntervalDay}
	ev := evaluation{e: e, k: k, q: q, step: day, now: e.now(), byCategory: len(q.Filters["category"]) > 0 || containsDim(q.GroupBy, "category")}
	b := bucket.Buckets{Starts: []time.Time{req.From}, End: req.To}
	f, err := ev.fetch(ctx, b)
	if err != nil {
		return nil, err
	}
	keys := f.keys(len(q.GroupBy), nil)
	res := &TotalResult{KPI: k, GroupBy: q.GroupBy}
	for _, key := range keys {
		groups := f.groupsOf(key, nil)
		v, err := ev.total(f, key, 1)
		if err != nil {
			return nil, err
		}
		res.Series = append(res.Series, Series{Role: RoleCurrent, Groups: groups, Values: []*float64{v}})
	}
	if e.SeriesLimit > 0 && len(res.Series) > e.SeriesLimit {
		return nil, backend.PluginError(&SeriesLimitError{Got: len(res.Series), Limit: e.SeriesLimit})
	}
	return res, nil
}

func containsDim(dims []string, d string) bool {
	for _, x := range dims {
		if x == d {
			return true
		}
	}
	return false
}
