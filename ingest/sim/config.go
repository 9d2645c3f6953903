// Package sim generates realistic, deterministic e-commerce store events for
// StorePulse: traffic, the order funnel, after-sales, customer service,
// marketing and competitor prices, shaped by daily and weekly rhythm, product
// life cycles and the promotion calendar, with injected incidents whose ground
// truth is written as labels. It also sends them to the ingest HTTP API.
package sim

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"time"
)

// Channel names, in the order of StoreConfig.ChannelMix.
const (
	ChannelApp         = "app"
	ChannelWeb         = "web"
	ChannelMiniprogram = "miniprogram"
	ChannelMarketplace = "marketplace"
)

// Channels lists the sales channels in ChannelMix order.
func Channels() []string {
	return []string{ChannelApp, ChannelWeb, ChannelMiniprogram, ChannelMarketplace}
}

const numChannels = 4

// Limits on the configuration.
const (
	MaxStores = 100
	// BaseSessionsPerDay is the session volume of a size-1 store on an average
	// day at scale 1; every other volume follows from it through the funnel.
	BaseSessionsPerDay = 1400.0
)

// StoreConfig describes one simulated store.
type StoreConfig struct {
	ID string
	// Size scales the store's traffic; 1 is a typical store.
	Size float64
	// ChannelMix weights app, web, miniprogram and marketplace traffic.
	ChannelMix [numChannels]float64
	// Growth is the annual traffic trend: 0.3 grows 30% a year, -0.2 declines.
	Growth float64
}

// Category is a product category with its commercial characteristics.
type Category struct {
	Name       string
	BasePrice  float64 // typical unit price
	RefundRate float64 // share of paid orders refunded on a normal day
	Share      float64 // relative share of traffic at maturity
}

// DefaultCategories is a department-store mix of twelve categories.
func DefaultCategories() []Category {
	return []Category{
		{"apparel", 189, 0.12, 1.4},
		{"shoes", 329, 0.09, 0.8},
		{"beauty", 159, 0.05, 1.2},
		{"personal_care", 69, 0.03, 0.9},
		{"baby", 139, 0.04, 0.7},
		{"food", 59, 0.02, 1.1},
		{"home", 119, 0.04, 0.8},
		{"kitchen", 99, 0.04, 0.6},
		{"electronics", 899, 0.05, 0.7},
		{"appliances", 1299, 0.04, 0.4},
		{"sports", 249, 0.06, 0.6},
		{"pets", 89, 0.03, 0.5},
	}
}

// DefaultWeekly is the default weekly traffic shape, Sunday first (as
// time.Weekday): weekends are busier than weekdays, Monday is the quietest.
func DefaultWeekly() [7]float64 {
	return [7]float64{1.22, 0.92, 0.95, 0.97, 0.98, 1.04, 1.28}
}

// Config configures a Generator. Zero values take defaults (see Normalize).
type Config struct {
	Seed uint64
	// Stores lists the stores explicitly; if empty, NumStores stores are
	// derived from the seed.
	Stores    []StoreConfig
	NumStores int
	// Categories defaults to DefaultCategories.
	Categories []Category
	// Start is the first simulated instant; it is truncated to the hour in
	// Location. End, if set, is the exclusive end; otherwise Start + Days.
	Start time.Time
	Days  int
	End   time.Time
	// Location is the stores' time zone (default Asia/Shanghai): daily rhythm,
	// calendar and targets follow its local time.
	Location *time.Location
	// Scale multiplies all traffic-driven volumes (default 1).
	Scale float64
	// Weekly is the traffic factor per weekday, Sunday first.
	Weekly [7]float64
	// Incidents lists the incidents to inject, each once; repeat a kind to
	// inject it several times. Nil injects none.
	Incidents []IncidentKind
	// IncidentPlan places incidents where the caller wants them (Store,
	// Kind, Start, End; Channel and Category optional), after the randomly
	// placed Incidents: tests of alert rules need an incident at a known
	// store and time, with clean weeks around it.
	IncidentPlan []Incident
}

// Normalize fills defaults and validates the configuration.
func (c Config) Normalize() (Config, error) {
	if c.Location == nil {
		loc, err := time.LoadLocation("Asia/Shanghai")
		if err != nil {
			return c, fmt.Errorf("sim: load default time zone: %w", err)
		}
		c.Location = loc
	}
	if c.Scale == 0 {
		c.Scale = 1
	}
	if c.Scale < 0 || math.IsNaN(c.Scale) || math.IsInf(c.Scale, 0) {
		return c, fmt.Errorf("sim: scale %v must be positive", c.Scale)
	}
	if c.Weekly == ([7]float64{}) {
		c.Weekly = DefaultWeekly()
	}
	for _, w := range c.Weekly {
		if w <= 0 {
			return c, errors.New("sim: weekly factors must be positive")
		}
	}
	if len(c.Categories) == 0 {
		c.Categories = DefaultCategories()
	}
	seen := map[string]bool{}
	for _, cat := range c.Categories {
		if cat.Name == "" || seen[cat.Name] || cat.BasePrice <= 0 || cat.Share <= 0 || cat.RefundRate < 0 || cat.RefundRate >= 1 {
			return c, fmt.Errorf("sim: invalid or duplicate category %+v", cat)
		}
		seen[cat.Name] = true
	}
	if len(c.Stores) == 0 {
		if c.NumStores == 0 {
			c.NumStores = 1
		}
		if c.NumStores < 1 || c.NumStores > MaxStores {
			return c, fmt.Errorf("sim: stores %d out of range 1..%d", c.NumStores, MaxStores)
		}
		c.Stores = DeriveStores(c.Seed, c.NumStores)
	}
	if len(c.Stores) > MaxStores {
		return c, fmt.Errorf("sim: %d stores, at most %d", len(c.Stores), MaxStores)
	}
	clear(seen)
	for _, s := range c.Stores {
		var mix float64
		for _, m := range s.ChannelMix {
			if m < 0 {
				return c, fmt.Errorf("sim: store %s: negative channel weight", s.ID)
			}
			mix += m
		}
		if s.ID == "" || seen[s.ID] || s.Size <= 0 || mix <= 0 {
			return c, fmt.Errorf("sim: invalid or duplicate store %+v", s)
		}
		seen[s.ID] = true
	}
	c.NumStores = len(c.Stores)
	if c.Start.IsZero() {
		return c, errors.New("sim: start is required")
	}
	c.Start = truncateHour(c.Start.In(c.Location))
	switch {
	case !c.End.IsZero():
		c.End = c.End.In(c.Location)
	case c.Days > 0:
		c.End = c.Start.AddDate(0, 0, c.Days)
	default:
		return c, errors.New("sim: days or end is required")
	}
	if !c.End.After(c.Start) {
		return c, errors.New("sim: end must be after start")
	}
	for _, k := range c.Incidents {
		if !k.valid() {
			return c, fmt.Errorf("sim: unknown incident kind %q", k)
		}
	}
	for _, in := range c.IncidentPlan {
		if !in.Kind.valid() {
			return c, fmt.Errorf("sim: planned incident: unknown kind %q", in.Kind)
		}
		if !seen[in.Store] {
			return c, fmt.Errorf("sim: planned %s incident: unknown store %q", in.Kind, in.Store)
		}
		if !in.End.After(in.Start) {
			return c, fmt.Errorf("sim: planned %s incident at %s: end must be after start", in.Kind, in.Store)
		}
	}
	return c, nil
}

// DeriveStores returns n stores ("s001", ...) with sizes, channel mixes and
// trends drawn deterministically from seed.
func DeriveStores(seed uint64, n int) []StoreConfig {
	rng := newRNG(seed, saltStores, 0)
	base := [numChannels]float64{0.40, 0.20, 0.25, 0.15}
	out := make([]StoreConfig, n)
	for i := range out {
		size := math.Exp(rng.NormFloat64() * 0.5)
		size = math.Round(clamp(size, 0.25, 3)*100) / 100
		var mix [numChannels]float64
		for ch := range mix {
			mix[ch] = math.Round(base[ch]*(0.4+1.2*rng.Float64())*100) / 100
		}
		// Some stores sell only on a marketplace or only on their own app.
		switch p := rng.Float64(); {
		case p < 0.06:
			mix = [numChannels]float64{0, 0, 0, 1}
		case p < 0.1:
			mix = [numChannels]float64{1, 0, 0, 0}
		}
		out[i] = StoreConfig{
			ID:         fmt.Sprintf("s%03d", i+1),
			Size:       size,
			ChannelMix: mix,
			Growth:     math.Round((-0.25+0.85*rng.Float64())*100) / 100,
		}
	}
	return out
}

// Salts separate the random streams so that adding draws to one part of the
// model never changes another.
const (
	saltStores uint64 = 0x5707e5 + iota<<40
	saltHour
	saltIncidents
	saltPrices
	saltLifecycle
	saltStoreInit
)

func newRNG(seed, salt, stream uint64) *rand.Rand {
	//nolint:gosec // deterministic simulation, not security
	return rand.New(rand.NewPCG(seed^salt, stream*0x9e3779b97f4a7c15+salt))
}

func truncateHour(t time.Time) time.Time {
	return time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), 0, 0, 0, t.Location())
}

func clamp(v, lo, hi float64) float64 { return math.Max(lo, math.Min(hi, v)) }

// stream turns a non-negative index into a PCG stream number.
func stream(i int) uint64 {
	if i < 0 {
		return 0
	}
	return uint64(i)
}
