package rollup

import (
	"context"
	"errors"
	"fmt"
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

// parsedSketch is one decoded sp_distinct line.
type parsedSketch struct {
	tags     map[string]string
	estimate float64
	sketch   *hyperloglog.Sketch
	time     int64
}

func parseSketchLines(t *testing.T, ls []string) map[string]parsedSketch {
	t.Helper()
	return parseSketchLinesOf(t, ls, schema.MeasDistinct)
}

// parseSketchLinesOf parses the sketch lines of measurement meas
// (schema.MeasDistinct or schema.MeasDistinctStore).
func parseSketchLinesOf(t *testing.T, ls []string, meas string) map[string]parsedSketch {
	t.Helper()
	out := map[string]parsedSketch{}
	for _, l := range only(ls, meas) {
		dec := lineprotocol.NewDecoderWithBytes([]byte(l))
		require.True(t, dec.Next())
		_, err := dec.Measurement()
		require.NoError(t, err)
		p := parsedSketch{tags: map[string]string{}}
		for {
			k, v, err := dec.NextTag()
			require.NoError(t, err)
			if k == nil {
				break
			}
			p.tags[string(k)] = string(v)
		}
		for {
			k, v, err := dec.NextField()
			require.NoError(t, err)
			if k == nil {
				break
			}
			switch string(k) {
			case schema.FieldEstimate:
				p.estimate = v.FloatV()
			case schema.FieldSketch:
				p.sketch, err = DecodeSketch(v.StringV())
				require.NoError(t, err)
			default:
				t.Fatalf("unexpected field %s", k)
			}
		}
		tm, err := dec.Time(lineprotocol.Nanosecond, time.Time{})
		require.NoError(t, err)
		p.time = tm.UnixNano()
		name := fmt.Sprintf("%s/%s/%s/%s/%s", p.tags["kind"], p.tags["window"], p.tags["store"], p.tags["channel"], p.tags["category"])
		require.NotContains(t, out, name)
		require.Equal(t, "i1", p.tags["ingester"])
		out[name] = p
	}
	return out
}

func TestSketchKindsAndWindows(t *testing.T) {
	// 18:00:30 in Shanghai; the Shanghai day started 2026-11-23T16:00Z.
	hour := ts("2026-11-24T10:00:00Z")
	day := ts("2026-11-23T16:00:00Z")
	// 01:10 on the next Shanghai day, same UTC day.
	late := ts("2026-11-24T17:10:00Z")
	events := []event.Event{
		{Type: event.TypeSignup, Time: t0, Store: "s1", Channel: "app", User: "u1"},
		{Type: event.TypeSession, Time: t0, Store: "s1", Channel: "app", User: "u1", Visitor: "v1"},
		{Type: event.TypeSession, Time: t0, Store: "s1", Channel: "app", Visitor: "v2"}, // anonymous
		{Type: event.TypeOrder, Time: t0, Store: "s1", Channel: "app", User: "u2", Customer: event.CustomerNew},
		{Type: event.TypeOrder, Time: t0, Store: "s1", Channel: "app", User: "u3", Customer: event.CustomerReturning},
		{Type: event.TypeOrder, Time: t0, Store: "s1", Channel: "app", User: "u3"},
		{Type: event.TypePayment, Time: t0, Store: "s1", Channel: "app", User: "u2"},
		{Type: event.TypePayment, Time: t0, Store: "s1", Channel: "app"}, // no user: no payer
		{Type: event.TypeConsultation, Time: t0, Store: "s1", Channel: "app", User: "u4"},
		{Type: event.TypeRefund, Time: t0, Store: "s1", Channel: "app", User: "u9"}, // refunds feed no sketch
		{Type: event.TypeSignup, Time: late, Store: "s1", Category: "shoes", User: "u5"},
	}
	r := newTestRollup(t, nil)
	got := parseSketchLines(t, lines(t, r, 7, event.Batch{Events: events}))

	lateHour, lateDay := ts("2026-11-24T17:00:00Z"), ts("2026-11-24T16:00:00Z")
	want := map[string]struct {
		n    float64
		time int64
	}{
		"active/1h/s1/app/":          {4, hour}, // u1..u4
		"active/1d/s1/app/":          {4, day},
		"visitor/1h/s1/app/":         {2, hour},
		"visitor/1d/s1/app/":         {2, day},
		"buyer/1h/s1/app/":           {2, hour},
		"buyer/1d/s1/app/":           {2, day},
		"buyer_new/1h/s1/app/":       {1, hour},
		"buyer_new/1d/s1/app/":       {1, day},
		"buyer_returning/1h/s1/app/": {1, hour},
		"buyer_returning/1d/s1/app/": {1, day},
		"payer/1h/s1/app/":           {1, hour},
		"payer/1d/s1/app/":           {1, day},
		"active/1h/s1//":             {1, lateHour}, // hourly sketches are not keyed by category
		"active/1d/s1//shoes":        {1, lateDay},
	}
	require.Len(t, got, len(want))
	for name, w := range want {
		g, ok := got[name]
		require.True(t, ok, "missing sketch %s", name)
		require.Equal(t, w.n, g.estimate, name)
		require.Equal(t, w.n, float64(g.sketch.Estimate()), name)
		require.Equal(t, w.time, g.time, name)
		_, hasChannel := g.tags["channel"]
		require.Equal(t, !strings.Contains(name, "//"), hasChannel, "empty dimensions are not tags")
	}
}

func TestSketchesMergeWithStoredAndCache(t *testing.T) {
	day := ts("2026-11-23T16:00:00Z")
	key := SketchKey{Kind: schema.KindActive, Window: schema.WindowDay, Store: "s1", Start: day}
	stored := hyperloglog.New14()
	for i := range 100 {
		stored.InsertHash(xxhash.Sum64String("old" + strconv.Itoa(i)))
	}
	stored.InsertHash(xxhash.Sum64String("u1")) // also in the segment
	src := &memSketches{data: map[SketchKey]*hyperloglog.Sketch{key: stored}}
	r := newTestRollup(t, src)

	seg := func(users ...string) event.Batch {
		var b event.Batch
		for _, u := range users {
			b.Events = append(b.Events, event.Event{Type: event.TypeSignup, Time: t0, Store: "s1", User: u})
		}
		return b
	}
	got := parseSketchLines(t, lines(t, r, 1, seg("u1", "u2")))
	require.Equal(t, 102.0, got["active/1d/s1//"].estimate) // 100 old + u1 + u2
	require.Equal(t, 2.0, got["active/1h/s1//"].estimate)   // nothing stored for the hour
	require.Len(t, src.calls, 1, "every miss of a segment in one Load")
	hour := ts("2026-11-24T10:00:00Z")
	total := SketchKey{Kind: "active", Window: "1d", Store: "s1", Start: day, Total: true}
	require.ElementsMatch(t, []SketchKey{key, {Kind: "active", Window: "1h", Store: "s1", Start: hour},
		total, {Kind: "active", Window: "1h", Store: "s1", Start: hour, Total: true}}, src.calls[0])
	// The store-level sketches are keys of their own: nothing stored for them.
	totals := parseSketchLinesOf(t, lines(t, r, 1, seg("u1", "u2")), schema.MeasDistinctStore)
	require.Equal(t, 2.0, totals["active/1d/s1//"].estimate)
	require.Equal(t, 2.0, totals["active/1h/s1//"].estimate)

	// A later segment hits the cache: no Load, and the sets accumulate.
	src.data[total] = stored // the detailed sketch's ids: the cache must win
	got = parseSketchLines(t, lines(t, r, 2, seg("u3")))
	require.Equal(t, 103.0, got["active/1d/s1//"].estimate)
	require.Len(t, src.calls, 1)
	require.Equal(t, 4, r.cache.len())
	totals = parseSketchLinesOf(t, lines(t, r, 3, seg("u4")), schema.MeasDistinctStore)
	require.Equal(t, 4.0, totals["active/1d/s1//"].estimate)
}

func TestLoadFailureFailsLinesAndRetryWorks(t *testing.T) {
	src := &memSketches{err: errors.New("InfluxDB: connection refused")}
	r := newTestRollup(t, src)
	s := r.NewSegment(3)
	s.Add(&event.Batch{Events: []event.Event{{Type: event.TypeSignup, Time: t0, Store: "s1", User: "u1"}}})
	_, err := r.Lines(context.Background(), s)
	require.ErrorIs(t, err, src.err)
	require.Contains(t, err.Error(), "segment 3")
	require.Equal(t, 0, r.cache.len(), "nothing cached from a failed attempt")

	src.err = nil
	ls, err := r.Lines(context.Background(), s)
	require.NoError(t, err)
	require.Len(t, only(ls, schema.MeasDistinct), 2)
}

func TestCorruptStoredSketchRestarts(t *testing.T) {
	src := &memSketches{err: &CorruptSketchesError{Keys: []SketchKey{{Kind: "active"}}, Err: errors.New("bad base64")}}
	r := newTestRollup(t, src)
	got := parseSketchLines(t, lines(t, r, 3, event.Batch{Events: []event.Event{{Type: event.TypeSignup, Time: t0, Store: "s1", User: "u1"}}}))
	require.Equal(t, 1.0, got["active/1d/s1//"].estimate)
}

func TestSegmentIDMustFitTheWindow(t *testing.T) {
	r := newTestRollup(t, nil)
	_, err := r.Lines(context.Background(), r.NewSegment(uint64(schema.RollupWindow)))
	require.ErrorContains(t, err, "must be below")
}

// mixedBatch is a deterministic pseudo-random batch over a few minutes.
func mixedBatch(n int, seed uint64) event.Batch {
	var b event.Batch
	x := seed
	next := func(m uint64) uint64 { x = x*6364136223846793005 + 1442695040888963407; return (x >> 33) % m }
	types := event.Types()
	for i := range n {
		e := event.Event{
			Type:  types[next(uint64(len(types)))],
			ID:    strconv.Itoa(i),
			Time:  t0 + int64(next(300))*int64(time.Second),
			Store: "s" + strconv.FormatUint(next(3), 10), Channel: []string{"", "app", "web"}[next(3)],
			User: "u" + strconv.FormatUint(next(500), 10), Visitor: "v" + strconv.FormatUint(next(800), 10),
			Customer: event.Customer(next(3)), TicketStatus: event.TicketStatus(next(3)),
			Amount: float64(next(10000)) / 100, Items: float64(next(5)), Count: 1, PageViews: float64(next(9)),
		}
		if e.Type == event.TypeOrder || e.Type == event.TypePrice {
			e.Category = []string{"shoes", "tv"}[next(2)]
		}
		b.Events = append(b.Events, e)
	}
	return b
}

func TestReplayIsIdenticalAndOrdered(t *testing.T) {
	b := mixedBatch(2000, 1)
	r := newTestRollup(t, nil)
	first := lines(t, r, 11, b)
	again := lines(t, r, 11, b)                     // same rollup: cache holds the merged sketches
	fresh := lines(t, newTestRollup(t, nil), 11, b) // empty cache, nothing stored
	require.Equal(t, first, again)
	require.Equal(t, first, fresh)

	// Oldest first: timestamps never decrease.
	var prev int64
	for _, l := range first {
		tsv, err := strconv.ParseInt(l[strings.LastIndexByte(l, ' ')+1:], 10, 64)
		require.NoError(t, err)
		require.GreaterOrEqual(t, tsv, prev, l)
		prev = tsv
	}
	require.Greater(t, len(only(first, schema.MeasOrders)), 5)
}

func TestLateEventLandsAtADifferentTimestamp(t *testing.T) {
	r := newTestRollup(t, nil)
	e := event.Event{Type: event.TypePayment, Time: t0, Store: "s1", Amount: 10}
	l1 := only(lines(t, r, 100, event.Batch{Events: []event.Event{e}}), schema.MeasPayments)
	e.Amount = 2
	l2 := only(lines(t, r, 250, event.Batch{Events: []event.Event{e}}), schema.MeasPayments)
	w := ts("2026-11-24T10:00:00Z")
	require.Equal(t, []string{"sp_payments,ingester=i1,store=s1 paid_amount=10,paid_orders=1 " + strconv.FormatInt(w+100, 10)}, l1)
	require.Equal(t, []string{"sp_payments,ingester=i1,store=s1 paid_amount=2,paid_orders=1 " + strconv.FormatInt(w+250, 10)}, l2)
}

func TestNewOptions(t *testing.T) {
	src := &memSketches{}
	tests := []struct {
		name string
		opts Options
		err  string
	}{
		{"ok", Options{Ingester: "a", Sketches: src}, ""},
		{"no ingester", Options{Sketches: src}, "ingester id"},
		{"long ingester", Options{Ingester: strings.Repeat("x", 129), Sketches: src}, "ingester id"},
		{"no source", Options{Ingester: "a"}, "sketch source"},
		{"negative cache", Options{Ingester: "a", Sketches: src, CacheSize: -1}, "cache size"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := New(tt.opts)
			if tt.err != "" {
				require.ErrorContains(t, err, tt.err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, "Asia/Shanghai", r.loc.String())
		})
	}
}

func TestLRUEvicts(t *testing.T) {
	c := newLRU(2, nil)
	k := func(i int64) SketchKey { return SketchKey{Kind: "active", Start: i} }
	c.put(k(1), hyperloglog.New14())
	c.put(k(2), hyperloglog.New14())
	require.NotNil(t, c.get(k(1))) // 1 is now the most recent
	c.put(k(3), hyperloglog.New14())
	require.Nil(t, c.get(k(2)))
	require.NotNil(t, c.get(k(1)))
	require.NotNil(t, c.get(k(3)))
	require.Equal(t, 2, c.len())
}

func TestSketchQuery(t *testing.T) {
	keys := []SketchKey{
		{Kind: "active", Window: "1d", Store: `s"1$`, Start: ts("2026-11-23T16:00:00Z")},
		{Kind: "buyer", Window: "1h", Store: "s2", Start: ts("2026-11-24T10:00:00Z")},
	}
	q := sketchQuery("db/autogen", "i1", keys)
	require.Equal(t, `from(bucket: "db/autogen")
  |> range(start: 2026-11-23T16:00:00Z, stop: 2026-11-24T10:00:00.000000001Z)
  |> filter(fn: (r) => (r._measurement == "sp_distinct") and r._field == "sketch" and r.ingester == "i1")
  |> filter(fn: (r) => r.kind == "active" or r.kind == "buyer")
  |> filter(fn: (r) => r.window == "1d" or r.window == "1h")
  |> filter(fn: (r) => r.store == "s\"1\$" or r.store == "s2")
  |> filter(fn: (r) => r._time == 2026-11-23T16:00:00Z or r._time == 2026-11-24T10:00:00Z)
`, q)
	keys = append(keys, SketchKey{Kind: "active", Window: "1h", Start: 0})
	require.NotContains(t, sketchQuery("b", "i1", keys), "r.store ==")
	keys = append(keys, SketchKey{Kind: "active", Window: "1h", Store: "s2", Start: 0, Total: true})
	require.Contains(t, sketchQuery("b", "i1", keys), `(r._measurement == "sp_distinct" or r._measurement == "sp_distinct_store")`)
}

func BenchmarkAdd(b *testing.B) {
	r, err := New(Options{Ingester: "i1", Sketches: &memSketches{}})
	require.NoError(b, err)
	batch := mixedBatch(10000, 2)
	s := r.NewSegment(1)
	s.Add(&batch) // warm: keys exist, as in a busy segment
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		s.Add(&batch)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(batch.Events)), "ns/event")
}

func BenchmarkLines(b *testing.B) {
	r, err := New(Options{Ingester: "i1", Sketches: &memSketches{}})
	require.NoError(b, err)
	batch := mixedBatch(10000, 3)
	s := r.NewSegment(1)
	s.Add(&batch)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := r.Lines(context.Background(), s); err != nil {
			b.Fatal(err)
		}
	}
}

// Deferred sketches: sums come per segment, sketches stay pending (even when
// the LRU evicts them) until written, and the pending sketch covers every
// segment merged since.
func TestPendingSketchesSurviveEviction(t *testing.T) {
	src := &memSketches{}
	r, err := New(Options{Ingester: "i1", Sketches: src, CacheSize: 1})
	require.NoError(t, err)
	ev := func(store, user string) event.Event {
		return event.Event{Type: event.TypeSignup, Time: t0, Store: store, User: user}
	}
	seg := func(id uint64, evs ...event.Event) *Segment {
		s := r.NewSegment(id)
		s.Add(&event.Batch{Events: evs})
		return s
	}
	s1 := seg(1, ev("s1", "u1"), ev("s2", "u9"))
	sums, err := r.SumLines(s1)
	require.NoError(t, err)
	for _, l := range sums {
		require.NotContains(t, l, "sp_distinct", "SumLines leaves sketches out")
	}
	require.NoError(t, r.MergeSketches(context.Background(), s1))
	require.NoError(t, r.MergeSketches(context.Background(), seg(2, ev("s1", "u2"))))
	require.Equal(t, 8, r.PendingSketches(), "active 1h and 1d for s1 and s2, detailed and store-level")

	lines, commit := r.PendingSketchLines()
	got := parseSketchLines(t, lines)
	require.Len(t, got, 4)
	totals := parseSketchLinesOf(t, lines, schema.MeasDistinctStore)
	require.Len(t, totals, 4)
	require.Equal(t, 2.0, totals["active/1d/s1//"].estimate)
	require.Equal(t, 2.0, got["active/1d/s1//"].estimate, "u1 and u2: the evicted pending sketch was not reloaded from the store")
	require.Equal(t, 1.0, got["active/1d/s2//"].estimate)
	require.Len(t, src.calls, 1, "the second segment found its sketches pending, not in InfluxDB")

	commit()
	require.Zero(t, r.PendingSketches())
	again, _ := r.PendingSketchLines()
	require.Empty(t, again)
}

// A stored sketch takes the segment's ids; one of another precision cannot
// (the datasource could not merge it with the others) and restarts from
// the segment's ids, as a corrupt one does.
func TestStoredSketchMergedOrRestarted(t *testing.T) {
	day := SketchKey{Kind: schema.KindActive, Window: schema.WindowDay, Store: "s1", Start: ts("2026-11-23T16:00:00Z")}
	for _, tc := range []struct {
		name   string
		stored *hyperloglog.Sketch
		want   float64
	}{
		{"precision 14: u0 stored, u1 and u2 added", hyperloglog.New14(), 3},
		{"precision 16: restarts from u1 and u2", hyperloglog.New16(), 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.stored.InsertHash(xxhash.Sum64String("u0"))
			src := &memSketches{data: map[SketchKey]*hyperloglog.Sketch{day: tc.stored}}
			r, err := New(Options{Ingester: "i1", Sketches: src})
			require.NoError(t, err)
			s := r.NewSegment(1)
			s.Add(&event.Batch{Events: []event.Event{
				{Type: event.TypeSignup, Time: t0, Store: "s1", User: "u1"},
				{Type: event.TypeSignup, Time: t0, Store: "s1", User: "u2"},
				{Type: event.TypeSignup, Time: t0 + 1, Store: "s1", User: "u1"},
			}})
			require.NoError(t, r.MergeSketches(context.Background(), s))
			lines, _ := r.PendingSketchLines()
			got := parseSketchLines(t, lines)
			require.Equal(t, tc.want, got["active/1d/s1//"].estimate)
			require.Equal(t, 2.0, got["active/1h/s1//"].estimate, "nothing stored for the hour")
		})
	}
}
