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
	b.WriteString("filter; a ratio is sum(numerator) / sum(denominator) per bucket, never an average of ratios, and a zero\n")
	b.WriteString("denominator gives no value (null). `distinct(kind)` merges the HyperLogLog sketches of that kind over the\n")
	b.WriteString("bucket and filter (docs/schema.md). Percent values are fractions (0.25 = 25 %). Day, week and month\n")
	b.WriteString("buckets follow the store time zone.\n\n")
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
