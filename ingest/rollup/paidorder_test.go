package rollup

import (
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/storepulse/storepulse/ingest/event"
	"github.com/storepulse/storepulse/internal/schema"
)

// TestSplitPaymentsAreOnePaidOrder: an order paid in several parts (voucher
// plus card) feeds the paid_order sketch once, by its order id; every part
// still counts as a payment event and adds its amount.
func TestSplitPaymentsAreOnePaidOrder(t *testing.T) {
	next := t0 + ts("2026-11-24T11:00:00Z") - ts("2026-11-24T10:00:00Z") // the next hour, same Shanghai day
	pay := func(id, order string, at int64, amount float64) event.Event {
		return event.Event{Type: event.TypePayment, ID: id, Time: at, Store: "s1", Channel: "app", User: "u1", Order: order, Amount: amount}
	}
	events := []event.Event{
		pay("p1-voucher", "o1", t0, 50), pay("p1-card", "o1", t0, 349), // o1 in two parts
		pay("p2", "o2", t0, 10),
		pay("p3-voucher", "o3", t0, 5), pay("p3-card", "o3", next, 95), // o3's parts in two hours
	}
	r := newTestRollup(t, nil)
	ls := lines(t, r, 7, event.Batch{Events: events})
	// The second hour's sketches: o3 alone (its card part), checked apart.
	secondHour := " " + strconv.FormatInt(ts("2026-11-24T11:00:00Z"), 10)
	var first, second []string
	for _, l := range only(ls, schema.MeasDistinct) {
		if strings.HasSuffix(l, secondHour) {
			second = append(second, l)
		} else {
			first = append(first, l)
		}
	}
	got := parseSketchLines(t, first)
	for name, n := range map[string]float64{
		"paid_order/1h/s1/app/": 3, // o1, o2, o3 in the first hour
		"paid_order/1d/s1/app/": 3, // and once in the day
		"payer/1d/s1/app/":      1,
	} {
		g, ok := got[name]
		require.True(t, ok, "missing sketch %s", name)
		require.InDelta(t, n, g.estimate, 0, name)
	}
	require.InDelta(t, 1, parseSketchLines(t, second)["paid_order/1h/s1/app/"].estimate, 0)
	// Payment events and amounts: each part counts.
	events5, amount := 0.0, 0.0
	for _, l := range only(ls, schema.MeasPayments) {
		for _, f := range strings.Split(strings.Fields(l)[1], ",") {
			k, v, _ := strings.Cut(f, "=")
			x, err := strconv.ParseFloat(v, 64)
			require.NoError(t, err, l)
			switch k {
			case schema.FieldPaidOrders:
				events5 += x
			case schema.FieldPaidAmount:
				amount += x
			}
		}
	}
	require.InDelta(t, 5.0, events5, 0)
	require.InDelta(t, 509.0, amount, 1e-9)
}
