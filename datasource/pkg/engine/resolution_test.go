package engine

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/storepulse/storepulse/internal/schema"
)

func TestResolveMarksStoreFrom(t *testing.T) {
	h := func(n int) int64 { return time.Date(2026, 3, 1, n, 0, 0, 0, time.UTC).UnixNano() }
	rec := func(hours, days, storeFrom int64) *MarkRecord {
		// The store-level sketches start where the store totals do here.
		return &MarkRecord{Marked: true, Hours: hours, Days: days, StoreFrom: storeFrom, HasStore: true,
			SketchStoreFrom: storeFrom, HasSketchStore: true}
	}
	tests := []struct {
		name string
		recs map[string]*MarkRecord
		want time.Time
	}{
		{"one ingester", map[string]*MarkRecord{"a": rec(h(20), h(0), h(3))}, time.Unix(0, h(3)).UTC()},
		{"the latest start of all", map[string]*MarkRecord{"a": rec(h(20), h(0), h(3)), "b": rec(h(19), h(0), h(7))},
			time.Unix(0, h(7)).UTC()},
		{"an ingester with store totals from its first point", map[string]*MarkRecord{"a": rec(h(20), h(0), 0), "b": rec(h(19), h(0), 0)},
			time.Unix(0, 0).UTC()},
		{"one ingester without store totals: none are read",
			map[string]*MarkRecord{"a": rec(h(20), h(0), h(3)), "b": {Marked: true, Hours: h(19), Days: h(0)}, "c": rec(h(19), h(0), h(9))},
			time.Time{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := ResolveMarks(tt.recs)
			require.NoError(t, err)
			require.Equal(t, tt.want, m.StoreFrom)
			require.Equal(t, tt.want, m.SketchStoreFrom)
		})
	}
}

func TestPlanSketches(t *testing.T) {
	kolkata, err := time.LoadLocation("Asia/Kolkata") // local days start at :30 UTC
	require.NoError(t, err)
	day := func(d int) time.Time { return time.Date(2026, 3, d, 0, 0, 0, 0, kolkata).UTC() }
	m := Marks{SketchStoreFrom: day(10)}
	spec := func(from, to time.Time, window string, groupBy ...string) SketchSpec {
		return SketchSpec{Start: from, Stop: to, Window: window, Kinds: []string{schema.KindActive}, GroupBy: groupBy}
	}
	type piece struct {
		from, to time.Time
		store    bool
	}
	firstHour := day(10).Add(30 * time.Minute) // 18:30 UTC rounded up
	tests := []struct {
		name string
		spec SketchSpec
		m    Marks
		want []piece
	}{
		{"days across the start", spec(day(5), day(15), schema.WindowDay), m,
			[]piece{{day(5), day(10), false}, {day(10), day(15), true}}},
		{"days after it", spec(day(10), day(15), schema.WindowDay, schema.TagStore), m, []piece{{day(10), day(15), true}}},
		{"days before it", spec(day(1), day(10), schema.WindowDay), m, []piece{{day(1), day(10), false}}},
		{"hours: from the first whole hour at or after it", spec(day(9), day(11), schema.WindowHour), m,
			[]piece{{day(9), firstHour, false}, {firstHour, day(11), true}}},
		{"grouped by channel: detailed only", spec(day(5), day(15), schema.WindowDay, schema.TagChannel), m,
			[]piece{{day(5), day(15), false}}},
		{"no start recorded: detailed only", spec(day(5), day(15), schema.WindowDay), Marks{}, []piece{{day(5), day(15), false}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []piece
			for _, p := range PlanSketches(tt.spec, tt.m) {
				require.Equal(t, tt.spec.GroupBy, p.GroupBy)
				got = append(got, piece{p.Start, p.Stop, p.FromStore})
			}
			require.Equal(t, tt.want, got)
		})
	}
	filtered := spec(day(5), day(15), schema.WindowDay)
	filtered.Filters = map[string][]string{schema.TagCategory: {"shoes"}}
	require.Len(t, PlanSketches(filtered, m), 1, "a category filter needs the detailed sketches")
	filtered.Filters = map[string][]string{schema.TagStore: {"s1"}}
	require.Len(t, PlanSketches(filtered, m), 2, "a store filter does not")
}
