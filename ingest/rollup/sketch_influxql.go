package rollup

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/axiomhq/hyperloglog"

	"github.com/storepulse/storepulse/internal/influxql"
	"github.com/storepulse/storepulse/internal/schema"
)

// sketchChunkSize is the rows per chunk of a sketch reload (dense sketches
// are about 22 KB of base64 each).
const sketchChunkSize = 500

// influxQLSketches loads sketches with one InfluxQL query per Load.
type influxQLSketches struct {
	c        *influxql.Client
	ingester string
}

// NewInfluxQLSketches returns a SketchSource reading this ingester's stored
// sketches with InfluxQL through c (the v1 /query API of InfluxDB 1.8, 2.x
// and 3.x). One Load is one query over [earliest start, latest start]
// narrowed to the requested measurements (detailed and store-level), kinds,
// windows and stores; the exact keys are
// picked from the answer (InfluxQL cannot OR time conditions).
func NewInfluxQLSketches(c *influxql.Client, ingester string) SketchSource {
	return &influxQLSketches{c: c, ingester: ingester}
}

// sketchInfluxQL is the InfluxQL query loading keys.
func sketchInfluxQL(ingester string, keys []SketchKey) string {
	minStart, maxStart := keys[0].Start, keys[0].Start
	var kinds, windows, stores, meas []string
	allStores := true
	for _, k := range keys {
		minStart, maxStart = min(minStart, k.Start), max(maxStart, k.Start)
		meas = append(meas, influxql.Ident(k.Measurement()))
		kinds = append(kinds, k.Kind)
		windows = append(windows, k.Window)
		stores = append(stores, k.Store)
		allStores = allStores && k.Store != ""
	}
	anyOf := func(col string, vals []string) string {
		terms := make([]string, len(vals))
		for i, v := range vals {
			terms[i] = influxql.Ident(col) + " = " + influxql.String(v)
		}
		return "(" + strings.Join(terms, " OR ") + ")"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "SELECT %s FROM %s WHERE time >= %s AND time <= %s AND %s = %s AND %s AND %s",
		influxql.Ident(schema.FieldSketch), strings.Join(uniq(meas), ", "),
		influxql.Time(time.Unix(0, minStart)), influxql.Time(time.Unix(0, maxStart)),
		influxql.Ident(schema.TagIngester), influxql.String(ingester),
		anyOf(schema.TagKind, uniq(kinds)), anyOf(schema.TagWindow, uniq(windows)))
	if allStores {
		b.WriteString(" AND " + anyOf(schema.TagStore, uniq(stores)))
	}
	fmt.Fprintf(&b, " GROUP BY %s, %s, %s, %s, %s", influxql.Ident(schema.TagKind), influxql.Ident(schema.TagWindow),
		influxql.Ident(schema.TagStore), influxql.Ident(schema.TagChannel), influxql.Ident(schema.TagCategory))
	return b.String()
}

// Load implements SketchSource.
func (s *influxQLSketches) Load(ctx context.Context, keys []SketchKey) (map[SketchKey]*hyperloglog.Sketch, error) {
	out := map[SketchKey]*hyperloglog.Sketch{}
	if len(keys) == 0 {
		return out, nil
	}
	want := make(map[SketchKey]bool, len(keys))
	for _, k := range keys {
		want[k] = true
	}
	var corrupt CorruptSketchesError
	err := s.c.Query(ctx, sketchInfluxQL(s.ingester, keys), influxql.Options{ChunkSize: sketchChunkSize}, func(_ int, sr *influxql.Series) error {
		tc, vc := sr.Column("time"), sr.Column(schema.FieldSketch)
		if tc < 0 || vc < 0 {
			return fmt.Errorf("InfluxDB answered without time or %s column", schema.FieldSketch)
		}
		for _, row := range sr.Values {
			t, err := influxql.TimeOf(row[tc])
			if err != nil {
				return err
			}
			k := SketchKey{Kind: sr.Tags[schema.TagKind], Window: sr.Tags[schema.TagWindow], Store: sr.Tags[schema.TagStore],
				Channel: sr.Tags[schema.TagChannel], Category: sr.Tags[schema.TagCategory], Start: t.UnixNano(),
				Total: sr.Name == schema.MeasDistinctStore}
			if !want[k] {
				continue
			}
			str, _ := row[vc].(string)
			loadInto(out, k, str, &corrupt)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("InfluxDB: loading %d stored sketches failed: %w", len(keys), err)
	}
	if len(corrupt.Keys) > 0 {
		return out, &corrupt
	}
	return out, nil
}

// Latest implements LatestSketches: one statement per sketch measurement,
// each the last estimate at or after since (its time is the window start).
func (s *influxQLSketches) Latest(ctx context.Context, since time.Time) (int64, bool, error) {
	var stmts []string
	for _, m := range []string{schema.MeasDistinct, schema.MeasDistinctStore} {
		stmts = append(stmts, fmt.Sprintf("SELECT last(%s) FROM %s WHERE %s = %s AND time >= %s",
			influxql.Ident(schema.FieldEstimate), influxql.Ident(m), influxql.Ident(schema.TagIngester),
			influxql.String(s.ingester), influxql.Time(since)))
	}
	latest, found, err := influxql.Latest(ctx, s.c, strings.Join(stmts, "; "))
	if err != nil {
		return 0, false, fmt.Errorf("InfluxDB: looking up the latest stored sketch failed: %w", err)
	}
	return latest.UnixNano(), found, nil
}
