package systemtest

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	influxdb2 "github.com/influxdata/influxdb-client-go/v2"
	"github.com/stretchr/testify/require"

	"github.com/storepulse/storepulse/internal/influxtest"
	"github.com/storepulse/storepulse/internal/testclock"
)

// TestOfficialClientWritesThroughStorePulse points the official InfluxDB v2
// client at StorePulse unchanged: StorePulse measurements join the rollup,
// others pass through to InfluxDB as they are.
func TestOfficialClientWritesThroughStorePulse(t *testing.T) {
	db := influxtest.Start(t)
	in := startIngest(t, db, ingestOpts{})

	client := influxdb2.NewClient(in.URL, testToken)
	defer client.Close()
	w := client.WriteAPIBlocking("any-org", "any-bucket")
	now := testclock.Now().Add(-time.Minute)
	p1 := influxdb2.NewPoint("sp_orders", map[string]string{"store": "s9", "channel": "app"},
		map[string]any{"orders": 4, "gmv": 99.5}, now)
	p2 := influxdb2.NewPoint("cpu", map[string]string{"host": "web-1"}, map[string]any{"usage": 0.25}, now)
	require.NoError(t, w.WritePoint(context.Background(), p1, p2))

	in.WaitDrained(30 * time.Second)
	got := storedSums(t, db)
	require.Equal(t, 4.0, got["s9"]["sp_orders.orders"], "integer field coerced and rolled up")
	require.Equal(t, 99.5, got["s9"]["sp_orders.gmv"])
	rows := fluxTable(t, db, fmt.Sprintf(`from(bucket: %q) |> `+fluxRange(time.Hour)+` |> filter(fn: (r) => r._measurement == "cpu")`, db.Bucket))
	require.Len(t, rows, 1)
	require.Equal(t, "web-1", rows[0]["host"])
	require.Equal(t, "0.25", rows[0]["_value"])
	require.Equal(t, now.UTC().Format(time.RFC3339Nano), rows[0]["_time"], "passthrough keeps its own timestamp")

	// The v1 endpoint with basic auth, as Telegraf's influxdb output sends it.
	resp, err := in.Do("POST", "/write?db=telegraf&precision=s", "", []byte(fmt.Sprintf("mem,host=web-1 used=42i %d", now.Unix())),
		map[string]string{"Authorization": ""})
	require.NoError(t, err)
	require.Equal(t, 401, resp.Status)
	resp, err = in.Do("POST", "/write?db=telegraf&precision=s&u=telegraf&p="+testToken, "", []byte(fmt.Sprintf("mem,host=web-1 used=42i %d", now.Unix())),
		map[string]string{"Authorization": ""})
	require.NoError(t, err)
	require.Equal(t, 204, resp.Status, resp.Body)
	in.WaitDrained(30 * time.Second)
	rows = fluxTable(t, db, fmt.Sprintf(`from(bucket: %q) |> `+fluxRange(time.Hour)+` |> filter(fn: (r) => r._measurement == "mem")`, db.Bucket))
	require.Len(t, rows, 1)
	require.Equal(t, "42", rows[0]["_value"])
}

// TestCalendarAndTargets stores, lists, moves and deletes campaigns and targets.
func TestCalendarAndTargets(t *testing.T) {
	db := influxtest.Start(t)
	in := startIngest(t, db, ingestOpts{})

	d11 := `{"id":"d11-2026","name":"Double Eleven 2026","kind":"double11","stores":[],"phases":[
	  {"name":"pre-sale","start":"2026-10-24T20:00:00+08:00","end":"2026-11-10T00:00:00+08:00"},
	  {"name":"peak","start":"2026-11-11T00:00:00+08:00","end":"2026-11-12T00:00:00+08:00"}]}`
	resp, err := in.Do("PUT", "/v1/campaigns", "application/json", []byte(`[`+d11+`,{"id":"618-2026","name":"618","kind":"618","phases":[{"name":"peak","start":"2026-06-18T00:00:00+08:00","end":"2026-06-19T00:00:00+08:00"}]}]`), nil)
	require.NoError(t, err)
	require.Equal(t, 200, resp.Status, resp.Body)

	list := func() []map[string]any {
		resp, err := in.Do("GET", "/v1/campaigns", "", nil, nil)
		require.NoError(t, err)
		require.Equal(t, 200, resp.Status, resp.Body)
		var out []map[string]any
		require.NoError(t, json.Unmarshal([]byte(resp.Body), &out))
		return out
	}
	cs := list()
	require.Len(t, cs, 2)
	require.Equal(t, "618-2026", cs[0]["id"], "ordered by start")
	require.Equal(t, "d11-2026", cs[1]["id"])

	// Moving the pre-sale earlier moves the campaign's start: still one version.
	moved := `{"id":"d11-2026","name":"Double Eleven 2026","kind":"double11","phases":[{"name":"pre-sale","start":"2026-10-20T20:00:00+08:00","end":"2026-11-10T00:00:00+08:00"},{"name":"peak","start":"2026-11-11T00:00:00+08:00","end":"2026-11-12T00:00:00+08:00"}]}`
	resp, err = in.Do("PUT", "/v1/campaigns", "application/json", []byte(moved), nil)
	require.NoError(t, err)
	require.Equal(t, 200, resp.Status, resp.Body)
	cs = list()
	require.Len(t, cs, 2)
	phases := cs[1]["phases"].([]any)
	require.Equal(t, "2026-10-20T20:00:00+08:00", phases[0].(map[string]any)["start"])

	resp, err = in.Do("DELETE", "/v1/campaigns/618-2026", "", nil, nil)
	require.NoError(t, err)
	require.Equal(t, 204, resp.Status, resp.Body)
	require.Len(t, list(), 1)
	resp, err = in.Do("DELETE", "/v1/campaigns/618-2026", "", nil, nil)
	require.NoError(t, err)
	require.Equal(t, 404, resp.Status)

	resp, err = in.Do("PUT", "/v1/targets", "application/json", []byte(`[
	  {"kpi":"gmv","store":"all","period":"day","start":"2026-11-11","value":5000000},
	  {"kpi":"gmv","store":"s1","period":"month","start":"2026-11-01","value":900000}]`), nil)
	require.NoError(t, err)
	require.Equal(t, 200, resp.Status, resp.Body)
	resp, err = in.Do("PUT", "/v1/targets", "application/json", []byte(`{"kpi":"gmv","store":"all","period":"day","start":"2026-11-11","value":6000000}`), nil)
	require.NoError(t, err)
	require.Equal(t, 200, resp.Status, resp.Body)
	resp, err = in.Do("GET", "/v1/targets?kpi=gmv", "", nil, nil)
	require.NoError(t, err)
	require.JSONEq(t, `[{"kpi":"gmv","store":"s1","period":"month","start":"2026-11-01","value":900000},
	  {"kpi":"gmv","store":"all","period":"day","start":"2026-11-11","value":6000000}]`, resp.Body)
	resp, err = in.Do("DELETE", "/v1/targets?kpi=gmv&store=s1&period=month&start=2026-11-01", "", nil, nil)
	require.NoError(t, err)
	require.Equal(t, 204, resp.Status, resp.Body)
	resp, err = in.Do("GET", "/v1/targets", "", nil, nil)
	require.NoError(t, err)
	require.JSONEq(t, `[{"kpi":"gmv","store":"all","period":"day","start":"2026-11-11","value":6000000}]`, resp.Body)
}
