// Package consolidate keeps one ingester's consolidated series: per summed
// measurement m, m_1h holds one point per series and UTC hour (at the hour's
// start) and m_1d one per series and local day of the store time zone (at
// the day's first instant), each the sum of that ingester's minute points
// (docs/design.md, "Multi-resolution roll-ups"; docs/schema.md).
//
// Two watermarks, kept in InfluxDB (schema.MeasRollup, one point per
// ingester), say how far the consolidated series reach: every hour before
// HoursUntil is in m_1h, every local day before DaysUntil is in m_1d.
// Readers read the coarse series below the smallest watermark of all
// ingesters and the minute series above it.
//
// Every consolidated point is written together with its store total (the
// same window summed over every tag but store and ingester, schema.
// SuffixHourStore and SuffixDayStore), computed from the same read. A third
// mark, store_from, says from which hour the store totals are complete: 0
// (from the first point) for a new ingester; for one that consolidated
// before store totals existed, its hours watermark when it first wrote them.
//
// The consolidator runs in the flusher's goroutine (ingest/pipeline), so
// nothing is written to the minute series while it reads them:
//   - Tick consolidates closed hours (hour end + grace) from the minute
//     series, then the local days they complete from the hourly series, and
//     only then advances the watermarks. A crash in between redoes the same
//     writes: a consolidated point is the sum of what is stored, written at
//     a fixed time, so rewriting it overwrites it with the same value.
//   - Written tells it the hours a flushed segment wrote to; Settle, called
//     before those segments leave the spool, consolidates again every such
//     hour below the watermark (a late event) and the local day holding it.
//     A crash before Settle keeps the segments in the spool: their replay
//     reports the same hours again, so the spool itself is the durable list
//     of hours to redo.
package consolidate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"slices"
	"strings"
	"time"

	"github.com/influxdata/line-protocol/v2/lineprotocol"

	"github.com/storepulse/storepulse/internal/clock"
	"github.com/storepulse/storepulse/internal/influxql"
	"github.com/storepulse/storepulse/internal/lineproto"
	"github.com/storepulse/storepulse/internal/localday"
	"github.com/storepulse/storepulse/internal/schema"
	"github.com/storepulse/storepulse/internal/storezone"
)

// Defaults of Options.
const (
	DefaultGrace    = 10 * time.Minute
	DefaultMaxHours = 24
	// retentionMargin keeps re-consolidation away from minute data that the
	// fine bucket's retention may be dropping.
	retentionMargin = time.Hour
	// maxSpan bounds the time range one read covers when redoing hours.
	maxSpan = 7 * 24 * time.Hour
	// maxStoreFilter bounds the stores a late-data read names; with more,
	// it reads every store.
	maxStoreFilter = 100
)

// Querier runs InfluxQL (internal/influxql.Client).
type Querier = influxql.Querier

// Writer writes line protocol to the main bucket.
type Writer interface {
	Write(ctx context.Context, lines []string) error
}

// Options configure a Consolidator.
type Options struct {
	Ingester string
	// Location is the store time zone (local days).
	Location *time.Location
	// Fine reads the minute series (the fine bucket); Main reads the hourly
	// series and the watermarks (the main bucket).
	Fine, Main Querier
	// Write writes consolidated points and watermarks to the main bucket.
	Write Writer
	// FineBucket is recorded with the watermarks, so readers know where the
	// minute series are.
	FineBucket string
	// Grace is how long after an hour's end it is consolidated (DefaultGrace).
	Grace time.Duration
	// FineRetention is the fine bucket's retention (0: minute series never
	// expire). Hours older than it (less a margin) are never consolidated
	// again from minute data that may be partly gone.
	FineRetention time.Duration
	// MaxHours bounds the hours one Tick step consolidates (DefaultMaxHours).
	MaxHours int
	// StateFile keeps the late hours that Defer put off (in the spool's
	// directory); "" disables Defer.
	StateFile string
	// MemoryPoints bounds the hourly sums kept in memory (memory.go); 0
	// keeps none. Set it only when every minute point of this ingester is
	// given to Add once InfluxDB took it (the pipeline does).
	MemoryPoints int
	Now          clock.Func
	Logger       *slog.Logger
	// Fault, when set, is called after each write of a consolidation with
	// the step's name ("hours", "days", "watermark", "late-hours",
	// "late-days"); an error it returns aborts there, as a crash would
	// (tests).
	Fault func(step string) error
}

// Consolidator keeps one ingester's consolidated series. Not safe for
// concurrent use: the pipeline's flusher is its only caller.
type Consolidator struct {
	o     Options
	meas  []schema.Measurement
	log   *slog.Logger
	ready bool
	hours int64 // watermark: hours before it are consolidated
	days  int64 // watermark: local days before it are consolidated
	// storeFrom: the store totals hold every hour and local day starting at
	// or after it (below the watermarks).
	storeFrom int64
	// sketchFrom: the store-level sketches hold every window starting at or
	// after it (sketchKnown: decided, by Load or load).
	sketchFrom  int64
	sketchKnown bool
	late        lateSet // late hours and their stores, for Settle
	// span: per resolution suffix, the most hours a read covers after a
	// timeout (0: no limit); answered counts reads in a row that answered.
	span, answered map[string]int64
	// changed: late holds hours the state file does not; saved: the state
	// file exists.
	changed, saved bool
	mem            memory // hourly sums of the minute points this process wrote
	// measIx and fieldIx index meas by name and each one's fields by name.
	measIx  map[string]int
	fieldIx []map[string]int
}

// New checks opts and returns a Consolidator; it reads nothing yet.
func New(opts Options) (*Consolidator, error) {
	switch {
	case opts.Ingester == "":
		return nil, errors.New("consolidate: ingester is required")
	case opts.Location == nil:
		return nil, errors.New("consolidate: store time zone is required")
	case opts.Fine == nil || opts.Main == nil || opts.Write == nil:
		return nil, errors.New("consolidate: fine and main readers and a writer are required")
	case opts.Grace < 0 || opts.FineRetention < 0 || opts.MaxHours < 0 || opts.MemoryPoints < 0:
		return nil, errors.New("consolidate: grace, fine retention, max hours and memory points must not be negative")
	}
	if err := storezone.Check(opts.Location); err != nil {
		return nil, fmt.Errorf("consolidate: %w", err)
	}
	if opts.Grace == 0 {
		opts.Grace = DefaultGrace
	}
	if opts.MaxHours == 0 {
		opts.MaxHours = DefaultMaxHours
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	c := &Consolidator{o: opts, meas: schema.Summed(), log: opts.Logger, late: lateSet{},
		span: map[string]int64{}, answered: map[string]int64{}, mem: newMemory(opts.MemoryPoints)}
	c.measIx = map[string]int{}
	for i, m := range c.meas {
		if len(m.Fields) > memWidth {
			return nil, fmt.Errorf("consolidate: %s has more than %d fields", m.Name, memWidth)
		}
		c.measIx[m.Name] = i
		ix := map[string]int{}
		for j, f := range m.Fields {
			ix[f] = j
		}
		c.fieldIx = append(c.fieldIx, ix)
	}
	if err := c.loadState(); err != nil {
		return nil, err
	}
	return c, nil
}

// Watermarks are how far the consolidated series reach (unix ns); ok is
// false until they are loaded.
func (c *Consolidator) Watermarks() (hours, days int64, ok bool) { return c.hours, c.days, c.ready }

func (c *Consolidator) fault(step string) error {
	if c.o.Fault == nil {
		return nil
	}
	return c.o.Fault(step)
}

// Load decides, before the flusher writes anything, where the store-level
// sketches start: the recorded start, else 0 for a new ingester (no
// watermarks, no minute points), else the first local day after the
// latest sketch written before this process (docs/schema.md, "Store-level
// sketches"). It is recorded with the watermarks at the first Tick; a crash
// before that decides again, later, which is safe. It also decides which
// hours are consolidated from memory (memory.go). Once decided, Load does
// nothing.
func (c *Consolidator) Load(ctx context.Context) error {
	if (c.ready || c.sketchKnown) && c.mem.decided {
		return nil
	}
	m, st, err := c.readMark(ctx)
	if err != nil {
		return err
	}
	hasMinutes := true
	if !st.found {
		if _, hasMinutes, err = c.oldest(ctx); err != nil {
			return err
		}
	}
	if !c.ready && !c.sketchKnown {
		from := m.SketchStoreFrom
		if !st.sketch {
			if from, err = c.decideSketchStart(ctx, st, &hasMinutes); err != nil {
				return err
			}
		}
		c.sketchFrom, c.sketchKnown = from, true
	}
	c.decideMemory(ctx, !st.found && !hasMinutes)
	return nil
}

// markState says which parts of the mark were stored.
type markState struct{ found, store, sketch bool }

// readMark reads this ingester's stored mark.
func (c *Consolidator) readMark(ctx context.Context) (Mark, markState, error) {
	at := storezone.RecordTime()
	q := fmt.Sprintf("SELECT %s, %s, %s, %s FROM %s WHERE %s = %s AND time >= %s AND time <= %s",
		influxql.Ident(schema.FieldHoursUntil), influxql.Ident(schema.FieldDaysUntil), influxql.Ident(schema.FieldStoreFrom),
		influxql.Ident(schema.FieldSketchStoreFrom), influxql.Ident(schema.MeasRollup),
		influxql.Ident(schema.TagIngester), influxql.String(c.o.Ingester), influxql.Time(at), influxql.Time(at))
	var m Mark
	var st markState
	err := c.o.Main.Query(ctx, q, influxql.Options{}, func(_ int, s *influxql.Series) error {
		hc, dc := s.Column(schema.FieldHoursUntil), s.Column(schema.FieldDaysUntil)
		for _, row := range s.Values {
			if hc >= 0 && dc >= 0 {
				h, hok, herr := intOf(row[hc])
				d, dok, derr := intOf(row[dc])
				if herr != nil || derr != nil {
					return fmt.Errorf("stored watermark: %w", errors.Join(herr, derr))
				}
				if hok && dok {
					m.Hours, m.Days, st.found = h, d, true
				}
			}
			for _, f := range []struct {
				name  string
				to    *int64
				found *bool
			}{{schema.FieldStoreFrom, &m.StoreFrom, &st.store}, {schema.FieldSketchStoreFrom, &m.SketchStoreFrom, &st.sketch}} {
				if col := s.Column(f.name); col >= 0 {
					v, ok, err := intOf(row[col])
					if err != nil {
						return fmt.Errorf("stored watermark: %s: %w", f.name, err)
					}
					*f.to, *f.found = v, ok
				}
			}
		}
		return nil
	})
	if err != nil {
		return Mark{}, markState{}, fmt.Errorf("consolidate: InfluxDB: reading the watermarks failed: %w", err)
	}
	return m, st, nil
}

// decideSketchStart is where the store-level sketches start for an
// ingester whose mark st does not record it (see Load). Without watermarks,
// hasMinutes says whether it has minute points (nil: look them up).
func (c *Consolidator) decideSketchStart(ctx context.Context, st markState, hasMinutes *bool) (int64, error) {
	if !st.found {
		if hasMinutes == nil {
			_, ok, err := c.oldest(ctx)
			if err != nil {
				return 0, err
			}
			hasMinutes = &ok
		}
		if !*hasMinutes {
			return 0, nil // a new ingester
		}
	}
	return c.sketchStart(ctx)
}

// load reads the watermarks, or starts them at the local day of this
// ingester's oldest minute point (today when it has none) and records them,
// with where the store totals and the store-level sketches start.
func (c *Consolidator) load(ctx context.Context) error {
	if c.ready {
		return nil
	}
	m, st, err := c.readMark(ctx)
	if err != nil {
		return err
	}
	var oldest time.Time
	hasMinutes := false
	if !st.found {
		if oldest, hasMinutes, err = c.oldest(ctx); err != nil {
			return err
		}
	}
	switch {
	case st.sketch:
	case c.sketchKnown:
		m.SketchStoreFrom = c.sketchFrom
	default:
		if m.SketchStoreFrom, err = c.decideSketchStart(ctx, st, &hasMinutes); err != nil {
			return err
		}
	}
	if !st.found {
		if !hasMinutes {
			oldest = c.o.Now()
		}
		// Store totals from the first point on: store_from 0.
		start := localday.Floor(oldest, c.o.Location).UnixNano()
		m.Hours, m.Days, m.StoreFrom = start, start, 0
		c.log.Info("consolidation starts", "from", time.Unix(0, start).UTC().Format(time.RFC3339))
	} else if !st.store {
		// Consolidated before store totals existed: they are complete from
		// the next hour it consolidates on.
		m.StoreFrom = m.Hours
		c.log.Info("store totals start", "from", time.Unix(0, m.StoreFrom).UTC().Format(time.RFC3339))
	}
	if !st.found || !st.store || !st.sketch {
		if !st.sketch {
			c.log.Info("store-level sketches start", "from", time.Unix(0, m.SketchStoreFrom).UTC().Format(time.RFC3339))
		}
		if err := c.writeMark(ctx, m); err != nil {
			return err
		}
	}
	c.decideMemory(ctx, !st.found && !hasMinutes)
	c.hours, c.days, c.storeFrom, c.sketchFrom, c.sketchKnown, c.ready = m.Hours, m.Days, m.StoreFrom, m.SketchStoreFrom, true, true
	return nil
}

// sketchLookback is how far back sketchStart looks for sketches written
// before the store-level ones existed.
const sketchLookback = 8 * 24 * time.Hour

// sketchStart is the first local day after this ingester's latest stored
// sketch: every stored sketch predates the store-level ones (see Load).
// Only the last sketchLookback is searched (a query over all of history can
// exceed InfluxDB 3 Core's file limit); with none there, every stored
// sketch is older, and the first local day after the lookback's start is
// safe.
func (c *Consolidator) sketchStart(ctx context.Context) (int64, error) {
	since := c.o.Now().Add(-sketchLookback)
	q := fmt.Sprintf("SELECT last(%s) FROM %s WHERE %s = %s AND time >= %s", influxql.Ident(schema.FieldEstimate),
		influxql.Ident(schema.MeasDistinct), influxql.Ident(schema.TagIngester), influxql.String(c.o.Ingester), influxql.Time(since))
	latest, found, err := influxql.Latest(ctx, c.o.Main, q)
	if !found || latest.Before(since) {
		latest = since
	}
	if err != nil {
		return 0, fmt.Errorf("consolidate: InfluxDB: finding the latest sketch failed: %w", err)
	}
	return localday.Next(latest, c.o.Location).UnixNano(), nil
}

// intOf reads an integer column value exactly (nanoseconds exceed a
// float64's 53 bits); ok is false for null.
func intOf(v any) (int64, bool, error) {
	switch x := v.(type) {
	case nil:
		return 0, false, nil
	case json.Number:
		n, err := x.Int64()
		if err != nil {
			return 0, false, fmt.Errorf("%q is not an integer: %w", x, err)
		}
		return n, true, nil
	}
	return 0, false, fmt.Errorf("holds %T, not an integer", v)
}

// oldest finds this ingester's oldest minute point.
func (c *Consolidator) oldest(ctx context.Context) (time.Time, bool, error) {
	stmts := make([]string, len(c.meas))
	for i, m := range c.meas {
		stmts[i] = fmt.Sprintf("SELECT %s FROM %s WHERE %s = %s LIMIT 1", fieldList(m, false), influxql.Ident(m.Name),
			influxql.Ident(schema.TagIngester), influxql.String(c.o.Ingester))
	}
	var oldest time.Time
	found := false
	err := c.o.Fine.Query(ctx, strings.Join(stmts, "; "), influxql.Options{}, func(_ int, s *influxql.Series) error {
		tc := s.Column("time")
		for _, row := range s.Values {
			t, err := influxql.TimeOf(row[tc])
			if err != nil {
				return err
			}
			if !found || t.Before(oldest) {
				oldest, found = t, true
			}
		}
		return nil
	})
	if err != nil {
		return time.Time{}, false, fmt.Errorf("consolidate: InfluxDB: finding the oldest minute point failed: %w", err)
	}
	return oldest, found, nil
}

// Written records the hours (unix ns of their starts) a flushed segment
// wrote minute points to, each with the stores whose series it wrote there
// ("" for series without a store); Settle consolidates again those hours
// already consolidated, for those stores only. Hours at or after the hours
// watermark are not recorded: the Tick that consolidates them reads minute
// points already holding the segment's.
func (c *Consolidator) Written(hours map[int64][]string) {
	for h, stores := range hours {
		if c.ready && h >= c.hours {
			continue
		}
		for _, st := range stores {
			if c.late.add(st, h) {
				c.changed = true
			}
		}
	}
}

// Settle consolidates again every hour reported by Written that lies below
// the hours watermark, then every local day holding one that lies below the
// days watermark, each for the stores reported with those hours only:
// every summed series has a store tag, so another store's consolidated
// points are not changed by a late event and are left as they are (a
// history imported store by store would otherwise consolidate every store's
// history again for each store). Call it before the segments that reported
// them leave the spool; on error they must stay.
func (c *Consolidator) Settle(ctx context.Context) error {
	if len(c.late) == 0 {
		return nil
	}
	if err := c.load(ctx); err != nil {
		return err
	}
	var late []int64
	oldestSafe := int64(0)
	if c.o.FineRetention > 0 {
		oldestSafe = c.o.Now().Add(-c.o.FineRetention + retentionMargin).UnixNano()
	}
	var tooOld []int64
	stores := map[string]bool{}
	lateSeen, oldSeen := map[int64]bool{}, map[int64]bool{}
	for st, spans := range c.late {
		for _, sp := range spans {
			for h := sp.From; h < min(sp.To, c.hours); h += int64(time.Hour) {
				switch {
				case c.o.FineRetention > 0 && h < oldestSafe:
					if !oldSeen[h] {
						oldSeen[h] = true
						tooOld = append(tooOld, h)
					}
				default:
					stores[st] = true
					if !lateSeen[h] {
						lateSeen[h] = true
						late = append(late, h)
					}
				}
			}
		}
	}
	only := slices.Sorted(maps.Keys(stores))
	if len(only) > maxStoreFilter {
		only = nil // every store: exact too, and a bounded query
	}
	if len(tooOld) > 0 {
		slices.Sort(tooOld)
		c.log.Error("late minute points in hours whose minute data may have expired: their hourly and daily series are left as they are",
			"hours", len(tooOld), "oldest", time.Unix(0, tooOld[0]).UTC().Format(time.RFC3339), "fine_retention", c.o.FineRetention)
	}
	slices.Sort(late)
	if len(late) > 0 {
		if err := c.redoHours(ctx, late, only); err != nil {
			return err
		}
		if err := c.fault("late-hours"); err != nil {
			return err
		}
		seen := map[int64]bool{}
		for _, h := range late {
			if d := localday.Floor(time.Unix(0, h), c.o.Location).UnixNano(); d < c.days {
				seen[d] = true
			}
		}
		days := slices.Sorted(maps.Keys(seen))
		if err := c.redoDays(ctx, days, only); err != nil {
			return err
		}
		if err := c.fault("late-days"); err != nil {
			return err
		}
		c.log.Info("late data: consolidated again", "hours", len(late), "days", len(days), "stores", len(only))
	}
	return c.settled()
}

// redoDays consolidates the given local days (sorted, below the days
// watermark) for the given stores, one read per run of days spanning at
// most maxSpan: the days between two of them are rewritten with the same
// sums (their hours are consolidated), so a history that touches every
// day costs a read a week, not a read a day.
func (c *Consolidator) redoDays(ctx context.Context, days []int64, stores []string) error {
	for len(days) > 0 {
		n := 1
		for n < len(days) && days[n]-days[0] < int64(maxSpan) {
			n++
		}
		if err := c.consolidateDays(ctx, days[0], localday.Next(time.Unix(0, days[n-1]), c.o.Location).UnixNano(), stores); err != nil {
			return err
		}
		days = days[n:]
	}
	return nil
}

// redoHours consolidates the given hours (sorted) for the given stores,
// reading spans of at most maxSpan.
func (c *Consolidator) redoHours(ctx context.Context, hours []int64, stores []string) error {
	for len(hours) > 0 {
		n := 1
		for n < len(hours) && hours[n]-hours[0] < int64(maxSpan) {
			n++
		}
		want := map[int64]bool{}
		for _, h := range hours[:n] {
			want[h] = true
		}
		pts, err := c.sums(ctx, "", hours[0], hours[n-1]+int64(time.Hour), stores)
		if err != nil {
			return err
		}
		pts = slices.DeleteFunc(pts, func(p point) bool { return !want[p.t] })
		if err := c.write(ctx, pts, schema.SuffixHour); err != nil {
			return err
		}
		hours = hours[n:]
	}
	return nil
}

// Tick consolidates the closed hours after the watermark (at most MaxHours
// per step, for at most budget), then the local days they complete, then
// records the new watermarks. It reports whether closed hours remain.
func (c *Consolidator) Tick(ctx context.Context, budget time.Duration) (more bool, err error) {
	if err := c.load(ctx); err != nil {
		return false, err
	}
	began := time.Now()
	for {
		closed := c.o.Now().Add(-c.o.Grace).Truncate(time.Hour).UnixNano()
		if c.hours >= closed {
			return false, nil
		}
		if time.Since(began) > budget {
			return true, nil
		}
		to := min(closed, c.hours+int64(c.o.MaxHours)*int64(time.Hour))
		pts, err := c.sums(ctx, "", c.hours, to, nil)
		if err != nil {
			return false, err
		}
		if err := c.write(ctx, pts, schema.SuffixHour); err != nil {
			return false, err
		}
		if err := c.fault("hours"); err != nil {
			return false, err
		}
		days := c.days
		if d := localday.Floor(time.Unix(0, to), c.o.Location).UnixNano(); d > days {
			if err := c.consolidateDays(ctx, days, d, nil); err != nil {
				return false, err
			}
			days = d
			if err := c.fault("days"); err != nil {
				return false, err
			}
		}
		if err := c.writeMark(ctx, Mark{Hours: to, Days: days, StoreFrom: c.storeFrom, SketchStoreFrom: c.sketchFrom}); err != nil {
			return false, err
		}
		c.hours, c.days = to, days
		if err := c.fault("watermark"); err != nil {
			return false, err
		}
	}
}

// consolidateDays writes the daily points of the local days in [from, to)
// (day boundaries) from the hourly series, of the given stores (nil: all).
func (c *Consolidator) consolidateDays(ctx context.Context, from, to int64, stores []string) error {
	pts, err := c.sums(ctx, schema.SuffixHour, from, to, stores)
	if err != nil {
		return err
	}
	// Sum the hours of each local day.
	out := sumBy(pts, func(p *point) point {
		return point{meas: p.meas, t: localday.Floor(time.Unix(0, p.t), c.o.Location).UnixNano(), tags: p.tags}
	})
	return c.write(ctx, out, schema.SuffixDay)
}

// point is one consolidated point: summed measurement (base name), window
// start, tags (ingester included) and field sums.
type point struct {
	meas   string
	t      int64
	tags   [][2]string // sorted by key, non-empty values only
	fields map[string]float64
}

func (p *point) tagKey() string {
	var b strings.Builder
	for _, t := range p.tags {
		b.WriteString(t[0] + "=" + t[1] + ",")
	}
	return b.String()
}

// fieldList is the select list of m's fields, summed when sum.
func fieldList(m schema.Measurement, sum bool) string {
	sel := make([]string, len(m.Fields))
	for i, f := range m.Fields {
		if sum {
			sel[i] = "sum(" + influxql.Ident(f) + ") AS " + influxql.Ident(f)
		} else {
			sel[i] = influxql.Ident(f)
		}
	}
	return strings.Join(sel, ", ")
}

// read sums this ingester's points of every summed measurement (with suffix
// "" the minute series, else the consolidated ones) per UTC hour and series
// over [from, to), of the given stores (nil: all). A read that times out is
// split in two at an hour and each half read again, down to single hours:
// a backfill's late hours of a hundred stores can be more than InfluxDB
// answers within influx.timeout, and retrying the same read would fail for
// ever. Each hour lies in one half, so the sums are the same.
//
// The span that answered is remembered per resolution (c.span): later reads
// are cut into pieces of at most that many hours from the start, instead of
// timing out first every time, and the span doubles again after
// spanRegrow reads in a row answered.
func (c *Consolidator) read(ctx context.Context, q Querier, suffix string, from, to int64, stores []string) ([]point, error) {
	step := c.span[suffix] * int64(time.Hour)
	if step <= 0 || to-from <= step {
		return c.readSplit(ctx, q, suffix, from, to, stores)
	}
	var out []point
	for f := from; f < to; f += step {
		pts, err := c.readSplit(ctx, q, suffix, f, min(f+step, to), stores)
		if err != nil {
			return nil, err
		}
		out = append(out, pts...)
	}
	return out, nil
}

// spanRegrow is how many reads in a row must answer before a span limit
// set by a timeout doubles again.
const spanRegrow = 64

// readSplit is one read of read, split in halves on a timeout.
func (c *Consolidator) readSplit(ctx context.Context, q Querier, suffix string, from, to int64, stores []string) ([]point, error) {
	pts, err := c.readOnce(ctx, q, suffix, from, to, stores)
	hours := (to - from + int64(time.Hour) - 1) / int64(time.Hour)
	if err == nil {
		if lim := c.span[suffix]; lim > 0 && hours >= lim {
			if c.answered[suffix]++; c.answered[suffix] >= spanRegrow {
				c.span[suffix], c.answered[suffix] = 2*lim, 0
			}
		}
		return pts, nil
	}
	if hours < 2 || ctx.Err() != nil || !timedOut(err) {
		return nil, err
	}
	c.span[suffix], c.answered[suffix] = max(hours/2, 1), 0
	mid := from + hours/2*int64(time.Hour)
	c.log.Warn("consolidation read timed out: reading it in two halves", "from", time.Unix(0, from).UTC().Format(time.RFC3339),
		"to", time.Unix(0, to).UTC().Format(time.RFC3339), "stores", len(stores))
	first, err := c.readSplit(ctx, q, suffix, from, mid, stores)
	if err != nil {
		return nil, err
	}
	second, err := c.readSplit(ctx, q, suffix, mid, to, stores)
	if err != nil {
		return nil, err
	}
	return append(first, second...), nil
}

// timedOut says whether err is a timeout (the client's or a deadline).
func timedOut(err error) bool {
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())
}

// readOnce is one read of read.
func (c *Consolidator) readOnce(ctx context.Context, q Querier, suffix string, from, to int64, stores []string) ([]point, error) {
	storeCond := ""
	if len(stores) > 0 {
		ors := make([]string, len(stores))
		for i, st := range stores {
			ors[i] = influxql.Ident(schema.TagStore) + " = " + influxql.String(st)
		}
		storeCond = " AND (" + strings.Join(ors, " OR ") + ")"
	}
	stmts := make([]string, len(c.meas))
	for i, m := range c.meas {
		tags := append([]string{schema.TagIngester}, m.Tags...)
		quoted := make([]string, len(tags))
		for j, t := range tags {
			quoted[j] = influxql.Ident(t)
		}
		stmts[i] = fmt.Sprintf("SELECT %s FROM %s WHERE %s = %s%s AND time >= %s AND time < %s GROUP BY time(1h), %s fill(none)",
			fieldList(m, true), influxql.Ident(m.Name+suffix), influxql.Ident(schema.TagIngester), influxql.String(c.o.Ingester),
			storeCond, influxql.Time(time.Unix(0, from)), influxql.Time(time.Unix(0, to)), strings.Join(quoted, ", "))
	}
	var out []point
	err := q.Query(ctx, strings.Join(stmts, "; "), influxql.Options{}, func(stmt int, s *influxql.Series) error {
		if stmt < 0 || stmt >= len(c.meas) {
			return fmt.Errorf("answer to statement %d of %d", stmt, len(c.meas))
		}
		m := c.meas[stmt]
		var tags [][2]string
		for k, v := range s.Tags {
			if v != "" {
				tags = append(tags, [2]string{k, v})
			}
		}
		if s.Tags[schema.TagIngester] != c.o.Ingester {
			return fmt.Errorf("%s: a series of ingester %q in the answer for %q", m.Name, s.Tags[schema.TagIngester], c.o.Ingester)
		}
		slices.SortFunc(tags, func(a, b [2]string) int { return strings.Compare(a[0], b[0]) })
		tc := s.Column("time")
		for _, row := range s.Values {
			t, err := influxql.TimeOf(row[tc])
			if err != nil {
				return err
			}
			p := point{meas: m.Name, t: t.UnixNano(), tags: tags, fields: map[string]float64{}}
			for _, f := range m.Fields {
				fc := s.Column(f)
				if fc < 0 {
					continue
				}
				v, ok, err := influxql.Float(row[fc])
				if err != nil {
					return fmt.Errorf("%s.%s: %w", m.Name, f, err)
				}
				if ok {
					p.fields[f] = v
				}
			}
			if len(p.fields) > 0 {
				out = append(out, p)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("consolidate: InfluxDB: reading sums from %s to %s failed: %w",
			time.Unix(0, from).UTC().Format(time.RFC3339), time.Unix(0, to).UTC().Format(time.RFC3339), err)
	}
	return out, nil
}

// storeTotals sums pts per measurement, window, store and ingester: the
// store totals of a consolidation. Every read that produces pts holds every
// series of each store it returns for each window it returns (its filters
// are the ingester, stores and time only), so each total is complete.
func storeTotals(pts []point) []point {
	return sumBy(pts, func(p *point) point {
		var tags [][2]string
		for _, t := range p.tags {
			if t[0] == schema.TagStore || t[0] == schema.TagIngester {
				tags = append(tags, t)
			}
		}
		return point{meas: p.meas, t: p.t, tags: tags}
	})
}

// sumBy sums the fields of pts into the points key gives them (measurement,
// window and tags; its fields are ignored), in the order each first appears.
func sumBy(pts []point, key func(*point) point) []point {
	byKey := map[string]*point{}
	var order []string
	for i := range pts {
		p := &pts[i]
		q := key(p)
		k := fmt.Sprintf("%s\x00%d\x00%s", q.meas, q.t, q.tagKey())
		if byKey[k] == nil {
			q.fields = map[string]float64{}
			byKey[k] = &q
			order = append(order, k)
		}
		for f, v := range p.fields {
			byKey[k].fields[f] += v
		}
	}
	out := make([]point, 0, len(order))
	for _, k := range order {
		out = append(out, *byKey[k])
	}
	return out
}

// write writes pts to their measurements with suffix, at their window start,
// and their store totals to the store-totals measurements, in one batch.
func (c *Consolidator) write(ctx context.Context, pts []point, suffix string) error {
	if len(pts) == 0 {
		return nil
	}
	totals := storeTotals(pts)
	var enc lineproto.Encoder
	lines := make([]string, 0, len(pts)+len(totals))
	for _, set := range []struct {
		pts    []point
		suffix string
	}{{pts, suffix}, {totals, schema.StoreTotal(suffix)}} {
		for i := range set.pts {
			line, err := encode(&enc, &set.pts[i], set.suffix)
			if err != nil {
				return err
			}
			lines = append(lines, line)
		}
	}
	if err := c.o.Write.Write(ctx, lines); err != nil {
		return fmt.Errorf("consolidate: writing %d points to %s series: %w", len(lines), suffix, err)
	}
	return nil
}

// encode is the line of p in its measurement with suffix.
func encode(enc *lineproto.Encoder, p *point, suffix string) (string, error) {
	enc.StartLine(p.meas + suffix)
	for _, t := range p.tags {
		enc.AddTag(t[0], t[1])
	}
	names := slices.Sorted(maps.Keys(p.fields))
	for _, f := range names {
		v, ok := lineprotocol.FloatValue(p.fields[f])
		if !ok {
			return "", fmt.Errorf("consolidate: %s.%s: sum %v is not finite", p.meas, f, p.fields[f])
		}
		enc.AddField(f, v)
	}
	line, err := enc.EndLine(p.t)
	if err != nil {
		return "", fmt.Errorf("consolidate: %w", err)
	}
	return line, nil
}

// Mark is what an ingester records in schema.MeasRollup (unix ns each).
type Mark struct {
	// Hours and Days: the watermarks.
	Hours, Days int64
	// StoreFrom: the store totals start (schema.FieldStoreFrom).
	StoreFrom int64
	// SketchStoreFrom: the store-level sketches start (schema.
	// FieldSketchStoreFrom).
	SketchStoreFrom int64
}

// writeMark records the watermarks.
func (c *Consolidator) writeMark(ctx context.Context, m Mark) error {
	line, err := MarkLine(c.o.Ingester, m, c.o.FineBucket)
	if err != nil {
		return err
	}
	if err := c.o.Write.Write(ctx, []string{line}); err != nil {
		return fmt.Errorf("consolidate: recording the watermarks: %w", err)
	}
	return nil
}

// MarkLine is the schema.MeasRollup point of an ingester's watermarks (at
// storezone.RecordTime, so that each write replaces the last).
func MarkLine(ingester string, m Mark, fineBucket string) (string, error) {
	var enc lineproto.Encoder
	enc.StartLine(schema.MeasRollup)
	enc.AddTag(schema.TagIngester, ingester)
	sv, ok := lineprotocol.StringValue(fineBucket)
	if !ok {
		return "", fmt.Errorf("consolidate: fine bucket %q is not valid UTF-8", fineBucket)
	}
	enc.AddField(schema.FieldDaysUntil, lineprotocol.IntValue(m.Days))
	enc.AddField(schema.FieldFineBucket, sv)
	enc.AddField(schema.FieldHoursUntil, lineprotocol.IntValue(m.Hours))
	enc.AddField(schema.FieldSketchStoreFrom, lineprotocol.IntValue(m.SketchStoreFrom))
	enc.AddField(schema.FieldStoreFrom, lineprotocol.IntValue(m.StoreFrom))
	line, err := enc.EndLine(storezone.RecordTime().UnixNano())
	if err != nil {
		return "", fmt.Errorf("consolidate: %w", err)
	}
	return line, nil
}
