package engine

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/stretchr/testify/require"

	"github.com/storepulse/storepulse/internal/kpi"
	"github.com/storepulse/storepulse/internal/schema"
)

// Latest implements LatestSource over the memSource's sp_ingest points.
func (m *memSource) Latest(_ context.Context, spec LatestSpec) ([]LatestRow, error) {
	newest := map[string]time.Time{}
	for _, p := range m.points {
		if p.meas != schema.MeasIngest || p.field != schema.FieldEvents || p.t.Before(spec.Start) || !p.t.Before(spec.Stop) {
			continue
		}
		if len(spec.Stores) > 0 && !slices.Contains(spec.Stores, p.tags["store"]) {
			continue
		}
		if p.t.After(newest[p.tags["store"]]) {
			newest[p.tags["store"]] = p.t
		}
	}
	var out []LatestRow
	for s, t := range newest {
		out = append(out, LatestRow{Store: s, Time: t})
	}
	return out, nil
}

func ingestPoint(ts, store string) memPoint {
	return memPoint{t: utc(ts), meas: schema.MeasIngest, field: schema.FieldEvents, tags: map[string]string{"store": store, "type": "order"}, v: 1}
}

// noLatest is a Source without LatestSource.
type noLatest struct{ Source }

func TestFreshness(t *testing.T) {
	src := &memSource{points: []memPoint{
		ingestPoint("2026-11-10T10:00:00.000000007Z", "a"),   // a's newest before 10:05
		ingestPoint("2026-11-10T10:04:00.000000031Z", "a"),   // in the minute of 10:04:30
		ingestPoint("2026-11-10T10:20:00.000000001Z", "a"),   // after to
		ingestPoint("2026-11-10T09:50:00.000000001Z", "b"),   // b silent since 09:50
		ingestPoint("2026-11-03T09:00:00.000000001Z", "old"), // more than 7 days before
		ingestPoint("2026-11-03T10:10:00.000000001Z", "weekago"),
	}}
	now := utc("2026-11-10T12:00:00Z")
	tests := []struct {
		name    string
		to      string
		filters map[string][]string
		want    map[string]float64 // store: age in seconds
		err     string
	}{
		{"at to in the past", "2026-11-10T10:05:00Z", nil, map[string]float64{"a": 60, "b": 900, "weekago": 604500}, ""},
		{"the minute holding to counts from its start", "2026-11-10T10:04:30Z", nil, map[string]float64{"a": 30, "b": 870, "weekago": 604470}, ""},
		{"to on a minute boundary: that minute is after to", "2026-11-10T10:04:00Z", nil, map[string]float64{"a": 240, "b": 840, "weekago": 604440}, ""},
		{"to in the future means now", "2026-11-11T00:00:00Z", map[string][]string{"store": {"b"}}, map[string]float64{"b": 7800}, ""},
		{"store filter", "2026-11-10T10:05:00Z", map[string][]string{"store": {"a", "nope"}}, map[string]float64{"a": 60}, ""},
		{"other filters refused", "2026-11-10T10:05:00Z", map[string][]string{"channel": {"app"}}, nil, "filtered by store only"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := &Engine{Catalog: kpi.Default(), Source: src, SeriesLimit: 10, Now: func() time.Time { return now }}
			res, err := e.Freshness(context.Background(), utc(tt.to), tt.filters)
			if tt.err != "" {
				require.ErrorContains(t, err, tt.err)
				require.True(t, backend.IsPluginError(err))
				return
			}
			require.NoError(t, err)
			got := map[string]float64{}
			var stores []string
			for _, r := range res.Rows {
				got[r.Store] = r.Age
				stores = append(stores, r.Store)
				require.Equal(t, r.Newest, r.Newest.Truncate(time.Minute))
			}
			require.Equal(t, tt.want, got)
			require.True(t, slices.IsSorted(stores))
		})
	}

	e := &Engine{Catalog: kpi.Default(), Source: src, SeriesLimit: 2, Now: func() time.Time { return now }}
	_, err := e.Freshness(context.Background(), utc("2026-11-10T10:05:00Z"), nil)
	require.ErrorContains(t, err, "returns 3 series, more than the limit of 2")
	e.Source = noLatest{src}
	_, err = e.Freshness(context.Background(), now, nil)
	require.ErrorContains(t, err, "cannot tell how fresh")

	// Through the cache: the same minute is one read.
	counting := &countingLatest{memSource: src}
	c := NewCachingSource(counting, time.Minute, func() time.Time { return now })
	e = &Engine{Catalog: kpi.Default(), Source: c, Now: func() time.Time { return now }}
	for _, to := range []string{"2026-11-10T10:04:10Z", "2026-11-10T10:04:50Z"} {
		res, err := e.Freshness(context.Background(), utc(to), nil)
		require.NoError(t, err)
		require.Len(t, res.Rows, 3)
	}
	require.Equal(t, 1, counting.n)
}

type countingLatest struct {
	*memSource
	n int
}

func (c *countingLatest) Latest(ctx context.Context, spec LatestSpec) ([]LatestRow, error) {
	c.n++
	return c.memSource.Latest(ctx, spec)
}
