package localday_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/storepulse/storepulse/internal/localday"
	"github.com/storepulse/storepulse/internal/localday/localdaytest"
)

// TestInstantClockChanges pins wall-clock readings in gaps, overlaps and
// ordinary hours of several zones. The expected instants were computed
// independently with java.time (OpenJDK 17, ZonedDateTime.of(LocalDateTime,
// ZoneId), the same rule: gap shifted forward by its length, overlap the
// earlier offset), and each is also checked against the scanning oracle.
func TestInstantClockChanges(t *testing.T) {
	tests := []struct {
		zone, wall, want string // want: UTC instant
		what             string
	}{
		{"America/Sao_Paulo", "2017-10-15T00:30:00", "2017-10-15T03:30:00Z", "gap at midnight: 01:30 -02"},
		{"America/Sao_Paulo", "2017-10-15T00:00:00", "2017-10-15T03:00:00Z", "the missing midnight: the day's first instant"},
		{"America/Sao_Paulo", "2017-10-14T23:59:59", "2017-10-15T02:59:59Z", "just before the gap"},
		{"America/Sao_Paulo", "2017-10-15T01:00:00", "2017-10-15T03:00:00Z", "just after the gap"},
		{"America/Sao_Paulo", "2018-02-17T23:30:00", "2018-02-18T01:30:00Z", "overlap before midnight: earlier offset -02"},
		{"Europe/Berlin", "2024-03-31T02:30:00", "2024-03-31T01:30:00Z", "spring gap: 03:30 CEST"},
		{"Europe/Berlin", "2024-03-31T01:59:59", "2024-03-31T00:59:59Z", "before the gap"},
		{"Europe/Berlin", "2024-03-31T03:00:00", "2024-03-31T01:00:00Z", "after the gap"},
		{"Europe/Berlin", "2024-10-27T02:30:00", "2024-10-27T00:30:00Z", "autumn overlap: CEST, the earlier"},
		{"Europe/Berlin", "2024-10-27T03:00:00", "2024-10-27T02:00:00Z", "after the overlap"},
		{"America/New_York", "2026-03-08T02:15:00", "2026-03-08T07:15:00Z", "spring gap: 03:15 EDT"},
		{"America/New_York", "2026-11-01T01:30:00", "2026-11-01T05:30:00Z", "autumn overlap: EDT"},
		{"America/Santiago", "2024-09-08T00:30:00", "2024-09-08T04:30:00Z", "gap at midnight"},
		{"America/Santiago", "2024-04-06T23:30:00", "2024-04-07T02:30:00Z", "overlap before midnight"},
		{"America/Havana", "2024-03-10T00:10:00", "2024-03-10T05:10:00Z", "gap at midnight"},
		{"Australia/Lord_Howe", "2024-10-06T02:15:00", "2024-10-05T15:45:00Z", "30-minute gap"},
		{"Australia/Lord_Howe", "2024-04-07T01:45:00", "2024-04-06T14:45:00Z", "30-minute overlap"},
		{"Asia/Tehran", "2020-03-21T00:30:00", "2020-03-20T21:00:00Z", "gap at midnight, half-hour offsets"},
		{"Asia/Tehran", "2020-09-20T23:30:00", "2020-09-20T19:00:00Z", "overlap before midnight"},
		{"Pacific/Apia", "2011-12-30T12:00:00", "2011-12-30T22:00:00Z", "a date the zone skipped"},
		{"Asia/Kolkata", "2024-03-31T02:30:00", "2024-03-30T21:00:00Z", "no DST"},
		{"Asia/Shanghai", "2026-11-11T00:01:23", "2026-11-10T16:01:23Z", "no DST"},
		{"Europe/London", "2026-03-29T01:30:00", "2026-03-29T01:30:00Z", "spring gap: 02:30 BST"},
		{"Europe/London", "2026-10-25T01:30:00.5", "2026-10-25T00:30:00.5Z", "autumn overlap, fraction kept"},
		{"UTC", "2024-02-29T23:59:59.999999999", "2024-02-29T23:59:59.999999999Z", "UTC"},
	}
	for _, tc := range tests {
		t.Run(tc.zone+" "+tc.wall, func(t *testing.T) {
			loc := load(t, tc.zone)
			wall, err := time.Parse("2006-01-02T15:04:05.999999999", tc.wall)
			require.NoError(t, err)
			want, err := time.Parse(time.RFC3339Nano, tc.want)
			require.NoError(t, err)
			got := localday.InstantOf(wall, loc)
			require.Equal(t, want.UTC(), got.UTC(), tc.what)
			require.Equal(t, want.UTC(), localdaytest.WallInstant(wall, loc).UTC(), "oracle: "+tc.what)
			require.Equal(t, loc, got.Location())
		})
	}
}

// TestInstantEveryZoneAgainstOracle walks every zone of Go's tz database
// over every transition from 2000 to 2030 and checks readings at the edges
// and in the middle of each gap or overlap (and just outside it) against
// the scanning oracle. Day starts must agree with Start.
func TestInstantEveryZoneAgainstOracle(t *testing.T) {
	zones, err := localdaytest.Zones()
	require.NoError(t, err)
	from, to := utc(t, "2000-01-01T00:00:00Z"), utc(t, "2030-01-01T00:00:00Z")
	gaps, overlaps := 0, 0
	for _, z := range zones {
		loc := load(t, z)
		for _, tr := range localdaytest.Transitions(loc, from, to) {
			_, a := tr.Add(-time.Second).In(loc).Zone()
			_, b := tr.In(loc).Zone()
			lo, hi := tr.Add(time.Duration(min(a, b))*time.Second), tr.Add(time.Duration(max(a, b))*time.Second)
			switch {
			case b > a:
				gaps++
			case b < a:
				overlaps++
			}
			probes := []time.Time{lo.Add(-time.Second), lo, lo.Add(hi.Sub(lo) / 2), hi.Add(-time.Nanosecond), hi}
			for _, p := range probes {
				wall := p.UTC() // a civil reading: tr plus an offset, as if in UTC
				want := localdaytest.WallInstant(wall, loc)
				got := localday.InstantOf(wall, loc)
				if !want.Equal(got) {
					require.Equal(t, want.UTC(), got.UTC(), "%s: reading %s (transition %s, %+ds -> %+ds)", z, wall.Format("2006-01-02T15:04:05.999999999"), tr, a, b)
				}
			}
			// A reading of 00:00 near a change lies in its own local day
			// (unless the zone skipped the date).
			y, m, d := lo.Date()
			for i := 0; i <= 1; i++ {
				start, next := localday.Start(y, m, d+i, loc), localday.Start(y, m, d+i+1, loc)
				got := localday.Instant(y, m, d+i, 0, 0, 0, 0, loc)
				if start.Before(next) && (got.Before(start) || !got.Before(next)) {
					require.Fail(t, "midnight outside its day", "%s %d-%02d-%02d: %s not in [%s, %s)", z, y, m, d+i, got, start, next)
				}
			}
		}
	}
	t.Logf("%d zones, %d gaps, %d overlaps", len(zones), gaps, overlaps)
	require.Positive(t, gaps)
	require.Positive(t, overlaps)
}

// BenchmarkInstant is the cost of reading one local time (a row of a CSV
// export with tz=) in a zone with DST.
func BenchmarkInstant(b *testing.B) {
	loc, err := time.LoadLocation("Europe/Berlin")
	require.NoError(b, err)
	wall := time.Date(2024, 10, 27, 2, 30, 0, 0, time.UTC)
	for b.Loop() {
		_ = localday.InstantOf(wall, loc)
	}
}
