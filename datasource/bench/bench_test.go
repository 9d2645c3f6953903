package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/stretchr/testify/require"

	"github.com/storepulse/storepulse/datasource/pkg/plugin/plugintest"
	"github.com/storepulse/storepulse/ingest/sim"
	"github.com/storepulse/storepulse/internal/influxtest"
	"github.com/storepulse/storepulse/internal/kpi"
	"github.com/storepulse/storepulse/internal/simload"
	"github.com/storepulse/storepulse/internal/testclock"
)

const wallJSON = "../../dashboards/storepulse-wall.json"

func TestGrafanaTime(t *testing.T) {
	sh, err := time.LoadLocation(TimeZone)
	require.NoError(t, err)
	now := time.Date(2026, 11, 24, 17, 30, 0, 0, sh) // a Tuesday
	for _, tc := range []struct {
		expr    string
		roundUp bool
		want    time.Time
	}{
		{"now", false, now},
		{"now/d", false, time.Date(2026, 11, 24, 0, 0, 0, 0, sh)},
		{"now/d", true, time.Date(2026, 11, 25, 0, 0, 0, 0, sh).Add(-time.Millisecond)},
		{"now-6d/d", false, time.Date(2026, 11, 18, 0, 0, 0, 0, sh)},
		{"now-1h", false, now.Add(-time.Hour)},
		{"now/w", false, time.Date(2026, 11, 23, 0, 0, 0, 0, sh)},
		{"now-2w/w", true, time.Date(2026, 11, 16, 0, 0, 0, 0, sh).Add(-time.Millisecond)},
	} {
		t.Run(tc.expr, func(t *testing.T) {
			got, err := grafanaTime(tc.expr, now, sh, tc.roundUp)
			require.NoError(t, err)
			require.True(t, tc.want.Equal(got), "got %s", got)
		})
	}
	for _, bad := range []string{"now-6M", "2026-11-24", "now+1d", ""} {
		_, err := grafanaTime(bad, now, sh, false)
		require.Error(t, err, bad)
	}
}

func TestLoadWallScreen(t *testing.T) {
	sh, err := time.LoadLocation(TimeZone)
	require.NoError(t, err)
	now := time.Date(2026, 11, 24, 17, 0, 0, 0, sh)
	s, err := LoadScreen(wallJSON, now, "db/autogen")
	require.NoError(t, err)
	require.NotEmpty(t, s.Panels)
	var bigNumbers, annotations int
	for _, p := range s.Panels {
		require.NotEmpty(t, p.Queries, p.Title)
		if p.Kind == "annotation" {
			annotations++
			require.Zero(t, p.Queries[0].MaxDataPoints, "annotation requests carry no maxDataPoints")
			continue
		}
		require.Positive(t, p.Queries[0].MaxDataPoints, p.Title)
		if p.KPI != nil {
			bigNumbers++
			require.True(t, time.Date(2026, 11, 18, 0, 0, 0, 0, sh).Equal(p.From), "%s: a week of days up to today: %s", p.Title, p.From)
			require.True(t, now.Equal(p.To), p.Title)
			require.Contains(t, p.Raw, "timeShift(duration: 8h)", p.Title)
			require.Contains(t, p.Raw, "timeShift(duration: 160h)", "%s: the earlier week moved onto this one", p.Title)
		}
	}
	require.GreaterOrEqual(t, bigNumbers, 5, "the wall's big numbers have raw equivalents")
	require.Positive(t, annotations)
}

func TestRawForLeavesTransformsToThePlugin(t *testing.T) {
	sh, err := time.LoadLocation(TimeZone)
	require.NoError(t, err)
	now := time.Date(2026, 11, 24, 17, 0, 0, 0, sh)
	q := func(queryType, model string) backend.DataQuery {
		return backend.DataQuery{RefID: "A", QueryType: queryType, JSON: json.RawMessage(model),
			TimeRange: backend.TimeRange{From: now.AddDate(0, 0, -6), To: now}}
	}
	for _, tc := range []struct {
		name  string
		q     backend.DataQuery
		shape string
		err   bool
	}{
		{"sum big number", q("kpi", `{"refId":"A","kpi":"gmv","interval":"day","compare":"1w","compareOutputs":["change"],"target":true}`), "sum", false},
		{"ratio with distinct", q("", `{"kpi":"arpu","interval":"day","compare":"1w"}`), "ratio with distinct", false},
		{"hourly: not a big number", q("kpi", `{"kpi":"gmv","interval":"1h","compare":"1w"}`), "", false},
		{"anomaly band", q("kpi", `{"kpi":"gmv","interval":"1h","anomaly":{}}`), "", false},
		{"forecast", q("kpi", `{"kpi":"gmv","forecast":{"horizon":"day"}}`), "", false},
		{"grouped", q("kpi", `{"kpi":"gmv","interval":"day","compare":"1w","groupBy":["store"]}`), "", false},
		{"calendar", q("calendar", `{}`), "", false},
		{"freshness", q("freshness", `{}`), ShapeFreshness, false},
		{"net revenue: two terms", q("kpi", `{"kpi":"net_revenue","interval":"day","compare":"1w"}`), "", true},
		{"complement ratio", q("kpi", `{"kpi":"cart_abandonment","interval":"day","compare":"1w"}`), "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			flux, shape, _, err := RawFor(tc.q, kpi.Default(), "db/autogen", sh)
			if tc.err {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.shape, shape)
			require.Equal(t, tc.shape != "", flux != "")
		})
	}
}

// TestWallSmoke runs the wall screen on every side against a small simulated
// InfluxDB, with the plugin in process, and checks that the raw Flux gives the
// plugin's numbers for sums and ratios of sums.
func TestWallSmoke(t *testing.T) {
	srv := influxtest.Start(t)
	loc, err := time.LoadLocation(TimeZone)
	require.NoError(t, err)
	end := latestTimeOfDay(testclock.Now(), 17*time.Hour, loc)
	simload.Into(t, srv, sim.Config{Seed: 5, NumStores: 2, Start: end.AddDate(0, 0, -14), End: end, Location: loc})
	screen, err := LoadScreen(wallJSON, end, srv.Bucket)
	require.NoError(t, err)
	s, err := newSetup(srv, plugintest.ServeWithClock(t, func() time.Time { return end }), screen, time.Minute)
	require.NoError(t, err)
	defer s.raw.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	diffs, err := s.check(ctx)
	require.NoError(t, err)
	today := midnightOf(end, loc).UTC()
	for n, i := range s.comparable {
		p, d := screen.Panels[i], diffs[n]
		if p.Shape == ShapeFreshness {
			require.Equal(t, 2, d.PluginStores)
			require.Equal(t, d.PluginStores, d.RawStores)
			require.Less(t, d.AgeDiff, time.Minute, "the plugin counts from the newest point's minute")
			continue
		}
		require.Equal(t, 7, d.PluginDays, p.Title)
		if len(p.KPI.DistinctKinds()) > 0 {
			continue // the raw side adds estimates up: not the same number
		}
		require.Equal(t, d.PluginDays, d.RawDays, p.Title)
		require.InDelta(t, 0, RelDiff(d.Plugin.at(SeriesCurrent, today), d.Raw.at(SeriesCurrent, today)), 1e-9, p.Title)
		require.InDelta(t, 0, d.OtherDays, 1e-9, "%s: whole days agree", p.Title)
		if _, ok := d.Plugin[SeriesTarget]; ok {
			require.InDelta(t, d.Plugin.at(SeriesTarget, today), d.Raw.at(SeriesTarget, today), 1e-9, p.Title)
		}
	}

	res, err := s.measure(ctx, Options{Iterations: 1, Warmup: 0, Log: &bytes.Buffer{}})
	require.NoError(t, err)
	for side := range numSides {
		require.Len(t, res[side], 1, side.String())
		require.Positive(t, res[side][0].Total)
	}
	var out bytes.Buffer
	report(&out, reportData{opts: Options{Iterations: 1}, screen: screen, comparable: s.comparable, results: res, diffs: diffs})
	require.Contains(t, out.String(), "| cold within 1.3× of raw Flux |")
	require.False(t, strings.Contains(out.String(), "NaN"), out.String())
}
