// Package influxtest starts a real InfluxDB 1.8 (built by `make tools` into
// .tools/bin) on a free loopback port in a temporary directory, for integration
// tests. It serves the v2 compatibility API: /api/v2/write, Flux on
// /api/v2/query and /health, with bucket "db/autogen".
//
// When the environment variable CI is set, a missing or broken InfluxDB fails
// the test; otherwise the test is skipped with a hint to run `make tools`.
package influxtest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Database is the InfluxDB 1.x database the server is created with.
const Database = "db"

// Bucket is the v2 bucket name of Database's default retention policy.
const Bucket = Database + "/autogen"

// Token is accepted by InfluxDB 1.8 with authentication disabled.
const Token = "user:password"

// Server is a running InfluxDB.
type Server struct {
	URL    string // http://127.0.0.1:port
	Bucket string
	Token  string
	Org    string // ignored by 1.8, any value works

	dir  string
	port int
	opts Options
	cmd  *exec.Cmd
	logf *os.File
}

// Binary returns the influxd path: $STOREPULSE_INFLUXD, else .tools/bin/influxd
// at the module root, else influxd on PATH.
func Binary() (string, error) {
	if p := os.Getenv("STOREPULSE_INFLUXD"); p != "" {
		return p, nil
	}
	if root, err := moduleRoot(); err == nil {
		p := filepath.Join(root, ".tools", "bin", "influxd")
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	p, err := exec.LookPath("influxd")
	if err != nil {
		return "", errors.New("influxd not found: run `make tools` (builds InfluxDB 1.8 into .tools/bin) or set STOREPULSE_INFLUXD")
	}
	return p, nil
}

func moduleRoot() (string, error) {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return "", errors.New("no caller information")
	}
	// internal/influxtest/influxtest.go -> module root
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", "..")), nil
}

// Start starts a fresh InfluxDB for the test and stops it at cleanup.
func Start(t testing.TB) *Server {
	t.Helper()
	s, err := start(t.TempDir(), Options{})
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("influxtest: InfluxDB is required when CI is set: %v", err)
		}
		t.Skipf("influxtest: InfluxDB not available (set CI to make this fatal): %v", err)
	}
	t.Cleanup(func() { s.Stop() })
	return s
}

// StartDir starts an InfluxDB with its data in dir (reusable across a Stop and
// a later StartDir with the same dir and port 0 for a new port, or Restart).
func StartDir(dir string) (*Server, error) { return start(dir, Options{}) }

// Options tune a server started by StartDirOptions.
type Options struct {
	// CompactAfter, when set, makes InfluxDB snapshot its write cache and
	// fully compact a shard once the shard has not been written for this
	// long (InfluxDB's defaults: 10 minutes and 4 hours), so that a
	// benchmark can let a freshly loaded database settle before measuring
	// instead of having it compact in the middle of the measurement.
	CompactAfter time.Duration
	// IndexVersion is InfluxDB's series index: "" or "inmem" (1.8's
	// default: every series of a database in memory, so that queries pay
	// for the whole history's series) or "tsi1" (on disk, per shard).
	IndexVersion string
}

// StartDirOptions is StartDir with options.
func StartDirOptions(dir string, o Options) (*Server, error) { return start(dir, o) }

func start(dir string, o Options) (*Server, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("influxtest: %w", err)
	}
	bin, err := Binary()
	if err != nil {
		return nil, err
	}
	s := &Server{dir: dir, Bucket: Bucket, Token: Token, Org: "storepulse", opts: o}
	for attempt := 1; ; attempt++ {
		if s.port, err = freePort(); err != nil {
			return nil, err
		}
		err = s.launch(bin)
		// A free port can be taken by another process before influxd binds
		// it (tests of other packages run at the same time): try new ones.
		if err == nil || attempt == 3 || !strings.Contains(err.Error(), "address already in use") {
			break
		}
	}
	if err != nil {
		return nil, err
	}
	if err := s.createDatabase(); err != nil {
		s.Stop()
		return nil, err
	}
	return s, nil
}

func (s *Server) launch(bin string) error {
	s.URL = fmt.Sprintf("http://127.0.0.1:%d", s.port)
	conf := filepath.Join(s.dir, "influxdb.conf")
	cfg := fmt.Sprintf(`reporting-disabled = true
bind-address = "127.0.0.1:%d"
[meta]
  dir = %q
[data]
  dir = %q
  wal-dir = %q
  query-log-enabled = false
%s[http]
  bind-address = "127.0.0.1:%d"
  flux-enabled = true
  log-enabled = false
  max-body-size = 0
[monitor]
  store-enabled = false
[continuous_queries]
  enabled = false
[logging]
  level = "warn"
`, mustFreePort(), filepath.Join(s.dir, "meta"), filepath.Join(s.dir, "data"), filepath.Join(s.dir, "wal"), s.dataOptions(), s.port)
	if err := os.WriteFile(conf, []byte(cfg), 0o600); err != nil {
		return fmt.Errorf("influxtest: write config: %w", err)
	}
	logf, err := os.OpenFile(filepath.Join(s.dir, "influxd.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("influxtest: open log: %w", err)
	}
	s.logf = logf
	cmd := exec.Command(bin, "-config", conf) // #nosec G204 -- test binary path
	cmd.Stdout = logf
	cmd.Stderr = logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("influxtest: start %s: %w", bin, err)
	}
	s.cmd = cmd
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return fmt.Errorf("influxtest: influxd exited at start-up; log: %s", s.logTail())
		default:
		}
		if s.Healthy() {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	s.Stop()
	return fmt.Errorf("influxtest: influxd not healthy after 60s; log: %s", s.logTail())
}

// dataOptions are the [data] settings of the options.
func (s *Server) dataOptions() string {
	var b strings.Builder
	if s.opts.IndexVersion != "" {
		fmt.Fprintf(&b, "  index-version = %q\n", s.opts.IndexVersion)
	}
	if s.opts.CompactAfter > 0 {
		d := s.opts.CompactAfter.String()
		fmt.Fprintf(&b, "  cache-snapshot-write-cold-duration = %q\n  compact-full-write-cold-duration = %q\n", d, d)
	}
	return b.String()
}

// Healthy reports whether /health answers pass.
func (s *Server) Healthy() bool {
	c := http.Client{Timeout: time.Second}
	resp, err := c.Get(s.URL + "/health")
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode == http.StatusOK
}

func (s *Server) createDatabase() error {
	c := http.Client{Timeout: 10 * time.Second}
	resp, err := c.PostForm(s.URL+"/query", url.Values{"q": {"CREATE DATABASE " + Database}})
	if err != nil {
		return fmt.Errorf("influxtest: create database: %w", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || strings.Contains(string(body), `"error"`) {
		return fmt.Errorf("influxtest: create database: %s %s", resp.Status, body)
	}
	return nil
}

// Stop stops the server (SIGTERM, then SIGKILL after 10s). Data stays in its dir.
func (s *Server) Stop() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	pid := s.cmd.Process.Pid
	_ = syscall.Kill(-pid, syscall.SIGTERM)
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if err := syscall.Kill(pid, 0); err != nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	_ = syscall.Kill(-pid, syscall.SIGKILL)
	s.cmd = nil
	if s.logf != nil {
		_ = s.logf.Close()
		s.logf = nil
	}
}

// Restart starts the stopped server again on the same port and data directory.
func (s *Server) Restart() error {
	bin, err := Binary()
	if err != nil {
		return err
	}
	return s.launch(bin)
}

// Query runs a Flux query and returns the raw annotated CSV response.
func (s *Server) Query(ctx context.Context, flux string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.URL+"/api/v2/query", strings.NewReader(flux))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/vnd.flux")
	req.Header.Set("Accept", "application/csv")
	req.Header.Set("Authorization", "Token "+s.Token)
	c := http.Client{Timeout: 60 * time.Second}
	resp, err := c.Do(req)
	if err != nil {
		return "", fmt.Errorf("influxtest: query: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", fmt.Errorf("influxtest: read query response: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("influxtest: query: %s: %s", resp.Status, body)
	}
	return string(body), nil
}

func (s *Server) logTail() string {
	b, _ := os.ReadFile(filepath.Join(s.dir, "influxd.log"))
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(b)
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("influxtest: free port: %w", err)
	}
	defer func() { _ = l.Close() }()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func mustFreePort() int {
	p, err := freePort()
	if err != nil {
		return 0
	}
	return p
}

// WriteLines posts line protocol (nanosecond precision) to the server's
// bucket with the v2 write API, 5,000 lines a request, and fails the test
// unless InfluxDB answers 204.
func (s *Server) WriteLines(t testing.TB, lines []string) {
	t.Helper()
	if err := s.Write(context.Background(), lines); err != nil {
		t.Fatal(err)
	}
}

// Write is WriteLines for callers outside tests (benchmarks loading data):
// line protocol (nanosecond precision), 5,000 lines a request; an error
// unless InfluxDB answers 204 to each.
func (s *Server) Write(ctx context.Context, lines []string) error {
	c := http.Client{Timeout: 60 * time.Second}
	for len(lines) > 0 {
		n := min(len(lines), 5000)
		u := s.URL + "/api/v2/write?bucket=" + url.QueryEscape(s.Bucket) + "&precision=ns"
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, strings.NewReader(strings.Join(lines[:n], "\n")))
		if err != nil {
			return fmt.Errorf("influxtest: write: %w", err)
		}
		req.Header.Set("Authorization", "Token "+s.Token)
		resp, err := c.Do(req)
		if err != nil {
			return fmt.Errorf("influxtest: write: %w", err)
		}
		body, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusNoContent {
			return fmt.Errorf("influxtest: write: %s: %s", resp.Status, body)
		}
		lines = lines[n:]
	}
	return nil
}

// PID is the influxd process id (0 when stopped), for benchmarks reading
// its CPU time from /proc.
func (s *Server) PID() int {
	if s.cmd == nil || s.cmd.Process == nil {
		return 0
	}
	return s.cmd.Process.Pid
}
