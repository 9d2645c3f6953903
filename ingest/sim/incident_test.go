package sim

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestPlannedIncidents(t *testing.T) {
	cfg := baselineConfig(t)
	cfg.Days = 14
	cfg.Incidents = nil
	day9 := cfg.Start.AddDate(0, 0, 9) // a Wednesday: the member day's activity runs both weeks
	cfg.IncidentPlan = []Incident{
		{Store: "s001", Kind: IncidentCheckoutFailure, Start: day9.Add(10 * time.Hour), End: day9.Add(14 * time.Hour)},
		{Store: "s002", Kind: IncidentServiceBacklog, Start: day9.Add(11 * time.Hour), End: day9.Add(15 * time.Hour)},
		{Store: "s001", Kind: IncidentTrafficDrop, Start: day9.Add(30 * time.Hour), End: day9.Add(32 * time.Hour)},
	}
	g, evs := generate(t, cfg)

	got := g.Incidents()
	require.Len(t, got, 3)
	require.Equal(t, "order_conversion_rate", got[0].KPI)
	require.Equal(t, "first_response_time", got[1].KPI)
	require.Equal(t, ChannelApp, got[2].Channel, "a planned traffic drop hits the store's busiest channel")

	t.Run("checkout failure: carts fill, orders collapse", func(t *testing.T) {
		in := got[0]
		w := window{in.Start, in.End}
		n := func(typ Type, w window) float64 {
			return float64(count(evs, func(e *Event) bool { return e.Type == typ && e.Store == in.Store && w.has(e.Time) }))
		}
		during := n(TypeOrder, w) / n(TypeSession, w)
		before := n(TypeOrder, w.weekEarlier()) / n(TypeSession, w.weekEarlier())
		require.Less(t, during, 0.2*before, "orders per session %.4f during, %.4f a week earlier", during, before)
		carts := func(w window) float64 {
			return float64(count(evs, func(e *Event) bool {
				return e.Type == TypeSession && e.AddedToCart && e.Store == in.Store && w.has(e.Time)
			})) / n(TypeSession, w)
		}
		require.InDelta(t, carts(w.weekEarlier()), carts(w), 0.05, "add-to-cart is unaffected")
	})

	t.Run("service backlog: first responses balloon", func(t *testing.T) {
		in := got[1]
		mean := func(w window) float64 {
			var s, n float64
			for i := range evs {
				if e := &evs[i]; e.Type == TypeConsultation && e.Store == in.Store && w.has(e.Time) {
					s += e.FirstResponseS
					n++
				}
			}
			require.Positive(t, n)
			return s / n
		}
		w := window{in.Start, in.End}
		require.Greater(t, mean(w), 5*mean(w.weekEarlier()))
	})
}

func TestPlannedIncidentValidation(t *testing.T) {
	start := date(shanghai(t), 2026, 3, 2)
	tests := []struct {
		name string
		plan Incident
	}{
		{"unknown store", Incident{Store: "s999", Kind: IncidentServiceBacklog, Start: start, End: start.Add(time.Hour)}},
		{"unknown kind", Incident{Store: "s001", Kind: "meteor", Start: start, End: start.Add(time.Hour)}},
		{"empty span", Incident{Store: "s001", Kind: IncidentStoreSilent, Start: start, End: start}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(Config{Start: start, Days: 1, IncidentPlan: []Incident{tc.plan}})
			require.Error(t, err)
		})
	}
}
