package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestConfigFromFlags(t *testing.T) {
	loc, err := time.LoadLocation("Asia/Shanghai")
	require.NoError(t, err)
	now := time.Date(2026, 11, 20, 15, 30, 0, 0, loc)
	tests := []struct {
		name      string
		args      []string
		wantStart time.Time
		wantEnd   time.Time // zero: start + days
		wantErr   bool
	}{
		{"file defaults to the days before today", []string{"file", "--days", "3"}, time.Date(2026, 11, 17, 0, 0, 0, 0, loc), time.Time{}, false},
		{"backfill stops at now", []string{"backfill", "--days", "3", "--start", "2026-11-19"}, time.Date(2026, 11, 19, 0, 0, 0, 0, loc), now, false},
		{"live starts now", []string{"live"}, now, time.Time{}, false},
		{"bad start", []string{"file", "--start", "yesterday"}, time.Time{}, time.Time{}, true},
		{"bad tz", []string{"file", "--tz", "Mars/Olympus"}, time.Time{}, time.Time{}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o, err := parseFlags(tc.args, &bytes.Buffer{}, func(string) string { return "envtok" })
			require.NoError(t, err)
			require.Equal(t, "envtok", o.token)
			cfg, err := config(o, now)
			if tc.wantErr {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			require.True(t, tc.wantStart.Equal(cfg.Start), "start %s", cfg.Start)
			require.True(t, tc.wantEnd.Equal(cfg.End), "end %s", cfg.End)
		})
	}
}

func TestFileMode(t *testing.T) {
	dir := t.TempDir()
	p := func(n string) string { return filepath.Join(dir, n) }
	args := []string{"file", "--stores", "2", "--days", "3", "--start", "2026-03-02", "--seed", "9", "--scale", "0.3",
		"--out", p("ev.ndjson"), "--labels", p("labels.json"), "--campaigns", p("campaigns.json"), "--targets", p("targets.json")}
	var stderr bytes.Buffer
	require.NoError(t, run(context.Background(), args, &bytes.Buffer{}, &stderr, func(string) string { return "" }, time.Now))
	ev, err := os.ReadFile(p("ev.ndjson"))
	require.NoError(t, err)
	require.Greater(t, bytes.Count(ev, []byte("\n")), 100)
	var labels []map[string]any
	b, err := os.ReadFile(p("labels.json"))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &labels))
	require.Len(t, labels, 5)
	for _, f := range []string{"campaigns.json", "targets.json"} {
		b, err := os.ReadFile(p(f))
		require.NoError(t, err)
		var v []json.RawMessage
		require.NoError(t, json.Unmarshal(b, &v))
		require.NotEmpty(t, v, f)
	}
	require.Error(t, run(context.Background(), []string{"replay"}, &bytes.Buffer{}, &stderr, func(string) string { return "" }, time.Now))
}
