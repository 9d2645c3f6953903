package sim

import (
	"fmt"
	"slices"
	"time"
)

// Campaign kinds.
const (
	Kind618      = "618"
	Kind99       = "99"
	KindDouble11 = "double11"
	KindWeekly   = "weekly"
)

// Phase names.
const (
	PhaseWarmUp     = "warm-up"
	PhasePreSale    = "pre-sale"
	PhasePeak       = "peak"
	PhaseAfterSales = "after-sales"
	PhaseActivity   = "activity"
)

// Campaign is one item of the campaign calendar (PUT /v1/campaigns).
type Campaign struct {
	ID     string   `json:"id"`
	Name   string   `json:"name"`
	Kind   string   `json:"kind"`
	Stores []string `json:"stores"` // empty means all stores
	Phases []Phase  `json:"phases"`
}

// Phase is a named time range of a campaign.
type Phase struct {
	Name  string    `json:"name"`
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
}

// effects multiply the baseline during a campaign phase.
type effects struct {
	Traffic float64 // sessions
	Cart    float64 // add-to-cart probability
	Conv    float64 // order probability of a cart, consultation conversion
	AOV     float64 // unit price paid (discount depth vs basket size)
	Refund  float64 // refund and ticket probability of orders placed now
}

var noEffect = effects{1, 1, 1, 1, 1}

// phaseEffects are the full-intensity effects; a campaign's intensity scales
// the deviation from 1.
func phaseEffects(phase string) effects {
	switch phase {
	case PhaseWarmUp:
		// Shoppers browse and fill carts but wait for the deals.
		return effects{Traffic: 1.25, Cart: 1.4, Conv: 0.8, AOV: 1.0, Refund: 1}
	case PhasePreSale:
		return effects{Traffic: 1.4, Cart: 1.3, Conv: 1.1, AOV: 1.1, Refund: 1.2}
	case PhasePeak:
		return effects{Traffic: 3.2, Cart: 1.6, Conv: 1.8, AOV: 1.25, Refund: 2.2}
	case PhaseAfterSales:
		return effects{Traffic: 0.95, Cart: 0.9, Conv: 0.9, AOV: 0.95, Refund: 1.3}
	case PhaseActivity:
		return effects{Traffic: 1.1, Cart: 1.1, Conv: 1.15, AOV: 1.0, Refund: 1}
	}
	return noEffect
}

func campaignIntensity(kind string) float64 {
	switch kind {
	case Kind618:
		return 1
	case Kind99:
		return 0.6
	case KindDouble11:
		return 1.3
	}
	return 1
}

func scaledEffects(kind, phase string) effects {
	e := phaseEffects(phase)
	k := campaignIntensity(kind)
	s := func(v float64) float64 { return 1 + (v-1)*k }
	return effects{s(e.Traffic), s(e.Cart), s(e.Conv), s(e.AOV), s(e.Refund)}
}

// BuildCalendar returns the campaigns overlapping [start, end) in loc: 618,
// 99 and Double Eleven of every year touched, plus a weekly member-day
// activity (Wednesday 10:00-22:00) in weeks free of the big promotions.
// Campaigns are sorted by their first phase's start.
func BuildCalendar(start, end time.Time, loc *time.Location) []Campaign {
	var big []Campaign
	for y := start.In(loc).Year() - 1; y <= end.In(loc).Year(); y++ {
		d := func(m time.Month, day, hour int) time.Time { return time.Date(y, m, day, hour, 0, 0, 0, loc) }
		big = append(big,
			Campaign{
				ID: fmt.Sprintf("618-%d", y), Name: fmt.Sprintf("618 Mid-Year Sale %d", y), Kind: Kind618,
				Phases: []Phase{
					{PhaseWarmUp, d(5, 25, 0), d(6, 1, 0)},
					{PhasePreSale, d(6, 1, 0), d(6, 18, 0)},
					{PhasePeak, d(6, 18, 0), d(6, 19, 0)},
					{PhaseAfterSales, d(6, 19, 0), d(6, 26, 0)},
				},
			},
			Campaign{
				ID: fmt.Sprintf("99-%d", y), Name: fmt.Sprintf("99 Shopping Day %d", y), Kind: Kind99,
				Phases: []Phase{
					{PhaseWarmUp, d(9, 3, 0), d(9, 9, 0)},
					{PhasePeak, d(9, 9, 0), d(9, 10, 0)},
					{PhaseAfterSales, d(9, 10, 0), d(9, 14, 0)},
				},
			},
			Campaign{
				ID: fmt.Sprintf("d11-%d", y), Name: fmt.Sprintf("Double Eleven %d", y), Kind: KindDouble11,
				Phases: []Phase{
					{PhaseWarmUp, d(10, 15, 0), d(10, 24, 20)},
					{PhasePreSale, d(10, 24, 20), d(11, 11, 0)},
					{PhasePeak, d(11, 11, 0), d(11, 12, 0)},
					{PhaseAfterSales, d(11, 12, 0), d(11, 21, 0)},
				},
			},
		)
	}
	var out []Campaign
	for _, c := range big {
		if c.overlaps(start, end) {
			out = append(out, c)
		}
	}
	// Weekly member days: every Wednesday not inside a big campaign.
	first := time.Date(start.In(loc).Year(), start.In(loc).Month(), start.In(loc).Day(), 0, 0, 0, 0, loc)
	for first.Weekday() != time.Wednesday {
		first = first.AddDate(0, 0, -1)
	}
	for day := first; day.Before(end); day = day.AddDate(0, 0, 7) {
		s, e := day.Add(10*time.Hour), day.Add(22*time.Hour)
		if !e.After(start) {
			continue
		}
		busy := false
		for _, c := range big {
			if c.overlaps(day, day.AddDate(0, 0, 1)) {
				busy = true
				break
			}
		}
		if busy {
			continue
		}
		out = append(out, Campaign{
			ID:     "wk-" + day.Format("2006-01-02"),
			Name:   "Member day " + day.Format("2006-01-02"),
			Kind:   KindWeekly,
			Phases: []Phase{{PhaseActivity, s, e}},
		})
	}
	for i := range out {
		out[i].Stores = []string{}
	}
	slices.SortStableFunc(out, func(a, b Campaign) int { return a.Phases[0].Start.Compare(b.Phases[0].Start) })
	return out
}

func (c Campaign) overlaps(start, end time.Time) bool {
	return c.Phases[0].Start.Before(end) && c.Phases[len(c.Phases)-1].End.After(start)
}

// activePhase is the campaign phase covering one simulated hour.
type activePhase struct {
	campaign *Campaign
	phase    string
	eff      effects
}

// hourlyPhases maps every simulated hour to its active phase (at most one:
// weekly activities avoid the big campaigns, which never overlap each other).
func hourlyPhases(cal []Campaign, start time.Time, hours int) []activePhase {
	out := make([]activePhase, hours)
	for i := range out {
		out[i].eff = noEffect
	}
	for ci := range cal {
		c := &cal[ci]
		for _, p := range c.Phases {
			lo := int(p.Start.Sub(start) / time.Hour)
			hi := int(p.End.Sub(start) / time.Hour)
			for h := max(lo, 0); h < min(hi, hours); h++ {
				out[h] = activePhase{campaign: c, phase: p.Name, eff: scaledEffects(c.Kind, p.Name)}
			}
		}
	}
	return out
}
