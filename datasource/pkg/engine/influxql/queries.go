// Package influxql is the engine's Source reading InfluxDB with InfluxQL over
// the v1 /query API: InfluxDB 1.8 natively, 2.x through the v1 compatibility
// API (DBRP mappings; every bucket has a virtual one) and 3.x. It answers
// exactly what flux.Source (package engine/flux) answers on the same stored data;
// queries.go builds the statements, source.go runs them.
//
// How the Flux semantics are kept:
//   - ranges are [start, stop): time >= start AND time < stop;
//   - windows are aligned to the epoch as aggregateWindow's; a window cut by
//     an unaligned range start is reported at the range start, as Flux's
//     timeSrc "_start" (InfluxQL reports the window's own start);
//   - fill(none) drops empty windows as createEmpty: false;
//   - a missing tag groups as "" and never matches a filter value.
package influxql

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/storepulse/storepulse/datasource/pkg/engine"
	iql "github.com/storepulse/storepulse/internal/influxql"
	"github.com/storepulse/storepulse/internal/schema"
)

// campaignsFrom and campaignsTo bound the campaign read as the Flux one.
func campaignsFrom() time.Time { return time.Unix(0, 0).UTC() }
func campaignsTo() time.Time   { return time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC) }

// checkAll rejects filter values and group-by names no InfluxDB can hold.
func checkAll(filters map[string][]string, names ...[]string) error {
	for dim, vals := range filters {
		if err := iql.Check(dim); err != nil {
			return fmt.Errorf("filter dimension %q: %w", dim, err)
		}
		for _, v := range vals {
			if err := iql.Check(v); err != nil {
				return fmt.Errorf("filter value %q of %s: %w", v, dim, err)
			}
		}
	}
	for _, ns := range names {
		for _, n := range ns {
			if err := iql.Check(n); err != nil {
				return fmt.Errorf("name %q: %w", n, err)
			}
		}
	}
	return nil
}

// timeRange is the WHERE condition of [start, stop).
func timeRange(start, stop time.Time) string {
	return "time >= " + iql.Time(start) + " AND time < " + iql.Time(stop)
}

// anyOf is ("col" = 'v1' OR "col" = 'v2' ...).
func anyOf(col string, vals []string) string {
	terms := make([]string, len(vals))
	for i, v := range vals {
		terms[i] = iql.Ident(col) + " = " + iql.String(v)
	}
	return "(" + strings.Join(terms, " OR ") + ")"
}

// filterConds are the dimension filters in a stable order, each an OR of
// its values, joined by AND. A dimension with no values matches nothing, as
// Flux's empty `or` does not exist: the engine never sends one.
func filterConds(filters map[string][]string) string {
	dims := make([]string, 0, len(filters))
	for d := range filters {
		dims = append(dims, d)
	}
	slices.Sort(dims)
	var b strings.Builder
	for _, d := range dims {
		if len(filters[d]) == 0 {
			b.WriteString(" AND false")
			continue
		}
		b.WriteString(" AND ")
		b.WriteString(anyOf(d, filters[d]))
	}
	return b.String()
}

func groupBy(cols []string) string {
	q := make([]string, len(cols))
	for i, c := range cols {
		q[i] = iql.Ident(c)
	}
	return strings.Join(q, ", ")
}

// SumMeasurements are the measurements of a SumSpec's terms, sorted, with
// their fields in first-seen order: one statement each, in this order.
func SumMeasurements(spec engine.SumSpec) (meas []string, fields map[string][]string) {
	fields = map[string][]string{}
	for _, t := range spec.Terms {
		if !slices.Contains(fields[t.Measurement], t.Field) {
			if fields[t.Measurement] == nil {
				meas = append(meas, t.Measurement)
			}
			fields[t.Measurement] = append(fields[t.Measurement], t.Field)
		}
	}
	slices.Sort(meas)
	return meas, fields
}

// SumQuery is the query of a SumSpec: per measurement one statement summing
// its fields (aliased to the field names) per window and group.
func SumQuery(spec engine.SumSpec) string { return SumQueryFrom(spec, "") }

// SumQueryFrom is SumQuery reading the series of each measurement with
// suffix ("" the minute series, schema.SuffixHour, schema.SuffixDay or their store totals: the
// consolidated ones).
func SumQueryFrom(spec engine.SumSpec, suffix string) string {
	meas, fields := SumMeasurements(spec)
	stmts := make([]string, len(meas))
	for i, m := range meas {
		sel := make([]string, len(fields[m]))
		for j, f := range fields[m] {
			sel[j] = "sum(" + iql.Ident(f) + ") AS " + iql.Ident(f)
		}
		var b strings.Builder
		fmt.Fprintf(&b, "SELECT %s FROM %s WHERE %s%s", strings.Join(sel, ", "), iql.Ident(m+suffix),
			timeRange(spec.Start, spec.Stop), filterConds(spec.Filters))
		switch {
		case spec.Every > 0:
			fmt.Fprintf(&b, " GROUP BY time(%s)", iql.Duration(spec.Every))
			if len(spec.GroupBy) > 0 {
				b.WriteString(", " + groupBy(spec.GroupBy))
			}
			b.WriteString(" fill(none)")
		case len(spec.GroupBy) > 0:
			b.WriteString(" GROUP BY " + groupBy(spec.GroupBy))
		}
		stmts[i] = b.String()
	}
	return strings.Join(stmts, "; ")
}

// SketchQuery is the query of a SketchSpec: every stored sketch of the kinds
// and window in range (detailed or store-level), one series per kind and
// group.
func SketchQuery(spec engine.SketchSpec) string {
	return fmt.Sprintf("SELECT %s FROM %s WHERE %s AND %s = %s AND %s%s GROUP BY %s",
		iql.Ident(schema.FieldSketch), iql.Ident(spec.Measurement()), timeRange(spec.Start, spec.Stop),
		iql.Ident(schema.TagWindow), iql.String(spec.Window), anyOf(schema.TagKind, spec.Kinds), filterConds(spec.Filters),
		groupBy(append([]string{schema.TagKind}, spec.GroupBy...)))
}

// DimensionQuery lists the values of a dimension as the groups of a count:
// from the daily sketches for store, channel and category unless fromSums,
// else from every summed measurement carrying the dimension (one statement
// each). Only values with a point in range are listed, as in Flux.
func DimensionQuery(spec engine.DimensionSpec, fromSums bool) string {
	return DimensionQueryFrom(spec, fromSums, "")
}

// DimensionQueryFrom is DimensionQuery reading the summed measurements'
// series with suffix ("" the minute series).
func DimensionQueryFrom(spec engine.DimensionSpec, fromSums bool, suffix string) string {
	where := timeRange(spec.Start, spec.Stop)
	g := iql.Ident(spec.Dimension)
	if !fromSums && SketchDimension(spec.Dimension) {
		return fmt.Sprintf("SELECT count(%s) FROM %s WHERE %s AND %s = %s%s GROUP BY %s",
			iql.Ident(schema.FieldEstimate), iql.Ident(schema.MeasDistinct), where, iql.Ident(schema.TagWindow),
			iql.String(schema.WindowDay), filterConds(spec.Filters), g)
	}
	var stmts []string
	for _, m := range schema.Summed() {
		if slices.Contains(m.Tags, spec.Dimension) {
			stmts = append(stmts, fmt.Sprintf("SELECT count(%s) FROM %s WHERE %s%s GROUP BY %s",
				iql.Ident(m.Fields[0]), iql.Ident(m.Name+suffix), where, filterConds(spec.Filters), g))
		}
	}
	return strings.Join(stmts, "; ")
}

// SketchDimension reports whether d is read from the daily sketches.
func SketchDimension(d string) bool {
	return d == schema.TagStore || d == schema.TagChannel || d == schema.TagCategory
}

// TargetQuery reads the targets of a TargetSpec: value and deleted of every
// stored point, one series per stored series.
func TargetQuery(spec engine.TargetSpec) string {
	var b strings.Builder
	fmt.Fprintf(&b, "SELECT %s, %s FROM %s WHERE %s AND %s = %s AND %s = %s",
		iql.Ident(schema.FieldValue), iql.Ident(schema.FieldDeleted), iql.Ident(schema.MeasTarget),
		timeRange(spec.Start, spec.Stop), iql.Ident(schema.TagKPI), iql.String(spec.KPI),
		iql.Ident(schema.TagPeriod), iql.String(spec.Period))
	if len(spec.Stores) > 0 {
		b.WriteString(" AND " + anyOf(schema.TagStore, spec.Stores))
	}
	b.WriteString(" GROUP BY *")
	return b.String()
}

// CampaignQuery reads every stored campaign point (stored at the first
// phase's start; the same bounds as the Flux read).
func CampaignQuery() string {
	return fmt.Sprintf("SELECT %s, %s FROM %s WHERE %s GROUP BY *",
		iql.Ident(schema.FieldDefinition), iql.Ident(schema.FieldDeleted), iql.Ident(schema.MeasCampaign),
		timeRange(campaignsFrom(), campaignsTo()))
}

// LatestQuery finds the newest sp_ingest point per store: last() is a
// selector, so the row's time is the point's.
func LatestQuery(spec engine.LatestSpec) string { return LatestQueryFrom(spec, "") }

// LatestQueryFrom is LatestQuery reading the sp_ingest series with suffix.
func LatestQueryFrom(spec engine.LatestSpec, suffix string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "SELECT last(%s) FROM %s WHERE %s", iql.Ident(schema.FieldEvents), iql.Ident(schema.MeasIngest+suffix),
		timeRange(spec.Start, spec.Stop))
	if len(spec.Stores) > 0 {
		b.WriteString(" AND " + anyOf(schema.TagStore, spec.Stores))
	}
	b.WriteString(" GROUP BY " + iql.Ident(schema.TagStore))
	return b.String()
}
