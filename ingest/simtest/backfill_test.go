package simtest

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/storepulse/storepulse/ingest/sim"
	"github.com/storepulse/storepulse/internal/influxtest"
	"github.com/storepulse/storepulse/internal/ingesttest"
	"github.com/storepulse/storepulse/internal/testclock"
)

// dayTotals is store -> UTC day (YYYY-MM-DD) -> "measurement.field" -> sum.
type dayTotals map[string]map[string]map[string]float64

func (d dayTotals) add(store, day, key string, v float64) {
	if d[store] == nil {
		d[store] = map[string]map[string]float64{}
	}
	if d[store][day] == nil {
		d[store][day] = map[string]float64{}
	}
	d[store][day][key] += v
}

// simConfig is the run under test: 3 stores, 7 whole days ending at most at
// the current hour, so that no event lies in the future.
func simConfig(t *testing.T, now time.Time) sim.Config {
	loc, err := time.LoadLocation("Asia/Shanghai")
	require.NoError(t, err)
	start := now.In(loc).Add(-7 * 24 * time.Hour).Truncate(time.Hour)
	return sim.Config{Seed: 7, NumStores: 3, Days: 7, Start: start, Location: loc,
		Incidents: sim.IncidentKinds(), Scale: 1}
}

// TestBackfillMatchesFileOutput sends a 7-day, 3-store simulation through the
// real ingest service with the simulator's own Backfill runner and client
// (the code path of `storepulse-sim backfill`), then requires that the stored
// per-store, per-UTC-day sums equal totals computed from the file-mode NDJSON
// of the same config, and that the calendar reads back as it was put.
func TestBackfillMatchesFileOutput(t *testing.T) {
	db := influxtest.Start(t)
	// The oldest event is 7 days old: a 240h horizon accepts all of them.
	in := ingesttest.Start(t, binary, db, ingesttest.Options{LateHorizon: 240 * time.Hour, Ingester: "simtest"})

	cfg := simConfig(t, testclock.Now())
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	// File mode output, generated separately from the same config and seed.
	fileGen, err := sim.New(cfg)
	require.NoError(t, err)
	ndjson := filepath.Join(t.TempDir(), "events.ndjson")
	f, err := os.Create(ndjson)
	require.NoError(t, err)
	written, err := fileGen.WriteAll(ctx, f, nil)
	require.NoError(t, err)
	require.NoError(t, f.Close())
	want, count, last := totalsFromNDJSON(t, ndjson)
	require.Equal(t, written, count, "NDJSON lines")
	require.Len(t, want, 3, "stores in the file")
	require.False(t, last.After(testclock.Now()), "an event lies in the future: %s", last)
	t.Logf("file: %d events, last at %s", count, last)

	// Backfill through the HTTP API.
	g, err := sim.New(cfg)
	require.NoError(t, err)
	campaigns := g.Campaigns()
	require.NotEmpty(t, campaigns, "the simulated week should carry at least one campaign")
	c, err := sim.NewClient(sim.ClientOptions{URL: in.URL, Token: testToken, Timeout: 30 * time.Second})
	require.NoError(t, err)
	began := time.Now()
	st, err := sim.Backfill(ctx, g, c, sim.BackfillOptions{Concurrency: 2})
	require.NoError(t, err)
	t.Logf("backfill: %+v in %s", st, time.Since(began).Round(time.Millisecond))
	require.Equal(t, count, st.Events, "events sent vs events in the file")
	require.Equal(t, count, st.Accepted, "every event accepted once")
	require.Zero(t, st.Duplicates)

	in.WaitDrained(2 * time.Minute)
	got := storedDayTotals(t, db, cfg)
	requireTotals(t, want, got)

	// The calendar the backfill PUT comes back from GET /v1/campaigns.
	resp, err := in.Do("GET", "/v1/campaigns", "", nil, nil)
	status, body := resp.Status, []byte(resp.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, status, "%s", body)
	var listed []sim.Campaign
	require.NoError(t, json.Unmarshal(body, &listed), "%s", body)
	requireCampaigns(t, campaigns, listed)
}

// totalsFromNDJSON is the independent count: it reads the events as JSON and
// sums them per store and UTC day following docs/schema.md, without any of
// the ingest or rollup code. It also returns the number of events and the
// latest event time.
func totalsFromNDJSON(t *testing.T, path string) (dayTotals, int64, time.Time) {
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	out := dayTotals{}
	var n int64
	var last time.Time
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		var e map[string]any
		require.NoError(t, json.Unmarshal(sc.Bytes(), &e), "line %d", n+1)
		n++
		ts, err := time.Parse(time.RFC3339Nano, str(e["time"]))
		require.NoError(t, err, "line %d", n)
		if ts.After(last) {
			last = ts
		}
		store, day := str(e["store"]), ts.UTC().Format(time.DateOnly)
		add := func(key string, v float64) { out.add(store, day, key, v) }
		add("sp_ingest.events", 1)
		switch e["type"] {
		case "signup":
			add("sp_users.signups", 1)
		case "session":
			add("sp_traffic.sessions", 1)
			add("sp_traffic.page_views", num(e["page_views"]))
			add("sp_traffic.session_duration_s", num(e["duration_s"]))
			add("sp_traffic.cart_sessions", num(e["added_to_cart"]))
		case "order":
			add("sp_orders.orders", 1)
			add("sp_orders.gmv", num(e["amount"]))
			add("sp_orders.items", num(e["items"]))
			switch e["customer"] {
			case "new":
				add("sp_orders.orders_new", 1)
				add("sp_orders.gmv_new", num(e["amount"]))
			case "returning":
				add("sp_orders.orders_returning", 1)
				add("sp_orders.gmv_returning", num(e["amount"]))
			default:
				t.Fatalf("line %d: order without customer type: %v", n, e)
			}
		case "payment":
			add("sp_payments.paid_orders", 1)
			add("sp_payments.paid_amount", num(e["amount"]))
		case "refund":
			add("sp_refunds.refunds", 1)
			add("sp_refunds.refund_amount", num(e["amount"]))
		case "consultation":
			add("sp_service.consultations", 1)
			add("sp_service.consultations_converted", num(e["converted"]))
			add("sp_service.first_response_s", num(e["first_response_s"]))
		case "ticket":
			if e["status"] == "opened" {
				add("sp_tickets.tickets_opened", 1)
			} else {
				add("sp_tickets.tickets_resolved", 1)
				add("sp_tickets.resolution_s", num(e["resolution_s"]))
			}
		case "impression":
			add("sp_marketing.impressions", num(e["count"]))
		case "click":
			add("sp_marketing.clicks", num(e["count"]))
		case "conversion":
			add("sp_marketing.conversions", num(e["count"]))
			add("sp_marketing.conversion_value", num(e["amount"]))
		case "spend":
			add("sp_marketing.spend", num(e["amount"]))
		case "price":
			add("sp_prices.price_observations", 1)
			add("sp_prices.own_price", num(e["own_price"]))
			add("sp_prices.competitor_price", num(e["competitor_price"]))
		default:
			t.Fatalf("line %d: unexpected event type %v", n, e["type"])
		}
	}
	require.NoError(t, sc.Err())
	return out, n, last
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

func num(v any) float64 {
	switch x := v.(type) {
	case float64:
		return x
	case bool:
		if x {
			return 1
		}
	}
	return 0
}

// storedDayTotals sums every point of each UTC day per store, measurement and
// field (all segments, all ingesters), as docs/schema.md tells readers to.
func storedDayTotals(t *testing.T, db *influxtest.Server, cfg sim.Config) dayTotals {
	start := cfg.Start.UTC().Truncate(24 * time.Hour)
	stop := cfg.Start.AddDate(0, 0, cfg.Days).UTC().Truncate(24*time.Hour).AddDate(0, 0, 1)
	rows := ingesttest.FluxTable(t, db, fmt.Sprintf(`from(bucket: %q)
  |> range(start: %s, stop: %s)
  |> filter(fn: (r) => r._measurement != "sp_distinct" and r._measurement != "sp_distinct_store" and r._measurement != "sp_campaign" and r._measurement != "sp_target" and r._measurement != "sp_late" and r._measurement !~ /_1[hd](_store)?$/)
  |> group(columns: ["_measurement", "_field", "store"])
  |> window(every: 1d)
  |> sum()`, db.Bucket, start.Format(time.RFC3339), stop.Format(time.RFC3339)))
	out := dayTotals{}
	for _, r := range rows {
		v, err := strconv.ParseFloat(r["_value"], 64)
		require.NoError(t, err, "row %v", r)
		ws, err := time.Parse(time.RFC3339Nano, r["_start"])
		require.NoError(t, err, "row %v", r)
		// window() clips the first and last windows to the range; both
		// start on a UTC midnight here, so _start names the day.
		require.True(t, ws.Equal(ws.Truncate(24*time.Hour)), "window start %s is not a UTC midnight", ws)
		out.add(r["store"], ws.Format(time.DateOnly), r["_measurement"]+"."+r["_field"], v)
	}
	return out
}

// requireTotals compares every store, day and field of both sides; a field
// absent on one side counts as 0 (a field is only written when something was
// added to it).
func requireTotals(t *testing.T, want, got dayTotals) {
	t.Helper()
	require.Equal(t, sortedKeys(want), sortedKeys(got), "stores")
	compared := 0
	for _, store := range sortedKeys(want) {
		require.Equal(t, sortedKeys(want[store]), sortedKeys(got[store]), "store %s: UTC days", store)
		for _, day := range sortedKeys(want[store]) {
			w, g := want[store][day], got[store][day]
			keys := map[string]bool{}
			for k := range w {
				keys[k] = true
			}
			for k := range g {
				keys[k] = true
			}
			for _, k := range sortedKeys(keys) {
				require.InDelta(t, w[k], g[k], 1e-6*math.Max(1, math.Abs(w[k])), "store %s, day %s: %s", store, day, k)
				compared++
			}
		}
	}
	// The KPIs the simulator must feed, for every store: the comparison above
	// would pass on an empty run otherwise. (Per store and week, not per day:
	// the first and last UTC days are only a few, possibly quiet, hours.)
	for store, days := range want {
		require.GreaterOrEqual(t, len(days), 7, "store %s: UTC days", store)
		week := map[string]float64{}
		for _, fields := range days {
			for k, v := range fields {
				week[k] += v
			}
		}
		for _, k := range []string{"sp_orders.orders", "sp_orders.gmv", "sp_payments.paid_amount",
			"sp_traffic.sessions", "sp_traffic.page_views", "sp_users.signups", "sp_service.consultations"} {
			require.Positive(t, week[k], "store %s: %s over the week", store, k)
		}
	}
	refunds := 0.0
	for _, days := range want {
		for _, fields := range days {
			refunds += fields["sp_refunds.refund_amount"]
		}
	}
	require.Positive(t, refunds, "refunds over all stores and the week")
	t.Logf("compared %d store-day-field sums", compared)
}

func requireCampaigns(t *testing.T, want, got []sim.Campaign) {
	t.Helper()
	sort.Slice(want, func(i, j int) bool { return want[i].ID < want[j].ID })
	sort.Slice(got, func(i, j int) bool { return got[i].ID < got[j].ID })
	require.Len(t, got, len(want), "campaigns listed: %+v", got)
	for i := range want {
		w, g := want[i], got[i]
		require.Equal(t, w.ID, g.ID)
		require.Equal(t, w.Name, g.Name, w.ID)
		require.Equal(t, w.Kind, g.Kind, w.ID)
		require.ElementsMatch(t, w.Stores, g.Stores, w.ID)
		require.Len(t, g.Phases, len(w.Phases), w.ID)
		for j := range w.Phases {
			require.Equal(t, w.Phases[j].Name, g.Phases[j].Name, "%s phase %d", w.ID, j)
			require.True(t, w.Phases[j].Start.Equal(g.Phases[j].Start), "%s phase %s start: %s vs %s", w.ID, w.Phases[j].Name, w.Phases[j].Start, g.Phases[j].Start)
			require.True(t, w.Phases[j].End.Equal(g.Phases[j].End), "%s phase %s end: %s vs %s", w.ID, w.Phases[j].Name, w.Phases[j].End, g.Phases[j].End)
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
