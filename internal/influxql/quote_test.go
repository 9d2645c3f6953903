package influxql

import (
	"testing"
	"time"

	parser "github.com/influxdata/influxql"
	"github.com/stretchr/testify/require"
)

// hostile are values a filter or a name could carry: each must come back
// from InfluxDB 1.8's own parser unchanged, inside one literal of one
// statement.
func hostile() []string {
	return []string{
		"tmall", "", "a'b", `a"b`, `a\b`, `a\'b`, `\`, `'`, `''`, `\\'`,
		"' OR 1=1 --", "x'; DROP DATABASE db; SELECT '", `x" ; DROP DATABASE "db`,
		"line\nbreak", "tab\there", "京东/天猫", "emoji 🛒", "$__all", "{a,b}", "/regex/", "a\\nb",
	}
}

func TestStringRoundTripsThroughTheInfluxQLParser(t *testing.T) {
	for _, v := range hostile() {
		t.Run(v, func(t *testing.T) {
			q := `SELECT "f" FROM "m" WHERE "store" = ` + String(v) + ` AND time >= 0`
			stmts, err := parser.ParseQuery(q)
			require.NoError(t, err, q)
			require.Len(t, stmts.Statements, 1, q)
			sel := stmts.Statements[0].(*parser.SelectStatement)
			and := sel.Condition.(*parser.BinaryExpr)
			require.Equal(t, parser.AND, and.Op)
			eq := and.LHS.(*parser.BinaryExpr)
			require.Equal(t, parser.EQ, eq.Op)
			require.Equal(t, "store", eq.LHS.(*parser.VarRef).Val)
			require.Equal(t, v, eq.RHS.(*parser.StringLiteral).Val)
		})
	}
}

func TestIdentRoundTripsThroughTheInfluxQLParser(t *testing.T) {
	for _, v := range append(hostile()[2:], "time", "window", "value", "select") {
		t.Run(v, func(t *testing.T) {
			q := `SELECT sum(` + Ident(v) + `) AS ` + Ident(v) + ` FROM ` + Ident(v) + ` WHERE ` + Ident(v) + ` = 'x' GROUP BY ` + Ident(v)
			stmts, err := parser.ParseQuery(q)
			require.NoError(t, err, q)
			require.Len(t, stmts.Statements, 1, q)
			sel := stmts.Statements[0].(*parser.SelectStatement)
			require.Len(t, sel.Fields, 1)
			require.Equal(t, v, sel.Fields[0].Alias)
			require.Equal(t, v, sel.Fields[0].Expr.(*parser.Call).Args[0].(*parser.VarRef).Val)
			require.Equal(t, v, sel.Sources[0].(*parser.Measurement).Name)
			require.Equal(t, v, sel.Condition.(*parser.BinaryExpr).LHS.(*parser.VarRef).Val)
			require.Equal(t, v, sel.Dimensions[0].Expr.(*parser.VarRef).Val)
		})
	}
}

func TestTimeAndDurationLiterals(t *testing.T) {
	ts := time.Date(2026, 11, 11, 0, 0, 0, 1, time.FixedZone("CST", 8*3600))
	q := `SELECT "f" FROM "m" WHERE time >= ` + Time(ts) + ` AND time < ` + Time(ts.Add(time.Hour)) +
		` GROUP BY time(` + Duration(90*time.Second) + `)`
	require.Contains(t, q, `'2026-11-10T16:00:00.000000001Z'`)
	stmt, err := parser.ParseStatement(q)
	require.NoError(t, err)
	sel := stmt.(*parser.SelectStatement)
	_, tr, err := parser.ConditionExpr(sel.Condition, nil)
	require.NoError(t, err)
	require.True(t, tr.Min.Equal(ts), tr.Min)
	require.True(t, tr.Max.Equal(ts.Add(time.Hour-1)), tr.Max) // exclusive stop
	iv, err := sel.GroupByInterval()
	require.NoError(t, err)
	require.Equal(t, 90*time.Second, iv)
	for d, want := range map[time.Duration]string{time.Hour: "1h", 24 * time.Hour: "24h", 15 * time.Minute: "15m",
		90 * time.Second: "90s", 1500 * time.Millisecond: "1500000000ns"} {
		require.Equal(t, want, Duration(d))
	}
}

func TestCheck(t *testing.T) {
	require.NoError(t, Check("京东 'x'"))
	require.ErrorIs(t, Check("a\x00b"), ErrInvalidText)
	require.ErrorIs(t, Check("a\xffb"), ErrInvalidText)
	require.ErrorIs(t, Check("a\rb"), ErrInvalidText)
}

func TestSplitBucket(t *testing.T) {
	tests := []struct{ in, db, rp, err string }{
		{"storepulse/autogen", "storepulse", "autogen", ""},
		{"storepulse", "storepulse", "", ""},
		{"storepulse/", "storepulse", "", ""},
		{"db/one week", "db", "one week", ""},
		{"", "", "", "names no database"},
		{"/autogen", "", "", "names no database"},
		{"a/b/c", "", "", "more than one /"},
		{"a\x00", "", "", "not valid UTF-8"},
	}
	for _, tt := range tests {
		db, rp, err := SplitBucket(tt.in)
		if tt.err != "" {
			require.ErrorContains(t, err, tt.err, tt.in)
			continue
		}
		require.NoError(t, err, tt.in)
		require.Equal(t, []string{tt.db, tt.rp}, []string{db, rp}, tt.in)
	}
}
