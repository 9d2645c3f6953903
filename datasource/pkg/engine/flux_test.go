package engine

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestFluxString(t *testing.T) {
	tests := []struct{ in, want string }{
		{"tmall", `"tmall"`},
		{`a"b`, `"a\"b"`},
		{`${x}`, `"\${x}"`},
		{"a\\b\nc", `"a\\b\nc"`},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, FluxString(tt.in))
	}
}

func TestSumFlux(t *testing.T) {
	spec := SumSpec{Start: utc("2026-11-19T16:00:00Z"), Stop: utc("2026-11-20T16:00:00Z"), Every: time.Hour,
		Terms:   []Term{{"sp_payments", "paid_amount"}, {"sp_refunds", "refund_amount"}, {"sp_payments", "paid_orders"}},
		Filters: map[string][]string{"store": {"tmall", `x"y`}, "channel": {"app"}}, GroupBy: []string{"store"}}
	require.Equal(t, `from(bucket: "db/autogen")
  |> range(start: 2026-11-19T16:00:00Z, stop: 2026-11-20T16:00:00Z)
  |> filter(fn: (r) => (r._measurement == "sp_payments" and (r._field == "paid_amount" or r._field == "paid_orders")) or (r._measurement == "sp_refunds" and (r._field == "refund_amount")))
  |> filter(fn: (r) => r["channel"] == "app")
  |> filter(fn: (r) => r["store"] =~ /^(?:tmall|x"y)$/)
  |> group(columns: ["_measurement", "_field", "store"])
  |> aggregateWindow(every: 1h, fn: sum, createEmpty: false, timeSrc: "_start")
`, SumFlux("db/autogen", spec))
	spec.Every, spec.GroupBy, spec.Filters = 0, nil, nil
	require.Contains(t, SumFlux("b", spec), "|> group(columns: [\"_measurement\", \"_field\"])\n  |> sum()\n")
}

func TestSketchAndDimensionFlux(t *testing.T) {
	s := SketchFlux("b", SketchSpec{Start: utc("2026-11-19T16:00:00Z"), Stop: utc("2026-11-20T16:00:00Z"),
		Kinds: []string{"buyer", "visitor"}, Window: "1d", GroupBy: []string{"store"}})
	require.Contains(t, s, `r._measurement == "sp_distinct" and r._field == "sketch" and r.window == "1d" and (r.kind == "buyer" or r.kind == "visitor")`)
	require.Contains(t, s, `|> keep(columns: ["_time", "_value", "kind", "store"])`)
	d := DimensionFlux("b", DimensionSpec{Start: utc("2026-11-19T16:00:00Z"), Stop: utc("2026-11-20T16:00:00Z"), Dimension: "reason"}, false)
	require.Contains(t, d, `(r._measurement == "sp_refunds" and r._field == "refunds") or (r._measurement == "sp_tickets" and r._field == "tickets_opened")`)
	require.Contains(t, d, `|> distinct(column: "reason")`)
	require.Contains(t, DimensionFlux("b", DimensionSpec{Dimension: "store"}, false), `r._measurement == "sp_distinct" and r._field == "estimate" and r.window == "1d"`)
	require.Contains(t, DimensionFlux("b", DimensionSpec{Dimension: "channel"}, true), `(r._measurement == "sp_users" and r._field == "signups") or (r._measurement == "sp_traffic"`)
	require.True(t, IsDimension("competitor"))
	require.False(t, IsDimension("ingester"))
}
