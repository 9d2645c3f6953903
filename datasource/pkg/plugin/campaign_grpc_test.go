package plugin_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/data"
	influxdb2 "github.com/influxdata/influxdb-client-go/v2"
	"github.com/stretchr/testify/require"

	"github.com/storepulse/storepulse/datasource/pkg/plugin/plugintest"
	"github.com/storepulse/storepulse/ingest/sim"
	"github.com/storepulse/storepulse/internal/influxtest"
	"github.com/storepulse/storepulse/internal/simload"
)

// fluxSum is an independent reading of the stored numbers: the sum of one
// field of sp_orders over [start, stop), for one store or all ("").
func fluxSum(ctx context.Context, t *testing.T, srv *influxtest.Server, field, store string, start, stop time.Time) float64 {
	t.Helper()
	client := influxdb2.NewClient(srv.URL, srv.Token)
	defer client.Close()
	storeFilter := ""
	if store != "" {
		storeFilter = fmt.Sprintf(` and r.store == %q`, store)
	}
	res, err := client.QueryAPI(srv.Org).Query(ctx, fmt.Sprintf(`from(bucket: %q)
  |> range(start: %s, stop: %s)
  |> filter(fn: (r) => r._measurement == "sp_orders" and r._field == %q%s)
  |> group()
  |> sum()`, srv.Bucket, start.UTC().Format(time.RFC3339), stop.UTC().Format(time.RFC3339), field, storeFilter))
	require.NoError(t, err)
	defer func() { _ = res.Close() }()
	total := 0.0
	for res.Next() {
		v, ok := res.Record().Value().(float64)
		require.True(t, ok, "%T", res.Record().Value())
		total += v
	}
	require.NoError(t, res.Err())
	return total
}

// daySums are fluxSum per local day from first, n days.
func daySums(ctx context.Context, t *testing.T, srv *influxtest.Server, field, store string, first time.Time, n int) []float64 {
	out := make([]float64, n)
	for i := range out {
		d := first.AddDate(0, 0, i)
		out[i] = fluxSum(ctx, t, srv, field, store, d, d.AddDate(0, 0, 1))
	}
	return out
}

func floatsOf(t *testing.T, f *data.Field) []float64 {
	t.Helper()
	out := make([]float64, f.Len())
	for i := range out {
		v, ok := f.ConcreteAt(i)
		require.True(t, ok, "%s row %d is null", f.Name, i)
		out[i] = v.(float64)
	}
	return out
}

// TestCampaignCompareAndUpliftGRPC simulates two stores over the weeks
// around the 99 Shopping Day of 2025 and of 2026 (warm-up 3 Sep, peak 9
// Sep, after-sales to 14 Sep; weekly member days on the Wednesdays before),
// loads them into InfluxDB 1.8 and checks compare campaign and uplift,
// served over gRPC, against sums read with Flux written here.
func TestCampaignCompareAndUpliftGRPC(t *testing.T) {
	srv := influxtest.Start(t)
	sh, err := time.LoadLocation("Asia/Shanghai")
	require.NoError(t, err)
	for _, y := range []int{2025, 2026} {
		res := simload.Into(t, srv, sim.Config{Seed: 5, NumStores: 2, Location: sh,
			Start: time.Date(y, 8, 20, 0, 0, 0, 0, sh), End: time.Date(y, 9, 15, 0, 0, 0, 0, sh)})
		require.Positive(t, res.Events)
	}
	ctx := context.Background()
	c := plugintest.ServeAt(t, time.Date(2026, 9, 15, 0, 0, 0, 0, sh))
	pc := plugintest.Context(srv, "storepulse-kpi", "")
	warmUp26, end26 := time.Date(2026, 9, 3, 0, 0, 0, 0, sh), time.Date(2026, 9, 14, 0, 0, 0, 0, sh)
	warmUp25 := time.Date(2025, 9, 3, 0, 0, 0, 0, sh)
	days := 11

	t.Run("compare campaign: day n of this 99 against day n of last year's", func(t *testing.T) {
		r := plugintest.Query(ctx, t, c, pc, "A", "kpi", []byte(`{"kpi":"gmv","interval":"day","compare":"campaign"}`), warmUp26, end26)
		require.NoError(t, r.Error, plugintest.String(r))
		require.Len(t, r.Frames, 4)
		cur, prev := r.Frames[0].Fields[1], r.Frames[1].Fields[1]
		require.Equal(t, data.Labels{"compare": "campaign", "output": "series"}, prev.Labels)
		require.Equal(t, "GMV (same campaign last year)", prev.Config.DisplayNameFromDS)
		require.Equal(t, "99-2025", r.Frames[1].Meta.Custom.(map[string]any)["previousCampaign"])
		want26, want25 := daySums(ctx, t, srv, "gmv", "", warmUp26, days), daySums(ctx, t, srv, "gmv", "", warmUp25, days)
		require.InDeltaSlice(t, want26, floatsOf(t, cur), 1e-6)
		require.InDeltaSlice(t, want25, floatsOf(t, prev), 1e-6)
		require.Greater(t, want26[6], 2*want26[0], "the peak (9 Sep) stands out")
		change := floatsOf(t, r.Frames[3].Fields[1])
		for i := range change {
			require.InDelta(t, (want26[i]-want25[i])/want25[i], change[i], 1e-9, i)
		}
	})

	t.Run("compare campaign: a range over two kinds is the query's fault", func(t *testing.T) {
		r := plugintest.Query(ctx, t, c, pc, "A", "kpi", []byte(`{"kpi":"gmv","interval":"day","compare":"campaign"}`),
			time.Date(2026, 8, 26, 0, 0, 0, 0, sh), end26)
		require.ErrorContains(t, r.Error, "overlaps campaigns of 2 kinds")
		require.Equal(t, backend.ErrorSourcePlugin, r.ErrorSource)
	})

	// The baseline: the 14 days before 3 Sep 2026 less the member days (26
	// Aug and 2 Sep): 12 days.
	var baseDays []time.Time
	for d := warmUp26.AddDate(0, 0, -14); d.Before(warmUp26); d = d.AddDate(0, 0, 1) {
		if d.Weekday() != time.Wednesday {
			baseDays = append(baseDays, d)
		}
	}
	require.Len(t, baseDays, 12)
	sumOver := func(field, store string, ds []time.Time) float64 {
		total := 0.0
		for _, d := range ds {
			total += fluxSum(ctx, t, srv, field, store, d, d.AddDate(0, 0, 1))
		}
		return total
	}

	t.Run("uplift of GMV per store: per-day averages", func(t *testing.T) {
		r := plugintest.Query(ctx, t, c, pc, "A", "kpi", []byte(`{"kpi":"gmv","uplift":{"baselineDays":14},"groupBy":["store"]}`), warmUp26, end26)
		require.NoError(t, r.Error, plugintest.String(r))
		require.Len(t, r.Frames, 1)
		f := r.Frames[0]
		require.Equal(t, 2, f.Rows())
		names := map[string]int{}
		for i, fl := range f.Fields {
			names[fl.Name] = i
		}
		for row, store := range []string{"s001", "s002"} {
			require.Equal(t, "99-2026", f.Fields[names["campaign"]].At(row))
			require.Equal(t, store, f.Fields[names["store"]].At(row))
			during := fluxSum(ctx, t, srv, "gmv", store, warmUp26, end26) / float64(days)
			baseline := sumOver("gmv", store, baseDays) / 12
			got := func(name string) float64 {
				v, ok := f.Fields[names[name]].ConcreteAt(row)
				require.True(t, ok, name)
				return v.(float64)
			}
			require.InDelta(t, during, got("during"), 1e-6)
			require.InDelta(t, baseline, got("baseline"), 1e-6)
			require.InDelta(t, during/baseline-1, got("uplift"), 1e-9)
			require.Positive(t, got("uplift"), "a promotion sells more per day")
		}
	})

	t.Run("uplift of AOV: sum/sum", func(t *testing.T) {
		r := plugintest.Query(ctx, t, c, pc, "A", "kpi", []byte(`{"kpi":"aov","uplift":{"baselineDays":14},"filters":{"store":["s001"]}}`), warmUp26, end26)
		require.NoError(t, r.Error, plugintest.String(r))
		f := r.Frames[0]
		require.Equal(t, 1, f.Rows())
		during := fluxSum(ctx, t, srv, "gmv", "s001", warmUp26, end26) / fluxSum(ctx, t, srv, "orders", "s001", warmUp26, end26)
		baseline := sumOver("gmv", "s001", baseDays) / sumOver("orders", "s001", baseDays)
		v, _ := f.FieldByName("during")
		b, _ := f.FieldByName("baseline")
		u, _ := f.FieldByName("uplift")
		require.InDelta(t, during, floatsOf(t, v)[0], 1e-9)
		require.InDelta(t, baseline, floatsOf(t, b)[0], 1e-9)
		require.InDelta(t, during/baseline-1, floatsOf(t, u)[0], 1e-9)
	})
}
