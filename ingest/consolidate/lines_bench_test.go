package consolidate_test

import (
	"context"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/storepulse/storepulse/ingest/consolidate"
	"github.com/storepulse/storepulse/ingest/sim"
	"github.com/storepulse/storepulse/internal/influxql"
	"github.com/storepulse/storepulse/internal/influxtest"
	"github.com/storepulse/storepulse/internal/localday"
	"github.com/storepulse/storepulse/internal/schema"
	"github.com/storepulse/storepulse/internal/simload"
)

// BenchmarkHistoryLines measures what a history costs in stored points once
// its minute series have expired: simulated stores (STOREPULSE_BENCH_STORES,
// default 10, over STOREPULSE_BENCH_DAYS, default 28, in Asia/Shanghai, at
// STOREPULSE_BENCH_SCALE times the simulator's traffic, default 1) are
// rolled up and consolidated into a real InfluxDB 1.8, then the points of the
// hourly and daily series, their store totals and the sketches are counted
// and divided by the events. Run it once:
//
//	go test ./ingest/consolidate -run '^$' -bench HistoryLines -benchtime 1x
func BenchmarkHistoryLines(b *testing.B) {
	stores, days := envInt(b, "STOREPULSE_BENCH_STORES", 10), envInt(b, "STOREPULSE_BENCH_DAYS", 28)
	scale := envFloat(b, "STOREPULSE_BENCH_SCALE", 1)
	for range b.N {
		srv := influxtest.Start(b)
		sh, err := time.LoadLocation("Asia/Shanghai")
		if err != nil {
			b.Fatal(err)
		}
		from := time.Date(2026, 9, 1, 0, 0, 0, 0, sh)
		var minuteLines atomic.Int64
		ctx := context.Background()
		res, err := simload.Load(ctx, simload.Target{URL: srv.URL, Token: srv.Token, Org: srv.Org, Bucket: srv.Bucket,
			Write: func(ctx context.Context, lines []string) error {
				for _, l := range lines {
					if schema.IsFineLine(l) {
						minuteLines.Add(1)
					}
				}
				return srv.Write(ctx, lines)
			}}, sim.Config{Seed: 3, NumStores: stores, Days: days, Start: from, Location: sh, Scale: scale})
		if err != nil {
			b.Fatal(err)
		}
		ql := &influxql.Client{URL: srv.URL, Token: srv.Token, Database: influxtest.Database, Timeout: 5 * time.Minute}
		now := localday.AddDays(from, days+1, sh)
		c, err := consolidate.New(consolidate.Options{Ingester: "simload", Location: sh, Fine: ql, Main: ql,
			Write: writer{srv}, FineBucket: srv.Bucket, Now: func() time.Time { return now }, MaxHours: 24 * 7})
		if err != nil {
			b.Fatal(err)
		}
		began := time.Now()
		for more := true; more; {
			if more, err = c.Tick(ctx, time.Hour); err != nil {
				b.Fatal(err)
			}
		}
		took := time.Since(began)
		hourly, daily, storeH, storeD := 0, 0, 0, 0
		for _, m := range schema.Summed() {
			hourly += countPoints(b, ql, schema.Hourly(m.Name), m)
			daily += countPoints(b, ql, schema.Daily(m.Name), m)
			storeH += countPoints(b, ql, m.Name+schema.SuffixHourStore, m)
			storeD += countPoints(b, ql, m.Name+schema.SuffixDayStore, m)
		}
		sketchH, sketchD := countSketches(b, ql, schema.MeasDistinct, schema.WindowHour), countSketches(b, ql, schema.MeasDistinct, schema.WindowDay)
		storeSketches := countSketches(b, ql, schema.MeasDistinctStore, schema.WindowHour) + countSketches(b, ql, schema.MeasDistinctStore, schema.WindowDay)
		ev := float64(res.Events)
		history := float64(hourly + daily + storeH + storeD + sketchH + sketchD + storeSketches)
		b.ReportMetric(ev, "events")
		b.ReportMetric(float64(minuteLines.Load())/ev, "minute-lines/event")
		b.ReportMetric(history/ev, "history-lines/event")
		b.ReportMetric(history/float64(stores*days), "history-lines/store-day")
		b.ReportMetric(ev/float64(stores*days), "events/store-day")
		b.ReportMetric(float64(hourly)/ev, "hourly/event")
		b.ReportMetric(float64(daily)/ev, "daily/event")
		b.ReportMetric(float64(storeH)/ev, "store-1h/event")
		b.ReportMetric(float64(storeD)/ev, "store-1d/event")
		b.ReportMetric(float64(sketchH)/ev, "sketch-1h/event")
		b.ReportMetric(float64(sketchD)/ev, "sketch-1d/event")
		b.ReportMetric(float64(storeSketches)/ev, "store-sketches/event")
		b.Logf("%d stores x %d days, scale %v: %d events, %d minute lines written (one segment per simulated day); history: %d hourly + %d daily points, %d hourly + %d daily store totals, %d hourly + %d daily sketches, %d store-level sketches; consolidation took %s",
			stores, days, scale, res.Events, minuteLines.Load(), hourly, daily, storeH, storeD, sketchH, sketchD, storeSketches, took.Round(time.Millisecond))
	}
}

func envInt(b *testing.B, name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		b.Fatalf("%s=%q: want a positive integer", name, v)
	}
	return n
}

func envFloat(b *testing.B, name string, def float64) float64 {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || !(f > 0) || math.IsInf(f, 0) {
		b.Fatalf("%s=%q: want a positive number", name, v)
	}
	return f
}

// countPoints counts the points of meas by listing them (a point holds only
// the fields added to, so no one field's count is the point count).
func countPoints(b *testing.B, ql *influxql.Client, meas string, m schema.Measurement) int {
	fields := make([]string, len(m.Fields))
	for i, f := range m.Fields {
		fields[i] = influxql.Ident(f)
	}
	n := 0
	q := fmt.Sprintf("SELECT %s FROM %s GROUP BY *", strings.Join(fields, ", "), influxql.Ident(meas))
	if err := ql.Query(context.Background(), q, influxql.Options{}, func(_ int, s *influxql.Series) error {
		n += len(s.Values)
		return nil
	}); err != nil {
		b.Fatal(err)
	}
	return n
}

func countSketches(b *testing.B, ql *influxql.Client, meas, window string) int {
	q := fmt.Sprintf("SELECT count(%s) FROM %s WHERE %s = %s", influxql.Ident(schema.FieldEstimate), influxql.Ident(meas),
		influxql.Ident(schema.TagWindow), influxql.String(window))
	n, err := influxql.Count(context.Background(), ql, q)
	if err != nil {
		b.Fatal(err)
	}
	return int(n)
}
