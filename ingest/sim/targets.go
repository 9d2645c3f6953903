package sim

import (
	"math"
	"time"
)

// Target is one KPI target (PUT /v1/targets).
type Target struct {
	KPI    string  `json:"kpi"`
	Store  string  `json:"store"`  // a store id or "all"
	Period string  `json:"period"` // day | week | month
	Start  string  `json:"start"`  // local date of the period's start
	Value  float64 `json:"value"`
}

// Target KPIs generated per store and day.
const (
	TargetGMV         = "gmv"
	TargetOrders      = "orders"
	TargetPaidRevenue = "paid_revenue"
	TargetSessions    = "sessions"
	TargetNewUsers    = "new_users"
)

// targetStretch is how far above the expected baseline targets are set.
const targetStretch = 1.05

// Targets returns daily targets per store and for "all" stores for every
// local day touched by the simulated range: the model's expected value
// (rhythm, trend, life cycles and planned campaigns, but no incidents, which
// nobody plans) times a small stretch.
func (g *Generator) Targets() []Target {
	kpis := []string{TargetGMV, TargetOrders, TargetPaidRevenue, TargetSessions, TargetNewUsers}
	loc := g.cfg.Location
	first := time.Date(g.cfg.Start.Year(), g.cfg.Start.Month(), g.cfg.Start.Day(), 0, 0, 0, 0, loc)
	last := g.cfg.End.Add(-time.Nanosecond).In(loc)
	w := make([]float64, len(g.cfg.Categories))
	var out []Target
	for day := first; !day.After(last); day = day.AddDate(0, 0, 1) {
		dayIdx := civilDay(day) - g.startDay
		all := make([]float64, len(kpis))
		for _, st := range g.stores {
			v := g.expectedDay(st, day, dayIdx, w)
			for k := range kpis {
				all[k] += v[k]
				out = append(out, Target{KPI: kpis[k], Store: st.cfg.ID, Period: "day", Start: day.Format(time.DateOnly), Value: roundTarget(v[k])})
			}
		}
		for k := range kpis {
			out = append(out, Target{KPI: kpis[k], Store: "all", Period: "day", Start: day.Format(time.DateOnly), Value: roundTarget(all[k])})
		}
	}
	return out
}

func roundTarget(v float64) float64 { return math.Round(v * targetStretch) }

// expectedDay mirrors the generator's rates in expectation: gmv, orders,
// paid revenue, sessions, new users.
func (g *Generator) expectedDay(st *storeState, day time.Time, dayIdx int, w []float64) []float64 {
	g.categoryWeights(st, dayIdx, w)
	var wSum, unit float64
	for c, cat := range g.cfg.Categories {
		wSum += w[c]
		unit += w[c] * cat.BasePrice * st.priceFactor[c]
	}
	unit /= wSum
	const meanItems = (1 - 0.35*0.35*0.35*0.35*0.35*0.35) / (1 - 0.35)
	lognormalMean := math.Exp(0.3 * 0.3 / 2)
	// Known users can be drawn only while not churned; about one pick in ten
	// falls back to an anonymous session.
	const knownShare = pLoggedIn * 0.9
	var sessions, orders, gmv, signups float64
	for h := 0; h < 24; h++ {
		t := day.Add(time.Duration(h) * time.Hour)
		lt := t.In(g.cfg.Location)
		hc := hourCtx{start: t, hour: lt.Hour(), dow: lt.Weekday(), day: dayIdx, ph: g.phaseAt(t)}
		rate := g.sessionRate(st, &hc)
		e := hc.ph.eff
		conv := math.Min(pCart*e.Cart, 0.95) * math.Min(pOrderFromCart*e.Conv, 0.95)
		o := rate*conv + rate*consultPerSess*0.9*math.Min(pConsultConvert*e.Conv, 0.9)
		sessions += rate
		orders += o
		gmv += o * meanItems * unit * lognormalMean * e.AOV
		signups += rate * (1 - knownShare) * (conv + (1-conv)*pAnonSignup)
	}
	return []float64{gmv, orders, gmv * pPaid, sessions, signups}
}
