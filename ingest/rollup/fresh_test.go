package rollup

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/axiomhq/hyperloglog"
	"github.com/cespare/xxhash/v2"
	"github.com/influxdata/line-protocol/v2/lineprotocol"
	"github.com/stretchr/testify/require"

	"github.com/storepulse/storepulse/ingest/event"
	"github.com/storepulse/storepulse/internal/schema"
)

// storeSketches is memSketches that can tell its latest start, as InfluxDB
// does for NewInfluxQLSketches.
type storeSketches struct {
	memSketches
	latestErr error
	// refuseBefore: a lookup since before it fails (InfluxDB 3's file limit).
	refuseBefore time.Time
}

func (s *storeSketches) Latest(_ context.Context, since time.Time) (int64, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.latestErr != nil {
		return 0, false, s.latestErr
	}
	if since.Before(s.refuseBefore) {
		return 0, false, errors.New("query would scan 1153 Parquet files, exceeding the file limit")
	}
	var latest int64
	found := false
	for k := range s.data {
		if k.Start >= since.UnixNano() && (!found || k.Start > latest) {
			latest, found = k.Start, true
		}
	}
	return latest, found, nil
}

// keep stores the pending sketches, as the pipeline's write does, and
// forgets them.
func (s *storeSketches) keep(t *testing.T, r *Rollup) {
	t.Helper()
	lines, commit := r.PendingSketchLines()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, meas := range []string{schema.MeasDistinct, schema.MeasDistinctStore} {
		for _, p := range parseSketchLinesOf(t, lines, meas) {
			k := SketchKey{Kind: p.tags["kind"], Window: p.tags["window"], Store: p.tags["store"], Channel: p.tags["channel"],
				Category: p.tags["category"], Start: p.time, Total: meas == schema.MeasDistinctStore}
			s.data[k] = p.sketch
		}
	}
	commit()
}

// loaded lists the keys of every Load, as "window/store/total".
func (s *storeSketches) loaded() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, call := range s.calls {
		for _, k := range call {
			out = append(out, k.Window+"/"+k.Store+"/"+strconv.FormatBool(k.Total))
		}
	}
	return out
}

func TestUnstoredSketchesAreNotReadBack(t *testing.T) {
	ctx := context.Background()
	day := ts("2026-11-23T16:00:00Z") // the local day (Shanghai) of t0
	stored := hyperloglog.New14()
	for i := range 100 {
		stored.InsertHash(xxhash.Sum64String("old" + strconv.Itoa(i)))
	}
	newRollup := func(t *testing.T, src *storeSketches, cache int) *Rollup {
		t.Helper()
		now := time.Unix(0, t0).Add(time.Hour)
		r, err := New(Options{Ingester: "i1", Sketches: src, CacheSize: cache, Now: func() time.Time { return now }})
		require.NoError(t, err)
		return r
	}
	seg := func(r *Rollup, id uint64, store string, users ...string) *Segment {
		var b event.Batch
		for _, u := range users {
			b.Events = append(b.Events, event.Event{Type: event.TypeSignup, Time: t0, Store: store, User: u})
		}
		s := r.NewSegment(id)
		s.Add(&b)
		return s
	}
	estimates := func(t *testing.T, lines []string) map[string]float64 {
		out := map[string]float64{}
		for name, p := range parseSketchLines(t, lines) {
			out[name] = p.estimate
		}
		return out
	}

	t.Run("only keys that start after the latest stored one are skipped", func(t *testing.T) {
		src := &storeSketches{memSketches: memSketches{data: map[SketchKey]*hyperloglog.Sketch{
			{Kind: schema.KindActive, Window: schema.WindowDay, Store: "s1", Start: day}: stored}}}
		r := newRollup(t, src, 0)
		r.Prepare(ctx)
		require.Equal(t, day, r.fresh.after)
		require.NoError(t, r.MergeSketches(ctx, seg(r, 1, "s1", "u1", "u2")))
		// The day (stored) is read back; the hour after it is not.
		require.ElementsMatch(t, []string{"1d/s1/false", "1d/s1/true"}, src.loaded())
		lines, _ := r.PendingSketchLines()
		require.Equal(t, map[string]float64{"active/1d/s1//": 102, "active/1h/s1//": 2}, estimates(t, lines))
	})

	t.Run("a key that left the cache is read back", func(t *testing.T) {
		src := &storeSketches{memSketches: memSketches{data: map[SketchKey]*hyperloglog.Sketch{}}}
		r := newRollup(t, src, 1)
		r.Prepare(ctx)
		require.NoError(t, r.MergeSketches(ctx, seg(r, 1, "s1", "u1")))
		require.Empty(t, src.loaded(), "nothing stored within the lookback: no read")
		src.keep(t, r)
		require.NoError(t, r.MergeSketches(ctx, seg(r, 2, "s2", "u9"))) // evicts s1's
		require.NoError(t, r.MergeSketches(ctx, seg(r, 3, "s1", "u2")))
		require.Contains(t, src.loaded(), "1h/s1/false", "s1's sketches were written and evicted: read back")
		lines, _ := r.PendingSketchLines()
		got := estimates(t, lines)
		require.Equal(t, 2.0, got["active/1h/s1//"], "u1 (stored) and u2")
		require.Equal(t, 2.0, got["active/1d/s1//"])
	})

	t.Run("past the evicted keys' bound, the bound moves up", func(t *testing.T) {
		src := &storeSketches{memSketches: memSketches{data: map[SketchKey]*hyperloglog.Sketch{}}}
		r := newRollup(t, src, 1)
		r.Prepare(ctx)
		r.fresh.limit = 2
		for i, st := range []string{"s1", "s2", "s3"} {
			require.NoError(t, r.MergeSketches(ctx, seg(r, uint64(i+1), st, "u"+st)))
			src.keep(t, r)
		}
		require.Equal(t, ts("2026-11-24T10:00:00Z"), r.fresh.after, "the latest start among the evicted keys")
		require.Empty(t, r.fresh.evicted)
		require.NoError(t, r.MergeSketches(ctx, seg(r, 4, "s1", "u2")))
		lines, _ := r.PendingSketchLines()
		require.Equal(t, 2.0, estimates(t, lines)["active/1h/s1//"])
	})

	t.Run("a refused lookback is tried again over 2 hours", func(t *testing.T) {
		now := time.Unix(0, t0).Add(time.Hour)
		src := &storeSketches{memSketches: memSketches{data: map[SketchKey]*hyperloglog.Sketch{}}, refuseBefore: now.Add(-3 * time.Hour)}
		r := newRollup(t, src, 0)
		r.Prepare(ctx)
		require.Equal(t, now.Add(-2*time.Hour).UnixNano()-1, r.fresh.after)
		require.NoError(t, r.MergeSketches(ctx, seg(r, 1, "s1", "u1")))
		require.ElementsMatch(t, []string{"1d/s1/false", "1d/s1/true"}, src.loaded(), "the day started before the 2 hours")
	})

	t.Run("without a lookup every miss is read back", func(t *testing.T) {
		for name, prepare := range map[string]bool{"not prepared": false, "lookup failed": true} {
			src := &storeSketches{memSketches: memSketches{data: map[SketchKey]*hyperloglog.Sketch{}},
				latestErr: errors.New("InfluxDB: table not found")}
			r := newRollup(t, src, 0)
			if prepare {
				r.Prepare(ctx)
			}
			require.Equal(t, int64(math.MaxInt64), r.fresh.after, name)
			require.NoError(t, r.MergeSketches(ctx, seg(r, 1, "s1", "u1")))
			require.Len(t, src.loaded(), 4, name)
			require.True(t, strings.HasPrefix(src.loaded()[0], "1"), name)
		}
	})
}

// TestHourSums: a segment's hourly sums are its minute points summed per
// measurement, series and UTC hour, with the tags as written.
func TestHourSums(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 11))
	from := ts("2026-11-23T21:13:00Z")
	r := newTestRollup(t, nil)
	s := r.NewSegment(42)
	s.Add(&event.Batch{Events: genEvents(rng, 3000, from, 200)})
	lines, err := r.SumLines(s)
	require.NoError(t, err)

	want := map[string]map[string]float64{}
	for _, l := range lines {
		dec := lineprotocol.NewDecoderWithBytes([]byte(l))
		require.True(t, dec.Next())
		m, err := dec.Measurement()
		require.NoError(t, err)
		var key strings.Builder
		key.Write(m)
		for {
			k, v, err := dec.NextTag()
			require.NoError(t, err)
			if k == nil {
				break
			}
			fmt.Fprintf(&key, ",%s=%s", k, v)
		}
		fields := map[string]float64{}
		for {
			k, v, err := dec.NextField()
			require.NoError(t, err)
			if k == nil {
				break
			}
			fields[string(k)] = v.FloatV()
		}
		tm, err := dec.Time(lineprotocol.Nanosecond, time.Time{})
		require.NoError(t, err)
		if string(m) == schema.MeasLate {
			continue // not a summed measurement
		}
		k := fmt.Sprintf("%s@%d", key.String(), tm.Truncate(time.Hour).UnixNano())
		if want[k] == nil {
			want[k] = map[string]float64{}
		}
		for f, v := range fields {
			want[k][f] += v
		}
	}
	got := map[string]map[string]float64{}
	s.HourSums(func(meas string, hour int64, tags [][2]string, fields map[string]float64) {
		var key strings.Builder
		key.WriteString(meas)
		for _, tg := range tags {
			fmt.Fprintf(&key, ",%s=%s", tg[0], tg[1])
		}
		k := fmt.Sprintf("%s@%d", key.String(), hour)
		require.NotContains(t, got, k, "one call per measurement, series and hour")
		got[k] = maps.Clone(fields)
	})
	require.Greater(t, len(got), 50)
	require.Equal(t, len(want), len(got))
	for k, w := range want {
		require.Contains(t, got, k)
		require.InDeltaMapValues(t, w, got[k], 1e-9, k)
	}
}
