package kpi

import (
	"bytes"
	"fmt"
	"strings"
)

// Markdown renders the catalog as docs/kpis.md.
func Markdown(c *Catalog) []byte {
	var b bytes.Buffer
	b.WriteString("# KPI catalog\n\n")
	b.WriteString("<!-- Generated from internal/kpi by `go generate ./internal/kpi`. Do not edit. -->\n\n")
	b.WriteString("Every KPI the datasource serves (resource `/kpis`, query field `kpi`). Sums run over the bucket and the\n")
	b.WriteString("filter; a ratio is sum(numerator) / sum(denominator) per bucket, never an average of ratios.\n")
	b.WriteString("`distinct(kind)` merges the HyperLogLog sketches of that kind over the bucket and filter (docs/schema.md).\n")
	b.WriteString("Percent values are fractions (0.25 = 25 %). Day, week, month, quarter and year buckets follow the store time zone; interval `range` is one value for the whole range (docs/query.md).\n\n")
	b.WriteString("## Zero numerators and denominators\n\n")
	b.WriteString("A ratio whose denominator sums to 0 has **no value** (null: a gap in a graph, \"No data\" in a stat, and\n")
	b.WriteString("NoData, not a breach, in an alert rule), whatever its numerator. A ratio whose numerator sums to 0 over a\n")
	b.WriteString("positive denominator is **0**. The case that decided it is the refund rate on a day with refunds but no\n")
	b.WriteString("payments (refunds of earlier payments, common on quiet days and after a campaign): 0 would say there\n")
	b.WriteString("were no refunds, and +Inf cannot be carried by Grafana's JSON frames, thresholds or reducers and says\n")
	b.WriteString("nothing an operator can act on; the refunds themselves show in `refunds` and `refund_amount`, and over\n")
	b.WriteString("any range that holds their payments the rate has its value again. The rule is `kpi.KPI.Ratio`, used by\n")
	b.WriteString("every query type; the query benchmark's hand-written Flux applies the same rule and is checked against it.\n\n")
	b.WriteString("| area | id | name | unit | better | kind | formula | dimensions | description |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|---|\n")
	for _, k := range c.All() {
		dims := strings.Join(k.Dimensions(), ", ")
		if dims == "" {
			dims = "—"
		}
		fmt.Fprintf(&b, "| %s | `%s` | %s | %s | %s | %s | %s | %s | %s |\n",
			k.Area, k.ID, k.Name, k.Unit, k.Direction, k.Kind, k.Formula(), dims, k.Description)
	}
	return b.Bytes()
}
