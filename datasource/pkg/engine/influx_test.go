package engine_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"testing"
	"time"

	influxdb2 "github.com/influxdata/influxdb-client-go/v2"
	"github.com/influxdata/influxdb-client-go/v2/api"
	"github.com/stretchr/testify/require"

	"github.com/storepulse/storepulse/datasource/pkg/bucket"
	"github.com/storepulse/storepulse/datasource/pkg/engine"
	"github.com/storepulse/storepulse/datasource/pkg/engine/flux"
	"github.com/storepulse/storepulse/datasource/pkg/models"
	"github.com/storepulse/storepulse/ingest/event"
	"github.com/storepulse/storepulse/ingest/rollup"
	"github.com/storepulse/storepulse/internal/influxtest"
	"github.com/storepulse/storepulse/internal/kpi"
)

func writeLines(t *testing.T, srv *influxtest.Server, lines []string) { srv.WriteLines(t, lines) }

func ptr(f float64) *float64 { return &f }

// storeEvents makes sessions, orders, payments and sign-ups over [from, from+span).
func storeEvents(rng *rand.Rand, n int, from time.Time, span time.Duration) []event.Event {
	types := []event.Type{event.TypeSession, event.TypeSession, event.TypeSession, event.TypeOrder,
		event.TypePayment, event.TypeSignup}
	out := make([]event.Event, n)
	for i := range out {
		e := event.Event{
			Type:    types[rng.IntN(len(types))],
			ID:      "e" + strconv.Itoa(i),
			Time:    from.UnixNano() + rng.Int64N(int64(span)),
			Store:   "s" + strconv.Itoa(rng.IntN(3)),
			Channel: []string{"app", "web"}[rng.IntN(2)],
			User:    "u" + strconv.Itoa(rng.IntN(6000)),
		}
		switch e.Type {
		case event.TypeSession:
			e.Visitor = "v" + strconv.Itoa(rng.IntN(9000))
			e.PageViews = float64(1 + rng.IntN(8))
			if rng.IntN(5) == 0 {
				e.User = "" // anonymous
			}
		case event.TypeOrder:
			e.Category = []string{"shoes", "tv"}[rng.IntN(2)]
			e.Customer = event.Customer(1 + rng.IntN(2))
			e.Amount = float64(rng.IntN(50000)) / 100
			e.Items = 1
		case event.TypePayment:
			e.Amount = float64(rng.IntN(50000)) / 100
			e.Order = "o" + strconv.Itoa(i%4000) // some orders paid in several parts
		}
		out[i] = e
	}
	return out
}

// expect is an independent computation of a KPI from raw events, per
// bucket (given by bucketOf), with a store filter.
func expect(events []event.Event, id string, bucketOf func(time.Time) time.Time, from, to time.Time, stores map[string]bool) map[int64]*float64 {
	type acc struct {
		gmv, orders float64
		buyers, vis map[string]bool
		active      map[string]bool
	}
	accs := map[int64]*acc{}
	for _, e := range events {
		t := time.Unix(0, e.Time)
		if t.Before(from) || !t.Before(to) || (stores != nil && !stores[e.Store]) {
			continue
		}
		b := bucketOf(t).Unix()
		a := accs[b]
		if a == nil {
			a = &acc{buyers: map[string]bool{}, vis: map[string]bool{}, active: map[string]bool{}}
			accs[b] = a
		}
		if e.User != "" {
			a.active[e.User] = true
		}
		switch e.Type {
		case event.TypeOrder:
			a.gmv += e.Amount
			a.orders++
			a.buyers[e.User] = true
		case event.TypeSession:
			a.vis[e.Visitor] = true
		}
	}
	out := map[int64]*float64{}
	for b, a := range accs {
		var v *float64
		switch id {
		case "gmv":
			v = ptr(a.gmv)
		case "orders":
			v = ptr(a.orders)
		case "aov":
			if a.orders > 0 {
				v = ptr(a.gmv / a.orders)
			}
		case "conversion_rate":
			if len(a.vis) > 0 {
				v = ptr(float64(len(a.buyers)) / float64(len(a.vis)))
			}
		case "active_users":
			v = ptr(float64(len(a.active)))
		}
		out[b] = v
	}
	return out
}

func TestEngineAgainstInfluxDB(t *testing.T) {
	srv := influxtest.Start(t)
	client := influxdb2.NewClient(srv.URL, srv.Token)
	defer client.Close()
	q := client.QueryAPI(srv.Org)
	ctx := context.Background()
	sh, err := time.LoadLocation("Asia/Shanghai")
	require.NoError(t, err)

	// Three Shanghai days, written through the ingest rollup by two ingesters
	// in several segments (so windows hold several points each).
	from := time.Date(2026, 11, 20, 0, 0, 0, 0, sh)
	events := storeEvents(rand.New(rand.NewPCG(4, 2)), 30000, from, 72*time.Hour)
	for i, ing := range []string{"i1", "i2"} {
		r, err := rollup.New(rollup.Options{Ingester: ing, Location: sh, Sketches: rollup.NewInfluxSketches(q, srv.Bucket, ing), CacheSize: 100000})
		require.NoError(t, err)
		half := events[i*len(events)/2 : (i+1)*len(events)/2]
		for s := range 3 {
			seg := r.NewSegment(uint64(100 + s))
			seg.Add(&event.Batch{Events: half[s*len(half)/3 : (s+1)*len(half)/3]})
			lines, err := r.Lines(ctx, seg)
			require.NoError(t, err)
			writeLines(t, srv, lines)
		}
	}

	e := &engine.Engine{Catalog: kpi.Default(), Source: &flux.Source{QueryAPI: func() api.QueryAPI { return client.QueryAPI(srv.Org) }, Bucket: srv.Bucket}, Location: sh,
		SeriesLimit: 100, Now: func() time.Time { return from.AddDate(0, 0, 10) }}
	day := func(t time.Time) time.Time { return bucket.Midnight(t, sh) }
	hour := func(t time.Time) time.Time { return t.Truncate(time.Hour) }
	tests := []struct {
		name     string
		from, to time.Time
		interval string
		bucketOf func(time.Time) time.Time
		stores   []string
	}{
		{"two whole days by day", from, from.AddDate(0, 0, 2), models.IntervalDay, day, nil},
		{"partial days by hour", from.Add(10 * time.Hour), from.Add(39 * time.Hour), "1h", hour, nil},
		{"three days, two stores, by day", from, from.AddDate(0, 0, 3), models.IntervalDay, day, []string{"s0", "s2"}},
		{"one 3-day bucket of 6h steps, one store", from.Add(12 * time.Hour), from.Add(30 * time.Hour), "6h",
			func(t time.Time) time.Time { return day(t).Add(t.Sub(day(t)) / (6 * time.Hour) * 6 * time.Hour) }, []string{"s1"}},
	}
	for _, tt := range tests {
		for _, id := range []string{"gmv", "orders", "aov", "conversion_rate", "active_users"} {
			t.Run(tt.name+"/"+id, func(t *testing.T) {
				query := models.Query{KPI: id, Interval: tt.interval}
				var stores map[string]bool
				if tt.stores != nil {
					query.Filters = map[string][]string{"store": tt.stores}
					stores = map[string]bool{}
					for _, s := range tt.stores {
						stores[s] = true
					}
				}
				res, err := e.Run(ctx, engine.Request{Query: query, From: tt.from, To: tt.to})
				require.NoError(t, err)
				require.Len(t, res.Series, 1)
				want := expect(events, id, tt.bucketOf, tt.from, tt.to, stores)
				require.Len(t, res.Times, len(want))
				distinct := id == "conversion_rate" || id == "active_users"
				for i, bt := range res.Times {
					w, ok := want[bt.Unix()]
					require.True(t, ok, "bucket %s", bt)
					got := res.Series[0].Values[i]
					if w == nil {
						require.Nil(t, got, bt)
						continue
					}
					require.NotNil(t, got, bt)
					tol := 1e-9 * max(1, *w)
					if distinct {
						tol = 0.02 * *w
					}
					require.InDelta(t, *w, *got, tol, fmt.Sprintf("%s at %s", id, bt))
				}
			})
		}
	}

	t.Run("group by store equals per-store computation", func(t *testing.T) {
		res, err := e.Run(ctx, engine.Request{Query: models.Query{KPI: "gmv", Interval: models.IntervalWeek, GroupBy: []string{"store"}},
			From: from, To: from.AddDate(0, 0, 3)})
		require.NoError(t, err)
		require.Len(t, res.Series, 3)
		for i, s := range res.Series {
			store := "s" + strconv.Itoa(i)
			require.Equal(t, []string{store}, s.Groups)
			want := expect(events, "gmv", func(time.Time) time.Time { return from }, from, from.AddDate(0, 0, 3), map[string]bool{store: true})
			require.InDelta(t, *want[from.Unix()], *s.Values[0], 1e-6)
		}
	})
	t.Run("dimension values", func(t *testing.T) {
		src := &flux.Source{QueryAPI: func() api.QueryAPI { return client.QueryAPI(srv.Org) }, Bucket: srv.Bucket}
		got, err := src.DimensionValues(ctx, engine.DimensionSpec{Start: from, Stop: from.AddDate(0, 0, 3), Dimension: "store"})
		require.NoError(t, err)
		require.Equal(t, []string{"s0", "s1", "s2"}, got)
		got, err = src.DimensionValues(ctx, engine.DimensionSpec{Start: from, Stop: from.AddDate(0, 0, 3), Dimension: "category",
			Filters: map[string][]string{"store": {"s1"}}})
		require.NoError(t, err)
		require.Equal(t, []string{"shoes", "tv"}, got)
	})
}
