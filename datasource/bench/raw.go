package bench

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"

	"github.com/storepulse/storepulse/internal/fluxq"
	"github.com/storepulse/storepulse/internal/kpi"
	"github.com/storepulse/storepulse/internal/schema"
)

// Shapes of raw queries.
const (
	ShapeFreshness = "freshness"
)

// Series of a raw query's rows (column "series").
const (
	SeriesCurrent  = "current"
	SeriesPrevious = "previous"
	SeriesTarget   = "target"
)

// bigNumberKeys are the model fields of a big number the raw side can
// express: a KPI by local day, compared with a week earlier, with a target.
var bigNumberKeys = map[string]bool{"refId": true, "queryType": true, "datasource": true, "version": true, "hide": true,
	"kpi": true, "interval": true, "compare": true, "compareOutputs": true, "target": true}

// RawFor is the Flux a user of Grafana's InfluxDB datasource would write for
// the same numbers as the plugin query q, over the same stored data (the
// rolled-up measurements of docs/schema.md), or "" when there is no such
// query: anomaly bands, forecasts, the campaign calendar and annotations are
// left to the plugin (they need medians over past weeks with campaign hours
// left out, Holt-Winters on the day's shape, or JSON campaign definitions).
//
// A big number (a KPI by local day, compare 1w, optional target) becomes one
// query: the daily sums of this week and of the same span a week earlier
// (moved onto this week with timeShift, as a Grafana user does), and the
// stored daily targets. Local days on Flux 0.65 (InfluxDB 1.8, no
// aggregateWindow offset): the rows are moved by the zone's offset, summed by
// UTC day and moved back. A ratio divides the day sums with pivot and map. A
// distinct count can only add up the sketches' own estimates (Flux cannot
// merge HyperLogLog sketches), the same daily sketch rows the plugin merges:
// that counts a user once per store, channel and category she was active in,
// so it overstates the distinct count; the report says by how much.
func RawFor(q backend.DataQuery, cat *kpi.Catalog, bucket string, loc *time.Location) (flux, shape string, k *kpi.KPI, err error) {
	from, to := q.TimeRange.From, q.TimeRange.To
	if q.QueryType == "freshness" {
		return freshnessFlux(bucket, to), ShapeFreshness, nil, nil
	}
	if q.QueryType != "" && q.QueryType != "kpi" {
		return "", "", nil, nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(q.JSON, &m); err != nil {
		return "", "", nil, err
	}
	for key := range m {
		if !bigNumberKeys[key] {
			return "", "", nil, nil // a transform: no raw equivalent
		}
	}
	var model struct {
		KPI      string `json:"kpi"`
		Interval string `json:"interval"`
		Compare  string `json:"compare"`
		Target   bool   `json:"target"`
	}
	if err := json.Unmarshal(q.JSON, &model); err != nil {
		return "", "", nil, err
	}
	if model.Interval != "day" || model.Compare != "1w" {
		return "", "", nil, nil
	}
	kk, ok := cat.Get(model.KPI)
	if !ok {
		return "", "", nil, fmt.Errorf("unknown KPI %q", model.KPI)
	}
	flux, err = bigNumberFlux(kk, bucket, loc, from, to, model.Target)
	if err != nil {
		return "", "", nil, err
	}
	return flux, kindOf(kk), &kk, nil
}

func operands(k kpi.KPI) ([]kpi.Operand, error) {
	ops := []kpi.Operand{k.Num}
	if k.Den != nil {
		ops = append(ops, *k.Den)
	}
	switch {
	case k.Kind != kpi.KindSum && k.Kind != kpi.KindRatio && k.Kind != kpi.KindDistinct:
		return nil, fmt.Errorf("raw Flux for KPI %s: kind %s not written", k.ID, k.Kind)
	case k.Complement:
		return nil, fmt.Errorf("raw Flux for KPI %s: complement ratios not written", k.ID)
	}
	for _, o := range ops {
		if !o.IsDistinct() && (len(o.Terms) != 1 || o.Terms[0].Sign != 1) {
			return nil, fmt.Errorf("raw Flux for KPI %s: only single-field operands are written", k.ID)
		}
	}
	return ops, nil
}

// fluxDuration writes d in hours (every shift here is whole hours).
func fluxDuration(d time.Duration) string {
	if d%time.Hour != 0 {
		return fmt.Sprintf("%dm", d/time.Minute)
	}
	return fmt.Sprintf("%dh", d/time.Hour)
}

func opName(o kpi.Operand) string {
	if o.IsDistinct() {
		return o.Distinct
	}
	return o.Terms[0].Field
}

func bigNumberFlux(k kpi.KPI, bucket string, loc *time.Location, from, to time.Time, target bool) (string, error) {
	ops, err := operands(k)
	if err != nil {
		return "", err
	}
	if len(ops) > 1 && opName(ops[0]) == opName(ops[1]) {
		return "", fmt.Errorf("raw Flux for KPI %s: numerator and denominator read the same column", k.ID)
	}
	pf, pt := from.In(loc).AddDate(0, 0, -7), to.In(loc).AddDate(0, 0, -7)
	_, off := from.In(loc).Zone()
	for _, t := range []time.Time{to, pf, pt} {
		if _, o := t.In(loc).Zone(); o != off {
			return "", fmt.Errorf("raw Flux: the time zone %s changes its offset within the range (DST): not written", loc)
		}
	}
	offset := time.Duration(off) * time.Second
	// One from() per period for the summed fields (grouped by field) and one
	// for the sketch estimates (grouped by kind), as the plugin reads them.
	var sums, distinct []kpi.Operand
	for _, o := range ops {
		if o.IsDistinct() {
			distinct = append(distinct, o)
		} else {
			sums = append(sums, o)
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "// %s by local day (%s): this week, the same span a week earlier moved onto it", k.Name, loc)
	if target {
		b.WriteString(", the daily target")
	}
	b.WriteString("\n")
	var names []string
	stream := func(series, part string, from, to time.Time, filter, column string) {
		name := series + part
		names = append(names, name)
		fmt.Fprintf(&b, "%s = from(bucket: %s)\n", name, fluxq.String(bucket))
		fmt.Fprintf(&b, "  |> range(start: %s, stop: %s)\n", fluxq.Time(from), fluxq.Time(to))
		fmt.Fprintf(&b, "  |> filter(fn: (r) => %s)\n", filter)
		fmt.Fprintf(&b, "  |> group(columns: [%q])\n", column)
		fmt.Fprintf(&b, "  |> timeShift(duration: %s)\n", fluxDuration(offset))
		b.WriteString("  |> aggregateWindow(every: 1d, fn: sum, createEmpty: false, timeSrc: \"_start\")\n")
		back := -offset
		if series == SeriesPrevious {
			back += 7 * 24 * time.Hour
		}
		fmt.Fprintf(&b, "  |> timeShift(duration: %s)\n", fluxDuration(back))
		if len(ops) > 1 {
			fmt.Fprintf(&b, "  |> map(fn: (r) => ({r with op: r.%s}))\n", column)
		}
		fmt.Fprintf(&b, "  |> set(key: \"series\", value: %s)\n", fluxq.String(series))
	}
	for _, p := range []struct {
		series   string
		from, to time.Time
	}{{SeriesCurrent, from, to}, {SeriesPrevious, pf, pt}} {
		if len(sums) > 0 {
			var ors []string
			for _, o := range sums {
				t := o.Terms[0]
				ors = append(ors, fmt.Sprintf("(r._measurement == %s and r._field == %s)", fluxq.String(t.Measurement), fluxq.String(t.Field)))
			}
			stream(p.series, "", p.from, p.to, strings.Join(ors, " or "), "_field")
		}
		if len(distinct) > 0 {
			var kinds []string
			for _, o := range distinct {
				kinds = append(kinds, "r.kind == "+fluxq.String(o.Distinct))
			}
			filter := fmt.Sprintf("r._measurement == %s and r._field == %s and r.window == %s and (%s)",
				fluxq.String(schema.MeasDistinct), fluxq.String(schema.FieldEstimate), fluxq.String(schema.WindowDay), strings.Join(kinds, " or "))
			part := ""
			if len(sums) > 0 {
				part = "_distinct"
			}
			stream(p.series, part, p.from, p.to, filter, "kind")
		}
	}
	values := names[0] + "\n"
	if len(names) > 1 {
		values = fmt.Sprintf("union(tables: [%s])\n", strings.Join(names, ", "))
	}
	if len(ops) > 1 {
		// The catalog's rule (docs/kpis.md): a zero (or absent) denominator
		// gives no value; an absent numerator over a denominator is 0 (a day
		// with payments and no refunds has a refund rate of 0).
		num, den := opName(ops[0]), opName(ops[1])
		values += fmt.Sprintf("  |> group(columns: [\"series\"])\n  |> pivot(rowKey: [\"_time\"], columnKey: [\"op\"], valueColumn: \"_value\")\n"+
			"  |> filter(fn: (r) => exists r.%[2]s and float(v: r.%[2]s) != 0.0)\n"+
			"  |> map(fn: (r) => ({r with _value: (if exists r.%[1]s then float(v: r.%[1]s) else 0.0) / float(v: r.%[2]s)}))\n", num, den)
	}
	if !target {
		b.WriteString(values)
		return b.String(), nil
	}
	fmt.Fprintf(&b, "values = %s", values)
	fmt.Fprintf(&b, "target = from(bucket: %s)\n", fluxq.String(bucket))
	fmt.Fprintf(&b, "  |> range(start: %s, stop: %s)\n", fluxq.Time(from), fluxq.Time(to))
	fmt.Fprintf(&b, "  |> filter(fn: (r) => r._measurement == %s and r._field == \"value\" and r.kpi == %s and r.store == \"all\" and r.period == \"day\")\n",
		fluxq.String(schema.MeasTarget), fluxq.String(k.ID))
	b.WriteString("  |> group()\n  |> set(key: \"series\", value: \"target\")\n")
	b.WriteString("union(tables: [values, target])\n")
	return b.String(), nil
}

// freshnessFlux is the newest sp_ingest point per store in the 7 days before
// to (the age is to minus its time, a Grafana transformation).
func freshnessFlux(bucket string, to time.Time) string {
	return fmt.Sprintf(`// newest data per store in the last 7 days
from(bucket: %s)
  |> range(start: %s, stop: %s)
  |> filter(fn: (r) => r._measurement == %s and r._field == %s)
  |> last()
  |> group(columns: ["store"])
  |> max(column: "_time")
  |> keep(columns: ["store", "_time", "_value"])
`, fluxq.String(bucket), fluxq.Time(to.Add(-7*24*time.Hour)), fluxq.Time(to), fluxq.String(schema.MeasIngest), fluxq.String(schema.FieldEvents))
}
