package simload_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/storepulse/storepulse/ingest/sim"
	"github.com/storepulse/storepulse/internal/influxtest"
	"github.com/storepulse/storepulse/internal/simload"
)

func TestLoadWritesEventsCampaignsAndTargets(t *testing.T) {
	srv := influxtest.Start(t)
	start := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	res := simload.Into(t, srv, sim.Config{Seed: 3, NumStores: 2, Days: 2, Start: start})
	require.Positive(t, res.Events)
	require.NotEmpty(t, res.Targets)

	for m, f := range map[string]string{"sp_orders": "orders", "sp_distinct": "estimate", "sp_target": "value", "sp_campaign": "deleted"} {
		out, err := srv.Query(context.Background(), `from(bucket: "`+srv.Bucket+`")
  |> range(start: 2026-10-01T00:00:00Z, stop: 2026-12-01T00:00:00Z)
  |> filter(fn: (r) => r._measurement == "`+m+`" and r._field == "`+f+`")
  |> group() |> count()`)
		require.NoError(t, err)
		require.True(t, strings.Contains(out, "_value"), "%s: %s", m, out)
		require.NotContains(t, out, ",0\r\n", "%s has no points: %s", m, out)
	}
}
