package parse

import (
	"bytes"
	"errors"
	"math"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/influxdata/line-protocol/v2/lineprotocol"
	"github.com/stretchr/testify/require"

	"github.com/storepulse/storepulse/ingest/event"
	"github.com/storepulse/storepulse/internal/lineproto"
	"github.com/storepulse/storepulse/internal/schema"
)

// checkBatch asserts the invariants every accepted batch must satisfy.
func checkBatch(t *testing.T, b event.Batch, lim Limits) {
	t.Helper()
	lim = lim.withDefaults()
	now := lim.Now()
	lo, hi := now.Add(-lim.LateHorizon).UnixNano(), now.Add(lim.FutureTolerance).UnixNano()
	require.LessOrEqual(t, b.Len(), lim.MaxItems)
	nonNeg := func(x float64) {
		require.False(t, math.IsNaN(x) || math.IsInf(x, 0) || x < 0, "number %v", x)
		require.LessOrEqual(t, x, MaxNumber, "summed numbers are bounded so no sum overflows")
	}
	tag := func(s string, optional bool) {
		if optional && s == "" {
			return
		}
		require.Empty(t, checkTag(s), "tag value %q", s)
	}
	for _, e := range b.Events {
		require.NotEqual(t, event.TypeUnknown, e.Type)
		require.True(t, e.Time >= lo && e.Time <= hi, "time %d outside window", e.Time)
		require.Empty(t, checkText(e.ID, MaxIDLen))
		tag(e.Store, false)
		for _, s := range []string{e.Channel, e.Category, e.Campaign, e.Reason, e.Competitor} {
			tag(s, true)
		}
		for _, x := range []float64{e.Amount, e.Items, e.Count, e.PageViews, e.DurationS, e.FirstResponseS, e.ResolutionS, e.OwnPrice, e.CompetitorPrice} {
			nonNeg(x)
		}
	}
	for _, p := range b.Points {
		require.True(t, p.Time >= lo && p.Time <= hi, "time %d outside window", p.Time)
		require.NotEmpty(t, p.Fields)
		for i, tg := range p.Tags {
			require.NotEqual(t, schema.TagIngester, tg.Key)
			tag(tg.Value, false)
			if i > 0 {
				require.Less(t, p.Tags[i-1].Key, tg.Key)
			}
		}
		for i, f := range p.Fields {
			if i > 0 {
				require.Less(t, p.Fields[i-1].Key, f.Key)
			}
			if f.Kind == event.FieldFloat && p.Rollup {
				nonNeg(f.Float)
			}
			if f.Kind == event.FieldFloat {
				require.False(t, math.IsNaN(f.Float) || math.IsInf(f.Float, 0))
			}
		}
		if p.Rollup {
			_, ok := schema.Lookup(p.Measurement)
			require.True(t, ok)
			require.NotEqual(t, schema.MeasIngest, p.Measurement)
		}
		requireEncodable(t, &p)
	}
}

// checkErr asserts the invariants of every rejection: a *Error (or a read
// error), never more invalid items than items, at most MaxErrors listed, and
// echoed field names cut short.
func checkErr(t *testing.T, err error, lim Limits) {
	t.Helper()
	var pe *Error
	if !errors.As(err, &pe) {
		return
	}
	lim = lim.withDefaults()
	require.LessOrEqual(t, len(pe.Items), max(lim.MaxErrors, DefaultMaxErrors))
	for _, it := range pe.Items {
		require.LessOrEqual(t, len(it.Field), maxEchoedName+32, "field %q", it.Field)
	}
	if m := invalidCount.FindStringSubmatch(pe.msg); m != nil {
		bad, _ := strconv.Atoi(m[1])
		total, _ := strconv.Atoi(m[2])
		require.LessOrEqual(t, bad, total, pe.msg)
		require.Positive(t, bad, pe.msg)
	}
}

var invalidCount = regexp.MustCompile(`^(\d+) of (\d+) `)

func fuzzLimits() Limits {
	return Limits{MaxItems: 50, MaxErrors: 5, Now: func() time.Time { return testNow }}
}

func FuzzEvents(f *testing.F) {
	nd, err := os.ReadFile("testdata/events.ndjson")
	require.NoError(f, err)
	f.Add(nd)
	for _, line := range strings.Split(string(nd), "\n") {
		f.Add([]byte(line))
		f.Add([]byte("[" + line + "]"))
	}
	f.Add([]byte(`[{"type":"order","amount":-1e999,"id":"\ud83d\ude00"}]`))
	f.Add([]byte(`{"a":[{"b":[[[]]]}]}`))
	f.Add([]byte("[1,\"x\",null,true]"))
	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := Events(bytes.NewReader(data), fuzzLimits())
		checkErr(t, err, fuzzLimits())
		if err == nil {
			checkBatch(t, b, fuzzLimits())
			require.NotEmpty(t, b.Events)
		}
	})
}

func FuzzMetrics(f *testing.F) {
	f.Add([]byte(`{"id":"m","measurement":"sp_orders","time":"2026-11-24T10:00:00Z","tags":{"store":"s","channel":"app"},"fields":{"orders":1,"gmv":2.5}}`))
	f.Add([]byte(`[{"id":"m","measurement":"sp_prices","time":1795478400000,"tags":{"store":"s","competitor":"jd"},"fields":{"own_price":1}}]`))
	f.Add([]byte(`{"id":"m","measurement":"sp_orders","tags":{"store":1},"fields":{"orders":-0}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := Metrics(bytes.NewReader(data), fuzzLimits())
		checkErr(t, err, fuzzLimits())
		if err == nil {
			checkBatch(t, b, fuzzLimits())
			require.NotEmpty(t, b.Points)
		}
	})
}

// requireEncodable: whatever parse accepts, the line-protocol encoder can
// write (nothing acknowledged is later dropped as unencodable).
func requireEncodable(t *testing.T, p *event.Point) {
	t.Helper()
	var enc lineproto.Encoder
	enc.StartLine(p.Measurement)
	for _, tg := range p.Tags {
		enc.AddTag(tg.Key, tg.Value)
	}
	for _, f := range p.Fields {
		var v lineprotocol.Value
		ok := true
		switch f.Kind {
		case event.FieldFloat:
			v, ok = lineprotocol.FloatValue(f.Float)
		case event.FieldInt:
			v = lineprotocol.IntValue(f.Int)
		case event.FieldUint:
			v = lineprotocol.UintValue(f.Uint)
		case event.FieldString:
			v, ok = lineprotocol.StringValue(f.Str)
		case event.FieldBool:
			v = lineprotocol.BoolValue(f.Bool)
		}
		require.True(t, ok, "field %s", f.Key)
		enc.AddField(f.Key, v)
	}
	_, err := enc.EndLine(p.Time)
	require.NoError(t, err)
}

func FuzzLineProtocol(f *testing.F) {
	f.Add([]byte("sp_orders,store=s1,channel=app orders=3i,gmv=99.5 1795478400\n"), "s")
	f.Add([]byte("cpu,host=a\\ b load=1,s=\"x\ny\",u=1u,b=t\n# c\n\nmem v=2 1795478400000000000\n"), "")
	f.Add([]byte("sp_distinct,store=s sketch=\"x\"\ncpu,ingester=x v=1\n"), "ms")
	f.Add([]byte("m v=1 99999999999\n"), "h")
	f.Add([]byte("m s=\"a\\tb\tc\\\\\" 1795478400000000000\nm,t=a\\\\ v=1u\n"), "")
	f.Fuzz(func(t *testing.T, data []byte, precision string) {
		b, err := LineProtocol(bytes.NewReader(data), precision, fuzzLimits())
		checkErr(t, err, fuzzLimits())
		if err == nil {
			checkBatch(t, b, fuzzLimits())
			require.NotEmpty(t, b.Points)
		}
	})
}

func FuzzCSV(f *testing.F) {
	example, err := os.ReadFile("../../docs/examples/orders.csv")
	require.NoError(f, err)
	f.Add(example, exampleCSVQuery)
	f.Add([]byte(orderCSV("o1,2026-11-24T10:00:00+08:00,u1,10,new")), orderMapping.Encode())
	f.Add([]byte("a;b;c\n1;2;3\n"), "col.type=a&col.id=b&col.time=c&set.store=s&time_layout=unix_ms&delimiter=;")
	f.Fuzz(func(t *testing.T, data []byte, query string) {
		q, err := url.ParseQuery(query)
		if err != nil {
			return
		}
		m, err := ParseCSVMapping(q)
		if err != nil {
			return
		}
		lim := fuzzLimits()
		lim.Now = func() time.Time { return time.Date(2026, 11, 12, 0, 0, 0, 0, time.UTC) }
		b, err := CSV(bytes.NewReader(data), m, lim)
		checkErr(t, err, lim)
		if err == nil {
			checkBatch(t, b, lim)
			require.NotEmpty(t, b.Events)
		}
	})
}
