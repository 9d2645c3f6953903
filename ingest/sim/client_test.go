package sim

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/storepulse/storepulse/internal/testclock"
)

func sampleEvents(t *testing.T, n int) ([]Event, *time.Location) {
	t.Helper()
	loc := shanghai(t)
	g, err := New(Config{Seed: 1, NumStores: 1, Start: date(loc, 2026, 3, 2).Add(12 * time.Hour), Days: 1})
	require.NoError(t, err)
	evs, ok := g.Next()
	require.True(t, ok)
	require.GreaterOrEqual(t, len(evs), n)
	return evs[:n], loc
}

func ndjsonLines(t *testing.T, r *http.Request) []map[string]any {
	t.Helper()
	require.Equal(t, "gzip", r.Header.Get("Content-Encoding"))
	require.Equal(t, "application/x-ndjson", r.Header.Get("Content-Type"))
	zr, err := gzip.NewReader(r.Body)
	require.NoError(t, err)
	var out []map[string]any
	sc := bufio.NewScanner(zr)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var m map[string]any
		require.NoError(t, json.Unmarshal(sc.Bytes(), &m))
		out = append(out, m)
	}
	require.NoError(t, sc.Err())
	return out
}

func TestClientSendEvents(t *testing.T) {
	evs, loc := sampleEvents(t, 20)
	tests := []struct {
		name       string
		statuses   []int // answers in turn; the last repeats
		retryAfter string
		wantErr    bool
		wantCalls  int
		wantWaits  []time.Duration
	}{
		{"accepted at once", []int{202}, "", false, 1, nil},
		{"503 then accepted, same batch", []int{503, 503, 202}, "3", false, 3, []time.Duration{3 * time.Second, 3 * time.Second}},
		{"bad request not retried", []int{400}, "", true, 1, nil},
		{"unauthorized not retried", []int{401}, "", true, 1, nil},
		{"gives up after max attempts", []int{503}, "1", true, 4, []time.Duration{time.Second, time.Second, time.Second}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var mu sync.Mutex
			var bodies [][32]byte
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				require.Equal(t, "/v1/events", r.URL.Path)
				require.Equal(t, "Bearer tok", r.Header.Get("Authorization"))
				raw, err := io.ReadAll(r.Body)
				require.NoError(t, err)
				r.Body = io.NopCloser(bytes.NewReader(raw))
				lines := ndjsonLines(t, r)
				require.Len(t, lines, len(evs))
				mu.Lock()
				bodies = append(bodies, sha256.Sum256(raw))
				status := tc.statuses[min(len(bodies), len(tc.statuses))-1]
				mu.Unlock()
				if tc.retryAfter != "" {
					w.Header().Set("Retry-After", tc.retryAfter)
				}
				w.WriteHeader(status)
				if status == 202 {
					_, _ = w.Write([]byte(`{"accepted":18,"duplicates":2}`))
				} else {
					_, _ = w.Write([]byte(`{"error":"nope"}`))
				}
			}))
			defer srv.Close()
			c, err := NewClient(ClientOptions{URL: srv.URL, Token: "tok", MaxAttempts: 4})
			require.NoError(t, err)
			var waits []time.Duration
			c.sleep = func(_ context.Context, d time.Duration) error { waits = append(waits, d); return nil }
			res, err := c.SendEvents(context.Background(), evs, loc)
			if tc.wantErr {
				require.Error(t, err)
				var he *HTTPError
				require.ErrorAs(t, err, &he)
				require.Equal(t, tc.statuses[len(tc.statuses)-1], he.Status)
			} else {
				require.NoError(t, err)
				require.Equal(t, Result{Accepted: 18, Duplicates: 2}, res)
			}
			require.Len(t, bodies, tc.wantCalls)
			for _, b := range bodies {
				require.Equal(t, bodies[0], b, "a retry resends the same batch")
			}
			require.Equal(t, tc.wantWaits, waits)
		})
	}
}

func TestClientRetriesNetworkErrors(t *testing.T) {
	evs, loc := sampleEvents(t, 5)
	var mu sync.Mutex
	calls := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		mu.Lock()
		calls++
		n := calls
		mu.Unlock()
		if n == 1 {
			panic(http.ErrAbortHandler) // drops the connection
		}
		w.WriteHeader(http.StatusAccepted)
		_, _ = w.Write([]byte(`{"accepted":5,"duplicates":0}`))
	}))
	defer srv.Close()
	c, err := NewClient(ClientOptions{URL: srv.URL, MinBackoff: time.Millisecond, MaxBackoff: 2 * time.Millisecond})
	require.NoError(t, err)
	res, err := c.SendEvents(context.Background(), evs, loc)
	require.NoError(t, err)
	require.Equal(t, 5, res.Accepted)
	require.Equal(t, 2, calls)
}

func TestClientHonoursCancellation(t *testing.T) {
	evs, loc := sampleEvents(t, 5)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Retry-After", "30")
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	c, err := NewClient(ClientOptions{URL: srv.URL})
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = c.SendEvents(ctx, evs, loc)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.Less(t, time.Since(start), 5*time.Second, "does not sit out the 30s Retry-After")
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Duration
	}{
		{"", -1},
		{"7", 7 * time.Second},
		{"-3", -1},
		{"soon", -1},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second},
		{now.Add(-time.Minute).Format(http.TimeFormat), 0},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			require.Equal(t, tc.want, parseRetryAfter(tc.in, now))
		})
	}
}

// fakeIngest records what the simulator sends, answering 503 to the first
// events request.
type fakeIngest struct {
	t         *testing.T
	mu        sync.Mutex
	order     []string
	events    []map[string]any
	maxBatch  int
	campaigns []Campaign
	targets   int
	rejected  bool
}

func (f *fakeIngest) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.order = append(f.order, r.Method+" "+r.URL.Path)
	switch r.URL.Path {
	case "/v1/campaigns":
		require.NoError(f.t, json.NewDecoder(r.Body).Decode(&f.campaigns))
	case "/v1/targets":
		var ts []Target
		require.NoError(f.t, json.NewDecoder(r.Body).Decode(&ts))
		f.targets += len(ts)
	case "/v1/events":
		lines := ndjsonLines(f.t, r)
		if !f.rejected {
			f.rejected = true
			w.Header().Set("Retry-After", "0")
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		f.maxBatch = max(f.maxBatch, len(lines))
		f.events = append(f.events, lines...)
		w.WriteHeader(http.StatusAccepted)
		_, _ = w.Write([]byte(`{"accepted":` + itoa(len(lines)) + `,"duplicates":0}`))
		return
	}
	w.WriteHeader(http.StatusOK)
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

func TestBackfill(t *testing.T) {
	loc := shanghai(t)
	cfg := Config{Seed: 3, NumStores: 2, Start: date(loc, 2026, 3, 2), Days: 3, Scale: 0.5} // Wednesday 4 March is a member day
	_, want := generate(t, cfg)
	f := &fakeIngest{t: t}
	srv := httptest.NewServer(f)
	defer srv.Close()
	c, err := NewClient(ClientOptions{URL: srv.URL, Token: "x"})
	require.NoError(t, err)
	g, err := New(cfg)
	require.NoError(t, err)
	var bar bytes.Buffer
	st, err := Backfill(context.Background(), g, c, BackfillOptions{BatchSize: 700, Concurrency: 3, Progress: &bar})
	require.NoError(t, err)
	require.Equal(t, int64(len(want)), st.Events)
	require.Equal(t, int64(len(want)), st.Accepted)
	require.Len(t, f.events, len(want), "every event arrives once, the rejected batch included")
	require.LessOrEqual(t, f.maxBatch, 700)
	require.Equal(t, "PUT /v1/campaigns", f.order[0])
	require.Equal(t, "PUT /v1/targets", f.order[1])
	require.Equal(t, len(g.Targets()), f.targets)
	require.NotEmpty(t, f.campaigns)
	ids := map[string]bool{}
	for _, e := range f.events {
		ids[e["type"].(string)+"/"+e["store"].(string)+"/"+e["id"].(string)] = true
	}
	require.Len(t, ids, len(want))
	require.Contains(t, bar.String(), "100.0%")
}

func TestLiveSendsOnlyDueEvents(t *testing.T) {
	loc := shanghai(t)
	now := testclock.Now().In(loc)
	cfg := Config{Seed: 4, NumStores: 1, Start: now.Add(-2 * time.Hour), Days: 1}
	_, all := generate(t, cfg)
	due := count(all, func(e *Event) bool { return !e.Time.After(now) })
	require.Positive(t, due)

	f := &fakeIngest{t: t, rejected: true}
	srv := httptest.NewServer(f)
	defer srv.Close()
	c, err := NewClient(ClientOptions{URL: srv.URL})
	require.NoError(t, err)
	g, err := New(cfg)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var ticks int
	clock := func() time.Time {
		ticks++
		if ticks > 3 {
			cancel() // a few rounds at the same instant, then stop
		}
		return now
	}
	st, err := Live(ctx, g, c, LiveOptions{Interval: time.Millisecond, Now: clock})
	require.ErrorIs(t, err, context.Canceled)
	require.Equal(t, int64(due), st.Events)
	require.Len(t, f.events, due)
	for _, e := range f.events {
		ts, err := time.Parse(time.RFC3339, e["time"].(string))
		require.NoError(t, err)
		require.False(t, ts.After(now), "nothing from the future")
	}
	require.True(t, strings.HasPrefix(f.order[0], "PUT"))
	require.False(t, errors.Is(err, context.DeadlineExceeded))
}
