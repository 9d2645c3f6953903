package plugin

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/storepulse/storepulse/datasource/pkg/engine"
	"github.com/storepulse/storepulse/datasource/pkg/models"
)

// QueryData runs the request's queries concurrently (at most
// maxConcurrentQueries at once); a cancelled request stops them. Each query's
// estimated memory is reserved in a budget of the request, one of the
// datasource and one of the plugin process (budget.go) before it reads; a
// query over any of them is refused.
func (d *Datasource) QueryData(ctx context.Context, req *backend.QueryDataRequest) (*backend.QueryDataResponse, error) {
	resp := backend.NewQueryDataResponse()
	budget := &memBudget{limit: d.settings.RequestMemoryBytes()}
	defer d.releaseRequest(budget)
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, maxConcurrentQueries)
	for _, q := range req.Queries {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var r backend.DataResponse
			select {
			case sem <- struct{}{}:
				r = d.query(ctx, q, budget)
				<-sem
			case <-ctx.Done():
				r = errorResponse(backend.DownstreamError(ctx.Err()))
			}
			mu.Lock()
			resp.Responses[q.RefID] = r
			mu.Unlock()
		}()
	}
	wg.Wait()
	return resp, nil
}

func (d *Datasource) query(ctx context.Context, dq backend.DataQuery, budget *memBudget) backend.DataResponse {
	q, err := models.ParseQuery(dq.JSON)
	if err != nil {
		return errorResponse(backend.PluginError(err))
	}
	from, to := dq.TimeRange.From, dq.TimeRange.To
	if err := checkTimeRange(from, to); err != nil {
		return errorResponse(backend.PluginError(err))
	}
	if err := d.admit(budget, estimateQueryBytes(dq, q, d.settings.SeriesLimit)); err != nil {
		d.logger.Warn("query refused: memory limit", "refId", dq.RefID, "error", err)
		return errorResponse(err)
	}
	var frames data.Frames
	switch dq.QueryType {
	case "", models.QueryTypeKPI:
		req := engine.Request{Query: q, From: from, To: to, Interval: dq.Interval, MaxDataPoints: dq.MaxDataPoints}
		switch {
		case q.Funnel:
			var res *engine.FunnelResult
			if res, err = d.engineFor(ctx).Funnel(ctx, req); err == nil {
				frames = data.Frames{funnelFrame(res)}
			}
		case q.Forecast != nil:
			frames, err = d.forecastQuery(ctx, req)
		case q.Lifecycle || q.KPI == engine.LifecycleKPI:
			frames, err = d.lifecycleQuery(ctx, req)
		case q.Uplift != nil:
			var res *engine.UpliftResult
			if res, err = d.engineFor(ctx).Uplift(ctx, req); err == nil {
				frames = data.Frames{upliftFrame(res, d.settings.Currency)}
			}
		case q.Contribution != nil:
			var res *engine.ContributionResult
			if res, err = d.engineFor(ctx).Contribution(ctx, req); err == nil {
				frames = data.Frames{contributionFrame(res, d.settings.Currency)}
			}
		default:
			var res *engine.Result
			if res, err = d.engineFor(ctx).Run(ctx, req); err == nil {
				frames = seriesFrames(res, d.settings.Currency)
			}
		}
	case models.QueryTypeDimensions:
		return d.dimensionQuery(ctx, q, dq)
	case models.QueryTypeCampaigns:
		var rows []engine.PhaseRow
		if rows, err = d.engineFor(ctx).CampaignPhases(ctx, from, to, q.Filters); err == nil {
			frames = data.Frames{campaignsFrame(rows)}
		}
	case models.QueryTypeAnomalies:
		req := engine.Request{Query: q, From: from, To: to, Interval: dq.Interval, MaxDataPoints: dq.MaxDataPoints}
		var res *engine.Result
		var regions []engine.AnomalyRegion
		if res, regions, err = d.engineFor(ctx).AnomalyRegions(ctx, req); err == nil {
			frames = data.Frames{anomaliesFrame(res, regions, d.settings.Currency)}
		}
	case models.QueryTypeCalendar:
		var tl *engine.Timeline
		if tl, err = d.engineFor(ctx).CalendarTimeline(ctx, from, to, q.Filters); err == nil {
			frames = data.Frames{calendarFrame(tl)}
		}
	case models.QueryTypeFreshness:
		frames, err = d.freshnessQuery(ctx, q, to)
	case models.QueryTypeInsights:
		frames, err = d.insightsQuery(ctx, q, from, to)
	default:
		return errorResponse(backend.PluginErrorf("unknown query type %q (kpi, dimensions, campaigns, calendar, anomalies, freshness, insights)", dq.QueryType))
	}
	if err != nil {
		d.logger.Debug("query failed", "refId", dq.RefID, "queryType", dq.QueryType, "kpi", q.KPI, "error", err)
		return errorResponse(err)
	}
	return backend.DataResponse{Frames: frames}
}

// Query time ranges must lie in [minQueryTime, maxQueryTime]: StorePulse
// holds no data outside it, InfluxDB cannot represent times near year 1 or
// 9999, and the bucket arithmetic of such spans only produces garbage.
const (
	minQueryTimeUnix = 946684800  // 2000-01-01T00:00:00Z
	maxQueryTimeUnix = 4102444800 // 2100-01-01T00:00:00Z
)

// checkTimeRange refuses ranges outside the sane span with a clear error.
func checkTimeRange(from, to time.Time) error {
	lo, hi := time.Unix(minQueryTimeUnix, 0).UTC(), time.Unix(maxQueryTimeUnix, 0).UTC()
	switch {
	case from.Before(lo) || to.After(hi):
		return fmt.Errorf("time range %s to %s is outside what StorePulse can query (%s to %s): choose a range within it",
			from.UTC().Format(time.RFC3339), to.UTC().Format(time.RFC3339), lo.Format("2006-01-02"), hi.Format("2006-01-02"))
	case to.Before(from):
		return fmt.Errorf("time range ends (%s) before it starts (%s)", to.UTC().Format(time.RFC3339), from.UTC().Format(time.RFC3339))
	}
	return nil
}

// dimensionQuery answers a variable query: one string field of values.
func (d *Datasource) dimensionQuery(ctx context.Context, q models.Query, dq backend.DataQuery) backend.DataResponse {
	vals, err := d.source.DimensionValues(ctx, engine.DimensionSpec{Start: dq.TimeRange.From, Stop: dq.TimeRange.To,
		Dimension: q.Dimension, Filters: q.Filters})
	if err != nil {
		return errorResponse(err)
	}
	if vals == nil {
		vals = []string{}
	}
	return backend.DataResponse{Frames: data.Frames{data.NewFrame(q.Dimension, data.NewField(q.Dimension, nil, vals))}}
}

// errorResponse keeps the error's source (plugin or downstream) and gives a
// matching status: 400 for the query's own faults, 502 for InfluxDB's.
func errorResponse(err error) backend.DataResponse {
	r := backend.ErrorResponseWithErrorSource(err)
	switch {
	case errors.Is(err, context.Canceled):
		r.Status = backend.StatusTimeout
	case r.ErrorSource == backend.ErrorSourceDownstream:
		r.Status = backend.StatusBadGateway
	default:
		r.ErrorSource = backend.ErrorSourcePlugin
		r.Status = backend.StatusBadRequest
	}
	return r
}
