// Package localdaytest is an independent oracle of local calendar boundaries
// for tests, written without package localday: it only asks the Go time
// package what date a UTC instant shows in a zone, and finds boundaries by
// scanning and bisecting UTC instants. It also lists every zone of Go's tz
// database and the instants around each of a zone's transitions.
package localdaytest

import (
	"archive/zip"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// scanStep is the step of the coarse scan: far shorter than any stretch of
// a day in the tz database, so no date is jumped over unseen.
const scanStep = 15 * time.Minute

// civil is a calendar date, normalised.
func civil(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }

// dateAt is the wall-clock date of t in loc, as a civil date.
func dateAt(t time.Time, loc *time.Location) time.Time {
	y, m, d := t.In(loc).Date()
	return civil(y, m, d)
}

// Oracle answers for one zone, remembering the day starts it found.
type Oracle struct {
	loc    *time.Location
	starts map[time.Time]time.Time // civil date -> first instant
}

// New is an oracle for loc.
func New(loc *time.Location) *Oracle {
	return &Oracle{loc: loc, starts: map[time.Time]time.Time{}}
}

// DayStart is the first UTC instant whose wall clock in the zone reads the
// date y-m-d or later (found by a 15-minute scan from 30 hours before, then
// a bisection to the nanosecond).
func (o *Oracle) DayStart(y int, m time.Month, d int) time.Time {
	want := civil(y, m, d)
	if s, ok := o.starts[want]; ok {
		return s
	}
	loc := o.loc
	lo := want.Add(-30 * time.Hour) // before the date in every zone
	if !dateAt(lo, loc).Before(want) {
		panic(fmt.Sprintf("localdaytest: %s already shows %s at %s", loc, want.Format(time.DateOnly), lo))
	}
	hi := lo
	for dateAt(hi, loc).Before(want) {
		lo, hi = hi, hi.Add(scanStep)
	}
	for hi.Sub(lo) > 1 { // lo before the date, hi at or after it
		mid := lo.Add(hi.Sub(lo) / 2)
		if dateAt(mid, loc).Before(want) {
			lo = mid
		} else {
			hi = mid
		}
	}
	o.starts[want] = hi
	return hi
}

// DayFloor is the latest day start (DayStart of some date) not after t.
func (o *Oracle) DayFloor(t time.Time) time.Time {
	d := dateAt(t, o.loc)
	var best time.Time
	for i := -2; i <= 2; i++ {
		c := d.AddDate(0, 0, i)
		s := o.DayStart(c.Year(), c.Month(), c.Day())
		if !s.After(t) && (best.IsZero() || s.After(best)) {
			best = s
		}
	}
	return best
}

// DayNext is the earliest day start after t.
func (o *Oracle) DayNext(t time.Time) time.Time {
	d := dateAt(t, o.loc)
	for i := -1; ; i++ {
		c := d.AddDate(0, 0, i)
		if s := o.DayStart(c.Year(), c.Month(), c.Day()); s.After(t) {
			return s
		}
	}
}

// DayDate is the date whose start is DayFloor(t) (the date shown there).
func (o *Oracle) DayDate(t time.Time) time.Time { return dateAt(o.DayFloor(t), o.loc) }

// WeekFloor is the start of the Monday on or before t's day.
func (o *Oracle) WeekFloor(t time.Time) time.Time {
	d := o.DayDate(t)
	back := (int(d.Weekday()) + 6) % 7
	return o.DayStart(d.Year(), d.Month(), d.Day()-back)
}

// MonthFloor is the start of the 1st of t's day's month.
func (o *Oracle) MonthFloor(t time.Time) time.Time {
	d := o.DayDate(t)
	return o.DayStart(d.Year(), d.Month(), 1)
}

// MonthNext is the start of the 1st of the month after t's day's month.
func (o *Oracle) MonthNext(t time.Time) time.Time {
	d := o.DayDate(t)
	return o.DayStart(d.Year(), d.Month()+1, 1)
}

// Transitions are the instants in [from, to) at which loc's UTC offset
// changes, found by comparing offsets a day apart and bisecting to the
// second.
func Transitions(loc *time.Location, from, to time.Time) []time.Time {
	offset := func(t time.Time) int { _, o := t.In(loc).Zone(); return o }
	var out []time.Time
	prev := offset(from)
	for t := from; t.Before(to); t = t.Add(24 * time.Hour) {
		u := t.Add(24 * time.Hour)
		ou := offset(u)
		if ou == prev {
			continue
		}
		lo, hi := t, u
		for hi.Sub(lo) > time.Second {
			mid := lo.Add(hi.Sub(lo) / 2)
			if offset(mid) == prev {
				lo = mid
			} else {
				hi = mid
			}
		}
		out = append(out, hi)
		prev = ou
	}
	return out
}

// Instants are the instants worth checking in loc between from and to: just
// before, at and after each transition, and around the local midnights of
// the days next to it (as the scan sees them).
func (o *Oracle) Instants(from, to time.Time) []time.Time {
	var out []time.Time
	for _, tr := range Transitions(o.loc, from, to) {
		out = append(out, tr.Add(-time.Nanosecond), tr, tr.Add(-time.Hour), tr.Add(time.Hour))
		d := dateAt(tr, o.loc)
		for i := -1; i <= 1; i++ {
			c := d.AddDate(0, 0, i)
			s := o.DayStart(c.Year(), c.Month(), c.Day())
			out = append(out, s.Add(-time.Nanosecond), s)
		}
	}
	slices.SortFunc(out, func(a, b time.Time) int { return a.Compare(b) })
	return slices.CompactFunc(out, time.Time.Equal)
}

// Zones are the names of every zone in Go's tz database
// (GOROOT/lib/time/zoneinfo.zip), or in /usr/share/zoneinfo when the Go
// toolchain's copy cannot be found. It fails rather than return few.
func Zones() ([]string, error) {
	var names []string
	if zipPath, err := goZip(); err == nil {
		r, err := zip.OpenReader(zipPath)
		if err != nil {
			return nil, fmt.Errorf("open %s: %w", zipPath, err)
		}
		defer func() { _ = r.Close() }()
		for _, f := range r.File {
			if !strings.HasSuffix(f.Name, "/") {
				names = append(names, f.Name)
			}
		}
	} else {
		root := "/usr/share/zoneinfo"
		werr := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(root, p)
			if d.IsDir() {
				if rel == "posix" || rel == "right" {
					return filepath.SkipDir
				}
				return nil
			}
			if strings.ContainsAny(rel, ".") || strings.ToLower(rel) == rel {
				return nil // zone.tab, tzdata.zi, localtime, posixrules ...
			}
			names = append(names, rel)
			return nil
		})
		if werr != nil {
			return nil, fmt.Errorf("no Go zoneinfo.zip (%w) and cannot list %s: %w", err, root, werr)
		}
	}
	slices.Sort(names)
	if len(names) < 300 {
		return nil, fmt.Errorf("only %d time zones found: the tz database is missing", len(names))
	}
	return names, nil
}

// goZip is the Go toolchain's zoneinfo.zip.
func goZip() (string, error) {
	if z := os.Getenv("ZONEINFO"); strings.HasSuffix(z, ".zip") {
		return z, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "go", "env", "GOROOT").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOROOT: %w", err)
	}
	p := filepath.Join(strings.TrimSpace(string(out)), "lib", "time", "zoneinfo.zip")
	if _, err := os.Stat(p); err != nil {
		return "", errors.Join(errors.New("no zoneinfo.zip in GOROOT"), err)
	}
	return p, nil
}

// wallAt is the wall-clock reading of t in loc, as a civil time in UTC.
func wallAt(t time.Time, loc *time.Location) time.Time {
	l := t.In(loc)
	return time.Date(l.Year(), l.Month(), l.Day(), l.Hour(), l.Minute(), l.Second(), l.Nanosecond(), time.UTC)
}

// WallInstant is the instant the wall-clock reading wall (a civil time given
// in UTC) names in loc under StorePulse's rule for clock changes (read a
// reading in a gap or overlap with the offset in force before the change),
// found the long way: the first UTC instant whose reading is wall or later
// (a 15-minute scan from 30 hours before, a 1-second rescan of a step that
// holds a backward jump, then a bisection to the nanosecond). If that
// instant shows wall, it is the answer (in an overlap: the earlier one);
// otherwise the clocks jumped over wall there, and the answer is wall minus
// the offset in force just before the jump.
func WallInstant(wall time.Time, loc *time.Location) time.Time {
	lo := wall.Add(-30 * time.Hour)
	if !wallAt(lo, loc).Before(wall) {
		panic(fmt.Sprintf("localdaytest: %s already shows %s at %s", loc, wall, lo))
	}
	step := scanStep
	hi := lo.Add(step)
	for wallAt(hi, loc).Before(wall) {
		lo, hi = hi, hi.Add(step)
	}
	if wallAt(hi, loc).Sub(wallAt(lo, loc)) < step {
		// The clocks went back inside the step: a reading may have been
		// crossed twice. Rescan the step by the second.
		for t := lo.Add(time.Second); !t.After(hi); t = t.Add(time.Second) {
			if !wallAt(t, loc).Before(wall) {
				lo, hi = t.Add(-time.Second), t
				break
			}
		}
	}
	for hi.Sub(lo) > 1 { // lo reads before wall, hi reads wall or later
		mid := lo.Add(hi.Sub(lo) / 2)
		if wallAt(mid, loc).Before(wall) {
			lo = mid
		} else {
			hi = mid
		}
	}
	if wallAt(hi, loc).Equal(wall) {
		return hi
	}
	_, before := hi.Add(-time.Nanosecond).In(loc).Zone()
	return wall.Add(-time.Duration(before) * time.Second)
}
