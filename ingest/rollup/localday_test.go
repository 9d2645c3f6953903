package rollup

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/storepulse/storepulse/ingest/event"
	"github.com/storepulse/storepulse/internal/localday/localdaytest"
)

// TestDailySketchStampsWithoutMidnight: on 2017-10-15 São Paulo's clocks
// jumped from 00:00 to 01:00; the day's sketches are stamped at 01:00 local
// (its first instant), not at 23:00 the day before, and the next days at
// 00:00 again.
func TestDailySketchStampsWithoutMidnight(t *testing.T) {
	sp, err := time.LoadLocation("America/Sao_Paulo")
	require.NoError(t, err)
	r, err := New(Options{Ingester: "i1", Sketches: &memSketches{}, Location: sp})
	require.NoError(t, err)
	tests := []struct{ at, day string }{
		{"2017-10-15T02:59:59Z", "2017-10-14T03:00:00Z"}, // 23:59:59 -03 on the 14th
		{"2017-10-15T03:00:00Z", "2017-10-15T03:00:00Z"}, // 01:00 -02, the first instant of the 15th
		{"2017-10-16T01:30:00Z", "2017-10-15T03:00:00Z"}, // 23:30 -02 on the 15th
		{"2017-10-16T02:00:00Z", "2017-10-16T02:00:00Z"}, // 00:00 -02 on the 16th
		{"2017-11-24T15:00:00Z", "2017-11-24T02:00:00Z"}, // Black Friday
		{"2018-02-18T02:30:00Z", "2018-02-17T02:00:00Z"}, // 23:30 -03, the second time round
		{"2018-02-18T03:00:00Z", "2018-02-18T03:00:00Z"},
	}
	for _, tc := range tests {
		t.Run(tc.at, func(t *testing.T) {
			at := ts(tc.at)
			s := r.NewSegment(1)
			require.Equal(t, ts(tc.day), s.day(at))
			got := parseSketchLines(t, lines(t, r, 1, event.Batch{Events: []event.Event{
				{Type: event.TypeSignup, Time: at, Store: "s1", User: "u1"},
			}}))
			require.Equal(t, ts(tc.day), got["active/1d/s1//"].time)
		})
	}
}

// TestDayStampsEveryZone walks every zone of Go's tz database: around each
// transition from 2000 to 2030 a daily sketch is stamped at the first
// instant of its local date as the independent oracle finds it — the same
// instants the datasource's day buckets start at (bucket.TestBucketsEveryZone).
func TestDayStampsEveryZone(t *testing.T) {
	zones, err := localdaytest.Zones()
	require.NoError(t, err)
	from, to := time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, z := range zones {
		loc, err := time.LoadLocation(z)
		require.NoError(t, err)
		r, err := New(Options{Ingester: "i1", Sketches: &memSketches{}, Location: loc})
		require.NoError(t, err)
		o := localdaytest.New(loc)
		s := r.NewSegment(1)
		for _, x := range o.Instants(from, to) {
			if want, got := o.DayFloor(x).UnixNano(), s.day(x.UnixNano()); want != got {
				require.Equal(t, time.Unix(0, want).UTC(), time.Unix(0, got).UTC(), "%s: day of %s", z, x)
			}
		}
	}
}
