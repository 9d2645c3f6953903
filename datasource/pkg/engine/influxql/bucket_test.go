package influxql_test

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/stretchr/testify/require"

	"github.com/storepulse/storepulse/datasource/pkg/engine"
	"github.com/storepulse/storepulse/datasource/pkg/engine/influxql"
	"github.com/storepulse/storepulse/internal/influxtest"
)

// TestBucketSelectsDatabaseAndRetentionPolicy: "db/rp" reads retention
// policy rp of database db, "db" its default policy, on a real InfluxDB 1.8.
func TestBucketSelectsDatabaseAndRetentionPolicy(t *testing.T) {
	srv := influxtest.Start(t)
	post := func(path string, form url.Values, body string) {
		t.Helper()
		u := srv.URL + path + "?" + form.Encode()
		resp, err := http.Post(u, "text/plain", strings.NewReader(body)) // #nosec G107 -- test server
		require.NoError(t, err)
		b, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		require.Less(t, resp.StatusCode, 300, string(b))
		require.NotContains(t, string(b), `"error"`)
	}
	// DURATION INF: InfluxDB judges retention by its own wall clock, and the
	// test's fixed timestamp must stay writable on any day the test runs.
	post("/query", url.Values{"q": {`CREATE RETENTION POLICY "recent" ON "db" DURATION INF REPLICATION 1`}}, "")
	at := time.Date(2026, 11, 20, 1, 0, 0, 5, time.UTC)
	post("/write", url.Values{"db": {"db"}, "rp": {"recent"}, "precision": {"ns"}}, "sp_orders,store=a gmv=7 "+ns(at, 0))
	post("/write", url.Values{"db": {"db"}, "precision": {"ns"}}, "sp_orders,store=a gmv=3 "+ns(at, 0))

	spec := engine.SumSpec{Start: at.Add(-time.Hour), Stop: at.Add(time.Hour), Terms: []engine.Term{{Measurement: "sp_orders", Field: "gmv"}}}
	for bucket, want := range map[string]float64{"db/recent": 7, "db/autogen": 3, "db": 3, "db/": 3} {
		src, err := influxql.New(srv.URL, srv.Token, bucket, nil)
		require.NoError(t, err)
		rows, err := src.Sums(context.Background(), spec)
		require.NoError(t, err, bucket)
		require.Len(t, rows, 1, bucket)
		require.InDelta(t, want, rows[0].Value, 0, bucket)
	}
	src, err := influxql.New(srv.URL, srv.Token, "nodb/autogen", nil)
	require.NoError(t, err)
	_, err = src.Sums(context.Background(), spec)
	require.ErrorContains(t, err, "InfluxDB: reading the consolidation watermarks failed: InfluxDB: database not found: nodb")
	require.True(t, backend.IsDownstreamError(err), "InfluxDB's error is downstream")
	_, err = src.Sums(context.Background(), engine.SumSpec{Start: spec.Start, Stop: spec.Stop, Terms: spec.Terms,
		Filters: map[string][]string{"store": {"a\rb"}}})
	require.ErrorContains(t, err, "carriage return")
	require.False(t, backend.IsDownstreamError(err), "a value InfluxQL cannot carry is the plugin's refusal")
	_, err = influxql.New(srv.URL, srv.Token, "/autogen", nil)
	require.ErrorContains(t, err, "names no database")
}
