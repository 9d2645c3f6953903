package engine

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/storepulse/storepulse/datasource/pkg/models"
	"github.com/storepulse/storepulse/internal/localday/localdaytest"
	"github.com/storepulse/storepulse/internal/schema"
)

// saoPauloOrders is one order a local day from 2017-09-25 to 2017-12-05 at
// 00:30 local (01:30 on 2017-10-15, whose midnight did not exist) and one
// at 23:30 local, with GMV 1000+day-of-year and day-of-year.
func saoPauloOrders(t *testing.T) ([]memPoint, map[string]float64) {
	sp := loc(t, "America/Sao_Paulo")
	var pts []memPoint
	want := map[string]float64{} // local date -> GMV
	for d := time.Date(2017, 9, 25, 12, 0, 0, 0, sp); d.Before(time.Date(2017, 12, 6, 0, 0, 0, 0, sp)); d = d.AddDate(0, 0, 1) {
		early := time.Date(d.Year(), d.Month(), d.Day(), 0, 30, 0, 0, sp)
		if early.Day() != d.Day() {
			early = time.Date(d.Year(), d.Month(), d.Day(), 1, 30, 0, 0, sp)
		}
		late := time.Date(d.Year(), d.Month(), d.Day(), 23, 30, 0, 0, sp)
		require.Equal(t, d.Day(), early.Day())
		a, b := float64(1000+d.YearDay()), float64(d.YearDay())
		pts = append(pts, order(early.UTC().Format(time.RFC3339), "s1", "app", "c1", a)...)
		pts = append(pts, order(late.UTC().Format(time.RFC3339), "s1", "app", "c1", b)...)
		want[d.Format(time.DateOnly)] = a + b
	}
	return pts, want
}

// TestSaoPauloDaysWithoutMidnight is the real-data report: from
// 2017-10-15 (00:00 -> 01:00) day buckets started at 23:00, 1 Oct to 30 Nov
// gave 62 "days" and wrong GMV, and Black Friday changed with the range.
func TestSaoPauloDaysWithoutMidnight(t *testing.T) {
	sp := loc(t, "America/Sao_Paulo")
	pts, want := saoPauloOrders(t)
	e := &Engine{Catalog: newEngine(t, nil, "UTC", 0).Catalog, Source: &memSource{points: pts}, Location: sp,
		Now: func() time.Time { return utc("2018-01-01T00:00:00Z") }}
	run := func(interval string, from, to time.Time) *Result {
		t.Helper()
		res, err := e.Run(context.Background(), Request{Query: models.Query{KPI: "gmv", Interval: interval}, From: from, To: to})
		require.NoError(t, err)
		require.Len(t, res.Series, 1)
		return res
	}
	oct1, dec1 := utc("2017-10-01T03:00:00Z"), utc("2017-12-01T02:00:00Z") // local midnights
	res := run("day", oct1, dec1)
	require.Len(t, res.Times, 61)
	for i, s := range res.Times {
		l := s.In(sp)
		require.Equal(t, l.Format(time.DateOnly), s.Add(time.Nanosecond).In(sp).Format(time.DateOnly))
		require.Equal(t, l.Format(time.DateOnly), s.Add(-time.Nanosecond).In(sp).AddDate(0, 0, 1).Format(time.DateOnly), "bucket %d starts the day", i)
		require.Equal(t, want[l.Format(time.DateOnly)], *res.Series[0].Values[i], "GMV of %s", l.Format(time.DateOnly))
		if l.Format(time.DateOnly) == "2017-10-15" {
			require.Equal(t, "01:00", l.Format("15:04"))
		} else {
			require.Equal(t, "00:00", l.Format("15:04"))
		}
	}

	// Black Friday: the same number whatever the range's start and end.
	bf := "2017-11-24"
	for _, r := range []struct{ from, to string }{
		{"2017-10-01T03:00:00Z", "2017-12-01T02:00:00Z"},
		{"2017-09-25T03:00:00Z", "2017-12-05T02:00:00Z"},
		{"2017-10-14T12:00:00Z", "2017-11-30T12:00:00Z"},
		{"2017-10-15T03:00:00Z", "2017-11-25T02:00:00Z"},
		{"2017-10-15T02:30:00Z", "2017-11-26T00:00:00Z"},
		{"2017-10-16T02:00:00Z", "2017-11-24T12:00:00Z"},
		{"2017-11-24T02:00:00Z", "2017-11-25T02:00:00Z"},
		{"2017-11-24T10:00:00Z", "2017-11-24T11:00:00Z"},
	} {
		res := run("day", utc(r.from), utc(r.to))
		found := false
		for i, s := range res.Times {
			if s.In(sp).Format(time.DateOnly) == bf {
				found = true
				require.Equal(t, utc("2017-11-24T02:00:00Z"), s.UTC(), "range %v", r)
				require.Equal(t, want[bf], *res.Series[0].Values[i], "range %v", r)
			}
		}
		require.True(t, found, "range %v", r)
	}

	// Weeks and months are whole local days: they add up to the days.
	for _, interval := range []string{"week", "month"} {
		res := run(interval, utc("2017-10-02T03:00:00Z"), utc("2017-11-27T02:00:00Z"))
		days := run("day", res.Times[0], utc("2017-12-04T02:00:00Z"))
		for i, s := range res.Times {
			o, l := localdaytest.New(sp), s.In(sp)
			end := o.DayStart(l.Year(), l.Month(), l.Day()+7)
			if interval == "month" {
				end = o.MonthNext(s)
			}
			sum := 0.0
			for j, d := range days.Times {
				if !d.Before(s) && d.Before(end) {
					sum += *days.Series[0].Values[j]
				}
			}
			require.Equal(t, sum, *res.Series[0].Values[i], "%s of %s", interval, s.In(sp))
			require.Equal(t, "00:00", s.In(sp).Format("15:04"), "%s starts at midnight", interval)
		}
	}
}

// TestOverlappingRangesAgree: for every local day of a DST year in
// zones with days without midnight, the day's sum is the same from every
// range holding it.
func TestOverlappingRangesAgree(t *testing.T) {
	for _, z := range []string{"America/Sao_Paulo", "America/Santiago", "America/Asuncion", "America/Havana", "Asia/Beirut", "America/New_York"} {
		t.Run(z, func(t *testing.T) {
			l := loc(t, z)
			var pts []memPoint
			start, end := utc("2016-12-20T00:00:00Z"), utc("2018-01-10T00:00:00Z")
			for x := start; x.Before(end); x = x.Add(30 * time.Minute) {
				pts = append(pts, point(x.Format(time.RFC3339), schema.MeasOrders, schema.FieldGMV, "s1", float64(x.Unix()/1800%97)))
			}
			e := &Engine{Catalog: newEngine(t, nil, "UTC", 0).Catalog, Source: &memSource{points: pts}, Location: l,
				Now: func() time.Time { return utc("2019-01-01T00:00:00Z") }}
			seen := map[string]float64{} // local date -> GMV
			for from := utc("2017-01-01T00:00:00Z"); from.Before(utc("2017-12-01T00:00:00Z")); from = from.Add(233 * time.Hour) {
				res, err := e.Run(context.Background(), Request{Query: models.Query{KPI: "gmv", Interval: "day"}, From: from, To: from.Add(40 * 24 * time.Hour)})
				require.NoError(t, err)
				dates := map[string]bool{}
				for i, s := range res.Times {
					v := *res.Series[0].Values[i]
					if i == 0 { // the first bucket is the whole day holding from
						require.False(t, s.After(from))
					}
					date := s.In(l).Format(time.DateOnly)
					require.False(t, dates[date], "%s: two buckets on %s from range starting %s", z, date, from)
					dates[date] = true
					if prev, ok := seen[date]; ok {
						require.Equal(t, prev, v, "%s day %s from range starting %s", z, s.In(l), from)
					}
					seen[date] = v
				}
			}
			require.Greater(t, len(seen), 300)
		})
	}
}
