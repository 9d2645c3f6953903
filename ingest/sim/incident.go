package sim

import (
	"fmt"
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
)

// IncidentKinds lists every incident kind.
func IncidentKinds() []IncidentKind {
	return []IncidentKind{IncidentPaymentOutage, IncidentTrafficDrop, IncidentRefundSpike, IncidentStoreSilent, IncidentPriceError}
}

// ParseIncidents parses a comma-separated list of kinds, "all" or "none".
func ParseIncidents(s string) ([]IncidentKind, error) {
	s = strings.TrimSpace(s)
	switch s {
	case "", "none":
		return nil, nil
	case "all":
		return IncidentKinds(), nil
	}
	var out []IncidentKind
	for _, p := range strings.Split(s, ",") {
		k := IncidentKind(strings.TrimSpace(p))
		if !k.valid() {
			return nil, fmt.Errorf("sim: unknown incident kind %q (want all, none or a list of %v)", k, IncidentKinds())
		}
		out = append(out, k)
	}
	return out, nil
}

func (k IncidentKind) valid() bool {
	for _, v := range IncidentKinds() {
		if v == k {
			return true
		}
	}
	return false
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
	case IncidentStoreSilent:
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
// week apart, as another incident.
func placeIncidents(cfg *Config) []Incident {
	if len(cfg.Incidents) == 0 {
		return nil
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
			best := 0
			for ch, w := range st.ChannelMix {
				if w > st.ChannelMix[best] {
					best = ch
				}
			}
			in.Channel = Channels()[best]
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
	return out
}
