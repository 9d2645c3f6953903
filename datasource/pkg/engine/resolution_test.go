package engine

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestResolveMarksStoreFrom(t *testing.T) {
	h := func(n int) int64 { return time.Date(2026, 3, 1, n, 0, 0, 0, time.UTC).UnixNano() }
	rec := func(hours, days, storeFrom int64) *MarkRecord {
		return &MarkRecord{Marked: true, Hours: hours, Days: days, StoreFrom: storeFrom, HasStore: true}
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
		})
	}
}
