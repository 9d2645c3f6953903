package plugin

import (
	"context"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/experimental"
	"github.com/stretchr/testify/require"

	"github.com/storepulse/storepulse/datasource/pkg/engine"
	"github.com/storepulse/storepulse/internal/schema"
)

// Latest implements engine.LatestSource over the fake's sp_ingest points.
func (f *fakeSource) Latest(ctx context.Context, spec engine.LatestSpec) ([]engine.LatestRow, error) {
	if err := f.wait(ctx); err != nil {
		return nil, err
	}
	newest := map[string]time.Time{}
	var stores []string
	for _, p := range f.points {
		s := p.tags["store"]
		if p.term.Measurement != schema.MeasIngest || p.t.Before(spec.Start) || !p.t.Before(spec.Stop) ||
			(len(spec.Stores) > 0 && !contains(spec.Stores, s)) {
			continue
		}
		if _, ok := newest[s]; !ok {
			stores = append(stores, s)
		}
		if p.t.After(newest[s]) {
			newest[s] = p.t
		}
	}
	out := make([]engine.LatestRow, 0, len(stores))
	for _, s := range stores {
		out = append(out, engine.LatestRow{Store: s, Time: newest[s]})
	}
	return out, nil
}

func contains(xs []string, x string) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}

// shapesFixture is the fixture plus five weeks of hourly GMV and orders of
// tmall and jd up to the test clock (a daily shape with a little
// deterministic wobble, so the forecast band has a width), ten weeks of
// category GMV of store mall for the life cycle, and sp_ingest points for
// freshness.
func shapesFixture() *fakeSource {
	f := fixture()
	gmv := engine.Term{Measurement: schema.MeasOrders, Field: schema.FieldGMV}
	orders := engine.Term{Measurement: schema.MeasOrders, Field: schema.FieldOrders}
	shape := []float64{2, 1, 1, 1, 1, 1, 2, 3, 4, 5, 6, 6, 7, 6, 5, 5, 5, 5, 6, 7, 8, 8, 6, 4}
	now := ts("2026-11-12T06:00:00Z")
	today := ts("2026-11-11T16:00:00Z") // Shanghai midnight
	for d := -35; d <= 0; d++ {
		for h := range 24 {
			t := today.AddDate(0, 0, d).Add(time.Duration(h)*time.Hour + 5*time.Minute)
			if !t.Before(now) {
				break
			}
			wobble := 1 + 0.05*float64((7*(d+35)+3*h)%5-2)
			for store, size := range map[string]float64{"tmall": 100, "jd": 30} {
				v := size * shape[h] * wobble
				f.points = append(f.points,
					fakePoint{t: t, term: gmv, tags: map[string]string{"store": store}, v: v},
					fakePoint{t: t, term: orders, tags: map[string]string{"store": store}, v: v / 50})
			}
		}
	}
	monday := ts("2026-08-30T16:00:00Z") // Shanghai Monday 31 Aug
	for w := range 10 {
		for cat, v := range map[string]float64{"apparel": 7000 * (1 + 0.06*float64(w)), "pets": 500 * (1 + 0.002*float64(w*w*w)),
			"toys": 3000, "dvd": 2000 * (1 - 0.06*float64(w))} {
			f.points = append(f.points, fakePoint{t: monday.AddDate(0, 0, 7*w+3), term: gmv, tags: map[string]string{"store": "mall", "category": cat}, v: v})
		}
	}
	ingest := engine.Term{Measurement: schema.MeasIngest, Field: schema.FieldEvents}
	for _, p := range []struct{ t, store string }{
		{"2026-11-12T05:58:00.000000003Z", "tmall"}, {"2026-11-12T05:40:00.000000001Z", "jd"}, {"2026-11-12T04:00:00.000000002Z", "jd"},
	} {
		f.points = append(f.points, fakePoint{t: ts(p.t), term: ingest, tags: map[string]string{"store": p.store, "type": "order"}, v: 1})
	}
	return f
}

// TestGoldenShapes pins the forecast, life-cycle and freshness responses:
// run with -update to rewrite.
func TestGoldenShapes(t *testing.T) {
	d := newTestDatasource(t, shapesFixture())
	for _, tt := range []struct {
		name, queryType, query string
		from                   time.Time
	}{
		{"forecast_day_by_store", "kpi", `{"kpi":"gmv","groupBy":["store"],"forecast":{"horizon":"day"}}`, ts("2026-11-11T16:00:00Z")},
		{"forecast_month_ratio", "kpi", `{"kpi":"aov","filters":{"store":["tmall"]},"forecast":{"horizon":"month"}}`, ts("2026-10-31T16:00:00Z")},
		{"lifecycle_by_category", "kpi", `{"kpi":"lifecycle_stage","filters":{"store":["mall"]}}`, ts("2026-08-30T16:00:00Z")},
		{"freshness", "freshness", `{}`, ts("2026-11-11T16:00:00Z")},
	} {
		t.Run(tt.name, func(t *testing.T) {
			q := dataQuery("A", tt.queryType, tt.query)
			q.TimeRange.From = tt.from
			resp, err := d.QueryData(context.Background(), &backend.QueryDataRequest{Queries: []backend.DataQuery{q}})
			require.NoError(t, err)
			dr := resp.Responses["A"]
			require.NoError(t, dr.Error)
			experimental.CheckGoldenJSONResponse(t, "testdata", tt.name, &dr, *update)
		})
	}
}

func TestShapesErrors(t *testing.T) {
	d := newTestDatasource(t, shapesFixture())
	for _, tt := range []struct{ name, queryType, query, msg string }{
		{"forecast of a distinct count", "kpi", `{"kpi":"active_users","forecast":{"horizon":"day"}}`, "distinct counts do not add up"},
		{"lifecycle over two days", "kpi", `{"kpi":"lifecycle_stage"}`, "at least 8 whole weeks"},
		{"freshness by channel", "freshness", `{"filters":{"channel":["app"]}}`, "filtered by store only"},
		{"forecast over the series limit", "kpi", `{"kpi":"gmv","groupBy":["store","category"],"forecast":{"horizon":"day"}}`, "more than the limit of 20"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := d.QueryData(context.Background(), &backend.QueryDataRequest{Queries: []backend.DataQuery{dataQuery("A", tt.queryType, tt.query)}})
			require.NoError(t, err)
			r := resp.Responses["A"]
			require.ErrorContains(t, r.Error, tt.msg)
			require.Equal(t, backend.ErrorSourcePlugin, r.ErrorSource)
			require.Equal(t, backend.StatusBadRequest, r.Status)
		})
	}
}

// TestShapesCancelledAndShared: forecast, lifecycle and freshness queries
// waiting on InfluxDB stop when the request is cancelled; two wall screens
// asking for the same forecast at once share its reads.
func TestShapesCancelledAndShared(t *testing.T) {
	queries := []backend.DataQuery{
		dataQuery("F", "kpi", `{"kpi":"gmv","forecast":{"horizon":"day"}}`),
		dataQuery("L", "kpi", `{"kpi":"lifecycle_stage"}`),
		dataQuery("N", "freshness", `{}`),
	}
	queries[1].TimeRange.From = ts("2026-08-30T16:00:00Z")
	src := shapesFixture()
	src.block = make(chan struct{})
	d := newTestDatasource(t, src)
	requireCancelled(t, d, queries)

	src = shapesFixture()
	src.block = make(chan struct{})
	d = newTestDatasource(t, src)
	resps := make(chan backend.DataResponse, 2)
	for _, id := range []string{"A", "B"} {
		go func() {
			resp, err := d.QueryData(context.Background(), &backend.QueryDataRequest{Queries: []backend.DataQuery{
				dataQuery(id, "kpi", `{"kpi":"gmv","groupBy":["store"],"forecast":{"horizon":"day"}}`)}})
			require.NoError(t, err)
			resps <- resp.Responses[id]
		}()
	}
	require.Eventually(t, func() bool { return src.sums.Load() >= 1 }, 5*time.Second, time.Millisecond)
	time.Sleep(50 * time.Millisecond) // the second screen joins the read in flight
	close(src.block)
	a, b := <-resps, <-resps
	require.NoError(t, a.Error)
	require.NoError(t, b.Error)
	require.Equal(t, len(a.Frames), len(b.Frames))
	require.EqualValues(t, 1, src.sums.Load(), "the history read once for both screens (the clock is on the hour: nothing in progress)")
}
