package plugin

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/backend/log"
	"github.com/stretchr/testify/require"

	"github.com/storepulse/storepulse/internal/testclock"
)

// TestHealthNeverShowsPassword: a datasource URL with user:password@ is
// shown in every health message without the password (the old message
// printed it), whether InfluxDB rejects the token, fails a query or is
// unreachable.
func TestHealthNeverShowsPassword(t *testing.T) {
	const password = "hunter2-9f1c"
	fake := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/ping" || r.URL.Path == "/health" {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = fmt.Fprintf(w, `{"code":"internal error","message":"query %s failed"}`, r.URL.String())
	}))
	defer fake.Close()
	for _, tc := range []struct{ name, url, want string }{
		{"query fails", strings.Replace(fake.URL, "://", "://admin:"+password+"@", 1), "cannot query bucket"},
		{"unreachable", "http://admin:" + password + "@" + freeAddr(t), "is unreachable"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, err := New(context.Background(), backend.DataSourceInstanceSettings{
				JSONData:                []byte(fmt.Sprintf(`{"url":%q,"version":"2.x","org":"o","bucket":"b"}`, tc.url)),
				DecryptedSecureJSONData: map[string]string{"token": "t"}}, log.NewNullLogger(), testclock.Clock())
			require.NoError(t, err)
			defer d.Dispose()
			res, err := d.CheckHealth(context.Background(), &backend.CheckHealthRequest{})
			require.NoError(t, err)
			require.Equal(t, backend.HealthStatusError, res.Status)
			require.Contains(t, res.Message, tc.want)
			require.Contains(t, res.Message, "admin:xxxxx@")
			require.NotContains(t, res.Message, password)
		})
	}
}

// TestQueryTimeRangeRefused: a range from year 1 to 9999 (or reversed) is a
// plugin error naming the range, for every query type, instead of frames of
// garbage times.
func TestQueryTimeRangeRefused(t *testing.T) {
	d := newTestDatasource(t, fixture())
	year := func(y int) time.Time { return time.Date(y, 1, 1, 0, 0, 0, 0, time.UTC) }
	for _, tr := range []backend.TimeRange{
		{From: year(1), To: year(9999)},
		{From: year(1), To: year(2026)},
		{From: year(2026), To: year(9999)},
		{From: year(2026).Add(time.Hour), To: year(2026)},
	} {
		var queries []backend.DataQuery
		for i, qt := range []string{"", "kpi", "dimensions", "campaigns", "calendar", "anomalies", "freshness"} {
			q := dataQuery(fmt.Sprintf("Q%d", i), qt, `{"kpi":"gmv","interval":"day","dimension":"store"}`)
			q.TimeRange = tr
			queries = append(queries, q)
		}
		resp, err := d.QueryData(context.Background(), &backend.QueryDataRequest{Queries: queries})
		require.NoError(t, err)
		for _, q := range queries {
			r := resp.Responses[q.RefID]
			require.Error(t, r.Error, "%s %v", q.QueryType, tr)
			require.Equal(t, backend.ErrorSourcePlugin, r.ErrorSource)
			require.Contains(t, r.Error.Error(), "time range")
			require.Empty(t, r.Frames)
		}
	}
	// A normal range still answers.
	resp, err := d.QueryData(context.Background(), &backend.QueryDataRequest{Queries: []backend.DataQuery{
		dataQuery("A", "kpi", `{"kpi":"gmv","interval":"day"}`)}})
	require.NoError(t, err)
	require.NoError(t, resp.Responses["A"].Error)
}
