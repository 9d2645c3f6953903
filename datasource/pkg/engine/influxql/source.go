package influxql

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"

	"github.com/storepulse/storepulse/datasource/pkg/engine"
	"github.com/storepulse/storepulse/internal/calendar"
	iql "github.com/storepulse/storepulse/internal/influxql"
	"github.com/storepulse/storepulse/internal/schema"
)

// SketchChunkSize is the rows per chunk of a sketch read: a dense sketch is
// about 22 KB of base64, so a chunk stays near 10 MB.
const SketchChunkSize = 500

// Source is the engine.Source (and engine.LatestSource) reading InfluxDB
// with InfluxQL. Safe for concurrent use.
type Source struct {
	Client *iql.Client
	// Now is the clock of the watermark cache (time.Now when nil).
	Now func() time.Time

	mu          sync.Mutex
	cachedMarks Marks
	fine        *iql.Client // reads the minute series
	marksAt     time.Time
}

var (
	_ engine.Source       = (*Source)(nil)
	_ engine.LatestSource = (*Source)(nil)
)

// New returns a Source for the InfluxDB at url, reading bucket ("db/rp" or
// "db"), authenticating with token ("Authorization: Token"), through hc
// (nil: a plain client).
func New(url, token, bucket string, hc *http.Client) (*Source, error) {
	db, rp, err := iql.SplitBucket(bucket)
	if err != nil {
		return nil, err
	}
	return &Source{Client: &iql.Client{URL: url, Token: token, Database: db, RetentionPolicy: rp, HTTP: hc}}, nil
}

// downstream marks an InfluxDB failure (as flux.Source does); a
// response over the size bound is the plugin's refusal, with its reason.
func downstream(what string, err error) error {
	var tl *iql.TooLargeError
	switch {
	case errors.As(err, &tl):
		return backend.PluginError(fmt.Errorf("%s: %w", what, err))
	case errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded):
		return backend.DownstreamError(fmt.Errorf("%s: %w", what, err))
	}
	return backend.DownstreamError(fmt.Errorf("InfluxDB: %s failed: %w", what, err))
}

// run runs q; an error fn returns is passed through unmarked.
func (s *Source) run(ctx context.Context, what, q string, o iql.Options, fn func(stmt int, sr *iql.Series) error) error {
	return run(ctx, s.Client, what, q, o, fn)
}

// run runs q with c; an error fn returns is passed through unmarked.
func run(ctx context.Context, c *iql.Client, what, q string, o iql.Options, fn func(stmt int, sr *iql.Series) error) error {
	var fnErr error
	err := c.Query(ctx, q, o, func(stmt int, sr *iql.Series) error {
		if err := fn(stmt, sr); err != nil {
			fnErr = err
			return err
		}
		return nil
	})
	if err == nil {
		return nil
	}
	if fnErr != nil && errors.Is(err, fnErr) {
		return err
	}
	return downstream(what, err)
}

func badInput(err error) error { return backend.PluginError(err) }

func groupValues(sr *iql.Series, groupBy []string) []string {
	out := make([]string, len(groupBy))
	for i, g := range groupBy {
		out[i] = sr.Tags[g]
	}
	return out
}

func rowTime(sr *iql.Series, row []any) (time.Time, error) {
	i := sr.Column("time")
	if i < 0 || i >= len(row) {
		return time.Time{}, backend.DownstreamError(errors.New("InfluxDB: a result has no time column"))
	}
	t, err := iql.TimeOf(row[i])
	if err != nil {
		return time.Time{}, backend.DownstreamError(fmt.Errorf("InfluxDB: %w", err))
	}
	return t, nil
}

// Sums implements engine.Source. The range is read from the coarsest
// series that answer it exactly (Plan): consolidated local days and hours
// below the ingesters' watermarks, minutes above; the rows of the pieces
// add up as the rows of one window do.
func (s *Source) Sums(ctx context.Context, spec engine.SumSpec) ([]engine.SumRow, error) {
	if len(spec.Terms) == 0 {
		return nil, nil
	}
	if err := checkAll(spec.Filters, spec.GroupBy); err != nil {
		return nil, badInput(err)
	}
	m, fine, err := s.marks(ctx)
	if err != nil {
		return nil, err
	}
	var rows []engine.SumRow
	for _, p := range Plan(spec, m) {
		ps := spec
		ps.Start, ps.Stop = p.Start, p.Stop
		c := s.Client
		if p.Suffix == "" {
			c = fine
		}
		if rows, err = s.sums(ctx, c, ps, p.Suffix, spec.Start, rows); err != nil {
			return nil, err
		}
	}
	return rows, nil
}

// sums appends the rows of spec read from the series with suffix; windows
// are stamped no earlier than start.
func (s *Source) sums(ctx context.Context, c *iql.Client, spec engine.SumSpec, suffix string, start time.Time, rows []engine.SumRow) ([]engine.SumRow, error) {
	meas, fields := SumMeasurements(spec)
	err := run(ctx, c, "summing fields", SumQueryFrom(spec, suffix), iql.Options{}, func(stmt int, sr *iql.Series) error {
		if stmt < 0 || stmt >= len(meas) {
			return backend.DownstreamError(fmt.Errorf("InfluxDB: answer to statement %d of %d", stmt, len(meas)))
		}
		m := meas[stmt]
		groups := groupValues(sr, spec.GroupBy)
		cols := make([]int, len(fields[m]))
		for j, f := range fields[m] {
			cols[j] = sr.Column(f)
		}
		for _, row := range sr.Values {
			t := start
			if spec.Every > 0 {
				wt, err := rowTime(sr, row)
				if err != nil {
					return err
				}
				// A window cut by the range start is stamped with the
				// range start, as Flux's _start.
				if wt.After(t) {
					t = wt
				}
			}
			for j, f := range fields[m] {
				c := cols[j]
				if c < 0 || c >= len(row) {
					continue
				}
				v, ok, err := iql.Float(row[c])
				if err != nil {
					return backend.DownstreamError(fmt.Errorf("InfluxDB: field %s.%s %w, the schema says float", m+suffix, f, err))
				}
				if !ok {
					continue // no point of this field in the window
				}
				rows = append(rows, engine.SumRow{Time: t, Term: engine.Term{Measurement: m, Field: f}, Groups: slices.Clone(groups), Value: v})
			}
		}
		return nil
	})
	return rows, err
}

// Sketches implements engine.Source; the answer is streamed in chunks.
func (s *Source) Sketches(ctx context.Context, spec engine.SketchSpec, fn func(engine.SketchRow) error) error {
	if len(spec.Kinds) == 0 {
		return nil
	}
	if err := checkAll(spec.Filters, spec.GroupBy, spec.Kinds, []string{spec.Window}); err != nil {
		return badInput(err)
	}
	m, _, err := s.marks(ctx)
	if err != nil {
		return err
	}
	for _, piece := range engine.PlanSketches(spec, m) {
		if err := s.sketches(ctx, piece, fn); err != nil {
			return err
		}
	}
	return nil
}

// sketches streams the sketches of one piece of a read (engine.PlanSketches).
func (s *Source) sketches(ctx context.Context, spec engine.SketchSpec, fn func(engine.SketchRow) error) error {
	return s.run(ctx, "reading sketches", SketchQuery(spec), iql.Options{ChunkSize: SketchChunkSize}, func(_ int, sr *iql.Series) error {
		kind := sr.Tags[schema.TagKind]
		groups := groupValues(sr, spec.GroupBy)
		c := sr.Column(schema.FieldSketch)
		for _, row := range sr.Values {
			t, err := rowTime(sr, row)
			if err != nil {
				return err
			}
			var str string
			if c >= 0 && c < len(row) {
				str, _ = row[c].(string)
			}
			if err := fn(engine.SketchRow{Time: t, Kind: kind, Groups: slices.Clone(groups), Sketch: str}); err != nil {
				return err
			}
		}
		return nil
	})
}

// DimensionValues implements engine.Source: a dimension's values, sorted.
func (s *Source) DimensionValues(ctx context.Context, spec engine.DimensionSpec) ([]string, error) {
	if !engine.IsDimension(spec.Dimension) {
		return nil, backend.PluginErrorf("unknown dimension %q (one of %v)", spec.Dimension, engine.Dimensions())
	}
	if err := checkAll(spec.Filters); err != nil {
		return nil, badInput(err)
	}
	seen := map[string]bool{}
	var out []string
	collect := func(_ int, sr *iql.Series) error {
		if v := sr.Tags[spec.Dimension]; v != "" && !seen[v] && len(sr.Values) > 0 {
			seen[v] = true
			out = append(out, v)
		}
		return nil
	}
	what := "listing " + spec.Dimension + " values"
	if SketchDimension(spec.Dimension) {
		if err := s.run(ctx, what, DimensionQuery(spec, false), iql.Options{}, collect); err != nil || len(out) > 0 {
			slices.Sort(out)
			return out, err
		}
		// No sketches (e.g. stores sending only pre-aggregated metrics): ask
		// the summed measurements.
	}
	// The minute series, and the hourly ones where the minutes expired.
	_, fine, err := s.marks(ctx)
	if err == nil {
		err = run(ctx, fine, what, DimensionQueryFrom(spec, true, ""), iql.Options{}, collect)
	}
	if err == nil {
		err = s.run(ctx, what, DimensionQueryFrom(spec, true, schema.SuffixHour), iql.Options{}, collect)
	}
	slices.Sort(out)
	return out, err
}

// Targets implements engine.CalendarSource.
func (s *Source) Targets(ctx context.Context, spec engine.TargetSpec) ([]engine.TargetRow, error) {
	if err := checkAll(nil, []string{spec.KPI, spec.Period}, spec.Stores); err != nil {
		return nil, badInput(err)
	}
	var out []engine.TargetRow
	err := s.run(ctx, "reading targets", TargetQuery(spec), iql.Options{}, func(_ int, sr *iql.Series) error {
		vc, dc := sr.Column(schema.FieldValue), sr.Column(schema.FieldDeleted)
		for _, row := range sr.Values {
			if dc >= 0 && dc < len(row) {
				if deleted, _ := row[dc].(bool); deleted {
					continue
				}
			}
			if vc < 0 || vc >= len(row) {
				continue
			}
			val, ok, err := iql.Float(row[vc])
			if err != nil || !ok {
				continue // as the Flux read: a value that is no number is no target
			}
			t, err := rowTime(sr, row)
			if err != nil {
				return err
			}
			out = append(out, engine.TargetRow{Time: t, Store: sr.Tags[schema.TagStore], Value: val})
		}
		return nil
	})
	return out, err
}

// Campaigns implements engine.CalendarSource: the live campaigns ordered by
// start, id.
func (s *Source) Campaigns(ctx context.Context) ([]calendar.Campaign, error) {
	var out []calendar.Campaign
	err := s.run(ctx, "reading campaigns", CampaignQuery(), iql.Options{}, func(_ int, sr *iql.Series) error {
		defc, dc := sr.Column(schema.FieldDefinition), sr.Column(schema.FieldDeleted)
		for _, row := range sr.Values {
			if dc >= 0 && dc < len(row) {
				if deleted, _ := row[dc].(bool); deleted {
					continue
				}
			}
			var def string
			if defc >= 0 && defc < len(row) {
				def, _ = row[defc].(string)
			}
			var c calendar.Campaign
			if err := json.Unmarshal([]byte(def), &c); err != nil {
				return backend.DownstreamError(fmt.Errorf("InfluxDB: the stored definition of campaign %v is not valid JSON: %w", sr.Tags[schema.TagCampaign], err))
			}
			out = append(out, c)
		}
		return nil
	})
	engine.SortCampaigns(out)
	return out, err
}

// Latest implements engine.LatestSource.
func (s *Source) Latest(ctx context.Context, spec engine.LatestSpec) ([]engine.LatestRow, error) {
	if err := checkAll(nil, spec.Stores); err != nil {
		return nil, badInput(err)
	}
	_, fine, err := s.marks(ctx)
	if err != nil {
		return nil, err
	}
	// The newest minute point per store; where the minutes expired, the
	// newest consolidated hour.
	latest := map[string]time.Time{}
	var stores []string
	collect := func(_ int, sr *iql.Series) error {
		for _, row := range sr.Values {
			t, err := rowTime(sr, row)
			if err != nil {
				return err
			}
			st := sr.Tags[schema.TagStore]
			prev, ok := latest[st]
			if !ok {
				stores = append(stores, st)
			}
			if !ok || t.After(prev) {
				latest[st] = t
			}
		}
		return nil
	}
	what := "finding the newest data per store"
	if err := run(ctx, fine, what, LatestQuery(spec), iql.Options{}, collect); err != nil {
		return nil, err
	}
	if err := s.run(ctx, what, LatestQueryFrom(spec, schema.SuffixHour), iql.Options{}, collect); err != nil {
		return nil, err
	}
	out := make([]engine.LatestRow, len(stores))
	for i, st := range stores {
		out[i] = engine.LatestRow{Store: st, Time: latest[st]}
	}
	return out, nil
}
