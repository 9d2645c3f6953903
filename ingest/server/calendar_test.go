package server

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/storepulse/storepulse/ingest/calendarstore"
	"github.com/storepulse/storepulse/ingest/influx"
	"github.com/storepulse/storepulse/internal/calendar"
	"github.com/storepulse/storepulse/internal/influxtest"
)

// newCalendarServer is a test server whose calendar lives in a real InfluxDB.
func newCalendarServer(t *testing.T) *testServer {
	t.Helper()
	db := influxtest.Start(t)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	client, err := influx.New(influx.Config{URL: db.URL, Token: db.Token, Org: db.Org, Bucket: db.Bucket,
		Timeout: 5 * time.Second, MaxBackoff: 200 * time.Millisecond, DeadLetterDir: t.TempDir()},
		log, influx.NewMetrics(prometheus.NewRegistry()))
	require.NoError(t, err)
	t.Cleanup(client.Close)
	ts := newTestServer(t, testOptions(), nil)
	ts.srv.calendar = calendarstore.New(client, db.Bucket, time.UTC)
	return ts
}

func campaignJSON(id string, start time.Time, stores ...string) string {
	b, _ := json.Marshal(calendar.Campaign{ID: id, Name: "N " + id, Kind: "618", Stores: stores,
		Phases: []calendar.Phase{{Name: calendar.PhasePeak, Start: start, End: start.Add(24 * time.Hour)}}})
	return string(b)
}

// TestCalendarBadInputIs400: input the calendar cannot hold is a 400 naming
// the item and field, never a 503 influxdb_unavailable with Retry-After (the
// old answer, which made clients retry for ever); listing and deleting keep
// working afterwards.
func TestCalendarBadInputIs400(t *testing.T) {
	ts := newCalendarServer(t)
	day := time.Date(2026, 6, 18, 0, 0, 0, 0, time.UTC)
	phases := make([]string, 20000)
	for i := range phases {
		s := day.Add(time.Duration(i) * time.Minute)
		phases[i] = fmt.Sprintf(`{"name":"activity","start":%q,"end":%q}`, s.Format(time.RFC3339), s.Add(time.Minute).Format(time.RFC3339))
	}
	for _, tc := range []struct {
		name, method, path, body, want string
	}{
		{"campaign phase in 1600", "PUT", "/v1/campaigns", campaignJSON("c1600", time.Date(1600, 6, 1, 0, 0, 0, 0, time.UTC)), "phases[0].start"},
		{"campaign phase in 2300", "PUT", "/v1/campaigns", campaignJSON("c2300", time.Date(2300, 6, 1, 0, 0, 0, 0, time.UTC)), "phases[0].start"},
		{"campaign in 2250", "PUT", "/v1/campaigns", campaignJSON("c2250", time.Date(2250, 6, 1, 0, 0, 0, 0, time.UTC)), "until before 2100-01-01"},
		{"campaign id ending in a backslash", "PUT", "/v1/campaigns", campaignJSON(`d11\`, day), "must not end with a backslash"},
		{"same campaign id twice", "PUT", "/v1/campaigns", "[" + campaignJSON("twice", day) + "," + campaignJSON("twice", day.Add(time.Hour)) + "]", "same id as item 0"},
		{"20,000 phases", "PUT", "/v1/campaigns", `{"id":"many","name":"M","kind":"k","phases":[` + strings.Join(phases, ",") + `]}`, "at most 16 phases"},
		{"target starting 0001-01-01", "PUT", "/v1/targets", `{"kpi":"gmv","store":"all","period":"day","start":"0001-01-01","value":1}`, "start: must be from 2000-01-01"},
		{"target starting 9999-12-31", "PUT", "/v1/targets", `{"kpi":"gmv","store":"all","period":"day","start":"9999-12-31","value":1}`, "start: must be from 2000-01-01"},
		{"target for an unknown KPI", "PUT", "/v1/targets", `{"kpi":"revenue_per_moon","store":"all","period":"day","start":"2026-11-11","value":1}`, "unknown KPI"},
		{"same target twice", "PUT", "/v1/targets", `[{"kpi":"gmv","store":"all","period":"day","start":"2026-11-11","value":1},{"kpi":"gmv","store":"all","period":"day","start":"2026-11-11","value":2}]`, "same kpi, store, period and start as item 0"},
		{"delete a campaign id ending in a backslash", "DELETE", "/v1/campaigns/d11%5C", "", "must not end with a backslash"},
		{"delete a target starting 9999-12-31", "DELETE", "/v1/targets?kpi=gmv&store=all&period=day&start=9999-12-31", "", "start: must be from 2000-01-01"},
		{"list targets from year 1", "GET", "/v1/targets?from=0001-01-01", "", "query parameter from"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := ts.do(t, tc.method, tc.path, testToken, []byte(tc.body), nil)
			require.Equal(t, http.StatusBadRequest, rec.Code, rec.Body.String())
			require.Empty(t, rec.Header().Get("Retry-After"))
			require.Contains(t, rec.Body.String(), tc.want)
		})
	}
	rec := ts.do(t, "PUT", "/v1/campaigns", testToken, []byte(campaignJSON("ok", day)), nil)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	rec = ts.do(t, "GET", "/v1/campaigns", testToken, nil, nil)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	var cs []calendar.Campaign
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &cs))
	require.Len(t, cs, 1, "nothing of the refused requests was stored")
	require.Equal(t, "ok", cs[0].ID)
	rec = ts.do(t, "DELETE", "/v1/campaigns/ok", testToken, nil, nil)
	require.Equal(t, http.StatusNoContent, rec.Code, rec.Body.String())
}

// TestCalendarReadsScopedToTokenStores: a token limited to store s1 sees
// the campaigns of s1 (listing only s1) and those for every store, and only
// s1's targets; the old code showed it every store's.
func TestCalendarReadsScopedToTokenStores(t *testing.T) {
	ts := newCalendarServer(t)
	day := time.Date(2026, 6, 18, 0, 0, 0, 0, time.UTC)
	body := "[" + strings.Join([]string{
		campaignJSON("everywhere", day),
		campaignJSON("s1-shared", day.Add(time.Hour), "s1", "s2"),
		campaignJSON("s2-only", day.Add(2*time.Hour), "s2"),
	}, ",") + "]"
	rec := ts.do(t, "PUT", "/v1/campaigns", testToken, []byte(body), nil)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	rec = ts.do(t, "PUT", "/v1/targets", testToken, []byte(`[
		{"kpi":"gmv","store":"all","period":"day","start":"2026-06-18","value":100},
		{"kpi":"gmv","store":"s1","period":"day","start":"2026-06-18","value":10},
		{"kpi":"gmv","store":"s2","period":"day","start":"2026-06-18","value":20}]`), nil)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())

	rec = ts.do(t, "GET", "/v1/campaigns", shopToken, nil, nil)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	var cs []calendar.Campaign
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &cs))
	require.Len(t, cs, 2)
	require.Equal(t, "everywhere", cs[0].ID)
	require.Equal(t, "s1-shared", cs[1].ID)
	require.Equal(t, []string{"s1"}, cs[1].Stores, "other stores' names are not shown")
	require.NotContains(t, rec.Body.String(), "s2")

	rec = ts.do(t, "GET", "/v1/targets", shopToken, nil, nil)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	var tgs []calendar.Target
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &tgs))
	require.Len(t, tgs, 1)
	require.Equal(t, "s1", tgs[0].Store)
	rec = ts.do(t, "GET", "/v1/targets?store=s2", shopToken, nil, nil)
	require.Equal(t, http.StatusForbidden, rec.Code, rec.Body.String())

	// A token for all stores still sees everything.
	rec = ts.do(t, "GET", "/v1/targets", testToken, nil, nil)
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &tgs))
	require.Len(t, tgs, 3)
}
