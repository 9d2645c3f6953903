package systemtest

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/storepulse/storepulse/internal/influxtest"
	"github.com/storepulse/storepulse/internal/testclock"
)

// lpStored returns the stored rows of one measurement.
func lpStored(t *testing.T, db *influxtest.Server, measurement string) []map[string]string {
	t.Helper()
	return fluxTable(t, db, fmt.Sprintf(`from(bucket: %q) |> `+fluxRange(24*time.Hour)+` |> filter(fn: (r) => r._measurement == %q)`,
		db.Bucket, measurement))
}

// TestLineProtocolPartialWrite: on /write and /api/v2/write one refused line
// no longer loses the others (issue #15). The valid lines are stored and the
// answer is InfluxDB's partial write: 400 with the refused lines named in the
// body its clients parse.
func TestLineProtocolPartialWrite(t *testing.T) {
	db := influxtest.Start(t)
	in := startIngest(t, db, ingestOpts{})
	now := testclock.Now().Add(-time.Minute)
	old := now.Add(-8 * 24 * time.Hour)
	body := func(prefix string) string {
		return strings.Join([]string{
			fmt.Sprintf("%s_cpu,host=web-1 usage=0.5 %d", prefix, now.UnixNano()),
			fmt.Sprintf("%s_cpu,host=%s usage=0.25 %d", prefix, strings.Repeat("h", 200), now.UnixNano()), // a 200-byte tag: stored
			fmt.Sprintf("%s_cpu,host=web-2 usage=0.75 %d", prefix, old.UnixNano()),                        // 8 days old: refused
			fmt.Sprintf("%s_mem,host=web-1 used=42i %d", prefix, now.UnixNano()),
			fmt.Sprintf("%s_mem,host=web-1 used= %d", prefix, now.UnixNano()), // syntax: refused
		}, "\n")
	}

	resp, err := in.Do("POST", "/write?db=telegraf&precision=ns", "text/plain", []byte(body("v1")), nil)
	require.NoError(t, err)
	require.Equal(t, 400, resp.Status, resp.Body)
	var v1 struct{ Error string }
	require.NoError(t, json.Unmarshal([]byte(resp.Body), &v1))
	require.True(t, strings.HasPrefix(v1.Error, "partial write: unable to parse 'v1_cpu,host=web-2 usage=0.75 "), v1.Error)
	require.Contains(t, v1.Error, "older than the late-data horizon")
	require.Contains(t, v1.Error, "\nunable to parse 'v1_mem,host=web-1 used= ")
	require.True(t, strings.HasSuffix(v1.Error, " dropped=2"), v1.Error)

	resp, err = in.Do("POST", "/api/v2/write?org=o&bucket=b&precision=ns", "text/plain", []byte(body("v2")), nil)
	require.NoError(t, err)
	require.Equal(t, 400, resp.Status, resp.Body)
	var v2 struct{ Code, Message string }
	require.NoError(t, json.Unmarshal([]byte(resp.Body), &v2))
	require.Equal(t, "invalid", v2.Code)
	require.True(t, strings.HasPrefix(v2.Message, "partial write error (3 written): unable to parse 'v2_cpu,host=web-2 "), v2.Message)

	in.WaitDrained(30 * time.Second)
	for _, p := range []string{"v1", "v2"} {
		require.Len(t, lpStored(t, db, p+"_cpu"), 2, "both valid cpu lines stored")
		mem := lpStored(t, db, p+"_mem")
		require.Len(t, mem, 1)
		require.Equal(t, "42", mem[0]["_value"])
	}

	// Nothing valid: InfluxDB 1.8 names the lines without "partial write".
	resp, err = in.Do("POST", "/write?db=telegraf", "text/plain", []byte("bad"), nil)
	require.NoError(t, err)
	require.Equal(t, 400, resp.Status, resp.Body)
	require.NoError(t, json.Unmarshal([]byte(resp.Body), &v1))
	require.True(t, strings.HasPrefix(v1.Error, "unable to parse 'bad': line 1: "), v1.Error)
	require.NotContains(t, v1.Error, "dropped=")
}

// TestLineProtocolRefusedAtTheRequest: unsigned fields (InfluxDB 1.8: "invalid
// number") and the tag or field key time (InfluxDB: "invalid tag key") are
// refused in the answer, never acknowledged and then dead-lettered.
func TestLineProtocolRefusedAtTheRequest(t *testing.T) {
	db := influxtest.Start(t)
	in := startIngest(t, db, ingestOpts{})
	ns := testclock.Now().Add(-time.Minute).UnixNano()
	body := fmt.Sprintf("ok v=1 %d\nok n=3u %d\nok,time=x v=2 %d\nok time=1 %d", ns, ns, ns, ns)
	resp, err := in.Do("POST", "/write?db=telegraf", "text/plain", []byte(body), nil)
	require.NoError(t, err)
	require.Equal(t, 400, resp.Status, resp.Body)
	require.Contains(t, resp.Body, "unsigned integer 3u is not supported")
	require.Contains(t, resp.Body, `tag key \"time\" is not allowed`)
	require.Contains(t, resp.Body, `field key \"time\" is not allowed`)
	require.Contains(t, resp.Body, "dropped=3")
	in.WaitDrained(30 * time.Second)
	require.Len(t, lpStored(t, db, "ok"), 1)
	dead, err := in.Metric("storepulse_influx_dead_lettered_lines_total")
	require.NoError(t, err)
	require.Zero(t, dead, "nothing acknowledged was dead-lettered")
}

// TestLineProtocolUnknownDatabase: with lineprotocol.databases set, /write
// to another database and /api/v2/write to another bucket get InfluxDB's 404
// (1.8's and 2.x's bodies) and nothing of them reaches InfluxDB; a listed name
// is written.
func TestLineProtocolUnknownDatabase(t *testing.T) {
	db := influxtest.Start(t)
	in := startIngest(t, db, ingestOpts{Databases: []string{"telegraf"}})
	ts := testclock.Now().UnixNano()
	for _, tc := range []struct {
		path, measurement string
		status            int
		want              string
	}{
		{"/write?db=nope", "unknown_v1", 404, `{"error":"database not found: \"nope\""`},
		{"/api/v2/write?bucket=nope&org=o", "unknown_v2", 404, `"code":"not found","message":"bucket \"nope\" not found"`},
		{"/write?db=telegraf", "listed_v1", 204, ""},
		{"/api/v2/write?bucket=telegraf%2Fautogen", "listed_v2", 204, ""},
	} {
		resp, err := in.Do("POST", tc.path, "text/plain", []byte(fmt.Sprintf("%s v=1 %d", tc.measurement, ts)), nil)
		require.NoError(t, err)
		require.Equal(t, tc.status, resp.Status, resp.Body)
		require.Contains(t, resp.Body, tc.want, tc.path)
	}
	in.WaitDrained(30 * time.Second)
	require.Empty(t, lpStored(t, db, "unknown_v1"))
	require.Empty(t, lpStored(t, db, "unknown_v2"))
	require.Len(t, lpStored(t, db, "listed_v1"), 1)
	require.Len(t, lpStored(t, db, "listed_v2"), 1)
}

// TestLineProtocolInfluxDBAnswers: the smaller differences of issue #15.
func TestLineProtocolInfluxDBAnswers(t *testing.T) {
	db := influxtest.Start(t)
	in := startIngest(t, db, ingestOpts{})
	for _, tc := range []struct {
		name, method, path, body string
		status                   int
		want                     string
	}{
		{"empty body v1", "POST", "/write?db=telegraf", "", 204, ""},
		{"empty body v2", "POST", "/api/v2/write?bucket=b", "", 204, ""},
		{"comment-only body", "POST", "/write?db=telegraf", "# nothing\n\n", 204, ""},
		{"v1 without db", "POST", "/write", "m v=1", 400, `"error":"database is required"`},
		{"v2 without bucket", "POST", "/api/v2/write?org=o", "m v=1", 400, `"message":"bucket is required"`},
		{"Telegraf's CREATE DATABASE", "POST", "/query?" + url.Values{"q": {`CREATE DATABASE "telegraf"`}}.Encode(), "", 200, `{"results":[{"statement_id":0}]}`},
		{"CREATE DATABASE as a form", "POST", "/query", url.Values{"q": {"create database telegraf"}}.Encode(), 200, `"statement_id":0`},
		{"any other query", "GET", "/query?" + url.Values{"q": {"SELECT * FROM cpu"}}.Encode(), "", 400, "answers only CREATE DATABASE"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ct := "text/plain"
			if tc.path == "/query" {
				ct = "application/x-www-form-urlencoded"
			}
			resp, err := in.Do(tc.method, tc.path, ct, []byte(tc.body), nil)
			require.NoError(t, err)
			require.Equal(t, tc.status, resp.Status, resp.Body)
			require.Contains(t, resp.Body, tc.want)
		})
	}

	// A point without a timestamp gets the request time truncated to the
	// precision, as InfluxDB does.
	resp, err := in.Do("POST", "/write?db=telegraf&precision=m", "text/plain", []byte("notime v=1"), nil)
	require.NoError(t, err)
	require.Equal(t, 204, resp.Status, resp.Body)
	in.WaitDrained(30 * time.Second)
	rows := lpStored(t, db, "notime")
	require.Len(t, rows, 1)
	stamp, err := time.Parse(time.RFC3339Nano, rows[0]["_time"])
	require.NoError(t, err)
	require.Equal(t, stamp.Truncate(time.Minute), stamp, rows[0]["_time"])
}
