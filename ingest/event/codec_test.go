package event

import (
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// sampleBatch has every event type and every field kind, with every Event
// member set somewhere and edge values (negative time, -0, huge ints).
func sampleBatch() Batch {
	var b Batch
	for i, t := range Types() {
		b.Events = append(b.Events, Event{
			Type: t, ID: "id-" + t.String(), Time: 1_700_000_000_000_000_000 + int64(i),
			Store: "shop", Channel: "app", Category: "shoes", Campaign: "618", Creative: "banner",
			Reason: "damaged", Competitor: "rival", User: "u1", Visitor: "v1", Order: "o1", SKU: "sku-9",
			Customer: Customer(i % 3), TicketStatus: TicketStatus(i % 3),
			AddedToCart: i%2 == 0, Converted: i%3 == 0,
			Amount: 12.5, Items: 2, Count: 1, PageViews: 7, DurationS: 30.25,
			FirstResponseS: 4, ResolutionS: 3600, OwnPrice: 99.9, CompetitorPrice: 89.9,
		})
	}
	b.Events = append(b.Events,
		Event{Type: TypeSignup, ID: "neg", Time: -5, Store: "s", User: "ü✓"},
		Event{Type: TypeSpend, ID: "negzero", Time: 0, Store: "s", Amount: math.Copysign(0, -1), Count: math.MaxFloat64},
	)
	b.Points = []Point{
		{
			Measurement: "custom", Time: 42, ID: "",
			Tags: []Tag{{"host", "a"}, {"region", "cn"}},
			Fields: []Field{
				{Key: "b", Kind: FieldBool, Bool: true},
				{Key: "bf", Kind: FieldBool, Bool: false},
				{Key: "f", Kind: FieldFloat, Float: -1.5},
				{Key: "i", Kind: FieldInt, Int: math.MinInt64},
				{Key: "s", Kind: FieldString, Str: "hello \"world\"\n"},
				{Key: "u", Kind: FieldUint, Uint: math.MaxUint64},
			},
		},
		{Measurement: "sp_orders", Time: math.MaxInt64, ID: "m1", Rollup: true,
			Tags: []Tag{{"store", "shop"}}, Fields: []Field{{Key: "gmv", Kind: FieldFloat, Float: 100}}},
		{Measurement: "bare", Time: math.MinInt64, Fields: []Field{{Key: "x", Kind: FieldInt, Int: 1}}},
	}
	return b
}

func TestCodecRoundTrip(t *testing.T) {
	full := sampleBatch()
	tests := []struct {
		name string
		b    Batch
	}{
		{"empty", Batch{}},
		{"events only", Batch{Events: full.Events}},
		{"points only", Batch{Points: full.Points}},
		{"everything", full},
		{"zero event", Batch{Events: []Event{{Type: TypeSignup}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			enc := AppendBatch(nil, &tt.b)
			got, err := DecodeBatch(enc)
			require.NoError(t, err)
			require.Equal(t, tt.b, got)
			// -0 must keep its sign bit.
			for i := range got.Events {
				require.Equal(t, math.Float64bits(tt.b.Events[i].Amount), math.Float64bits(got.Events[i].Amount))
			}
			// Appending to a non-empty dst keeps the prefix.
			enc2 := AppendBatch([]byte("prefix"), &tt.b)
			require.Equal(t, "prefix", string(enc2[:6]))
			require.Equal(t, enc, enc2[6:])
		})
	}
}

func TestCodecDecodedStringsDoNotAliasInput(t *testing.T) {
	b := Batch{Events: []Event{{Type: TypeSignup, ID: "abc", Store: "shop"}}}
	enc := AppendBatch(nil, &b)
	got, err := DecodeBatch(enc)
	require.NoError(t, err)
	for i := range enc {
		enc[i] = 'X'
	}
	require.Equal(t, "abc", got.Events[0].ID)
	require.Equal(t, "shop", got.Events[0].Store)
}

func TestCodecCompact(t *testing.T) {
	// A typical order event: ~ the bytes of its strings plus a few dozen.
	b := Batch{Events: []Event{{Type: TypeOrder, ID: "o-123456", Time: 1_700_000_000_123_456_789,
		Store: "tmall", Channel: "app", Category: "shoes", User: "u-98765", Order: "o-123456",
		Customer: CustomerNew, Amount: 199, Items: 2}}}
	enc := AppendBatch(nil, &b)
	require.LessOrEqual(t, len(enc), 36+48) // 36 bytes of strings
}

func TestCodecCorruptInput(t *testing.T) {
	valid := AppendBatch(nil, &Batch{
		Events: []Event{{Type: TypeOrder, ID: "o1", Store: "s", Amount: 5}},
		Points: []Point{{Measurement: "m", Fields: []Field{{Key: "f", Kind: FieldBool, Bool: true}}}},
	})
	// Offsets in valid: 0 version, 1 nEvents, 2 nPoints, 3 event type,
	// 4 time, 5.. strings ("o1" at 5-7, "s" at 8-9, then 10 empty ones at 10-19),
	// 20 customer, 21 ticket status, 22 flags, 23 mask, 24-31 amount, 32 point.
	with := func(off int, v byte) []byte {
		c := append([]byte(nil), valid...)
		c[off] = v
		return c
	}
	tests := []struct {
		name string
		in   []byte
		msg  string
	}{
		{"nil", nil, "version: unexpected end at offset 0"},
		{"bad version", with(0, 9), "unknown version 9 at offset 0"},
		{"huge event count", with(1, 0x7f), "event count 127 exceeds the remaining input at offset 2"},
		{"huge point count", with(2, 0x7f), "point count 127 exceeds the remaining input at offset 3"},
		{"unknown type", with(3, 0), "event 0: corrupt batch record: unknown event type 0 at offset 3"},
		{"type past end", with(3, byte(typeEnd)), "unknown event type 13"},
		{"string too long", with(5, 0x70), "id: length 112 exceeds the remaining input at offset 6"},
		{"bad customer", with(20, 3), "unknown customer type 3 at offset 20"},
		{"bad ticket status", with(21, 7), "unknown ticket status 7 at offset 21"},
		{"bad flags", with(22, 0x80), "unknown flags 0x80 at offset 22"},
		{"bad mask", with(23, 0x7f), "number: unexpected end"},
		{"mask drops a number", with(23, 0), "trailing bytes"},
		{"bad field kind", with(len(valid)-2, 9), "point 0: corrupt batch record: unknown field kind 9"},
		{"bad bool", with(len(valid)-1, 2), "bad bool 2"},
		{"mask beyond the numbers", append(append(append([]byte(nil), valid[:23]...), 0x80, 0x04), valid[24:]...), "unknown number mask 0x200 at offset 23"},
		{"trailing", append(append([]byte(nil), valid...), 0), "1 trailing bytes at offset"},
		{"varint overflow", []byte{1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f}, "varint overflows 64 bits"},
		{"varint unterminated", []byte{1, 0x80}, "event count: unexpected end at offset 2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := DecodeBatch(tt.in)
			require.Error(t, err)
			require.ErrorIs(t, err, ErrCorrupt)
			require.Contains(t, err.Error(), tt.msg)
		})
	}
}

func TestCodecEveryTruncationFails(t *testing.T) {
	b := sampleBatch()
	enc := AppendBatch(nil, &b)
	for n := 0; n < len(enc); n++ {
		_, err := DecodeBatch(enc[:n])
		require.Error(t, err, "prefix of %d bytes", n)
		require.True(t, errors.Is(err, ErrCorrupt))
		require.Contains(t, err.Error(), "offset")
	}
}

func FuzzDecodeBatch(f *testing.F) {
	b := sampleBatch()
	f.Add(AppendBatch(nil, &b))
	f.Add(AppendBatch(nil, &Batch{}))
	f.Add(AppendBatch(nil, &Batch{Events: b.Events[:1]}))
	f.Add(AppendBatch(nil, &Batch{Points: b.Points[:1]}))
	f.Add([]byte{})
	f.Add([]byte{1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})
	f.Add([]byte(strings.Repeat("\x01", 64)))
	f.Fuzz(func(t *testing.T, in []byte) {
		got, err := DecodeBatch(in)
		if err != nil {
			require.ErrorIs(t, err, ErrCorrupt)
			return
		}
		// Whatever decodes must re-encode to a record that decodes the same.
		// (Not necessarily the same bytes: varints have redundant forms.)
		again, err := DecodeBatch(AppendBatch(nil, &got))
		require.NoError(t, err)
		require.Equal(t, len(got.Events), len(again.Events))
		require.Equal(t, len(got.Points), len(again.Points))
		for i := range got.Events {
			require.Equal(t, got.Events[i].ID, again.Events[i].ID)
			require.Equal(t, got.Events[i].Time, again.Events[i].Time)
		}
	})
}

func benchBatch(n int) Batch {
	b := Batch{Events: make([]Event, n)}
	for i := range b.Events {
		b.Events[i] = Event{Type: TypeOrder, ID: "order-000123456", Time: 1_700_000_000_000_000_000 + int64(i),
			Store: "tmall-flagship", Channel: "app", Category: "shoes", Campaign: "618",
			User: "user-0098765", Order: "order-000123456", Customer: CustomerReturning, Amount: 199.5, Items: 3}
	}
	return b
}

func BenchmarkAppendBatch(b *testing.B) {
	batch := benchBatch(100)
	var buf []byte
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendBatch(buf[:0], &batch)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(batch.Events)), "ns/event")
}

func BenchmarkDecodeBatch(b *testing.B) {
	batch := benchBatch(100)
	enc := AppendBatch(nil, &batch)
	b.ReportAllocs()
	b.SetBytes(int64(len(enc)))
	for b.Loop() {
		if _, err := DecodeBatch(enc); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(batch.Events)), "ns/event")
}
