package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/storepulse/storepulse/digest/internal/digesttest"
	"github.com/storepulse/storepulse/digest/render"
	"github.com/storepulse/storepulse/internal/clock"
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
	t.Run("zh-CN", func(t *testing.T) {
		// The same day in Simplified Chinese: texts, KPI names, weekday,
		// currency (¥) and percent formats follow the language.
		zhDir := t.TempDir()
		var stdout, stderr bytes.Buffer
		args := []string{"--format", "json,markdown,html", "--out", zhDir, "--business", "Demo Retail",
			"--grafana-url", "https://grafana.example.com", "--language", "zh-CN"}
		require.NoError(t, run(ctx, args, &stdout, &stderr, getenv, digesttest.Now), stderr.String())
		for _, ext := range []string{"json", "md", "html"} {
			name := "briefing-" + digesttest.IncidentDay + "." + ext
			got, err := os.ReadFile(filepath.Join(zhDir, name))
			require.NoError(t, err)
			require.Contains(t, string(got), "下单转化率", name)
			require.Contains(t, string(got), "星期二", name)
			require.Contains(t, string(got), "以比率效应为主", name)
			if ext != "json" {
				require.Contains(t, string(got), "¥27,972", name) // the day's GMV in the locale's currency format
				require.NotContains(t, string(got), "CNY", name)
			}
			golden(t, filepath.Join("zh-CN", name), got)
		}
	})
	t.Run("serve", func(t *testing.T) {
		// The clock starts 1 s before the list's 07:30 and runs on: the
		// delivery fires once, posting the WeCom payload of yesterday.
		got := make(chan []byte, 4)
		hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			b, _ := io.ReadAll(r.Body)
			got <- b
			_, _ = w.Write([]byte(`{"errcode":0,"errmsg":"ok"}`))
		}))
		defer hook.Close()
		dir := t.TempDir()
		cfgFile := filepath.Join(dir, "digest.yaml")
		require.NoError(t, os.WriteFile(cfgFile, []byte(`business: Demo Retail
grafana_url: https://grafana.example.com
failed_dir: `+filepath.Join(dir, "failed")+`
state_dir: `+filepath.Join(dir, "state")+`
lists:
  - name: operators
    schedule: "30 7 * * *"
    webhooks:
      - {url: "`+hook.URL+`/cgi-bin/webhook/send?key=secret", format: wecom}
`), 0o600))
		sctx, stop := context.WithCancel(ctx)
		defer stop()
		var stderr syncBuffer
		done := make(chan error, 1)
		start := time.Date(2026, 5, 20, 7, 29, 59, 0, digesttest.Shanghai())
		go func() {
			done <- run(sctx, []string{"serve", "--config", cfgFile}, io.Discard, &stderr, getenv, clock.Shifted(start))
		}()
		select {
		case b := <-got:
			require.Contains(t, string(b), `"msgtype": "markdown"`)
			require.Contains(t, string(b), "morning briefing for Tuesday, "+digesttest.IncidentDay)
			require.Eventually(t, func() bool { return strings.Contains(stderr.String(), "briefing posted") }, time.Minute, 50*time.Millisecond)
		case err := <-done:
			t.Fatalf("serve ended: %v\n%s", err, stderr.String())
		case <-time.After(3 * time.Minute):
			t.Fatalf("nothing delivered:\n%s", stderr.String())
		}
		stop()
		require.ErrorIs(t, <-done, context.Canceled)
		require.NotContains(t, stderr.String(), "secret")
		_, err := os.Stat(filepath.Join(dir, "failed"))
		require.True(t, os.IsNotExist(err), "nothing failed, nothing kept:\n%s", stderr.String())
	})
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
		require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o750))
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
		{"language", []string{"--influx-url", "http://127.0.0.1:1", "--language", "fr"}, nil, `language "fr" is not supported (en or zh-CN)`},
		{"language env", nil, map[string]string{"STOREPULSE_DIGEST_INFLUX_URL": "http://127.0.0.1:1", "STOREPULSE_DIGEST_LANGUAGE": "zh-TW"}, `language "zh-TW"`},
	}
	serveCfg := func(name, body string) string {
		path := filepath.Join(dir, strings.ReplaceAll(name, " ", "_")+".yaml")
		require.NoError(t, os.WriteFile(path, []byte("influx: {url: http://127.0.0.1:1}\nfailed_dir: "+dir+"\nstate_dir: "+dir+"\n"+body), 0o600))
		return path
	}
	serve := []struct{ name, body, msg string }{
		{"no lists", "lists: []\n", "at least one recipient list"},
		{"no channel", "lists:\n  - {name: a, schedule: '30 7 * * *'}\n", "no channel"},
		{"bad schedule", "lists:\n  - {name: a, schedule: '30 25 * * *', webhooks: [{url: 'https://x.example/h', format: slack}]}\n", "hour"},
		{"bad format", "lists:\n  - {name: a, schedule: '30 7 * * *', webhooks: [{url: 'https://x.example/h', format: html}]}\n", `format "html"`},
		{"no smtp", "lists:\n  - {name: a, schedule: '30 7 * * *', email: [d@example.com]}\n", "smtp.host and smtp.from"},
		{"bad email", "lists:\n  - {name: a, schedule: '30 7 * * *', email: [not-an-address]}\n", `e-mail "not-an-address"`},
		{"catch-up", "catch_up: -1h\nlists:\n  - {name: a, schedule: '30 7 * * *', dir: /tmp/x}\n", "catch_up must not be negative"},
		{"bad hook", "lists:\n  - {name: a, schedule: '30 7 * * *', webhooks: [{url: 'ftp://x/secret', format: slack}]}\n", "not an http(s) URL"},
	}
	for _, tt := range serve {
		tests = append(tests, struct {
			name string
			args []string
			env  map[string]string
			msg  string
		}{"serve " + tt.name, []string{"serve", "--config", serveCfg(tt.name, tt.body)}, nil, tt.msg})
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

// syncBuffer is a buffer written by a running service and read by the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// The example configuration (mounted by the compose service) is valid.
func TestExampleConfig(t *testing.T) {
	env := map[string]string{"STOREPULSE_DIGEST_INFLUX_URL": "http://influxdb:8086", "STOREPULSE_DIGEST_FAILED_DIR": t.TempDir()}
	cfg, err := loadConfig([]string{"--config", filepath.Join("..", "..", "..", "docs", "examples", "digest.yaml")}, io.Discard, func(k string) string { return env[k] })
	require.NoError(t, err)
	lists, err := cfg.serveLists(digesttest.Shanghai())
	require.NoError(t, err)
	require.Len(t, lists, 1)
	require.Equal(t, "/var/lib/storepulse-digest/briefings", lists[0].Dir)
	require.Equal(t, "30 7 * * *", lists[0].Schedule.String())
}
