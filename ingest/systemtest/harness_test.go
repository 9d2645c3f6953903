// Package systemtest runs the real storepulse-ingest binary against a real
// InfluxDB and checks what ends up stored against an independent count of
// the events sent: round trip, SIGKILL crashes, InfluxDB outages, bad input.
package systemtest

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/csv"
	"encoding/json"
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

const testToken = "system-test-token"

var binary string // built once by TestMain

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "storepulse-systemtest-")
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
	dir     string
	config  string
	cmd     *exec.Cmd
	exited  chan struct{}
	logPath string
}

type ingestOpts struct {
	spoolMaxBytes   int64
	segmentMaxBytes int64
	sealInterval    time.Duration
	extraTokens     string // YAML list items appended to auth.tokens
	maxBodyBytes    int64
	ingester        string
}

func freePort(t testing.TB) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func startIngest(t testing.TB, db *influxtest.Server, o ingestOpts) *ingest {
	t.Helper()
	if o.spoolMaxBytes == 0 {
		o.spoolMaxBytes = 1 << 30
	}
	if o.segmentMaxBytes == 0 {
		o.segmentMaxBytes = 8 << 20
	}
	if o.sealInterval == 0 {
		o.sealInterval = 200 * time.Millisecond
	}
	if o.maxBodyBytes == 0 {
		o.maxBodyBytes = 8 << 20
	}
	if o.ingester == "" {
		o.ingester = "systemtest"
	}
	dir := t.TempDir()
	port := freePort(t)
	cfg := fmt.Sprintf(`listen: 127.0.0.1:%d
data_dir: %s
ingester: %s
influx:
  url: %s
  token: %s
  org: %s
  bucket: %s
  timeout: 5s
  min_backoff: 50ms
  max_backoff: 500ms
spool:
  max_bytes: %d
  segment_max_bytes: %d
  seal_interval: %s
  sketch_interval: 300ms
  retry_after: 1s
limits:
  max_body_bytes: %d
  max_decompressed_bytes: %d
  max_items: 10000
  late_horizon: 168h
auth:
  tokens:
    - name: test
      sha256: %s
%s
log:
  level: info
`, port, filepath.Join(dir, "data"), o.ingester, db.URL, db.Token, db.Org, db.Bucket, o.spoolMaxBytes, o.segmentMaxBytes,
		o.sealInterval, o.maxBodyBytes, 4*o.maxBodyBytes, auth.Hash(testToken), o.extraTokens)
	in := &ingest{t: t, URL: fmt.Sprintf("http://127.0.0.1:%d", port), dir: dir,
		config: filepath.Join(dir, "config.yaml"), logPath: filepath.Join(dir, "ingest.log")}
	require.NoError(t, os.WriteFile(in.config, []byte(cfg), 0o600))
	in.start()
	t.Cleanup(func() {
		in.kill()
		if t.Failed() {
			b, _ := os.ReadFile(in.logPath)
			if len(b) > 8000 {
				b = b[len(b)-8000:]
			}
			t.Logf("ingest log tail:\n%s", b)
		}
	})
	return in
}

func (in *ingest) start() {
	in.t.Helper()
	logf, err := os.OpenFile(in.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	require.NoError(in.t, err)
	cmd := exec.Command(binary, "--config", in.config)
	cmd.Stdout, cmd.Stderr = logf, logf
	require.NoError(in.t, cmd.Start())
	in.cmd = cmd
	in.exited = make(chan struct{})
	go func() { _ = cmd.Wait(); _ = logf.Close(); close(in.exited) }()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-in.exited:
			b, _ := os.ReadFile(in.logPath)
			in.t.Fatalf("storepulse-ingest exited at start-up:\n%s", b)
		default:
		}
		resp, err := http.Get(in.URL + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	in.t.Fatal("storepulse-ingest did not answer /healthz within 30s")
}

// kill sends SIGKILL: no chance to flush or fsync anything more.
func (in *ingest) kill() {
	if in.cmd == nil {
		return
	}
	_ = in.cmd.Process.Signal(syscall.SIGKILL)
	<-in.exited
	in.cmd = nil
}

// stop sends SIGTERM and waits for the graceful shutdown.
func (in *ingest) stop() {
	if in.cmd == nil {
		return
	}
	_ = in.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-in.exited:
	case <-time.After(60 * time.Second):
		in.t.Error("graceful shutdown took over 60s")
		in.kill()
	}
	in.cmd = nil
}

type response struct {
	Status int
	Body   string
	Header http.Header
}

func (in *ingest) do(method, path, contentType string, body []byte, hdr map[string]string) (response, error) {
	req, err := http.NewRequest(method, in.URL+path, bytes.NewReader(body))
	if err != nil {
		return response{}, err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("Authorization", "Bearer "+testToken)
	for k, v := range hdr {
		if v == "" {
			req.Header.Del(k)
			continue
		}
		req.Header.Set(k, v)
	}
	c := http.Client{Timeout: 30 * time.Second}
	resp, err := c.Do(req)
	if err != nil {
		return response{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return response{}, err
	}
	return response{Status: resp.StatusCode, Body: string(b), Header: resp.Header}, nil
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

// waitDrained waits until every accepted item has been written to InfluxDB.
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

func gz(t testing.TB, b []byte) []byte {
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	_, err := w.Write(b)
	require.NoError(t, err)
	require.NoError(t, w.Close())
	return buf.Bytes()
}

// fluxTable runs a Flux query and returns its rows as maps of column to value.
func fluxTable(t testing.TB, db *influxtest.Server, flux string) []map[string]string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := db.Query(ctx, flux)
	require.NoError(t, err)
	var rows []map[string]string
	var header []string
	for _, block := range strings.Split(strings.ReplaceAll(out, "\r\n", "\n"), "\n\n") {
		r := csv.NewReader(strings.NewReader(block))
		r.FieldsPerRecord = -1
		recs, err := r.ReadAll()
		require.NoError(t, err)
		header = nil
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

func mustJSON(t testing.TB, v any) []byte {
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return b
}
