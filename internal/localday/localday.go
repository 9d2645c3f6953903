// Package localday is the one definition of calendar boundaries in the store
// time zone, shared by the ingest (the stamps of daily sketches) and the
// datasource (day, week, month, quarter and year buckets).
//
// A local date D starts at the first instant whose wall clock in the zone
// reads D or later. On most days that is 00:00; on a day whose midnight does
// not exist (clocks jump from 00:00 to 01:00, as in Brazil until 2019, Chile,
// Paraguay, Cuba, Lebanon or Iran) it is the instant of the jump, shown as
// 01:00. A day lasts until the next date starts: 23 or 25 hours on DST days,
// and nothing at all for a date a zone skipped (Pacific/Apia, 2011-12-30),
// which therefore has no bucket.
//
// time.Date(y, m, d, 0, 0, 0, 0, loc) is not that instant when midnight does
// not exist (Go returns 23:00 the day before), and AddDate from such an
// instant carries 23:00 forward; nothing in StorePulse may compute a day
// boundary that way.
package localday

import (
	"fmt"
	"time"
)

// maxOffset bounds a zone's UTC offset: the tz database stays within ±16 h
// (local mean time included); 26 h leaves room.
const maxOffset = 26 * time.Hour

// Start is the first instant of the local date y-m-d in loc. Out-of-range
// months and days are normalised as by time.Date (day 0 is the last day of
// the previous month, month 13 is January of the next year).
func Start(y int, m time.Month, d int, loc *time.Location) time.Time {
	wall := time.Date(y, m, d, 0, 0, 0, 0, time.UTC) // D 00:00 as if in UTC
	// Walk the zone's periods forward from an instant that is surely still
	// before D in any zone. Inside one period the wall clock is UTC plus a
	// fixed offset, so the first instant at or after p whose wall clock reads
	// D 00:00 or later is max(p, wall-offset), if that falls in the period.
	p := wall.Add(-maxOffset)
	for {
		_, off := p.In(loc).Zone()
		cand := wall.Add(-time.Duration(off) * time.Second)
		if !cand.After(p) {
			return p.In(loc) // the period starts past midnight: a gap at midnight
		}
		end := periodEnd(p, loc, cand)
		if end.IsZero() || cand.Before(end) {
			return cand.In(loc)
		}
		p = end
	}
}

// periodEnd is the first instant after p with another offset or zone name
// than p, or zero when there is none up to limit. Transitions are on whole
// seconds; p is one.
func periodEnd(p time.Time, loc *time.Location, limit time.Time) time.Time {
	pl := p.In(loc)
	if _, end := pl.ZoneBounds(); end.IsZero() || end.After(p) {
		return end
	}
	// Go's ZoneBounds can return an end before p past the last explicit
	// transition (zones extended by their TZ rule after 2037, at the end of
	// a leap year). Bisect instead: within [p, limit] there is at most the
	// one transition a day boundary can be near.
	name, off := pl.Zone()
	same := func(t time.Time) bool { n, o := t.In(loc).Zone(); return n == name && o == off }
	if same(limit) {
		return time.Time{}
	}
	lo, hi := p, limit
	for hi.Sub(lo) > time.Second {
		mid := lo.Add(hi.Sub(lo) / 2).Truncate(time.Second)
		if same(mid) {
			lo = mid
		} else {
			hi = mid
		}
	}
	return hi
}

// dateOf is the wall-clock date of t in loc.
func dateOf(t time.Time, loc *time.Location) (int, time.Month, int) {
	return t.In(loc).Date()
}

// Floor is the start of the local day holding t: the latest day start not
// after t.
func Floor(t time.Time, loc *time.Location) time.Time {
	y, m, d := dateOf(t, loc)
	s := Start(y, m, d, loc)
	// Where clocks go back across midnight (00:30 -> 23:30), instants shown
	// as the previous date follow the start of the next: they belong to it.
	for {
		n := Start(y, m, d+1, loc)
		if n.After(t) {
			return s
		}
		s, d = n, d+1
	}
}

// Date is the date of the local day holding t (the date of Floor(t)).
func Date(t time.Time, loc *time.Location) (int, time.Month, int) {
	return dateOf(Floor(t, loc), loc)
}

// AddDays is the start of the local day n days after the one holding t (n
// may be negative). A date the zone skipped yields the next day's start.
func AddDays(t time.Time, n int, loc *time.Location) time.Time {
	y, m, d := Date(t, loc)
	return Start(y, m, d+n, loc)
}

// Next is the start of the local day after the one holding t.
func Next(t time.Time, loc *time.Location) time.Time {
	return AddDays(t, 1, loc)
}

// WeekStart is the start of the ISO week (Monday) holding t.
func WeekStart(t time.Time, loc *time.Location) time.Time {
	y, m, d := Date(t, loc)
	wd := (int(time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Weekday()) + 6) % 7 // Monday = 0
	return Start(y, m, d-wd, loc)
}

// MonthStart is the start of the month holding t.
func MonthStart(t time.Time, loc *time.Location) time.Time {
	y, m, _ := Date(t, loc)
	return Start(y, m, 1, loc)
}

// QuarterStart is the start of the calendar quarter holding t.
func QuarterStart(t time.Time, loc *time.Location) time.Time {
	y, m, _ := Date(t, loc)
	return Start(y, (m-1)/3*3+1, 1, loc)
}

// YearStart is the start of the year holding t.
func YearStart(t time.Time, loc *time.Location) time.Time {
	y, _, _ := Date(t, loc)
	return Start(y, 1, 1, loc)
}

// AddMonths is the start of the month n months after the one holding t.
func AddMonths(t time.Time, n int, loc *time.Location) time.Time {
	y, m, _ := Date(t, loc)
	return Start(y, m+time.Month(n), 1, loc)
}

// ShiftDays moves t by n local calendar days keeping its wall-clock time of
// day: the start of a day maps to the start of the target day, and a time
// that does not exist on the target day (in a DST gap) maps to the first
// instant after the gap, never into another day.
func ShiftDays(t time.Time, n int, loc *time.Location) time.Time {
	day := Floor(t, loc)
	if t.Equal(day) {
		return AddDays(t, n, loc)
	}
	y, m, d := dateOf(day, loc)
	from, to := Start(y, m, d+n, loc), Start(y, m, d+n+1, loc)
	l := t.In(loc)
	r := time.Date(y, m, d+n, l.Hour(), l.Minute(), l.Second(), l.Nanosecond(), loc)
	if r.Before(from) {
		return from
	}
	if !r.Before(to) {
		return to.Add(-time.Nanosecond)
	}
	return r
}

// CheckWholeHours fails when loc's UTC offset is not a whole number of hours
// at some instant in [from, to): hourly windows, which StorePulse keeps in
// UTC, then cannot be cut at that zone's local midnight.
func CheckWholeHours(loc *time.Location, from, to time.Time) error {
	for p := from; p.Before(to); {
		pl := p.In(loc)
		name, off := pl.Zone()
		if off%3600 != 0 {
			sign, a := '+', off
			if a < 0 {
				sign, a = '-', -a
			}
			return fmt.Errorf("time zone %s is UTC%c%02d:%02d (%s) from %s: its local days do not start on a whole UTC hour",
				loc, sign, a/3600, a%3600/60, name, p.UTC().Format("2006-01-02"))
		}
		_, end := pl.ZoneBounds()
		switch {
		case end.IsZero():
			return nil
		case !end.After(p):
			// Go's ZoneBounds past the last explicit transition (see
			// periodEnd): the TZ rule repeats offsets seen before, a day's
			// step does not miss a new one.
			p = p.Add(24 * time.Hour)
		default:
			p = end
		}
	}
	return nil
}
