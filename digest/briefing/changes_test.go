package briefing

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/storepulse/storepulse/datasource/pkg/engine"
	"github.com/storepulse/storepulse/internal/calendar"
	"github.com/storepulse/storepulse/internal/kpi"
)

// A day's campaign phases, by kind and phase name: days of two different
// weekly member days compare equal, a day of another campaign does not.
func TestCampaignPhases(t *testing.T) {
	day := func(d int) time.Time { return time.Date(2026, 5, d, 0, 0, 0, 0, time.UTC) }
	member := func(id string, d int) calendar.Campaign {
		return calendar.Campaign{ID: id, Kind: "weekly", Phases: []calendar.Phase{{Name: "activity", Start: day(d).Add(10 * time.Hour), End: day(d).Add(22 * time.Hour)}}}
	}
	camps := []calendar.Campaign{member("wk-06", 6), member("wk-13", 13),
		{ID: "618", Kind: "618", Stores: []string{"s1"}, Phases: []calendar.Phase{{Name: "warm-up", Start: day(25), End: day(31)}}}}
	tests := []struct {
		name  string
		store string
		d     int
		want  string
	}{
		{"member day", "", 6, "weekly/activity"},
		{"another member day", "s2", 13, "weekly/activity"},
		{"ordinary day", "", 7, ""},
		{"warm-up of the store", "s1", 26, "618/warm-up"},
		{"warm-up of another store", "s2", 26, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, campaignPhases(camps, tt.store, day(tt.d), day(tt.d+1)))
		})
	}
}

// The band of a day in a campaign phase: the planned-day rule (a move in
// the better direction is planned) holds when the history is ordinary
// days, not when the history lies in the same kind of phase (a weekly
// member day against past member days, whose expected value already
// carries the campaign).
func TestBandRecurringCampaign(t *testing.T) {
	b := &Builder{o: Options{K: 3}}
	k := kpi.KPI{ID: "orders", Unit: kpi.UnitCount, Direction: kpi.HigherIsBetter, Kind: kpi.KindSum}
	const n = 7*bandWeeks + 1
	vals := make([]*float64, n)
	for i := range vals {
		vals[i] = ptr(100 + float64(i%3)) // a steady series
	}
	vals[n-1] = ptr(200) // the day: twice the expected, in the better direction
	phasesOf := func(day, history string) []string {
		p := make([]string, n)
		for w := 1; w <= bandWeeks; w++ {
			p[n-1-7*w] = history
		}
		p[n-1] = day
		return p
	}
	tests := []struct {
		name        string
		phases      []string
		wantFlagged bool
	}{
		{"ordinary day", phasesOf("", ""), true},
		{"campaign day, ordinary history: planned", phasesOf("weekly/activity", ""), false},
		{"member day, member-day history", phasesOf("weekly/activity", "weekly/activity"), true},
		{"peak day, member-day history: planned", phasesOf("double11/peak", "weekly/activity"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			band := b.band(k, vals, nil, tt.phases)
			require.True(t, band.ok)
			require.Greater(t, band.score, 3.0)
			require.Equal(t, tt.wantFlagged, band.flagged)
		})
	}
}

// nopSource is a Source for checking options: New never reads it.
type nopSource struct{ engine.Source }

// The KPIs checked per category are checked once at start: each must be a
// catalog KPI with the category dimension.
func TestByCategoryOptions(t *testing.T) {
	cat := kpi.Default()
	pb, err := LoadPlaybook(cat, "")
	require.NoError(t, err)
	tests := []struct {
		name    string
		by      []string
		wantErr string
	}{
		{"default", nil, ""},
		{"none", []string{}, ""},
		{"unknown KPI", []string{"nope"}, `"nope"`},
		{"no category dimension", []string{"spend"}, `"spend"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := &engine.Engine{Catalog: cat, Source: nopSource{}, Location: time.UTC}
			b, err := New(Options{Engine: e, Location: time.UTC, Now: time.Now, Playbook: pb, ByCategory: tt.by})
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			if tt.by == nil {
				require.Equal(t, CategoryKPIs(), b.o.ByCategory)
			}
		})
	}
}
