package influx

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
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	http2 "github.com/influxdata/influxdb-client-go/v2/api/http"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/require"
)

const testToken = "s3cret-t0ken-value"

// request is what the fake InfluxDB saw.
type request struct {
	path, query, encoding, auth string
	lines                       []string
}

// fake is an httptest InfluxDB whose write answer is decided per request.
type fake struct {
	srv    *httptest.Server
	mu     sync.Mutex
	reqs   []request
	answer func(n int, r request, w http.ResponseWriter) // n: 0-based request index
}

func newFake(t *testing.T, answer func(n int, r request, w http.ResponseWriter)) *fake {
	t.Helper()
	f := &fake{answer: answer}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, hr *http.Request) {
		var body io.Reader = hr.Body
		if hr.Header.Get("Content-Encoding") == "gzip" {
			zr, err := gzip.NewReader(hr.Body)
			if err != nil {
				http.Error(w, err.Error(), http.StatusTeapot)
				return
			}
			body = zr
		}
		raw, err := io.ReadAll(body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusTeapot)
			return
		}
		r := request{
			path: hr.URL.Path, query: hr.URL.RawQuery,
			encoding: hr.Header.Get("Content-Encoding"), auth: hr.Header.Get("Authorization"),
		}
		if len(raw) > 0 {
			r.lines = strings.Split(string(raw), "\n")
		}
		f.mu.Lock()
		n := len(f.reqs)
		f.reqs = append(f.reqs, r)
		f.mu.Unlock()
		f.answer(n, r, w)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fake) requests() []request {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]request(nil), f.reqs...)
}

func ok(_ int, _ request, w http.ResponseWriter) { w.WriteHeader(http.StatusNoContent) }

// syncBuffer is a log sink safe for concurrent writers.
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

type harness struct {
	c    *Client
	m    *Metrics
	logs *syncBuffer
	dir  string
}

func newHarness(t *testing.T, url string, mutate func(*Config)) *harness {
	t.Helper()
	cfg := Config{
		URL: url, Token: testToken, Org: "storepulse", Bucket: "db/autogen",
		Timeout: 5 * time.Second, MinBackoff: time.Millisecond, MaxBackoff: 20 * time.Millisecond,
		DeadLetterDir: filepath.Join(t.TempDir(), "deadletter"),
		Concurrency:   1, // most tests check request order; TestWriteConcurrently does not
	}
	if mutate != nil {
		mutate(&cfg)
	}
	logs := &syncBuffer{}
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	m := NewMetrics(prometheus.NewRegistry())
	c, err := New(cfg, logger, m)
	require.NoError(t, err)
	t.Cleanup(c.Close)
	return &harness{c: c, m: m, logs: logs, dir: cfg.DeadLetterDir}
}

func makeLines(n int) []string {
	lines := make([]string, n)
	for i := range lines {
		lines[i] = fmt.Sprintf("sp_orders,store=s%d,ingester=t orders=%di,gmv=1.5 %d", i%7, i, 1_700_000_000_000_000_000+int64(i))
	}
	return lines
}

func readDeadLetters(t *testing.T, dir string) []DeadLetterRecord {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.jsonl"))
	require.NoError(t, err)
	var recs []DeadLetterRecord
	for _, name := range files {
		f, err := os.Open(name)
		require.NoError(t, err)
		sc := bufio.NewScanner(f)
		sc.Buffer(nil, 64<<20)
		for sc.Scan() {
			var r DeadLetterRecord
			require.NoError(t, json.Unmarshal(sc.Bytes(), &r), "one JSON object per line")
			recs = append(recs, r)
		}
		require.NoError(t, sc.Err())
		f.Close()
	}
	return recs
}

func TestWriteBatchesGzipAndHeaders(t *testing.T) {
	tests := []struct {
		name       string
		lines      int
		batchLines int
		wantSizes  []int
	}{
		{"12000 lines in default batches", 12000, 0, []int{5000, 5000, 2000}},
		{"exact multiple", 4, 2, []int{2, 2}},
		{"remainder", 3, 2, []int{2, 1}},
		{"nothing to write", 0, 0, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t, ok)
			h := newHarness(t, f.srv.URL, func(c *Config) { c.BatchLines = tt.batchLines })
			lines := makeLines(tt.lines)

			require.NoError(t, h.c.Write(context.Background(), lines))

			reqs := f.requests()
			require.Len(t, reqs, len(tt.wantSizes))
			var got []string
			for i, r := range reqs {
				require.Equal(t, "gzip", r.encoding, "request %d must be gzip-compressed", i)
				require.Equal(t, "/api/v2/write", r.path)
				require.Contains(t, r.query, "bucket=db%2Fautogen")
				require.Contains(t, r.query, "org=storepulse")
				require.Contains(t, r.query, "precision=ns")
				require.Equal(t, "Token "+testToken, r.auth)
				require.Len(t, r.lines, tt.wantSizes[i])
				got = append(got, r.lines...)
			}
			if len(lines) > 0 {
				require.Equal(t, lines, got, "every line once, in order")
			} else {
				require.Empty(t, got)
			}
			require.InDelta(t, float64(tt.lines), value(t, h.m.LinesWritten), 0)
			if tt.lines > 0 {
				require.WithinDuration(t, time.Now(), h.c.LastWrite(), 5*time.Second)
				require.Greater(t, value(t, h.m.LastSuccess), 0.0)
			} else {
				require.True(t, h.c.LastWrite().IsZero())
			}
			require.Equal(t, uint64(len(tt.wantSizes)), histogramCount(t, h.m.WriteDuration))
		})
	}
}

// value reads a counter's or gauge's current value.
func value(t *testing.T, m prometheus.Metric) float64 {
	t.Helper()
	var d dto.Metric
	require.NoError(t, m.Write(&d))
	if d.Counter != nil {
		return d.Counter.GetValue()
	}
	require.NotNil(t, d.Gauge, "counter or gauge")
	return d.Gauge.GetValue()
}

func histogramCount(t *testing.T, hist prometheus.Histogram) uint64 {
	t.Helper()
	reg := prometheus.NewRegistry()
	require.NoError(t, reg.Register(hist))
	mfs, err := reg.Gather()
	require.NoError(t, err)
	require.Len(t, mfs, 1)
	return mfs[0].GetMetric()[0].GetHistogram().GetSampleCount()
}

func TestWriteHonoursRetryAfter(t *testing.T) {
	f := newFake(t, func(n int, _ request, w http.ResponseWriter) {
		if n == 0 {
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	// Backoff alone would retry within 20ms; only Retry-After explains ~1s.
	h := newHarness(t, f.srv.URL, nil)
	lines := makeLines(3)

	start := time.Now()
	require.NoError(t, h.c.Write(context.Background(), lines))
	elapsed := time.Since(start)

	require.GreaterOrEqual(t, elapsed, time.Second)
	require.Less(t, elapsed, 2500*time.Millisecond)
	reqs := f.requests()
	require.Len(t, reqs, 2)
	require.Equal(t, lines, reqs[1].lines)
	require.InDelta(t, 1, value(t, h.m.Retries), 0)
	require.InDelta(t, 1, value(t, h.m.WriteErrors.WithLabelValues(ClassServer)), 0)
	require.InDelta(t, 3, value(t, h.m.LinesWritten), 0)
	require.Contains(t, h.logs.String(), "InfluxDB writes recovered")
}

func TestWriteRetriesTransientFailures(t *testing.T) {
	tests := []struct {
		name   string
		status int
		class  string
	}{
		{"internal error", http.StatusInternalServerError, ClassServer},
		{"bad gateway", http.StatusBadGateway, ClassServer},
		{"throttled", http.StatusTooManyRequests, ClassThrottled},
		{"request timeout", http.StatusRequestTimeout, ClassTimeout},
	}
	const failures = 4
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t, func(n int, _ request, w http.ResponseWriter) {
				if n < failures {
					w.WriteHeader(tt.status)
					return
				}
				w.WriteHeader(http.StatusNoContent)
			})
			h := newHarness(t, f.srv.URL, nil)
			lines := makeLines(5)

			require.NoError(t, h.c.Write(context.Background(), lines))

			reqs := f.requests()
			require.Len(t, reqs, failures+1)
			for _, r := range reqs {
				require.Equal(t, lines, r.lines, "every retry resends the same batch")
			}
			require.InDelta(t, failures, value(t, h.m.Retries), 0)
			require.InDelta(t, failures, value(t, h.m.WriteErrors.WithLabelValues(tt.class)), 0)
			require.Empty(t, readDeadLetters(t, h.dir))
			logs := h.logs.String()
			require.Equal(t, 1, strings.Count(logs, "level=WARN"), "a streak is logged once")
			require.Contains(t, logs, "InfluxDB writes recovered")
		})
	}
}

func TestWriteDeadLettersInvalidBatches(t *testing.T) {
	tests := []struct {
		name       string
		status     int
		reject     func(w http.ResponseWriter)
		wantReason string
	}{
		{
			name:   "1.8 partial write",
			status: http.StatusBadRequest,
			reject: func(w http.ResponseWriter) {
				msg := `partial write: field type conflict: input field "orders" on measurement "sp_orders" is type string, already exists as type integer dropped=1`
				w.Header().Set("Content-Type", "application/json")
				w.Header().Set("X-Influxdb-Error", msg)
				w.WriteHeader(http.StatusBadRequest)
				_, _ = w.Write([]byte(`{"error":` + strconv.Quote(msg) + `}`))
			},
			wantReason: "partial write: field type conflict",
		},
		{
			name:   "2.x unprocessable",
			status: http.StatusUnprocessableEntity,
			reject: func(w http.ResponseWriter) {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusUnprocessableEntity)
				_, _ = w.Write([]byte(`{"code":"unprocessable entity","message":"failure writing points to database: partial write: points beyond retention policy dropped=2"}`))
			},
			wantReason: "points beyond retention policy",
		},
		{
			name:   "2.x invalid, token echoed",
			status: http.StatusBadRequest,
			reject: func(w http.ResponseWriter) {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusBadRequest)
				_, _ = w.Write([]byte(`{"code":"invalid","message":"unable to parse 'x' with Token ` + testToken + `"}`))
			},
			wantReason: "unable to parse",
		},
		{
			// InfluxDB 3's /api/v2/write refuses the whole request at the first
			// bad line (accept_partial=false) in the v2 error shape.
			name:   "3.x v2 write, field type conflict",
			status: http.StatusBadRequest,
			reject: func(w http.ResponseWriter) {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusBadRequest)
				_, _ = w.Write([]byte(`{"code":"invalid","message":"write buffer error: line protocol parse failed: invalid column type for column 'orders', expected iox::column_type::field::integer, got iox::column_type::field::string"}`))
			},
			wantReason: "invalid column type for column 'orders'",
		},
		{
			// InfluxDB 3's partial-write answer: no code or message, the reason
			// is in "error" and in each refused line's "error_message" (the
			// client library alone reports "Unexpected status code 400").
			name:   "3.x partial write answer",
			status: http.StatusBadRequest,
			reject: func(w http.ResponseWriter) {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusBadRequest)
				_, _ = w.Write([]byte(`{"error":"partial write of line protocol occurred","data":[{"error_message":"invalid column type for column 'orders', expected iox::column_type::field::integer, got iox::column_type::field::string","line_number":1,"original_line":"sp_orders,store=s1,i"}]}`))
			},
			wantReason: "partial write of line protocol occurred: line 1: invalid column type for column 'orders'",
		},
		{
			// InfluxDB 3's answer when a write would pass a schema limit.
			name:   "3.x column limit",
			status: http.StatusUnprocessableEntity,
			reject: func(w http.ResponseWriter) {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusUnprocessableEntity)
				_, _ = w.Write([]byte(`{"error":"partial write of line protocol occurred","data":{"error_message":"Update to schema would exceed number of columns per table (500)","line_number":2,"original_line":"sp_orders,store=s1,i"}}`))
			},
			wantReason: "line 2: Update to schema would exceed number of columns per table",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lines := makeLines(4)
			bad := lines[1]
			// InfluxDB refuses every request holding the bad line.
			f := newFake(t, func(_ int, r request, w http.ResponseWriter) {
				if slices.Contains(r.lines, bad) {
					tt.reject(w)
					return
				}
				w.WriteHeader(http.StatusNoContent)
			})
			h := newHarness(t, f.srv.URL, func(c *Config) { c.BatchLines = 2 })

			require.NoError(t, h.c.Write(context.Background(), lines), "a refused line is set aside, not an error")

			var sent [][]string
			for _, r := range f.requests() {
				sent = append(sent, r.lines)
			}
			require.Equal(t, [][]string{lines[:2], lines[:1], lines[1:2], lines[2:4]}, sent,
				"the refused batch is halved down to the bad line; Write carries on")
			recs := readDeadLetters(t, h.dir)
			require.Len(t, recs, 1)
			require.Equal(t, tt.status, recs[0].Status)
			require.Contains(t, recs[0].Reason, tt.wantReason)
			require.Equal(t, "db/autogen", recs[0].Bucket)
			require.Equal(t, []string{bad}, recs[0].Lines, "only the refused line, never its neighbours")
			require.WithinDuration(t, time.Now(), recs[0].Time, 10*time.Second)
			require.InDelta(t, 1, value(t, h.m.DeadLetteredLines), 0)
			require.InDelta(t, 1, value(t, h.m.DeadLetteredBatches), 0)
			require.InDelta(t, 1, value(t, h.m.Bisections), 0)
			require.InDelta(t, 2, value(t, h.m.WriteErrors.WithLabelValues(ClassInvalid)), 0)
			require.InDelta(t, 3, value(t, h.m.LinesWritten), 0)

			raw, err := os.ReadFile(DeadLetterFile(h.dir, recs[0].Time))
			require.NoError(t, err)
			require.NotContains(t, string(raw), testToken)
			require.NotContains(t, h.logs.String(), testToken)
			require.Contains(t, h.logs.String(), "dead-letter")
		})
	}
}

func TestWriteDeadLetterFailureKeepsData(t *testing.T) {
	f := newFake(t, func(_ int, _ request, w http.ResponseWriter) {
		http.Error(w, "unable to parse", http.StatusBadRequest)
	})
	h := newHarness(t, f.srv.URL, nil)
	// Replace the directory with a file: appending must fail.
	require.NoError(t, os.RemoveAll(h.dir))
	require.NoError(t, os.WriteFile(h.dir, nil, 0o600))

	err := h.c.Write(context.Background(), makeLines(2))

	var e *Error
	require.ErrorAs(t, err, &e)
	require.Equal(t, "deadletter", e.Op)
	require.False(t, e.Downstream, "failing to write our own disk is StorePulse's fault")
	require.Contains(t, err.Error(), "HTTP 400")
	require.InDelta(t, 0, value(t, h.m.DeadLetteredLines), 0)
}

func TestWriteOperatorErrorsRetryUntilCanceled(t *testing.T) {
	tests := []struct {
		name   string
		status int
		class  string
	}{
		{"unauthorized", http.StatusUnauthorized, ClassAuth},
		{"forbidden", http.StatusForbidden, ClassAuth},
		{"bucket not found", http.StatusNotFound, ClassNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t, func(_ int, r request, w http.ResponseWriter) {
				// A careless server echoing the credentials it refused.
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(tt.status)
				_, _ = w.Write([]byte(`{"code":"unauthorized","message":"refused ` + r.auth + `"}`))
			})
			h := newHarness(t, f.srv.URL, nil)
			ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
			defer cancel()

			err := h.c.Write(ctx, makeLines(3))

			require.Error(t, err)
			var e *Error
			require.ErrorAs(t, err, &e)
			require.Equal(t, "write", e.Op)
			require.True(t, e.Downstream)
			require.True(t, IsDownstream(err))
			require.Equal(t, tt.status, e.StatusCode)
			require.ErrorIs(t, err, context.DeadlineExceeded)
			require.Contains(t, err.Error(), "downstream")
			require.Contains(t, err.Error(), strconv.Itoa(tt.status))
			require.NotContains(t, err.Error(), testToken)

			require.GreaterOrEqual(t, len(f.requests()), 5, "kept retrying")
			require.Empty(t, readDeadLetters(t, h.dir), "never dropped nor dead-lettered")
			// The last request may be cut by ctx before its answer is read.
			n := float64(len(f.requests()))
			require.GreaterOrEqual(t, value(t, h.m.WriteErrors.WithLabelValues(tt.class)), n-1)
			require.LessOrEqual(t, value(t, h.m.WriteErrors.WithLabelValues(tt.class)), n)
			logs := h.logs.String()
			require.Equal(t, 1, strings.Count(logs, "level=ERROR"), "logged once per streak:\n%s", logs)
			require.Contains(t, logs, "check the token")
			require.NotContains(t, logs, testToken)
		})
	}
}

func TestWriteCanceledBeforeAnyAttempt(t *testing.T) {
	f := newFake(t, ok)
	h := newHarness(t, f.srv.URL, nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()

	err := h.c.Write(ctx, makeLines(1))

	var e *Error
	require.ErrorAs(t, err, &e)
	require.False(t, e.Downstream, "InfluxDB was never asked")
	require.ErrorIs(t, err, context.Canceled)
	require.Empty(t, f.requests())
}

func TestWriteHungServerIsDownstream(t *testing.T) {
	release := make(chan struct{})
	f := newFake(t, func(_ int, _ request, w http.ResponseWriter) {
		<-release
		w.WriteHeader(http.StatusNoContent)
	})
	defer close(release)
	h := newHarness(t, f.srv.URL, func(c *Config) { c.Timeout = 50 * time.Millisecond })
	ctx, cancel := context.WithTimeout(context.Background(), 400*time.Millisecond)
	defer cancel()

	err := h.c.Write(ctx, makeLines(2))

	var e *Error
	require.ErrorAs(t, err, &e)
	require.True(t, e.Downstream, "InfluxDB never answered")
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.GreaterOrEqual(t, len(f.requests()), 2, "each request is cut by Config.Timeout and retried")
	require.GreaterOrEqual(t, value(t, h.m.WriteErrors.WithLabelValues(ClassTimeout)), 2.0)
	require.InDelta(t, 0, value(t, h.m.LinesWritten), 0)
}

func TestWriteSplitsOn413(t *testing.T) {
	tests := []struct {
		name         string
		maxLines     int // the fake answers 413 above this
		lines        int
		wantAccepted int
		wantDead     int // dead-letter records (single lines too large)
	}{
		{"halves until they fit", 3, 10, 10, 0},
		{"single line too large", 0, 2, 0, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var mu sync.Mutex
			var accepted []string
			f := newFake(t, func(_ int, r request, w http.ResponseWriter) {
				if len(r.lines) > tt.maxLines {
					http.Error(w, "request entity too large", http.StatusRequestEntityTooLarge)
					return
				}
				mu.Lock()
				accepted = append(accepted, r.lines...)
				mu.Unlock()
				w.WriteHeader(http.StatusNoContent)
			})
			h := newHarness(t, f.srv.URL, nil)
			lines := makeLines(tt.lines)

			require.NoError(t, h.c.Write(context.Background(), lines))

			mu.Lock()
			defer mu.Unlock()
			require.Len(t, accepted, tt.wantAccepted)
			if tt.wantAccepted == len(lines) {
				require.Equal(t, lines, accepted, "every line once, in order")
			}
			recs := readDeadLetters(t, h.dir)
			require.Len(t, recs, tt.wantDead)
			for _, r := range recs {
				require.Equal(t, http.StatusRequestEntityTooLarge, r.Status)
				require.Len(t, r.Lines, 1)
			}
			require.Positive(t, value(t, h.m.WriteErrors.WithLabelValues(ClassTooLarge)))
		})
	}
}

func TestQueryErrorsSayWhoCausedThem(t *testing.T) {
	tests := []struct {
		name           string
		status         int
		wantDownstream bool
	}{
		{"bad flux is ours", http.StatusBadRequest, false},
		{"server failure is InfluxDB's", http.StatusInternalServerError, true},
		{"bad token is InfluxDB's side", http.StatusUnauthorized, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t, func(_ int, _ request, w http.ResponseWriter) {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(tt.status)
				_, _ = w.Write([]byte(`{"code":"x","message":"nope"}`))
			})
			h := newHarness(t, f.srv.URL, nil)

			res, err := h.c.Query(context.Background(), `from(bucket:"db/autogen") |> range(start:-1h)`)

			require.Nil(t, res)
			var e *Error
			require.ErrorAs(t, err, &e)
			require.Equal(t, "query", e.Op)
			require.Equal(t, tt.status, e.StatusCode)
			require.Equal(t, tt.wantDownstream, e.Downstream)
			require.Equal(t, "/api/v2/query", f.requests()[0].path)
		})
	}
}

func TestQueryTimeout(t *testing.T) {
	release := make(chan struct{})
	f := newFake(t, func(_ int, _ request, w http.ResponseWriter) {
		<-release
		w.WriteHeader(http.StatusOK)
	})
	defer close(release)
	h := newHarness(t, f.srv.URL, func(c *Config) { c.Timeout = 100 * time.Millisecond })

	start := time.Now()
	_, err := h.c.Query(context.Background(), `buckets()`)

	require.Less(t, time.Since(start), 2*time.Second)
	var e *Error
	require.ErrorAs(t, err, &e)
	require.True(t, e.Downstream, "InfluxDB did not answer in time")
}

func TestReadyFake(t *testing.T) {
	tests := []struct {
		name       string
		status     int
		body       string
		wantErr    bool
		wantStatus int
	}{
		{"pass", 200, `{"name":"influxdb","message":"ready for queries and writes","status":"pass","checks":[],"version":"1.8.10"}`, false, 0},
		{"2.x failing", 503, `{"name":"influxdb","message":"not ready","status":"fail"}`, true, 503},
		{"200 but fail", 200, `{"status":"fail","message":"degraded"}`, true, 200},
		{"not influx", 200, `hello`, true, 200},
		{"3.x: plain text", 200, "OK\n", false, 0},
		{"3.x: token refused", 401, `{"error":"unauthorized access"}`, true, 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t, func(_ int, _ request, w http.ResponseWriter) {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(tt.status)
				_, _ = w.Write([]byte(tt.body))
			})
			h := newHarness(t, f.srv.URL+"/", nil) // trailing slash must not matter

			err := h.c.Ready(context.Background())

			require.Equal(t, "/health", f.requests()[0].path)
			require.Equal(t, "Token "+testToken, f.requests()[0].auth, "InfluxDB 3.x asks for the token on /health")
			if !tt.wantErr {
				require.NoError(t, err)
				return
			}
			var e *Error
			require.ErrorAs(t, err, &e)
			require.True(t, e.Downstream)
			require.Equal(t, tt.wantStatus, e.StatusCode)
		})
	}
}

func TestNewValidatesConfig(t *testing.T) {
	dir := t.TempDir()
	good := Config{URL: "http://127.0.0.1:8086", Bucket: "b", DeadLetterDir: dir}
	tests := []struct {
		name    string
		mutate  func(*Config)
		wantErr string
	}{
		{"ok", func(*Config) {}, ""},
		{"no url", func(c *Config) { c.URL = "" }, "url"},
		{"bad scheme", func(c *Config) { c.URL = "ftp://x" }, "want http(s)"},
		{"credentials not echoed", func(c *Config) { c.URL = "ftp://u:hunter2@x" }, "want http(s)"},
		{"no bucket", func(c *Config) { c.Bucket = "" }, "bucket is required"},
		{"no dead-letter dir", func(c *Config) { c.DeadLetterDir = "" }, "dead-letter dir"},
		{"negative timeout", func(c *Config) { c.Timeout = -time.Second }, "timeout"},
		{"negative batch", func(c *Config) { c.BatchLines = -1 }, "batch"},
		{"min above max", func(c *Config) { c.MinBackoff, c.MaxBackoff = time.Second, time.Millisecond }, "exceeds"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := good
			tt.mutate(&cfg)
			c, err := New(cfg, nil, nil)
			if tt.wantErr == "" {
				require.NoError(t, err)
				defer c.Close()
				require.Equal(t, DefaultBatchLines, c.cfg.BatchLines)
				require.Equal(t, DefaultTimeout, c.cfg.Timeout)
				require.Equal(t, DefaultTimeout, c.http.Timeout)
				require.Equal(t, DefaultMinBackoff, c.cfg.MinBackoff)
				require.Equal(t, DefaultMaxBackoff, c.cfg.MaxBackoff)
				return
			}
			var e *Error
			require.ErrorAs(t, err, &e)
			require.Equal(t, "config", e.Op)
			require.False(t, e.Downstream)
			require.Contains(t, err.Error(), tt.wantErr)
			require.NotContains(t, err.Error(), "hunter2")
		})
	}
}

func TestBackoffGrowsWithJitterWithinBounds(t *testing.T) {
	c := &Client{cfg: Config{MinBackoff: 100 * time.Millisecond, MaxBackoff: time.Second}}
	tests := []struct {
		attempt  int
		min, max time.Duration
	}{
		{0, 50 * time.Millisecond, 100 * time.Millisecond},
		{1, 100 * time.Millisecond, 200 * time.Millisecond},
		{3, 400 * time.Millisecond, 800 * time.Millisecond},
		{4, 500 * time.Millisecond, time.Second}, // capped
		{1000, 500 * time.Millisecond, time.Second},
	}
	for _, tt := range tests {
		t.Run(strconv.Itoa(tt.attempt), func(t *testing.T) {
			seen := map[time.Duration]bool{}
			for range 200 {
				d := c.backoff(tt.attempt)
				require.GreaterOrEqual(t, d, tt.min)
				require.LessOrEqual(t, d, tt.max)
				seen[d] = true
			}
			require.Greater(t, len(seen), 1, "jittered")
		})
	}
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 11, 11, 0, 0, 0, 0, time.UTC)
	hdr := func(v string) http.Header { return http.Header{"Retry-After": []string{v}} }
	tests := []struct {
		name string
		err  *http2.Error
		want time.Duration
	}{
		{"seconds", &http2.Error{RetryAfter: 3}, 3 * time.Second},
		{"http date", &http2.Error{Header: hdr(now.Add(7 * time.Second).Format(http.TimeFormat))}, 7 * time.Second},
		{"past date", &http2.Error{Header: hdr(now.Add(-time.Minute).Format(http.TimeFormat))}, 0},
		{"absent", &http2.Error{Header: http.Header{}}, 0},
		{"garbage", &http2.Error{Header: hdr("soon")}, 0},
		{"capped", &http2.Error{RetryAfter: 86400}, maxRetryAfter},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, retryAfter(tt.err, now))
		})
	}
}

type timeoutErr struct{}

func (timeoutErr) Error() string   { return "i/o timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

func TestClassify(t *testing.T) {
	tests := []struct {
		err   *http2.Error
		class string
		act   action
	}{
		{http2.NewError(errors.New("connection refused")), ClassNetwork, actRetry},
		{http2.NewError(timeoutErr{}), ClassTimeout, actRetry},
		{http2.NewError(fmt.Errorf("wrapped: %w", context.DeadlineExceeded)), ClassTimeout, actRetry},
		{&http2.Error{StatusCode: 400}, ClassInvalid, actDeadLetter},
		{&http2.Error{StatusCode: 401}, ClassAuth, actRetry},
		{&http2.Error{StatusCode: 403}, ClassAuth, actRetry},
		{&http2.Error{StatusCode: 404}, ClassNotFound, actRetry},
		{&http2.Error{StatusCode: 408}, ClassTimeout, actRetry},
		{&http2.Error{StatusCode: 413}, ClassTooLarge, actSplit},
		{&http2.Error{StatusCode: 422}, ClassInvalid, actDeadLetter},
		{&http2.Error{StatusCode: 429}, ClassThrottled, actRetry},
		{&http2.Error{StatusCode: 500}, ClassServer, actRetry},
		{&http2.Error{StatusCode: 503}, ClassServer, actRetry},
		{&http2.Error{StatusCode: 304}, ClassUnexpected, actRetry},
	}
	for _, tt := range tests {
		t.Run(tt.err.Error(), func(t *testing.T) {
			class, act := classify(tt.err)
			require.Equal(t, tt.class, class)
			require.Equal(t, tt.act, act)
		})
	}
}

func TestMetricsRegistered(t *testing.T) {
	reg := prometheus.NewRegistry()
	NewMetrics(reg)
	mfs, err := reg.Gather()
	require.NoError(t, err)
	names := map[string]bool{}
	for _, mf := range mfs {
		names[mf.GetName()] = true
	}
	for _, n := range []string{
		"storepulse_influx_lines_written_total", "storepulse_influx_write_errors_total",
		"storepulse_influx_dead_lettered_lines_total", "storepulse_influx_dead_lettered_batches_total",
		"storepulse_influx_write_retries_total", "storepulse_influx_last_success_timestamp_seconds",
	} {
		require.True(t, names[n], n)
	}
	require.Panics(t, func() { NewMetrics(reg) }, "double registration is a wiring bug")
}

// Batches of one Write go out concurrently, each exactly once.
func TestWriteConcurrently(t *testing.T) {
	var inFlight, maxInFlight atomic.Int32
	var mu sync.Mutex
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := inFlight.Add(1)
		defer inFlight.Add(-1)
		for {
			m := maxInFlight.Load()
			if n <= m || maxInFlight.CompareAndSwap(m, n) {
				break
			}
		}
		time.Sleep(50 * time.Millisecond)
		zr, err := gzip.NewReader(r.Body)
		require.NoError(t, err)
		body, err := io.ReadAll(zr)
		require.NoError(t, err)
		mu.Lock()
		got = append(got, strings.Split(strings.TrimSpace(string(body)), "\n")...)
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	h := newHarness(t, srv.URL, func(c *Config) { c.Concurrency = 3; c.BatchLines = 1000 })
	lines := makeLines(6000)
	require.NoError(t, h.c.Write(context.Background(), lines))
	require.ElementsMatch(t, lines, got, "every line exactly once")
	require.Equal(t, int32(3), maxInFlight.Load(), "three batches in flight at once")
}
