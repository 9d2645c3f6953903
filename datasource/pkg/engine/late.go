package engine

import (
	"context"
	"time"
)

// LateSpec asks for the late data the ingest recorded (schema.MeasLate):
// the records of local days starting in [Start, Stop) whose events reached
// InfluxDB in [ArrivedFrom, ArrivedTo).
type LateSpec struct {
	Start, Stop            time.Time
	ArrivedFrom, ArrivedTo time.Time
	Stores                 []string // empty: every store
}

// LateRow is one late-data record: one ingester's segment's late events of
// a store and local day.
type LateRow struct {
	Store string
	// Time is the affected day's first instant plus the segment offset
	// (under a minute): localday.Floor of it is the day.
	Time    time.Time
	Arrived time.Time
	Events  float64
	// GMV, PaidAmount and RefundAmount are what the late events added to
	// the day's sums.
	GMV, PaidAmount, RefundAmount float64
}

// LateSource reads the late-data records. Like LatestSource it is kept out
// of Source: only the sources that read it (the InfluxQL source, which the
// briefing uses) implement it.
type LateSource interface {
	Late(ctx context.Context, spec LateSpec) ([]LateRow, error)
}
