// Package deliver sends briefings on schedules: by e-mail (SMTP with
// STARTTLS) and to webhooks, with retries; a delivery that fails for good is
// logged as an error and its payload kept in a directory, never dropped
// silently.
package deliver

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Schedule is a cron expression of five fields (minute hour day-of-month
// month day-of-week, Sunday 0 or 7) read in a time zone: "30 7 * * *" is
// every day at 07:30, "0 8 * * 1-5" weekdays at 08:00. Fields take *, a
// number, a range a-b, a step */n or a-b/n, and lists of them.
type Schedule struct {
	expr                          string
	minute, hour, dom, month, dow [64]bool
	domAny, dowAny                bool
	loc                           *time.Location
}

// ParseSchedule parses a cron expression for loc.
func ParseSchedule(expr string, loc *time.Location) (*Schedule, error) {
	f := strings.Fields(expr)
	if len(f) != 5 {
		return nil, fmt.Errorf("schedule %q: want 5 fields (minute hour day-of-month month day-of-week), got %d", expr, len(f))
	}
	s := &Schedule{expr: expr, loc: loc, domAny: f[2] == "*", dowAny: f[4] == "*"}
	for i, spec := range []struct {
		dst    *[64]bool
		lo, hi int
		name   string
	}{{&s.minute, 0, 59, "minute"}, {&s.hour, 0, 23, "hour"}, {&s.dom, 1, 31, "day of month"}, {&s.month, 1, 12, "month"}, {&s.dow, 0, 7, "day of week"}} {
		if err := parseField(f[i], spec.lo, spec.hi, spec.dst); err != nil {
			return nil, fmt.Errorf("schedule %q: %s: %w", expr, spec.name, err)
		}
	}
	if s.dow[7] {
		s.dow[0] = true
	}
	return s, nil
}

func parseField(field string, lo, hi int, dst *[64]bool) error {
	for _, part := range strings.Split(field, ",") {
		rng, stepStr, hasStep := strings.Cut(part, "/")
		step := 1
		if hasStep {
			n, err := strconv.Atoi(stepStr)
			if err != nil || n < 1 {
				return fmt.Errorf("bad step %q", stepStr)
			}
			step = n
		}
		a, b := lo, hi
		if rng != "*" {
			from, to, isRange := strings.Cut(rng, "-")
			var err error
			if a, err = strconv.Atoi(from); err != nil {
				return fmt.Errorf("bad value %q", from)
			}
			b = a
			if isRange {
				if b, err = strconv.Atoi(to); err != nil {
					return fmt.Errorf("bad value %q", to)
				}
			} else if hasStep {
				b = hi
			}
		}
		if a < lo || b > hi || a > b {
			return fmt.Errorf("%q is outside %d-%d", part, lo, hi)
		}
		for v := a; v <= b; v += step {
			dst[v] = true
		}
	}
	return nil
}

// String is the expression.
func (s *Schedule) String() string { return s.expr }

// Location is the time zone the schedule is read in.
func (s *Schedule) Location() *time.Location { return s.loc }

// Next is the first minute strictly after t that the schedule fires, in its
// time zone (a local time skipped by a DST change does not fire that day).
func (s *Schedule) Next(t time.Time) time.Time {
	t = t.In(s.loc).Truncate(time.Minute).Add(time.Minute)
	for range 2 * 366 * 24 * 60 { // at most two years of minutes
		if s.fires(t) {
			return t
		}
		t = t.Add(time.Minute)
	}
	return time.Time{}
}

// Prev is the last minute at or before t that the schedule fires, if it is
// after limit; zero otherwise.
func (s *Schedule) Prev(t, limit time.Time) time.Time {
	for t = t.In(s.loc).Truncate(time.Minute); t.After(limit); t = t.Add(-time.Minute) {
		if s.fires(t) {
			return t
		}
	}
	return time.Time{}
}

// fires reports whether the schedule fires at minute t (in its zone).
func (s *Schedule) fires(t time.Time) bool {
	return s.month[int(t.Month())] && s.day(t) && s.hour[t.Hour()] && s.minute[t.Minute()]
}

// day applies cron's rule: when both day fields are restricted, either matches.
func (s *Schedule) day(t time.Time) bool {
	dom, dow := s.dom[t.Day()], s.dow[int(t.Weekday())]
	switch {
	case s.domAny && s.dowAny:
		return true
	case s.domAny:
		return dow
	case s.dowAny:
		return dom
	}
	return dom || dow
}
