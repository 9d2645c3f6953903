package plugin

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/backend/log"
	"github.com/grafana/grafana-plugin-sdk-go/experimental/datasourcetest"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/storepulse/storepulse/internal/calendar"
	"github.com/storepulse/storepulse/internal/influxtest"
	"github.com/storepulse/storepulse/internal/testclock"
)

func freeAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	return addr
}

// servePlugin runs the plugin behind real gRPC.
func servePlugin(t *testing.T) *datasourcetest.TestPluginClient {
	t.Helper()
	return servePluginWithClock(t, testclock.Clock())
}

// servePluginWithClock is servePlugin with the plugin's clock given.
func servePluginWithClock(t *testing.T, now func() time.Time) *datasourcetest.TestPluginClient {
	t.Helper()
	// Manage registers the SDK's metrics in the default registry and panics
	// if another test of this binary registered them already (as
	// plugintest.FreshMetricsRegistry, which this package cannot import).
	prometheus.DefaultRegisterer = prometheus.NewRegistry()
	tp, err := datasourcetest.Manage(NewFactory(log.NewNullLogger(), now, nil), datasourcetest.ManageOpts{Address: freeAddr(t)})
	require.NoError(t, err)
	t.Cleanup(func() { _ = tp.Shutdown() })
	return tp.Client
}

func pluginContext(id int64, influxURL, bucket string) backend.PluginContext {
	return pluginContextLang(id, influxURL, bucket, "")
}

// pluginContextLang is pluginContext reading with a query language ("" for
// the default, InfluxQL).
func pluginContextLang(id int64, influxURL, bucket, lang string) backend.PluginContext {
	return backend.PluginContext{PluginID: PluginID, DataSourceInstanceSettings: &backend.DataSourceInstanceSettings{
		ID: id, UID: fmt.Sprintf("ds%d", id), Name: "StorePulse", Updated: time.Unix(id, 0),
		JSONData:                []byte(fmt.Sprintf(`{"url":%q,"version":"1.8","bucket":%q,"timeZone":"Asia/Shanghai","queryLanguage":%q}`, influxURL, bucket, lang)),
		DecryptedSecureJSONData: map[string]string{"token": influxtest.Token},
	}}
}

func writeLP(t *testing.T, srv *influxtest.Server, lines ...string) { srv.WriteLines(t, lines) }

type collect struct{ resp *backend.CallResourceResponse }

func (c *collect) Send(r *backend.CallResourceResponse) error { c.resp = r; return nil }

func TestGRPCAgainstInfluxDB(t *testing.T) {
	srv := influxtest.Start(t)
	client := servePlugin(t)
	ctx := context.Background()
	pc := pluginContext(1, srv.URL, srv.Bucket)

	t.Run("health without StorePulse data", func(t *testing.T) {
		res, err := client.CheckHealth(ctx, &backend.CheckHealthRequest{PluginContext: pc})
		require.NoError(t, err)
		require.Equal(t, backend.HealthStatusError, res.Status)
		require.Contains(t, res.Message, "holds no StorePulse data at all")
	})

	// Two ingesters, two segment offsets, two stores: an hour ago and yesterday.
	now := testclock.Now().UTC().Truncate(time.Minute)
	ns := func(t time.Time, off int) string { return fmt.Sprint(t.UnixNano() + int64(off)) }
	h1 := now.Add(-time.Hour)
	writeLP(t, srv,
		"sp_ingest,ingester=i1,store=tmall,type=order events=3 "+ns(h1, 1),
		"sp_orders,channel=app,ingester=i1,store=tmall gmv=100,orders=1 "+ns(h1, 1),
		"sp_orders,channel=app,ingester=i1,store=tmall gmv=50,orders=1 "+ns(h1, 2),
		"sp_orders,channel=web,ingester=i2,store=tmall gmv=30,orders=1 "+ns(h1, 1),
		"sp_orders,channel=app,ingester=i1,store=jd gmv=20,orders=2 "+ns(h1, 1),
	)

	t.Run("health ok", func(t *testing.T) {
		res, err := client.CheckHealth(ctx, &backend.CheckHealthRequest{PluginContext: pc})
		require.NoError(t, err)
		require.Equal(t, backend.HealthStatusOk, res.Status, res.Message)
		require.Contains(t, res.Message, "has StorePulse data")
	})

	t.Run("health: bucket missing", func(t *testing.T) {
		res, err := client.CheckHealth(ctx, &backend.CheckHealthRequest{PluginContext: pluginContext(2, srv.URL, "nodb/autogen")})
		require.NoError(t, err)
		require.Equal(t, backend.HealthStatusError, res.Status)
		require.Contains(t, res.Message, `bucket "nodb/autogen" does not exist`)
	})

	t.Run("flux stays an option: health and the same numbers", func(t *testing.T) {
		fc := pluginContextLang(4, srv.URL, srv.Bucket, "flux")
		res, err := client.CheckHealth(ctx, &backend.CheckHealthRequest{PluginContext: fc})
		require.NoError(t, err)
		require.Equal(t, backend.HealthStatusOk, res.Status, res.Message)
		require.NotContains(t, res.Message, "InfluxQL")
		q := []backend.DataQuery{{RefID: "A", TimeRange: backend.TimeRange{From: now.Add(-24 * time.Hour), To: now}, MaxDataPoints: 10,
			JSON: []byte(`{"kpi":"aov","groupBy":["store","channel"],"interval":"1h"}`)}}
		viaFlux, err := client.QueryData(ctx, &backend.QueryDataRequest{PluginContext: fc, Queries: q})
		require.NoError(t, err)
		viaQL, err := client.QueryData(ctx, &backend.QueryDataRequest{PluginContext: pc, Queries: q})
		require.NoError(t, err)
		require.NoError(t, viaQL.Responses["A"].Error)
		require.Len(t, viaQL.Responses["A"].Frames, 3)
		fj, err := json.Marshal(viaFlux.Responses["A"].Frames)
		require.NoError(t, err)
		qj, err := json.Marshal(viaQL.Responses["A"].Frames)
		require.NoError(t, err)
		require.JSONEq(t, string(fj), string(qj))
	})

	t.Run("health: unreachable", func(t *testing.T) {
		res, err := client.CheckHealth(ctx, &backend.CheckHealthRequest{PluginContext: pluginContext(3, "http://"+freeAddr(t), srv.Bucket)})
		require.NoError(t, err)
		require.Equal(t, backend.HealthStatusError, res.Status)
		require.Contains(t, res.Message, "is unreachable")
	})

	t.Run("query data: AOV and GMV per store over the last day", func(t *testing.T) {
		tr := backend.TimeRange{From: now.Add(-24 * time.Hour), To: now}
		resp, err := client.QueryData(ctx, &backend.QueryDataRequest{PluginContext: pc, Queries: []backend.DataQuery{
			{RefID: "A", TimeRange: tr, MaxDataPoints: 10, JSON: []byte(`{"kpi":"gmv","groupBy":["store"],"interval":"day"}`)},
			{RefID: "B", TimeRange: tr, MaxDataPoints: 10, JSON: []byte(`{"kpi":"aov","filters":{"store":["tmall"],"channel":["$__all"]},"interval":"day"}`)},
			{RefID: "C", TimeRange: tr, JSON: []byte(`{"kpi":"gmv","filters":{"campaign":["x"]},"groupBy":["reason"]}`)},
		}})
		require.NoError(t, err)
		a := resp.Responses["A"]
		require.NoError(t, a.Error)
		got := map[string]float64{}
		for _, f := range a.Frames {
			v := f.Fields[1]
			total := 0.0
			for i := range v.Len() {
				if x, ok := v.ConcreteAt(i); ok {
					total += x.(float64)
				}
			}
			got[v.Labels["store"]] = total
			require.Equal(t, "currency:CNY", v.Config.Unit)
		}
		require.Equal(t, map[string]float64{"tmall": 180, "jd": 20}, got)
		b := resp.Responses["B"]
		require.NoError(t, b.Error)
		require.Len(t, b.Frames, 1)
		var last float64
		for i := range b.Frames[0].Fields[1].Len() {
			if x, ok := b.Frames[0].Fields[1].ConcreteAt(i); ok {
				last = x.(float64)
			}
		}
		require.InDelta(t, 60.0, last, 1e-9) // 180 / 3, summed across offsets and ingesters
		c := resp.Responses["C"]
		require.ErrorContains(t, c.Error, "cannot be grouped by \"reason\"")
		require.Equal(t, backend.ErrorSourcePlugin, c.ErrorSource)
	})

	t.Run("query data: topN, funnel, campaigns, calendar and anomalies", func(t *testing.T) {
		c := calendar.Campaign{ID: "flash", Name: "Flash sale", Kind: "flash", Phases: []calendar.Phase{
			{Name: calendar.PhasePeak, Start: now.Add(-3 * time.Hour), End: now.Add(-2 * time.Hour)}}}
		line, err := calendar.CampaignLine(&c, false)
		require.NoError(t, err)
		writeLP(t, srv, line, "sp_traffic,channel=app,ingester=i1,store=tmall sessions=10,cart_sessions=4 "+ns(h1, 1))
		tr := backend.TimeRange{From: now.Add(-24 * time.Hour), To: now}
		resp, err := client.QueryData(ctx, &backend.QueryDataRequest{PluginContext: pc, Queries: []backend.DataQuery{
			{RefID: "T", TimeRange: tr, JSON: []byte(`{"kpi":"gmv","topN":{"n":1,"by":"store"},"interval":"day"}`)},
			{RefID: "F", TimeRange: tr, JSON: []byte(`{"funnel":true}`)},
			{RefID: "C", QueryType: "campaigns", TimeRange: tr, JSON: []byte(`{}`)},
			{RefID: "L", QueryType: "calendar", TimeRange: tr, JSON: []byte(`{}`)},
			{RefID: "Y", TimeRange: tr, JSON: []byte(`{"kpi":"sessions","interval":"1h","anomaly":{"sensitivity":"high","weeks":4}}`)},
			{RefID: "N", QueryType: "anomalies", TimeRange: tr, JSON: []byte(`{"kpi":"sessions","groupBy":["store"]}`)},
		}})
		require.NoError(t, err)
		top := resp.Responses["T"]
		require.NoError(t, top.Error)
		require.Len(t, top.Frames, 2)
		require.Equal(t, "tmall", top.Frames[0].Fields[1].Labels["store"])
		require.Equal(t, "other", top.Frames[1].Fields[1].Labels["store"])
		fn := resp.Responses["F"]
		require.NoError(t, fn.Error)
		var steps []float64
		for i := range fn.Frames[0].Fields[1].Len() {
			steps = append(steps, fn.Frames[0].Fields[1].At(i).(float64))
		}
		require.Equal(t, []float64{10, 4, 5, 0}, steps)
		cr := resp.Responses["C"]
		require.NoError(t, cr.Error)
		require.Equal(t, 1, cr.Frames[0].Rows())
		require.Equal(t, "Flash sale: peak", cr.Frames[0].Fields[2].At(0))
		cl := resp.Responses["L"]
		require.NoError(t, cl.Error)
		require.Equal(t, 3, cl.Frames[0].Rows(), "range start, peak start, peak end")
		an := resp.Responses["Y"]
		require.NoError(t, an.Error)
		require.Len(t, an.Frames, 6)
		var outputs []string
		for _, f := range an.Frames[1:] {
			outputs = append(outputs, f.Fields[1].Labels["output"])
		}
		require.Equal(t, []string{"expected", "lower", "upper", "score", "anomaly"}, outputs)
		ar := resp.Responses["N"]
		require.NoError(t, ar.Error)
		require.Len(t, ar.Frames, 1)
		require.Equal(t, "anomalies", ar.Frames[0].Name)
	})

	t.Run("resources", func(t *testing.T) {
		var c collect
		require.NoError(t, client.CallResource(ctx, &backend.CallResourceRequest{PluginContext: pc, Method: http.MethodGet, Path: "kpis", URL: "kpis"}, &c))
		require.Equal(t, http.StatusOK, c.resp.Status)
		var kpis struct {
			KPIs []KPIInfo `json:"kpis"`
		}
		require.NoError(t, json.Unmarshal(c.resp.Body, &kpis))
		require.GreaterOrEqual(t, len(kpis.KPIs), 45)
		require.Equal(t, "gmv", kpis.KPIs[4].ID)
		require.Equal(t, "sum(gmv)", kpis.KPIs[4].Formula)

		require.NoError(t, client.CallResource(ctx, &backend.CallResourceRequest{PluginContext: pc, Method: http.MethodGet,
			Path: "dimensions", URL: "dimensions?dim=channel&store=tmall"}, &c))
		require.Equal(t, http.StatusOK, c.resp.Status, string(c.resp.Body))
		require.JSONEq(t, `{"dimension":"channel","values":["app","web"]}`, string(c.resp.Body))

		require.NoError(t, client.CallResource(ctx, &backend.CallResourceRequest{PluginContext: pc, Method: http.MethodGet,
			Path: "dimensions", URL: "dimensions?dim=ingester"}, &c))
		require.Equal(t, http.StatusBadRequest, c.resp.Status)
	})
}

// TestHealthBadToken: an InfluxDB 2.x answering 401 to queries (InfluxDB
// 1.8 in the tests runs without authentication), read with either language.
func TestHealthBadToken(t *testing.T) {
	fake := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/ping" {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = w.Write([]byte(`{"code":"unauthorized","message":"unauthorized access"}`))
	}))
	defer fake.Close()
	for _, lang := range []string{"", "flux"} {
		t.Run("language "+lang, func(t *testing.T) {
			d, err := New(context.Background(), backend.DataSourceInstanceSettings{
				JSONData:                []byte(fmt.Sprintf(`{"url":%q,"version":"2.x","org":"o","bucket":"b","queryLanguage":%q}`, fake.URL, lang)),
				DecryptedSecureJSONData: map[string]string{"token": "wrong"}}, log.NewNullLogger(), testclock.Clock())
			require.NoError(t, err)
			defer d.Dispose()
			res, err := d.CheckHealth(context.Background(), &backend.CheckHealthRequest{})
			require.NoError(t, err)
			require.Equal(t, backend.HealthStatusError, res.Status)
			require.Contains(t, res.Message, "rejected the token (401)")
			require.NotContains(t, res.Message, "wrong")

			// And a query against it is a downstream error.
			resp, err := d.QueryData(context.Background(), &backend.QueryDataRequest{Queries: []backend.DataQuery{
				{RefID: "A", TimeRange: backend.TimeRange{From: testclock.Now().Add(-time.Hour), To: testclock.Now()}, JSON: []byte(`{"kpi":"gmv"}`)}}})
			require.NoError(t, err)
			require.Equal(t, backend.ErrorSourceDownstream, resp.Responses["A"].ErrorSource)
			require.Equal(t, backend.StatusBadGateway, resp.Responses["A"].Status)
			// A sum reads the consolidation watermarks first (cached a minute).
			require.ErrorContains(t, resp.Responses["A"].Error, "InfluxDB: reading the consolidation watermarks failed")
			require.NotContains(t, resp.Responses["A"].Error.Error(), "wrong")
		})
	}
}

// TestHealthInfluxDB3: InfluxDB 3.x has no Flux, and its /health answers
// plain text and needs the token; the InfluxQL health check uses /ping and
// /query with the token.
func TestHealthInfluxDB3(t *testing.T) {
	var queries []string
	fake := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Token apiv3_good" {
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte("unauthorized access\n"))
			return
		}
		switch r.URL.Path {
		case "/health":
			_, _ = w.Write([]byte("OK"))
		case "/ping":
			_, _ = w.Write([]byte(`{"version":"3.1.0","revision":"x","process_id":"y"}`))
		case "/query":
			queries = append(queries, r.URL.Query().Get("db")+"|"+r.URL.Query().Get("rp")+"|"+r.URL.Query().Get("q"))
			if r.URL.Query().Get("db") != "storepulse" {
				w.WriteHeader(http.StatusNotFound)
				_, _ = w.Write([]byte(`{"error":"database not found: ` + r.URL.Query().Get("db") + `"}`))
				return
			}
			_, _ = w.Write([]byte(`{"results":[{"statement_id":0,"series":[{"name":"sp_ingest","columns":["time","last"],"values":[["2026-06-10T05:00:00Z",3]]}]}]}`))
		default:
			w.WriteHeader(http.StatusNotFound)
		}
	}))
	defer fake.Close()
	check := func(bucket, token string) *backend.CheckHealthResult {
		d, err := New(context.Background(), backend.DataSourceInstanceSettings{
			JSONData:                []byte(fmt.Sprintf(`{"url":%q,"version":"3.x","bucket":%q}`, fake.URL, bucket)),
			DecryptedSecureJSONData: map[string]string{"token": token}}, log.NewNullLogger(), testclock.Clock())
		require.NoError(t, err)
		defer d.Dispose()
		res, err := d.CheckHealth(context.Background(), &backend.CheckHealthRequest{})
		require.NoError(t, err)
		return res
	}
	res := check("storepulse", "apiv3_good")
	require.Equal(t, backend.HealthStatusOk, res.Status, res.Message)
	require.Contains(t, res.Message, "read with InfluxQL")
	m := regexp.MustCompile(`^storepulse\|\|SELECT last\("events"\) FROM "sp_ingest" WHERE time >= '([0-9T:.-]+Z)'$`).FindStringSubmatch(queries[0])
	require.NotNil(t, m, queries[0])
	since, err := time.Parse(time.RFC3339Nano, m[1])
	require.NoError(t, err)
	// The plugin's clock is the tests' (testclock), running since the test
	// binary started: 30 days before it.
	want := testclock.Now().Add(-30 * 24 * time.Hour)
	require.False(t, since.Before(want), "%s is 30 days before the tests' now (%s)", since, want)
	require.Less(t, since.Sub(want), 30*time.Minute)
	res = check("storepulse", "apiv3_bad")
	require.Equal(t, backend.HealthStatusError, res.Status)
	require.Contains(t, res.Message, "rejected the token (401)")
	res = check("nodb", "apiv3_good")
	require.Equal(t, backend.HealthStatusError, res.Status)
	require.Contains(t, res.Message, `bucket "nodb" does not exist`)
}

// TestHealthOnHistoryOnlyData: a datasource full of last year's data (an
// imported platform export) is a warning that says what it found, not an
// error, on both read paths.
func TestHealthOnHistoryOnlyData(t *testing.T) {
	srv := influxtest.Start(t)
	client := servePlugin(t)
	ctx := context.Background()
	old := testclock.Now().AddDate(-1, 0, -3).UTC().Truncate(time.Minute)
	writeLP(t, srv,
		fmt.Sprintf("sp_ingest,ingester=i1,store=tmall,type=order events=3 %d", old.UnixNano()),
		fmt.Sprintf("sp_ingest,ingester=i1,store=jd,type=order events=1 %d", old.Add(-time.Hour).UnixNano()))
	for i, lang := range []string{"", "flux"} {
		t.Run("lang "+lang, func(t *testing.T) {
			res, err := client.CheckHealth(ctx, &backend.CheckHealthRequest{PluginContext: pluginContextLang(int64(40+i), srv.URL, srv.Bucket, lang)})
			require.NoError(t, err)
			require.Equal(t, backend.HealthStatusOk, res.Status, res.Message)
			require.Contains(t, res.Message, "warning: bucket")
			require.Contains(t, res.Message, "none from the last 30 days")
			require.Contains(t, res.Message, old.In(time.FixedZone("CST", 8*3600)).Format("2006-01-02 15:04"), "names the newest data")
			require.Contains(t, res.Message, "368 days ago")
		})
	}
}
