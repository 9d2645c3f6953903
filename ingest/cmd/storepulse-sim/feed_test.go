package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// ingestRecorder is a fake ingest API that de-duplicates event ids as the
// service does and remembers what it was sent.
type ingestRecorder struct {
	mu         sync.Mutex
	ids        map[string]bool
	events     int
	duplicates int
	latest     time.Time
}

func (f *ingestRecorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodPut {
		_, _ = io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusNoContent)
		return
	}
	zr, err := gzip.NewReader(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	var accepted, dups int
	sc := bufio.NewScanner(zr)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var e struct{ Type, Store, ID, Time string }
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		key := e.Type + "/" + e.Store + "/" + e.ID
		if f.ids[key] {
			dups++
			continue
		}
		f.ids[key] = true
		accepted++
		if ts, err := time.Parse(time.RFC3339, e.Time); err == nil && ts.After(f.latest) {
			f.latest = ts
		}
	}
	f.events += accepted
	f.duplicates += dups
	_, _ = fmt.Fprintf(w, `{"accepted":%d,"duplicates":%d}`, accepted, dups)
}

func TestFeedBackfillsOnceAndResumesLive(t *testing.T) {
	loc, err := time.LoadLocation("Asia/Shanghai")
	require.NoError(t, err)
	f := &ingestRecorder{ids: map[string]bool{}}
	srv := httptest.NewServer(f)
	defer srv.Close()
	dir := t.TempDir()
	args := []string{"feed", "--url", srv.URL, "--token", "t", "--stores", "1", "--scale", "1", "--days", "1",
		"--live-days", "1", "--incidents", "none", "--interval", "1ms", "--progress=false", "--state", dir}

	// runAt runs the feed with the clock at t until the live feed has had a
	// few rounds, and returns the state it left.
	runAt := func(at time.Time) feedState {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		calls := 0
		clock := func() time.Time {
			calls++
			if calls > 8 {
				cancel()
			}
			return at
		}
		var logs bytes.Buffer
		err := run(ctx, append(args, "--verbose"), &bytes.Buffer{}, &logs, func(string) string { return "" }, clock)
		t.Log(logs.String())
		require.ErrorIs(t, err, context.Canceled)
		st, found, err := loadFeedState(filepath.Join(dir, feedStateFile))
		require.NoError(t, err)
		require.True(t, found)
		return st
	}

	t0 := time.Date(2026, 3, 10, 15, 20, 0, 0, loc)
	st := runAt(t0)
	require.True(t, st.Backfilled)
	require.True(t, st.LiveStart.Equal(time.Date(2026, 3, 10, 15, 0, 0, 0, loc)), "live starts at the current hour: %s", st.LiveStart)
	require.True(t, st.SentUntil.Equal(t0))
	first := f.events
	require.Greater(t, first, 100, "a day of backfill and twenty minutes of live events")
	require.False(t, f.latest.After(t0), "nothing from the future")

	// Restarted ten minutes later: no second backfill, only the new events.
	st = runAt(t0.Add(10 * time.Minute))
	require.True(t, st.SentUntil.Equal(t0.Add(10*time.Minute)))
	require.Zero(t, f.duplicates, "nothing is sent twice")
	require.Positive(t, f.events-first)
	require.Less(t, f.events-first, first/20, "only ten minutes of events")
	require.False(t, f.latest.After(t0.Add(10*time.Minute)))
}

func TestFeedNeedsState(t *testing.T) {
	err := run(context.Background(), []string{"feed"}, &bytes.Buffer{}, &bytes.Buffer{}, func(string) string { return "" }, time.Now)
	require.ErrorContains(t, err, "--state")
}
