package engine

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"

	"github.com/storepulse/storepulse/internal/schema"
)

// FreshnessLookback is how far back the newest data of a store is looked
// for: a store silent for longer is absent from the answer.
const FreshnessLookback = 7 * 24 * time.Hour

// LatestSpec asks for the newest sp_ingest point per store in [Start, Stop).
type LatestSpec struct {
	Start, Stop time.Time
	Stores      []string // empty: every store
}

// LatestRow is the time of one store's newest sp_ingest point.
type LatestRow struct {
	Store string
	Time  time.Time
}

// LatestSource finds the newest data per store. It is kept out of Source so
// that sources serving only KPI reads (test fakes, benchmarks) need not
// implement it; the InfluxQL and Flux sources and CachingSource do.
type LatestSource interface {
	Latest(ctx context.Context, spec LatestSpec) ([]LatestRow, error)
}

// FreshnessRow is how old one store's newest data is at At.
type FreshnessRow struct {
	Store string
	// Newest is the minute of the store's newest accepted event.
	Newest time.Time
	// Age is At − Newest in seconds (0 when the newest minute holds At).
	Age float64
}

// FreshnessResult answers a freshness query: one row per store with data in
// the 7 days before At, sorted by store.
type FreshnessResult struct {
	At   time.Time // min(to, now)
	Rows []FreshnessRow
}

// Freshness measures, per store, how old its newest data is at min(to, now):
// the time since the minute of its newest sp_ingest point (every accepted
// event counts there) in the 7 days before. Stores without data in those
// days are absent. Filters: store only.
func (e *Engine) Freshness(ctx context.Context, to time.Time, filters map[string][]string) (*FreshnessResult, error) {
	for dim := range filters {
		if dim != schema.TagStore {
			return nil, pluginErrorf("freshness is per store: it can be filtered by store only, not %q", dim)
		}
	}
	ls, ok := e.Source.(LatestSource)
	if !ok {
		return nil, pluginErrorf("this datasource's source cannot tell how fresh the data is")
	}
	now := e.now()
	at := to
	if now.Before(at) {
		at = now
	}
	// Whole minutes (the ingest grain) so that refreshes within a minute
	// share one read; the minute holding at is included: its points are
	// stamped after its start by the segment offset.
	stop := at.Truncate(time.Minute)
	if stop.Before(at) {
		stop = stop.Add(time.Minute)
	}
	rows, err := ls.Latest(ctx, LatestSpec{Start: stop.Add(-FreshnessLookback), Stop: stop, Stores: filters[schema.TagStore]})
	if err != nil {
		return nil, err
	}
	res := &FreshnessResult{At: at}
	for _, r := range rows {
		if r.Store == "" {
			continue
		}
		newest := r.Time.Truncate(time.Minute)
		res.Rows = append(res.Rows, FreshnessRow{Store: r.Store, Newest: newest, Age: max(at.Sub(newest).Seconds(), 0)})
	}
	slices.SortFunc(res.Rows, func(a, b FreshnessRow) int { return strings.Compare(a.Store, b.Store) })
	res.Rows = slices.CompactFunc(res.Rows, func(a, b FreshnessRow) bool { return a.Store == b.Store })
	if e.SeriesLimit > 0 && len(res.Rows) > e.SeriesLimit {
		return nil, backend.PluginError(&SeriesLimitError{Got: len(res.Rows), Limit: e.SeriesLimit})
	}
	return res, nil
}

// Latest implements LatestSource through the cache (single flight, TTL).
func (c *CachingSource) Latest(ctx context.Context, spec LatestSpec) ([]LatestRow, error) {
	ls, ok := c.src.(LatestSource)
	if !ok {
		return nil, pluginErrorf("this datasource's source cannot tell how fresh the data is")
	}
	stores := slices.Clone(spec.Stores)
	slices.Sort(stores)
	key := fmt.Sprintf("latest|%s|%s|%q", keyTime(spec.Start), keyTime(spec.Stop), stores)
	v, err := c.do(ctx, key, func(ctx context.Context) (any, error) { return ls.Latest(ctx, spec) })
	if err != nil {
		return nil, err
	}
	return slices.Clone(v.([]LatestRow)), nil
}
