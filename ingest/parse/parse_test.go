package parse

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/url"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/storepulse/storepulse/ingest/event"
)

// testNow is fixed so that the testdata timestamps stay inside the window.
var testNow = time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)

func testLimits() Limits {
	return Limits{Now: func() time.Time { return testNow }}
}

func ts(s string) int64 {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t.UnixNano()
}

func wantEvents() []event.Event {
	return []event.Event{
		{Type: event.TypeSignup, ID: "su-1", Time: ts("2026-11-24T02:00:00Z"), Store: "tmall-01", Channel: "app", User: "u1"},
		{Type: event.TypeSession, ID: "se-1", Time: 1795478400000 * int64(time.Millisecond), Store: "tmall-01", Visitor: "v1", User: "u1", PageViews: 7, DurationS: 312.5, AddedToCart: true},
		{Type: event.TypeOrder, ID: "o-1", Time: ts("2026-11-24T02:00:00Z"), Store: "tmall-01", Category: "shoes", User: "u1", Amount: 199.9, Items: 2, Customer: event.CustomerNew, Campaign: "double11"},
		{Type: event.TypePayment, ID: "p-1", Time: ts("2026-11-24T02:01:00Z"), Store: "tmall-01", Order: "o-1", Amount: 199.9, User: "u1", Campaign: "double11"},
		{Type: event.TypeRefund, ID: "r-1", Time: ts("2026-11-24T02:02:00Z"), Store: "tmall-01", Order: "o-1", Amount: 50, Reason: "damaged"},
		{Type: event.TypeConsultation, ID: "c-1", Time: ts("2026-11-24T02:03:00Z"), Store: "tmall-01", User: "u2", FirstResponseS: 12},
		{Type: event.TypeTicket, ID: "t-1", Time: ts("2026-11-24T02:04:00Z"), Store: "tmall-01", TicketStatus: event.TicketOpened, Order: "o-1", Reason: "late"},
		{Type: event.TypeTicket, ID: "t-1r", Time: ts("2026-11-24T02:05:00Z"), Store: "tmall-01", TicketStatus: event.TicketResolved, ResolutionS: 3600},
		{Type: event.TypeImpression, ID: "i-1", Time: ts("2026-11-24T02:06:00Z"), Store: "tmall-01", Campaign: "double11", Creative: "banner", Count: 1000},
		{Type: event.TypeClick, ID: "k-1", Time: ts("2026-11-24T02:07:00Z"), Store: "tmall-01", Campaign: "double11", Creative: "push", Count: 1},
		{Type: event.TypeConversion, ID: "cv-1", Time: ts("2026-11-24T02:08:00Z"), Store: "tmall-01", Campaign: "double11", Creative: "sms", Count: 3, Amount: 420},
		{Type: event.TypeSpend, ID: "sp-1", Time: ts("2026-11-24T02:09:00Z"), Store: "tmall-01", Campaign: "double11", Amount: 300, Creative: "banner"},
		{Type: event.TypePrice, ID: "pr-1", Time: ts("2026-11-24T02:10:00Z"), Store: "tmall-01", Category: "shoes", SKU: "sku-9", Competitor: "jd", OwnPrice: 99, CompetitorPrice: 109.5},
	}
}

func TestEventsEveryType(t *testing.T) {
	nd, err := os.ReadFile("testdata/events.ndjson")
	require.NoError(t, err)
	lines := strings.Split(strings.TrimSpace(string(nd)), "\n")
	array := "[\n  " + strings.Join(lines, ",\n  ") + "\n]"
	covered := map[event.Type]bool{}
	for _, e := range wantEvents() {
		covered[e.Type] = true
	}
	require.Len(t, covered, len(event.Types()), "testdata must cover every event type")

	for _, tc := range []struct {
		name string
		body string
	}{
		{"ndjson", string(nd)},
		{"ndjson_crlf_blank_lines", "\r\n" + strings.ReplaceAll(string(nd), "\n", "\r\n\r\n")},
		{"array", array},
		{"array_compact", "[" + strings.Join(lines, ",") + "]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := Events(strings.NewReader(tc.body), testLimits())
			require.NoError(t, err)
			require.Equal(t, wantEvents(), b.Events)
			require.Empty(t, b.Points)
		})
	}
}

func TestEventsEscapesAndUnicode(t *testing.T) {
	body := `{"type":"signup","id":"a\"b\u00e9\ud83d\ude00","time":"2026-11-24T10:00:00.123456789+08:00","store":"天猫\/01","user":"u"}`
	b, err := Events(strings.NewReader(body), testLimits())
	require.NoError(t, err)
	require.Len(t, b.Events, 1)
	require.Equal(t, "a\"b\u00e9\U0001F600", b.Events[0].ID)
	require.Equal(t, "天猫/01", b.Events[0].Store)
	require.Equal(t, ts("2026-11-24T02:00:00Z")+123456789, b.Events[0].Time)
}

func TestMetrics(t *testing.T) {
	body := `[{"id":"m-1","measurement":"sp_orders","time":"2026-11-24T02:00:00Z","tags":{"store":"s1","channel":"app"},"fields":{"orders":12,"gmv":3400.5}},
{"id":"m-2","measurement":"sp_marketing","time":1795478400000,"tags":{"store":"s1","creative":"sms","campaign":"c1"},"fields":{"spend":0}}]`
	b, err := Metrics(strings.NewReader(body), testLimits())
	require.NoError(t, err)
	require.Equal(t, []event.Point{
		{Measurement: "sp_orders", ID: "m-1", Rollup: true, Time: ts("2026-11-24T02:00:00Z"),
			Tags:   []event.Tag{{Key: "channel", Value: "app"}, {Key: "store", Value: "s1"}},
			Fields: []event.Field{{Key: "gmv", Float: 3400.5}, {Key: "orders", Float: 12}}},
		{Measurement: "sp_marketing", ID: "m-2", Rollup: true, Time: 1795478400000 * int64(time.Millisecond),
			Tags:   []event.Tag{{Key: "campaign", Value: "c1"}, {Key: "creative", Value: "sms"}, {Key: "store", Value: "s1"}},
			Fields: []event.Field{{Key: "spend", Kind: event.FieldFloat}}},
	}, b.Points)

	nd := strings.ReplaceAll(strings.TrimSuffix(strings.TrimPrefix(body, "["), "]"), "},\n{", "}\n{")
	b2, err := Metrics(strings.NewReader(nd), testLimits())
	require.NoError(t, err)
	require.Equal(t, b, b2)
}

func TestLineProtocolPrecisions(t *testing.T) {
	base := ts("2026-11-24T02:00:00Z")
	for _, tc := range []struct {
		precision string
		stamp     int64
	}{
		{"", base}, {"n", base}, {"ns", base},
		{"u", base / 1e3}, {"us", base / 1e3}, {"ms", base / 1e6},
		{"s", base / 1e9}, {"m", base / 6e10}, {"h", base / 3.6e12},
	} {
		t.Run("precision_"+tc.precision, func(t *testing.T) {
			body := "sp_orders,store=s1,channel=app orders=3i,gmv=99.5 " + itoa(tc.stamp) + "\n"
			b, err := LineProtocol(strings.NewReader(body), tc.precision, testLimits())
			require.NoError(t, err)
			require.Equal(t, []event.Point{{Measurement: "sp_orders", Rollup: true, Time: base,
				Tags:   []event.Tag{{Key: "channel", Value: "app"}, {Key: "store", Value: "s1"}},
				Fields: []event.Field{{Key: "gmv", Float: 99.5}, {Key: "orders", Float: 3}}}}, b.Points)
		})
	}
}

func itoa(x int64) string { return strconv.FormatInt(x, 10) }

func TestLineProtocolPassthrough(t *testing.T) {
	body := "# comment\n\n" +
		"cpu,host=web\\ 1,region=cn load=0.5,procs=12i,up=true,name=\"a \\\"b\\\"\nc\",big=18446744073709551615u 1795478400000000000\n" +
		"temperature value=-3.5\n"
	lim := testLimits()
	lim.AllowUnsigned = true
	b, err := LineProtocol(strings.NewReader(body), "", lim)
	require.NoError(t, err)
	require.Equal(t, []event.Point{
		{Measurement: "cpu", Time: 1795478400000000000,
			Tags: []event.Tag{{Key: "host", Value: "web 1"}, {Key: "region", Value: "cn"}},
			Fields: []event.Field{
				{Key: "big", Kind: event.FieldUint, Uint: 18446744073709551615},
				{Key: "load", Kind: event.FieldFloat, Float: 0.5},
				{Key: "name", Kind: event.FieldString, Str: "a \"b\"\nc"},
				{Key: "procs", Kind: event.FieldInt, Int: 12},
				{Key: "up", Kind: event.FieldBool, Bool: true},
			}},
		{Measurement: "temperature", Time: testNow.UnixNano(),
			Fields: []event.Field{{Key: "value", Kind: event.FieldFloat, Float: -3.5}}},
	}, b.Points)
}

func TestLineProtocolLineNumbers(t *testing.T) {
	// The string field spans two physical lines; the bad entry is on line 5.
	body := "a f=1\nb s=\"x\ny\"\n\nsp_orders,store=s1 orders=-1\n"
	_, err := LineProtocol(strings.NewReader(body), "", testLimits())
	var pe *Error
	require.ErrorAs(t, err, &pe)
	require.Equal(t, KindInvalidItems, pe.Kind)
	require.Len(t, pe.Items, 1)
	require.Equal(t, 5, pe.Items[0].Line)
	require.Equal(t, 2, pe.Items[0].Index)
	require.Contains(t, err.Error(), `line 5: field "fields.orders": must be a non-negative finite number, got -1`)
}

func TestCSVExampleFile(t *testing.T) {
	data, err := os.ReadFile("../../docs/examples/orders.csv")
	require.NoError(t, err)
	doc, err := os.ReadFile("../../docs/import-csv.md")
	require.NoError(t, err)
	// The documented curl command must carry exactly the mapping tested here.
	_, after, ok := strings.Cut(string(doc), "'http://localhost:8080/v1/import/csv?")
	require.True(t, ok, "curl command not found in docs/import-csv.md")
	docQuery, _, _ := strings.Cut(after, "'")
	q, err := url.ParseQuery(docQuery)
	require.NoError(t, err)
	want, err := url.ParseQuery(exampleCSVQuery)
	require.NoError(t, err)
	require.Equal(t, want, q)
	m, err := ParseCSVMapping(q)
	require.NoError(t, err)
	// The example's times are in November 2026; pin "now" near them.
	lim := Limits{Now: func() time.Time { return time.Date(2026, 11, 12, 0, 0, 0, 0, time.UTC) }}
	b, err := CSV(bytes.NewReader(data), m, lim)
	require.NoError(t, err)
	require.Len(t, b.Events, 6)
	first := b.Events[0]
	require.Equal(t, event.Event{Type: event.TypeOrder, ID: "T20261111000123", Store: "tmall-01", Channel: "app",
		Category: "shoes", User: "buyer_8812", Amount: 399, Items: 2, Customer: event.CustomerNew, Campaign: "double11",
		Time: time.Date(2026, 11, 11, 0, 1, 23, 0, time.FixedZone("CST", 8*3600)).UnixNano()}, first)
	for _, e := range b.Events {
		require.Equal(t, event.TypeOrder, e.Type)
		require.Equal(t, "tmall-01", e.Store)
	}
	require.Empty(t, b.Events[1].Campaign, "an empty cell is an absent optional field")
}

// exampleCSVQuery is the mapping used in docs/import-csv.md.
const exampleCSVQuery = "type=order&col.id=order_no&col.time=created_at&col.amount=total&col.user=buyer_id" +
	"&col.items=qty&col.customer=buyer_type&col.category=category&col.campaign=campaign&col.channel=channel" +
	"&set.store=tmall-01&time_layout=2006-01-02+15:04:05&tz=Asia/Shanghai&delimiter=,"

func TestCSVColumnTypeAndUnixMS(t *testing.T) {
	body := "kind;no;ms;shop;buyer;value;ctype\n" +
		"signup;s1;1795478400000;s1;u1;;\n" +
		"order;o1;1795478400000;s1;u1;12.5;returning\n"
	m, err := ParseCSVMapping(url.Values{"col.type": {"kind"}, "col.id": {"no"}, "col.time": {"ms"},
		"col.store": {"shop"}, "col.user": {"buyer"}, "col.amount": {"value"}, "col.customer": {"ctype"},
		"time_layout": {"unix_ms"}, "delimiter": {";"}})
	require.NoError(t, err)
	b, err := CSV(strings.NewReader(body), m, testLimits())
	require.NoError(t, err)
	require.Equal(t, []event.Event{
		{Type: event.TypeSignup, ID: "s1", Time: 1795478400000 * 1e6, Store: "s1", User: "u1"},
		{Type: event.TypeOrder, ID: "o1", Time: 1795478400000 * 1e6, Store: "s1", User: "u1", Amount: 12.5, Customer: event.CustomerReturning},
	}, b.Events)
}

func TestErrorJSONAndTruncation(t *testing.T) {
	var sb strings.Builder
	sb.WriteString("[")
	for i := range 5 {
		if i > 0 {
			sb.WriteString(",")
		}
		sb.WriteString(`{"type":"signup","id":"x","time":"2026-11-24T10:00:00+08:00","store":"s","user":"u","amont":1}`)
	}
	sb.WriteString("]")
	lim := testLimits()
	lim.MaxErrors = 2
	_, err := Events(strings.NewReader(sb.String()), lim)
	var pe *Error
	require.ErrorAs(t, err, &pe)
	require.Len(t, pe.Items, 2)
	require.Equal(t, 3, pe.Truncated)
	js, err := json.Marshal(pe)
	require.NoError(t, err)
	var got map[string]any
	require.NoError(t, json.Unmarshal(js, &got))
	require.Equal(t, "invalid_items", got["kind"])
	require.InDelta(t, 3, got["truncated"], 0)
	require.Contains(t, got["error"], `5 of 5 items invalid`)
	require.Contains(t, got["error"], `item 0 (line 1): field "amont": unknown field; did you mean "amount"?`)
	items := got["items"].([]any)
	require.Equal(t, map[string]any{"index": 0.0, "line": 1.0, "field": "amont", "reason": `unknown field; did you mean "amount"?`}, items[0])
}

type failingReader struct{ err error }

func (r failingReader) Read([]byte) (int, error) { return 0, r.err }

func TestReadErrorsAreWrapped(t *testing.T) {
	cause := errors.New("http: request body too large")
	read := func() io.Reader { return io.MultiReader(strings.NewReader(`[{"type":`), failingReader{cause}) }
	m, err := ParseCSVMapping(url.Values{"type": {"signup"}, "col.id": {"a"}, "col.time": {"b"}, "col.store": {"c"}})
	require.NoError(t, err)
	for name, fn := range map[string]func() error{
		"events":  func() error { _, err := Events(read(), testLimits()); return err },
		"metrics": func() error { _, err := Metrics(read(), testLimits()); return err },
		"lp":      func() error { _, err := LineProtocol(read(), "s", testLimits()); return err },
		"csv":     func() error { _, err := CSV(read(), m, testLimits()); return err },
	} {
		t.Run(name, func(t *testing.T) {
			err := fn()
			require.ErrorIs(t, err, cause)
			var pe *Error
			require.False(t, errors.As(err, &pe), "read errors must not look like validation errors")
		})
	}
}

// TestLineProtocolStringEscapes: string field values are read as InfluxDB 1.8
// reads them (issue #11 item 4): only \" and \\ are escapes; \n, \t and \r
// written as two characters stay two characters, raw control characters stay
// raw. The decoder library alone would turn \n into a newline.
func TestLineProtocolStringEscapes(t *testing.T) {
	for _, tc := range []struct {
		name, value, want string
	}{
		{"escaped tab stays two characters", `a\tb`, "a\\tb"},
		{"escaped newline and cr stay two characters", `a\nb\rc`, "a\\nb\\rc"},
		{"raw tab", "a\tb", "a\tb"},
		{"raw newline", "a\nb", "a\nb"},
		{"raw cr", "a\rb", "a\rb"},
		{"escaped quote and backslash", `q\"x\\y`, `q"x\y`},
		{"escaped backslash before n", `a\\nb`, `a\nb`},
		{"other backslash kept", `a\xb`, `a\xb`},
		{"trailing escaped backslash", `end\\`, `end\`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := `m,t=a\ b s="` + tc.value + `",n=1 1795478400000000000` + "\n" + "m2 f=1\n"
			b, err := LineProtocol(strings.NewReader(body), "", testLimits())
			require.NoError(t, err)
			require.Len(t, b.Points, 2)
			require.Equal(t, []event.Tag{{Key: "t", Value: "a b"}}, b.Points[0].Tags)
			require.Equal(t, event.Field{Key: "s", Kind: event.FieldString, Str: tc.want}, b.Points[0].Fields[1])
		})
	}
}
