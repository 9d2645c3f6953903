package systemtest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/storepulse/storepulse/ingest/auth"
	"github.com/storepulse/storepulse/internal/influxtest"
	"github.com/storepulse/storepulse/internal/testclock"
)

type badCase struct {
	name        string
	method      string
	path        string
	contentType string
	body        []byte
	header      map[string]string
	status      int
	want        []string // substrings of the response body
}

func evJSON(t testing.TB, mutate func(e ev)) []byte {
	e := ev{"type": "order", "id": "o-1", "time": testclock.Now().Add(-time.Minute).Format(time.RFC3339), "store": "s1",
		"user": "u1", "amount": 12.5, "items": 1, "customer": "new"}
	mutate(e)
	return mustJSON(t, []ev{e})
}

func badCases(t testing.TB) []badCase {
	now := testclock.Now()
	ts := func(d time.Duration) string { return now.Add(d).Format(time.RFC3339) }
	set := func(k string, v any) func(e ev) { return func(e ev) { e[k] = v } }
	del := func(k string) func(e ev) { return func(e ev) { delete(e, k) } }
	events := func(name string, status int, body []byte, want ...string) badCase {
		return badCase{name: name, method: "POST", path: "/v1/events", contentType: "application/json", body: body, status: status, want: want}
	}
	metrics := func(name string, item map[string]any, want ...string) badCase {
		base := map[string]any{"id": "m1", "measurement": "sp_orders", "time": ts(-time.Hour),
			"tags": map[string]string{"store": "s1"}, "fields": map[string]float64{"orders": 3}}
		for k, v := range item {
			if v == nil {
				delete(base, k)
			} else {
				base[k] = v
			}
		}
		return badCase{name: name, method: "POST", path: "/v1/metrics", contentType: "application/json", body: mustJSON(t, []any{base}), status: 400, want: want}
	}
	lp := func(name, path, body string, want ...string) badCase {
		return badCase{name: name, method: "POST", path: path, contentType: "text/plain", body: []byte(body), status: 400, want: want}
	}
	nowNS := fmt.Sprint(now.UnixNano())
	csvBody := []byte("order_no,created_at,total,buyer\nA1," + now.Add(-time.Hour).Format("2006-01-02 15:04:05") + ",10.5,b1\n")
	csvQ := func(extra string) string {
		q := url.Values{"type": {"order"}, "col.id": {"order_no"}, "col.time": {"created_at"}, "col.amount": {"total"},
			"col.user": {"buyer"}, "set.store": {"s1"}, "set.customer": {"new"}, "time_layout": {"2006-01-02 15:04:05"}, "tz": {"UTC"}}
		return "/v1/import/csv?" + q.Encode() + extra
	}
	many := make([]ev, 150)
	for i := range many {
		many[i] = ev{"type": "signup", "id": fmt.Sprint(i), "time": ts(-time.Minute), "store": "s1", "user": -1}
	}
	tooMany := make([]ev, 10001)
	for i := range tooMany {
		tooMany[i] = ev{"type": "signup", "id": fmt.Sprint(i), "time": ts(-time.Minute), "store": "s1", "user": "u"}
	}
	bomb := gz(t, bytes.Repeat([]byte(" "), 40<<20))
	mixed := mustJSON(t, []ev{
		{"type": "signup", "id": "ok-1", "time": ts(-time.Minute), "store": "s1", "user": "u1"},
		{"type": "signup", "id": "bad-1", "time": ts(-time.Minute), "store": "s1"},
	})

	return []badCase{
		// POST /v1/events
		events("malformed JSON", 400, []byte(`[{"type": "order",`), "malformed"),
		events("not JSON at all", 400, []byte(`hello`), "malformed"),
		events("unknown type", 400, evJSON(t, set("type", "purchase")), "purchase"),
		events("missing id", 400, evJSON(t, del("id")), `"id"`),
		events("missing store", 400, evJSON(t, del("store")), `"store"`),
		events("missing time", 400, evJSON(t, del("time")), `"time"`),
		events("time without offset", 400, evJSON(t, set("time", "2026-11-24T10:00:00")), `"time"`),
		events("time not a time", 400, evJSON(t, set("time", "yesterday")), `"time"`),
		events("time older than the late-data horizon", 400, evJSON(t, set("time", ts(-30*24*time.Hour))), `"time"`),
		events("time in the future", 400, evJSON(t, set("time", ts(time.Hour))), `"time"`),
		events("negative amount", 400, evJSON(t, set("amount", -5)), `"amount"`),
		events("amount as a string", 400, evJSON(t, set("amount", "12")), `"amount"`),
		events("amount overflows to infinity", 400, []byte(strings.Replace(string(evJSON(t, set("amount", 1))), `"amount":1`, `"amount":1e999`, 1)), "amount"),
		events("fractional item count", 400, evJSON(t, set("items", 1.5)), `"items"`),
		events("typo in a field name", 400, evJSON(t, set("ammount", 3)), "ammount"), //nolint:misspell // the typo is the test
		events("field of another type", 400, evJSON(t, set("page_views", 3)), "page_views"),
		events("customer not new or returning", 400, evJSON(t, set("customer", "vip")), `"customer"`),
		events("control character in store", 400, evJSON(t, set("store", "s\u00011")), `"store"`),
		events("store too long", 400, evJSON(t, set("store", strings.Repeat("s", 200))), `"store"`),
		events("invalid UTF-8", 400, bytes.Replace(evJSON(t, set("store", "sXX")), []byte("sXX"), []byte("s\xff\xfe"), 1), "store"),
		events("empty channel", 400, evJSON(t, set("channel", "")), `"channel"`),
		events("resolved ticket without resolution time", 400, mustJSON(t, []ev{{"type": "ticket", "id": "t1", "time": ts(-time.Minute), "store": "s1", "status": "resolved"}}), "resolution_s"),
		events("zero competitor price", 400, mustJSON(t, []ev{{"type": "price", "id": "p1", "time": ts(-time.Minute), "store": "s1", "category": "c", "competitor": "x", "own_price": 3, "competitor_price": 0}}), "competitor_price"),
		events("empty body", 400, nil, "empty"),
		events("empty array", 400, []byte(`[]`), "empty"),
		events("one bad item rejects the whole request", 400, mixed, "item 1", `"user"`),
		events("errors listed up to the cap, the rest counted", 400, mustJSON(t, many), `"truncated":50`),
		events("too many items", 413, mustJSON(t, tooMany), "too_many_items"),
		{name: "body over the size limit", method: "POST", path: "/v1/events", contentType: "application/json",
			body: bytes.Repeat([]byte(" "), 9<<20), status: 413, want: []string{"body_too_large"}},
		{name: "gzip bomb", method: "POST", path: "/v1/events", contentType: "application/json", body: bomb,
			header: map[string]string{"Content-Encoding": "gzip"}, status: 413, want: []string{"decompressed"}},
		{name: "malformed gzip", method: "POST", path: "/v1/events", contentType: "application/json", body: []byte("not gzip"),
			header: map[string]string{"Content-Encoding": "gzip"}, status: 400, want: []string{"gzip"}},
		{name: "unsupported encoding", method: "POST", path: "/v1/events", contentType: "application/json", body: evJSON(t, func(ev) {}),
			header: map[string]string{"Content-Encoding": "br"}, status: 415, want: []string{"br"}},
		{name: "no token", method: "POST", path: "/v1/events", contentType: "application/json", body: evJSON(t, func(ev) {}),
			header: map[string]string{"Authorization": ""}, status: 401, want: []string{"no credentials"}},
		{name: "wrong token", method: "POST", path: "/v1/events", contentType: "application/json", body: evJSON(t, func(ev) {}),
			header: map[string]string{"Authorization": "Bearer guess"}, status: 401, want: []string{"invalid token"}},
		{name: "token limited to another store", method: "POST", path: "/v1/events", contentType: "application/json", body: evJSON(t, set("store", "s2")),
			header: map[string]string{"Authorization": "Bearer shop-token"}, status: 403, want: []string{`store \"s2\"`}},

		// POST /v1/metrics
		metrics("metrics: unknown measurement", map[string]any{"measurement": "sp_nope"}, "sp_nope"),
		metrics("metrics: field not in the measurement", map[string]any{"fields": map[string]float64{"clicks": 1}}, "clicks"),
		metrics("metrics: negative value", map[string]any{"fields": map[string]float64{"gmv": -1}}, "gmv"),
		metrics("metrics: missing id", map[string]any{"id": nil}, `"id"`),
		metrics("metrics: tag not allowed", map[string]any{"tags": map[string]string{"store": "s1", "reason": "x"}}, "reason"),
		metrics("metrics: missing store", map[string]any{"tags": map[string]string{"channel": "app"}}, "store"),

		// Line protocol, v2 and v1
		lp("line protocol: malformed", "/api/v2/write?bucket=x&precision=ns", "sp_orders,store=s1 orders= "+nowNS, "line 1"),
		lp("line protocol: reserved sketch measurement", "/api/v2/write?bucket=storepulse&precision=ns", "sp_distinct,store=s1 estimate=3 "+nowNS, "sp_distinct"),
		lp("line protocol: reserved ingester tag", "/api/v2/write?bucket=storepulse&precision=ns", "sp_orders,ingester=x,store=s1 orders=1 "+nowNS, "ingester"),
		lp("line protocol: negative rollup field", "/write?db=x&precision=n", "sp_orders,store=s1 gmv=-3 "+nowNS, "gmv"),
		lp("line protocol: unknown field of a StorePulse measurement", "/write?db=x&precision=n", "sp_orders,store=s1 revenue=3 "+nowNS, "revenue"),
		lp("line protocol: bad precision", "/api/v2/write?bucket=storepulse&precision=fortnight", "cpu v=1", "precision"),
		lp("line protocol: too old", "/api/v2/write?bucket=storepulse&precision=s", fmt.Sprintf("cpu v=1 %d", now.Add(-30*24*time.Hour).Unix()), "line 1"),

		// CSV import
		{name: "csv: no event type", method: "POST", path: "/v1/import/csv?col.id=order_no", contentType: "text/csv", body: csvBody, status: 400, want: []string{"type"}},
		{name: "csv: mapped column not in header", method: "POST", path: csvQ("&col.items=qty"), contentType: "text/csv", body: csvBody, status: 400, want: []string{"qty"}},
		{name: "csv: bad amount in a row", method: "POST", path: csvQ(""), contentType: "text/csv",
			body: []byte("order_no,created_at,total,buyer\nA1," + now.Add(-time.Hour).Format("2006-01-02 15:04:05") + ",abc,b1\n"), status: 400, want: []string{"amount"}},
		{name: "csv: time not in the layout", method: "POST", path: csvQ(""), contentType: "text/csv",
			body: []byte("order_no,created_at,total,buyer\nA1,24/11/2026,10,b1\n"), status: 400, want: []string{"time"}},

		// Calendar and targets
		{name: "campaign: unknown phase", method: "PUT", path: "/v1/campaigns", contentType: "application/json",
			body:   []byte(`{"id":"d11","name":"Double 11","kind":"double11","phases":[{"name":"party","start":"2026-11-01T00:00:00+08:00","end":"2026-11-12T00:00:00+08:00"}]}`),
			status: 400, want: []string{"party"}},
		{name: "campaign: end before start", method: "PUT", path: "/v1/campaigns", contentType: "application/json",
			body:   []byte(`{"id":"d11","name":"Double 11","kind":"double11","phases":[{"name":"peak","start":"2026-11-12T00:00:00+08:00","end":"2026-11-11T00:00:00+08:00"}]}`),
			status: 400, want: []string{"end must be after start"}},
		{name: "target: unknown period", method: "PUT", path: "/v1/targets", contentType: "application/json",
			body: []byte(`{"kpi":"gmv","store":"all","period":"decade","start":"2026-11-01","value":1}`), status: 400, want: []string{"decade"}},
		{name: "target: unknown field", method: "PUT", path: "/v1/targets", contentType: "application/json",
			body: []byte(`{"kpi":"gmv","store":"all","period":"day","start":"2026-11-01","value":1,"owner":"me"}`), status: 400, want: []string{"owner"}},
	}
}

// TestBadInput sends every kind of invalid request and checks the precise
// answer, then that none of it reached InfluxDB, while a valid event sent
// afterwards does.
func TestBadInput(t *testing.T) {
	db := influxtest.Start(t)
	in := startIngest(t, db, ingestOpts{
		ExtraTokens: fmt.Sprintf("    - name: shop\n      sha256: %s\n      stores: [s1]\n", auth.Hash("shop-token")),
	})
	cases := badCases(t)
	require.GreaterOrEqual(t, len(cases), 40)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := in.Do(tc.method, tc.path, tc.contentType, tc.body, tc.header)
			require.NoError(t, err)
			require.Equal(t, tc.status, resp.Status, resp.Body)
			var body map[string]any
			require.NoError(t, json.Unmarshal([]byte(resp.Body), &body), "error responses are JSON: %s", resp.Body)
			require.NotEmpty(t, body["error"], resp.Body)
			for _, w := range tc.want {
				require.Contains(t, resp.Body, w)
			}
		})
	}

	in.WaitDrained(30 * time.Second)
	rows := fluxTable(t, db, fmt.Sprintf(`from(bucket: %q) |> `+fluxRange(60*24*time.Hour)+` |> group() |> count()`, db.Bucket))
	require.Empty(t, rows, "nothing of the rejected requests may reach InfluxDB")

	resp, err := in.Do("POST", "/v1/events", "application/json", evJSON(t, func(ev) {}), nil)
	require.NoError(t, err)
	require.Equal(t, 202, resp.Status, resp.Body)
	in.WaitDrained(30 * time.Second)
	got := storedSums(t, db)
	require.Equal(t, 12.5, got["s1"]["sp_orders.gmv"])
	require.Equal(t, 1.0, got["s1"]["sp_ingest.events"])
}
