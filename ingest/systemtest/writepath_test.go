package systemtest

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/storepulse/storepulse/ingest/influx"
	"github.com/storepulse/storepulse/internal/influxtest"
	"github.com/storepulse/storepulse/internal/testclock"
)

// influxQL runs an InfluxQL query (all of time, so it does not depend on the
// wall clock) and returns the rows of every series, each with the series'
// GROUP BY tags added as columns. JSON keeps string values byte for byte.
func influxQL(t testing.TB, db *influxtest.Server, q string) []map[string]any {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	u := db.URL + "/query?" + url.Values{"db": {influxtest.Database}, "epoch": {"ns"}, "q": {q}}.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer func() { _ = resp.Body.Close() }()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var out struct {
		Results []struct {
			Error  string `json:"error"`
			Series []struct {
				Tags    map[string]string `json:"tags"`
				Columns []string          `json:"columns"`
				Values  [][]any           `json:"values"`
			} `json:"series"`
		} `json:"results"`
	}
	dec := json.NewDecoder(resp.Body)
	dec.UseNumber()
	require.NoError(t, dec.Decode(&out))
	require.Len(t, out.Results, 1)
	require.Empty(t, out.Results[0].Error)
	var rows []map[string]any
	for _, s := range out.Results[0].Series {
		for _, v := range s.Values {
			row := map[string]any{}
			for k, tv := range s.Tags {
				row[k] = tv
			}
			for i, c := range s.Columns {
				row[c] = v[i]
			}
			rows = append(rows, row)
		}
	}
	return rows
}

// deadLetterLines reads every line the instance set aside.
func deadLetterLines(t testing.TB, dataDir string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dataDir, "deadletter", "*.jsonl"))
	require.NoError(t, err)
	var lines []string
	for _, name := range files {
		f, err := os.Open(name) // #nosec G304 -- the test's own temp dir
		require.NoError(t, err)
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 1<<20), 64<<20)
		for sc.Scan() {
			var rec influx.DeadLetterRecord
			require.NoError(t, json.Unmarshal(sc.Bytes(), &rec))
			lines = append(lines, rec.Lines...)
		}
		require.NoError(t, sc.Err())
		require.NoError(t, f.Close())
	}
	return lines
}

// TestConflictingLineProtocolClients is issue #11 item 1: client A writes
// 1,000 good points, then client B writes one field as an integer and, in a
// second request, as a float. Both of B's requests are acknowledged (neither
// is wrong on its own) and land in the same InfluxDB batch as A's points,
// which InfluxDB 1.8 refuses whole. A's points must all arrive, and only B's
// refused line may be dead-lettered. What InfluxDB would refuse within one
// request is refused at the door, line by line (a partial write).
func TestConflictingLineProtocolClients(t *testing.T) {
	db := influxtest.Start(t)
	in := startIngest(t, db, ingestOpts{SealInterval: time.Second})
	base := testclock.Now().Add(-time.Minute).Truncate(time.Second).UnixNano()
	write := func(body string) response {
		t.Helper()
		resp, err := in.Do("POST", "/api/v2/write?bucket=storepulse&precision=ns", "text/plain", []byte(body), nil)
		require.NoError(t, err)
		return resp
	}

	var a strings.Builder
	for i := range 1000 {
		fmt.Fprintf(&a, "clienta,src=a v=%di %d\n", i, base+int64(i))
	}
	require.Equal(t, 204, write(a.String()).Status)
	refused := fmt.Sprintf("clientb v=1.5 %d", base+1)
	require.Equal(t, 204, write(fmt.Sprintf("clientb v=1i %d", base)).Status)
	require.Equal(t, 204, write(refused).Status)

	for _, tc := range []struct{ name, body, want string }{
		{"type conflict within a request", fmt.Sprintf("clientc w=1i %d\nclientc w=2.5 %d", base, base+1),
			`line 2: field \"fields.w\": field type conflict: float here, but integer on line 1`},
		{"unsigned field", fmt.Sprintf("clientc n=3u %d", base), "unsigned integer 3u is not supported"},
		{"tag key time", fmt.Sprintf("clientc,time=x v=1 %d", base), `tag key \"time\" is not allowed`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := write(tc.body)
			require.Equal(t, 400, resp.Status, resp.Body)
			require.Contains(t, resp.Body, tc.want)
		})
	}

	in.WaitDrained(60 * time.Second)
	rows := influxQL(t, db, `SELECT count(v) FROM clienta`)
	require.Len(t, rows, 1)
	require.Equal(t, json.Number("1000"), rows[0]["count"], "every one of A's points arrived")
	rows = influxQL(t, db, `SELECT v FROM clientb`)
	require.Len(t, rows, 1)
	require.Equal(t, json.Number("1"), rows[0]["v"])
	// Line protocol is a partial write, as in InfluxDB: the first clientc
	// line of the conflicting request is stored, the refused lines are not.
	rows = influxQL(t, db, `SELECT * FROM clientc`)
	require.Len(t, rows, 1, "only the valid line of a partially refused request is stored")
	require.Equal(t, json.Number("1"), rows[0]["w"])

	require.Equal(t, []string{refused}, deadLetterLines(t, in.DataDir),
		"the dead-letter file holds exactly the line InfluxDB refused")
	n, err := in.Metric("storepulse_influx_dead_lettered_lines_total")
	require.NoError(t, err)
	require.InDelta(t, 1, n, 0)
}

// TestStringFieldsReadBackAsWrittenDirectly is issue #11 item 4: the same
// line-protocol string values written to InfluxDB directly and through
// StorePulse must read back byte for byte the same.
func TestStringFieldsReadBackAsWrittenDirectly(t *testing.T) {
	db := influxtest.Start(t)
	in := startIngest(t, db, ingestOpts{})
	base := testclock.Now().Add(-time.Minute).Truncate(time.Second).UnixNano()
	values := []string{ // as written inside the quotes of a line-protocol string field
		"raw\ttab",
		"raw\nnewline",
		"raw\rcarriage return",
		`two\tcharacters`,
		`two\ncharacters\r`,
		`quote\"d`,
		`back\\slash`,
		`other\xescape`,
		`ends in a backslash\\`,
		"all\t\\t \\\"q\\\" \\\\n\n end",
	}
	body := func(measurement string) []string {
		var lines []string
		for i, v := range values {
			lines = append(lines, fmt.Sprintf(`%s,case=%02d s="%s" %d`, measurement, i, v, base+int64(i)))
		}
		return lines
	}
	db.WriteLines(t, body("direct"))
	resp, err := in.Do("POST", "/api/v2/write?bucket=storepulse&precision=ns", "text/plain", []byte(strings.Join(body("storepulse"), "\n")), nil)
	require.NoError(t, err)
	require.Equal(t, 204, resp.Status, resp.Body)
	in.WaitDrained(30 * time.Second)

	read := func(measurement string) map[string]any {
		got := map[string]any{}
		for _, r := range influxQL(t, db, `SELECT s FROM `+measurement+` GROUP BY "case"`) {
			got[r["case"].(string)] = r["s"]
		}
		return got
	}
	direct, through := read("direct"), read("storepulse")
	require.Len(t, direct, len(values))
	require.Equal(t, direct, through, "StorePulse stores exactly what InfluxDB stores for the same line")
	require.Equal(t, "raw\ttab", direct["00"], "a raw tab stays a tab")
	require.Equal(t, `two\tcharacters`, direct["03"], "backslash-t stays two characters")
}

// TestUnrepresentableAndUnboundedValuesRefused is issue #11 items 2 and 3:
// a tag value ending in a backslash cannot be written as line protocol, and
// amounts past any business value could make a sum overflow; both are
// refused with a 400 naming the field on every endpoint, and nothing of such
// a request is stored.
func TestUnrepresentableAndUnboundedValuesRefused(t *testing.T) {
	db := influxtest.Start(t)
	in := startIngest(t, db, ingestOpts{})
	now := testclock.Now().Add(-time.Minute)
	order := func(id string, amount float64, channel string) ev {
		e := ev{"type": "order", "id": id, "time": now.Format(time.RFC3339), "store": "s1", "user": "u1",
			"amount": amount, "customer": "new"}
		if channel != "" {
			e["channel"] = channel
		}
		return e
	}
	csvQuery := url.Values{"type": {"order"}, "col.id": {"no"}, "col.time": {"at"}, "col.amount": {"total"},
		"col.user": {"buyer"}, "set.store": {"s1"}, "set.customer": {"new"}, "set.channel": {`app\`}}
	for _, tc := range []struct {
		name, path, contentType string
		body                    []byte
		want                    []string
	}{
		{"event tag ending in a backslash", "/v1/events", "application/json",
			mustJSON(t, []ev{order("o1", 10, `app\`)}), []string{`field \"channel\"`, "ends with a backslash"}},
		{"csv tag ending in a backslash", "/v1/import/csv?" + csvQuery.Encode(), "text/csv",
			[]byte("no,at,total,buyer\no1," + now.Format(time.RFC3339) + ",10,u1\n"), []string{`field \"channel\"`, "ends with a backslash"}},
		{"metric tag ending in a backslash", "/v1/metrics", "application/json",
			mustJSON(t, []any{map[string]any{"id": "m1", "measurement": "sp_orders", "time": now.Format(time.RFC3339),
				"tags": map[string]string{"store": "s1", "channel": `app\`}, "fields": map[string]float64{"orders": 1}}}),
			[]string{`field \"tags.channel\"`, "ends with a backslash"}},
		{"line protocol tag ending in a backslash", "/api/v2/write?bucket=storepulse&precision=ns", "text/plain",
			[]byte(fmt.Sprintf(`sp_orders,store=s1,channel=app\\ orders=1 %d`, now.UnixNano())), []string{"backslash"}},
		{"amounts summing past float64 in one minute", "/v1/events", "application/json",
			mustJSON(t, []ev{order("o1", 10, ""), order("o2", 1e308, ""), order("o3", 1e308, "")}),
			[]string{"2 of 3 items invalid", `item 1 (line 1): field \"amount\": must be at most 1e+12, got 1e+308`}},
		{"metric above the maximum", "/v1/metrics", "application/json",
			mustJSON(t, []any{map[string]any{"id": "m1", "measurement": "sp_orders", "time": now.Format(time.RFC3339),
				"tags": map[string]string{"store": "s1"}, "fields": map[string]float64{"gmv": 1e300}}}),
			[]string{`field \"fields.gmv\": must be at most 1e+12`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := in.Do("POST", tc.path, tc.contentType, tc.body, nil)
			require.NoError(t, err)
			require.Equal(t, 400, resp.Status, resp.Body)
			for _, w := range tc.want {
				require.Contains(t, resp.Body, w)
			}
		})
	}

	resp, err := in.Do("POST", "/v1/events", "application/json", mustJSON(t, []ev{order("o9", 1e12, "app")}), nil)
	require.NoError(t, err)
	require.Equal(t, 202, resp.Status, resp.Body)
	in.WaitDrained(30 * time.Second)
	rows := influxQL(t, db, `SELECT sum(gmv), sum(orders) FROM sp_orders`)
	require.Len(t, rows, 1)
	require.Equal(t, json.Number("1000000000000"), rows[0]["sum"], "only the valid order, the bound itself included")
	require.Equal(t, json.Number("1"), rows[0]["sum_1"])
}
