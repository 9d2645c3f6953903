package systemtest

import (
	"fmt"
	"os"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/storepulse/storepulse/internal/influxtest"
	"github.com/storepulse/storepulse/internal/testclock"
)

// TestMetricsAndCSVImport sends a platform's pre-aggregated daily numbers to
// /v1/metrics and the documented example export to /v1/import/csv, and checks
// what InfluxDB holds against the numbers in them.
func TestMetricsAndCSVImport(t *testing.T) {
	db := influxtest.Start(t)
	in := startIngest(t, db, ingestOpts{})
	sh := time.FixedZone("CST", 8*3600)
	yesterday := testclock.Now().In(sh).AddDate(0, 0, -1)
	day := time.Date(yesterday.Year(), yesterday.Month(), yesterday.Day(), 0, 0, 0, 0, sh)

	metrics := []map[string]any{
		{"id": "jd-report-1", "measurement": "sp_orders", "time": day.Format(time.RFC3339),
			"tags": map[string]string{"store": "jd-01", "channel": "marketplace"}, "fields": map[string]float64{"orders": 120, "gmv": 35250.5}},
		{"id": "jd-report-2", "measurement": "sp_traffic", "time": day.Format(time.RFC3339),
			"tags": map[string]string{"store": "jd-01"}, "fields": map[string]float64{"sessions": 4100, "page_views": 15000}},
	}
	resp, err := in.Do("POST", "/v1/metrics", "application/json", mustJSON(t, metrics), nil)
	require.NoError(t, err)
	require.JSONEq(t, `{"accepted":2,"duplicates":0}`, resp.Body)
	resp, err = in.Do("POST", "/v1/metrics", "application/json", mustJSON(t, metrics[:1]), nil)
	require.NoError(t, err)
	require.JSONEq(t, `{"accepted":0,"duplicates":1}`, resp.Body, "a re-sent report is not counted twice")

	// The documented example file, moved to yesterday as docs/import-csv.md says.
	raw, err := os.ReadFile("../../docs/examples/orders.csv")
	require.NoError(t, err)
	csv := regexp.MustCompile(`(?m)^([^,\n]*),\d{4}-\d{2}-\d{2} `).ReplaceAll(raw, []byte("${1},"+day.Format("2006-01-02")+" "))
	q := "type=order&col.id=order_no&col.time=created_at&col.amount=total&col.user=buyer_id&col.items=qty" +
		"&col.customer=buyer_type&col.category=category&col.campaign=campaign&col.channel=channel&set.store=tmall-01" +
		"&time_layout=2006-01-02+15:04:05&tz=Asia/Shanghai&delimiter=,"
	resp, err = in.Do("POST", "/v1/import/csv?"+q, "text/csv", csv, nil)
	require.NoError(t, err)
	require.Equal(t, 202, resp.Status, resp.Body)
	require.JSONEq(t, `{"accepted":6,"duplicates":0}`, resp.Body)

	in.WaitDrained(30 * time.Second)
	got := storedSums(t, db)
	require.Equal(t, 120.0, got["jd-01"]["sp_orders.orders"])
	require.InDelta(t, 35250.5, got["jd-01"]["sp_orders.gmv"], 1e-9)
	require.Equal(t, 4100.0, got["jd-01"]["sp_traffic.sessions"])
	// From the file: 6 orders, 399+259+189.5+447+129+618, 10 items, 3 new.
	require.Equal(t, 6.0, got["tmall-01"]["sp_orders.orders"])
	require.InDelta(t, 2041.5, got["tmall-01"]["sp_orders.gmv"], 1e-9)
	require.Equal(t, 10.0, got["tmall-01"]["sp_orders.items"])
	require.Equal(t, 3.0, got["tmall-01"]["sp_orders.orders_new"])

	rows := fluxTable(t, db, fmt.Sprintf(`from(bucket: %q) |> `+fluxRange(30*24*time.Hour)+`
  |> filter(fn: (r) => r._measurement == "sp_orders" and r._field == "gmv" and r.store == "tmall-01" and r.campaign == "double11")
  |> group() |> sum()`, db.Bucket))
	require.Len(t, rows, 1)
	require.Equal(t, "1653.5", rows[0]["_value"], "399 + 189.5 + 447 + 618 carry the campaign tag")
}
