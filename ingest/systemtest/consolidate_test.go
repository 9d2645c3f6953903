package systemtest

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/storepulse/storepulse/internal/influxql"
	"github.com/storepulse/storepulse/internal/influxtest"
	"github.com/storepulse/storepulse/internal/schema"
	"github.com/storepulse/storepulse/internal/testclock"
)

// TestCrashConsolidation SIGKILLs the ingest process again and again while
// clients send events of the last three days (most of them in hours and
// local days the ingest has already consolidated, or consolidates
// meanwhile). Afterwards, for every store and field: the daily series below
// the days watermark, the hourly series from there to the hours watermark
// and the minute series above it add up exactly to the acknowledged events,
// and the hourly and daily series hold exactly what the minute series hold
// below their watermarks.
func TestCrashConsolidation(t *testing.T) {
	db := influxtest.Start(t)
	in := startIngest(t, db, ingestOpts{SealInterval: 100 * time.Millisecond, SegmentMaxBytes: 256 << 10})
	var mu sync.RWMutex
	current := func() *ingest { mu.RLock(); defer mu.RUnlock(); return in }

	now := testclock.Now()
	const clients, batches, perBatch = 3, 40, 200
	var all [clients][]ev
	for c := range clients {
		// Each client's events lie in its own 6 hours: today, yesterday, the day before.
		all[c] = genEvents(uint64(300+c), fmt.Sprintf("cons%d", c), batches*perBatch, now.Add(-time.Duration(c)*(24*time.Hour+5*time.Hour)))
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
	kills := 0
	for loop := true; loop; {
		select {
		case <-done:
			loop = false
		case <-time.After(200 * time.Millisecond):
			mu.Lock()
			in.Kill()
			kills++
			in.Start()
			mu.Unlock()
		}
	}
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	require.GreaterOrEqual(t, kills, 3, "the load should outlast several crashes")
	require.EqualValues(t, clients*batches*perBatch, acked.Load())
	var sent []ev
	for c := range clients {
		sent = append(sent, all[c]...)
	}
	in.WaitDrained(2 * time.Minute)

	ql := &influxql.Client{URL: db.URL, Token: db.Token, Database: influxtest.Database, Timeout: time.Minute}
	// The consolidation catches up with the last closed hour.
	var hours, days time.Time
	deadline := time.Now().Add(time.Minute)
	for {
		hours, days = watermarks(t, ql, "systemtest")
		closed := testclock.Clock()().Add(-10 * time.Minute).Truncate(time.Hour)
		if !hours.Before(closed) {
			break
		}
		require.True(t, time.Now().Before(deadline), "consolidation stuck at %s (closed hours end at %s)", hours, closed)
		time.Sleep(200 * time.Millisecond)
	}
	require.True(t, days.Before(hours) || days.Equal(hours))
	require.True(t, days.After(now.Add(-25*time.Hour)), "the days watermark follows the hours: %s", days)

	start, end := now.Add(-10*24*time.Hour), now.Add(24*time.Hour)
	fine := func(from, to time.Time) map[string]map[string]float64 { return sumsBy(t, ql, "", from, to) }
	hourly := func(from, to time.Time) map[string]map[string]float64 {
		return sumsBy(t, ql, schema.SuffixHour, from, to)
	}
	daily := func(from, to time.Time) map[string]map[string]float64 {
		return sumsBy(t, ql, schema.SuffixDay, from, to)
	}

	requireSums(t, expectedSums(sent), addSums(daily(start, days), hourly(days, hours), fine(hours, end)))
	requireSums(t, fine(start, hours), hourly(start, hours))
	requireSums(t, fine(start, days), daily(start, days))
	t.Logf("%d events acknowledged across %d SIGKILLs; hours consolidated up to %s, local days up to %s", acked.Load(), kills, hours, days)
}

// watermarks reads an ingester's consolidation watermarks.
func watermarks(t *testing.T, ql *influxql.Client, ingester string) (hours, days time.Time) {
	q := fmt.Sprintf(`SELECT hours_until, days_until FROM sp_rollup WHERE ingester = %s`, influxql.String(ingester))
	require.NoError(t, ql.Query(context.Background(), q, influxql.Options{}, func(_ int, s *influxql.Series) error {
		for _, row := range s.Values {
			h, err := row[s.Column("hours_until")].(json.Number).Int64()
			require.NoError(t, err)
			d, err := row[s.Column("days_until")].(json.Number).Int64()
			require.NoError(t, err)
			hours, days = time.Unix(0, h).UTC(), time.Unix(0, d).UTC()
		}
		return nil
	}))
	return hours, days
}

// sumsBy sums every field of every summed measurement's series with suffix
// per store over [from, to): store -> "measurement.field" -> sum.
func sumsBy(t *testing.T, ql *influxql.Client, suffix string, from, to time.Time) map[string]map[string]float64 {
	out := map[string]map[string]float64{}
	if !from.Before(to) {
		return out
	}
	for _, m := range schema.Summed() {
		q := fmt.Sprintf(`SELECT sum(*) FROM %s WHERE time >= %s AND time < %s GROUP BY store`,
			influxql.Ident(m.Name+suffix), influxql.Time(from), influxql.Time(to))
		require.NoError(t, ql.Query(context.Background(), q, influxql.Options{}, func(_ int, s *influxql.Series) error {
			for _, row := range s.Values {
				for i, c := range s.Columns {
					if c == "time" {
						continue
					}
					v, ok, err := influxql.Float(row[i])
					require.NoError(t, err)
					if !ok {
						continue
					}
					st := s.Tags["store"]
					if out[st] == nil {
						out[st] = map[string]float64{}
					}
					out[st][m.Name+"."+c[len("sum_"):]] += v
				}
			}
			return nil
		}))
	}
	return out
}

func addSums(parts ...map[string]map[string]float64) map[string]map[string]float64 {
	out := map[string]map[string]float64{}
	for _, p := range parts {
		for st, fields := range p {
			if out[st] == nil {
				out[st] = map[string]float64{}
			}
			for k, v := range fields {
				out[st][k] += v
			}
		}
	}
	return out
}
