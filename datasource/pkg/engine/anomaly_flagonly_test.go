package engine

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/storepulse/storepulse/datasource/pkg/models"
)

// TestAnomalyFlagOnly: flagOnly returns one series per KPI series, the flag,
// and it is the flag series of the same query with the KPI, band and score,
// whatever the range (the alert rule's last hours or a panel's day).
func TestAnomalyFlagOnly(t *testing.T) {
	e := anomalyEngine(t, anomalyData())
	const base = `{"kpi":"gmv","interval":"1h","groupBy":["store"],"anomaly":{"weeks":4%s}}`
	full, err := models.ParseQuery(fmt.Appendf(nil, base, ""))
	require.NoError(t, err)
	flag, err := models.ParseQuery(fmt.Appendf(nil, base, `,"flagOnly":true`))
	require.NoError(t, err)
	for _, tt := range []struct {
		name     string
		from, to time.Time
		flagged  int // buckets flagged over all stores
	}{
		{"the alert rule's last three hours", utc("2026-11-23T01:00:00Z"), utc("2026-11-23T04:00:00Z"), 3},
		{"a panel's day", utc("2026-11-22T16:00:00Z"), utc("2026-11-23T06:00:00Z"), 3},
		{"before the incident", utc("2026-11-22T20:00:00Z"), utc("2026-11-23T02:00:00Z"), 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			want, err := e.Run(context.Background(), Request{Query: full, From: tt.from, To: tt.to})
			require.NoError(t, err)
			got, err := e.Run(context.Background(), Request{Query: flag, From: tt.from, To: tt.to})
			require.NoError(t, err)
			require.Equal(t, want.Times, got.Times)
			require.InDelta(t, 3.0, got.Anomaly, 0)
			var flags []Series
			for _, s := range want.Series {
				if s.Role == RoleAnomaly {
					flags = append(flags, s)
				}
			}
			require.Len(t, flags, 2, "tmall and jd")
			require.Equal(t, flags, got.Series)
			n := 0
			for _, s := range got.Series {
				for _, v := range s.Values {
					if v != nil && *v == 1 {
						n++
					}
				}
			}
			require.Equal(t, tt.flagged, n)
		})
	}
}

func TestAnomalyFlagOnlyErrors(t *testing.T) {
	from := utc("2026-11-23T02:00:00Z")
	e := anomalyEngine(t, anomalyData())
	e.SeriesLimit = 2
	q, err := models.ParseQuery([]byte(`{"kpi":"gmv","interval":"1h","groupBy":["store"],"anomaly":{"weeks":4,"flagOnly":true}}`))
	require.NoError(t, err)
	res, err := e.Run(context.Background(), Request{Query: q, From: from, To: from.Add(time.Hour)})
	require.NoError(t, err, "the series limit counts one series per store")
	require.Len(t, res.Series, 2)

	_, _, err = e.AnomalyRegions(context.Background(), Request{Query: q, From: from, To: from.Add(time.Hour)})
	requirePluginError(t, err, "flagOnly is for kpi queries")
}
