package briefing

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/storepulse/storepulse/datasource/pkg/engine"
	"github.com/storepulse/storepulse/datasource/pkg/models"
	"github.com/storepulse/storepulse/internal/localday"
)

// RhythmDays is how far ahead the rhythm section looks.
const RhythmDays = 30

// Phase states.
const (
	PhaseUpcoming = "upcoming"
	PhaseRunning  = "running"
	PhaseEnded    = "ended"
)

// rhythm is section 5: the campaigns of the next 30 days from the morning
// after the day, and the running campaigns' uplift on the day.
func (b *Builder) rhythm(ctx context.Context, st *state) (Rhythm, error) {
	d := st.d
	today := d.end // the morning the briefing is read
	until := localday.AddDays(today, RhythmDays, d.loc)
	r := Rhythm{From: today.In(d.loc).Format(time.DateOnly), To: localday.AddDays(until, -1, d.loc).In(d.loc).Format(time.DateOnly),
		Campaigns: []CampaignPlan{}, Uplift: []Uplift{}}
	for _, c := range st.camps {
		if st.scope.store != "" && len(c.Stores) > 0 && !slices.Contains(c.Stores, st.scope.store) {
			continue
		}
		if !c.Start().Before(until) || !c.End().After(d.start) {
			continue
		}
		cp := CampaignPlan{ID: c.ID, Name: c.Name, Kind: c.Kind, Link: b.campaignLink(c.ID, c.Start(), c.End())}
		for _, p := range c.Phases {
			pp := PhasePlan{Name: p.Name, Start: p.Start, End: p.End}
			switch {
			case !p.Start.Before(today):
				pp.State, pp.Days = PhaseUpcoming, daysBetween(today, p.Start, d.loc)
				pp.Text = st.tr.F("%s %s starts in %s", c.Name, st.tr.T(p.Name), st.tr.Days(pp.Days))
				if pp.Days == 0 {
					pp.Text = st.tr.F("%s %s starts today at %s", c.Name, st.tr.T(p.Name), p.Start.In(d.loc).Format("15:04"))
				}
			case p.End.After(today):
				pp.State, pp.Days = PhaseRunning, daysBetween(today, p.End, d.loc)
				pp.Text = st.tr.F("%s %s runs, %s left (ends %s)", c.Name, st.tr.T(p.Name), st.tr.Days(pp.Days), p.End.In(d.loc).Format("01-02 15:04"))
			default:
				pp.State = PhaseEnded
				pp.Text = st.tr.F("%s %s ended %s", c.Name, st.tr.T(p.Name), p.End.In(d.loc).Format("01-02 15:04"))
			}
			cp.Phases = append(cp.Phases, pp)
		}
		r.Campaigns = append(r.Campaigns, cp)
	}
	q, err := normalise(models.Query{KPI: "gmv", Filters: st.scope.filters(), Uplift: &models.Uplift{}})
	if err != nil {
		return r, err
	}
	up, err := b.o.Engine.Uplift(ctx, engine.Request{Query: q, From: d.start, To: d.end})
	if err != nil {
		return r, fmt.Errorf("briefing: uplift: %w", err)
	}
	dayGMV, ok := st.values["gmv"]
	if !ok && len(up.Rows) > 0 {
		res, err := run(ctx, b.o.Engine, models.Query{KPI: "gmv", Filters: st.scope.filters(), Interval: models.IntervalDay}, d.start, d.end)
		if err != nil {
			return r, err
		}
		dayGMV = last(current(res))
	}
	for _, row := range up.Rows {
		u := Uplift{Campaign: row.Campaign.ID, Name: row.Campaign.Name, Day: dayGMV, Baseline: row.Baseline, ToDate: row.Uplift,
			Link: b.campaignLink(row.Campaign.ID, row.Campaign.Start(), row.Campaign.End())}
		if dayGMV != nil && row.Baseline != nil && *row.Baseline != 0 {
			u.DayUplift = ptr(*dayGMV / *row.Baseline - 1)
		}
		r.Uplift = append(r.Uplift, u)
	}
	return r, nil
}

// daysBetween counts local days from a's day to b's day.
func daysBetween(a, b time.Time, loc *time.Location) int {
	n := 0
	for t := localday.Floor(a, loc); localday.Floor(b, loc).After(t); t = localday.Next(t, loc) {
		n++
	}
	return n
}
