package localday_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/storepulse/storepulse/internal/localday"
	"github.com/storepulse/storepulse/internal/localday/localdaytest"
)

func load(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	require.NoError(t, err)
	return loc
}

func utc(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339, s)
	require.NoError(t, err)
	return v.UTC()
}

// TestStartKnownDays pins days of 23 and 25 hours and days whose midnight
// does not exist, in zones named by the issue.
func TestStartKnownDays(t *testing.T) {
	tests := []struct {
		zone       string
		y          int
		m          time.Month
		d          int
		start, end string // UTC
	}{
		{"America/Sao_Paulo", 2017, 10, 15, "2017-10-15T03:00:00Z", "2017-10-16T02:00:00Z"}, // 00:00 -> 01:00
		{"America/Sao_Paulo", 2017, 10, 14, "2017-10-14T03:00:00Z", "2017-10-15T03:00:00Z"},
		{"America/Sao_Paulo", 2017, 11, 24, "2017-11-24T02:00:00Z", "2017-11-25T02:00:00Z"}, // Black Friday
		{"America/Sao_Paulo", 2018, 2, 17, "2018-02-17T02:00:00Z", "2018-02-18T03:00:00Z"},  // 25 h (24:00 -> 23:00)
		{"America/Santiago", 2024, 9, 8, "2024-09-08T04:00:00Z", "2024-09-09T03:00:00Z"},
		{"America/Asuncion", 2023, 10, 1, "2023-10-01T04:00:00Z", "2023-10-02T03:00:00Z"},
		{"America/Havana", 2024, 3, 10, "2024-03-10T05:00:00Z", "2024-03-11T04:00:00Z"},
		{"Asia/Beirut", 2024, 3, 31, "2024-03-30T22:00:00Z", "2024-03-31T21:00:00Z"},
		{"Asia/Tehran", 2020, 3, 21, "2020-03-20T20:30:00Z", "2020-03-21T19:30:00Z"},
		{"America/New_York", 2026, 3, 8, "2026-03-08T05:00:00Z", "2026-03-09T04:00:00Z"},  // 23 h at 02:00
		{"America/New_York", 2026, 11, 1, "2026-11-01T04:00:00Z", "2026-11-02T05:00:00Z"}, // 25 h
		{"Pacific/Apia", 2011, 12, 30, "2011-12-30T10:00:00Z", "2011-12-30T10:00:00Z"},    // skipped: empty
		{"Asia/Shanghai", 2026, 11, 11, "2026-11-10T16:00:00Z", "2026-11-11T16:00:00Z"},
		{"UTC", 2024, 2, 29, "2024-02-29T00:00:00Z", "2024-03-01T00:00:00Z"},
	}
	for _, tc := range tests {
		t.Run(tc.zone+" "+time.Date(tc.y, tc.m, tc.d, 0, 0, 0, 0, time.UTC).Format(time.DateOnly), func(t *testing.T) {
			loc := load(t, tc.zone)
			start := localday.Start(tc.y, tc.m, tc.d, loc)
			require.Equal(t, utc(t, tc.start), start.UTC())
			require.Equal(t, utc(t, tc.end), localday.Start(tc.y, tc.m, tc.d+1, loc).UTC())
			if tc.start != tc.end {
				require.Equal(t, start.UTC(), localday.Floor(start, loc).UTC())
				require.Equal(t, utc(t, tc.end), localday.Next(start, loc).UTC())
				require.Equal(t, start.UTC(), localday.Floor(utc(t, tc.end).Add(-time.Nanosecond), loc).UTC())
			}
		})
	}
}

func TestWeekMonthQuarterYear(t *testing.T) {
	sp := load(t, "America/Sao_Paulo")
	x := utc(t, "2017-11-24T15:00:00Z") // a Friday
	require.Equal(t, utc(t, "2017-11-20T02:00:00Z"), localday.WeekStart(x, sp).UTC())
	require.Equal(t, utc(t, "2017-11-01T02:00:00Z"), localday.MonthStart(x, sp).UTC())
	require.Equal(t, utc(t, "2017-12-01T02:00:00Z"), localday.AddMonths(x, 1, sp).UTC())
	require.Equal(t, utc(t, "2017-10-01T03:00:00Z"), localday.QuarterStart(x, sp).UTC())
	require.Equal(t, utc(t, "2017-01-01T02:00:00Z"), localday.YearStart(x, sp).UTC())
	// The week of 2017-10-15 starts on Monday the 9th at midnight; the next
	// one on the 16th at midnight, not 23:00 on the 15th.
	require.Equal(t, utc(t, "2017-10-16T02:00:00Z"), localday.AddDays(localday.WeekStart(utc(t, "2017-10-12T12:00:00Z"), sp), 7, sp).UTC())
	// Iran: 2022-03-21 00:00 did not exist, the 1st of Farvardin is a Monday.
	th := load(t, "Asia/Tehran")
	require.Equal(t, utc(t, "2022-03-20T20:30:00Z"), localday.WeekStart(utc(t, "2022-03-24T12:00:00Z"), th).UTC())
}

func TestShiftDays(t *testing.T) {
	sp := load(t, "America/Sao_Paulo")
	tests := []struct {
		name string
		at   string
		n    int
		want string
	}{
		{"day start to a day without midnight", "2017-10-22T02:00:00Z", -7, "2017-10-15T03:00:00Z"},
		{"time in the gap moves past it", "2017-10-22T02:30:00Z", -7, "2017-10-15T03:00:00Z"},
		{"afternoon keeps the wall clock", "2017-10-22T19:00:00Z", -7, "2017-10-15T19:00:00Z"},
		{"forward", "2017-10-08T03:00:00Z", 7, "2017-10-15T03:00:00Z"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, utc(t, tc.want), localday.ShiftDays(utc(t, tc.at), tc.n, sp).UTC())
		})
	}
}

func TestCheckWholeHours(t *testing.T) {
	from, to := utc(t, "2000-01-01T00:00:00Z"), utc(t, "2100-01-01T00:00:00Z")
	for _, z := range []string{"UTC", "Asia/Shanghai", "America/Sao_Paulo", "Europe/Berlin", "America/Santiago"} {
		require.NoError(t, localday.CheckWholeHours(load(t, z), from, to), z)
	}
	for _, z := range []string{"Asia/Kolkata", "Asia/Kathmandu", "Asia/Tehran", "Australia/Adelaide", "America/St_Johns", "Australia/Lord_Howe", "America/Caracas"} {
		err := localday.CheckWholeHours(load(t, z), from, to)
		require.Error(t, err, z)
		require.Contains(t, err.Error(), z)
	}
	err := localday.CheckWholeHours(load(t, "Asia/Kolkata"), from, to)
	require.ErrorContains(t, err, "UTC+05:30")
}

// TestEveryZoneAgainstOracle walks every zone of Go's tz database and checks
// the day, week and month boundaries around each transition from 2000 to
// 2030 against the scanning oracle.
func TestEveryZoneAgainstOracle(t *testing.T) {
	zones, err := localdaytest.Zones()
	require.NoError(t, err)
	from, to := utc(t, "2000-01-01T00:00:00Z"), utc(t, "2030-01-01T00:00:00Z")
	checked, gaps := 0, 0
	for _, z := range zones {
		loc := load(t, z)
		o := localdaytest.New(loc)
		for _, x := range o.Instants(from, to) {
			checked++
			day := o.DayFloor(x)
			same(t, day, localday.Floor(x, loc), "%s day of %s", z, x)
			same(t, o.DayNext(x), localday.Next(x, loc), "%s next day of %s", z, x)
			same(t, o.WeekFloor(x), localday.WeekStart(x, loc), "%s week of %s", z, x)
			same(t, o.MonthFloor(x), localday.MonthStart(x, loc), "%s month of %s", z, x)
			same(t, o.MonthNext(x), localday.AddMonths(x, 1, loc), "%s next month of %s", z, x)
			if h, m, _ := day.In(loc).Clock(); h != 0 || m != 0 {
				gaps++
			}
		}
	}
	t.Logf("%d zones, %d instants, %d of them in days that do not start at 00:00", len(zones), checked, gaps)
	require.Greater(t, gaps, 0, "the walk must meet days without a midnight")
}

// same is require.Equal on instants, cheap when they are equal.
func same(t *testing.T, want, got time.Time, msg string, args ...any) {
	if !want.Equal(got) {
		t.Helper()
		require.Equal(t, want.UTC(), got.UTC(), append([]any{msg}, args...)...)
	}
}
