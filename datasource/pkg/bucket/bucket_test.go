package bucket

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/storepulse/storepulse/datasource/pkg/models"
	"github.com/storepulse/storepulse/internal/localday/localdaytest"
)

func loc(t *testing.T, name string) *time.Location {
	t.Helper()
	l, err := time.LoadLocation(name)
	require.NoError(t, err)
	return l
}

func utc(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func times(ts []time.Time) []string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = t.UTC().Format(time.RFC3339)
	}
	return out
}

func TestMake(t *testing.T) {
	sh, ny, ber := loc(t, "Asia/Shanghai"), loc(t, "America/New_York"), loc(t, "Europe/Berlin")
	far := utc("2030-01-01T00:00:00Z")
	tests := []struct {
		name     string
		from, to time.Time
		step     Step
		loc      *time.Location
		now      time.Time
		want     []string
		end      string
	}{
		{"Shanghai days start at 16:00 UTC", utc("2026-11-20T15:59:00Z"), utc("2026-11-21T16:00:00Z"), Step{Calendar: "day"}, sh, far,
			[]string{"2026-11-19T16:00:00Z", "2026-11-20T16:00:00Z"}, "2026-11-21T16:00:00Z"},
		{"Shanghai week starts Monday", utc("2026-11-20T00:00:00Z"), utc("2026-11-21T00:00:00Z"), Step{Calendar: "week"}, sh, far,
			[]string{"2026-11-15T16:00:00Z"}, "2026-11-22T16:00:00Z"},
		{"Shanghai months", utc("2026-01-31T16:30:00Z"), utc("2026-03-02T00:00:00Z"), Step{Calendar: "month"}, sh, far,
			[]string{"2026-01-31T16:00:00Z", "2026-02-28T16:00:00Z"}, "2026-03-31T16:00:00Z"},
		{"6h aligned to Shanghai midnight", utc("2026-11-20T17:00:00Z"), utc("2026-11-21T05:00:00Z"), Step{Fixed: 6 * time.Hour}, sh, far,
			[]string{"2026-11-20T16:00:00Z", "2026-11-20T22:00:00Z", "2026-11-21T04:00:00Z"}, "2026-11-21T10:00:00Z"},
		{"15m aligned to UTC", utc("2026-11-20T17:07:00Z"), utc("2026-11-20T17:31:00Z"), Step{Fixed: 15 * time.Minute}, sh, far,
			[]string{"2026-11-20T17:00:00Z", "2026-11-20T17:15:00Z", "2026-11-20T17:30:00Z"}, "2026-11-20T17:45:00Z"},
		{"New York spring-forward day has 23 hours", utc("2026-03-08T05:00:00Z"), utc("2026-03-10T04:00:00Z"), Step{Calendar: "day"}, ny, far,
			[]string{"2026-03-08T05:00:00Z", "2026-03-09T04:00:00Z"}, "2026-03-10T04:00:00Z"},
		{"New York fall-back day has 25 hours", utc("2026-11-01T04:00:00Z"), utc("2026-11-02T05:00:00Z"), Step{Calendar: "day"}, ny, far,
			[]string{"2026-11-01T04:00:00Z"}, "2026-11-02T05:00:00Z"},
		{"Berlin 12h on the DST day: the last bucket is shorter", utc("2026-03-28T23:00:00Z"), utc("2026-03-29T22:00:00Z"), Step{Fixed: 12 * time.Hour}, ber, far,
			[]string{"2026-03-28T23:00:00Z", "2026-03-29T11:00:00Z"}, "2026-03-29T22:00:00Z"},
		{"buckets after now are dropped", utc("2026-11-19T16:00:00Z"), utc("2026-11-20T16:00:00Z"), Step{Fixed: time.Hour}, sh, utc("2026-11-19T18:30:00Z"),
			[]string{"2026-11-19T16:00:00Z", "2026-11-19T17:00:00Z", "2026-11-19T18:00:00Z"}, "2026-11-19T19:00:00Z"},
		{"Berlin quarters: winter time, then summer time", utc("2026-02-10T00:00:00Z"), utc("2026-07-02T00:00:00Z"), Step{Calendar: "quarter"}, ber, far,
			[]string{"2025-12-31T23:00:00Z", "2026-03-31T22:00:00Z", "2026-06-30T22:00:00Z"}, "2026-09-30T22:00:00Z"},
		{"Sao Paulo years (2018 began in summer time)", utc("2017-06-01T00:00:00Z"), utc("2018-01-01T02:00:01Z"), Step{Calendar: "year"}, loc(t, "America/Sao_Paulo"), far,
			[]string{"2017-01-01T02:00:00Z", "2018-01-01T02:00:00Z"}, "2019-01-01T02:00:00Z"},
		{"range of a sum: one bucket, bounds to the minute", utc("2026-11-20T17:07:30Z"), utc("2026-12-03T08:00:10Z"), Step{Calendar: "range", Unit: time.Minute}, sh, far,
			[]string{"2026-11-20T17:07:00Z"}, "2026-12-03T08:01:00Z"},
		{"range of a distinct count: bounds to the hour", utc("2026-11-20T17:07:30Z"), utc("2026-12-03T08:00:00Z"), Step{Calendar: "range", Unit: time.Hour}, sh, far,
			[]string{"2026-11-20T17:00:00Z"}, "2026-12-03T08:00:00Z"},
		{"range by category: bounds to local days", utc("2026-03-28T12:00:00Z"), utc("2026-03-29T12:00:00Z"), Step{Calendar: "range", Unit: 24 * time.Hour}, ber, far,
			[]string{"2026-03-27T23:00:00Z"}, "2026-03-29T22:00:00Z"},
		{"range starting after now is empty", utc("2026-11-20T17:00:00Z"), utc("2026-11-21T17:00:00Z"), Step{Calendar: "range", Unit: time.Minute}, sh, utc("2026-11-20T16:00:00Z"),
			[]string{}, "2026-11-20T17:00:00Z"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := Make(tt.from, tt.to, tt.step, tt.loc, tt.now)
			require.NoError(t, err)
			require.Equal(t, tt.want, times(b.Starts))
			require.Equal(t, tt.end, b.End.UTC().Format(time.RFC3339))
			for i, s := range b.Starts {
				require.Equal(t, i, b.Index(s))
				require.Equal(t, i, b.Index(b.EndOf(i).Add(-time.Nanosecond)))
			}
			require.Equal(t, -1, b.Index(b.End))
		})
	}
	_, err := Make(utc("2026-01-02T00:00:00Z"), utc("2026-01-01T00:00:00Z"), Step{Calendar: "day"}, sh, far)
	require.Error(t, err)
	_, err = Make(utc("2000-01-01T00:00:00Z"), utc("2026-01-01T00:00:00Z"), Step{Fixed: time.Minute}, sh, far)
	require.ErrorContains(t, err, "larger interval")
}

func TestResolveStep(t *testing.T) {
	from := utc("2026-11-01T00:00:00Z")
	tests := []struct {
		interval string
		to       time.Time
		gi       time.Duration
		mdp      int64
		min      time.Duration
		want     string
		err      string
	}{
		{"auto", from.Add(6 * time.Hour), 0, 1000, time.Minute, "1m0s", ""},
		{"auto", from.Add(24 * time.Hour), 0, 100, time.Minute, "15m0s", ""},
		{"auto", from.Add(24 * time.Hour), 20 * time.Second, 0, time.Hour, "1h0m0s", ""},
		{"auto", from.AddDate(0, 0, 30), 0, 100, time.Minute, "12h0m0s", ""},
		{"auto", from.AddDate(0, 0, 90), 0, 100, time.Minute, "day", ""},
		{"auto", from.AddDate(0, 0, 365), 0, 100, time.Minute, "week", ""},
		{"auto", from.AddDate(0, 0, 3650), 0, 100, time.Minute, "month", ""},
		{"auto", from.Add(time.Hour), 0, 100, 24 * time.Hour, "day", ""},
		{"week", from.Add(time.Hour), 0, 0, 0, "week", ""},
		{"6h", from.Add(time.Hour), 0, 0, 0, "6h0m0s", ""},
		{"24h", from.Add(time.Hour), 0, 0, 0, "day", ""},
		{"5m", from.Add(time.Hour), 0, 0, time.Hour, "", "below"},
		{"7m", from.Add(time.Hour), 0, 0, 0, "", "not supported"},
		{"fortnight", from.Add(time.Hour), 0, 0, 0, "", "unknown interval"},
		{"quarter", from.Add(time.Hour), 0, 0, 0, "quarter", ""},
		{"year", from.Add(time.Hour), 0, 0, time.Hour, "year", ""},
		{"range", from.Add(time.Hour), 0, 0, time.Minute, "range", ""},
	}
	for _, tt := range tests {
		t.Run(tt.interval+"/"+tt.want+tt.err, func(t *testing.T) {
			s, err := ResolveStep(tt.interval, from, tt.to, tt.gi, tt.mdp, tt.min)
			if tt.err != "" {
				require.ErrorContains(t, err, tt.err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, s.String())
		})
	}
}

func TestShift(t *testing.T) {
	sh, ny := loc(t, "Asia/Shanghai"), loc(t, "America/New_York")
	tests := []struct {
		name    string
		t       time.Time
		compare string
		loc     *time.Location
		want    string
	}{
		{"1y is 364 days, same weekday", utc("2026-11-10T16:00:00Z"), "1y", sh, "2025-11-11T16:00:00Z"},
		{"1w", utc("2026-11-10T16:00:00Z"), "1w", sh, "2026-11-03T16:00:00Z"},
		{"4w", utc("2026-11-10T16:00:00Z"), "4w", sh, "2026-10-13T16:00:00Z"},
		{"previous period is the range length", utc("2026-11-10T16:00:00Z"), "previous_period", sh, "2026-11-10T13:00:00Z"},
		{"1d across New York fall-back keeps local midnight", utc("2026-11-02T05:00:00Z"), "1d", ny, "2026-11-01T04:00:00Z"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Shift(tt.t, tt.compare, 3*time.Hour, tt.loc)
			require.NoError(t, err)
			require.Equal(t, tt.want, got.UTC().Format(time.RFC3339))
			if tt.compare == "1y" {
				require.Equal(t, tt.t.In(tt.loc).Weekday(), got.In(tt.loc).Weekday())
			}
		})
	}
	_, err := Shift(utc("2026-11-10T16:00:00Z"), "2y", 0, sh)
	require.Error(t, err)
}

// TestBucketsEveryZone walks every zone of Go's tz database: around each
// transition from 2000 to 2030 the day, week, month, quarter and year buckets start at the
// first instant of the local date, as the independent oracle finds it (the
// ingest's daily sketch stamps are checked against the same oracle in
// ingest/rollup, so both sides agree).
func TestBucketsEveryZone(t *testing.T) {
	zones, err := localdaytest.Zones()
	require.NoError(t, err)
	from, to := utc("2000-01-01T00:00:00Z"), utc("2030-01-01T00:00:00Z")
	day, week, month := Step{Calendar: models.IntervalDay}, Step{Calendar: models.IntervalWeek}, Step{Calendar: models.IntervalMonth}
	quarter, year := Step{Calendar: models.IntervalQuarter}, Step{Calendar: models.IntervalYear}
	for _, z := range zones {
		l := loc(t, z)
		o := localdaytest.New(l)
		instants := o.Instants(from, to)
		for _, x := range instants {
			d := o.DayFloor(x)
			sameInstant(t, d, Floor(x, day, l), "%s day of %s", z, x)
			sameInstant(t, o.DayNext(x), Next(d, day, l), "%s day after %s", z, x)
			w := o.WeekFloor(x)
			sameInstant(t, w, Floor(x, week, l), "%s week of %s", z, x)
			sameInstant(t, o.DayStart(w.In(l).Year(), w.In(l).Month(), w.In(l).Day()+7), Next(w, week, l), "%s week after %s", z, x)
			sameInstant(t, o.MonthFloor(x), Floor(x, month, l), "%s month of %s", z, x)
			sameInstant(t, o.MonthNext(x), Next(o.MonthFloor(x), month, l), "%s month after %s", z, x)
			dd := o.DayDate(x)
			q0 := o.DayStart(dd.Year(), (dd.Month()-1)/3*3+1, 1)
			sameInstant(t, q0, Floor(x, quarter, l), "%s quarter of %s", z, x)
			sameInstant(t, o.DayStart(dd.Year(), (dd.Month()-1)/3*3+4, 1), Next(q0, quarter, l), "%s quarter after %s", z, x)
			y0 := o.DayStart(dd.Year(), 1, 1)
			sameInstant(t, y0, Floor(x, year, l), "%s year of %s", z, x)
			sameInstant(t, o.DayStart(dd.Year()+1, 1, 1), Next(y0, year, l), "%s year after %s", z, x)
		}
		// Day buckets across each transition are consecutive local days.
		for i := 0; i < len(instants); i += 8 {
			x := instants[i]
			b, err := Make(x.Add(-36*time.Hour), x.Add(36*time.Hour), day, l, to)
			require.NoError(t, err)
			for j, s := range b.Starts {
				sameInstant(t, o.DayFloor(s), s, "%s bucket %d from %s", z, j, x)
				sameInstant(t, o.DayNext(s), b.EndOf(j), "%s end of bucket %d from %s", z, j, x)
			}
		}
	}
}

func sameInstant(t *testing.T, want, got time.Time, msg string, args ...any) {
	if !want.Equal(got) {
		t.Helper()
		require.Equal(t, want.UTC(), got.UTC(), append([]any{msg}, args...)...)
	}
}
