// Package simtest runs the store simulator end to end: a backfill through the
// real storepulse-ingest binary into a real InfluxDB, checked day by day
// against totals computed independently from the simulator's file output.
package simtest

import (
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/storepulse/storepulse/ingest/auth"
	"github.com/storepulse/storepulse/internal/influxtest"
)

// The helpers below are a trimmed copy of ingest/systemtest's harness: test
// files cannot be imported across packages.

const testToken = "simtest-token"

var binary string // built once by TestMain

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "storepulse-simtest-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "storepulse-ingest")
	build := exec.Command("go", "build", "-o", binary, "github.com/storepulse/storepulse/ingest/cmd/storepulse-ingest")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build storepulse-ingest:", err)
		os.Exit(1)
	}
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// ingest is a running storepulse-ingest process.
type ingest struct {
	t       testing.TB
	URL     string
	cmd     *exec.Cmd
	exited  chan struct{}
	logPath string
}

func freePort(t testing.TB) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startIngest starts the binary with a YAML config against db. lateHorizon
// must cover the oldest event the test sends.
func startIngest(t testing.TB, db *influxtest.Server, lateHorizon time.Duration) *ingest {
	t.Helper()
	dir := t.TempDir()
	port := freePort(t)
	cfg := fmt.Sprintf(`listen: 127.0.0.1:%d
data_dir: %s
ingester: simtest
timezone: Asia/Shanghai
influx:
  url: %s
  token: %s
  org: %s
  bucket: %s
  timeout: 10s
  min_backoff: 50ms
  max_backoff: 500ms
spool:
  seal_interval: 200ms
  sketch_interval: 300ms
  retry_after: 1s
limits:
  late_horizon: %s
auth:
  tokens:
    - name: test
      sha256: %q
log:
  level: info
`, port, filepath.Join(dir, "data"), db.URL, db.Token, db.Org, db.Bucket, lateHorizon, auth.Hash(testToken))
	config := filepath.Join(dir, "config.yaml")
	require.NoError(t, os.WriteFile(config, []byte(cfg), 0o600))
	in := &ingest{t: t, URL: fmt.Sprintf("http://127.0.0.1:%d", port), logPath: filepath.Join(dir, "ingest.log")}
	logf, err := os.OpenFile(in.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	require.NoError(t, err)
	cmd := exec.Command(binary, "--config", config)
	cmd.Stdout, cmd.Stderr = logf, logf
	require.NoError(t, cmd.Start())
	in.cmd = cmd
	in.exited = make(chan struct{})
	go func() { _ = cmd.Wait(); _ = logf.Close(); close(in.exited) }()
	t.Cleanup(func() {
		in.stop()
		if t.Failed() {
			b, _ := os.ReadFile(in.logPath)
			if len(b) > 8000 {
				b = b[len(b)-8000:]
			}
			t.Logf("ingest log tail:\n%s", b)
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-in.exited:
			b, _ := os.ReadFile(in.logPath)
			t.Fatalf("storepulse-ingest exited at start-up:\n%s", b)
		default:
		}
		resp, err := http.Get(in.URL + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return in
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("storepulse-ingest did not answer /healthz within 30s")
	return nil
}

// stop sends SIGTERM and waits for the graceful shutdown (SIGKILL after 60s).
func (in *ingest) stop() {
	if in.cmd == nil {
		return
	}
	_ = in.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-in.exited:
	case <-time.After(60 * time.Second):
		in.t.Error("graceful shutdown took over 60s")
		_ = in.cmd.Process.Signal(syscall.SIGKILL)
		<-in.exited
	}
	in.cmd = nil
}

// get performs an authenticated GET and returns status and body.
func (in *ingest) get(path string) (int, []byte, error) {
	req, err := http.NewRequest(http.MethodGet, in.URL+path, nil)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+testToken)
	c := http.Client{Timeout: 30 * time.Second}
	resp, err := c.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

// metric reads one unlabelled sample from /metrics.
func (in *ingest) metric(name string) (float64, error) {
	resp, err := http.Get(in.URL + "/metrics")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, name+" ") {
			return strconv.ParseFloat(strings.TrimSpace(strings.TrimPrefix(line, name)), 64)
		}
	}
	return 0, fmt.Errorf("metric %s not found", name)
}

// waitDrained waits until every accepted item has been written to InfluxDB:
// no pending segment and an empty active segment, three polls in a row.
func (in *ingest) waitDrained(timeout time.Duration) {
	in.t.Helper()
	deadline := time.Now().Add(timeout)
	stable := 0
	for time.Now().Before(deadline) {
		pending, err1 := in.metric("storepulse_ingest_pending_segments")
		active, err2 := in.metric("storepulse_ingest_spool_bytes")
		if err1 == nil && err2 == nil && pending == 0 && active == 0 {
			stable++
			if stable >= 3 {
				return
			}
		} else {
			stable = 0
		}
		time.Sleep(200 * time.Millisecond)
	}
	in.t.Fatalf("spool not drained within %s", timeout)
}

// fluxTable runs a Flux query and returns its rows as maps of column to value.
func fluxTable(t testing.TB, db *influxtest.Server, flux string) []map[string]string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := db.Query(ctx, flux)
	require.NoError(t, err)
	var rows []map[string]string
	for _, block := range strings.Split(strings.ReplaceAll(out, "\r\n", "\n"), "\n\n") {
		r := csv.NewReader(strings.NewReader(block))
		r.FieldsPerRecord = -1
		recs, err := r.ReadAll()
		require.NoError(t, err)
		var header []string
		for _, rec := range recs {
			if len(rec) == 0 || strings.HasPrefix(rec[0], "#") {
				continue
			}
			if header == nil {
				header = rec
				continue
			}
			row := map[string]string{}
			for i, h := range header {
				if i < len(rec) {
					row[h] = rec[i]
				}
			}
			rows = append(rows, row)
		}
	}
	return rows
}
