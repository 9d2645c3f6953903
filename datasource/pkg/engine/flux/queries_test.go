package flux

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/storepulse/storepulse/datasource/pkg/engine"
)

func utc(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func TestString(t *testing.T) {
	tests := []struct{ in, want string }{
		{"tmall", `"tmall"`},
		{`a"b`, `"a\"b"`},
		{`${x}`, `"\${x}"`},
		{"a\\b\nc", `"a\\b\nc"`},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, String(tt.in))
	}
}

func TestSumQuery(t *testing.T) {
	spec := engine.SumSpec{Start: utc("2026-11-19T16:00:00Z"), Stop: utc("2026-11-20T16:00:00Z"), Every: time.Hour,
		Terms:   []engine.Term{{Measurement: "sp_payments", Field: "paid_amount"}, {Measurement: "sp_refunds", Field: "refund_amount"}, {Measurement: "sp_payments", Field: "paid_orders"}},
		Filters: map[string][]string{"store": {"tmall", `x"y`}, "channel": {"app"}}, GroupBy: []string{"store"}}
	require.Equal(t, `from(bucket: "db/autogen")
  |> range(start: 2026-11-19T16:00:00Z, stop: 2026-11-20T16:00:00Z)
  |> filter(fn: (r) => (r._measurement == "sp_payments" and (r._field == "paid_amount" or r._field == "paid_orders")) or (r._measurement == "sp_refunds" and (r._field == "refund_amount")))
  |> filter(fn: (r) => r["channel"] == "app")
  |> filter(fn: (r) => r["store"] =~ /^(?:tmall|x"y)$/)
  |> group(columns: ["_measurement", "_field", "store"])
  |> aggregateWindow(every: 1h, fn: sum, createEmpty: false, timeSrc: "_start")
`, SumQuery("db/autogen", spec))
	spec.Every, spec.GroupBy, spec.Filters = 0, nil, nil
	require.Contains(t, SumQuery("b", spec), "|> group(columns: [\"_measurement\", \"_field\"])\n  |> sum()\n")
}

func TestSketchAndDimensionQuery(t *testing.T) {
	s := SketchQuery("b", engine.SketchSpec{Start: utc("2026-11-19T16:00:00Z"), Stop: utc("2026-11-20T16:00:00Z"),
		Kinds: []string{"buyer", "visitor"}, Window: "1d", GroupBy: []string{"store"}})
	require.Contains(t, s, `r._measurement == "sp_distinct" and r._field == "sketch" and r.window == "1d" and (r.kind == "buyer" or r.kind == "visitor")`)
	require.Contains(t, s, `|> keep(columns: ["_time", "_value", "kind", "store"])`)
	d := DimensionQuery("b", engine.DimensionSpec{Start: utc("2026-11-19T16:00:00Z"), Stop: utc("2026-11-20T16:00:00Z"), Dimension: "reason"}, false)
	require.Contains(t, d, `(r._measurement == "sp_refunds" and r._field == "refunds") or (r._measurement == "sp_tickets" and r._field == "tickets_opened")`)
	require.Contains(t, d, `|> distinct(column: "reason")`)
	require.Contains(t, DimensionQuery("b", engine.DimensionSpec{Dimension: "store"}, false), `r._measurement == "sp_distinct" and r._field == "estimate" and r.window == "1d"`)
	require.Contains(t, DimensionQuery("b", engine.DimensionSpec{Dimension: "channel"}, true), `(r._measurement == "sp_users" and r._field == "signups") or (r._measurement == "sp_traffic"`)
	require.True(t, engine.IsDimension("competitor"))
	require.False(t, engine.IsDimension("ingester"))
}

// TestFilterValuesOneRegex: a filter of many values is one anchored regex
// (linear in the values), not an `or` chain (quadratic in InfluxDB), and it
// matches exactly the values given, whatever characters they hold.
func TestFilterValuesOneRegex(t *testing.T) {
	vals := make([]string, 500)
	for i := range vals {
		vals[i] = fmt.Sprintf("s%d", i)
	}
	var b strings.Builder
	filterLines(&b, map[string][]string{"store": vals})
	require.NotContains(t, b.String(), " or ")
	require.Contains(t, b.String(), `r["store"] =~ /^(?:s0|s1|s2|`)
	require.Equal(t, `/^(?:a\.b|c\/d|e\(f\)|g\|h|i\\j|k"l|m\x{a}n)$/`, regexOneOf([]string{"a.b", "c/d", "e(f)", "g|h", `i\j`, `k"l`, "m\nn"}))
}
