package influxql_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"strconv"
	"testing"
	"time"

	influxdb2 "github.com/influxdata/influxdb-client-go/v2"
	"github.com/influxdata/influxdb-client-go/v2/api"
	"github.com/stretchr/testify/require"

	"github.com/storepulse/storepulse/datasource/pkg/engine"
	"github.com/storepulse/storepulse/datasource/pkg/engine/flux"
	"github.com/storepulse/storepulse/datasource/pkg/engine/influxql"
	"github.com/storepulse/storepulse/datasource/pkg/models"
	"github.com/storepulse/storepulse/ingest/event"
	"github.com/storepulse/storepulse/ingest/rollup"
	"github.com/storepulse/storepulse/internal/influxtest"
	"github.com/storepulse/storepulse/internal/kpi"
)

// The long-bucket tests: quarter, year and whole-range values of every kind
// of KPI, through both sources on a real InfluxDB 1.8, against an oracle
// computed from the raw events with the standard library only (its local
// days are found by scanning wall clocks minute by minute, not with
// package localday). Two DST zones share the database, each with its own
// stores and its own ingester: São Paulo (2017-10-15 had no midnight,
// 2018-02-17 had 25 hours) and Berlin.

// zoneStores are each zone's stores; a query of a zone filters on them.
func zoneStores() map[string][]string {
	return map[string][]string{"America/Sao_Paulo": {"sp1", "sp2"}, "Europe/Berlin": {"be1"}}
}

// longEvents makes n events of one zone's stores over [from, to): sessions,
// orders, payments (orders paid in one or two parts: voucher plus card) and
// sign-ups by a pool of users small enough that buyers come back in other
// months.
func longEvents(rng *rand.Rand, n int, stores []string, from, to time.Time) []event.Event {
	out := make([]event.Event, 0, n)
	span := int64(to.Sub(from))
	for i := 0; len(out) < n; i++ {
		e := event.Event{
			ID:      stores[0] + "-e" + strconv.Itoa(i),
			Time:    from.UnixNano() + rng.Int64N(span),
			Store:   stores[rng.IntN(len(stores))],
			Channel: []string{"app", "web"}[rng.IntN(2)],
			User:    "u" + strconv.Itoa(rng.IntN(1500)),
		}
		switch r := rng.IntN(10); {
		case r < 5:
			e.Type = event.TypeSession
			e.Visitor = "v" + strconv.Itoa(rng.IntN(4000))
			e.PageViews = float64(1 + rng.IntN(5))
			if rng.IntN(4) == 0 {
				e.User = ""
			}
		case r < 8:
			e.Type = event.TypeOrder
			e.Order = e.ID
			e.Category = []string{"shoes", "tv"}[rng.IntN(2)]
			e.Customer = event.Customer(1 + rng.IntN(2))
			e.Amount = float64(100+rng.IntN(40000)) / 100
			e.Items = float64(1 + rng.IntN(3))
			out = append(out, e)
			if rng.IntN(4) == 0 {
				continue // never paid
			}
			// Paid within two hours, in one part or in two (voucher plus card).
			parts := 1 + rng.IntN(2)
			paidAt := e.Time + rng.Int64N(int64(2*time.Hour))
			for p := range parts {
				pay := event.Event{Type: event.TypePayment, ID: e.ID + "-p" + strconv.Itoa(p), Time: paidAt + int64(p)*int64(time.Minute),
					Store: e.Store, Channel: e.Channel, User: e.User, Order: e.Order, Amount: e.Amount / float64(parts)}
				if pay.Time < to.UnixNano() {
					out = append(out, pay)
				}
			}
			continue
		default:
			e.Type = event.TypeSignup
		}
		out = append(out, e)
	}
	return out
}

// wallOracle finds local day starts by scanning wall clocks: the start of
// date D is the first minute whose wall clock reads D or later (every zone
// here changes its offset on whole minutes), and an instant belongs to the
// latest date whose start is not after it.
type wallOracle struct {
	loc    *time.Location
	dates  []time.Time // civil dates (UTC midnights), consecutive
	starts []time.Time // their first instants
	index  map[time.Time]int
}

func newWallOracle(loc *time.Location, first, last time.Time) *wallOracle {
	o := &wallOracle{loc: loc, index: map[time.Time]int{}}
	for d := first; !d.After(last); d = d.AddDate(0, 0, 1) {
		want := d.Format(time.DateOnly)
		t := d.Add(-15 * time.Hour)
		for t.In(loc).Format(time.DateOnly) < want {
			t = t.Add(time.Minute)
		}
		o.index[d] = len(o.dates)
		o.dates = append(o.dates, d)
		o.starts = append(o.starts, t)
	}
	return o
}

// date is the civil date of the local day holding t.
func (o *wallOracle) date(t time.Time) time.Time {
	i := sort.Search(len(o.starts), func(i int) bool { return o.starts[i].After(t) }) - 1
	if i < 0 || i == len(o.starts)-1 {
		panic(fmt.Sprintf("%s outside the oracle's dates", t))
	}
	return o.dates[i]
}

// start is the first instant of the civil date d.
func (o *wallOracle) start(d time.Time) time.Time {
	i, ok := o.index[d]
	if !ok {
		panic(fmt.Sprintf("%s outside the oracle's dates", d))
	}
	return o.starts[i]
}

// periodOf is the civil date starting the month, quarter or year of date d.
func periodOf(interval string, d time.Time) time.Time {
	switch interval {
	case models.IntervalMonth:
		return time.Date(d.Year(), d.Month(), 1, 0, 0, 0, 0, time.UTC)
	case models.IntervalQuarter:
		return time.Date(d.Year(), (d.Month()-1)/3*3+1, 1, 0, 0, 0, 0, time.UTC)
	case models.IntervalYear:
		return time.Date(d.Year(), 1, 1, 0, 0, 0, 0, time.UTC)
	}
	return d
}

// agg is what the oracle knows about one bucket.
type agg struct {
	gmv, paid, orders, signups, payments float64
	buyers, payers, active, visitors     map[string]bool
	paidOrders                           map[string]bool
	dailyActive                          map[time.Time]map[string]bool
}

func newAgg() *agg {
	return &agg{buyers: map[string]bool{}, payers: map[string]bool{}, active: map[string]bool{}, visitors: map[string]bool{},
		paidOrders: map[string]bool{}, dailyActive: map[time.Time]map[string]bool{}}
}

func (a *agg) add(e event.Event, day time.Time) {
	if e.User != "" {
		a.active[e.User] = true
		if a.dailyActive[day] == nil {
			a.dailyActive[day] = map[string]bool{}
		}
		a.dailyActive[day][e.User] = true
	}
	switch e.Type {
	case event.TypeSession:
		a.visitors[e.Visitor] = true
	case event.TypeOrder:
		a.gmv += e.Amount
		a.orders++
		a.buyers[e.User] = true
	case event.TypePayment:
		a.paid += e.Amount
		a.payments++
		a.payers[e.User] = true
		a.paidOrders[e.Order] = true
	case event.TypeSignup:
		a.signups++
	}
}

// value is a KPI of the bucket; ok is false where it has none (a zero
// denominator). days is the number of local days of the bucket up to now
// (stickiness).
func (a *agg) value(id string, days int) (float64, bool) {
	ratio := func(n, d float64) (float64, bool) {
		if d == 0 {
			return 0, false
		}
		return n / d, true
	}
	switch id {
	case "gmv":
		return a.gmv, true
	case "orders":
		return a.orders, true
	case "paid_revenue":
		return a.paid, true
	case "new_users":
		return a.signups, true
	case "aov":
		return ratio(a.gmv, a.orders)
	case "buyers":
		return float64(len(a.buyers)), true
	case "paying_buyers":
		return float64(len(a.payers)), true
	case "active_users":
		return float64(len(a.active)), true
	case "conversion_rate":
		return ratio(float64(len(a.buyers)), float64(len(a.visitors)))
	case "arppu":
		return ratio(a.paid, float64(len(a.payers)))
	case "paid_orders": // orders with a payment, each once
		return float64(len(a.paidOrders)), true
	case "payments":
		return a.payments, true
	case "payment_conversion":
		return ratio(float64(len(a.paidOrders)), a.orders)
	case "stickiness":
		if len(a.active) == 0 {
			return 0, false
		}
		total := 0
		for _, us := range a.dailyActive {
			total += len(us)
		}
		return float64(total) / float64(days) / float64(len(a.active)), true
	}
	panic("no oracle for " + id)
}

// distinctBased KPIs are compared within the sketches' error.
func distinctBased(id string) bool {
	return slices.Contains([]string{"buyers", "paying_buyers", "active_users", "conversion_rate", "arppu", "stickiness", "paid_orders", "payment_conversion"}, id)
}

func TestLongBucketsAgainstRawEvents(t *testing.T) {
	srv := influxtest.Start(t)
	ctx := context.Background()
	client := influxdb2.NewClient(srv.URL, srv.Token)
	defer client.Close()
	ql, err := influxql.New(srv.URL, srv.Token, srv.Bucket, nil)
	require.NoError(t, err)
	sources := map[string]engine.Source{
		"flux":     &flux.Source{QueryAPI: func() api.QueryAPI { return client.QueryAPI(srv.Org) }, Bucket: srv.Bucket},
		"influxql": ql,
	}

	// Seven months over two DST changes and a new year up to now, written
	// through the ingest rollup in several segments (a day's sketches merged
	// with the stored ones across segments).
	now := time.Date(2018, 3, 20, 15, 42, 0, 0, time.UTC) // the last buckets are in progress
	events := map[string][]event.Event{}
	for zone, stores := range zoneStores() {
		l, err := time.LoadLocation(zone)
		require.NoError(t, err)
		evs := longEvents(rand.New(rand.NewPCG(10, uint64(len(zone)))), 24000, stores,
			time.Date(2017, 8, 20, 0, 0, 0, 0, l), now)
		events[zone] = evs
		r, err := rollup.New(rollup.Options{Ingester: stores[0], Location: l, CacheSize: 100000,
			Sketches: rollup.NewInfluxSketches(client.QueryAPI(srv.Org), srv.Bucket, stores[0])})
		require.NoError(t, err)
		for s := range 4 {
			seg := r.NewSegment(uint64(10 + s))
			seg.Add(&event.Batch{Events: evs[s*len(evs)/4 : (s+1)*len(evs)/4]})
			lines, err := r.Lines(ctx, seg)
			require.NoError(t, err)
			srv.WriteLines(t, lines)
		}
	}

	ids := []string{"gmv", "orders", "paid_revenue", "new_users", "aov", "buyers", "paying_buyers", "active_users", "conversion_rate", "arppu", "stickiness",
		"paid_orders", "payment_conversion", "payments"}
	fluxIDs := []string{"gmv", "aov", "buyers", "conversion_rate", "arppu", "stickiness", "paid_orders"}
	type shape struct {
		name     string
		interval string
		from, to string // local wall clocks
	}
	shapes := []shape{
		{"years", models.IntervalYear, "2017-08-20 00:00", "2018-03-21 00:00"},
		{"quarters", models.IntervalQuarter, "2017-08-25 10:00", "2018-03-21 00:00"},
		{"months", models.IntervalMonth, "2017-09-01 00:00", "2018-03-21 00:00"},
		{"range of whole days", models.IntervalRange, "2017-09-01 00:00", "2018-01-01 00:00"},
		{"range of partial days", models.IntervalRange, "2017-10-13 09:17", "2018-02-19 16:05"},
		{"range up to now", models.IntervalRange, "2018-01-01 00:00", "2018-04-01 00:00"},
	}
	for zone, stores := range zoneStores() {
		l, err := time.LoadLocation(zone)
		require.NoError(t, err)
		o := newWallOracle(l, time.Date(2016, 12, 1, 0, 0, 0, 0, time.UTC), time.Date(2019, 1, 31, 0, 0, 0, 0, time.UTC))
		inStore := map[string]bool{}
		for _, s := range stores {
			inStore[s] = true
		}
		engines := map[string]*engine.Engine{}
		for name, src := range sources {
			engines[name] = &engine.Engine{Catalog: kpi.Default(), Source: src, Location: l, SeriesLimit: 100, Now: func() time.Time { return now }}
		}
		for _, sh := range shapes {
			from, err := time.ParseInLocation("2006-01-02 15:04", sh.from, l)
			require.NoError(t, err)
			to, err := time.ParseInLocation("2006-01-02 15:04", sh.to, l)
			require.NoError(t, err)
			for _, id := range ids {
				// The oracle's buckets: calendar periods of local dates, or
				// the range aligned to the KPI's resolution (a minute for
				// sums, an hour for distinct counts, a local day for
				// stickiness), cut at now.
				var lo, hi time.Time
				bucketOf := func(t time.Time) time.Time { return o.start(periodOf(sh.interval, o.date(t))) }
				endOf := func(start time.Time) time.Time { return o.start(nextPeriod(sh.interval, o.date(start))) }
				if sh.interval == models.IntervalRange {
					unit := time.Minute
					if distinctBased(id) {
						unit = time.Hour
					}
					lo, hi = from.Truncate(unit), to.Add(unit-1).Truncate(unit)
					if id == "stickiness" {
						lo, hi = o.start(o.date(from)), o.start(o.date(to.Add(-1)).AddDate(0, 0, 1))
					}
					bucketOf = func(time.Time) time.Time { return lo }
					endOf = func(time.Time) time.Time { return hi }
				} else {
					lo, hi = bucketOf(from), endOf(bucketOf(to.Add(-1)))
				}
				want := map[int64]*agg{}
				var order []int64
				for _, e := range events[zone] {
					at := time.Unix(0, e.Time)
					if !inStore[e.Store] || at.Before(lo) || !at.Before(hi) {
						continue
					}
					b := bucketOf(at).Unix()
					if want[b] == nil {
						want[b] = newAgg()
						order = append(order, b)
					}
					want[b].add(e, o.date(at))
				}
				slices.Sort(order)
				for name, eng := range engines {
					if name == "flux" && !slices.Contains(fluxIDs, id) {
						continue // Flux on 1.8 is slow over months of hourly windows: one KPI of each kind
					}
					t.Run(fmt.Sprintf("%s/%s/%s/%s", zone, sh.name, id, name), func(t *testing.T) {
						q := models.Query{KPI: id, Interval: sh.interval, Filters: map[string][]string{"store": stores}}
						res, err := eng.Run(ctx, engine.Request{Query: q, From: from, To: to})
						require.NoError(t, err)
						require.Len(t, res.Series, 1)
						var got []int64
						for _, bt := range res.Times {
							got = append(got, bt.Unix())
						}
						require.Equal(t, order, got, "bucket starts")
						for i, bt := range res.Times {
							a := want[bt.Unix()]
							days := 0 // local days of the bucket up to now (stickiness)
							for d := o.date(bt); o.start(d).Before(endOf(bt)) && !o.start(d).After(now); d = d.AddDate(0, 0, 1) {
								days++
							}
							w, ok := a.value(id, days)
							v := res.Series[0].Values[i]
							if !ok {
								require.Nil(t, v, "%s at %s", id, bt.In(l))
								continue
							}
							require.NotNil(t, v, "%s at %s", id, bt.In(l))
							tol := 1e-9 * max(1, w)
							if distinctBased(id) {
								tol = 0.025 * w
							}
							require.InDelta(t, w, *v, tol, "%s at %s", id, bt.In(l))
						}
					})
				}
			}
		}

		// Split payments: paid orders count orders, payments count parts, and
		// payment conversion over the range stays below 1.
		for name, eng := range engines {
			from, to := time.Date(2017, 9, 1, 0, 0, 0, 0, l), time.Date(2018, 1, 1, 0, 0, 0, 0, l)
			val := func(id string) float64 {
				res, err := eng.Run(ctx, engine.Request{Query: models.Query{KPI: id, Interval: models.IntervalRange, Filters: map[string][]string{"store": stores}}, From: from, To: to})
				require.NoError(t, err)
				require.Len(t, res.Times, 1)
				return *res.Series[0].Values[0]
			}
			orders := map[string]bool{}
			paidParts := map[string]int{}
			for _, e := range events[zone] {
				if at := time.Unix(0, e.Time); inStore[e.Store] && !at.Before(from) && at.Before(to) {
					switch e.Type {
					case event.TypeOrder:
						orders[e.Order] = true
					case event.TypePayment:
						paidParts[e.Order]++
					}
				}
			}
			split := 0
			for _, n := range paidParts {
				if n > 1 {
					split++
				}
			}
			require.Greater(t, split, 500, "the data has orders paid in two parts")
			payments, paid := val("payments"), val("paid_orders")
			require.InDelta(t, float64(len(paidParts)+split), payments, 1e-9, "%s %s: payment events", zone, name)
			require.InEpsilon(t, float64(len(paidParts)), paid, 0.02, "%s %s: paid orders", zone, name)
			require.Less(t, val("payment_conversion"), 1.0, "%s %s", zone, name)
			require.InEpsilon(t, float64(len(paidParts))/float64(len(orders)), val("payment_conversion"), 0.02, "%s %s", zone, name)
		}

		// Buyers this year: people who bought in several months count once
		// in the year, so the year's buyers are fewer than the months' sum.
		for name, eng := range engines {
			q := models.Query{KPI: "buyers", Filters: map[string][]string{"store": stores}}
			from, to := time.Date(2017, 9, 1, 0, 0, 0, 0, l), time.Date(2018, 1, 1, 0, 0, 0, 0, l)
			q.Interval = models.IntervalMonth
			months, err := eng.Run(ctx, engine.Request{Query: q, From: from, To: to})
			require.NoError(t, err)
			q.Interval = models.IntervalRange
			whole, err := eng.Run(ctx, engine.Request{Query: q, From: from, To: to})
			require.NoError(t, err)
			sum := 0.0
			for _, v := range months.Series[0].Values {
				sum += *v
			}
			require.Len(t, months.Times, 4)
			require.Len(t, whole.Times, 1)
			require.Less(t, *whole.Series[0].Values[0], 0.8*sum, "%s %s: buyers of Sep-Dec against the sum of the months", zone, name)
		}
	}
}

// nextPeriod is the civil date starting the period after the one starting at d.
func nextPeriod(interval string, d time.Time) time.Time {
	switch interval {
	case models.IntervalMonth:
		return d.AddDate(0, 1, 0)
	case models.IntervalQuarter:
		return d.AddDate(0, 3, 0)
	case models.IntervalYear:
		return d.AddDate(1, 0, 0)
	}
	return d.AddDate(0, 0, 1)
}
