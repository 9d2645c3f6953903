// Package ingesttest runs the real storepulse-ingest binary for system tests:
// it builds it, starts it with a YAML configuration against a real InfluxDB
// (package influxtest), talks to its API, reads its metrics, waits until it
// has written everything, and kills or stops it.
package ingesttest

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
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
	"github.com/storepulse/storepulse/internal/testclock"
)

// Token is the API token every started instance accepts (name "test").
const Token = "system-test-token"

// Build compiles storepulse-ingest into dir and returns its path.
func Build(dir string) (string, error) {
	bin := filepath.Join(dir, "storepulse-ingest")
	cmd := exec.Command("go", "build", "-o", bin, "github.com/storepulse/storepulse/ingest/cmd/storepulse-ingest") // #nosec G204 -- fixed program, temp output path
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("build storepulse-ingest: %w", err)
	}
	return bin, nil
}

// Main builds the binary into a temp dir, runs the tests and cleans up: call
// it from TestMain.
func Main(m *testing.M, binary *string) {
	dir, err := os.MkdirTemp("", "storepulse-ingesttest-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if *binary, err = Build(dir); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// Options shape an instance's configuration; zero fields take test defaults.
type Options struct {
	SpoolMaxBytes   int64
	SegmentMaxBytes int64
	SealInterval    time.Duration
	LateHorizon     time.Duration
	MaxBodyBytes    int64
	Ingester        string
	ExtraTokens     string // YAML list items appended to auth.tokens
	// Databases is lineprotocol.databases (nil: any name accepted).
	Databases []string
	// DataDir places the data directory (default: a fresh temp dir), e.g. on
	// a small tmpfs for disk-full tests.
	DataDir string
	// FineBucket and FineRetention are influx.fine_bucket and
	// influx.fine_retention (empty, 0: not set).
	FineBucket    string
	FineRetention time.Duration
}

// Ingest is a running storepulse-ingest process.
type Ingest struct {
	t       testing.TB
	binary  string
	URL     string
	DataDir string // the instance's data_dir (spool, quarantine, dedup)
	config  string
	cmd     *exec.Cmd
	exited  chan struct{}
	logPath string
}

func freePort(t testing.TB) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer func() { _ = l.Close() }()
	return l.Addr().(*net.TCPAddr).Port
}

// Start writes a configuration for o and starts binary against db; the
// process is killed at cleanup (its log tail is printed if the test failed).
func Start(t testing.TB, binary string, db *influxtest.Server, o Options) *Ingest {
	t.Helper()
	if o.SpoolMaxBytes == 0 {
		o.SpoolMaxBytes = 1 << 30
	}
	if o.SegmentMaxBytes == 0 {
		o.SegmentMaxBytes = 8 << 20
	}
	if o.SealInterval == 0 {
		o.SealInterval = 200 * time.Millisecond
	}
	if o.LateHorizon == 0 {
		o.LateHorizon = 168 * time.Hour
	}
	if o.MaxBodyBytes == 0 {
		o.MaxBodyBytes = 8 << 20
	}
	if o.Ingester == "" {
		o.Ingester = "systemtest"
	}
	dir := t.TempDir()
	if o.DataDir == "" {
		o.DataDir = filepath.Join(dir, "data")
	}
	port := freePort(t)
	cfg := fmt.Sprintf(`listen: 127.0.0.1:%d
data_dir: %s
ingester: %s
timezone: Asia/Shanghai
influx:
  url: %s
  token: %s
  org: %s
  bucket: %s
  timeout: 10s
  min_backoff: 50ms
  max_backoff: 500ms
  fine_bucket: %q
  fine_retention: %s
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
  late_horizon: %s
%sauth:
  tokens:
    - name: test
      sha256: %q
%s
log:
  level: info
lineprotocol:
  databases: %s
`, port, o.DataDir, o.Ingester, db.URL, db.Token, db.Org, db.Bucket, o.FineBucket, o.FineRetention, o.SpoolMaxBytes,
		o.SegmentMaxBytes, o.SealInterval, o.MaxBodyBytes, 4*o.MaxBodyBytes, o.LateHorizon, historyHorizon(o.FineRetention), auth.Hash(Token), o.ExtraTokens, yamlList(o.Databases))
	in := &Ingest{t: t, binary: binary, URL: fmt.Sprintf("http://127.0.0.1:%d", port), DataDir: o.DataDir,
		config: filepath.Join(dir, "config.yaml"), logPath: filepath.Join(dir, "ingest.log")}
	require.NoError(t, os.WriteFile(in.config, []byte(cfg), 0o600))
	in.Start()
	t.Cleanup(func() {
		in.Kill()
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

// yamlList renders names as a YAML flow sequence of quoted strings.
func yamlList(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = strconv.Quote(n)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

// Start (re)starts the process with its configuration and data directory
// and waits for /healthz.
func (in *Ingest) Start() {
	in.t.Helper()
	logf, err := os.OpenFile(in.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	require.NoError(in.t, err)
	cmd := exec.Command(in.binary, "--config", in.config) // #nosec G204 -- the binary under test
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Env = append(os.Environ(), testclock.Env())
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
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	in.t.Fatal("storepulse-ingest did not answer /healthz within 30s")
}

// Log returns everything the process (all its starts) wrote to its log.
func (in *Ingest) Log() string {
	b, err := os.ReadFile(in.logPath)
	require.NoError(in.t, err)
	return string(b)
}

// Kill sends SIGKILL: no chance to flush or fsync anything more.
func (in *Ingest) Kill() {
	if in.cmd == nil {
		return
	}
	_ = in.cmd.Process.Signal(syscall.SIGKILL)
	<-in.exited
	in.cmd = nil
}

// Stop sends SIGTERM and waits for the graceful shutdown (SIGKILL after 60s).
func (in *Ingest) Stop() {
	if in.cmd == nil {
		return
	}
	_ = in.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-in.exited:
	case <-time.After(60 * time.Second):
		in.t.Error("graceful shutdown took over 60s")
		in.Kill()
	}
	in.cmd = nil
}

// Response is an API answer.
type Response struct {
	Status int
	Body   string
	Header http.Header
}

// Do sends an authenticated request; hdr overrides headers (an empty value
// deletes one, e.g. Authorization).
func (in *Ingest) Do(method, path, contentType string, body []byte, hdr map[string]string) (Response, error) {
	req, err := http.NewRequest(method, in.URL+path, bytes.NewReader(body))
	if err != nil {
		return Response{}, err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("Authorization", "Bearer "+Token)
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
		return Response{}, err
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return Response{}, err
	}
	return Response{Status: resp.StatusCode, Body: string(b), Header: resp.Header}, nil
}

// Metric reads one unlabelled sample from /metrics.
func (in *Ingest) Metric(name string) (float64, error) { return Metric(in.URL, name) }

// Metric reads one unlabelled sample from the /metrics of the ingest service
// at baseURL.
func Metric(baseURL, name string) (float64, error) {
	text, err := scrape(baseURL)
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(text, "\n") {
		if strings.HasPrefix(line, name+" ") {
			return strconv.ParseFloat(strings.TrimSpace(strings.TrimPrefix(line, name)), 64)
		}
	}
	return 0, fmt.Errorf("metric %s not found", name)
}

// ErrNoHistogram is returned by Histogram when /metrics has no such series
// (a labelled one appears with its first observation).
var ErrNoHistogram = errors.New("no such histogram")

// Histogram reads one histogram from the /metrics of the ingest service at
// baseURL, the series whose labels start with labels (e.g.
// `code="202",endpoint="events",`, in the order Prometheus writes them; ""
// for an unlabelled one): its cumulative counts by upper bound (le).
func Histogram(baseURL, name, labels string) (map[float64]float64, error) {
	text, err := scrape(baseURL)
	if err != nil {
		return nil, err
	}
	out := map[float64]float64{}
	for _, line := range strings.Split(text, "\n") {
		rest, ok := strings.CutPrefix(line, name+"_bucket{"+labels+`le="`)
		if !ok {
			continue
		}
		le, count, ok := strings.Cut(rest, `"} `)
		if !ok {
			return nil, fmt.Errorf("metrics: malformed line %q", line)
		}
		bound, err1 := strconv.ParseFloat(le, 64)
		n, err2 := strconv.ParseFloat(strings.TrimSpace(count), 64)
		if err := errors.Join(err1, err2); err != nil {
			return nil, fmt.Errorf("metrics: %q: %w", line, err)
		}
		out[bound] = n
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("metrics: %s{%s}: %w", name, labels, ErrNoHistogram)
	}
	return out, nil
}

// scrape is the text of baseURL's /metrics.
func scrape(baseURL string) (string, error) {
	resp, err := http.Get(baseURL + "/metrics") // #nosec G107 -- a test's own service
	if err != nil {
		return "", err
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	return string(b), nil
}

// WaitDrained waits until every accepted item has been written to InfluxDB:
// no pending segment and an empty spool, three polls in a row.
func (in *Ingest) WaitDrained(timeout time.Duration) {
	in.t.Helper()
	deadline := time.Now().Add(timeout)
	stable := 0
	for time.Now().Before(deadline) {
		pending, err1 := in.Metric("storepulse_ingest_pending_segments")
		bytes, err2 := in.Metric("storepulse_ingest_spool_bytes")
		if err1 == nil && err2 == nil && pending == 0 && bytes == 0 {
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

// FluxTable runs a Flux query and returns its rows as maps of column to value.
func FluxTable(t testing.TB, db *influxtest.Server, flux string) []map[string]string {
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

// PeakRSS is the running process's peak resident set size (VmHWM of
// /proc/<pid>/status) in bytes; Linux only.
func (in *Ingest) PeakRSS() (int64, error) {
	if in.cmd == nil || in.cmd.Process == nil {
		return 0, fmt.Errorf("storepulse-ingest is not running")
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", in.cmd.Process.Pid))
	if err != nil {
		return 0, fmt.Errorf("peak RSS: %w", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("peak RSS: parse %q: %w", line, err)
			}
			return kb << 10, nil
		}
	}
	return 0, fmt.Errorf("peak RSS: no VmHWM in /proc/%d/status", in.cmd.Process.Pid)
}

// historyHorizon is the limits.history_horizon line a fine retention needs
// (at most the retention less a day), or nothing (the default).
func historyHorizon(fineRetention time.Duration) string {
	if fineRetention <= 0 {
		return ""
	}
	return fmt.Sprintf("  history_horizon: %s\n", fineRetention-24*time.Hour)
}
