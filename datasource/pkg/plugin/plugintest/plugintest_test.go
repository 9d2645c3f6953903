package plugintest_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/storepulse/storepulse/datasource/pkg/plugin/plugintest"
	"github.com/storepulse/storepulse/ingest/sim"
	"github.com/storepulse/storepulse/internal/influxtest"
	"github.com/storepulse/storepulse/internal/simload"
)

func TestQueryOverGRPC(t *testing.T) {
	srv := influxtest.Start(t)
	start := time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC)
	simload.Into(t, srv, sim.Config{Seed: 5, NumStores: 2, Days: 1, Start: start})
	c := plugintest.ServeAt(t, start.Add(24*time.Hour))
	pc := plugintest.Context(srv, "storepulse-kpi", "")

	r := plugintest.Query(context.Background(), t, c, pc, "A", "kpi", []byte(`{"kpi":"orders","groupBy":["store"],"interval":"1h"}`),
		start, start.Add(24*time.Hour))
	require.NoError(t, r.Error, plugintest.String(r))
	require.Len(t, r.Frames, 2, "one frame per store")

	r = plugintest.Query(context.Background(), t, c, pc, "B", "kpi", []byte(`{"kpi":"no_such_kpi"}`), start, start.Add(time.Hour))
	require.Error(t, r.Error)
}
