package flux

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/influxdata/influxdb-client-go/v2/api"
	"github.com/influxdata/influxdb-client-go/v2/api/query"

	"github.com/storepulse/storepulse/datasource/pkg/engine"
	"github.com/storepulse/storepulse/internal/calendar"
	"github.com/storepulse/storepulse/internal/schema"
)

// Source is the engine.Source (and engine.LatestSource) reading InfluxDB
// (1.8 with Flux, or 2.x) through influxdb-client-go.
type Source struct {
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
	marks   engine.Marks
	marksAt time.Time
}

var (
	_ engine.Source       = (*Source)(nil)
	_ engine.LatestSource = (*Source)(nil)
)

// downstream marks an InfluxDB failure; a cancelled query stays a
// cancellation.
func downstream(what string, err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return backend.DownstreamError(fmt.Errorf("%s: %w", what, err))
	}
	return backend.DownstreamError(fmt.Errorf("InfluxDB: %s failed: %w", what, err))
}

func (s *Source) run(ctx context.Context, what, flux string, fn func(*query.FluxRecord) error) error {
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

// Sums implements engine.Source. As the InfluxQL source, it reads the
// coarsest series that answer the sum exactly (engine.Plan): consolidated
// local days and hours below the ingesters' watermarks, minutes above.
func (s *Source) Sums(ctx context.Context, spec engine.SumSpec) ([]engine.SumRow, error) {
	pieces := []engine.Piece{{Start: spec.Start, Stop: spec.Stop, Suffix: ""}}
	fine := s.Bucket
	if !s.MinutesOnly {
		m, err := s.readMarks(ctx)
		if err != nil {
			return nil, err
		}
		pieces = engine.Plan(spec, m)
		if m.FineBucket != "" {
			fine = m.FineBucket
		}
	}
	var rows []engine.SumRow
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
func (s *Source) sums(ctx context.Context, bucket string, spec engine.SumSpec, suffix string, start time.Time, rows []engine.SumRow) ([]engine.SumRow, error) {
	err := s.run(ctx, "summing fields", SumQueryFrom(bucket, spec, suffix), func(rec *query.FluxRecord) error {
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
		rows = append(rows, engine.SumRow{Time: t, Term: engine.Term{Measurement: meas, Field: rec.Field()}, Groups: groupValues(rec, spec.GroupBy), Value: v})
		return nil
	})
	return rows, err
}

// Sketches implements engine.Source.
// As the InfluxQL source, it reads the store-level sketches where they
// answer (engine.PlanSketches), unless MinutesOnly.
func (s *Source) Sketches(ctx context.Context, spec engine.SketchSpec, fn func(engine.SketchRow) error) error {
	pieces := []engine.SketchSpec{spec}
	if !s.MinutesOnly {
		m, err := s.readMarks(ctx)
		if err != nil {
			return err
		}
		pieces = engine.PlanSketches(spec, m)
	}
	for _, p := range pieces {
		err := s.run(ctx, "reading sketches", SketchQuery(s.Bucket, p), func(rec *query.FluxRecord) error {
			t := rec.Time().In(time.UTC)
			if len(pieces) > 1 && !t.Before(p.Stop) {
				// Flux on InfluxDB 1.8 also returns a point stamped at the
				// stop: the next piece reads it.
				return nil
			}
			str, _ := rec.Value().(string)
			kind, _ := rec.ValueByKey("kind").(string)
			return fn(engine.SketchRow{Time: t, Kind: kind, Groups: groupValues(rec, p.GroupBy), Sketch: str})
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// DimensionValues implements engine.Source: a dimension's values, sorted.
func (s *Source) DimensionValues(ctx context.Context, spec engine.DimensionSpec) ([]string, error) {
	if !engine.IsDimension(spec.Dimension) {
		return nil, backend.PluginErrorf("unknown dimension %q (one of %v)", spec.Dimension, engine.Dimensions())
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
	err := s.run(ctx, what, DimensionQuery(s.Bucket, spec, false), collect)
	if err == nil && len(out) == 0 && sketchDimension(spec.Dimension) {
		// No sketches (e.g. stores sending only pre-aggregated metrics): ask
		// the summed measurements.
		err = s.run(ctx, what, DimensionQuery(s.Bucket, spec, true), collect)
	}
	slices.Sort(out)
	return out, err
}

// Targets implements engine.CalendarSource.
func (s *Source) Targets(ctx context.Context, spec engine.TargetSpec) ([]engine.TargetRow, error) {
	var out []engine.TargetRow
	err := s.run(ctx, "reading targets", TargetQuery(s.Bucket, spec), func(rec *query.FluxRecord) error {
		v := rec.Values()
		if deleted, _ := v[schema.FieldDeleted].(bool); deleted {
			return nil
		}
		val, ok := number(v[schema.FieldValue])
		if !ok {
			return nil
		}
		store, _ := v[schema.TagStore].(string)
		out = append(out, engine.TargetRow{Time: rec.Time().In(time.UTC), Store: store, Value: val})
		return nil
	})
	return out, err
}

// Campaigns implements engine.CalendarSource: the live campaigns ordered by
// start, id.
func (s *Source) Campaigns(ctx context.Context) ([]calendar.Campaign, error) {
	var out []calendar.Campaign
	err := s.run(ctx, "reading campaigns", CampaignQuery(s.Bucket), func(rec *query.FluxRecord) error {
		v := rec.Values()
		if deleted, _ := v[schema.FieldDeleted].(bool); deleted {
			return nil
		}
		def, _ := v[schema.FieldDefinition].(string)
		var c calendar.Campaign
		if err := json.Unmarshal([]byte(def), &c); err != nil {
			return backend.DownstreamError(fmt.Errorf("InfluxDB: the stored definition of campaign %v is not valid JSON: %w", v[schema.TagCampaign], err))
		}
		out = append(out, c)
		return nil
	})
	engine.SortCampaigns(out)
	return out, err
}

// Latest implements engine.LatestSource.
func (s *Source) Latest(ctx context.Context, spec engine.LatestSpec) ([]engine.LatestRow, error) {
	var out []engine.LatestRow
	err := s.run(ctx, "finding the newest data per store", LatestQuery(s.Bucket, spec), func(rec *query.FluxRecord) error {
		store, _ := rec.ValueByKey(schema.TagStore).(string)
		out = append(out, engine.LatestRow{Store: store, Time: rec.Time().In(time.UTC)})
		return nil
	})
	return out, err
}
