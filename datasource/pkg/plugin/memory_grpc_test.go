package plugin_test

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/stretchr/testify/require"

	"github.com/storepulse/storepulse/datasource/pkg/plugin"
	"github.com/storepulse/storepulse/datasource/pkg/plugin/plugintest"
	"github.com/storepulse/storepulse/ingest/sim"
	"github.com/storepulse/storepulse/internal/clock"
	"github.com/storepulse/storepulse/internal/influxtest"
	"github.com/storepulse/storepulse/internal/simload"
)

// peakHeap samples the process heap every 5 ms until stop is called and
// returns the largest HeapAlloc seen.
func peakHeap() (stop func() uint64) {
	var peak atomic.Uint64
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapAlloc > peak.Load() {
				peak.Store(ms.HeapAlloc)
			}
			select {
			case <-done:
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	}()
	return func() uint64 { close(done); wg.Wait(); return peak.Load() }
}

// TestRequestMemoryLimitGRPC loads 12 days of simulated stores into a real
// InfluxDB and, over gRPC, sends one request of 10 fine-grained queries
// (GMV by store at 1 minute over the 12 days): each is refused with the
// memory-limit error, and the process heap stays bounded while the request
// runs; the same 10 queries over 6 hours fit the budget and are served. A
// normal dashboard request (hourly and 5-minute panels) still works.
func TestRequestMemoryLimitGRPC(t *testing.T) {
	srv := influxtest.Start(t)
	sh, err := time.LoadLocation("Asia/Shanghai")
	require.NoError(t, err)
	start := time.Date(2026, 3, 2, 0, 0, 0, 0, sh)
	const days = 12
	simload.Into(t, srv, sim.Config{Seed: 1, NumStores: 6, Scale: 1, Days: days, Start: start})
	end := start.AddDate(0, 0, days)
	c := plugintest.ServeAt(t, end)
	pc := withTimeout(t, plugintest.Context(srv, "storepulse-kpi", ""), 120)
	ctx := context.Background()

	run := func(t *testing.T, model string, n int, from, to time.Time) *backend.QueryDataResponse {
		t.Helper()
		req := &backend.QueryDataRequest{PluginContext: pc}
		for i := range n {
			req.Queries = append(req.Queries, backend.DataQuery{RefID: fmt.Sprintf("Q%d", i), JSON: json.RawMessage(model),
				TimeRange: backend.TimeRange{From: from, To: to}, Interval: time.Minute, MaxDataPoints: 100000})
		}
		res, err := c.QueryData(ctx, req)
		require.NoError(t, err)
		require.Len(t, res.Responses, n)
		return res
	}

	t.Run("ten fine-grained queries are refused, heap bounded", func(t *testing.T) {
		runtime.GC()
		var base runtime.MemStats
		runtime.ReadMemStats(&base)
		stop := peakHeap()
		res := run(t, `{"kpi":"gmv","interval":"1m","groupBy":["store"],"compare":"previous_period"}`, 10, start, end)
		peak := stop()
		grew := int64(peak) - int64(base.HeapAlloc)
		t.Logf("heap %d MB before, peak %d MB during the request", base.HeapAlloc>>20, peak>>20)
		for ref, r := range res.Responses {
			require.Error(t, r.Error, "%s was served: %s", ref, plugintest.String(r))
			require.Contains(t, r.Error.Error(), "memory limit", ref)
			require.Contains(t, r.Error.Error(), "larger interval", ref)
			require.Equal(t, backend.ErrorSourcePlugin, r.ErrorSource, ref)
			require.Equal(t, backend.StatusBadRequest, r.Status, ref)
		}
		require.Less(t, grew, int64(256<<20), "the request grew the heap by %d MB", grew>>20)
	})

	t.Run("ten fine-grained queries over a shorter range are served within the budget", func(t *testing.T) {
		runtime.GC()
		var base runtime.MemStats
		runtime.ReadMemStats(&base)
		stop := peakHeap()
		// 6 h at 1 m by store: 362 buckets x 500 series x 128 B = 22 MB each, 10 of them under 256 MB.
		res := run(t, `{"kpi":"gmv","interval":"1m","groupBy":["store"]}`, 10, end.Add(-6*time.Hour), end)
		peak := stop()
		grew := int64(peak) - int64(base.HeapAlloc)
		t.Logf("heap %d MB before, peak %d MB during the request", base.HeapAlloc>>20, peak>>20)
		for ref, r := range res.Responses {
			require.NoError(t, r.Error, "%s: %s", ref, plugintest.String(r))
			require.NotEmpty(t, r.Frames, ref)
		}
		require.Less(t, grew, int64(256<<20), "the request grew the heap by %d MB", grew>>20)
	})

	t.Run("the plugin process's budget binds every datasource it serves", func(t *testing.T) {
		// A plugin started with memory_mb = 8: a 1-minute query by store over a day
		// (1442 buckets x 500 series x 128 B = 88 MB) fits the request's and
		// the datasource's defaults, not the process's, on either datasource.
		small := plugintest.ServeWithMemory(t, clock.Shifted(end), plugin.NewProcessMemory(8))
		for _, uid := range []string{"storepulse-a", "storepulse-b"} {
			res, err := small.QueryData(ctx, &backend.QueryDataRequest{PluginContext: plugintest.Context(srv, uid, ""), Queries: []backend.DataQuery{{
				RefID: "A", JSON: json.RawMessage(`{"kpi":"gmv","interval":"1m","groupBy":["store"]}`),
				TimeRange: backend.TimeRange{From: end.AddDate(0, 0, -1), To: end}, Interval: time.Minute, MaxDataPoints: 100000}}})
			require.NoError(t, err)
			r := res.Responses["A"]
			require.Error(t, r.Error, uid)
			require.Contains(t, r.Error.Error(), "plugin's 8 MB memory limit", uid)
			require.Equal(t, backend.ErrorSourcePlugin, r.ErrorSource, uid)
			// An hourly query of the same day is served.
			res, err = small.QueryData(ctx, &backend.QueryDataRequest{PluginContext: plugintest.Context(srv, uid, ""), Queries: []backend.DataQuery{{
				RefID: "B", JSON: json.RawMessage(`{"kpi":"gmv","interval":"1h"}`),
				TimeRange: backend.TimeRange{From: end.AddDate(0, 0, -1), To: end}, Interval: time.Minute, MaxDataPoints: 1000}}})
			require.NoError(t, err)
			require.NoError(t, res.Responses["B"].Error, uid)
			require.NotEmpty(t, res.Responses["B"].Frames, uid)
		}
	})

	t.Run("a normal dashboard request works", func(t *testing.T) {
		from := end.AddDate(0, 0, -7)
		for _, model := range []string{
			`{"kpi":"gmv","interval":"1h","groupBy":["store"],"compare":"previous_period"}`,
			`{"kpi":"orders","interval":"5m"}`,
		} {
			res := run(t, model, 4, from, end)
			for ref, r := range res.Responses {
				require.NoError(t, r.Error, "%s %s: %s", model, ref, plugintest.String(r))
				require.NotEmpty(t, r.Frames, ref)
			}
		}
	})
}
