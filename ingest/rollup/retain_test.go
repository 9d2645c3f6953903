package rollup

import (
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
	for k := range s.sums {
		for _, v := range k.tags {
			require.False(t, inRecord(v), "a sum key holds %q from the record", v)
		}
	}
	for k := range s.sketches {
		for _, v := range []string{k.store, k.channel, k.category} {
			require.False(t, inRecord(v), "a sketch key holds %q from the record", v)
		}
	}
	for k := range s.late {
		require.False(t, inRecord(k.store), "a late-data key holds %q from the record", k.store)
	}
}
