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

	"github.com/storepulse/storepulse/datasource/pkg/engine"
	dsinfluxql "github.com/storepulse/storepulse/datasource/pkg/engine/influxql"
	"github.com/storepulse/storepulse/internal/influxql"
	"github.com/storepulse/storepulse/internal/influxtest"
	"github.com/storepulse/storepulse/internal/localday"
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
	kills := killDuring(&mu, in, done, &acked, clients*batches*perBatch, 200*time.Millisecond)
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
	// The store totals hold the same per store, and read across
	// resolutions count every event once too.
	hourlyStore, dailyStore := sumsBy(t, ql, schema.SuffixHourStore, start, hours), sumsBy(t, ql, schema.SuffixDayStore, start, days)
	requireSums(t, hourly(start, hours), hourlyStore)
	requireSums(t, daily(start, days), dailyStore)
	requireSums(t, expectedSums(sent), addSums(dailyStore, sumsBy(t, ql, schema.SuffixHourStore, days, hours), fine(hours, end)))
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

// TestFineBucket: with influx.fine_bucket on a retention policy of its own,
// the minute series go there and nothing else does; sketches, consolidated
// series and watermarks stay in influx.bucket, the watermarks name the fine
// bucket, and the datasource's InfluxQL source, given only the main bucket,
// reads exact sums across both.
func TestFineBucket(t *testing.T) {
	db := influxtest.Start(t)
	ql := &influxql.Client{URL: db.URL, Token: db.Token, Database: influxtest.Database, Timeout: time.Minute}
	// InfluxDB expires by its own wall clock, and the tests' data lies at
	// their own "now" (testclock): the policy keeps everything, what is
	// tested here is where each series goes and how it is read back.
	require.NoError(t, ql.Query(context.Background(), `CREATE RETENTION POLICY "recent" ON "db" DURATION INF REPLICATION 1`,
		influxql.Options{}, func(int, *influxql.Series) error { return nil }))
	in := startIngest(t, db, ingestOpts{FineBucket: "db/recent", FineRetention: 720 * time.Hour})
	now := testclock.Now()
	events := append(genEvents(41, "fine-a", 3000, now), genEvents(42, "fine-b", 3000, now.Add(-30*time.Hour))...)
	for i := 0; i < len(events); i += 500 {
		resp, err := in.Do("POST", "/v1/events", "application/json", mustJSON(t, events[i:i+500]), nil)
		require.NoError(t, err)
		require.Equal(t, 202, resp.Status, resp.Body)
	}
	in.WaitDrained(2 * time.Minute)
	deadline := time.Now().Add(time.Minute)
	for {
		hours, _ := watermarks(t, ql, "systemtest")
		if !hours.Before(testclock.Clock()().Add(-10 * time.Minute).Truncate(time.Hour)) {
			break
		}
		require.True(t, time.Now().Before(deadline), "consolidation stuck at %s", hours)
		time.Sleep(200 * time.Millisecond)
	}

	start, end := now.Add(-5*24*time.Hour), now.Add(24*time.Hour)
	recent := &influxql.Client{URL: db.URL, Token: db.Token, Database: influxtest.Database, RetentionPolicy: "recent", Timeout: time.Minute}
	want := expectedSums(events)
	requireSums(t, want, sumsBy(t, recent, "", start, end))
	require.Empty(t, sumsBy(t, ql, "", start, end), "no minute series in the main bucket")
	require.Empty(t, sumsBy(t, recent, schema.SuffixHour, start, end), "no hourly series in the fine bucket")
	require.NotEmpty(t, sumsBy(t, ql, schema.SuffixHour, start, end), "hourly series in the main bucket")
	sketches := 0
	require.NoError(t, ql.Query(context.Background(), `SELECT count(estimate) FROM sp_distinct`, influxql.Options{}, func(_ int, s *influxql.Series) error {
		sketches += len(s.Values)
		return nil
	}))
	require.Positive(t, sketches, "sketches in the main bucket")
	var fine string
	require.NoError(t, ql.Query(context.Background(), `SELECT fine_bucket FROM sp_rollup`, influxql.Options{}, func(_ int, s *influxql.Series) error {
		fine, _ = s.Values[0][1].(string)
		return nil
	}))
	require.Equal(t, "db/recent", fine)

	// The datasource, configured with the main bucket only.
	src, err := dsinfluxql.New(db.URL, db.Token, "db/autogen", nil)
	require.NoError(t, err)
	sh, err := time.LoadLocation("Asia/Shanghai")
	require.NoError(t, err)
	rows, err := src.Sums(context.Background(), engine.SumSpec{Start: localday.Floor(start, sh), Stop: end, DayZone: sh,
		Terms:   []engine.Term{{Measurement: schema.MeasOrders, Field: schema.FieldGMV}, {Measurement: schema.MeasIngest, Field: schema.FieldEvents}},
		GroupBy: []string{schema.TagStore}})
	require.NoError(t, err)
	got := map[string]map[string]float64{}
	for _, r := range rows {
		st := r.Groups[0]
		if got[st] == nil {
			got[st] = map[string]float64{}
		}
		got[st][r.Term.Measurement+"."+r.Term.Field] += r.Value
	}
	for st := range want {
		for k := range want[st] {
			if k != "sp_orders.gmv" && k != "sp_ingest.events" {
				delete(want[st], k)
			}
		}
	}
	requireSums(t, want, got)
}
