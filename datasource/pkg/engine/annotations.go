package engine

import (
	"context"
	"slices"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"

	"github.com/storepulse/storepulse/internal/calendar"
	"github.com/storepulse/storepulse/internal/schema"
)

// PhaseRow is one campaign phase overlapping the queried range.
type PhaseRow struct {
	Campaign calendar.Campaign
	Phase    calendar.Phase
}

// campaignMatches applies the store and campaign filters: a campaign without
// stores runs in every store.
func campaignMatches(c calendar.Campaign, filters map[string][]string) bool {
	if ids := filters[schema.TagCampaign]; len(ids) > 0 && !slices.Contains(ids, c.ID) {
		return false
	}
	stores := filters[schema.TagStore]
	if len(stores) == 0 || len(c.Stores) == 0 {
		return true
	}
	for _, s := range stores {
		if slices.Contains(c.Stores, s) {
			return true
		}
	}
	return false
}

func checkCalendarFilters(filters map[string][]string) error {
	for dim := range filters {
		if dim != schema.TagStore && dim != schema.TagCampaign {
			return pluginErrorf("campaigns can be filtered by store and campaign only, not %q", dim)
		}
	}
	return nil
}

// CampaignPhases are the phases of the matching campaigns that overlap
// [from, to), ordered by start, campaign.
func (e *Engine) CampaignPhases(ctx context.Context, from, to time.Time, filters map[string][]string) ([]PhaseRow, error) {
	if err := checkCalendarFilters(filters); err != nil {
		return nil, err
	}
	cs, err := e.Source.Campaigns(ctx)
	if err != nil {
		return nil, err
	}
	var out []PhaseRow
	for _, c := range cs {
		if !campaignMatches(c, filters) {
			continue
		}
		for _, p := range c.Phases {
			if p.Start.Before(to) && p.End.After(from) {
				out = append(out, PhaseRow{Campaign: c, Phase: p})
			}
		}
	}
	slices.SortStableFunc(out, func(a, b PhaseRow) int { return a.Phase.Start.Compare(b.Phase.Start) })
	if e.SeriesLimit > 0 && len(out) > 10*e.SeriesLimit {
		return nil, backend.PluginError(&SeriesLimitError{Got: len(out), Limit: 10 * e.SeriesLimit})
	}
	return out, nil
}

// Timeline is the campaign calendar as a state timeline: at each time where
// any phase starts or ends, the phase each campaign is in ("" for none).
type Timeline struct {
	Times     []time.Time
	Campaigns []calendar.Campaign
	Phases    [][]string // per campaign, per time
}

// CalendarTimeline is the timeline of the matching campaigns over [from, to):
// the first time is from, then every phase boundary inside the range.
func (e *Engine) CalendarTimeline(ctx context.Context, from, to time.Time, filters map[string][]string) (*Timeline, error) {
	rows, err := e.CampaignPhases(ctx, from, to, filters)
	if err != nil {
		return nil, err
	}
	tl := &Timeline{Times: []time.Time{from}}
	var ids []string
	for _, r := range rows {
		if !slices.Contains(ids, r.Campaign.ID) {
			ids = append(ids, r.Campaign.ID)
			tl.Campaigns = append(tl.Campaigns, r.Campaign)
		}
		for _, t := range []time.Time{r.Phase.Start, r.Phase.End} {
			if t.After(from) && t.Before(to) {
				tl.Times = append(tl.Times, t)
			}
		}
	}
	slices.SortFunc(tl.Times, func(a, b time.Time) int { return a.Compare(b) })
	tl.Times = slices.CompactFunc(tl.Times, func(a, b time.Time) bool { return a.Equal(b) })
	for _, c := range tl.Campaigns {
		states := make([]string, len(tl.Times))
		for i, t := range tl.Times {
			for _, p := range c.Phases {
				if !t.Before(p.Start) && t.Before(p.End) {
					states[i] = p.Name
				}
			}
		}
		tl.Phases = append(tl.Phases, states)
	}
	return tl, nil
}
