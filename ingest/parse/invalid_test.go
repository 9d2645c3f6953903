package parse

import (
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// ev builds one valid order event with some members replaced or removed
// (a value of "-" deletes the member).
func ev(over map[string]string) string {
	members := [][2]string{
		{"type", `"order"`}, {"id", `"o-1"`}, {"time", `"2026-11-24T10:00:00+08:00"`}, {"store", `"s1"`},
		{"user", `"u1"`}, {"amount", `10`}, {"customer", `"new"`},
	}
	var parts []string
	seen := map[string]bool{}
	for _, m := range members {
		seen[m[0]] = true
		v := m[1]
		if o, ok := over[m[0]]; ok {
			v = o
		}
		if v != "-" {
			parts = append(parts, `"`+m[0]+`":`+v)
		}
	}
	for k, v := range over {
		if !seen[k] {
			parts = append(parts, `"`+k+`":`+v)
		}
	}
	return "{" + strings.Join(parts, ",") + "}"
}

const orderCSVHeader = "no,at,buyer,total,kind\n"

func orderCSV(rows ...string) string { return orderCSVHeader + strings.Join(rows, "\n") + "\n" }

var orderMapping = url.Values{"type": {"order"}, "col.id": {"no"}, "col.time": {"at"}, "col.user": {"buyer"},
	"col.amount": {"total"}, "col.customer": {"kind"}, "set.store": {"s1"}}

func TestInvalidInputs(t *testing.T) {
	tooMany := strings.Repeat(ev(nil)+"\n", 4)
	long := strings.Repeat("x", 129)
	var tags []string
	for i := range 600 {
		tags = append(tags, fmt.Sprintf("k%03d=%s", i, strings.Repeat("v", 120)))
	}
	manyTags := strings.Join(tags, ",")
	for _, tc := range []struct {
		name    string
		parser  string // events, metrics, lp, csv
		body    string
		param   string // lp precision
		mapping url.Values
		kind    string
		msg     string
	}{
		// events: framing
		{name: "empty body", parser: "events", body: " \n", kind: KindEmpty, msg: "request body is empty"},
		{name: "empty array", parser: "events", body: "[ ]", kind: KindEmpty, msg: "no items"},
		{name: "not json", parser: "events", body: "hello", kind: KindMalformed, msg: `line 1, byte offset 0: expected '[' (JSON array) or '{' (NDJSON), found 'h'`},
		{name: "truncated array", parser: "events", body: "[" + ev(nil), kind: KindMalformed, msg: "expected ',' or ']', found end of input"},
		{name: "missing colon", parser: "events", body: `[{"type" "order"}]`, kind: KindMalformed, msg: "byte offset 9: expected ':' after a field name"},
		{name: "bad number", parser: "events", body: "\n\n" + ev(map[string]string{"amount": "01"}), kind: KindMalformed, msg: "item 0 (line 3): invalid JSON at line 3"},
		{name: "two objects one line", parser: "events", body: ev(nil) + " " + ev(nil), kind: KindMalformed, msg: "expected a newline after an object"},
		{name: "trailing garbage", parser: "events", body: "[" + ev(nil) + "] x", kind: KindMalformed, msg: "unexpected data after the closing ']'"},
		{name: "raw control char in string", parser: "events", body: "{\"id\":\"a\tb\"}", kind: KindMalformed, msg: "control character 0x09 in string"},
		{name: "lone surrogate", parser: "events", body: `{"id":"\ud800"}`, kind: KindMalformed, msg: "unpaired UTF-16 surrogate"},
		{name: "too many items", parser: "events", body: tooMany, kind: KindTooManyItems, msg: "more than 3 items"},
		{name: "item not object", parser: "events", body: "[" + ev(nil) + `, 5]`, kind: KindInvalidItems, msg: "item 1 (line 1): must be a JSON object, got 5"},
		// events: fields
		{name: "unknown type", parser: "events", body: ev(map[string]string{"type": `"purchase"`}), kind: KindInvalidItems, msg: `field "type": unknown type "purchase"; want one of signup, session`},
		{name: "typo field", parser: "events", body: ev(map[string]string{"amount": "-", "amont": "5"}), kind: KindInvalidItems, msg: `field "amont": unknown field; did you mean "amount"?`},
		{name: "missing field", parser: "events", body: ev(map[string]string{"user": "-"}), kind: KindInvalidItems, msg: `field "user": missing required field`},
		{name: "field of other type", parser: "events", body: ev(map[string]string{"reason": `"x"`}), kind: KindInvalidItems, msg: `field "reason": not used by type "order"`},
		{name: "duplicate field", parser: "events", body: `{"type":"signup","id":"a","id":"b","time":"2026-11-24T10:00:00Z","store":"s","user":"u"}`, kind: KindInvalidItems, msg: `field "id": duplicate field`},
		{name: "negative amount", parser: "events", body: "[\n" + ev(nil) + ",\n" + ev(nil) + ",\n" + ev(map[string]string{"amount": "-5"}) + "]", kind: KindInvalidItems, msg: `item 2 (line 4): field "amount": must be a non-negative finite number, got -5`},
		{name: "huge amount", parser: "events", body: ev(map[string]string{"amount": "1e400"}), kind: KindInvalidItems, msg: `must be a non-negative finite number, got 1e400`},
		{name: "amount as string", parser: "events", body: ev(map[string]string{"amount": `"10"`}), kind: KindInvalidItems, msg: `field "amount": must be a number, got "10"`},
		{name: "fractional items", parser: "events", body: ev(map[string]string{"items": "2.5"}), kind: KindInvalidItems, msg: `field "items": must be a non-negative whole number, got 2.5`},
		{name: "null store", parser: "events", body: ev(map[string]string{"store": "null"}), kind: KindInvalidItems, msg: `field "store": must be a string, got null`},
		{name: "object user", parser: "events", body: ev(map[string]string{"user": `{"a":[1,{}]}`}), kind: KindInvalidItems, msg: `field "user": must be a string, got an object`},
		{name: "bad customer", parser: "events", body: ev(map[string]string{"customer": `"vip"`}), kind: KindInvalidItems, msg: `field "customer": must be one of "new", "returning", got "vip"`},
		{name: "time without offset", parser: "events", body: ev(map[string]string{"time": `"2026-11-24T10:00:00"`}), kind: KindInvalidItems, msg: `field "time": has no UTC offset, got "2026-11-24T10:00:00": add one (e.g. 2024-06-18T09:30:00+08:00) or give the zone of such times with the query parameter tz`},
		{name: "time float ms", parser: "events", body: ev(map[string]string{"time": `1795478400000.5`}), kind: KindInvalidItems, msg: `field "time": must be RFC 3339`},
		{name: "time too old", parser: "events", body: ev(map[string]string{"time": `"2026-11-01T00:00:00Z"`}), kind: KindInvalidItems, msg: `older than the late-data horizon (limits.late_horizon: 168h0m0s before now); import older data as history: POST it to /v1/import/csv, /v1/events or /v1/metrics with the query parameter history=true and an admin token (accepted back to limits.history_horizon: 26280h0m0s`},
		{name: "time in future", parser: "events", body: ev(map[string]string{"time": `"2026-11-24T12:10:00Z"`}), kind: KindInvalidItems, msg: `is in the future (more than 5m0s after now)`},
		{name: "empty store", parser: "events", body: ev(map[string]string{"store": `""`}), kind: KindInvalidItems, msg: `field "store": must not be empty`},
		{name: "long campaign", parser: "events", body: ev(map[string]string{"campaign": `"` + long + `"`}), kind: KindInvalidItems, msg: `field "campaign": must be at most 128 bytes, got 129`},
		{name: "control char in tag", parser: "events", body: ev(map[string]string{"store": `"a\nb"`}), kind: KindInvalidItems, msg: `field "store": must not contain control characters`},
		{name: "invalid utf8 in id", parser: "events", body: ev(map[string]string{"id": "\"a\xffb\""}), kind: KindInvalidItems, msg: `field "id": must be valid UTF-8`},
		{name: "id too long", parser: "events", body: ev(map[string]string{"id": `"` + strings.Repeat("i", 257) + `"`}), kind: KindInvalidItems, msg: `field "id": must be at most 256 bytes, got 257`},
		{name: "resolved without resolution", parser: "events", body: `{"type":"ticket","id":"t","time":"2026-11-24T10:00:00Z","store":"s","status":"resolved"}`, kind: KindInvalidItems, msg: `field "resolution_s": missing: required when status is "resolved"`},
		{name: "opened with resolution", parser: "events", body: `{"type":"ticket","id":"t","time":"2026-11-24T10:00:00Z","store":"s","status":"opened","resolution_s":5}`, kind: KindInvalidItems, msg: `field "resolution_s": not allowed when status is "opened"`},
		{name: "price without category or sku", parser: "events", body: `{"type":"price","id":"p","time":"2026-11-24T10:00:00Z","store":"s","competitor":"jd","own_price":1,"competitor_price":2}`, kind: KindInvalidItems, msg: `a price needs "category" or "sku"`},
		{name: "zero competitor price", parser: "events", body: `{"type":"price","id":"p","time":"2026-11-24T10:00:00Z","store":"s","sku":"k","competitor":"jd","own_price":1,"competitor_price":0}`, kind: KindInvalidItems, msg: `field "competitor_price": must be a positive finite number, got 0`},
		{name: "click with amount", parser: "events", body: `{"type":"click","id":"c","time":"2026-11-24T10:00:00Z","store":"s","campaign":"c","creative":"banner","amount":3}`, kind: KindInvalidItems, msg: `field "amount": not used by type "click"`},
		{name: "bad creative", parser: "events", body: `{"type":"impression","id":"c","time":"2026-11-24T10:00:00Z","store":"s","campaign":"c","creative":"email"}`, kind: KindInvalidItems, msg: `field "creative": must be one of "banner", "push", "sms", got "email"`},
		{name: "bool as string", parser: "events", body: `{"type":"consultation","id":"c","time":"2026-11-24T10:00:00Z","store":"s","user":"u","first_response_s":1,"converted":"yes"}`, kind: KindInvalidItems, msg: `field "converted": must be true or false, got "yes"`},
		// issue #11 item 2: a tag value ending in a backslash cannot be written as line protocol
		{name: "tag ends in backslash", parser: "events", body: ev(map[string]string{"channel": `"app\\"`}), kind: KindInvalidItems, msg: `field "channel": cannot be stored in InfluxDB: it ends with a backslash, which line protocol cannot represent; got "app\\"`},
		{name: "tag backslash before space", parser: "events", body: ev(map[string]string{"store": `"a\\ b"`}), kind: KindInvalidItems, msg: `field "store": cannot be stored in InfluxDB: it has a backslash before`},
		// issue #11 item 3: amounts are bounded so that no sum can overflow
		{name: "amount above max", parser: "events", body: ev(map[string]string{"amount": "1e308"}), kind: KindInvalidItems, msg: `field "amount": must be at most 1e+12, got 1e308`},
		{name: "count above max", parser: "events", body: `{"type":"impression","id":"c","time":"2026-11-24T10:00:00Z","store":"s","campaign":"c","creative":"banner","count":1000000000001}`, kind: KindInvalidItems, msg: `field "count": must be at most 1e+12, got 1000000000001`},
		// metrics
		{name: "metrics unknown measurement", parser: "metrics", body: `{"id":"m","measurement":"orders","time":"2026-11-24T10:00:00Z","tags":{"store":"s"},"fields":{"orders":1}}`, kind: KindInvalidItems, msg: `field "measurement": unknown measurement "orders"; want one of sp_users`},
		{name: "metrics sp_ingest reserved", parser: "metrics", body: `{"id":"m","measurement":"sp_ingest","time":"2026-11-24T10:00:00Z","tags":{"store":"s"},"fields":{"events":1}}`, kind: KindInvalidItems, msg: `reserved: written only by StorePulse`},
		{name: "metrics missing store", parser: "metrics", body: `{"id":"m","measurement":"sp_orders","time":"2026-11-24T10:00:00Z","tags":{"channel":"app"},"fields":{"orders":1}}`, kind: KindInvalidItems, msg: `field "tags.store": missing required tag`},
		{name: "metrics unknown tag", parser: "metrics", body: `{"id":"m","measurement":"sp_users","time":"2026-11-24T10:00:00Z","tags":{"store":"s","category":"c"},"fields":{"signups":1}}`, kind: KindInvalidItems, msg: `field "tags.category": unknown tag for sp_users; want store, channel`},
		{name: "metrics unknown field", parser: "metrics", body: `{"id":"m","measurement":"sp_users","time":"2026-11-24T10:00:00Z","tags":{"store":"s"},"fields":{"signup":1}}`, kind: KindInvalidItems, msg: `field "fields.signup": unknown field for sp_users; want signups`},
		{name: "metrics negative", parser: "metrics", body: `{"id":"m","measurement":"sp_users","time":"2026-11-24T10:00:00Z","tags":{"store":"s"},"fields":{"signups":-2}}`, kind: KindInvalidItems, msg: `field "fields.signups": must be a non-negative finite number, got -2`},
		{name: "metrics no fields", parser: "metrics", body: `{"id":"m","measurement":"sp_users","time":"2026-11-24T10:00:00Z","tags":{"store":"s"},"fields":{}}`, kind: KindInvalidItems, msg: `field "fields": needs at least one field`},
		{name: "metrics ingester tag", parser: "metrics", body: `{"id":"m","measurement":"sp_users","time":"2026-11-24T10:00:00Z","tags":{"store":"s","ingester":"i"},"fields":{"signups":1}}`, kind: KindInvalidItems, msg: `tag "ingester" is reserved`},
		{name: "metrics missing id", parser: "metrics", body: `{"measurement":"sp_users","time":"2026-11-24T10:00:00Z","tags":{"store":"s"},"fields":{"signups":1}}`, kind: KindInvalidItems, msg: `field "id": missing required field`},
		{name: "metrics string value", parser: "metrics", body: `{"id":"m","measurement":"sp_users","time":"2026-11-24T10:00:00Z","tags":{"store":"s"},"fields":{"signups":"1"}}`, kind: KindInvalidItems, msg: `field "fields.signups": must be a number, got "1"`},
		{name: "metrics tag ends in backslash", parser: "metrics", body: `{"id":"m","measurement":"sp_users","time":"2026-11-24T10:00:00Z","tags":{"store":"s","channel":"app\\"},"fields":{"signups":1}}`, kind: KindInvalidItems, msg: `field "tags.channel": cannot be stored in InfluxDB: it ends with a backslash`},
		{name: "metrics above max", parser: "metrics", body: `{"id":"m","measurement":"sp_orders","time":"2026-11-24T10:00:00Z","tags":{"store":"s"},"fields":{"gmv":1e308}}`, kind: KindInvalidItems, msg: `field "fields.gmv": must be at most 1e+12, got 1e308`},
		// line protocol
		{name: "lp bad precision", parser: "lp", param: "d", body: "m f=1", kind: KindInvalidRequest, msg: `invalid precision "d"`},
		{name: "lp syntax", parser: "lp", body: "ok f=1\nm f=\n", kind: KindInvalidItems, msg: `line 2: invalid line protocol`},
		{name: "lp reserved measurement", parser: "lp", body: "sp_distinct,store=s estimate=1\n", kind: KindInvalidItems, msg: `line 1: measurement "sp_distinct" is reserved`},
		{name: "lp reserved store-level sketches", parser: "lp", body: "sp_distinct_store,store=s estimate=1\n", kind: KindInvalidItems, msg: `line 1: measurement "sp_distinct_store" is reserved`},
		{name: "lp unknown sp measurement", parser: "lp", body: "sp_order,store=s orders=1\n", kind: KindInvalidItems, msg: `unknown StorePulse measurement "sp_order"`},
		{name: "lp ingester tag", parser: "lp", body: "cpu,ingester=x v=1\n", kind: KindInvalidItems, msg: `field "tags.ingester": tag "ingester" is reserved`},
		{name: "lp summed string field", parser: "lp", body: "sp_orders,store=s orders=\"3\"\n", kind: KindInvalidItems, msg: `field "fields.orders": must be a number, got string`},
		{name: "lp summed unknown tag", parser: "lp", body: "sp_orders,store=s,shop=x orders=3\n", kind: KindInvalidItems, msg: `field "tags.shop": unknown tag for sp_orders`},
		{name: "lp summed missing store", parser: "lp", body: "sp_orders orders=3\n", kind: KindInvalidItems, msg: `field "tags.store": missing required tag`},
		{name: "lp old timestamp", parser: "lp", param: "s", body: "cpu v=1 1000\n", kind: KindInvalidItems, msg: `line 1: time 1970-01-01T00:16:40Z is older than the late-data horizon`},
		{name: "lp overflow timestamp", parser: "lp", param: "h", body: "cpu v=1 99999999999999\n", kind: KindInvalidItems, msg: `invalid timestamp "99999999999999"`},
		{name: "lp long tag of a summed measurement", parser: "lp", body: "sp_orders,store=" + long + " orders=1\n", kind: KindInvalidItems, msg: `field "tags.store": must be at most 128 bytes`},
		{name: "lp control character in a summed measurement's tag", parser: "lp", body: "sp_orders,store=a\x01b orders=1\n", kind: KindInvalidItems, msg: `field "tags.store": must not contain control characters`},
		{name: "lp empty (all-or-nothing wrapper; the endpoints answer 204)", parser: "lp", body: "# only a comment\n", kind: KindEmpty, msg: "no line-protocol points"},
		{name: "lp too many", parser: "lp", body: "a v=1\na v=1\na v=1\na v=1\n", kind: KindTooManyItems, msg: "more than 3 points"},
		{name: "lp tag ends in backslash", parser: "lp", body: "cpu,host=web\\\\ v=1\n", kind: KindInvalidItems, msg: `field "tags.host": cannot be stored in InfluxDB: it has a backslash before ",", "=" or " "`},
		{name: "lp summed tag ends in backslash", parser: "lp", body: "sp_orders,store=s,channel=app\\\\ orders=1\n", kind: KindInvalidItems, msg: `field "tags.channel": cannot be stored in InfluxDB: it has a backslash before`},
		{name: "lp measurement ends in backslash", parser: "lp", body: "cpu\\\\ v=1\n", kind: KindInvalidItems, msg: `measurement name cannot be stored in InfluxDB: it has a backslash before`},
		{name: "lp summed above max", parser: "lp", body: "sp_orders,store=s gmv=1e308\n", kind: KindInvalidItems, msg: `field "fields.gmv": must be at most 1e+12, got 1e+308`},
		// issue #11 item 1: refuse what InfluxDB would refuse
		{name: "lp type conflict in request", parser: "lp", body: "clientb v=1i 1795478400000000000\nclientb v=1.5 1795478400000000001\n", kind: KindInvalidItems, msg: `line 2: field "fields.v": field type conflict: float here, but integer on line 1 for the same measurement`},
		{name: "lp unsigned field", parser: "lp", body: "cpu n=3u\n", kind: KindInvalidItems, msg: `field "fields.n": unsigned integer 3u is not supported by the InfluxDB this service writes to (1.8 refuses it); write 3i or 3 instead`},
		{name: "lp time tag key", parser: "lp", body: "cpu,time=x v=1\n", kind: KindInvalidItems, msg: `field "tags.time": tag key "time" is not allowed: InfluxDB refuses it`},
		{name: "lp series key too long", parser: "lp", body: "m," + manyTags + " v=1\n", kind: KindInvalidItems, msg: `line 1: series key (measurement and tags, escaped) is 75601 bytes; InfluxDB refuses more than 65535`},
		{name: "lp time field key", parser: "lp", body: "cpu time=1\n", kind: KindInvalidItems, msg: `field "fields.time": field key "time" is not allowed`},
		// csv
		{name: "csv missing column", parser: "csv", body: "no,at\n", mapping: orderMapping, kind: KindInvalidMapping, msg: `parameter "col.amount": column "total" is not in the header`},
		{name: "csv negative amount", parser: "csv", body: orderCSV("o1,2026-11-24T10:00:00+08:00,u1,10,new", "o2,2026-11-24T10:00:00+08:00,u1,-5,new"), mapping: orderMapping, kind: KindInvalidItems, msg: `row 1 (line 3): field "amount": column "total": must be a non-negative finite number, got "-5"`},
		{name: "csv not a number", parser: "csv", body: orderCSV("o1,2026-11-24T10:00:00+08:00,u1,ten,new"), mapping: orderMapping, kind: KindInvalidItems, msg: `field "amount": column "total": must be a number, got "ten"`},
		{name: "csv field count", parser: "csv", body: orderCSV("o1,2026-11-24T10:00:00+08:00,u1"), mapping: orderMapping, kind: KindInvalidItems, msg: `row 0 (line 2): has 3 columns, the header has 5`},
		{name: "csv bad quote", parser: "csv", body: orderCSV(`o1,"2026,u1,1,new`), mapping: orderMapping, kind: KindMalformed, msg: `malformed CSV`},
		{name: "csv missing required cell", parser: "csv", body: orderCSV("o1,2026-11-24T10:00:00+08:00,,10,new"), mapping: orderMapping, kind: KindInvalidItems, msg: `field "user": column "buyer": missing required field`},
		{name: "csv layout mismatch", parser: "csv", body: orderCSV("o1,24/11/2026,u1,10,new"),
			mapping: url.Values{"type": {"order"}, "col.id": {"no"}, "col.time": {"at"}, "col.user": {"buyer"}, "col.amount": {"total"}, "col.customer": {"kind"}, "set.store": {"s1"}, "time_layout": {"2006-01-02 15:04:05"}, "tz": {"Asia/Shanghai"}},
			kind:    KindInvalidItems, msg: `field "time": column "at": must match time_layout "2006-01-02 15:04:05", got "24/11/2026"`},
		{name: "csv no rows", parser: "csv", body: orderCSVHeader, mapping: orderMapping, kind: KindEmpty, msg: "no data rows"},
		{name: "csv too many", parser: "csv", body: orderCSV(strings.Repeat("o,2026-11-24T10:00:00Z,u,1,new\n", 4)), mapping: orderMapping, kind: KindTooManyItems, msg: "more than 3 rows"},
		{name: "csv tag ends in backslash", parser: "csv", body: orderCSV("o1,2026-11-24T10:00:00+08:00,u1,10,new"), mapping: url.Values{"type": {"order"}, "col.id": {"no"}, "col.time": {"at"}, "col.user": {"buyer"}, "col.amount": {"total"}, "col.customer": {"kind"}, "set.store": {"s1"}, "set.channel": {"app\\"}}, kind: KindInvalidItems, msg: `field "channel": set.channel: cannot be stored in InfluxDB: it ends with a backslash`},
		{name: "csv amount above max", parser: "csv", body: orderCSV("o1,2026-11-24T10:00:00+08:00,u1,1e308,new"), mapping: orderMapping, kind: KindInvalidItems, msg: `field "amount": column "total": must be at most 1e+12, got "1e308"`},
		// csv mapping
		{name: "mapping unknown field", parser: "mapping", mapping: url.Values{"type": {"order"}, "col.amont": {"x"}}, kind: KindInvalidRequest, msg: `parameter "col.amont": unknown event field "amont"; did you mean "amount"?`},
		{name: "mapping unknown param", parser: "mapping", mapping: url.Values{"type": {"order"}, "time_layot": {"x"}}, kind: KindInvalidRequest, msg: `parameter "time_layot": unknown parameter`},
		{name: "mapping needs tz", parser: "mapping", mapping: url.Values{"type": {"order"}, "col.id": {"a"}, "col.time": {"b"}, "col.store": {"c"}, "time_layout": {"2006-01-02 15:04"}}, kind: KindInvalidRequest, msg: `parameter "tz": required: time_layout "2006-01-02 15:04" has no UTC offset`},
		{name: "mapping bad tz", parser: "mapping", mapping: url.Values{"type": {"order"}, "col.id": {"a"}, "col.time": {"b"}, "col.store": {"c"}, "tz": {"Mars/Olympus"}}, kind: KindInvalidRequest, msg: `unknown time zone "Mars/Olympus"`},
		{name: "mapping unknown type", parser: "mapping", mapping: url.Values{"type": {"sale"}, "col.id": {"a"}, "col.time": {"b"}, "col.store": {"c"}}, kind: KindInvalidRequest, msg: `parameter "type": unknown type "sale"`},
		{name: "mapping no id", parser: "mapping", mapping: url.Values{"type": {"order"}, "col.time": {"b"}, "col.store": {"c"}}, kind: KindInvalidRequest, msg: `parameter "col.id": required`},
		{name: "mapping col and set", parser: "mapping", mapping: url.Values{"type": {"order"}, "col.id": {"a"}, "col.time": {"b"}, "col.store": {"c"}, "set.store": {"s"}}, kind: KindInvalidRequest, msg: `field "store" is given both as a column and as set.store`},
		{name: "mapping bad delimiter", parser: "mapping", mapping: url.Values{"type": {"order"}, "col.id": {"a"}, "col.time": {"b"}, "col.store": {"c"}, "delimiter": {";;"}}, kind: KindInvalidRequest, msg: `parameter "delimiter": must be a single character`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			lim := testLimits()
			lim.MaxItems = 3
			var err error
			switch tc.parser {
			case "events":
				_, err = Events(strings.NewReader(tc.body), lim)
			case "metrics":
				_, err = Metrics(strings.NewReader(tc.body), lim)
			case "lp":
				_, err = LineProtocol(strings.NewReader(tc.body), tc.param, lim)
			case "mapping":
				_, err = ParseCSVMapping(tc.mapping)
			case "csv":
				m, merr := ParseCSVMapping(tc.mapping)
				require.NoError(t, merr)
				_, err = CSV(strings.NewReader(tc.body), m, lim)
			default:
				t.Fatalf("unknown parser %q", tc.parser)
			}
			var pe *Error
			require.ErrorAs(t, err, &pe)
			require.Equal(t, tc.kind, pe.Kind, err.Error())
			require.Contains(t, err.Error(), tc.msg)
		})
	}
}
