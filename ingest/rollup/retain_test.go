package rollup

import (
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/stretchr/testify/require"

	"github.com/storepulse/storepulse/ingest/event"
)

// TestKeysShareNoMemoryWithRecords: the tag values a segment's keys hold
// (sums, sketches, late data) are copies, not substrings of the decoded
// spool record: such a substring keeps the whole record alive for as long
// as the key lives (the sketch cache keeps keys long after the segment).
func TestKeysShareNoMemoryWithRecords(t *testing.T) {
	sh, err := time.LoadLocation("Asia/Shanghai")
	require.NoError(t, err)
	now := time.Date(2026, 5, 20, 6, 0, 0, 0, sh)
	at := func(d, hh int) int64 { return time.Date(2026, 5, d, hh, 0, 0, 0, sh).UnixNano() }
	in := event.Batch{Events: []event.Event{
		{Type: event.TypeOrder, Time: at(20, 5), Store: "s001", Channel: "app", Category: "shoes", Campaign: "c1",
			ID: "o1", Order: "o1", User: "u1", Amount: 50},
		{Type: event.TypeOrder, Time: at(17, 10), Store: "s002", Channel: "web", Category: "bags", ID: "o2", Order: "o2", User: "u2", Amount: 100}, // late
		{Type: event.TypeRefund, Time: at(20, 5), Store: "s001", Reason: "damaged", ID: "r1", Order: "o1", User: "u1", Amount: 10},
		{Type: event.TypeSession, Time: at(20, 5), Store: "s001", Channel: "app", ID: "v1", Visitor: "v1", PageViews: 2},
	}}
	rec := event.AppendBatch(nil, &in)
	b, err := event.DecodeBatch(rec)
	require.NoError(t, err)

	// The decoded strings all lie in one copy of the record: its bounds.
	lo, hi := uintptr(1<<63), uintptr(0)
	for _, e := range b.Events {
		for _, v := range []string{e.ID, e.Store, e.Channel, e.Category, e.Campaign, e.Reason, e.User, e.Order, e.Visitor} {
			if v == "" {
				continue
			}
			p := uintptr(unsafe.Pointer(unsafe.StringData(v)))
			lo, hi = min(lo, p), max(hi, p+uintptr(len(v)))
		}
	}
	require.Less(t, lo, hi)
	inRecord := func(v string) bool {
		if v == "" {
			return false
		}
		p := uintptr(unsafe.Pointer(unsafe.StringData(v)))
		return p >= lo && p < hi
	}

	r, err := New(Options{Ingester: "i1", Sketches: &memSketches{}, Location: sh, Now: func() time.Time { return now }})
	require.NoError(t, err)
	s := r.NewSegment(7)
	s.Add(&b)
	require.NotEmpty(t, s.sums)
	require.NotEmpty(t, s.sketches)
	require.NotEmpty(t, s.late)
	for _, v := range s.names {
		require.False(t, inRecord(v), "a sum key's tag value %q lies in the record", v)
	}
	require.Greater(t, len(s.names), 5)
	for k := range s.sketches {
		for _, v := range []string{k.store, k.channel, k.category} {
			require.False(t, inRecord(v), "a sketch key holds %q from the record", v)
		}
	}
	for k := range s.late {
		require.False(t, inRecord(k.store), "a late-data key holds %q from the record", k.store)
	}
}

// A pass-through point is kept as its encoded line, which shares no memory
// with the decoded record, and lines keep their order by time.
func TestPassThroughKeepsNoRecord(t *testing.T) {
	in := event.Batch{Points: []event.Point{
		{Measurement: "cpu", Time: 20, Tags: []event.Tag{{Key: "host", Value: "b"}}, Fields: []event.Field{{Key: "v", Float: 2}}},
		{Measurement: "cpu", Time: 10, Tags: []event.Tag{{Key: "host", Value: "a"}}, Fields: []event.Field{{Key: "v", Float: 1}}},
		{Measurement: "cpu", Time: 20, Tags: []event.Tag{{Key: "host", Value: "c"}}, Fields: []event.Field{{Key: "v", Float: 3}}},
		{Measurement: "bad", Time: 15, Tags: []event.Tag{{Key: "k", Value: "x\\"}}, Fields: []event.Field{{Key: "v", Float: 1}}},
	}}
	rec := event.AppendBatch(nil, &in)
	b, err := event.DecodeBatch(rec)
	require.NoError(t, err)
	lo := uintptr(unsafe.Pointer(unsafe.StringData(b.Points[0].Measurement)))
	hi := uintptr(unsafe.Pointer(unsafe.StringData(b.Points[3].Fields[0].Key))) + 1
	require.Less(t, lo, hi)

	r, err := New(Options{Ingester: "i1", Sketches: &memSketches{}})
	require.NoError(t, err)
	s := r.NewSegment(7)
	s.Add(&b)
	require.Len(t, s.passed, 3)
	for _, p := range s.passed {
		at := uintptr(unsafe.Pointer(unsafe.StringData(p.line)))
		require.False(t, at >= lo && at < hi, "line %q lies in the record", p.line)
	}
	require.Equal(t, 1, s.passSkipped)
	lines, err := r.SumLines(s)
	require.NoError(t, err)
	require.Equal(t, []string{"cpu,host=a v=1 10", "cpu,host=b v=2 20", "cpu,host=c v=3 20"}, lines)
}

// A segment of pass-through points holds about their lines, not the decoded
// records (several times larger).
func TestPassThroughMemoryIsItsLines(t *testing.T) {
	const n = 50000
	in := event.Batch{Points: make([]event.Point, n)}
	for i := range in.Points {
		in.Points[i] = event.Point{Measurement: "raw", Time: int64(i),
			Tags:   []event.Tag{{Key: "dc", Value: "eu-1"}, {Key: "host", Value: fmt.Sprintf("%s%06d", strings.Repeat("h", 60), i)}},
			Fields: []event.Field{{Key: "a", Float: 1}, {Key: "b", Kind: event.FieldInt, Int: 2}, {Key: "c", Kind: event.FieldString, Str: "x"}}}
	}
	rec := event.AppendBatch(nil, &in)
	in = event.Batch{}
	r, s, held := heldBySegment(t, rec, false)
	lines, err := r.SumLines(s)
	require.NoError(t, err)
	require.Len(t, lines, n)
	size := 0
	for _, l := range lines {
		size += len(l)
	}
	t.Logf("record %d bytes, lines %d bytes, segment held %d bytes", len(rec), size, held)
	require.Less(t, held, int64(size)*3/2, "the segment holds more than its lines")
	runtime.KeepAlive(s)
}

// A segment's sums are compact: a backfill's segment holds hundreds of
// thousands of them, two segments at a time. 200,000 sums took 242 bytes
// each with a value of 16 fields allocated per sum and tag values as strings
// in the key, 171 with 8 fields from slabs, and 108 with the tag values as
// the segment's numbers for them.
func TestSumsAreCompact(t *testing.T) {
	const n = 100000
	in := event.Batch{Events: make([]event.Event, n)}
	for i := range in.Events {
		in.Events[i] = event.Event{Type: event.TypeSession, Time: int64(i%1000) * 60e9, Store: fmt.Sprintf("s%03d", i/1000),
			Channel: "app", ID: strconv.Itoa(i), Visitor: "v", PageViews: 2}
	}
	rec := event.AppendBatch(nil, &in)
	in = event.Batch{}
	_, s, held := heldBySegment(t, rec, true) // the ids' sketches are another matter
	require.Len(t, s.sums, 2*n)               // sp_ingest and sp_traffic, one each per store and minute
	perSum := held / int64(len(s.sums))
	t.Logf("%d sums, %d bytes each", len(s.sums), perSum)
	require.Less(t, perSum, int64(140))
	runtime.KeepAlive(s)
}

// heldBySegment decodes rec into a new segment and returns the heap the
// segment holds after a collection (without its sketches if noSketches).
func heldBySegment(t *testing.T, rec []byte, noSketches bool) (*Rollup, *Segment, int64) {
	t.Helper()
	r, err := New(Options{Ingester: "i1", Sketches: &memSketches{}})
	require.NoError(t, err)
	heap := func() int64 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return int64(m.HeapAlloc) //nolint:gosec // heap sizes fit
	}
	before := heap()
	s := r.NewSegment(1)
	func() {
		b, err := event.DecodeBatch(rec)
		require.NoError(t, err)
		s.Add(&b)
	}()
	if noSketches {
		s.sketches = nil
	}
	return r, s, heap() - before
}
