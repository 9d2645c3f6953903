package plugin

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/axiomhq/hyperloglog"
	"github.com/cespare/xxhash/v2"
	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/backend/log"
	"github.com/grafana/grafana-plugin-sdk-go/data"
	"github.com/grafana/grafana-plugin-sdk-go/experimental"
	"github.com/stretchr/testify/require"

	"github.com/storepulse/storepulse/datasource/pkg/bucket"
	"github.com/storepulse/storepulse/datasource/pkg/engine"
	"github.com/storepulse/storepulse/datasource/pkg/models"
	"github.com/storepulse/storepulse/internal/calendar"
	"github.com/storepulse/storepulse/internal/kpi"
	"github.com/storepulse/storepulse/internal/schema"
	"github.com/storepulse/storepulse/internal/sketch"
)

// fakeSource serves hourly sums and daily sketches of a few fixed points,
// grouped as the spec asks. It stands in for InfluxDB in shape tests; the
// real InfluxDB is exercised in grpc_test.go and the engine's tests.
type fakeSource struct {
	points []fakePoint
	block  chan struct{} // when set, queries wait for it or the context
	sums   atomic.Int64  // Sums calls
	// gmv day targets
	targets   []engine.TargetRow
	campaigns []calendar.Campaign
}

type fakePoint struct {
	t     time.Time
	term  engine.Term
	tags  map[string]string
	v     float64
	kind  string // sketch kind instead of a sum
	users int
}

func (f *fakeSource) wait(ctx context.Context) error {
	if f.block == nil {
		return nil
	}
	select {
	case <-f.block:
		return nil
	case <-ctx.Done():
		return backend.DownstreamError(ctx.Err())
	}
}

func match(tags map[string]string, filters map[string][]string) bool {
	for d, vs := range filters {
		if !slices.Contains(vs, tags[d]) {
			return false
		}
	}
	return true
}

func groups(tags map[string]string, by []string) []string {
	out := make([]string, len(by))
	for i, g := range by {
		out[i] = tags[g]
	}
	return out
}

func (f *fakeSource) Sums(ctx context.Context, spec engine.SumSpec) ([]engine.SumRow, error) {
	f.sums.Add(1)
	if err := f.wait(ctx); err != nil {
		return nil, err
	}
	var out []engine.SumRow
	for _, p := range f.points {
		if p.kind == "" && !p.t.Before(spec.Start) && p.t.Before(spec.Stop) && slices.Contains(spec.Terms, p.term) && match(p.tags, spec.Filters) {
			out = append(out, engine.SumRow{Time: p.t.Truncate(spec.Every), Term: p.term, Groups: groups(p.tags, spec.GroupBy), Value: p.v})
		}
	}
	return out, nil
}

func (f *fakeSource) Sketches(ctx context.Context, spec engine.SketchSpec, fn func(engine.SketchRow) error) error {
	if err := f.wait(ctx); err != nil {
		return err
	}
	for _, p := range f.points {
		if p.kind == "" || !slices.Contains(spec.Kinds, p.kind) || p.t.Before(spec.Start) || !p.t.Before(spec.Stop) || !match(p.tags, spec.Filters) {
			continue
		}
		sk := hyperloglog.New14()
		for i := range p.users {
			sk.InsertHash(xxhash.Sum64String("u" + strconv.Itoa(i)))
		}
		enc, err := sketch.Encode(sk)
		if err != nil {
			return err
		}
		if err := fn(engine.SketchRow{Time: p.t, Kind: p.kind, Groups: groups(p.tags, spec.GroupBy), Sketch: enc}); err != nil {
			return err
		}
	}
	return nil
}

func (f *fakeSource) DimensionValues(_ context.Context, spec engine.DimensionSpec) ([]string, error) {
	var out []string
	for _, p := range f.points {
		if v := p.tags[spec.Dimension]; v != "" && !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	slices.Sort(out)
	return out, nil
}

func (f *fakeSource) Targets(_ context.Context, spec engine.TargetSpec) ([]engine.TargetRow, error) {
	var out []engine.TargetRow
	for _, r := range f.targets {
		if spec.KPI == "gmv" && spec.Period == "day" && !r.Time.Before(spec.Start) && r.Time.Before(spec.Stop) && slices.Contains(spec.Stores, r.Store) {
			out = append(out, r)
		}
	}
	return out, nil
}

func (f *fakeSource) Campaigns(context.Context) ([]calendar.Campaign, error) {
	return slices.Clone(f.campaigns), nil
}

func ts(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func fixture() *fakeSource {
	gmv := engine.Term{Measurement: schema.MeasOrders, Field: schema.FieldGMV}
	orders := engine.Term{Measurement: schema.MeasOrders, Field: schema.FieldOrders}
	tmall, jd := map[string]string{"store": "tmall"}, map[string]string{"store": "jd"}
	day1, day2 := "2026-11-10T16:00:00Z", "2026-11-11T16:00:00Z" // Shanghai 11 and 12 Nov
	lastWeek := "2026-11-03T16:00:00Z"
	return &fakeSource{points: []fakePoint{
		{t: ts(day1).Add(time.Hour), term: gmv, tags: tmall, v: 1200},
		{t: ts(day1).Add(time.Hour), term: orders, tags: tmall, v: 10},
		{t: ts(day1).Add(2 * time.Hour), term: gmv, tags: jd, v: 300},
		{t: ts(day1).Add(2 * time.Hour), term: orders, tags: jd, v: 2},
		{t: ts(day2).Add(time.Hour), term: gmv, tags: tmall, v: 600},
		{t: ts(day2).Add(time.Hour), term: orders, tags: tmall, v: 5},
		{t: ts(lastWeek).Add(time.Hour), term: gmv, tags: tmall, v: 1000},
		{t: ts(lastWeek).Add(time.Hour), term: orders, tags: tmall, v: 8},
		{t: ts(day1), kind: schema.KindActive, tags: tmall, users: 40},
		{t: ts(day1), kind: schema.KindActive, tags: jd, users: 10},
		{t: ts(day1).Add(time.Hour), term: engine.Term{Measurement: schema.MeasTraffic, Field: schema.FieldSessions}, tags: tmall, v: 200},
		{t: ts(day1).Add(time.Hour), term: engine.Term{Measurement: schema.MeasTraffic, Field: schema.FieldCartSessions}, tags: tmall, v: 40},
		{t: ts(day1).Add(time.Hour), term: engine.Term{Measurement: schema.MeasPayments, Field: schema.FieldPaidOrders}, tags: tmall, v: 9},
		{t: ts(day1), kind: schema.KindPaidOrder, tags: tmall, users: 9}, // the 9 payments' orders
		{t: ts(day1).Add(time.Hour), term: engine.Term{Measurement: schema.MeasTraffic, Field: schema.FieldSessions}, tags: jd, v: 50},
	}, campaigns: []calendar.Campaign{
		{ID: "d11-2026", Name: "Double Eleven 2026", Kind: "double11", Stores: []string{"tmall", "jd"}, Phases: []calendar.Phase{
			{Name: calendar.PhasePreSale, Start: ts("2026-10-31T12:00:00Z"), End: ts("2026-11-10T16:00:00Z")},
			{Name: calendar.PhasePeak, Start: ts("2026-11-10T16:00:00Z"), End: ts("2026-11-11T16:00:00Z")},
			{Name: calendar.PhaseAfterSales, Start: ts("2026-11-11T16:00:00Z"), End: ts("2026-11-19T16:00:00Z")}}},
		{ID: "flash-1112", Name: "Flash sale", Kind: "flash", Phases: []calendar.Phase{
			{Name: calendar.PhaseActivity, Start: ts("2026-11-12T02:00:00Z"), End: ts("2026-11-12T04:00:00Z")}}},
	}, targets: []engine.TargetRow{
		{Time: ts(day1), Store: "tmall", Value: 1000}, {Time: ts(day2), Store: "tmall", Value: 1200}, {Time: ts(day2), Store: "jd", Value: 0},
	}}
}

func testSettings(t *testing.T) models.Settings {
	s, err := models.LoadSettings("http://influx.invalid:8086", []byte(`{"version":"2.x","bucket":"storepulse","seriesLimit":20}`), nil)
	require.NoError(t, err)
	return s
}

// requireCancelled sends queries that block on the source, cancels the
// request, and requires every query to answer with a downstream
// cancellation error within 5 s.
func requireCancelled(t *testing.T, d *Datasource, queries []backend.DataQuery) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan *backend.QueryDataResponse)
	go func() {
		resp, _ := d.QueryData(ctx, &backend.QueryDataRequest{Queries: queries})
		done <- resp
	}()
	time.Sleep(50 * time.Millisecond)
	cancel()
	select {
	case resp := <-done:
		require.Len(t, resp.Responses, len(queries))
		for id, r := range resp.Responses {
			require.ErrorIs(t, r.Error, context.Canceled, id)
			require.Equal(t, backend.ErrorSourceDownstream, r.ErrorSource, id)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("QueryData ignored the cancellation")
	}
}

func newTestDatasource(t *testing.T, src engine.Source) *Datasource {
	return newDatasource(testSettings(t), src, log.NewNullLogger(), func() time.Time { return ts("2026-11-12T06:00:00Z") })
}

func dataQuery(refID, queryType, js string) backend.DataQuery {
	return backend.DataQuery{RefID: refID, QueryType: queryType, JSON: json.RawMessage(js), MaxDataPoints: 1000,
		Interval: time.Minute, TimeRange: backend.TimeRange{From: ts("2026-11-10T16:00:00Z"), To: ts("2026-11-12T16:00:00Z")}}
}

// TestGoldenFrames pins every response shape: run with -update to rewrite.
func TestGoldenFrames(t *testing.T) {
	tests := []struct {
		name, queryType, query string
	}{
		{"kpi_single_series", "", `{"kpi":"gmv","interval":"day"}`},
		{"kpi_by_store_ratio_with_null", "kpi", `{"kpi":"aov","interval":"day","groupBy":["store"]}`},
		{"kpi_compare_1w", "kpi", `{"kpi":"gmv","interval":"day","filters":{"store":["{tmall}"]},"compare":"1w"}`},
		{"kpi_distinct_by_store", "kpi", `{"kpi":"active_users","interval":"day","groupBy":["store"]}`},
		{"dimensions", "dimensions", `{"dimension":"store"}`},
		{"kpi_target_by_store", "kpi", `{"kpi":"gmv","interval":"day","groupBy":["store"],"target":true,"filters":{"store":["tmall","jd"]}}`},
		{"kpi_cumulative_mtd", "kpi", `{"kpi":"orders","interval":"day","cumulative":"mtd"}`},
		{"kpi_top1_store_with_other", "kpi", `{"kpi":"gmv","interval":"day","topN":{"n":1,"by":"store"}}`},
		{"contribution_ratio_by_store", "kpi", `{"kpi":"aov","compare":"1w","contribution":{"dimension":"store"}}`},
		{"contribution_sum_by_store", "kpi", `{"kpi":"gmv","compare":"1d","contribution":{"dimension":"store"}}`},
		{"funnel_by_store", "kpi", `{"funnel":true,"groupBy":["store"]}`},
		{"kpi_whole_range_by_store", "kpi", `{"kpi":"active_users","interval":"range","groupBy":["store"]}`},
		{"campaigns", "campaigns", `{"filters":{"store":["tmall"]}}`},
		{"calendar", "calendar", `{}`},
		{"insights_nothing_unusual", "insights", `{"filters":{"store":["tmall"]}}`},
	}
	d := newTestDatasource(t, fixture())
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := d.QueryData(context.Background(), &backend.QueryDataRequest{Queries: []backend.DataQuery{dataQuery("A", tt.queryType, tt.query)}})
			require.NoError(t, err)
			dr := resp.Responses["A"]
			experimental.CheckGoldenJSONResponse(t, "testdata", tt.name, &dr, *update)
		})
	}
}

func TestQueryDataErrorsAndSources(t *testing.T) {
	d := newTestDatasource(t, fixture())
	tests := []struct {
		name, queryType, query string
		status                 backend.Status
		source                 backend.ErrorSource
		msg                    string
	}{
		{"unknown kpi", "kpi", `{"kpi":"nope"}`, backend.StatusBadRequest, backend.ErrorSourcePlugin, "unknown KPI \"nope\""},
		{"bad json", "", `{"kpi":`, backend.StatusBadRequest, backend.ErrorSourcePlugin, "invalid query JSON"},
		{"unknown query type", "anomaly", `{}`, backend.StatusBadRequest, backend.ErrorSourcePlugin, "unknown query type"},
		{"series limit", "", `{"kpi":"gmv","groupBy":["store"],"compare":"1d","interval":"1h"}`, backend.StatusOK, "", ""},
		{"anomaly by day", "", `{"kpi":"gmv","interval":"day","anomaly":{}}`, backend.StatusBadRequest, backend.ErrorSourcePlugin, "1h or finer"},
		{"anomalies with compare", "anomalies", `{"kpi":"gmv","interval":"1h","compare":"1d"}`, backend.StatusBadRequest, backend.ErrorSourcePlugin, "no compare"},
		{"forecast horizon", "", `{"kpi":"gmv","forecast":{"horizon":"year"}}`, backend.StatusBadRequest, backend.ErrorSourcePlugin, "horizon must be day or month"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := d.QueryData(context.Background(), &backend.QueryDataRequest{Queries: []backend.DataQuery{dataQuery("A", tt.queryType, tt.query)}})
			require.NoError(t, err)
			r := resp.Responses["A"]
			if tt.msg == "" {
				require.NoError(t, r.Error)
				return
			}
			require.ErrorContains(t, r.Error, tt.msg)
			require.Equal(t, tt.status, r.Status)
			require.Equal(t, tt.source, r.ErrorSource)
		})
	}

	// Limit 20 with 2 stores × (1 + 3 outputs) = 8 passes above; a limit of 5 refuses.
	s := testSettings(t)
	s.SeriesLimit = 5
	small := newDatasource(s, fixture(), log.NewNullLogger(), func() time.Time { return ts("2026-11-12T06:00:00Z") })
	resp, err := small.QueryData(context.Background(), &backend.QueryDataRequest{Queries: []backend.DataQuery{
		dataQuery("A", "", `{"kpi":"gmv","groupBy":["store"],"compare":"1d"}`)}})
	require.NoError(t, err)
	require.ErrorContains(t, resp.Responses["A"].Error, "returns 8 series, more than the limit of 5")
	require.Equal(t, backend.ErrorSourcePlugin, resp.Responses["A"].ErrorSource)
	var le *engine.SeriesLimitError
	require.True(t, errors.As(resp.Responses["A"].Error, &le))
}

func TestQueryDataConcurrentAndCancelled(t *testing.T) {
	src := fixture()
	src.block = make(chan struct{})
	d := newTestDatasource(t, src)
	var qs []backend.DataQuery
	for i := range 8 {
		qs = append(qs, dataQuery(strconv.Itoa(i), "", `{"kpi":"gmv","interval":"day"}`))
	}
	// Cancelled while every query waits on InfluxDB: all answer, as downstream errors.
	requireCancelled(t, d, qs)
	// Unblocked: all eight succeed, with the same numbers.
	close(src.block)
	resp, err := d.QueryData(context.Background(), &backend.QueryDataRequest{Queries: qs})
	require.NoError(t, err)
	for id, r := range resp.Responses {
		require.NoError(t, r.Error, id)
		v, _ := r.Frames[0].Fields[1].ConcreteAt(0)
		require.InDelta(t, 1500.0, v, 1e-9, id)
	}
}

// TestQueryCache: identical queries of two concurrent requests (two wall
// screens) reach InfluxDB once; within the TTL they are served from memory,
// after it they are read again; a datasource with cacheTTL 0s reads every time.
func TestQueryCache(t *testing.T) {
	var mu sync.Mutex
	now := ts("2026-11-12T06:00:00Z")
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); defer mu.Unlock(); now = now.Add(d) }

	src := fixture()
	src.block = make(chan struct{})
	d := newDatasource(testSettings(t), src, log.NewNullLogger(), clock)
	query := func(refID string) *backend.QueryDataResponse {
		q := dataQuery(refID, "", `{"kpi":"gmv","interval":"day","groupBy":["store"]}`)
		q.TimeRange.To = q.TimeRange.To.Add(time.Duration(len(refID)) * time.Second) // screens a moment apart: same buckets
		resp, err := d.QueryData(context.Background(), &backend.QueryDataRequest{Queries: []backend.DataQuery{q}})
		require.NoError(t, err)
		return resp
	}
	var wg sync.WaitGroup
	resps := make([]*backend.QueryDataResponse, 2)
	for i, id := range []string{"A", "BB"} {
		wg.Add(1)
		go func() { defer wg.Done(); resps[i] = query(id) }()
	}
	require.Eventually(t, func() bool { return src.sums.Load() == 1 }, 5*time.Second, time.Millisecond)
	time.Sleep(50 * time.Millisecond) // the second request joins the read in flight
	close(src.block)
	wg.Wait()
	require.EqualValues(t, 1, src.sums.Load(), "two concurrent identical queries, one InfluxDB query")
	a, b := resps[0].Responses["A"], resps[1].Responses["BB"]
	require.NoError(t, a.Error)
	require.NoError(t, b.Error)
	require.Len(t, a.Frames, 2)
	for i := range a.Frames {
		require.Equal(t, a.Frames[i].Fields[1].Labels, b.Frames[i].Fields[1].Labels)
		v, _ := a.Frames[i].Fields[1].ConcreteAt(0)
		w, _ := b.Frames[i].Fields[1].ConcreteAt(0)
		require.Equal(t, v, w)
	}

	advance(models.DefaultCacheTTL - time.Second)
	require.NoError(t, query("A").Responses["A"].Error)
	require.EqualValues(t, 1, src.sums.Load(), "within the TTL: from memory")
	advance(2 * time.Second)
	require.NoError(t, query("A").Responses["A"].Error)
	require.EqualValues(t, 2, src.sums.Load(), "after the TTL: read again")

	s := testSettings(t)
	s.CacheTTL = 0
	uncached := fixture()
	d = newDatasource(s, uncached, log.NewNullLogger(), clock)
	for range 2 {
		resp, err := d.QueryData(context.Background(), &backend.QueryDataRequest{Queries: []backend.DataQuery{dataQuery("A", "", `{"kpi":"gmv","interval":"day"}`)}})
		require.NoError(t, err)
		require.NoError(t, resp.Responses["A"].Error)
	}
	require.EqualValues(t, 2, uncached.sums.Load())
}

// anomalyFixture adds three more weeks of history to the fixture: tmall at
// 01:00, 02:00 and 03:00, jd at 02:00 (Shanghai). 11 Nov is Double Eleven's peak
// (tmall and jd), 4 Nov in its pre-sale (left out of the baseline).
func anomalyFixture() *fakeSource {
	f := fixture()
	gmv := engine.Term{Measurement: schema.MeasOrders, Field: schema.FieldGMV}
	tmall, jd := map[string]string{"store": "tmall"}, map[string]string{"store": "jd"}
	for w, v := range []float64{900, 1100, 950} {
		day := ts("2026-11-10T16:00:00Z").AddDate(0, 0, -7*(w+2))
		f.points = append(f.points,
			fakePoint{t: day.Add(time.Hour), term: gmv, tags: tmall, v: v},
			fakePoint{t: day.Add(2 * time.Hour), term: gmv, tags: tmall, v: 480 + 20*float64(w)},
			fakePoint{t: day.Add(3 * time.Hour), term: gmv, tags: tmall, v: 500 + 20*float64(w)},
			fakePoint{t: day.Add(2 * time.Hour), term: gmv, tags: jd, v: 50 + 5*float64(w)})
	}
	// both stores sold before their oldest history week (a first day is not history)
	before := ts("2026-11-10T16:00:00Z").AddDate(0, 0, -28).Add(-11 * time.Hour)
	f.points = append(f.points, fakePoint{t: before.Add(-time.Hour), term: gmv, tags: tmall, v: 10}, fakePoint{t: before.Add(-time.Hour), term: gmv, tags: jd, v: 10})
	return f
}

// TestGoldenAnomalyFrames pins the anomaly transform's series and the
// anomalies annotation table: tmall's high 01:00 is a campaign peak (not
// flagged), its missing 02:00 and 03:00 sales are (two hours running).
func TestGoldenAnomalyFrames(t *testing.T) {
	d := newTestDatasource(t, anomalyFixture())
	for _, tt := range []struct{ name, queryType, query string }{
		{"kpi_anomaly_by_store", "kpi", `{"kpi":"gmv","interval":"1h","groupBy":["store"],"anomaly":{"sensitivity":"medium","weeks":4}}`},
		{"anomalies_by_store", "anomalies", `{"kpi":"gmv","interval":"1h","groupBy":["store"],"anomaly":{"weeks":4}}`},
		{"kpi_anomaly_flag_only_by_store", "kpi", `{"kpi":"gmv","interval":"1h","groupBy":["store"],"anomaly":{"sensitivity":"medium","weeks":4,"flagOnly":true}}`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			q := dataQuery("A", tt.queryType, tt.query)
			q.TimeRange = backend.TimeRange{From: ts("2026-11-10T16:00:00Z"), To: ts("2026-11-10T20:00:00Z")}
			resp, err := d.QueryData(context.Background(), &backend.QueryDataRequest{Queries: []backend.DataQuery{q}})
			require.NoError(t, err)
			dr := resp.Responses["A"]
			require.NoError(t, dr.Error)
			experimental.CheckGoldenJSONResponse(t, "testdata", tt.name, &dr, *update)
		})
	}
}

// TestAnomalyFlagOnlyFrames: with flagOnly the frames are the flag frames
// of the same query without it (labels output=anomaly, the same values), so
// an alert rule's max >= 1 fires on exactly what the panel flags; the
// anomalies query type refuses flagOnly.
func TestAnomalyFlagOnlyFrames(t *testing.T) {
	d := newTestDatasource(t, anomalyFixture())
	run := func(queryType, query string) backend.DataResponse {
		q := dataQuery("A", queryType, query)
		q.TimeRange = backend.TimeRange{From: ts("2026-11-10T16:00:00Z"), To: ts("2026-11-10T20:00:00Z")}
		resp, err := d.QueryData(context.Background(), &backend.QueryDataRequest{Queries: []backend.DataQuery{q}})
		require.NoError(t, err)
		return resp.Responses["A"]
	}
	full := run("kpi", `{"kpi":"gmv","interval":"1h","groupBy":["store"],"anomaly":{"weeks":4}}`)
	require.NoError(t, full.Error)
	only := run("kpi", `{"kpi":"gmv","interval":"1h","groupBy":["store"],"anomaly":{"weeks":4,"flagOnly":true}}`)
	require.NoError(t, only.Error)
	var want data.Frames
	for _, f := range full.Frames {
		if f.Fields[1].Labels["output"] == engine.RoleAnomaly {
			want = append(want, f)
		}
	}
	require.Len(t, want, 2, "tmall and jd")
	require.Equal(t, want, only.Frames)
	flagged := 0
	for _, f := range only.Frames {
		for i := range f.Fields[1].Len() {
			if v, ok := f.Fields[1].ConcreteAt(i); ok && v.(float64) == 1 {
				flagged++
			}
		}
	}
	require.Equal(t, 2, flagged, "tmall's missing 02:00 and 03:00 sales")

	r := run("anomalies", `{"kpi":"gmv","interval":"1h","groupBy":["store"],"anomaly":{"weeks":4,"flagOnly":true}}`)
	require.ErrorContains(t, r.Error, "flagOnly is for kpi queries")
	require.Equal(t, backend.StatusBadRequest, r.Status)
	require.Equal(t, backend.ErrorSourcePlugin, r.ErrorSource)
}

// TestAnomalyLearningNotice: a series still learning carries its notice on
// each anomaly output's frame (Grafana shows it on the panel), not a band of
// zeros.
func TestAnomalyLearningNotice(t *testing.T) {
	k, ok := kpi.Default().Get("gmv")
	require.True(t, ok)
	res := &engine.Result{KPI: k, GroupBy: []string{"store"}, Step: bucket.Step{Fixed: time.Hour}, Anomaly: 3,
		Times: []time.Time{ts("2026-11-23T02:00:00Z")},
		Series: []engine.Series{
			{Role: engine.RoleCurrent, Groups: []string{"new"}, Values: []*float64{nil}},
			{Role: engine.RoleExpected, Groups: []string{"new"}, Values: []*float64{nil}, Notice: "learning: 5 days of 21"},
		}}
	frames := seriesFrames(res, "CNY")
	require.Len(t, frames, 2)
	require.Empty(t, frames[0].Meta.Notices)
	require.Equal(t, []data.Notice{{Severity: data.NoticeSeverityInfo, Text: "GMV new expected: learning: 5 days of 21"}}, frames[1].Meta.Notices)
	require.Equal(t, "learning: 5 days of 21", frames[1].Meta.Custom.(map[string]any)["learning"])
}
