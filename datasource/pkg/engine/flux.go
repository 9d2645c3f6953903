package engine

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/storepulse/storepulse/internal/fluxq"
	"github.com/storepulse/storepulse/internal/schema"
)

// The Flux below runs on InfluxDB 1.8 (Flux 0.65) and 2.x: no
// aggregateWindow offset or location (store-time-zone days are summed from
// hourly windows by the engine), no newer packages.

// FluxString quotes s as a Flux string literal.
func FluxString(s string) string { return fluxq.String(s) }

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
		terms[i] = col + " == " + FluxString(v)
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
		return col + " == " + FluxString(vals[0])
	}
	return col + " =~ " + fluxRegexOneOf(vals)
}

// fluxRegexOneOf is a Flux regex literal matching exactly one of vals: each
// value is quoted for RE2 and its slashes escaped for the literal.
func fluxRegexOneOf(vals []string) string {
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
		fmt.Fprintf(b, "  |> filter(fn: (r) => %s)\n", oneOf("r["+FluxString(d)+"]", filters[d]))
	}
}

// SumFlux is the query of a SumSpec: sums pushed into InfluxDB per window
// and group; a reader never needs the raw points.
func SumFlux(bucket string, spec SumSpec) string { return SumFluxFrom(bucket, spec, "") }

// SumFluxFrom is SumFlux reading each measurement's series with suffix (""
// the minute series, schema.SuffixHour or schema.SuffixDay the consolidated
// ones).
func SumFluxFrom(bucket string, spec SumSpec, suffix string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "from(bucket: %s)\n", FluxString(bucket))
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
		ors = append(ors, fmt.Sprintf("(r._measurement == %s and %s)", FluxString(m+suffix), anyOf("r._field", byMeas[m])))
	}
	fmt.Fprintf(&b, "  |> filter(fn: (r) => %s)\n", strings.Join(ors, " or "))
	filterLines(&b, spec.Filters)
	cols := append([]string{"_measurement", "_field"}, spec.GroupBy...)
	quoted := make([]string, len(cols))
	for i, c := range cols {
		quoted[i] = FluxString(c)
	}
	fmt.Fprintf(&b, "  |> group(columns: [%s])\n", strings.Join(quoted, ", "))
	if spec.Every > 0 {
		fmt.Fprintf(&b, "  |> aggregateWindow(every: %s, fn: sum, createEmpty: false, timeSrc: \"_start\")\n", fluxDuration(spec.Every))
	} else {
		b.WriteString("  |> sum()\n")
	}
	return b.String()
}

// SketchFlux is the query of a SketchSpec: every stored sketch of the kinds
// and window in range, only the columns the engine needs.
func SketchFlux(bucket string, spec SketchSpec) string {
	var b strings.Builder
	fmt.Fprintf(&b, "from(bucket: %s)\n", FluxString(bucket))
	fmt.Fprintf(&b, "  |> range(start: %s, stop: %s)\n", fluxTime(spec.Start), fluxTime(spec.Stop))
	fmt.Fprintf(&b, "  |> filter(fn: (r) => r._measurement == %s and r._field == %s and r.%s == %s and %s)\n",
		FluxString(schema.MeasDistinct), FluxString(schema.FieldSketch), schema.TagWindow, FluxString(spec.Window),
		anyOf("r."+schema.TagKind, spec.Kinds))
	filterLines(&b, spec.Filters)
	cols := append([]string{"_time", "_value", schema.TagKind}, spec.GroupBy...)
	quoted := make([]string, len(cols))
	for i, c := range cols {
		quoted[i] = FluxString(c)
	}
	fmt.Fprintf(&b, "  |> keep(columns: [%s])\n", strings.Join(quoted, ", "))
	return b.String()
}

// DimensionFlux lists the values of a dimension. Store, channel and category
// come from the daily sketches (one small point per day and value) unless
// fromSums; the other dimensions from the summed measurements that carry them.
func DimensionFlux(bucket string, spec DimensionSpec, fromSums bool) string {
	var b strings.Builder
	fmt.Fprintf(&b, "from(bucket: %s)\n", FluxString(bucket))
	fmt.Fprintf(&b, "  |> range(start: %s, stop: %s)\n", fluxTime(spec.Start), fluxTime(spec.Stop))
	switch {
	case !fromSums && sketchDimension(spec.Dimension):
		fmt.Fprintf(&b, "  |> filter(fn: (r) => r._measurement == %s and r._field == %s and r.%s == %s)\n",
			FluxString(schema.MeasDistinct), FluxString(schema.FieldEstimate), schema.TagWindow, FluxString(schema.WindowDay))
	default:
		var ors []string
		for _, m := range schema.Summed() {
			if slices.Contains(m.Tags, spec.Dimension) {
				ors = append(ors, fmt.Sprintf("(r._measurement == %s and r._field == %s)", FluxString(m.Name), FluxString(m.Fields[0])))
			}
		}
		fmt.Fprintf(&b, "  |> filter(fn: (r) => %s)\n", strings.Join(ors, " or "))
	}
	filterLines(&b, spec.Filters)
	d := FluxString(spec.Dimension)
	// InfluxDB 1.8 returns no rows when keep() leaves only a tag column:
	// keep _value too.
	fmt.Fprintf(&b, "  |> keep(columns: [%s, \"_value\"])\n  |> group()\n  |> distinct(column: %s)\n", d, d)
	return b.String()
}

func sketchDimension(d string) bool {
	return d == schema.TagStore || d == schema.TagChannel || d == schema.TagCategory
}

// IsDimension reports whether d is a queryable dimension.
func IsDimension(d string) bool {
	return slices.Contains(Dimensions(), d)
}

// Dimensions are the tags a query can filter and group by.
func Dimensions() []string {
	return []string{schema.TagStore, schema.TagChannel, schema.TagCategory, schema.TagCampaign, schema.TagCreative,
		schema.TagReason, schema.TagCompetitor}
}
