package systemtest

import (
	"encoding/base64"
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/axiomhq/hyperloglog"
	"github.com/stretchr/testify/require"

	"github.com/storepulse/storepulse/internal/influxtest"
)

// ev is an event exactly as a client sends it.
type ev map[string]any

// genEvents makes n deterministic events of every type over the last hours.
// Ids are prefix-unique so several generators can run side by side.
func genEvents(seed uint64, prefix string, n int, now time.Time) []ev {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	stores := []string{"s1", "s2", "s3"}
	channels := []string{"app", "web", "miniprogram"}
	cats := []string{"shoes", "bags", "toys"}
	out := make([]ev, 0, n)
	for i := 0; i < n; i++ {
		// Spread over the last 6 hours, in several time zones' notation.
		t := now.Add(-time.Duration(rng.Int64N(int64(6 * time.Hour))))
		zone := time.FixedZone("", []int{0, 8 * 3600, -5 * 3600}[rng.IntN(3)])
		e := ev{
			"id":    fmt.Sprintf("%s-%d", prefix, i),
			"time":  t.In(zone).Format(time.RFC3339Nano),
			"store": stores[rng.IntN(len(stores))],
		}
		if rng.IntN(4) == 0 {
			e["time"] = t.UnixMilli() // unix ms form
		}
		user := fmt.Sprintf("u%d", rng.IntN(400))
		amount := math.Round(rng.Float64()*50000) / 100
		switch k := rng.IntN(11); k {
		case 0:
			e["type"], e["user"], e["channel"] = "signup", user, channels[rng.IntN(3)]
		case 1, 2:
			e["type"], e["visitor"], e["page_views"], e["duration_s"] = "session", fmt.Sprintf("v%d", rng.IntN(900)), rng.IntN(30), rng.IntN(900)
			e["channel"], e["added_to_cart"] = channels[rng.IntN(3)], rng.IntN(3) == 0
			if rng.IntN(2) == 0 {
				e["user"] = user
			}
		case 3:
			e["type"], e["user"], e["amount"], e["items"] = "order", user, amount, 1+rng.IntN(4)
			e["customer"] = []string{"new", "returning"}[rng.IntN(2)]
			e["channel"], e["category"] = channels[rng.IntN(3)], cats[rng.IntN(3)]
		case 4:
			e["type"], e["order"], e["amount"], e["user"] = "payment", fmt.Sprintf("o%d", i), amount, user
		case 5:
			e["type"], e["order"], e["amount"], e["reason"] = "refund", fmt.Sprintf("o%d", i), amount/4, []string{"damaged", "size", "late"}[rng.IntN(3)]
		case 6:
			e["type"], e["user"], e["first_response_s"], e["converted"] = "consultation", user, rng.IntN(120), rng.IntN(3) == 0
		case 7:
			e["type"], e["status"] = "ticket", "opened"
			if rng.IntN(2) == 0 {
				e["status"], e["resolution_s"] = "resolved", rng.IntN(86400)
			}
		case 8:
			e["type"], e["campaign"], e["creative"], e["count"] = "impression", "d11", []string{"banner", "push", "sms"}[rng.IntN(3)], 1+rng.IntN(100)
		case 9:
			e["type"], e["campaign"], e["amount"] = "spend", "d11", amount
		case 10:
			e["type"], e["category"], e["competitor"], e["own_price"], e["competitor_price"] = "price", cats[rng.IntN(3)], "rival", 10+amount, 11+amount
		}
		out = append(out, e)
	}
	return out
}

func num(v any) float64 {
	switch x := v.(type) {
	case int:
		return float64(x)
	case float64:
		return x
	case bool:
		if x {
			return 1
		}
	}
	return 0
}

// expectedSums is the independent count: store -> "measurement.field" -> sum,
// straight from the events as sent, following the KPI glossary.
func expectedSums(events []ev) map[string]map[string]float64 {
	out := map[string]map[string]float64{}
	add := func(store, key string, v float64) {
		if out[store] == nil {
			out[store] = map[string]float64{}
		}
		out[store][key] += v
	}
	for _, e := range events {
		s := e["store"].(string)
		add(s, "sp_ingest.events", 1)
		switch e["type"] {
		case "signup":
			add(s, "sp_users.signups", 1)
		case "session":
			add(s, "sp_traffic.sessions", 1)
			add(s, "sp_traffic.page_views", num(e["page_views"]))
			add(s, "sp_traffic.session_duration_s", num(e["duration_s"]))
			add(s, "sp_traffic.cart_sessions", num(e["added_to_cart"]))
		case "order":
			add(s, "sp_orders.orders", 1)
			add(s, "sp_orders.gmv", num(e["amount"]))
			add(s, "sp_orders.items", num(e["items"]))
		case "payment":
			add(s, "sp_payments.paid_orders", 1)
			add(s, "sp_payments.paid_amount", num(e["amount"]))
		case "refund":
			add(s, "sp_refunds.refunds", 1)
			add(s, "sp_refunds.refund_amount", num(e["amount"]))
		case "consultation":
			add(s, "sp_service.consultations", 1)
			add(s, "sp_service.consultations_converted", num(e["converted"]))
			add(s, "sp_service.first_response_s", num(e["first_response_s"]))
		case "ticket":
			if e["status"] == "opened" {
				add(s, "sp_tickets.tickets_opened", 1)
			} else {
				add(s, "sp_tickets.tickets_resolved", 1)
				add(s, "sp_tickets.resolution_s", num(e["resolution_s"]))
			}
		case "impression":
			add(s, "sp_marketing.impressions", num(e["count"]))
		case "spend":
			add(s, "sp_marketing.spend", num(e["amount"]))
		case "price":
			add(s, "sp_prices.price_observations", 1)
			add(s, "sp_prices.own_price", num(e["own_price"]))
			add(s, "sp_prices.competitor_price", num(e["competitor_price"]))
		}
	}
	return out
}

// storedSums reads the same shape back from InfluxDB: every point of every
// window summed per store, measurement and field.
func storedSums(t testing.TB, db *influxtest.Server) map[string]map[string]float64 {
	rows := fluxTable(t, db, fmt.Sprintf(`from(bucket: %q)
  |> `+fluxRange(30*24*time.Hour)+`
  |> filter(fn: (r) => r._measurement != "sp_distinct" and r._measurement != "sp_distinct_store" and r._measurement != "sp_campaign" and r._measurement != "sp_target" and r._measurement != "sp_late" and r._measurement !~ /_1[hd](_store)?$/)
  |> group(columns: ["_measurement", "_field", "store"])
  |> sum()`, db.Bucket))
	out := map[string]map[string]float64{}
	for _, r := range rows {
		v, err := strconv.ParseFloat(r["_value"], 64)
		require.NoError(t, err, "row %v", r)
		if out[r["store"]] == nil {
			out[r["store"]] = map[string]float64{}
		}
		out[r["store"]][r["_measurement"]+"."+r["_field"]] = v
	}
	return out
}

// requireSums compares expected and stored sums, exactly up to float rounding.
func requireSums(t testing.TB, want, got map[string]map[string]float64) {
	t.Helper()
	require.Equal(t, sortedKeys(want), sortedKeys(got), "stores")
	for store, fields := range want {
		for k, w := range fields {
			g, ok := got[store][k]
			require.True(t, ok, "store %s: %s missing from InfluxDB", store, k)
			require.InDelta(t, w, g, 1e-6*math.Max(1, math.Abs(w)), "store %s: %s", store, k)
		}
	}
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// storedDistinct merges every stored sketch of kind per store (all windows of
// one grain, all channels, all ingesters) and returns the estimates.
func storedDistinct(t testing.TB, db *influxtest.Server, kind, window string) map[string]uint64 {
	return storedDistinctIn(t, db, "sp_distinct", kind, window)
}

// storedDistinctIn is storedDistinct reading measurement meas (sp_distinct
// or the store-level sp_distinct_store).
func storedDistinctIn(t testing.TB, db *influxtest.Server, meas, kind, window string) map[string]uint64 {
	rows := fluxTable(t, db, fmt.Sprintf(`from(bucket: %q)
  |> `+fluxRange(30*24*time.Hour)+`
  |> filter(fn: (r) => r._measurement == %q and r._field == "sketch" and r.kind == %q and r.window == %q)`,
		db.Bucket, meas, kind, window))
	merged := map[string]*hyperloglog.Sketch{}
	for _, r := range rows {
		raw, err := base64.StdEncoding.DecodeString(r["_value"])
		require.NoError(t, err)
		sk := hyperloglog.New14()
		require.NoError(t, sk.UnmarshalBinary(raw))
		if merged[r["store"]] == nil {
			merged[r["store"]] = hyperloglog.New14()
		}
		require.NoError(t, merged[r["store"]].Merge(sk))
	}
	out := map[string]uint64{}
	for s, sk := range merged {
		out[s] = sk.Estimate()
	}
	return out
}

// requireStoreSketches: the store-level sketches of kind hold, per store,
// exactly the ids of the detailed ones (the same estimate), in both windows.
func requireStoreSketches(t testing.TB, db *influxtest.Server, kind string) {
	t.Helper()
	for _, window := range []string{"1h", "1d"} {
		detailed := storedDistinct(t, db, kind, window)
		require.NotEmpty(t, detailed)
		require.Equal(t, detailed, storedDistinctIn(t, db, "sp_distinct_store", kind, window), "%s sketches, window %s", kind, window)
	}
}

func expectedDistinct(events []ev, typ, field string) map[string]int {
	sets := map[string]map[string]bool{}
	for _, e := range events {
		if e["type"] != typ {
			continue
		}
		v, ok := e[field].(string)
		if !ok {
			continue
		}
		s := e["store"].(string)
		if sets[s] == nil {
			sets[s] = map[string]bool{}
		}
		sets[s][v] = true
	}
	out := map[string]int{}
	for s, set := range sets {
		out[s] = len(set)
	}
	return out
}
