package lineproto

import (
	"math"
	"testing"

	"github.com/influxdata/line-protocol/v2/lineprotocol"
	"github.com/stretchr/testify/require"
)

func TestEncoder(t *testing.T) {
	str := func(s string) lineprotocol.Value {
		v, ok := lineprotocol.StringValue(s)
		require.True(t, ok)
		return v
	}
	f, _ := lineprotocol.FloatValue(1.5)
	for _, tc := range []struct {
		name   string
		encode func(e *Encoder)
		want   string
		err    string
	}{
		{name: "escapes names", encode: func(e *Encoder) {
			e.StartLine("m,1 x")
			e.AddTag("a=b", "c d,e=f")
			e.AddField("g h", f)
		}, want: `m\,1\ x,a\=b=c\ d\,e\=f g\ h=1.5 7`},
		{name: "string keeps control characters raw", encode: func(e *Encoder) {
			e.StartLine("m")
			e.AddField("s", str("a\tb\nc\rd"))
		}, want: "m s=\"a\tb\nc\rd\" 7"},
		{name: "string escapes only quote and backslash", encode: func(e *Encoder) {
			e.StartLine("m")
			e.AddField("s", str(`\n "q" end\`))
		}, want: `m s="\\n \"q\" end\\" 7`},
		{name: "all kinds", encode: func(e *Encoder) {
			e.StartLine("m")
			e.AddField("b", lineprotocol.BoolValue(true))
			e.AddField("i", lineprotocol.IntValue(-3))
			e.AddField("u", lineprotocol.UintValue(3))
			e.AddField("f", f)
		}, want: `m b=true,i=-3i,u=3u,f=1.5 7`},
		{name: "tag value ending in backslash", encode: func(e *Encoder) {
			e.StartLine("m")
			e.AddTag("t", `app\`)
			e.AddField("f", f)
		}, err: `tag t value "app\\": ends with a backslash`},
		{name: "backslash before separator", encode: func(e *Encoder) {
			e.StartLine("m")
			e.AddTag("t", `a\ b`)
			e.AddField("f", f)
		}, err: `has a backslash before`},
		{name: "newline in tag", encode: func(e *Encoder) {
			e.StartLine("m")
			e.AddTag("t", "a\nb")
			e.AddField("f", f)
		}, err: "contains a newline or carriage return"},
		{name: "carriage return in field key", encode: func(e *Encoder) {
			e.StartLine("m")
			e.AddField("f\r", f)
		}, err: "contains a newline or carriage return"},
		{name: "other control characters are written raw, as InfluxDB 1.8 reads them", encode: func(e *Encoder) {
			e.StartLine("m\x01")
			e.AddTag("t\t", "a\x1fb")
			e.AddField("f\x7f", f)
		}, want: "m\x01,t\t=a\x1fb f\x7f=1.5 7"},
		{name: "tags out of order", encode: func(e *Encoder) {
			e.StartLine("m")
			e.AddTag("b", "1")
			e.AddTag("a", "1")
			e.AddField("f", f)
		}, err: "out of order"},
		{name: "no field", encode: func(e *Encoder) { e.StartLine("m") }, err: "no field"},
		{name: "empty measurement", encode: func(e *Encoder) {
			e.StartLine("")
			e.AddField("f", f)
		}, err: "is empty"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var e Encoder
			e.StartLine("previous")
			e.AddTag("x", `bad\`) // an error of an earlier line never leaks into the next
			tc.encode(&e)
			got, err := e.EndLine(7)
			if tc.err != "" {
				require.ErrorContains(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
	_, ok := lineprotocol.FloatValue(math.Inf(1))
	require.False(t, ok, "non-finite floats cannot even be built as values")
}
