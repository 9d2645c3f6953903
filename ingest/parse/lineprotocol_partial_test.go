package parse

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/storepulse/storepulse/ingest/event"
)

// Issue #15: line protocol is taken line by line, the way InfluxDB takes it.
func TestLineProtocolPartialKeepsValidLines(t *testing.T) {
	now := itoa(testNow.UnixNano())
	body := "cpu v=1 " + now + "\n" +
		"cpu,host=" + strings.Repeat("h", 200) + " v=2 " + now + "\n" + // a long tag: accepted
		"cpu v=3 1000\n" + // older than the late-data horizon: refused alone
		"mem used=\n" + // syntax: refused alone
		"mem used=4i " + now + "\n"
	b, rejected, err := LineProtocolPartial(strings.NewReader(body), "", testLimits())
	require.NoError(t, err)
	require.Len(t, b.Points, 3)
	require.Equal(t, "mem", b.Points[2].Measurement)
	require.NotNil(t, rejected)
	require.Equal(t, KindInvalidItems, rejected.Kind)
	require.Len(t, rejected.Items, 2)
	require.Equal(t, 3, rejected.Items[0].Line)
	require.Equal(t, "cpu v=3 1000", rejected.Items[0].Input)
	require.Contains(t, rejected.Items[0].Reason, "older than the late-data horizon")
	require.Equal(t, 4, rejected.Items[1].Line)
	require.Equal(t, "mem used=", rejected.Items[1].Input)
	require.Contains(t, rejected.Error(), "2 of 5 lines refused")

	// The all-or-nothing wrapper still refuses the whole body.
	_, err = LineProtocol(strings.NewReader(body), "", testLimits())
	var pe *Error
	require.ErrorAs(t, err, &pe)
}

func TestLineProtocolPartialInputIsBounded(t *testing.T) {
	line := "cpu,host=" + strings.Repeat("é", 300) + " v=\n"
	_, rejected, err := LineProtocolPartial(strings.NewReader(line), "", testLimits())
	require.NoError(t, err)
	require.Len(t, rejected.Items, 1)
	in := rejected.Items[0].Input
	require.True(t, strings.HasSuffix(in, "..."))
	require.LessOrEqual(t, len(in), maxInput+3)
	require.True(t, strings.HasPrefix(line, strings.TrimSuffix(in, "...")), "cut on a rune boundary")
}

// Lines InfluxDB 1.8 accepts and StorePulse used to refuse.
func TestLineProtocolAcceptsWhatInfluxDBAccepts(t *testing.T) {
	long := strings.Repeat("n", 300)
	for _, tc := range []struct {
		name, body string
		want       event.Point
	}{
		{"control characters in names and tags", "c\x01pu,ho\x1fst=a\tb v\x7f=1,s=\"x\ty\" 1795478400000000000",
			event.Point{Measurement: "c\x01pu", Time: 1795478400000000000, Tags: []event.Tag{{Key: "ho\x1fst", Value: "a\tb"}},
				Fields: []event.Field{{Key: "s", Kind: event.FieldString, Str: "x\ty"}, {Key: "v\x7f", Kind: event.FieldFloat, Float: 1}}}},
		{"leading tab skipped", "\t cpu v=1 1795478400000000000",
			event.Point{Measurement: "cpu", Time: 1795478400000000000, Fields: []event.Field{{Key: "v", Kind: event.FieldFloat, Float: 1}}}},
		{"names and tags over 128 bytes", long + "," + long + "=" + long + " " + long + "=1i 1795478400000000000",
			event.Point{Measurement: long, Time: 1795478400000000000, Tags: []event.Tag{{Key: long, Value: long}},
				Fields: []event.Field{{Key: long, Kind: event.FieldInt, Int: 1}}}},
		{"duplicate field keys keep the last value", "cpu a=1,b=2,a=3 1795478400000000000",
			event.Point{Measurement: "cpu", Time: 1795478400000000000,
				Fields: []event.Field{{Key: "a", Kind: event.FieldFloat, Float: 3}, {Key: "b", Kind: event.FieldFloat, Float: 2}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, rejected, err := LineProtocolPartial(strings.NewReader(tc.body), "", testLimits())
			require.NoError(t, err)
			require.Nil(t, rejected)
			require.Equal(t, []event.Point{tc.want}, b.Points)
		})
	}
}

func TestLineProtocolRefusesWhatInfluxDBRefuses(t *testing.T) {
	for _, tc := range []struct{ name, body, reason string }{
		{"duplicate field key with two types", "cpu a=1,a=2i", "field type conflict"},
		{"field key making the series key too long", "cpu " + strings.Repeat("f", 65536) + "=1", "max key length exceeded"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, rejected, err := LineProtocolPartial(strings.NewReader(tc.body), "", testLimits())
			require.NoError(t, err)
			require.Empty(t, b.Points)
			require.NotNil(t, rejected)
			require.Contains(t, rejected.Error(), tc.reason)
		})
	}
}

func TestLineProtocolEmptyBodyIsNoPoints(t *testing.T) {
	for _, body := range []string{"", "\n\n", "# only a comment\n", "  \n# a\n# b"} {
		b, rejected, err := LineProtocolPartial(strings.NewReader(body), "", testLimits())
		require.NoError(t, err, "%q", body)
		require.Nil(t, rejected, "%q", body)
		require.Empty(t, b.Points, "%q", body)
	}
}

// A point without a timestamp gets the request time truncated to the
// precision, as InfluxDB does.
func TestLineProtocolNoTimestampTruncatedToPrecision(t *testing.T) {
	now := time.Date(2026, 11, 24, 11, 59, 58, 987654321, time.UTC)
	lim := Limits{Now: func() time.Time { return now }}
	for _, tc := range []struct {
		precision string
		want      time.Time
	}{
		{"", now}, {"ns", now},
		{"us", now.Truncate(time.Microsecond)}, {"ms", now.Truncate(time.Millisecond)},
		{"s", now.Truncate(time.Second)}, {"m", now.Truncate(time.Minute)}, {"h", now.Truncate(time.Hour)},
	} {
		b, _, err := LineProtocolPartial(strings.NewReader("cpu v=1"), tc.precision, lim)
		require.NoError(t, err)
		require.Len(t, b.Points, 1)
		require.Equal(t, tc.want.UnixNano(), b.Points[0].Time, tc.precision)
	}
}

// A refused line does not fix a field's type for the lines after it.
func TestLineProtocolRefusedLineFixesNoType(t *testing.T) {
	now := itoa(testNow.UnixNano())
	body := "m v=1i,bad=\"x\",time=1 " + now + "\nm v=1.5 " + now + "\nm v=2i " + now + "\n"
	b, rejected, err := LineProtocolPartial(strings.NewReader(body), "", testLimits())
	require.NoError(t, err)
	require.Len(t, b.Points, 1)
	require.Equal(t, event.FieldFloat, b.Points[0].Fields[0].Kind)
	require.Len(t, rejected.Items, 2)
	require.Equal(t, 1, rejected.Items[0].Line)
	require.Equal(t, 3, rejected.Items[1].Line)
	require.Contains(t, rejected.Items[1].Reason, "field type conflict: integer here, but float on line 2")
}
