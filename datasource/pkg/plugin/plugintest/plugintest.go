// Package plugintest serves the StorePulse datasource behind real gRPC (the
// SDK's experimental/datasourcetest) for tests outside package plugin: the
// dashboards' and alert rules' queries are run through it against a test
// InfluxDB.
package plugintest

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/backend/log"
	"github.com/grafana/grafana-plugin-sdk-go/experimental/datasourcetest"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/storepulse/storepulse/datasource/pkg/plugin"
	"github.com/storepulse/storepulse/internal/clock"
	"github.com/storepulse/storepulse/internal/influxtest"
	"github.com/storepulse/storepulse/internal/testclock"
)

// Serve starts the plugin on a free loopback port behind gRPC, on the
// tests' clock (package testclock), and stops it when the test ends.
func Serve(t testing.TB) *datasourcetest.TestPluginClient {
	t.Helper()
	return ServeWithClock(t, testclock.Clock())
}

// ServeAt is Serve with the plugin's clock starting at now: for tests whose
// data ends on a fixed date.
func ServeAt(t testing.TB, now time.Time) *datasourcetest.TestPluginClient {
	t.Helper()
	return ServeWithClock(t, clock.Shifted(now))
}

// ServeWithClock is Serve with the plugin's clock given.
func ServeWithClock(t testing.TB, now func() time.Time) *datasourcetest.TestPluginClient {
	t.Helper()
	return ServeWithMemory(t, now, nil)
}

// ServeWithMemory is ServeWithClock with the plugin process's memory
// budget given (nil: the default), as main hands it to the factory.
func ServeWithMemory(t testing.TB, now func() time.Time, mem *plugin.ProcessMemory) *datasourcetest.TestPluginClient {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("plugintest: %v", err)
	}
	addr := l.Addr().String()
	if err := l.Close(); err != nil {
		t.Fatalf("plugintest: %v", err)
	}
	FreshMetricsRegistry()
	tp, err := datasourcetest.Manage(plugin.NewFactory(log.NewNullLogger(), now, mem), datasourcetest.ManageOpts{Address: addr})
	if err != nil {
		t.Fatalf("plugintest: start plugin: %v", err)
	}
	t.Cleanup(func() { _ = tp.Shutdown() })
	return tp.Client
}

// FreshMetricsRegistry gives Prometheus a new default registry. Every
// datasourcetest.Manage registers the SDK's request and gRPC metrics there
// and panics when they are registered already, so without this a test
// binary could serve the plugin only once; call it before each Manage
// (Serve does). Not safe for tests serving the plugin in parallel.
func FreshMetricsRegistry() {
	prometheus.DefaultRegisterer = prometheus.NewRegistry()
}

// Context is the plugin context of a datasource instance reading srv, with
// uid as the datasource uid and the store time zone tz ("" = Asia/Shanghai).
func Context(srv *influxtest.Server, uid, tz string) backend.PluginContext {
	if tz == "" {
		tz = "Asia/Shanghai"
	}
	js, _ := json.Marshal(map[string]any{"url": srv.URL, "version": "1.8", "bucket": srv.Bucket, "timeZone": tz})
	return backend.PluginContext{PluginID: plugin.PluginID, DataSourceInstanceSettings: &backend.DataSourceInstanceSettings{
		ID: 1, UID: uid, Name: "StorePulse", Updated: time.Unix(1, 0),
		JSONData:                js,
		DecryptedSecureJSONData: map[string]string{"token": srv.Token},
	}}
}

// Query runs one query (its JSON as a panel or rule would send it) over
// [from, to) and returns its response, failing the test on a transport error.
func Query(ctx context.Context, t testing.TB, c *datasourcetest.TestPluginClient, pc backend.PluginContext,
	refID, queryType string, model json.RawMessage, from, to time.Time,
) backend.DataResponse {
	t.Helper()
	res, err := c.QueryData(ctx, &backend.QueryDataRequest{PluginContext: pc, Queries: []backend.DataQuery{{
		RefID: refID, QueryType: queryType, JSON: model, TimeRange: backend.TimeRange{From: from, To: to},
		Interval: time.Minute, MaxDataPoints: 1000,
	}}})
	if err != nil {
		t.Fatalf("plugintest: QueryData %s: %v", refID, err)
	}
	r, ok := res.Responses[refID]
	if !ok {
		t.Fatalf("plugintest: no response for %s", refID)
	}
	return r
}

// String names a response's error for test messages.
func String(r backend.DataResponse) string {
	if r.Error == nil {
		return fmt.Sprintf("%d frames", len(r.Frames))
	}
	return fmt.Sprintf("%s error (%s): %v", r.ErrorSource, r.Status, r.Error)
}
