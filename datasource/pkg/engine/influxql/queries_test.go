package influxql

import (
	"testing"
	"time"

	parser "github.com/influxdata/influxql"
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

// parses requires q to be n statements InfluxDB 1.8's parser accepts.
func parses(t *testing.T, q string, n int) {
	t.Helper()
	stmts, err := parser.ParseQuery(q)
	require.NoError(t, err, q)
	require.Len(t, stmts.Statements, n, q)
}

func TestSumQuery(t *testing.T) {
	spec := engine.SumSpec{Start: utc("2026-11-19T16:00:00Z"), Stop: utc("2026-11-20T16:00:00Z"), Every: time.Hour,
		Terms:   []engine.Term{{Measurement: "sp_payments", Field: "paid_amount"}, {Measurement: "sp_refunds", Field: "refund_amount"}, {Measurement: "sp_payments", Field: "paid_orders"}},
		Filters: map[string][]string{"store": {"tmall", `x'y`}, "channel": {"app"}}, GroupBy: []string{"store"}}
	q := SumQuery(spec)
	require.Equal(t, `SELECT sum("paid_amount") AS "paid_amount", sum("paid_orders") AS "paid_orders" FROM "sp_payments"`+
		` WHERE time >= '2026-11-19T16:00:00Z' AND time < '2026-11-20T16:00:00Z' AND ("channel" = 'app') AND ("store" = 'tmall' OR "store" = 'x\'y')`+
		` GROUP BY time(1h), "store" fill(none); `+
		`SELECT sum("refund_amount") AS "refund_amount" FROM "sp_refunds"`+
		` WHERE time >= '2026-11-19T16:00:00Z' AND time < '2026-11-20T16:00:00Z' AND ("channel" = 'app') AND ("store" = 'tmall' OR "store" = 'x\'y')`+
		` GROUP BY time(1h), "store" fill(none)`, q)
	parses(t, q, 2)

	spec.Every, spec.GroupBy, spec.Filters = 0, nil, nil
	q = SumQuery(spec)
	require.NotContains(t, q, "GROUP BY")
	require.NotContains(t, q, "fill")
	parses(t, q, 2)
	spec.GroupBy = []string{"store", "channel"}
	require.Contains(t, SumQuery(spec), `GROUP BY "store", "channel"; `)
	spec.Every = 15 * time.Minute
	require.Contains(t, SumQuery(spec), `GROUP BY time(15m), "store", "channel" fill(none)`)
}

func TestOtherQueriesParse(t *testing.T) {
	start, stop := utc("2026-11-19T16:00:00Z"), utc("2026-11-20T16:00:00Z")
	q := SketchQuery(engine.SketchSpec{Start: start, Stop: stop, Kinds: []string{"buyer", "visitor"}, Window: "1d",
		Filters: map[string][]string{"category": {"tv"}}, GroupBy: []string{"store"}})
	require.Equal(t, `SELECT "sketch" FROM "sp_distinct" WHERE time >= '2026-11-19T16:00:00Z' AND time < '2026-11-20T16:00:00Z'`+
		` AND "window" = '1d' AND ("kind" = 'buyer' OR "kind" = 'visitor') AND ("category" = 'tv') GROUP BY "kind", "store"`, q)
	parses(t, q, 1)

	q = DimensionQuery(engine.DimensionSpec{Start: start, Stop: stop, Dimension: "store"}, false)
	require.Contains(t, q, `SELECT count("estimate") FROM "sp_distinct" WHERE`)
	require.Contains(t, q, `AND "window" = '1d' GROUP BY "store"`)
	parses(t, q, 1)
	q = DimensionQuery(engine.DimensionSpec{Start: start, Stop: stop, Dimension: "reason", Filters: map[string][]string{"store": {"a"}}}, false)
	require.Contains(t, q, `SELECT count("refunds") FROM "sp_refunds"`)
	require.Contains(t, q, `; SELECT count("tickets_opened") FROM "sp_tickets"`)
	parses(t, q, 2)
	q = DimensionQuery(engine.DimensionSpec{Start: start, Stop: stop, Dimension: "channel"}, true)
	require.Contains(t, q, `SELECT count("signups") FROM "sp_users"`)
	parses(t, q, 8)

	q = TargetQuery(engine.TargetSpec{Start: start, Stop: stop, KPI: "gmv", Period: "day", Stores: []string{"all", "s1"}})
	require.Equal(t, `SELECT "value", "deleted" FROM "sp_target" WHERE time >= '2026-11-19T16:00:00Z' AND time < '2026-11-20T16:00:00Z'`+
		` AND "kpi" = 'gmv' AND "period" = 'day' AND ("store" = 'all' OR "store" = 's1') GROUP BY *`, q)
	parses(t, q, 1)
	q = CampaignQuery()
	require.Equal(t, `SELECT "definition", "deleted" FROM "sp_campaign" WHERE time >= '1970-01-01T00:00:00Z' AND time < '2200-01-01T00:00:00Z' GROUP BY *`, q)
	parses(t, q, 1)
	q = LatestQuery(engine.LatestSpec{Start: start, Stop: stop, Stores: []string{"tmall"}})
	require.Equal(t, `SELECT last("events") FROM "sp_ingest" WHERE time >= '2026-11-19T16:00:00Z' AND time < '2026-11-20T16:00:00Z' AND ("store" = 'tmall') GROUP BY "store"`, q)
	parses(t, q, 1)
}

// TestFilterValuesCannotEscape: whatever a dashboard variable holds, it
// stays one string literal compared with its dimension.
func TestFilterValuesCannotEscape(t *testing.T) {
	for _, v := range []string{`x' OR time > 0 OR "store" = 'y`, `'; DROP DATABASE "db"; SELECT '`, `\'`, "a\nb", `\`} {
		q := SumQuery(engine.SumSpec{Start: utc("2026-11-19T16:00:00Z"), Stop: utc("2026-11-20T16:00:00Z"),
			Terms: []engine.Term{{Measurement: "sp_orders", Field: "gmv"}}, Filters: map[string][]string{"store": {v}}})
		stmts, err := parser.ParseQuery(q)
		require.NoError(t, err, q)
		require.Len(t, stmts.Statements, 1, q)
		cond := stmts.Statements[0].(*parser.SelectStatement).Condition.(*parser.BinaryExpr)
		// (time range) AND ("store" = v)
		eq := cond.RHS.(*parser.ParenExpr).Expr.(*parser.BinaryExpr)
		require.Equal(t, "store", eq.LHS.(*parser.VarRef).Val)
		require.Equal(t, v, eq.RHS.(*parser.StringLiteral).Val)
	}
	require.Error(t, checkAll(map[string][]string{"store": {"a\rb"}}))
	require.Error(t, checkAll(nil, []string{"a\x00"}))
}
