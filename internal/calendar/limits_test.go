package calendar_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/storepulse/storepulse/internal/calendar"
)

// TestCalendarLimits: times outside 2000..2100, too many phases or stores,
// a store listed twice and a name ending in a backslash are refused (the old
// code stored them, or failed at InfluxDB with a 503).
func TestCalendarLimits(t *testing.T) {
	sh := time.FixedZone("CST", 8*3600)
	at := func(y int) time.Time { return time.Date(y, 6, 1, 0, 0, 0, 0, sh) }
	base := func() calendar.Campaign {
		return calendar.Campaign{ID: "c1", Name: "C", Kind: "618", Phases: []calendar.Phase{
			{Name: calendar.PhasePeak, Start: at(2026), End: at(2026).Add(24 * time.Hour)}}}
	}
	many := make([]calendar.Phase, calendar.MaxPhases+1)
	for i := range many {
		many[i] = calendar.Phase{Name: calendar.PhaseActivity, Start: at(2026).Add(time.Duration(i) * time.Hour), End: at(2026).Add(time.Duration(i+1) * time.Hour)}
	}
	stores := make([]string, calendar.MaxCampaignStores+1)
	for i := range stores {
		stores[i] = fmt.Sprintf("s%d", i)
	}
	for _, tc := range []struct {
		name   string
		mutate func(c *calendar.Campaign)
		want   string
	}{
		{"phase in 1600", func(c *calendar.Campaign) { c.Phases[0].Start, c.Phases[0].End = at(1600), at(1600).Add(time.Hour) }, "phases[0].start: must be from 2000-01-01"},
		{"phase in 2300", func(c *calendar.Campaign) { c.Phases[0].Start, c.Phases[0].End = at(2300), at(2300).Add(time.Hour) }, "phases[0].start"},
		{"phase in 2250", func(c *calendar.Campaign) { c.Phases[0].Start, c.Phases[0].End = at(2250), at(2250).Add(time.Hour) }, "until before 2100-01-01"},
		{"phase ending past 2100", func(c *calendar.Campaign) { c.Phases[0].End = at(2101) }, "phases[0].end"},
		{"id ending in a backslash", func(c *calendar.Campaign) { c.ID = `d11\` }, "id: must not end with a backslash"},
		{"too many phases", func(c *calendar.Campaign) { c.Phases = many }, fmt.Sprintf("at most %d phases", calendar.MaxPhases)},
		{"too many stores", func(c *calendar.Campaign) { c.Stores = stores }, "at most 200 stores"},
		{"store listed twice", func(c *calendar.Campaign) { c.Stores = []string{"s1", "s1"} }, `stores[1]: "s1" is listed twice`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := base()
			require.NoError(t, c.Validate())
			tc.mutate(&c)
			require.ErrorContains(t, c.Validate(), tc.want)
		})
	}
	for _, tc := range []struct {
		t    calendar.Target
		want string
	}{
		{calendar.Target{KPI: "gmv", Store: "all", Period: "day", Start: "0001-01-01"}, "start: must be from 2000-01-01"},
		{calendar.Target{KPI: "gmv", Store: "all", Period: "day", Start: "9999-12-31"}, "start: must be from 2000-01-01"},
		{calendar.Target{KPI: "gmv", Store: `s1\`, Period: "day", Start: "2026-11-01"}, "store: must not end with a backslash"},
	} {
		require.ErrorContains(t, tc.t.Validate(sh), tc.want)
	}
	ok := calendar.Target{KPI: "gmv", Store: "all", Period: "day", Start: "2099-12-31"}
	require.NoError(t, ok.Validate(sh))
}
