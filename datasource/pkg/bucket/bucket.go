// Package bucket is the datasource's bucket maths: it resolves a query's
// interval to a Step and cuts a time range into consecutive buckets in the
// store time zone (local days, weeks, months, quarters and years, DST days
// included), and shifts a range for comparison periods. It knows nothing of
// KPIs or InfluxDB; the engine builds its queries on it.
package bucket

import (
	"fmt"
	"sort"
	"time"

	"github.com/storepulse/storepulse/datasource/pkg/models"
	"github.com/storepulse/storepulse/internal/localday"
)

// Step is a resolved interval: a fixed duration below a day (aligned to local
// midnight when an hour or more), a calendar unit in the store time zone, or
// the whole range as one bucket.
type Step struct {
	Fixed    time.Duration // > 0 for fixed steps
	Calendar string        // models.IntervalDay, IntervalWeek, IntervalMonth, IntervalQuarter, IntervalYear or IntervalRange
	// Unit is the resolution a range bucket's bounds are aligned to: a minute
	// (sums), an hour (distinct counts: hourly sketches) or a local day
	// (daily sketches only: stickiness, distinct counts by category).
	Unit time.Duration
}

func (s Step) String() string {
	if s.Calendar != "" {
		return s.Calendar
	}
	return s.Fixed.String()
}

// WholeDays reports whether every bucket is made of whole local days.
func (s Step) WholeDays() bool {
	return s.Calendar != "" && (s.Calendar != models.IntervalRange || s.Unit >= 24*time.Hour)
}

// IsRange reports whether the step is one bucket for the whole range.
func (s Step) IsRange() bool { return s.Calendar == models.IntervalRange }

// unitStep is the step a range bucket's bounds are aligned to.
func (s Step) unitStep() Step {
	switch {
	case s.Unit >= 24*time.Hour:
		return Step{Calendar: models.IntervalDay}
	case s.Unit >= time.Hour:
		return Step{Fixed: time.Hour}
	}
	return Step{Fixed: time.Minute}
}

// fixedSteps are the allowed fixed steps: each divides the next hour or day.
func fixedSteps() []time.Duration {
	return []time.Duration{time.Minute, 5 * time.Minute, 10 * time.Minute, 15 * time.Minute,
		30 * time.Minute, time.Hour, 2 * time.Hour, 3 * time.Hour, 6 * time.Hour, 12 * time.Hour}
}

// ResolveStep turns a query interval into a Step. For "auto" it takes the
// smallest step not below grafanaInterval, (to-from)/maxDataPoints and minStep;
// "range" is one bucket whose bounds are aligned to minStep (a minute, an hour
// or a local day).
func ResolveStep(interval string, from, to time.Time, grafanaInterval time.Duration, maxDataPoints int64, minStep time.Duration) (Step, error) {
	switch interval {
	case models.IntervalDay, models.IntervalWeek, models.IntervalMonth, models.IntervalQuarter, models.IntervalYear:
		return Step{Calendar: interval}, nil
	case models.IntervalRange:
		return Step{Calendar: interval, Unit: max(minStep, time.Minute)}, nil
	case models.IntervalAuto, "":
		want := max(grafanaInterval, minStep, time.Minute)
		if maxDataPoints > 0 {
			want = max(want, to.Sub(from)/time.Duration(maxDataPoints))
		}
		for _, s := range fixedSteps() {
			if s >= want {
				return Step{Fixed: s}, nil
			}
		}
		switch {
		case want <= 24*time.Hour:
			return Step{Calendar: models.IntervalDay}, nil
		case want <= 7*24*time.Hour:
			return Step{Calendar: models.IntervalWeek}, nil
		}
		return Step{Calendar: models.IntervalMonth}, nil
	}
	d, err := time.ParseDuration(interval)
	if err != nil {
		return Step{}, fmt.Errorf("unknown interval %q (auto, day, week, month, quarter, year, range or a duration like 5m, 1h)", interval)
	}
	for _, s := range fixedSteps() {
		if s == d {
			if d < minStep {
				return Step{}, fmt.Errorf("interval %s is below this KPI's smallest interval %s", d, minStep)
			}
			return Step{Fixed: d}, nil
		}
	}
	if d == 24*time.Hour {
		return Step{Calendar: models.IntervalDay}, nil
	}
	return Step{}, fmt.Errorf("interval %s is not supported: use one of 1m, 5m, 10m, 15m, 30m, 1h, 2h, 3h, 6h, 12h, day, week, month, quarter, year, range", d)
}

// Buckets are consecutive [Starts[i], Starts[i+1]) windows; End closes the last.
type Buckets struct {
	Starts []time.Time
	End    time.Time
}

// Len is the number of buckets.
func (b Buckets) Len() int { return len(b.Starts) }

// Start is the first bucket's start.
func (b Buckets) Start() time.Time {
	if len(b.Starts) == 0 {
		return b.End
	}
	return b.Starts[0]
}

// EndOf is the end of bucket i.
func (b Buckets) EndOf(i int) time.Time {
	if i+1 < len(b.Starts) {
		return b.Starts[i+1]
	}
	return b.End
}

// Index is the bucket holding t, or -1.
func (b Buckets) Index(t time.Time) int {
	if len(b.Starts) == 0 || t.Before(b.Starts[0]) || !t.Before(b.End) {
		return -1
	}
	return sort.Search(len(b.Starts), func(i int) bool { return b.Starts[i].After(t) }) - 1
}

// Max bounds the buckets of one query.
const Max = 20000

// Make covers [from, to) with buckets of step in loc: the first bucket
// holds from, the last holds to (exclusive); buckets starting after now are
// dropped (a dashboard's "today" does not draw the future as zero). A range
// step is one bucket from from to to, both aligned to the step's unit (from
// down, to up).
func Make(from, to time.Time, step Step, loc *time.Location, now time.Time) (Buckets, error) {
	if !from.Before(to) {
		return Buckets{}, fmt.Errorf("empty time range %s .. %s", from, to)
	}
	if step.IsRange() {
		u := step.unitStep()
		start, end := Floor(from, u, loc), Floor(to, u, loc)
		if end.Before(to) {
			end = Next(end, u, loc)
		}
		if start.After(now) {
			return Buckets{End: from}, nil
		}
		return Buckets{Starts: []time.Time{start}, End: end}, nil
	}
	var b Buckets
	t := Floor(from, step, loc)
	for t.Before(to) && !t.After(now) {
		b.Starts = append(b.Starts, t)
		if len(b.Starts) > Max {
			return Buckets{}, fmt.Errorf("%d buckets of %s exceed the limit of %d: choose a larger interval", len(b.Starts), step, Max)
		}
		t = Next(t, step, loc)
	}
	b.End = t
	if len(b.Starts) == 0 {
		b.End = from
	}
	return b, nil
}

// Midnight is the start of t's local day: the first instant of its date,
// which is not 00:00 when the clocks jump over midnight (localday).
func Midnight(t time.Time, loc *time.Location) time.Time {
	return localday.Floor(t, loc)
}

// Floor is the start of the bucket holding t.
func Floor(t time.Time, step Step, loc *time.Location) time.Time {
	switch step.Calendar {
	case models.IntervalDay:
		return localday.Floor(t, loc)
	case models.IntervalWeek:
		return localday.WeekStart(t, loc)
	case models.IntervalMonth:
		return localday.MonthStart(t, loc)
	case models.IntervalQuarter:
		return localday.QuarterStart(t, loc)
	case models.IntervalYear:
		return localday.YearStart(t, loc)
	case models.IntervalRange:
		return Floor(t, step.unitStep(), loc)
	}
	if step.Fixed < time.Hour {
		// Sub-hour steps divide the hour: align to UTC (works for any zone
		// whose offset is a multiple of the step).
		return t.Truncate(step.Fixed)
	}
	m := Midnight(t, loc)
	// Hour steps are aligned to local midnight, restarting each day (DST days
	// have a shorter or longer last bucket).
	return m.Add(t.Sub(m) / step.Fixed * step.Fixed)
}

// CutAtNow ends the comparison period at the instant matching now when the
// current period's last bucket is still in progress: today so far is compared
// with last week up to the same time, not with last week's whole day. The
// cut is floored to the minute (the rollup's resolution) so reads of one
// minute share the cache. Sums are cut exactly; see the engine's fetch for
// sketches.
func CutAtNow(prev, cur Buckets, now, then time.Time) Buckets {
	if cur.Len() == 0 || prev.Len() == 0 || !now.Before(cur.End) {
		return prev
	}
	cut := then.Truncate(time.Minute)
	if cut.Before(prev.End) && cut.After(prev.Starts[prev.Len()-1]) {
		prev.End = cut
	}
	return prev
}

// Next is the start of the bucket after the one starting at t.
func Next(t time.Time, step Step, loc *time.Location) time.Time {
	switch step.Calendar {
	case models.IntervalDay:
		return localday.Next(t, loc)
	case models.IntervalWeek:
		return localday.AddDays(localday.WeekStart(t, loc), 7, loc)
	case models.IntervalMonth:
		return localday.AddMonths(t, 1, loc)
	case models.IntervalQuarter:
		return localday.AddMonths(localday.QuarterStart(t, loc), 3, loc)
	case models.IntervalYear:
		return localday.AddMonths(localday.YearStart(t, loc), 12, loc)
	case models.IntervalRange:
		return Next(t, step.unitStep(), loc) // the range has one bucket: its unit's next
	}
	n := t.Add(step.Fixed)
	if step.Fixed >= time.Hour {
		if nm := localday.Next(t, loc); n.After(nm) {
			return nm
		}
	}
	return n
}

// Grain is the window InfluxDB sums by: the step itself below an hour, else an
// hour (15 minutes in zones with a non-whole-hour offset), which every bucket
// boundary is a multiple of.
func Grain(step Step, loc *time.Location, from, to time.Time) time.Duration {
	if step.Fixed > 0 && step.Fixed < time.Hour {
		return step.Fixed
	}
	for _, t := range []time.Time{from, to} {
		if _, off := t.In(loc).Zone(); off%3600 != 0 {
			return 15 * time.Minute
		}
	}
	return time.Hour
}

// Shift is where a comparison period starts: from moved back by the compare
// offset. Day-based offsets move by local calendar days (DST-safe, and 1y =
// 364 days keeps the weekday); the previous period moves by the range length.
func Shift(t time.Time, compare string, rangeLen time.Duration, loc *time.Location) (time.Time, error) {
	days := 0
	switch compare {
	case models.ComparePrevious:
		return t.Add(-rangeLen), nil
	case models.Compare1d:
		days = 1
	case models.Compare1w:
		days = 7
	case models.Compare4w:
		days = 28
	case models.Compare1y:
		days = 364
	default:
		return t, fmt.Errorf("unknown compare %q", compare)
	}
	return localday.ShiftDays(t, -days, loc), nil
}
