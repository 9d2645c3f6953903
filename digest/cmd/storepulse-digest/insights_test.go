package main

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/data"
	"github.com/grafana/grafana-plugin-sdk-go/experimental"
	"github.com/stretchr/testify/require"

	"github.com/storepulse/storepulse/datasource/pkg/plugin/plugintest"
	"github.com/storepulse/storepulse/digest/briefing"
	"github.com/storepulse/storepulse/digest/internal/digesttest"
	"github.com/storepulse/storepulse/internal/localday"
)

// TestInsightsQuery runs the datasource's insights query type over gRPC
// (the plugin on a clock stopped at 2026-05-20 07:00 Shanghai) against the
// fixed simulated data set in a real InfluxDB 1.8: its table is pinned by a
// golden frame, and every number, reason, action and link of it equals what
// storepulse-digest's JSON says for the same day, store and data.
func TestInsightsQuery(t *testing.T) {
	f := digesttest.Start(t)
	env := map[string]string{
		"STOREPULSE_DIGEST_INFLUX_URL":    f.Server.URL,
		"STOREPULSE_DIGEST_INFLUX_TOKEN":  f.Server.Token,
		"STOREPULSE_DIGEST_INFLUX_BUCKET": f.Server.Bucket,
	}
	getenv := func(k string) string { return env[k] }
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	digestJSON := func(t *testing.T, args ...string) briefing.Briefing {
		var stdout, stderr bytes.Buffer
		require.NoError(t, run(ctx, append([]string{"--format", "json"}, args...), &stdout, &stderr, getenv, digesttest.Now), stderr.String())
		var br briefing.Briefing
		require.NoError(t, json.Unmarshal(stdout.Bytes(), &br))
		return br
	}
	c := plugintest.ServeAt(t, digesttest.Now())
	pc := plugintest.Context(f.Server, "storepulse-kpi", "Asia/Shanghai")
	loc := digesttest.Shanghai()
	dayStart := func(date string) time.Time {
		d, err := time.ParseInLocation(time.DateOnly, date, loc)
		require.NoError(t, err)
		return d
	}
	// The drill-down's range on the morning after: the last 7 days to now.
	now := digesttest.Now()
	lastWeek := localday.AddDays(localday.Floor(now, loc), -7, loc)

	t.Run("incident day equals the briefing", func(t *testing.T) {
		want := digestJSON(t, "--date", digesttest.IncidentDay)
		require.NotEmpty(t, want.Changes)
		r := plugintest.Query(ctx, t, c, pc, "A", "insights", []byte(`{}`), lastWeek, now)
		require.NoError(t, r.Error, plugintest.String(r))
		experimental.CheckGoldenJSONResponse(t, "testdata/golden", "insights-"+digesttest.IncidentDay, &r, *update)
		require.Len(t, r.Frames, 1)
		fr := r.Frames[0]
		require.Equal(t, digesttest.IncidentDay, fr.Meta.Custom.(map[string]any)["date"])
		requireSameChanges(t, want.Changes, fr)
		// The planted incident comes first: explained by store s001, the
		// orders step, the checkout rule.
		require.Equal(t, "store", cell[string](t, fr, "dimension", 0))
		require.Equal(t, digesttest.IncidentStore, cell[string](t, fr, "dimensionValue", 0))
		require.Equal(t, "orders", cell[string](t, fr, "funnelStep", 0))
		require.Equal(t, "checkout-broken", cell[string](t, fr, "rule", 0))
		require.Equal(t, "bad", cell[string](t, fr, "tone", 0))
	})

	t.Run("one store equals its briefing", func(t *testing.T) {
		want := digestJSON(t, "--date", digesttest.IncidentDay, "--store", digesttest.IncidentStore)
		require.NotEmpty(t, want.Changes)
		r := plugintest.Query(ctx, t, c, pc, "A", "insights", []byte(`{"filters":{"store":["`+digesttest.IncidentStore+`"]}}`), lastWeek, now)
		require.NoError(t, r.Error, plugintest.String(r))
		require.Len(t, r.Frames, 1)
		require.Equal(t, digesttest.IncidentStore, r.Frames[0].Meta.Custom.(map[string]any)["store"])
		requireSameChanges(t, want.Changes, r.Frames[0])
	})

	t.Run("quiet day: nothing unusual", func(t *testing.T) {
		want := digestJSON(t, "--date", digesttest.QuietDay)
		require.True(t, want.NothingUnusual)
		end := localday.Next(dayStart(digesttest.QuietDay), loc) // the range ends at the day's end
		r := plugintest.Query(ctx, t, c, pc, "A", "insights", []byte(`{}`), localday.AddDays(end, -7, loc), end)
		require.NoError(t, r.Error, plugintest.String(r))
		experimental.CheckGoldenJSONResponse(t, "testdata/golden", "insights-"+digesttest.QuietDay, &r, *update)
		require.Len(t, r.Frames, 1)
		fr := r.Frames[0]
		require.Equal(t, digesttest.QuietDay, fr.Meta.Custom.(map[string]any)["date"])
		require.Zero(t, fr.Rows())
		require.Len(t, fr.Meta.Notices, 1)
		require.Contains(t, fr.Meta.Notices[0].Text, "Nothing unusual on "+digesttest.QuietDay)
		// Grafana's "Yesterday" ends a millisecond before midnight: the same day.
		r = plugintest.Query(ctx, t, c, pc, "A", "insights", []byte(`{}`), dayStart(digesttest.QuietDay), end.Add(-time.Millisecond))
		require.NoError(t, r.Error, plugintest.String(r))
		require.Equal(t, digesttest.QuietDay, r.Frames[0].Meta.Custom.(map[string]any)["date"])
	})

	t.Run("bad queries are the query's fault", func(t *testing.T) {
		for _, tt := range []struct {
			name, model string
			from, to    time.Time
			msg         string
		}{
			{"no whole day in the range", `{}`, now.Add(-6 * time.Hour), now, "whole local day"},
			{"two stores", `{"filters":{"store":["s001","s002"]}}`, lastWeek, now, "one store or all"},
			{"another filter", `{"filters":{"channel":["app"]}}`, lastWeek, now, "store only"},
			{"bad sensitivity", `{"anomaly":{"sensitivity":"extreme"}}`, lastWeek, now, "sensitivity"},
		} {
			t.Run(tt.name, func(t *testing.T) {
				r := plugintest.Query(ctx, t, c, pc, "A", "insights", []byte(tt.model), tt.from, tt.to)
				require.Error(t, r.Error)
				require.Equal(t, backend.ErrorSourcePlugin, r.ErrorSource)
				require.Equal(t, backend.StatusBadRequest, r.Status)
				require.Contains(t, r.Error.Error(), tt.msg)
			})
		}
	})
}

// requireSameChanges checks the table row by row against the briefing's
// changes: the same numbers, reasons, actions and links.
func requireSameChanges(t *testing.T, want []briefing.Change, fr *data.Frame) {
	t.Helper()
	require.Equal(t, len(want), fr.Rows())
	for i, c := range want {
		require.Equal(t, int64(c.Rank), cell[int64](t, fr, "rank", i))
		require.Equal(t, c.KPI, cell[string](t, fr, "kpi", i))
		require.Equal(t, c.Store, cell[string](t, fr, "store", i))
		require.Equal(t, c.Value, cell[float64](t, fr, "value", i), c.KPI)
		require.Equal(t, c.Expected, cell[float64](t, fr, "expected", i), c.KPI)
		require.InDelta(t, c.Value-c.Expected, cell[float64](t, fr, "delta", i), 1e-9*max(1, c.Value), c.KPI)
		require.Equal(t, c.Score, cell[float64](t, fr, "score", i), c.KPI)
		require.Equal(t, c.Impact.Currency, cell[*float64](t, fr, "impact", i), c.KPI)
		require.Equal(t, c.Impact.Value, cell[float64](t, fr, "impactValue", i), c.KPI)
		require.Equal(t, c.Direction, cell[string](t, fr, "direction", i))
		require.Equal(t, c.Tone, cell[string](t, fr, "tone", i))
		require.Equal(t, c.Link, cell[string](t, fr, "link", i))
		var dim, value, step string
		var share *float64
		for _, r := range c.Reasons {
			switch {
			case r.Kind == briefing.ReasonDimension && dim == "":
				dim, value = r.Dimension, r.Value
				if s, ok := r.Numbers["share"]; ok {
					share = &s
				}
			case r.Kind == briefing.ReasonFunnel && step == "":
				step = r.Value
			}
		}
		require.Equal(t, dim, cell[string](t, fr, "dimension", i), c.KPI)
		require.Equal(t, value, cell[string](t, fr, "dimensionValue", i), c.KPI)
		require.Equal(t, share, cell[*float64](t, fr, "share", i), c.KPI)
		require.Equal(t, step, cell[string](t, fr, "funnelStep", i), c.KPI)
		if len(c.Actions) > 0 {
			require.Equal(t, c.Actions[0].Rule, cell[string](t, fr, "rule", i))
			require.Equal(t, c.Actions[0].Action, cell[string](t, fr, "action", i))
			require.Equal(t, c.Actions[0].Owner, cell[string](t, fr, "owner", i))
		}
	}
}

func cell[T any](t *testing.T, fr *data.Frame, name string, i int) T {
	t.Helper()
	f, idx := fr.FieldByName(name)
	require.GreaterOrEqual(t, idx, 0, "field %s", name)
	v, ok := f.At(i).(T)
	require.True(t, ok, "field %s is %T", name, f.At(i))
	return v
}
