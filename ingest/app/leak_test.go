package app_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
	"github.com/stretchr/testify/require"

	"github.com/storepulse/storepulse/ingest/app"
	"github.com/storepulse/storepulse/ingest/auth"
	"github.com/storepulse/storepulse/ingest/config"
	"github.com/storepulse/storepulse/internal/influxtest"
	"github.com/storepulse/storepulse/internal/testclock"
)

// TestInfluxPasswordNeverLoggedAndMemoryLimitAdmits: an influx.url holding
// a password is logged without it at start-up, and memory_limit bounds the
// request bodies held in memory: a body that could not fit in half of it is
// refused with 413 naming memory_limit, although it is under
// max_decompressed_bytes.
func TestInfluxPasswordNeverLoggedAndMemoryLimitAdmits(t *testing.T) {
	db := influxtest.Start(t)
	dir := t.TempDir()
	const password = "pw-7d1e-secret"
	withPassword := strings.Replace(db.URL, "://", "://storepulse:"+password+"@", 1)
	t.Setenv("STOREPULSE_LISTEN", "127.0.0.1:0")
	t.Setenv("STOREPULSE_DATA_DIR", filepath.Join(dir, "data"))
	t.Setenv("STOREPULSE_INFLUX_URL", withPassword)
	t.Setenv("STOREPULSE_INFLUX_BUCKET", db.Bucket)
	t.Setenv("STOREPULSE_MEMORY_LIMIT", "67108864")
	t.Setenv(config.EnvTokens, "test="+auth.Hash("api-token"))
	cfg, err := config.Load(pflag.NewFlagSet("x", pflag.ContinueOnError), os.Getenv)
	require.NoError(t, err)
	require.Equal(t, int64(64<<20), cfg.MemoryLimit)
	require.Greater(t, cfg.Limits.MaxDecompressedBytes, int64(24<<20))

	var logBuf strings.Builder
	log := slog.New(slog.NewJSONHandler(&syncWriter{w: &logBuf}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	a, err := app.New(cfg, log, testclock.Clock())
	require.NoError(t, err)
	addr, err := a.Listen()
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()

	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	_, err = zw.Write(append(append([]byte("["), bytes.Repeat([]byte(" "), 24<<20)...), ']'))
	require.NoError(t, err)
	require.NoError(t, zw.Close())
	req, err := http.NewRequest(http.MethodPost, "http://"+addr.String()+"/v1/events", &gz)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer api-token")
	req.Header.Set("Content-Encoding", "gzip")
	client := &http.Client{Timeout: 30 * time.Second}
	resp, err := client.Do(req)
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusRequestEntityTooLarge, resp.StatusCode, string(body))
	require.Contains(t, string(body), "memory_limit")

	cancel()
	require.NoError(t, <-done)
	logs := logBuf.String()
	require.Contains(t, logs, "influx_url")
	require.Contains(t, logs, "storepulse:xxxxx@")
	require.NotContains(t, logs, password)
}
