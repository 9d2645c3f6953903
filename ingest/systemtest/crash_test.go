package systemtest

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/storepulse/storepulse/internal/influxtest"
	"github.com/storepulse/storepulse/internal/testclock"
)

// sender posts batches until each is acknowledged, retrying the same batch
// (same ids) through crashes, restarts and 503s, as a well-behaved client does.
func sendUntilAcked(ctx context.Context, in func() *ingest, batch []ev, body []byte) error {
	for {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		resp, err := in().Do("POST", "/v1/events", "application/json", body, nil)
		if err == nil && resp.Status == 202 {
			return nil
		}
		if err == nil && resp.Status != 503 {
			return fmt.Errorf("unexpected status %d: %s", resp.Status, resp.Body)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestCrashUnderLoad SIGKILLs the ingest process again and again while
// clients send concurrently; afterwards InfluxDB must hold exactly the
// acknowledged events: none missing, none doubled.
func TestCrashUnderLoad(t *testing.T) {
	db := influxtest.Start(t)
	in := startIngest(t, db, ingestOpts{SealInterval: 100 * time.Millisecond, SegmentMaxBytes: 256 << 10})
	var mu sync.RWMutex
	current := func() *ingest { mu.RLock(); defer mu.RUnlock(); return in }

	const clients, batches, perBatch = 4, 150, 200
	var all [clients][]ev
	for c := range clients {
		all[c] = genEvents(uint64(100+c), fmt.Sprintf("crash%d", c), batches*perBatch, testclock.Now())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	var acked atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := range batches {
				batch := all[c][b*perBatch : (b+1)*perBatch]
				if err := sendUntilAcked(ctx, current, batch, mustJSON(t, batch)); err != nil {
					errs <- err
					return
				}
				acked.Add(int64(len(batch)))
			}
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()

	kills := killDuring(&mu, in, done, &acked, clients*batches*perBatch, 150*time.Millisecond)
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	require.GreaterOrEqual(t, kills, 3, "the load should outlast several crashes")
	require.EqualValues(t, clients*batches*perBatch, acked.Load())
	t.Logf("%d events acknowledged across %d SIGKILLs", acked.Load(), kills)

	var sent []ev
	for c := range clients {
		sent = append(sent, all[c]...)
	}
	in.WaitDrained(2 * time.Minute)
	requireSums(t, expectedSums(sent), storedSums(t, db))
	requireStoreSketches(t, db, "active")
}

// TestInfluxOutage stops InfluxDB under load: ingest keeps accepting into its
// spool, answers 503 with Retry-After once the spool budget is reached, and
// drains by itself when InfluxDB returns, with exact totals.
func TestInfluxOutage(t *testing.T) {
	db := influxtest.Start(t)
	in := startIngest(t, db, ingestOpts{SpoolMaxBytes: 256 << 10, SegmentMaxBytes: 64 << 10, SealInterval: 100 * time.Millisecond})
	events := genEvents(7, "outage", 30000, testclock.Now())
	const perBatch = 300

	// Some traffic while InfluxDB is healthy.
	for i := 0; i < 3000; i += perBatch {
		resp, err := in.Do("POST", "/v1/events", "application/json", mustJSON(t, events[i:i+perBatch]), nil)
		require.NoError(t, err)
		require.Equal(t, 202, resp.Status, resp.Body)
	}
	db.Stop()

	// Keep sending until the spool budget answers 503 + Retry-After.
	sent := 3000
	saw503 := false
	for sent < len(events) && !saw503 {
		resp, err := in.Do("POST", "/v1/events", "application/json", mustJSON(t, events[sent:sent+perBatch]), nil)
		require.NoError(t, err)
		switch resp.Status {
		case 202:
			sent += perBatch
		case 503:
			saw503 = true
			require.NotEmpty(t, resp.Header.Get("Retry-After"), "503 must say when to retry")
			require.Contains(t, resp.Body, "spool")
		default:
			t.Fatalf("unexpected %d: %s", resp.Status, resp.Body)
		}
	}
	require.True(t, saw503, "the 256 KiB spool budget must be reached during the outage")
	ready, err := in.Do("GET", "/readyz", "", nil, nil)
	require.NoError(t, err)
	require.Equal(t, 503, ready.Status, "not ready while InfluxDB is down and the spool is full")

	require.NoError(t, db.Restart())
	// The rest goes through once the backlog drains; the rejected batch is retried.
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	for ; sent < len(events); sent += perBatch {
		batch := events[sent : sent+perBatch]
		require.NoError(t, sendUntilAcked(ctx, func() *ingest { return in }, batch, mustJSON(t, batch)))
	}
	in.WaitDrained(2 * time.Minute)
	requireSums(t, expectedSums(events), storedSums(t, db))
}

// killDuring SIGKILLs and restarts the ingest again and again until done is
// closed: every period, and also each time another eighth of total has been
// acknowledged, so that a fast machine still sees several crashes in the middle
// of the load (time alone let a quick run finish after two). It returns the
// number of kills.
func killDuring(mu *sync.RWMutex, in *ingest, done <-chan struct{}, acked *atomic.Int64, total int64, period time.Duration) int {
	kills := 0
	last := time.Now()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-done:
			return kills
		case <-tick.C:
			if acked.Load() < int64(kills+1)*total/8 && time.Since(last) < period {
				continue
			}
			mu.Lock()
			in.Kill()
			kills++
			in.Start()
			mu.Unlock()
			last = time.Now()
		}
	}
}
