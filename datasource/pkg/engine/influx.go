package engine

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/influxdata/influxdb-client-go/v2/api"
	"github.com/influxdata/influxdb-client-go/v2/api/query"
)

// InfluxSource is the Source reading InfluxDB (1.8 with Flux, or 2.x)
// through influxdb-client-go.
type InfluxSource struct {
	// QueryAPI returns a query API for one query. A fresh one per query:
	// influxdb-client-go's queryAPI caches its URL without synchronising
	// the read, a data race when one is shared by concurrent queries.
	QueryAPI func() api.QueryAPI
	Bucket   string
	// MinutesOnly reads every sum from the minute series, never from the
	// consolidated ones (an oracle for tests and benchmarks).
	MinutesOnly bool
	// Now is the clock of the watermark cache (time.Now when nil).
	Now func() time.Time

	marksMu sync.Mutex
	marks   Marks
	marksAt time.Time
}

// downstream marks an InfluxDB failure; a cancelled query stays a
// cancellation.
func downstream(what string, err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return backend.DownstreamError(fmt.Errorf("%s: %w", what, err))
	}
	return backend.DownstreamError(fmt.Errorf("InfluxDB: %s failed: %w", what, err))
}

func (s *InfluxSource) run(ctx context.Context, what, flux string, fn func(*query.FluxRecord) error) error {
	res, err := s.QueryAPI().Query(ctx, flux)
	if err != nil {
		return downstream(what, err)
	}
	defer func() { _ = res.Close() }()
	for res.Next() {
		if err := fn(res.Record()); err != nil {
			return err
		}
	}
	if err := res.Err(); err != nil {
		return downstream(what, err)
	}
	return nil
}

func groupValues(rec *query.FluxRecord, groupBy []string) []string {
	out := make([]string, len(groupBy))
	for i, g := range groupBy {
		out[i], _ = rec.ValueByKey(g).(string)
	}
	return out
}

func number(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case int64:
		return float64(x), true
	case uint64:
		return float64(x), true
	}
	return 0, false
}

// Sums implements Source. As the InfluxQL source, it reads the coarsest
// series that answer the sum exactly (Plan): consolidated local days and
// hours below the ingesters' watermarks, minutes above.
func (s *InfluxSource) Sums(ctx context.Context, spec SumSpec) ([]SumRow, error) {
	pieces := []Piece{{spec.Start, spec.Stop, ""}}
	fine := s.Bucket
	if !s.MinutesOnly {
		m, err := s.readMarks(ctx)
		if err != nil {
			return nil, err
		}
		pieces = Plan(spec, m)
		if m.FineBucket != "" {
			fine = m.FineBucket
		}
	}
	var rows []SumRow
	for _, p := range pieces {
		ps := spec
		ps.Start, ps.Stop = p.Start, p.Stop
		bucket := s.Bucket
		if p.Suffix == "" {
			bucket = fine
		} else {
			// Consolidated points lie exactly on window starts, and Flux on
			// InfluxDB 1.8 also reads a point at the range stop: stop just
			// before it (the next piece reads it).
			ps.Stop = ps.Stop.Add(-time.Nanosecond)
		}
		var err error
		if rows, err = s.sums(ctx, bucket, ps, p.Suffix, spec.Start, rows); err != nil {
			return nil, err
		}
	}
	return rows, nil
}

// sums appends the rows of spec read from bucket's series with suffix;
// windows are stamped no earlier than start.
func (s *InfluxSource) sums(ctx context.Context, bucket string, spec SumSpec, suffix string, start time.Time, rows []SumRow) ([]SumRow, error) {
	err := s.run(ctx, "summing fields", SumFluxFrom(bucket, spec, suffix), func(rec *query.FluxRecord) error {
		v, ok := number(rec.Value())
		if !ok {
			if rec.Value() == nil {
				return nil
			}
			return backend.DownstreamError(fmt.Errorf("InfluxDB: field %s.%s holds %T, the schema says float", rec.Measurement(), rec.Field(), rec.Value()))
		}
		t := start
		if spec.Every > 0 && rec.Time().After(t) {
			t = rec.Time()
		}
		meas := strings.TrimSuffix(rec.Measurement(), suffix)
		rows = append(rows, SumRow{Time: t, Term: Term{meas, rec.Field()}, Groups: groupValues(rec, spec.GroupBy), Value: v})
		return nil
	})
	return rows, err
}

// Sketches implements Source.
func (s *InfluxSource) Sketches(ctx context.Context, spec SketchSpec, fn func(SketchRow) error) error {
	return s.run(ctx, "reading sketches", SketchFlux(s.Bucket, spec), func(rec *query.FluxRecord) error {
		str, _ := rec.Value().(string)
		kind, _ := rec.ValueByKey("kind").(string)
		return fn(SketchRow{Time: rec.Time().In(time.UTC), Kind: kind, Groups: groupValues(rec, spec.GroupBy), Sketch: str})
	})
}

// DimensionValues lists a dimension's values, sorted.
func (s *InfluxSource) DimensionValues(ctx context.Context, spec DimensionSpec) ([]string, error) {
	if !IsDimension(spec.Dimension) {
		return nil, backend.PluginErrorf("unknown dimension %q (one of %v)", spec.Dimension, Dimensions())
	}
	seen := map[string]bool{}
	var out []string
	collect := func(rec *query.FluxRecord) error {
		if v, ok := rec.Value().(string); ok && v != "" && !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
		return nil
	}
	what := "listing " + spec.Dimension + " values"
	err := s.run(ctx, what, DimensionFlux(s.Bucket, spec, false), collect)
	if err == nil && len(out) == 0 && sketchDimension(spec.Dimension) {
		// No sketches (e.g. stores sending only pre-aggregated metrics): ask
		// the summed measurements.
		err = s.run(ctx, what, DimensionFlux(s.Bucket, spec, true), collect)
	}
	slices.Sort(out)
	return out, err
}
