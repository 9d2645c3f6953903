// Package flux is the engine's Source reading InfluxDB with Flux through
// influxdb-client-go: InfluxDB 1.8 (Flux enabled) and 2.x. queries.go builds
// the queries, source.go runs them, resolution.go reads the consolidation
// watermarks.
//
// The Flux below runs on InfluxDB 1.8 (Flux 0.65) and 2.x: no
// aggregateWindow offset or location (store-time-zone days are summed from
// hourly windows by the engine), no newer packages.
package flux

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/storepulse/storepulse/datasource/pkg/engine"
	"github.com/storepulse/storepulse/internal/fluxq"
	"github.com/storepulse/storepulse/internal/schema"
	"github.com/storepulse/storepulse/internal/storezone"
)

// String quotes s as a Flux string literal.
func String(s string) string { return fluxq.String(s) }

func fluxTime(t time.Time) string { return fluxq.Time(t) }

func fluxDuration(d time.Duration) string {
	if d%time.Hour == 0 {
		return fmt.Sprintf("%dh", d/time.Hour)
	}
	if d%time.Minute == 0 {
		return fmt.Sprintf("%dm", d/time.Minute)
	}
	return fmt.Sprintf("%dns", d.Nanoseconds())
}

// anyOf is `col == v1 or col == v2 ...`, parenthesised.
func anyOf(col string, vals []string) string {
	terms := make([]string, len(vals))
	for i, v := range vals {
		terms[i] = col + " == " + String(v)
	}
	return "(" + strings.Join(terms, " or ") + ")"
}

// oneOf matches a column against a user's filter values in a form whose
// cost is linear in the number of values: one value is `col == "v"`, more
// are one anchored regular expression of the escaped values,
// `col =~ /^(?:a|b)$/` (an `or` chain of 1,000 values cost InfluxDB seconds
// of CPU, quadratic in the chain). models.MaxFilterValues caps the count.
func oneOf(col string, vals []string) string {
	if len(vals) == 1 {
		return col + " == " + String(vals[0])
	}
	return col + " =~ " + regexOneOf(vals)
}

// regexOneOf is a Flux regex literal matching exactly one of vals: each
// value is quoted for RE2 and its slashes escaped for the literal.
func regexOneOf(vals []string) string {
	var b strings.Builder
	b.WriteString("/^(?:")
	for i, v := range vals {
		if i > 0 {
			b.WriteByte('|')
		}
		for _, r := range regexp.QuoteMeta(v) {
			switch {
			case r == '/':
				b.WriteString(`\/`)
			case r < 0x20 || r == 0x7f:
				fmt.Fprintf(&b, `\x{%x}`, r) // no raw control character in the literal
			default:
				b.WriteRune(r)
			}
		}
	}
	b.WriteString(")$/")
	return b.String()
}

// filterLines are the dimension filters, one filter() per dimension in a
// stable order.
func filterLines(b *strings.Builder, filters map[string][]string) {
	dims := make([]string, 0, len(filters))
	for d := range filters {
		dims = append(dims, d)
	}
	slices.Sort(dims)
	for _, d := range dims {
		fmt.Fprintf(b, "  |> filter(fn: (r) => %s)\n", oneOf("r["+String(d)+"]", filters[d]))
	}
}

// SumQuery is the query of a SumSpec: sums pushed into InfluxDB per window
// and group; a reader never needs the raw points.
func SumQuery(bucket string, spec engine.SumSpec) string { return SumQueryFrom(bucket, spec, "") }

// SumQueryFrom is SumQuery reading each measurement's series with suffix (""
// the minute series, schema.SuffixHour, schema.SuffixDay or their store totals: the consolidated
// ones).
func SumQueryFrom(bucket string, spec engine.SumSpec, suffix string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "from(bucket: %s)\n", String(bucket))
	fmt.Fprintf(&b, "  |> range(start: %s, stop: %s)\n", fluxTime(spec.Start), fluxTime(spec.Stop))
	byMeas := map[string][]string{}
	var meas []string
	for _, t := range spec.Terms {
		if byMeas[t.Measurement] == nil {
			meas = append(meas, t.Measurement)
		}
		byMeas[t.Measurement] = append(byMeas[t.Measurement], t.Field)
	}
	slices.Sort(meas)
	var ors []string
	for _, m := range meas {
		ors = append(ors, fmt.Sprintf("(r._measurement == %s and %s)", String(m+suffix), anyOf("r._field", byMeas[m])))
	}
	fmt.Fprintf(&b, "  |> filter(fn: (r) => %s)\n", strings.Join(ors, " or "))
	filterLines(&b, spec.Filters)
	cols := append([]string{"_measurement", "_field"}, spec.GroupBy...)
	quoted := make([]string, len(cols))
	for i, c := range cols {
		quoted[i] = String(c)
	}
	fmt.Fprintf(&b, "  |> group(columns: [%s])\n", strings.Join(quoted, ", "))
	if spec.Every > 0 {
		fmt.Fprintf(&b, "  |> aggregateWindow(every: %s, fn: sum, createEmpty: false, timeSrc: \"_start\")\n", fluxDuration(spec.Every))
	} else {
		b.WriteString("  |> sum()\n")
	}
	return b.String()
}

// SketchQuery is the query of a SketchSpec: every stored sketch of the kinds
// and window in range, only the columns the engine needs.
func SketchQuery(bucket string, spec engine.SketchSpec) string {
	var b strings.Builder
	fmt.Fprintf(&b, "from(bucket: %s)\n", String(bucket))
	fmt.Fprintf(&b, "  |> range(start: %s, stop: %s)\n", fluxTime(spec.Start), fluxTime(spec.Stop))
	fmt.Fprintf(&b, "  |> filter(fn: (r) => r._measurement == %s and r._field == %s and r.%s == %s and %s)\n",
		String(spec.Measurement()), String(schema.FieldSketch), schema.TagWindow, String(spec.Window),
		anyOf("r."+schema.TagKind, spec.Kinds))
	filterLines(&b, spec.Filters)
	cols := append([]string{"_time", "_value", schema.TagKind}, spec.GroupBy...)
	quoted := make([]string, len(cols))
	for i, c := range cols {
		quoted[i] = String(c)
	}
	fmt.Fprintf(&b, "  |> keep(columns: [%s])\n", strings.Join(quoted, ", "))
	return b.String()
}

// DimensionQuery lists the values of a dimension. Store, channel and category
// come from the daily sketches (one small point per day and value) unless
// fromSums; the other dimensions from the summed measurements that carry them.
func DimensionQuery(bucket string, spec engine.DimensionSpec, fromSums bool) string {
	var b strings.Builder
	fmt.Fprintf(&b, "from(bucket: %s)\n", String(bucket))
	fmt.Fprintf(&b, "  |> range(start: %s, stop: %s)\n", fluxTime(spec.Start), fluxTime(spec.Stop))
	switch {
	case !fromSums && sketchDimension(spec.Dimension):
		fmt.Fprintf(&b, "  |> filter(fn: (r) => r._measurement == %s and r._field == %s and r.%s == %s)\n",
			String(schema.MeasDistinct), String(schema.FieldEstimate), schema.TagWindow, String(schema.WindowDay))
	default:
		var ors []string
		for _, m := range schema.Summed() {
			if slices.Contains(m.Tags, spec.Dimension) {
				ors = append(ors, fmt.Sprintf("(r._measurement == %s and r._field == %s)", String(m.Name), String(m.Fields[0])))
			}
		}
		fmt.Fprintf(&b, "  |> filter(fn: (r) => %s)\n", strings.Join(ors, " or "))
	}
	filterLines(&b, spec.Filters)
	d := String(spec.Dimension)
	// InfluxDB 1.8 returns no rows when keep() leaves only a tag column:
	// keep _value too.
	fmt.Fprintf(&b, "  |> keep(columns: [%s, \"_value\"])\n  |> group()\n  |> distinct(column: %s)\n", d, d)
	return b.String()
}

func sketchDimension(d string) bool {
	return d == schema.TagStore || d == schema.TagChannel || d == schema.TagCategory
}

// TargetQuery reads the targets of a TargetSpec, one row per stored point
// with its fields pivoted into columns (value, deleted).
func TargetQuery(bucket string, spec engine.TargetSpec) string {
	var b strings.Builder
	fmt.Fprintf(&b, "from(bucket: %s)\n", String(bucket))
	fmt.Fprintf(&b, "  |> range(start: %s, stop: %s)\n", fluxTime(spec.Start), fluxTime(spec.Stop))
	fmt.Fprintf(&b, "  |> filter(fn: (r) => r._measurement == %s and r.%s == %s and r.%s == %s)\n",
		String(schema.MeasTarget), schema.TagKPI, String(spec.KPI), schema.TagPeriod, String(spec.Period))
	if len(spec.Stores) > 0 {
		fmt.Fprintf(&b, "  |> filter(fn: (r) => %s)\n", oneOf("r."+schema.TagStore, spec.Stores))
	}
	b.WriteString("  |> pivot(rowKey: [\"_time\"], columnKey: [\"_field\"], valueColumn: \"_value\")\n")
	return b.String()
}

// CampaignQuery reads every stored campaign point (a campaign is stored at
// its first phase's start, so a range query could miss one that began
// earlier).
func CampaignQuery(bucket string) string {
	return fmt.Sprintf("from(bucket: %s)\n  |> range(start: 1970-01-01T00:00:00Z, stop: 2200-01-01T00:00:00Z)\n"+
		"  |> filter(fn: (r) => r._measurement == %s)\n"+
		"  |> pivot(rowKey: [\"_time\"], columnKey: [\"_field\"], valueColumn: \"_value\")\n",
		String(bucket), String(schema.MeasCampaign))
}

// LatestQuery finds the newest sp_ingest point per store: the last point of
// each series (pushed down to storage on InfluxDB 2.x), then the latest per
// store. Runs on Flux 0.65 (InfluxDB 1.8) too.
func LatestQuery(bucket string, spec engine.LatestSpec) string {
	var b strings.Builder
	fmt.Fprintf(&b, "from(bucket: %s)\n", String(bucket))
	fmt.Fprintf(&b, "  |> range(start: %s, stop: %s)\n", fluxTime(spec.Start), fluxTime(spec.Stop))
	fmt.Fprintf(&b, "  |> filter(fn: (r) => r._measurement == %s and r._field == %s)\n",
		String(schema.MeasIngest), String(schema.FieldEvents))
	if len(spec.Stores) > 0 {
		fmt.Fprintf(&b, "  |> filter(fn: (r) => %s)\n", oneOf("r."+schema.TagStore, spec.Stores))
	}
	// keep _value too: InfluxDB 1.8 returns no rows when keep() leaves no
	// value column.
	fmt.Fprintf(&b, "  |> last()\n  |> keep(columns: [\"_time\", \"_value\", %s])\n  |> group(columns: [%s])\n  |> max(column: \"_time\")\n",
		String(schema.TagStore), String(schema.TagStore))
	return b.String()
}

// MarksQuery reads every ingester's recorded time zone and consolidation
// watermarks (both at storezone.RecordTime).
func MarksQuery(bucket string) string {
	at := storezone.RecordTime()
	var b strings.Builder
	fmt.Fprintf(&b, "from(bucket: %s)\n", String(bucket))
	fmt.Fprintf(&b, "  |> range(start: %s, stop: %s)\n", fluxTime(at), fluxTime(at.Add(time.Second)))
	fmt.Fprintf(&b, "  |> filter(fn: (r) => r._measurement == %s or r._measurement == %s)\n",
		String(schema.MeasMeta), String(schema.MeasRollup))
	return b.String()
}
