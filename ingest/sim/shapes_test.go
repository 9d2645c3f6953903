package sim

import (
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// baseline is four quiet weeks of March for two flat-trend stores with every
// incident injected.
func baselineConfig(t *testing.T) Config {
	return Config{
		Seed: 11,
		Stores: []StoreConfig{
			{ID: "s001", Size: 1, ChannelMix: [4]float64{0.4, 0.2, 0.25, 0.15}},
			{ID: "s002", Size: 1.5, ChannelMix: [4]float64{0.3, 0.3, 0.2, 0.2}},
		},
		Start:     date(shanghai(t), 2026, 3, 2), // a Monday
		Days:      28,
		Weekly:    [7]float64{1.5, 0.9, 0.9, 1.0, 0.9, 1.0, 1.5},
		Incidents: IncidentKinds(),
	}
}

type window struct{ start, end time.Time }

func (w window) has(t time.Time) bool { return !t.Before(w.start) && t.Before(w.end) }

func (w window) weekEarlier() window {
	return window{w.start.AddDate(0, 0, -7), w.end.AddDate(0, 0, -7)}
}

func count(evs []Event, keep func(*Event) bool) int {
	n := 0
	for i := range evs {
		if keep(&evs[i]) {
			n++
		}
	}
	return n
}

func TestShapes(t *testing.T) {
	cfg := baselineConfig(t)
	g, evs := generate(t, cfg)
	loc := g.Config().Location
	incidents := map[IncidentKind]Incident{}
	for _, in := range g.Incidents() {
		incidents[in.Kind] = in
	}
	require.Len(t, incidents, len(IncidentKinds()))

	t.Run("weekly rhythm follows the configured shape", func(t *testing.T) {
		perDay := map[time.Weekday][]float64{}
		days := map[string]float64{}
		for i := range evs {
			if evs[i].Type == TypeSession {
				days[evs[i].Time.In(loc).Format(time.DateOnly)]++
			}
		}
		for d, n := range days {
			day, err := time.ParseInLocation(time.DateOnly, d, loc)
			require.NoError(t, err)
			perDay[day.Weekday()] = append(perDay[day.Weekday()], n)
		}
		mean := func(wds ...time.Weekday) float64 {
			var s, n float64
			for _, wd := range wds {
				for _, v := range perDay[wd] {
					s += v
					n++
				}
			}
			return s / n
		}
		// Wednesdays carry the member-day activity and Fridays another
		// factor, so compare the plain weekdays with the weekend.
		got := mean(time.Saturday, time.Sunday) / mean(time.Monday, time.Tuesday, time.Thursday)
		want := 1.5 / 0.9
		require.InDelta(t, want, got, want*0.08, "weekend/weekday sessions")
	})

	t.Run("evening busier than night", func(t *testing.T) {
		byHour := [24]int{}
		for i := range evs {
			if evs[i].Type == TypeSession {
				byHour[evs[i].Time.In(loc).Hour()]++
			}
		}
		require.Greater(t, byHour[20]+byHour[21], 5*(byHour[2]+byHour[3]))
		require.Greater(t, byHour[12], byHour[15], "lunch peak")
	})

	paid := map[string]bool{}
	orderTime := map[string]time.Time{}
	for i := range evs {
		switch evs[i].Type {
		case TypePayment:
			paid[evs[i].Order] = true
		case TypeOrder:
			orderTime[evs[i].ID] = evs[i].Time
		}
	}

	t.Run("payment outage collapses paid conversion", func(t *testing.T) {
		in := incidents[IncidentPaymentOutage]
		require.Equal(t, "payment_conversion", in.KPI)
		ratio := func(w window) (float64, int) {
			var orders, paidOrders int
			for i := range evs {
				e := &evs[i]
				if e.Type == TypeOrder && e.Store == in.Store && w.has(e.Time) {
					orders++
					if paid[e.ID] {
						paidOrders++
					}
				}
			}
			return float64(paidOrders) / float64(max(orders, 1)), orders
		}
		w := window{in.Start, in.End}
		during, n := ratio(w)
		before, m := ratio(w.weekEarlier())
		require.Greater(t, n, 3, "orders keep coming during the outage")
		require.Greater(t, m, 3)
		require.Less(t, during, 0.3)
		require.Greater(t, before, 0.75)
	})

	t.Run("traffic drop on one channel", func(t *testing.T) {
		in := incidents[IncidentTrafficDrop]
		require.NotEmpty(t, in.Channel)
		sessions := func(w window, channel string) int {
			return count(evs, func(e *Event) bool {
				return e.Type == TypeSession && e.Store == in.Store && e.Channel == channel && w.has(e.Time)
			})
		}
		w := window{in.Start, in.End}
		require.Less(t, float64(sessions(w, in.Channel)), 0.4*float64(sessions(w.weekEarlier(), in.Channel)))
		// Other channels are unaffected.
		for _, ch := range Channels() {
			if ch != in.Channel && sessions(w.weekEarlier(), ch) > 20 {
				require.Greater(t, float64(sessions(w, ch)), 0.5*float64(sessions(w.weekEarlier(), ch)), ch)
			}
		}
	})

	t.Run("refund spike", func(t *testing.T) {
		in := incidents[IncidentRefundSpike]
		refunds := func(w window) int {
			return count(evs, func(e *Event) bool { return e.Type == TypeRefund && e.Store == in.Store && w.has(e.Time) })
		}
		w := window{in.Start, in.End}
		require.GreaterOrEqual(t, refunds(w), 3*(refunds(w.weekEarlier())+1))
	})

	t.Run("silent store sends nothing", func(t *testing.T) {
		in := incidents[IncidentStoreSilent]
		w := window{in.Start, in.End}
		require.Zero(t, count(evs, func(e *Event) bool { return e.Store == in.Store && w.has(e.Time) }))
		require.Positive(t, count(evs, func(e *Event) bool { return e.Store == in.Store && w.weekEarlier().has(e.Time) }))
		after := window{in.End, in.End.Add(2 * time.Hour)}
		require.Positive(t, count(evs, func(e *Event) bool { return e.Store == in.Store && after.has(e.Time) }), "the store comes back")
	})

	t.Run("price error shows in the price index", func(t *testing.T) {
		in := incidents[IncidentPriceError]
		require.NotEmpty(t, in.Category)
		w := window{in.Start, in.End}
		var inside, outside int
		for i := range evs {
			e := &evs[i]
			if e.Type != TypePrice || e.Store != in.Store || e.Category != in.Category {
				continue
			}
			idx := e.OwnPrice / e.CompetitorPrice
			if w.has(e.Time) {
				inside++
				require.Less(t, idx, 0.2)
			} else {
				outside++
				require.Greater(t, idx, 0.7)
			}
		}
		require.Positive(t, inside)
		require.Positive(t, outside)
	})

	t.Run("refunds lag their orders by days", func(t *testing.T) {
		var lags []float64
		for i := range evs {
			e := &evs[i]
			if e.Type != TypeRefund {
				continue
			}
			ot, ok := orderTime[e.Order]
			if !ok && e.Store == incidents[IncidentStoreSilent].Store {
				continue // the order fell in the silent window and was never sent
			}
			require.True(t, ok, "refund of a known order")
			require.True(t, e.Time.After(ot))
			require.True(t, paid[e.Order], "only paid orders are refunded")
			lags = append(lags, e.Time.Sub(ot).Hours()/24)
		}
		require.Greater(t, len(lags), 50)
		slices.Sort(lags)
		median := lags[len(lags)/2]
		require.Greater(t, median, 1.0)
		require.Less(t, median, 7.0)
	})

	t.Run("payments follow orders within minutes, some never paid", func(t *testing.T) {
		var payments int
		for i := range evs {
			e := &evs[i]
			if e.Type == TypePayment && e.Store != incidents[IncidentStoreSilent].Store {
				payments++
				d := e.Time.Sub(orderTime[e.Order])
				require.Positive(t, d)
				require.Less(t, d, 30*time.Minute)
			}
		}
		orders := count(evs, func(e *Event) bool { return e.Type == TypeOrder && e.Store != incidents[IncidentStoreSilent].Store })
		require.Less(t, payments, orders)
		require.Greater(t, payments, orders*8/10)
	})

	t.Run("returning customers and repeat purchases, consistent with history", func(t *testing.T) {
		byUser := map[string][]*Event{}
		signedUp := map[string]bool{}
		var returning, orders int
		for i := range evs {
			e := &evs[i]
			switch e.Type {
			case TypeSignup:
				signedUp[e.User] = true
			case TypeOrder:
				orders++
				if e.Customer == CustomerReturning {
					returning++
				}
				byUser[e.User] = append(byUser[e.User], e)
			}
		}
		repeaters := 0
		for u, os := range byUser {
			if len(os) > 1 {
				repeaters++
			}
			if os[0].Store == incidents[IncidentStoreSilent].Store {
				continue // its history has a hole: the silent window was never sent
			}
			for k, o := range os {
				if k > 0 || signedUp[u] {
					require.Equal(t, k > 0, o.Customer == CustomerReturning, "user %s order %d", u, k)
				}
			}
		}
		require.Greater(t, returning, orders/5)
		require.Less(t, returning, orders)
		require.Greater(t, repeaters, 20)
	})

	t.Run("ids unique per type and store", func(t *testing.T) {
		seen := map[[3]string]bool{}
		for i := range evs {
			k := [3]string{evs[i].Type.String(), evs[i].Store, evs[i].ID}
			require.False(t, seen[k], "duplicate %v", k)
			seen[k] = true
		}
	})

	t.Run("tickets resolve after opening, night answers slower", func(t *testing.T) {
		opened := map[string]time.Time{}
		var resolved int
		var day, night []float64
		for i := range evs {
			e := &evs[i]
			switch {
			case e.Type == TypeTicket && e.Status == TicketOpened:
				opened[e.Order] = e.Time
			case e.Type == TypeTicket:
				if ot, ok := opened[e.Order]; ok {
					resolved++
					require.InDelta(t, e.Time.Sub(ot).Seconds(), e.ResolutionS, 1)
				}
			case e.Type == TypeConsultation:
				if h := e.Time.In(loc).Hour(); h < 9 {
					night = append(night, e.FirstResponseS)
				} else {
					day = append(day, e.FirstResponseS)
				}
			}
		}
		require.Greater(t, resolved, 10)
		slices.Sort(day)
		slices.Sort(night)
		require.Greater(t, night[len(night)/2], 3*day[len(day)/2])
	})

	t.Run("targets match the baseline", func(t *testing.T) {
		actual := map[string]float64{}
		for i := range evs {
			e := &evs[i]
			switch e.Type {
			case TypeOrder:
				actual[TargetGMV] += e.Amount
				actual[TargetOrders]++
			case TypePayment:
				actual[TargetPaidRevenue] += e.Amount
			case TypeSession:
				actual[TargetSessions]++
			case TypeSignup:
				actual[TargetNewUsers]++
			}
		}
		target := map[string]float64{}
		days := map[string]bool{}
		for _, tg := range g.Targets() {
			if tg.Store == "all" {
				target[tg.KPI] += tg.Value / targetStretch
				days[tg.Start] = true
			}
		}
		require.Len(t, days, 28)
		tol := map[string]float64{TargetSessions: 0.05, TargetOrders: 0.15, TargetGMV: 0.2, TargetPaidRevenue: 0.2, TargetNewUsers: 0.25}
		for kpi, tl := range tol {
			require.InDelta(t, 1, actual[kpi]/target[kpi], tl, kpi)
		}
	})
}

func TestCampaignPeak(t *testing.T) {
	loc := shanghai(t)
	g, evs := generate(t, Config{Seed: 5, NumStores: 2, Start: date(loc, 2026, 9, 1), Days: 16})
	gmv := map[string]float64{}
	var inCampaign, tagged int
	creatives := map[string]bool{}
	for i := range evs {
		e := &evs[i]
		d := e.Time.In(loc).Format(time.DateOnly)
		switch e.Type {
		case TypeOrder:
			gmv[d] += e.Amount
			if d >= "2026-09-03" && d < "2026-09-14" {
				inCampaign++
				if e.Campaign == "99-2026" {
					tagged++
				}
			} else {
				require.NotEqual(t, "99-2026", e.Campaign)
			}
		case TypeImpression, TypeClick, TypeSpend, TypeConversion:
			if e.Campaign == "99-2026" {
				creatives[e.Creative] = true
			}
		}
	}
	require.Equal(t, inCampaign, tagged, "orders during the campaign carry its id")
	require.Len(t, creatives, 3, "banner, push and sms")
	base := (gmv["2026-09-01"] + gmv["2026-09-14"] + gmv["2026-09-15"] + gmv["2026-09-16"]) / 4
	require.Greater(t, gmv["2026-09-09"], 3*base, "peak day GMV vs baseline")

	var ids []string
	for _, c := range g.Campaigns() {
		ids = append(ids, c.ID)
		require.NotNil(t, c.Stores)
		require.NotEmpty(t, c.Phases)
	}
	require.Contains(t, ids, "99-2026")
	require.Contains(t, ids, "wk-2026-09-02", "member day before the 99 window")
	require.NotContains(t, ids, "wk-2026-09-09", "no member day inside 99")
}

func TestCalendarPhases(t *testing.T) {
	loc := shanghai(t)
	cal := BuildCalendar(date(loc, 2026, 1, 1), date(loc, 2027, 1, 1), loc)
	byID := map[string]Campaign{}
	for _, c := range cal {
		byID[c.ID] = c
	}
	tests := []struct {
		id, phase string
		start     time.Time
	}{
		{"618-2026", PhaseWarmUp, date(loc, 2026, 5, 25)},
		{"618-2026", PhasePeak, date(loc, 2026, 6, 18)},
		{"99-2026", PhasePeak, date(loc, 2026, 9, 9)},
		{"d11-2026", PhasePreSale, date(loc, 2026, 10, 24).Add(20 * time.Hour)},
		{"d11-2026", PhasePeak, date(loc, 2026, 11, 11)},
		{"d11-2026", PhaseAfterSales, date(loc, 2026, 11, 12)},
	}
	for _, tc := range tests {
		t.Run(tc.id+" "+tc.phase, func(t *testing.T) {
			c, ok := byID[tc.id]
			require.True(t, ok)
			i := slices.IndexFunc(c.Phases, func(p Phase) bool { return p.Name == tc.phase })
			require.GreaterOrEqual(t, i, 0)
			require.True(t, tc.start.Equal(c.Phases[i].Start), "%s starts %s", tc.phase, c.Phases[i].Start)
		})
	}
	weekly := 0
	for _, c := range cal {
		if c.Kind == KindWeekly {
			weekly++
			require.Equal(t, time.Wednesday, c.Phases[0].Start.Weekday())
		}
	}
	require.Greater(t, weekly, 40)
}

func TestLifecycleVisibleInCategorySales(t *testing.T) {
	loc := shanghai(t)
	g, evs := generate(t, Config{
		Seed: 9, Stores: []StoreConfig{{ID: "s001", Size: 1, ChannelMix: [4]float64{1, 1, 1, 1}}},
		Start: date(loc, 2026, 1, 5), Days: 240, Scale: 0.2,
	})
	first, last := window{date(loc, 2026, 1, 5), date(loc, 2026, 2, 4)}, window{date(loc, 2026, 8, 2), date(loc, 2026, 9, 1)}
	share := func(w window) map[string]float64 {
		m := map[string]float64{}
		var total float64
		for i := range evs {
			if evs[i].Type == TypeSession && w.has(evs[i].Time) {
				m[evs[i].Category]++
				total++
			}
		}
		for k := range m {
			m[k] /= total
		}
		return m
	}
	a, b := share(first), share(last)
	seen := map[stage]bool{}
	for c, st := range g.stages {
		name := g.catNames[c]
		growth := b[name] / a[name]
		seen[st] = true
		switch st {
		case stageIntroduction:
			require.Greater(t, growth, 2.0, "%s %s", st, name)
		case stageGrowth:
			require.Greater(t, growth, 1.2, "%s %s", st, name)
		case stageMaturity:
			require.InDelta(t, 0.8, growth, 0.3, "%s %s", st, name)
		case stageDecline:
			require.Less(t, growth, 0.75, "%s %s", st, name)
		}
	}
	require.Len(t, seen, 4, "every life-cycle stage present")
}

func TestConfigValidation(t *testing.T) {
	loc := shanghai(t)
	start := date(loc, 2026, 1, 1)
	tests := []struct {
		name string
		cfg  Config
		ok   bool
	}{
		{"defaults", Config{Start: start, Days: 1}, true},
		{"too many stores", Config{Start: start, Days: 1, NumStores: 101}, false},
		{"no start", Config{Days: 1}, false},
		{"no length", Config{Start: start}, false},
		{"end before start", Config{Start: start, End: start.Add(-time.Hour)}, false},
		{"bad incident", Config{Start: start, Days: 1, Incidents: []IncidentKind{"meteor"}}, false},
		{"duplicate store", Config{Start: start, Days: 1, Stores: []StoreConfig{{ID: "a", Size: 1, ChannelMix: [4]float64{1}}, {ID: "a", Size: 1, ChannelMix: [4]float64{1}}}}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.cfg)
			if tc.ok {
				require.NoError(t, err)
			} else {
				require.Error(t, err)
			}
		})
	}
}

func TestParseIncidents(t *testing.T) {
	tests := []struct {
		in   string
		want []IncidentKind
		ok   bool
	}{
		{"none", nil, true},
		{"all", IncidentKinds(), true},
		{"refund_spike, refund_spike", []IncidentKind{IncidentRefundSpike, IncidentRefundSpike}, true},
		{"all,service_backlog", append(IncidentKinds(), IncidentServiceBacklog), true},
		{"checkout_failure", []IncidentKind{IncidentCheckoutFailure}, true},
		{"outage", nil, false},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseIncidents(tc.in)
			if !tc.ok {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}
