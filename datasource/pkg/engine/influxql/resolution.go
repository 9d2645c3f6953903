package influxql

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/storepulse/storepulse/datasource/pkg/engine"
	iql "github.com/storepulse/storepulse/internal/influxql"
	"github.com/storepulse/storepulse/internal/localday"
	"github.com/storepulse/storepulse/internal/schema"
	"github.com/storepulse/storepulse/internal/storezone"
)

// MarksTTL is how long the consolidation watermarks read from InfluxDB are
// reused. An older watermark is never wrong: below it the consolidated
// series are complete, above it the minute series are read.
const MarksTTL = time.Minute

// Marks are how far every ingester's consolidated series reach
// (docs/schema.md, "Consolidated series").
type Marks struct {
	// Hours and Days are the smallest watermarks of all ingesters: every
	// hour before Hours is in the hourly series, every local day before Days
	// in the daily ones. Zero: nothing may be read from them.
	Hours, Days time.Time
	// FineBucket is where the minute series are ("" : the main bucket).
	FineBucket string
}

// Coarse reports whether any consolidated series may be read.
func (m Marks) Coarse() bool { return !m.Hours.IsZero() }

// marksQuery reads every ingester's recorded time zone (which every ingester
// since the time zone was recorded writes) and watermarks.
func marksQuery() string {
	at := storezone.RecordTime()
	where := "time >= " + iql.Time(at) + " AND time <= " + iql.Time(at)
	return fmt.Sprintf("SELECT %s FROM %s WHERE %s GROUP BY %s; SELECT %s, %s, %s FROM %s WHERE %s GROUP BY %s",
		iql.Ident(schema.FieldTimeZone), iql.Ident(schema.MeasMeta), where, iql.Ident(schema.TagIngester),
		iql.Ident(schema.FieldHoursUntil), iql.Ident(schema.FieldDaysUntil), iql.Ident(schema.FieldFineBucket),
		iql.Ident(schema.MeasRollup), where, iql.Ident(schema.TagIngester))
}

// ReadMarks reads the watermarks. An ingester that recorded its time zone
// but no watermark (one that does not consolidate) leaves Marks zero, so
// that everything is read from the minute series.
func ReadMarks(ctx context.Context, c *iql.Client) (Marks, error) {
	type rec struct {
		zone        bool
		hours, days int64
		fine        string
		marked      bool
	}
	ings := map[string]*rec{}
	get := func(ing string) *rec {
		if ings[ing] == nil {
			ings[ing] = &rec{}
		}
		return ings[ing]
	}
	err := c.Query(ctx, marksQuery(), iql.Options{}, func(stmt int, sr *iql.Series) error {
		r := get(sr.Tags[schema.TagIngester])
		if stmt == 0 {
			r.zone = len(sr.Values) > 0
			return nil
		}
		hc, dc, fc := sr.Column(schema.FieldHoursUntil), sr.Column(schema.FieldDaysUntil), sr.Column(schema.FieldFineBucket)
		for _, row := range sr.Values {
			if hc < 0 || dc < 0 {
				continue
			}
			h, hok := intValue(row[hc])
			d, dok := intValue(row[dc])
			if hok && dok {
				r.hours, r.days, r.marked = h, d, true
			}
			if fc >= 0 {
				r.fine, _ = row[fc].(string)
			}
		}
		return nil
	})
	if err != nil {
		return Marks{}, err
	}
	var m Marks
	names := make([]string, 0, len(ings))
	for ing := range ings {
		names = append(names, ing)
	}
	slices.Sort(names)
	for i, ing := range names {
		r := ings[ing]
		if !r.marked {
			return Marks{}, nil
		}
		h, d := time.Unix(0, r.hours).UTC(), time.Unix(0, r.days).UTC()
		if i == 0 || h.Before(m.Hours) {
			m.Hours = h
		}
		if i == 0 || d.Before(m.Days) {
			m.Days = d
		}
		if i > 0 && r.fine != m.FineBucket {
			return Marks{}, fmt.Errorf("the ingesters record different fine buckets (%q and %q): give every storepulse-ingest the same influx.fine_bucket",
				m.FineBucket, r.fine)
		}
		m.FineBucket = r.fine
	}
	return m, nil
}

func intValue(v any) (int64, bool) {
	n, ok := v.(interface{ Int64() (int64, error) })
	if !ok {
		return 0, false
	}
	x, err := n.Int64()
	return x, err == nil
}

// Piece is one part of a sum's range and the series that answer it.
type Piece struct {
	Start, Stop time.Time
	Suffix      string // "" (minute series), schema.SuffixHour or schema.SuffixDay
}

// Plan splits [spec.Start, spec.Stop) into the coarsest series that answer
// it exactly: whole local days below m.Days from the daily series (only when
// spec.DayZone is set), whole hours below m.Hours from the hourly series,
// the rest from the minute series. Windows (spec.Every) below an hour, or
// not whole hours, read minutes only. Pieces are in time order and do not
// overlap.
func Plan(spec engine.SumSpec, m Marks) []Piece {
	s, e := spec.Start, spec.Stop
	all := []Piece{{s, e, ""}}
	if !m.Coarse() || (spec.Every != 0 && spec.Every%time.Hour != 0) || !s.Before(e) {
		return all
	}
	hs := s.Truncate(time.Hour)
	if hs.Before(s) {
		hs = hs.Add(time.Hour)
	}
	he := e
	if m.Hours.Before(he) {
		he = m.Hours
	}
	he = he.Truncate(time.Hour)
	if !hs.Before(he) {
		return all
	}
	var out []Piece
	add := func(a, b time.Time, suffix string) {
		if a.Before(b) {
			out = append(out, Piece{a, b, suffix})
		}
	}
	add(s, hs, "")
	ds, de := hs, hs
	if z := spec.DayZone; z != nil {
		ds = localday.Floor(hs, z)
		if ds.Before(hs) {
			ds = localday.Next(hs, z)
		}
		last := he
		if m.Days.Before(last) {
			last = m.Days
		}
		de = localday.Floor(last, z)
		if !ds.Before(de) {
			ds, de = hs, hs
		}
	}
	add(hs, ds, schema.SuffixHour)
	add(ds, de, schema.SuffixDay)
	add(de, he, schema.SuffixHour)
	add(he, e, "")
	return out
}

// marks returns the cached watermarks, reading them again after MarksTTL.
func (s *Source) marks(ctx context.Context) (Marks, *iql.Client, error) {
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.marksAt.IsZero() || now().Sub(s.marksAt) >= MarksTTL {
		m, err := ReadMarks(ctx, s.Client)
		if err != nil {
			return Marks{}, nil, downstream("reading the consolidation watermarks", err)
		}
		fine := s.Client
		if m.FineBucket != "" && !strings.EqualFold(m.FineBucket, s.bucket()) {
			db, rp, err := iql.SplitBucket(m.FineBucket)
			if err != nil {
				return Marks{}, nil, downstream("reading the consolidation watermarks", fmt.Errorf("recorded fine bucket: %w", err))
			}
			c := *s.Client
			c.Database, c.RetentionPolicy = db, rp
			fine = &c
		}
		s.cachedMarks, s.fine, s.marksAt = m, fine, now()
	}
	return s.cachedMarks, s.fine, nil
}

// bucket is the main bucket as the ingest records it ("db/rp" or "db").
func (s *Source) bucket() string {
	if s.Client.RetentionPolicy == "" {
		return s.Client.Database
	}
	return s.Client.Database + "/" + s.Client.RetentionPolicy
}
