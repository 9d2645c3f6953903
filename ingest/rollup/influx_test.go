package rollup

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/axiomhq/hyperloglog"
	"github.com/cespare/xxhash/v2"
	influxdb2 "github.com/influxdata/influxdb-client-go/v2"
	"github.com/influxdata/influxdb-client-go/v2/api"
	"github.com/stretchr/testify/require"

	"github.com/storepulse/storepulse/ingest/event"
	"github.com/storepulse/storepulse/internal/influxtest"
	"github.com/storepulse/storepulse/internal/schema"
)

// countingSource wraps a SketchSource and counts what it returned.
type countingSource struct {
	SketchSource
	calls, requested, found int
}

func (c *countingSource) Load(ctx context.Context, keys []SketchKey) (map[SketchKey]*hyperloglog.Sketch, error) {
	m, err := c.SketchSource.Load(ctx, keys)
	c.calls++
	c.requested += len(keys)
	c.found += len(m)
	return m, err
}

func write(t *testing.T, srv *influxtest.Server, lines []string) { srv.WriteLines(t, lines) }

// genEvents makes n events over [from, from+48h) for three stores.
func genEvents(rng *rand.Rand, n int, from int64, userPool int) []event.Event {
	types := []event.Type{event.TypeSession, event.TypeSession, event.TypeSession, event.TypeOrder, event.TypeOrder,
		event.TypePayment, event.TypeSignup, event.TypeRefund, event.TypeConsultation, event.TypeTicket,
		event.TypeImpression, event.TypeClick, event.TypeConversion, event.TypeSpend, event.TypePrice}
	out := make([]event.Event, n)
	for i := range out {
		e := event.Event{
			Type:    types[rng.IntN(len(types))],
			ID:      strconv.Itoa(i),
			Time:    from + rng.Int64N(int64(48*time.Hour)),
			Store:   "s" + strconv.Itoa(rng.IntN(3)),
			Channel: []string{"app", "web"}[rng.IntN(2)],
		}
		if rng.IntN(10) < 8 {
			e.User = "u" + strconv.Itoa(rng.IntN(userPool))
		}
		switch e.Type {
		case event.TypeSession:
			e.Visitor = "v" + strconv.Itoa(rng.IntN(2*userPool))
			e.PageViews = float64(1 + rng.IntN(10))
			e.DurationS = float64(rng.IntN(600))
			e.AddedToCart = rng.IntN(4) == 0
		case event.TypeOrder:
			e.Category = []string{"shoes", "tv"}[rng.IntN(2)]
			e.Campaign = []string{"", "618"}[rng.IntN(2)]
			e.Customer = event.Customer(rng.IntN(3))
			e.Amount = float64(rng.IntN(100000)) / 100
			e.Items = float64(1 + rng.IntN(4))
		case event.TypePayment, event.TypeSpend:
			e.Amount = float64(rng.IntN(100000)) / 100
		case event.TypeRefund:
			e.Reason = []string{"damaged", "late"}[rng.IntN(2)]
			e.Amount = float64(rng.IntN(10000)) / 100
		case event.TypeConsultation:
			e.Converted = rng.IntN(3) == 0
			e.FirstResponseS = float64(rng.IntN(120))
		case event.TypeTicket:
			e.Reason = "size"
			e.TicketStatus = event.TicketStatus(1 + rng.IntN(2))
			e.ResolutionS = float64(rng.IntN(86400))
		case event.TypeImpression, event.TypeClick:
			e.Campaign, e.Creative, e.Count = "c1", "banner", float64(1+rng.IntN(100))
		case event.TypeConversion:
			e.Campaign, e.Creative, e.Count, e.Amount = "c1", "push", 1, float64(rng.IntN(5000))
		case event.TypePrice:
			e.Category, e.Competitor = "tv", "jd"
			e.OwnPrice, e.CompetitorPrice = float64(1000+rng.IntN(100)), float64(1000+rng.IntN(100))
		}
		out[i] = e
	}
	return out
}

// expectedSums is an independent, explicit computation of the summed fields
// per "measurement/field/store/UTC day".
func expectedSums(events []event.Event) map[string]float64 {
	out := map[string]float64{}
	for _, e := range events {
		day := time.Unix(0, e.Time).UTC().Format("2006-01-02")
		add := func(meas, field string, v float64) { out[meas+"/"+field+"/"+e.Store+"/"+day] += v }
		b2f := func(b bool) float64 {
			if b {
				return 1
			}
			return 0
		}
		add("sp_ingest", "events", 1)
		switch e.Type {
		case event.TypeSignup:
			add("sp_users", "signups", 1)
		case event.TypeSession:
			add("sp_traffic", "sessions", 1)
			add("sp_traffic", "page_views", e.PageViews)
			add("sp_traffic", "session_duration_s", e.DurationS)
			add("sp_traffic", "cart_sessions", b2f(e.AddedToCart))
		case event.TypeOrder:
			add("sp_orders", "orders", 1)
			add("sp_orders", "gmv", e.Amount)
			add("sp_orders", "items", e.Items)
			isNew, isRet := e.Customer == event.CustomerNew, e.Customer == event.CustomerReturning
			add("sp_orders", "orders_new", b2f(isNew))
			add("sp_orders", "gmv_new", b2f(isNew)*e.Amount)
			add("sp_orders", "orders_returning", b2f(isRet))
			add("sp_orders", "gmv_returning", b2f(isRet)*e.Amount)
		case event.TypePayment:
			add("sp_payments", "paid_orders", 1)
			add("sp_payments", "paid_amount", e.Amount)
		case event.TypeRefund:
			add("sp_refunds", "refunds", 1)
			add("sp_refunds", "refund_amount", e.Amount)
		case event.TypeConsultation:
			add("sp_service", "consultations", 1)
			add("sp_service", "consultations_converted", b2f(e.Converted))
			add("sp_service", "first_response_s", e.FirstResponseS)
		case event.TypeTicket:
			opened, resolved := e.TicketStatus == event.TicketOpened, e.TicketStatus == event.TicketResolved
			add("sp_tickets", "tickets_opened", b2f(opened))
			add("sp_tickets", "tickets_resolved", b2f(resolved))
			add("sp_tickets", "resolution_s", b2f(resolved)*e.ResolutionS)
		case event.TypeImpression:
			add("sp_marketing", "impressions", e.Count)
		case event.TypeClick:
			add("sp_marketing", "clicks", e.Count)
		case event.TypeConversion:
			add("sp_marketing", "conversions", e.Count)
			add("sp_marketing", "conversion_value", e.Amount)
		case event.TypeSpend:
			add("sp_marketing", "spend", e.Amount)
		case event.TypePrice:
			add("sp_prices", "price_observations", 1)
			add("sp_prices", "own_price", e.OwnPrice)
			add("sp_prices", "competitor_price", e.CompetitorPrice)
		}
	}
	// A field only appears in storage once something was added to it; zero
	// sums of conditional fields may be absent.
	return out
}

// expectedDistinct is the true distinct count per "kind/store".
func expectedDistinct(events []event.Event) map[string]int {
	sets := map[string]map[string]bool{}
	add := func(kind, store, id string) {
		if id == "" {
			return
		}
		k := kind + "/" + store
		if sets[k] == nil {
			sets[k] = map[string]bool{}
		}
		sets[k][id] = true
	}
	for _, e := range events {
		switch e.Type {
		case event.TypeSignup, event.TypeConsultation:
			add("active", e.Store, e.User)
		case event.TypeSession:
			add("active", e.Store, e.User)
			add("visitor", e.Store, e.Visitor)
		case event.TypeOrder:
			add("active", e.Store, e.User)
			add("buyer", e.Store, e.User)
			switch e.Customer {
			case event.CustomerNew:
				add("buyer_new", e.Store, e.User)
			case event.CustomerReturning:
				add("buyer_returning", e.Store, e.User)
			}
		case event.TypePayment:
			add("active", e.Store, e.User)
			add("payer", e.Store, e.User)
		}
	}
	out := map[string]int{}
	for k, s := range sets {
		out[k] = len(s)
	}
	return out
}

func fluxRows(t *testing.T, q api.QueryAPI, flux string, fn func(rec map[string]any)) {
	t.Helper()
	res, err := q.Query(context.Background(), flux)
	require.NoError(t, err, flux)
	defer res.Close()
	for res.Next() {
		fn(res.Record().Values())
	}
	require.NoError(t, res.Err(), flux)
}

// storedSums reads per-field sums per store and UTC day, like a reader must:
// summing every point of every ingester.
func storedSums(t *testing.T, q api.QueryAPI, start, stop int64) map[string]float64 {
	out := map[string]float64{}
	flux := fmt.Sprintf(`from(bucket: %q)
  |> range(start: %s, stop: %s)
  |> filter(fn: (r) => r._measurement != "sp_distinct" and r._measurement != "sp_distinct_store")
  |> group(columns: ["_measurement", "_field", "store"])
  |> aggregateWindow(every: 1d, fn: sum, createEmpty: false, timeSrc: "_start")`, influxtest.Bucket, fluxTimeNS(start), fluxTimeNS(stop))
	fluxRows(t, q, flux, func(r map[string]any) {
		day := r["_time"].(time.Time).UTC().Format("2006-01-02") // the window's start
		out[fmt.Sprintf("%s/%s/%s/%s", r["_measurement"], r["_field"], r["store"], day)] += r["_value"].(float64)
	})
	return out
}

// storedDistinct merges every stored sketch of a window per kind and store,
// across days, channels, categories and ingesters.
func storedDistinct(t *testing.T, q api.QueryAPI, window string, start, stop int64) map[string]float64 {
	out := map[string]float64{}
	for k, sk := range storedSketches(t, q, schema.MeasDistinct, window, start, stop, false) {
		out[k] = float64(sk.Estimate())
	}
	return out
}

// storedSketches merges every stored sketch of meas and window per kind and
// store (and window start when perWindow), across channels, categories and
// ingesters.
func storedSketches(t *testing.T, q api.QueryAPI, meas, window string, start, stop int64, perWindow bool) map[string]*hyperloglog.Sketch {
	merged := map[string]*hyperloglog.Sketch{}
	flux := fmt.Sprintf(`from(bucket: %q)
  |> range(start: %s, stop: %s)
  |> filter(fn: (r) => r._measurement == %q and r._field == "sketch" and r.window == %q)`,
		influxtest.Bucket, fluxTimeNS(start), fluxTimeNS(stop), meas, window)
	fluxRows(t, q, flux, func(r map[string]any) {
		sk, err := DecodeSketch(r["_value"].(string))
		require.NoError(t, err)
		k := fmt.Sprintf("%s/%s", r["kind"], r["store"])
		if perWindow {
			k += "/" + r["_time"].(time.Time).UTC().Format(time.RFC3339)
		}
		if merged[k] == nil {
			merged[k] = hyperloglog.New14()
		}
		require.NoError(t, merged[k].Merge(sk))
	})
	return merged
}

func TestInfluxDBEndToEnd(t *testing.T) {
	srv := influxtest.Start(t)
	client := influxdb2.NewClient(srv.URL, srv.Token)
	defer client.Close()
	q := client.QueryAPI(srv.Org)
	ctx := context.Background()

	newRollup := func(ingester string) (*Rollup, *countingSource) {
		src := &countingSource{SketchSource: NewInfluxSketches(q, srv.Bucket, ingester)}
		r, err := New(Options{Ingester: ingester, Sketches: src, CacheSize: 100000})
		require.NoError(t, err)
		return r, src
	}
	process := func(r *Rollup, seg uint64, events []event.Event) {
		s := r.NewSegment(seg)
		// Several records per segment, as the flusher feeds them.
		for len(events) > 0 {
			n := min(len(events), 1000)
			s.Add(&event.Batch{Events: events[:n]})
			events = events[n:]
		}
		ls, err := r.Lines(ctx, s)
		require.NoError(t, err)
		write(t, srv, ls)
	}

	from := ts("2026-11-19T16:00:00Z") // a Shanghai midnight
	start, stop := from, from+int64(48*time.Hour)
	rng := rand.New(rand.NewPCG(1, 2))
	events := genEvents(rng, 120000, from, 40000)

	// Six segments in arrival order, so every window gets points from several
	// segments (late data); the last two come from a second instance.
	r1, _ := newRollup("i1")
	r2, _ := newRollup("i2")
	const segs = 6
	chunk := len(events) / segs
	for i := range segs {
		r := r1
		if i >= 4 {
			r = r2
		}
		process(r, uint64(1000+i), events[i*chunk:(i+1)*chunk])
	}

	wantSums := expectedSums(events)
	gotSums := storedSums(t, q, start, stop)
	checkSums := func(got map[string]float64) {
		t.Helper()
		for k, w := range wantSums {
			if w == 0 {
				continue
			}
			require.InDelta(t, w, got[k], 1e-6*math.Max(1, w), k)
		}
		for k, g := range got {
			require.InDelta(t, wantSums[k], g, 1e-6*math.Max(1, g), "unexpected "+k)
		}
	}
	checkSums(gotSums)
	require.Greater(t, len(gotSums), 100)

	wantDistinct := expectedDistinct(events)
	for _, window := range []string{schema.WindowDay, schema.WindowHour} {
		got := storedDistinct(t, q, window, start, stop)
		require.Len(t, got, len(wantDistinct), window)
		for k, w := range wantDistinct {
			require.InEpsilon(t, float64(w), got[k], 0.02, "%s %s: true %d, estimate %v", window, k, w, got[k])
		}
	}
	require.Greater(t, wantDistinct["active/s0"], 10000, "large enough to leave the exact sparse range")

	// The store-level sketches hold exactly the ids of the detailed ones, per
	// kind, store and window: the same registers, so the same estimate.
	for _, window := range []string{schema.WindowDay, schema.WindowHour} {
		detailed := storedSketches(t, q, schema.MeasDistinct, window, start, stop, true)
		totals := storedSketches(t, q, schema.MeasDistinctStore, window, start, stop, true)
		require.Len(t, totals, len(detailed), window)
		require.Greater(t, len(totals), 30, window)
		for k, d := range detailed {
			require.Contains(t, totals, k)
			require.Equal(t, d.Estimate(), totals[k].Estimate(), "%s %s", window, k)
		}
	}

	t.Run("the example queries of docs/schema.md run", func(t *testing.T) {
		doc, err := os.ReadFile("../../docs/schema.md")
		require.NoError(t, err)
		examples := regexp.MustCompile("(?s)```flux\n(.*?)```").FindAllSubmatch(doc, -1)
		require.Len(t, examples, 2)
		fix := func(q []byte) string {
			s := strings.ReplaceAll(string(q), `"storepulse"`, strconv.Quote(srv.Bucket))
			return regexp.MustCompile(`range\(start: [^)]*\)`).ReplaceAllString(s,
				"range(start: "+fluxTimeNS(start)+", stop: "+fluxTimeNS(stop)+")")
		}

		gmv, orders := map[string]float64{}, map[string]float64{}
		fluxRows(t, q, fix(examples[0][1]), func(r map[string]any) {
			g, o, aov := r["gmv"].(float64), r["orders"].(float64), r["aov"].(float64)
			require.InDelta(t, g/o, aov, 1e-9)
			gmv[r["store"].(string)] += g
			orders[r["store"].(string)] += o
		})
		require.Len(t, gmv, 3)
		for store := range gmv {
			var wg, wo float64
			for k, v := range wantSums {
				if strings.HasPrefix(k, "sp_orders/gmv/"+store+"/") {
					wg += v
				} else if strings.HasPrefix(k, "sp_orders/orders/"+store+"/") {
					wo += v
				}
			}
			require.InEpsilon(t, wg, gmv[store], 1e-9)
			require.InEpsilon(t, wo, orders[store], 1e-9)
		}

		sketches := 0
		q2 := strings.ReplaceAll(fix(examples[1][1]), `"tmall"`, `"s1"`)
		merged := hyperloglog.New14()
		fluxRows(t, q, q2, func(r map[string]any) {
			sk, err := DecodeSketch(r["_value"].(string))
			require.NoError(t, err)
			require.NoError(t, merged.Merge(sk))
			sketches++
		})
		require.Greater(t, sketches, 4, "two days x channels x categories x ingesters")
		require.InEpsilon(t, float64(wantDistinct["buyer/s1"]), float64(merged.Estimate()), 0.02)
	})

	t.Run("replaying a segment changes nothing", func(t *testing.T) {
		before := storedDistinct(t, q, schema.WindowDay, start, stop)
		r, src := newRollup("i1") // after a crash: empty cache
		process(r, 1000, events[:chunk])
		require.Equal(t, 1, src.calls)
		require.Positive(t, src.requested)
		require.Equal(t, src.requested, src.found, "every sketch of the segment is stored, with or without channel/category")
		checkSums(storedSums(t, q, start, stop))
		require.Equal(t, before, storedDistinct(t, q, schema.WindowDay, start, stop))
	})

	t.Run("an undecodable stored sketch is reported with the rest", func(t *testing.T) {
		at := from + int64(5*time.Hour)
		write(t, srv, []string{
			fmt.Sprintf(`sp_distinct,ingester=i4,kind=active,store=x,window=1h estimate=1,sketch="not base64!" %d`, at),
			fmt.Sprintf(`sp_distinct,ingester=i4,kind=active,store=y,window=1h estimate=1,sketch="%s" %d`, mustEncode(t, "u1"), at),
		})
		keys := []SketchKey{
			{Kind: "active", Window: "1h", Store: "x", Start: at},
			{Kind: "active", Window: "1h", Store: "y", Start: at},
			{Kind: "active", Window: "1h", Store: "z", Start: at}, // nothing stored
		}
		got, err := NewInfluxSketches(q, srv.Bucket, "i4").Load(ctx, keys)
		var corrupt *CorruptSketchesError
		require.ErrorAs(t, err, &corrupt)
		require.Equal(t, keys[:1], corrupt.Keys)
		require.Len(t, got, 1)
		require.Equal(t, uint64(1), got[keys[1]].Estimate())

		_, err = NewInfluxSketches(client.QueryAPI("x"), "no-such-bucket", "i4").Load(ctx, keys)
		require.ErrorContains(t, err, "InfluxDB")
	})

	t.Run("a fresh instance merges into the stored sketch", func(t *testing.T) {
		day := from + int64(30*time.Hour) // inside the second Shanghai day
		series := func(users int, prefix string) []event.Event {
			out := make([]event.Event, users)
			for i := range out {
				out[i] = event.Event{Type: event.TypeSignup, ID: prefix + strconv.Itoa(i), Time: day + int64(i),
					Store: "s9", Channel: "app", User: prefix + strconv.Itoa(i)}
			}
			return out
		}
		a, b := series(3000, "a"), series(4000, "b")
		r, _ := newRollup("i3")
		process(r, 7, a)
		r, src := newRollup("i3") // restart
		process(r, 8, b)
		require.Positive(t, src.found, "the stored sketch was loaded")

		var estimates []float64
		fluxRows(t, q, fmt.Sprintf(`from(bucket: %q)
  |> range(start: %s, stop: %s)
  |> filter(fn: (r) => r._measurement == "sp_distinct" and r._field == "estimate" and r.ingester == "i3" and r.kind == "active" and r.window == "1d")`,
			srv.Bucket, fluxTimeNS(start), fluxTimeNS(stop)), func(r map[string]any) {
			estimates = append(estimates, r["_value"].(float64))
		})
		require.Len(t, estimates, 1, "one point per sketch key, overwritten in place")
		require.InEpsilon(t, 7000, estimates[0], 0.02)
	})
}

func mustEncode(t *testing.T, ids ...string) string {
	t.Helper()
	sk := hyperloglog.New14()
	for _, id := range ids {
		sk.InsertHash(xxhash.Sum64String(id))
	}
	s, err := EncodeSketch(sk)
	require.NoError(t, err)
	return s
}
