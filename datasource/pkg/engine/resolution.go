package engine

import (
	"fmt"
	"slices"
	"time"

	"github.com/storepulse/storepulse/internal/localday"
	"github.com/storepulse/storepulse/internal/schema"
)

// MarksTTL is how long the consolidation watermarks read from InfluxDB are
// reused. An older watermark is never wrong: below it the consolidated
// series are complete, above it the minute series are read.
const MarksTTL = time.Minute

// MarkRecord is what one ingester recorded: its time zone (sp_meta, every
// ingester since it was recorded) and, when it consolidates, its watermarks
// (sp_rollup).
type MarkRecord struct {
	Marked      bool
	Hours, Days int64 // unix ns
	// HasStore says it recorded where its store totals start: StoreFrom
	// (unix ns; 0 for an ingester that wrote them from its first point).
	// Without it, it predates them.
	HasStore  bool
	StoreFrom int64
	// HasSketchStore says it recorded where its store-level sketches start:
	// SketchStoreFrom (unix ns, a local-day start; 0 from its first sketch).
	HasSketchStore  bool
	SketchStoreFrom int64
	FineBucket      string
}

// ResolveMarks combines the records of every ingester (by id): the smallest
// watermarks and the latest start of store totals. One ingester without
// watermarks (it does not consolidate) leaves Marks zero, so that everything
// is read from the minute series; one without store totals leaves StoreFrom
// zero, one without store-level sketches SketchStoreFrom; ingesters recording different fine buckets are an error.
func ResolveMarks(recs map[string]*MarkRecord) (Marks, error) {
	var m Marks
	noStore, noSketchStore := false, false
	names := make([]string, 0, len(recs))
	for ing := range recs {
		names = append(names, ing)
	}
	slices.Sort(names)
	for i, ing := range names {
		r := recs[ing]
		if !r.Marked {
			return Marks{}, nil
		}
		h, d := time.Unix(0, r.Hours).UTC(), time.Unix(0, r.Days).UTC()
		if i == 0 || h.Before(m.Hours) {
			m.Hours = h
		}
		if i == 0 || d.Before(m.Days) {
			m.Days = d
		}
		switch sf := time.Unix(0, r.StoreFrom).UTC(); {
		case !r.HasStore:
			m.StoreFrom, noStore = time.Time{}, true
		case !noStore && (m.StoreFrom.IsZero() || sf.After(m.StoreFrom)):
			m.StoreFrom = sf
		}
		switch sf := time.Unix(0, r.SketchStoreFrom).UTC(); {
		case !r.HasSketchStore:
			m.SketchStoreFrom, noSketchStore = time.Time{}, true
		case !noSketchStore && (m.SketchStoreFrom.IsZero() || sf.After(m.SketchStoreFrom)):
			m.SketchStoreFrom = sf
		}
		if i > 0 && r.FineBucket != m.FineBucket {
			return Marks{}, fmt.Errorf("the ingesters record different fine buckets (%q and %q): give every storepulse-ingest the same influx.fine_bucket",
				m.FineBucket, r.FineBucket)
		}
		m.FineBucket = r.FineBucket
	}
	return m, nil
}

// Marks are how far every ingester's consolidated series reach
// (docs/schema.md, "Consolidated series").
type Marks struct {
	// Hours and Days are the smallest watermarks of all ingesters: every
	// hour before Hours is in the hourly series, every local day before Days
	// in the daily ones. Zero: nothing may be read from them.
	Hours, Days time.Time
	// StoreFrom is the latest start of every ingester's store totals: below
	// the watermarks, every hour and every local day starting at or after it
	// is in the store totals too. Zero: none may be read.
	StoreFrom time.Time
	// SketchStoreFrom is the latest start of every ingester's store-level
	// sketches: every sketch window starting at or after it is in them too.
	// Zero: none may be read.
	SketchStoreFrom time.Time
	// FineBucket is where the minute series are ("" : the main bucket).
	FineBucket string
}

// Coarse reports whether any consolidated series may be read.
func (m Marks) Coarse() bool { return !m.Hours.IsZero() }

// Piece is one part of a sum's range and the series that answer it.
type Piece struct {
	Start, Stop time.Time
	// Suffix is "" (minute series), schema.SuffixHour, schema.SuffixDay, or
	// their store totals schema.SuffixHourStore and schema.SuffixDayStore.
	Suffix string
}

// StoreOnly reports whether spec filters and groups by store at most: the
// store totals answer it.
func StoreOnly(spec SumSpec) bool { return storeOnly(spec.Filters, spec.GroupBy) }

func storeOnly(filters map[string][]string, groupBy []string) bool {
	for k := range filters {
		if k != schema.TagStore {
			return false
		}
	}
	for _, g := range groupBy {
		if g != schema.TagStore {
			return false
		}
	}
	return true
}

// PlanSketches splits a sketch read: when spec filters and groups by store
// at most, the windows starting at or after m.SketchStoreFrom are read from
// the store-level sketches (one per kind, store and window instead of one
// per channel and category). The specs are in time order and do not
// overlap; a source keeps only the sketches stamped in each one's range.
func PlanSketches(spec SketchSpec, m Marks) []SketchSpec {
	if m.SketchStoreFrom.IsZero() || !storeOnly(spec.Filters, spec.GroupBy) || !spec.Start.Before(spec.Stop) {
		return []SketchSpec{spec}
	}
	// A daily sketch is stamped at its local day's start and the mark is
	// one; an hourly one is in them when its hour starts at or after it.
	cut := m.SketchStoreFrom
	if spec.Window == schema.WindowHour {
		if h := cut.Truncate(time.Hour); h.Before(cut) {
			cut = h.Add(time.Hour)
		}
	}
	store := spec
	store.FromStore = true
	switch {
	case !spec.Start.Before(cut):
		return []SketchSpec{store}
	case !cut.Before(spec.Stop):
		return []SketchSpec{spec}
	}
	detailed := spec
	detailed.Stop, store.Start = cut, cut
	return []SketchSpec{detailed, store}
}

// Plan splits [spec.Start, spec.Stop) into the coarsest series that answer
// it exactly: whole local days below m.Days from the daily series (only when
// spec.DayZone is set), whole hours below m.Hours from the hourly series,
// the rest from the minute series. Windows (spec.Every) below an hour, or
// not whole hours, read minutes only. When spec filters and groups by store
// at most, the hours and local days from m.StoreFrom on are read from the
// store totals (one point per store and window) instead. Pieces are in time
// order and do not overlap.
func Plan(spec SumSpec, m Marks) []Piece {
	pieces := plan(spec, m)
	if m.StoreFrom.IsZero() || !StoreOnly(spec) {
		return pieces
	}
	sf := m.StoreFrom
	out := make([]Piece, 0, len(pieces)+1)
	for _, p := range pieces {
		total := schema.StoreTotal(p.Suffix)
		if total == "" {
			out = append(out, p)
			continue
		}
		cut := sf
		if p.Suffix == schema.SuffixDay {
			// A local day is in the store totals when it starts at or
			// after StoreFrom.
			if cut = localday.Floor(sf, spec.DayZone); cut.Before(sf) {
				cut = localday.Next(sf, spec.DayZone)
			}
		}
		switch {
		case !p.Start.Before(cut):
			out = append(out, Piece{p.Start, p.Stop, total})
		case !cut.Before(p.Stop):
			out = append(out, p)
		default:
			out = append(out, Piece{p.Start, cut, p.Suffix}, Piece{cut, p.Stop, total})
		}
	}
	return out
}

// plan is Plan without store totals.
func plan(spec SumSpec, m Marks) []Piece {
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
