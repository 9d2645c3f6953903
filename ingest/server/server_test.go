package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
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
	testToken = "test-token"
	shopToken = "shop-token"
)

// fakeAcceptor stands in for the pipeline in unit tests: it counts what it
// is given and can hold requests inside Accept.
type fakeAcceptor struct {
	mu       sync.Mutex
	accepted int
	hold     chan struct{} // when set, Accept waits for it to close
}

func (f *fakeAcceptor) Accept(ctx context.Context, b *event.Batch) (Result, error) {
	if f.hold != nil {
		select {
		case <-f.hold:
		case <-ctx.Done():
			return Result{}, ctx.Err()
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.accepted += b.Len()
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
