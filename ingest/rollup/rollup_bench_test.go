package rollup_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/axiomhq/hyperloglog"
	"github.com/stretchr/testify/require"

	"github.com/storepulse/storepulse/ingest/event"
	"github.com/storepulse/storepulse/ingest/parse"
	"github.com/storepulse/storepulse/ingest/rollup"
	"github.com/storepulse/storepulse/ingest/sim"
)

// noStored is a sketch source with nothing stored: the benchmark measures
// the roll-up, not InfluxDB.
type noStored struct{}

func (noStored) Load(context.Context, []rollup.SketchKey) (map[rollup.SketchKey]*hyperloglog.Sketch, error) {
	return nil, nil
}

// BenchmarkRollUp rolls up the 500,000 events of make bench-ingest's two
// cases (the same simulated windows) as the flusher does: spool records of
// 1,000 events decoded into 16 MiB segments, each one's sums encoded and
// its ids merged into the pending sketches, then the pending sketches
// encoded. One op is all 500,000 events.
//
//	go test ./ingest/rollup -run '^$' -bench RollUp -benchtime 5x
func BenchmarkRollUp(b *testing.B) {
	end := time.Date(2026, 11, 24, 13, 0, 0, 0, time.UTC) // bench-ingest's -end
	for _, c := range []struct {
		name  string
		span  time.Duration
		scale float64
	}{{"live", time.Hour, 250}, {"backfill", 72 * time.Hour, 1}} {
		b.Run(c.name, func(b *testing.B) {
			segs := segments(b, end, c.span, c.scale, 500_000)
			b.ResetTimer()
			for b.Loop() {
				r, err := rollup.New(rollup.Options{Ingester: "i1", Sketches: noStored{}, Now: func() time.Time { return end }})
				require.NoError(b, err)
				for i, recs := range segs {
					s := r.NewSegment(uint64(i + 1))
					for _, rec := range recs {
						batch, err := event.DecodeBatch(rec)
						require.NoError(b, err)
						s.Add(&batch)
					}
					_, err := r.SumLines(s)
					require.NoError(b, err)
					require.NoError(b, r.MergeSketches(context.Background(), s))
				}
				_, commit := r.PendingSketchLines()
				commit()
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*500_000), "ns/event")
		})
	}
}

// segments are n simulated events of the window [end-span, end] as spool
// records of 1,000 events, grouped into segments of about 16 MiB.
func segments(b *testing.B, end time.Time, span time.Duration, scale float64, n int) [][][]byte {
	g, err := sim.New(sim.Config{Seed: 42, NumStores: 100, Start: end.Add(-span), End: end, Scale: scale})
	require.NoError(b, err)
	var evs []sim.Event
	for len(evs) < n {
		e, ok := g.Next()
		require.True(b, ok, "the window holds fewer than %d events", n)
		for _, ev := range e {
			if ev.Time.Before(end) {
				evs = append(evs, ev)
			}
		}
	}
	evs = evs[:n]
	lim := parse.Limits{MaxItems: 1000, LateHorizon: span + time.Hour, Now: func() time.Time { return end }}
	var segs [][][]byte
	var cur [][]byte
	size := 0
	for i := 0; i < len(evs); i += 1000 {
		body := sim.AppendNDJSON(nil, evs[i:min(i+1000, len(evs))], time.FixedZone("CST", 8*3600))
		batch, err := parse.Events(bytes.NewReader(body), lim)
		require.NoError(b, err)
		rec := event.AppendBatch(nil, &batch)
		cur, size = append(cur, rec), size+len(rec)
		if size >= 16<<20 {
			segs, cur, size = append(segs, cur), nil, 0
		}
	}
	return append(segs, cur)
}
