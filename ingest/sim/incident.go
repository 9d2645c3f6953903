package sim

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// IncidentKind is a kind of injected incident.
type IncidentKind string

// Incident kinds.
const (
	// IncidentPaymentOutage: orders keep coming, almost none get paid.
	IncidentPaymentOutage IncidentKind = "payment_outage"
	// IncidentTrafficDrop: sessions of one channel of one store collapse.
	IncidentTrafficDrop IncidentKind = "traffic_drop"
	// IncidentRefundSpike: a burst of refunds on recent orders.
	IncidentRefundSpike IncidentKind = "refund_spike"
	// IncidentStoreSilent: a store sends no events at all.
	IncidentStoreSilent IncidentKind = "store_silent"
	// IncidentPriceError: one category's own price is set to a tenth.
	IncidentPriceError IncidentKind = "price_error"
	// IncidentCheckoutFailure: carts fill as usual, almost no checkout
	// completes (orders per session collapse).
	IncidentCheckoutFailure IncidentKind = "checkout_failure"
	// IncidentServiceBacklog: customer service falls behind, first response
	// times balloon.
	IncidentServiceBacklog IncidentKind = "service_backlog"
)

// IncidentKinds lists the kinds "all" injects. The list is fixed: adding a
// kind to it would move every seeded run's output (golden files, the
// anomaly evaluation), so newer kinds are in OptionalIncidentKinds.
func IncidentKinds() []IncidentKind {
	return []IncidentKind{IncidentPaymentOutage, IncidentTrafficDrop, IncidentRefundSpike, IncidentStoreSilent, IncidentPriceError}
}

// OptionalIncidentKinds are injected only when named (e.g.
// "all,checkout_failure,service_backlog") or planned (Config.IncidentPlan).
func OptionalIncidentKinds() []IncidentKind {
	return []IncidentKind{IncidentCheckoutFailure, IncidentServiceBacklog}
}

// ParseIncidents parses "none" or a comma-separated list of kinds in which
// "all" stands for IncidentKinds().
func ParseIncidents(s string) ([]IncidentKind, error) {
	s = strings.TrimSpace(s)
	if s == "" || s == "none" {
		return nil, nil
	}
	var out []IncidentKind
	for _, p := range strings.Split(s, ",") {
		k := IncidentKind(strings.TrimSpace(p))
		if k == "all" {
			out = append(out, IncidentKinds()...)
			continue
		}
		if !k.valid() {
			return nil, fmt.Errorf("sim: unknown incident kind %q (want all, none or a list of %v)", k,
				append(IncidentKinds(), OptionalIncidentKinds()...))
		}
		out = append(out, k)
	}
	return out, nil
}

func (k IncidentKind) valid() bool {
	return slices.Contains(IncidentKinds(), k) || slices.Contains(OptionalIncidentKinds(), k)
}

// kpi is the KPI in which the incident shows.
func (k IncidentKind) kpi() string {
	switch k {
	case IncidentPaymentOutage:
		return "payment_conversion"
	case IncidentTrafficDrop:
		return "sessions"
	case IncidentRefundSpike:
		return "refund_rate"
	case IncidentStoreSilent:
		return "events"
	case IncidentPriceError:
		return "price_index"
	case IncidentCheckoutFailure:
		return "order_conversion_rate"
	case IncidentServiceBacklog:
		return "first_response_time"
	}
	return ""
}

// durationHours is the range of the incident's length.
func (k IncidentKind) durationHours() (lo, hi int) {
	switch k {
	case IncidentPaymentOutage:
		return 2, 3
	case IncidentTrafficDrop, IncidentPriceError:
		return 4, 6
	case IncidentRefundSpike:
		return 6, 9
	case IncidentStoreSilent, IncidentCheckoutFailure, IncidentServiceBacklog:
		return 3, 5
	}
	return 1, 1
}

// Incident is the ground truth of one injected incident: one item of the
// labels file. Channel and Category narrow it when it hits only one.
type Incident struct {
	Store    string       `json:"store"`
	KPI      string       `json:"kpi"`
	Kind     IncidentKind `json:"kind"`
	Start    time.Time    `json:"start"`
	End      time.Time    `json:"end"`
	Channel  string       `json:"channel,omitempty"`
	Category string       `json:"category,omitempty"`
}

func (in *Incident) covers(t time.Time) bool { return !t.Before(in.Start) && t.Before(in.End) }

// placeIncidents places each configured incident deterministically: on a
// random store, in the daytime (so it is visible in the data), one week or
// more after the start when the run is long enough (so the same hours a week
// earlier are a clean baseline), and never on the same day, or exactly one
// week apart, as another incident. The planned incidents (Config.IncidentPlan)
// follow, as given.
func placeIncidents(cfg *Config) []Incident {
	if len(cfg.Incidents) == 0 {
		return plannedIncidents(cfg, nil)
	}
	rng := newRNG(cfg.Seed, saltIncidents, 0)
	days := int(cfg.End.Sub(cfg.Start).Hours() / 24)
	lo, hi := 0, max(days, 1)
	if days >= 10 {
		lo, hi = 7, days-1
	}
	startDay := time.Date(cfg.Start.Year(), cfg.Start.Month(), cfg.Start.Day(), 0, 0, 0, 0, cfg.Location)
	var used []int
	out := make([]Incident, 0, len(cfg.Incidents))
	for _, k := range cfg.Incidents {
		var day int
		for try := 0; try < 50; try++ {
			day = lo + rng.IntN(hi-lo)
			ok := true
			for _, u := range used {
				if d := day - u; d == 0 || d == 7 || d == -7 {
					ok = false
				}
			}
			if ok {
				break
			}
		}
		used = append(used, day)
		st := cfg.Stores[rng.IntN(len(cfg.Stores))]
		dlo, dhi := k.durationHours()
		start := startDay.AddDate(0, 0, day).Add(time.Duration(10+rng.IntN(8)) * time.Hour)
		in := Incident{
			Store: st.ID, KPI: k.kpi(), Kind: k,
			Start: start,
			End:   start.Add(time.Duration(dlo+rng.IntN(dhi-dlo+1)) * time.Hour),
		}
		switch k {
		case IncidentTrafficDrop:
			// The store's busiest channel, so the drop is plain to see.
			in.Channel = Channels()[busiestChannel(&st)]
		case IncidentPriceError:
			in.Category = cfg.Categories[rng.IntN(len(cfg.Categories))].Name
		}
		if in.Start.Before(cfg.Start) {
			in.Start = cfg.Start
		}
		if in.End.After(cfg.End) {
			in.End = cfg.End
		}
		if in.End.After(in.Start) {
			out = append(out, in)
		}
	}
	return plannedIncidents(cfg, out)
}

// plannedIncidents appends the planned incidents to out, clipped to the
// simulated range, with the channel of a traffic drop (the store's busiest)
// and the category of a price error (the first) filled in when not given.
func plannedIncidents(cfg *Config, out []Incident) []Incident {
	for _, in := range cfg.IncidentPlan {
		in.KPI = in.Kind.kpi()
		in.Start, in.End = in.Start.In(cfg.Location), in.End.In(cfg.Location)
		switch {
		case in.Kind == IncidentTrafficDrop && in.Channel == "":
			for _, st := range cfg.Stores {
				if st.ID == in.Store {
					in.Channel = Channels()[busiestChannel(&st)]
				}
			}
		case in.Kind == IncidentPriceError && in.Category == "":
			in.Category = cfg.Categories[0].Name
		}
		if in.Start.Before(cfg.Start) {
			in.Start = cfg.Start
		}
		if in.End.After(cfg.End) {
			in.End = cfg.End
		}
		if in.End.After(in.Start) {
			out = append(out, in)
		}
	}
	return out
}

func busiestChannel(st *StoreConfig) int {
	best := 0
	for ch, w := range st.ChannelMix {
		if w > st.ChannelMix[best] {
			best = ch
		}
	}
	return best
}
