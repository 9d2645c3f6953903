package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/storepulse/storepulse/digest/internal/digesttest"
	"github.com/storepulse/storepulse/digest/render"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// TestGolden writes the briefing of the fixed simulated data set (a real
// InfluxDB 1.8, the clock at 2026-05-20 07:00 Shanghai) in every format
// through the command and compares it with testdata/golden (go test -update
// rewrites them).
func TestGolden(t *testing.T) {
	f := digesttest.Start(t)
	env := map[string]string{
		"STOREPULSE_DIGEST_INFLUX_URL":    f.Server.URL,
		"STOREPULSE_DIGEST_INFLUX_TOKEN":  f.Server.Token,
		"STOREPULSE_DIGEST_INFLUX_BUCKET": f.Server.Bucket,
	}
	getenv := func(k string) string { return env[k] }
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	args := []string{"--format", strings.Join(render.Formats(), ","), "--out", dir, "--business", "Demo Retail", "--grafana-url", "https://grafana.example.com"}
	require.NoError(t, run(ctx, args, &stdout, &stderr, getenv, digesttest.Now), stderr.String())
	require.Empty(t, stdout.String())
	require.NotContains(t, stderr.String(), f.Server.Token)
	for _, format := range render.Formats() {
		t.Run(format, func(t *testing.T) {
			name := "briefing-" + digesttest.IncidentDay + "." + format + ".json"
			switch format {
			case render.FormatJSON:
				name = "briefing-" + digesttest.IncidentDay + ".json"
			case render.FormatMarkdown:
				name = "briefing-" + digesttest.IncidentDay + ".md"
			case render.FormatHTML:
				name = "briefing-" + digesttest.IncidentDay + ".html"
			}
			got, err := os.ReadFile(filepath.Join(dir, name))
			require.NoError(t, err)
			require.Contains(t, stderr.String(), name)
			if format != render.FormatMarkdown && format != render.FormatHTML {
				require.True(t, json.Valid(got), "%s is not JSON", format)
			}
			golden(t, name, got)
		})
	}
	t.Run("stdout", func(t *testing.T) {
		var stdout, stderr bytes.Buffer
		args := []string{"--format", "markdown", "--business", "Demo Retail", "--grafana-url", "https://grafana.example.com", "--date", digesttest.QuietDay}
		require.NoError(t, run(ctx, args, &stdout, &stderr, getenv, digesttest.Now), stderr.String())
		require.Contains(t, stdout.String(), "Nothing unusual")
		require.Contains(t, stdout.String(), "morning briefing for Tuesday, "+digesttest.QuietDay)
	})
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if *update {
		require.NoError(t, os.WriteFile(path, got, 0o600))
		return
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "missing golden file: go test ./digest/cmd/storepulse-digest -run TestGolden -update")
	require.Equal(t, string(want), string(got), "%s differs from the golden file", name)
}

// Bad configuration stops the command before it reads anything, saying what
// is wrong.
func TestConfigErrors(t *testing.T) {
	dir := t.TempDir()
	badPlaybook := filepath.Join(dir, "playbook.yaml")
	require.NoError(t, os.WriteFile(badPlaybook, []byte("version: 1\nrules:\n  - {id: x, kpi: [gmvv], action: a, owner: o}\n"), 0o600))
	badFile := filepath.Join(dir, "config.yaml")
	require.NoError(t, os.WriteFile(badFile, []byte("influx:\n  url: http://127.0.0.1:1\ncolour: red\n"), 0o600))
	tests := []struct {
		name string
		args []string
		env  map[string]string
		msg  string
	}{
		{"no url", nil, nil, "influx.url is required"},
		{"bad url", []string{"--influx-url", "ftp://user:secret@x"}, nil, `"ftp://user:xxxxx@x" is not an http(s) URL`},
		{"format", []string{"--influx-url", "http://127.0.0.1:1", "--format", "json,pdf"}, nil, `format "pdf"`},
		{"formats to a file", []string{"--influx-url", "http://127.0.0.1:1", "--format", "json,html", "--out", "x.json"}, nil, "existing directory"},
		{"date", []string{"--influx-url", "http://127.0.0.1:1", "--date", "19/05/2026"}, nil, `date "19/05/2026"`},
		{"zone", []string{"--influx-url", "http://127.0.0.1:1", "--timezone", "Asia/Kathmandu"}, nil, "whole number of hours"},
		{"unknown zone", nil, map[string]string{"STOREPULSE_DIGEST_INFLUX_URL": "http://127.0.0.1:1", "STOREPULSE_DIGEST_TIMEZONE": "Mars/Olympus"}, "timezone"},
		{"sensitivity", []string{"--influx-url", "http://127.0.0.1:1", "--sensitivity", "0"}, nil, "sensitivity"},
		{"timeout", []string{"--influx-url", "http://127.0.0.1:1", "--influx-timeout", "soon"}, nil, "--influx-timeout"},
		{"playbook", []string{"--influx-url", "http://127.0.0.1:1", "--playbook", badPlaybook}, nil, `unknown KPI "gmvv"`},
		{"headline", []string{"--influx-url", "http://127.0.0.1:1", "--headline", "gmv,revenue"}, nil, `headline KPI "revenue"`},
		{"file", []string{"--config", badFile}, nil, "field colour not found"},
		{"grafana", []string{"--influx-url", "http://127.0.0.1:1", "--grafana-url", "grafana"}, nil, "grafana_url"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			err := run(context.Background(), tt.args, &stdout, &stderr, func(k string) string { return tt.env[k] }, digesttest.Now)
			require.Error(t, err)
			require.Contains(t, err.Error(), tt.msg)
			require.NotContains(t, err.Error(), "secret")
			require.Empty(t, stdout.String())
			require.False(t, strings.Contains(stderr.String(), "briefing written"))
		})
	}
}
