package engine

import (
	"context"
	"slices"
	"time"

	"github.com/storepulse/storepulse/internal/calendar"
	"github.com/storepulse/storepulse/internal/schema"
)

// Term is one summed field to fetch.
type Term struct{ Measurement, Field string }

// SumSpec asks for windowed sums of fields, summed across every point of a
// window (all segment offsets, ingesters and dimension values not grouped by).
type SumSpec struct {
	Start, Stop time.Time
	// Every is the window; 0 means one sum over [Start, Stop).
	Every   time.Duration
	Terms   []Term
	Filters map[string][]string
	GroupBy []string
	// DayZone, when set, is the store time zone and says that every window
	// is made of whole local days of it (always true when Every is 0): a
	// source may then answer the whole local days from daily roll-ups. Nil:
	// whole hours at the coarsest.
	DayZone *time.Location
}

// SumRow is one window's sum of one field for one group.
type SumRow struct {
	Time   time.Time // window start (Start when Every is 0)
	Term   Term
	Groups []string // values of SumSpec.GroupBy, "" when the tag is absent
	Value  float64
}

// SketchSpec asks for every stored sketch of some kinds in a window size.
type SketchSpec struct {
	Start, Stop time.Time
	Kinds       []string
	Window      string // schema.WindowHour or schema.WindowDay
	Filters     map[string][]string
	GroupBy     []string
	// FromStore reads the store-level sketches (schema.MeasDistinctStore;
	// PlanSketches sets it), else the detailed ones.
	FromStore bool
}

// Measurement is where spec's sketches are stored.
func (spec SketchSpec) Measurement() string { return schema.DistinctMeasurement(spec.FromStore) }

// SketchRow is one stored sketch (base64).
type SketchRow struct {
	Time   time.Time
	Kind   string
	Groups []string
	Sketch string
	// Estimate is the sketch's distinct count when the source already knows
	// it (the cache's merged rows), 0 when not.
	Estimate uint64
}

// Source reads the stored numbers. Errors it returns are the downstream's
// (InfluxDB's) unless marked otherwise.
type Source interface {
	Sums(ctx context.Context, spec SumSpec) ([]SumRow, error)
	Sketches(ctx context.Context, spec SketchSpec, fn func(SketchRow) error) error
	DimensionValues(ctx context.Context, spec DimensionSpec) ([]string, error)
	CalendarSource
}

// DimensionSpec asks for the values of one dimension seen in a range.
type DimensionSpec struct {
	Start, Stop time.Time
	Dimension   string
	Filters     map[string][]string
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

// TargetSpec asks for the live targets of one KPI and period whose period
// starts in [Start, Stop).
type TargetSpec struct {
	Start, Stop time.Time
	KPI         string
	Period      string   // calendar.PeriodDay, PeriodWeek or PeriodMonth
	Stores      []string // store tag values (calendar.AllStores for the whole business)
}

// TargetRow is one stored target.
type TargetRow struct {
	Time  time.Time // the period's start
	Store string
	Value float64
}

// CalendarSource reads the campaign calendar and the targets (sp_campaign,
// sp_target).
type CalendarSource interface {
	Targets(ctx context.Context, spec TargetSpec) ([]TargetRow, error)
	// Campaigns are the live campaigns (tombstones skipped).
	Campaigns(ctx context.Context) ([]calendar.Campaign, error)
}
