package calendar_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/storepulse/storepulse/internal/calendar"
)

func TestCampaignValidateAndLine(t *testing.T) {
	sh := time.FixedZone("CST", 8*3600)
	d11 := calendar.Campaign{ID: "d11-2026", Name: "Double Eleven", Kind: "double11", Phases: []calendar.Phase{
		{Name: calendar.PhasePeak, Start: time.Date(2026, 11, 11, 0, 0, 0, 0, sh), End: time.Date(2026, 11, 12, 0, 0, 0, 0, sh)},
		{Name: calendar.PhasePreSale, Start: time.Date(2026, 10, 24, 20, 0, 0, 0, sh), End: time.Date(2026, 11, 10, 0, 0, 0, 0, sh)},
	}}
	require.NoError(t, d11.Validate())
	require.True(t, d11.Start().Equal(time.Date(2026, 10, 24, 20, 0, 0, 0, sh)), "start is the earliest phase")
	require.True(t, d11.End().Equal(time.Date(2026, 11, 12, 0, 0, 0, 0, sh)))

	line, err := calendar.CampaignLine(&d11, false)
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(line, `sp_campaign,campaign=d11-2026 definition="{\"id\":\"d11-2026\"`), line)
	require.True(t, strings.HasSuffix(line, ",deleted=false 1792843200000000000"), line)

	bad := []struct {
		mutate func(c *calendar.Campaign)
		want   string
	}{
		{func(c *calendar.Campaign) { c.ID = "" }, "id:"},
		{func(c *calendar.Campaign) { c.Kind = "a\x01b" }, "kind: must not contain control characters"},
		{func(c *calendar.Campaign) { c.Phases = nil }, "phases: at least one"},
		{func(c *calendar.Campaign) { c.Phases[0].Name = "party" }, `phases[0].name`},
		{func(c *calendar.Campaign) { c.Phases[1].End = c.Phases[1].Start }, "phases[1]: end must be after start"},
		{func(c *calendar.Campaign) { c.Stores = []string{strings.Repeat("s", 200)} }, "stores[0]"},
	}
	for _, b := range bad {
		c := d11
		c.Phases = append([]calendar.Phase(nil), d11.Phases...)
		b.mutate(&c)
		require.ErrorContains(t, c.Validate(), b.want)
	}
}

func TestTargetValidateAndLine(t *testing.T) {
	sh := time.FixedZone("CST", 8*3600)
	tg := calendar.Target{KPI: "gmv", Store: "all", Period: calendar.PeriodMonth, Start: "2026-11-01", Value: 9e6}
	require.NoError(t, tg.Validate(sh))
	line, err := calendar.TargetLine(&tg, sh, false)
	require.NoError(t, err)
	// Midnight of 1 November in UTC+8 is 16:00 UTC on 31 October.
	require.Equal(t, "sp_target,kpi=gmv,period=month,store=all deleted=false,value=9e+06 1793462400000000000", line)

	cases := []struct {
		t    calendar.Target
		want string
	}{
		{calendar.Target{KPI: "gmv", Store: "all", Period: "decade", Start: "2026-11-01"}, "period"},
		{calendar.Target{KPI: "gmv", Store: "all", Period: "week", Start: "2026-11-04"}, "Monday"},
		{calendar.Target{KPI: "gmv", Store: "all", Period: "month", Start: "2026-11-02"}, "the 1st"},
		{calendar.Target{KPI: "gmv", Store: "all", Period: "day", Start: "11/01/2026"}, "YYYY-MM-DD"},
		{calendar.Target{KPI: "gmv", Store: "all", Period: "day", Start: "2026-11-01", Value: -1}, "non-negative"},
	}
	for _, c := range cases {
		require.ErrorContains(t, c.t.Validate(sh), c.want)
	}
}

// TestTargetStartWithoutMidnight: a target for 2017-10-15 in São Paulo (00:00
// did not exist) starts where that day's bucket does, at 01:00 local.
func TestTargetStartWithoutMidnight(t *testing.T) {
	sp, err := time.LoadLocation("America/Sao_Paulo")
	require.NoError(t, err)
	for _, tc := range []struct{ start, want string }{
		{"2017-10-15", "2017-10-15T03:00:00Z"},
		{"2017-10-16", "2017-10-16T02:00:00Z"},
		{"2017-10-14", "2017-10-14T03:00:00Z"},
	} {
		got, err := (&calendar.Target{Start: tc.start}).StartTime(sp)
		require.NoError(t, err)
		require.Equal(t, tc.want, got.UTC().Format(time.RFC3339), tc.start)
	}
	_, err = (&calendar.Target{Start: "15/10/2017"}).StartTime(sp)
	require.ErrorContains(t, err, "must be a date YYYY-MM-DD")
}
