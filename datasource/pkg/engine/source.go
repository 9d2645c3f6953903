package engine

import (
	"context"
	"time"
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
}

// SketchRow is one stored sketch (base64).
type SketchRow struct {
	Time   time.Time
	Kind   string
	Groups []string
	Sketch string
}

// Source reads the stored numbers. Errors it returns are the downstream's
// (InfluxDB's) unless marked otherwise.
type Source interface {
	Sums(ctx context.Context, spec SumSpec) ([]SumRow, error)
	Sketches(ctx context.Context, spec SketchSpec, fn func(SketchRow) error) error
	DimensionValues(ctx context.Context, spec DimensionSpec) ([]string, error)
}

// DimensionSpec asks for the values of one dimension seen in a range.
type DimensionSpec struct {
	Start, Stop time.Time
	Dimension   string
	Filters     map[string][]string
}
