package engine

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"

	"github.com/storepulse/storepulse/datasource/pkg/bucket"
	"github.com/storepulse/storepulse/datasource/pkg/models"
	"github.com/storepulse/storepulse/internal/calendar"
	"github.com/storepulse/storepulse/internal/schema"
)

// campaignMatchWindow is how far last year's campaign of a kind may start
// from one year before this one's start: 618 and Double Eleven keep their
// dates, a movable feast moves by weeks.
const campaignMatchWindow = 90 * 24 * time.Hour

// CampaignMatch is what a "compare": "campaign" query compares: the campaign
// of the range and last year's campaign of the same kind. The comparison
// period is the range moved back by Offset = Current.Start() −
// Previous.Start().
type CampaignMatch struct {
	Current, Previous calendar.Campaign
	Offset            time.Duration
}

// calendarQuery takes the campaign filter out of a query that reads the
// campaign calendar (compare campaign, uplift): there it names calendar
// campaigns rather than filtering the data by the campaign tag (last year's
// orders carry last year's campaign id, and a baseline has no campaign at
// all). It returns the query for the data and the calendar filter (store
// and campaign).
func calendarQuery(q models.Query) (models.Query, map[string][]string) {
	if q.Compare != models.CompareCampaign && q.Uplift == nil {
		return q, nil
	}
	cal := map[string][]string{}
	for _, dim := range []string{schema.TagStore, schema.TagCampaign} {
		if v := q.Filters[dim]; len(v) > 0 {
			cal[dim] = v
		}
	}
	if _, ok := q.Filters[schema.TagCampaign]; ok {
		q.Filters = maps.Clone(q.Filters)
		delete(q.Filters, schema.TagCampaign)
	}
	return q, cal
}

// comparePeriod is the comparison period of [from, to): moved back by the
// compare offset, or for compare campaign by the offset of the matched
// campaigns (returned too).
func (e *Engine) comparePeriod(ctx context.Context, compare string, cal map[string][]string, from, to time.Time) (time.Time, time.Time, *CampaignMatch, error) {
	if compare != models.CompareCampaign {
		pf, err := bucket.Shift(from, compare, to.Sub(from), e.Location)
		if err != nil {
			return pf, pf, nil, backend.PluginError(err)
		}
		pt, _ := bucket.Shift(to, compare, to.Sub(from), e.Location)
		return pf, pt, nil, nil
	}
	cs, err := e.Source.Campaigns(ctx)
	if err != nil {
		return from, to, nil, err
	}
	m, err := MatchCampaign(cs, cal, from, to, e.Location)
	if err != nil {
		return from, to, nil, err
	}
	return from.Add(-m.Offset), to.Add(-m.Offset), m, nil
}

// compareInstant is the instant of the comparison period that matches t of
// the current one: moved back like the period (local calendar days for 1d, 1w,
// 4w, 1y; otherwise by the period's offset pt − to).
func (e *Engine) compareInstant(compare string, t, from, to, pt time.Time) time.Time {
	switch compare {
	case models.Compare1d, models.Compare1w, models.Compare4w, models.Compare1y:
		if s, err := bucket.Shift(t, compare, to.Sub(from), e.Location); err == nil {
			return s
		}
	}
	return t.Add(pt.Sub(to))
}

// MatchCampaign finds the campaign of [from, to) and last year's campaign of
// the same kind. This year's: among the campaigns matching the store filter,
// the ones named by the campaign filter, else those overlapping the range;
// they must be of one kind; of several, the one overlapping the range most
// (then the latest). Last year's: the campaign of that kind, matching the
// store filter, whose start is nearest to one year (local calendar) before
// this one's and within 90 days of it. Every failure is the query's
// (a plugin error) and says what to change.
func MatchCampaign(cs []calendar.Campaign, cal map[string][]string, from, to time.Time, loc *time.Location) (*CampaignMatch, error) {
	stores := map[string][]string{}
	if s := cal[schema.TagStore]; len(s) > 0 {
		stores[schema.TagStore] = s
	}
	named := cal[schema.TagCampaign]
	var cands []calendar.Campaign
	for _, c := range cs {
		if !campaignMatches(c, cal) {
			continue
		}
		if len(named) > 0 || (c.Start().Before(to) && c.End().After(from)) {
			cands = append(cands, c)
		}
	}
	span := from.In(loc).Format("2006-01-02 15:04") + " to " + to.In(loc).Format("2006-01-02 15:04")
	if len(cands) == 0 {
		if len(named) > 0 {
			return nil, pluginErrorf("compare campaign: no campaign %s in the calendar (for the store filter)", strings.Join(named, ", "))
		}
		return nil, pluginErrorf("compare campaign: the range %s overlaps no campaign of the calendar (for the store filter): choose a range within a campaign, or name one with the campaign filter", span)
	}
	var kinds []string
	for _, c := range cands {
		if !slices.Contains(kinds, c.Kind) {
			kinds = append(kinds, c.Kind)
		}
	}
	if len(kinds) > 1 {
		names := make([]string, len(cands))
		for i, c := range cands {
			names[i] = fmt.Sprintf("%s (%s, kind %s)", c.Name, c.ID, c.Kind)
		}
		return nil, pluginErrorf("compare campaign: the range %s overlaps campaigns of %d kinds — %s: name one with the campaign filter", span, len(kinds), strings.Join(names, "; "))
	}
	cur := slices.MaxFunc(cands, func(a, b calendar.Campaign) int {
		if c := cmp.Compare(overlap(a, from, to), overlap(b, from, to)); c != 0 {
			return c
		}
		return a.Start().Compare(b.Start())
	})
	want := cur.Start().In(loc).AddDate(-1, 0, 0)
	var prev *calendar.Campaign
	for i, c := range cs {
		if c.Kind != cur.Kind || c.ID == cur.ID || !campaignMatches(c, stores) {
			continue
		}
		d := absDuration(c.Start().Sub(want))
		if d > campaignMatchWindow {
			continue
		}
		if prev == nil || d < absDuration(prev.Start().Sub(want)) {
			prev = &cs[i]
		}
	}
	if prev == nil {
		return nil, pluginErrorf("compare campaign: the calendar has no %s campaign (kind %s) starting within 90 days of %s, a year before %s (%s) started: nothing to compare with",
			cur.Kind, cur.Kind, want.Format("2006-01-02"), cur.Name, cur.ID)
	}
	return &CampaignMatch{Current: cur, Previous: *prev, Offset: cur.Start().Sub(prev.Start())}, nil
}

// overlap is how long campaign c runs inside [from, to).
func overlap(c calendar.Campaign, from, to time.Time) time.Duration {
	s, e := c.Start(), c.End()
	if from.After(s) {
		s = from
	}
	if to.Before(e) {
		e = to
	}
	return max(e.Sub(s), 0)
}

func absDuration(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}
