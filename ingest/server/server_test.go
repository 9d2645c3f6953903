package server

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"runtime/metrics"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/stretchr/testify/require"

	"github.com/storepulse/storepulse/ingest/auth"
	"github.com/storepulse/storepulse/ingest/config"
	"github.com/storepulse/storepulse/ingest/event"
	"github.com/storepulse/storepulse/ingest/parse"
	"github.com/storepulse/storepulse/internal/testclock"
)

const (
	testToken  = "test-token"
	shopToken  = "shop-token"
	adminToken = "admin-token"
)

// fakeAcceptor stands in for the pipeline in unit tests: it counts what it
// is given and can hold requests inside Accept.
type fakeAcceptor struct {
	mu       sync.Mutex
	accepted int
	times    []int64       // of every event and point accepted
	hold     chan struct{} // when set, Accept waits for it to close
	err      error         // when set, Accept fails with it
}

func (f *fakeAcceptor) Accept(ctx context.Context, b *event.Batch) (Result, error) {
	if f.hold != nil {
		select {
		case <-f.hold:
		case <-ctx.Done():
			return Result{}, ctx.Err()
		}
	}
	if f.err != nil {
		return Result{}, f.err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.accepted += b.Len()
	for _, e := range b.Events {
		f.times = append(f.times, e.Time)
	}
	for _, p := range b.Points {
		f.times = append(f.times, p.Time)
	}
	return Result{Accepted: b.Len()}, nil
}

type fakeReady struct{ err error }

func (f fakeReady) Ready(context.Context) error { return f.err }

func testOptions() Options {
	return Options{
		MaxBodyBytes: 8 << 20, MaxDecompressedBytes: 32 << 20, RequestTimeout: 10 * time.Second,
		RetryAfter: time.Second, Location: time.UTC,
		Limits: parse.Limits{Now: testclock.Clock()},
	}
}

type testServer struct {
	srv  *Server
	h    http.Handler
	acc  *fakeAcceptor
	logs *bytes.Buffer
}

func newTestServer(t testing.TB, opts Options, ready Readiness) *testServer {
	t.Helper()
	a, err := auth.New([]config.Token{
		{Name: "test", SHA256: auth.Hash(testToken)},
		{Name: "shop", SHA256: auth.Hash(shopToken), Stores: []string{"s1"}},
		{Name: "ops", SHA256: auth.Hash(adminToken), Admin: true},
	})
	require.NoError(t, err)
	if ready == nil {
		ready = fakeReady{}
	}
	reg := prometheus.NewRegistry()
	acc := &fakeAcceptor{}
	logs := &bytes.Buffer{}
	log := slog.New(slog.NewTextHandler(&lockedWriter{w: logs}, nil))
	s := New(opts, a, acc, ready, nil, NewMetrics(reg), promhttp.HandlerFor(reg, promhttp.HandlerOpts{}), log)
	return &testServer{srv: s, h: s.Handler(), acc: acc, logs: logs}
}

type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// do sends one request through the handler (no network).
func (ts *testServer) do(t testing.TB, method, path, token string, body []byte, hdr map[string]string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, path, bytes.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	ts.h.ServeHTTP(rec, req)
	return rec
}

// TestErrorResponseBounded: however many errors a request has and however
// high max_errors is configured, the error response is bounded: at most
// maxErrorItems items (the rest counted in truncated) and a message of at
// most maxErrorMessage bytes (saying how much was cut).
func TestErrorResponseBounded(t *testing.T) {
	opts := testOptions()
	opts.Limits.MaxErrors = 1 << 20
	opts.Limits.MaxItems = 1 << 20
	ts := newTestServer(t, opts, nil)
	var b strings.Builder
	b.WriteString("[")
	const n = 20000
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `{"type":"signup","id":"e%d","time":%q,"store":"s1","user":"u","owner_%d":1}`,
			i, testclock.Now().Add(-time.Minute).Format(time.RFC3339), i)
	}
	b.WriteString("]")
	rec := ts.do(t, "POST", "/v1/events", testToken, []byte(b.String()), nil)
	require.Equal(t, http.StatusBadRequest, rec.Code)
	require.Less(t, rec.Body.Len(), 512<<10, "error response is capped")
	var body errorBody
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &body))
	require.Len(t, body.Items, maxErrorItems)
	require.Equal(t, n-maxErrorItems, body.Truncated, "what is not listed is counted")
	require.LessOrEqual(t, len(body.Error), maxErrorMessage+64)
	require.Contains(t, body.Error, "more bytes not shown")
	require.Contains(t, body.Error, fmt.Sprintf("%d of %d items invalid", n, n))
	require.Equal(t, 0, ts.acc.accepted)
}
func validEvents(t testing.TB, n int, store string) []byte {
	t.Helper()
	evs := make([]map[string]any, n)
	for i := range evs {
		evs[i] = map[string]any{"type": "signup", "id": fmt.Sprintf("e%d", i),
			"time": testclock.Now().Add(-time.Minute).Format(time.RFC3339), "store": store, "user": "u"}
	}
	b, err := json.Marshal(evs)
	require.NoError(t, err)
	return b
}

func gzipBytes(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	_, err := zw.Write(b)
	require.NoError(t, err)
	require.NoError(t, zw.Close())
	return buf.Bytes()
}

// heapPeak samples the heap's object bytes until stop is closed.
func heapPeak(stop <-chan struct{}) <-chan uint64 {
	out := make(chan uint64, 1)
	go func() {
		s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
		var peak uint64
		tick := time.NewTicker(2 * time.Millisecond)
		defer tick.Stop()
		for {
			metrics.Read(s)
			peak = max(peak, s[0].Value.Uint64())
			select {
			case <-stop:
				out <- peak
				return
			case <-tick.C:
			}
		}
	}()
	return out
}

// TestAdmissionBoundsMemory: many concurrent gzip bodies that decompress to
// 8 MB each are admitted by size: the heap stays within the body budget (plus
// the test's own baseline and GC slack) instead of growing with the number
// of requests, and every request is either accepted or refused with 503 and
// Retry-After; a body that could never fit the budget gets 413.
func TestAdmissionBoundsMemory(t *testing.T) {
	const (
		budget   = 64 << 20
		bodySize = 8 << 20
		clients  = 32
	)
	opts := testOptions()
	opts.MaxBodyBytes = 1 << 20
	opts.MaxDecompressedBytes = 128 << 20
	opts.BodyMemory = budget
	opts.AdmissionWait = 20 * time.Second
	ts := newTestServer(t, opts, nil)

	plain := validEvents(t, 1, "s1")
	big := append(append(plain[:len(plain)-1:len(plain)-1], bytes.Repeat([]byte(" "), bodySize)...), ']')
	gz := gzipBytes(t, big)
	require.Less(t, len(gz), 1<<20)
	hdr := map[string]string{"Content-Encoding": "gzip", "Content-Type": "application/json"}

	runtime.GC()
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(s)
	baseline := s[0].Value.Uint64()

	stop := make(chan struct{})
	peakCh := heapPeak(stop)
	var wg sync.WaitGroup
	codes := make([]int, clients)
	retry := make([]string, clients)
	for i := 0; i < clients; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			rec := ts.do(t, "POST", "/v1/events", testToken, gz, hdr)
			codes[i], retry[i] = rec.Code, rec.Header().Get("Retry-After")
		}(i)
	}
	wg.Wait()
	close(stop)
	peak := <-peakCh
	t.Logf("heap baseline %d MiB, peak %d MiB, budget %d MiB, codes %v", baseline>>20, peak>>20, budget>>20, codes)
	require.Less(t, peak-min(peak, baseline), uint64(2*budget), "heap grows with the budget, not with the requests")
	accepted := 0
	for i, c := range codes {
		switch c {
		case http.StatusAccepted:
			accepted++
		case http.StatusServiceUnavailable:
			require.NotEmpty(t, retry[i])
		default:
			t.Fatalf("request %d: status %d", i, c)
		}
	}
	require.Positive(t, accepted)
	require.Zero(t, ts.srv.admit.inUse(), "every request gave its memory back")

	// A body that can never fit is refused at once, not made to wait.
	huge := gzipBytes(t, append(append(plain[:len(plain)-1:len(plain)-1], bytes.Repeat([]byte(" "), 40<<20)...), ']'))
	rec := ts.do(t, "POST", "/v1/events", testToken, huge, hdr)
	require.Equal(t, http.StatusRequestEntityTooLarge, rec.Code, rec.Body.String())
	require.Contains(t, rec.Body.String(), "memory_limit")
	require.Zero(t, ts.srv.admit.inUse())
}

// TestAdmissionWaitAnswers503: when the budget stays taken for the admission
// wait, the request is refused with 503 and Retry-After, nothing stored.
func TestAdmissionWaitAnswers503(t *testing.T) {
	opts := testOptions()
	opts.BodyMemory = 6 << 20
	opts.AdmissionWait = 50 * time.Millisecond
	opts.Limits.MaxItems = 50000
	ts := newTestServer(t, opts, nil)
	ts.acc.hold = make(chan struct{})
	body := validEvents(t, 10000, "s1") // ~0.9 MB: holds 2.5 MiB of the budget
	done := make(chan int)
	go func() { done <- ts.do(t, "POST", "/v1/events", testToken, body, nil).Code }()
	require.Eventually(t, func() bool { return ts.srv.admit.inUse() > 0 }, 5*time.Second, time.Millisecond)
	big := validEvents(t, 20000, "s1") // ~1.7 MB: would need 5 MiB more
	rec := ts.do(t, "POST", "/v1/events", testToken, big, nil)
	require.Equal(t, http.StatusServiceUnavailable, rec.Code, rec.Body.String())
	require.Equal(t, "1", rec.Header().Get("Retry-After"))
	require.Contains(t, rec.Body.String(), "overloaded")
	close(ts.acc.hold)
	require.Equal(t, http.StatusAccepted, <-done)
	require.Equal(t, 10000, ts.acc.accepted)
}

// TestNoInternalsInAnswers: /readyz (unauthenticated) and error bodies name
// what failed, never the InfluxDB URL and its credentials, socket addresses
// or server file paths; the log keeps the whole error.
func TestNoInternalsInAnswers(t *testing.T) {
	leaks := []string{"admin", "s3cret", "10.20.30.40", "8086", "/var/lib/storepulse", "000042.seg"}
	ready := fakeReady{err: errors.New(`InfluxDB health: Get "http://admin:s3cret@10.20.30.40:8086/health": dial tcp 10.20.30.40:8086: connect: connection refused`)}
	ts := newTestServer(t, testOptions(), ready)
	rec := ts.do(t, "GET", "/readyz", "", nil, nil)
	require.Equal(t, http.StatusServiceUnavailable, rec.Code)
	require.Contains(t, rec.Body.String(), "connection refused", "the reason is kept")
	for _, l := range leaks {
		require.NotContains(t, rec.Body.String(), l)
	}
	require.Contains(t, ts.logs.String(), "10.20.30.40", "the log has the whole error")

	ts.acc.err = errors.New("spool: append /var/lib/storepulse/spool/000042.seg: no space left on device")
	rec = ts.do(t, "POST", "/v1/events", testToken, validEvents(t, 1, "s1"), nil)
	require.Equal(t, http.StatusServiceUnavailable, rec.Code)
	require.Contains(t, rec.Body.String(), "no space left on device")
	for _, l := range leaks {
		require.NotContains(t, rec.Body.String(), l)
	}
}

// TestSlowBodyIs408: a body that does not arrive within the server's read
// timeout is answered 408 request_timeout (not 400), without socket
// addresses.
func TestSlowBodyIs408(t *testing.T) {
	opts := testOptions()
	opts.RequestTimeout = 300 * time.Millisecond
	ts := newTestServer(t, opts, nil)
	hs := httptest.NewUnstartedServer(ts.h)
	hs.Config.ReadTimeout = opts.RequestTimeout
	hs.Start()
	defer hs.Close()
	conn, err := net.Dial("tcp", hs.Listener.Addr().String())
	require.NoError(t, err)
	defer conn.Close()
	_, err = fmt.Fprintf(conn, "POST /v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n[{\"type\"", testToken)
	require.NoError(t, err)
	require.NoError(t, conn.SetReadDeadline(time.Now().Add(10*time.Second)))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	require.Equal(t, http.StatusRequestTimeout, resp.StatusCode, string(body))
	require.Contains(t, string(body), "request_timeout")
	require.NotContains(t, string(body), "127.0.0.1")
}

type degradedReady struct{ warnings []string }

func (degradedReady) Ready(context.Context) error { return nil }
func (d degradedReady) Degraded() []string        { return d.warnings }

// TestReadyzWarningsKeepOnlyFileNames: /readyz warnings name a quarantined
// file without its directory.
func TestReadyzWarningsKeepOnlyFileNames(t *testing.T) {
	ts := newTestServer(t, testOptions(), degradedReady{warnings: []string{"segment quarantined: /var/lib/storepulse/quarantine/000042.seg (bad checksum)"}})
	rec := ts.do(t, "GET", "/readyz", "", nil, nil)
	require.Equal(t, http.StatusOK, rec.Code)
	require.Contains(t, rec.Body.String(), "000042.seg (bad checksum)")
	require.Contains(t, rec.Body.String(), "degraded")
	require.NotContains(t, rec.Body.String(), "/var/lib")
}
