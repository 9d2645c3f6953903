package bench

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/storepulse/storepulse/datasource/pkg/models"
	"github.com/storepulse/storepulse/internal/influxql"
)

// TestHistoryScreens checks the history benchmark's screens for a fixed now:
// whole calendar months (a range ending inside a month would read that month
// to now), the right Double Elevens, raw InfluxQL over the same ranges, and
// plugin queries the plugin accepts.
func TestHistoryScreens(t *testing.T) {
	sh, err := time.LoadLocation(TimeZone)
	require.NoError(t, err)
	end := time.Date(2026, 12, 3, 17, 0, 0, 0, sh)
	h := &historySet{Days: 400, MinutesDB: "m", MainDB: "c", End: end}
	screens, err := historyScreens(h, HistoryOptions{Dashboard: wallJSON}, sh)
	require.NoError(t, err)
	require.Len(t, screens, 4)
	for _, s := range screens {
		for _, p := range s.Panels {
			for _, q := range p.Queries {
				_, err := models.ParseQuery(q.JSON)
				require.NoError(t, err, "%s: %s", s.Name, q.JSON)
			}
		}
		for _, r := range s.Raw {
			if r != "topMonthly" {
				require.NoError(t, influxql.Check(r), r)
			}
		}
	}

	drill := screens[1].Panels[0].Queries
	require.True(t, time.Date(2025, 12, 1, 0, 0, 0, 0, sh).Equal(drill[0].TimeRange.From), "%s", drill[0].TimeRange.From)
	require.True(t, time.Date(2026, 12, 1, 0, 0, 0, 0, sh).Equal(drill[0].TimeRange.To))
	require.True(t, time.Date(2026, 11, 1, 0, 0, 0, 0, sh).Equal(drill[1].TimeRange.From), "the last whole month")
	require.Equal(t, 12+2, strings.Count(screens[1].Raw[0], "SELECT"), "12 months, then the last two months by store")
	require.Contains(t, screens[1].Raw[0], "'2026-10-31T16:00:00Z'", "local month starts")

	d11 := screens[2].Panels[0].Queries[0].TimeRange
	require.True(t, time.Date(2026, 11, 11, 0, 0, 0, 0, sh).Equal(d11.From))
	require.Contains(t, screens[2].Raw[0], "'2025-11-10T16:00:00Z'", "last year's Double Eleven")

	top := screens[3].Panels[0].Queries[0].TimeRange
	require.True(t, time.Date(2025, 11, 1, 0, 0, 0, 0, sh).Equal(top.From), "13 whole months: %s", top.From)

	sql, err := topMonthly([]*influxql.Series{
		{Tags: map[string]string{"store": "s1"}, Columns: []string{"time", "sum"}, Values: [][]any{{"0", 5.0}}},
		{Tags: map[string]string{"store": "s2"}, Columns: []string{"time", "sum"}, Values: [][]any{{"0", 9.0}}},
	}, top.From, top.To, sh)
	require.NoError(t, err)
	require.Equal(t, 13, strings.Count(sql, "SELECT"))
	require.Contains(t, sql, `"store" = 's2' OR "store" = 's1'`, "the largest first")
	require.NoError(t, influxql.Check(sql))

	short := &historySet{Days: 90, MinutesDB: "m90", MainDB: "c90", End: end}
	screens, err = historyScreens(short, HistoryOptions{Dashboard: wallJSON}, sh)
	require.NoError(t, err)
	require.Len(t, screens, 1, "a short history is measured on the wall screen only")
}

func TestLineTime(t *testing.T) {
	for _, c := range []struct {
		line string
		want int64
	}{
		{`m_orders,store=s1 gmv=1 1700000000000000000`, 1700000000000000000},
		{`m,t=a\ b f="x y" 5`, 5},
		{`m f=1`, -1},
		{`m`, -1},
	} {
		require.Equal(t, c.want, lineTime(c.line), c.line)
	}
}
