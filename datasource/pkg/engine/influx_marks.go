package engine

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/influxdata/influxdb-client-go/v2/api/query"

	"github.com/storepulse/storepulse/internal/schema"
	"github.com/storepulse/storepulse/internal/storezone"
)

// MarksFlux reads every ingester's recorded time zone and consolidation
// watermarks (both at storezone.RecordTime).
func MarksFlux(bucket string) string {
	at := storezone.RecordTime()
	var b strings.Builder
	fmt.Fprintf(&b, "from(bucket: %s)\n", FluxString(bucket))
	fmt.Fprintf(&b, "  |> range(start: %s, stop: %s)\n", fluxTime(at), fluxTime(at.Add(time.Second)))
	fmt.Fprintf(&b, "  |> filter(fn: (r) => r._measurement == %s or r._measurement == %s)\n",
		FluxString(schema.MeasMeta), FluxString(schema.MeasRollup))
	return b.String()
}

// readMarks returns the cached watermarks, reading them again after MarksTTL.
func (s *InfluxSource) readMarks(ctx context.Context) (Marks, error) {
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	s.marksMu.Lock()
	defer s.marksMu.Unlock()
	if !s.marksAt.IsZero() && now().Sub(s.marksAt) < MarksTTL {
		return s.marks, nil
	}
	recs := map[string]*MarkRecord{}
	err := s.run(ctx, "reading the consolidation watermarks", MarksFlux(s.Bucket), func(rec *query.FluxRecord) error {
		ing, _ := rec.ValueByKey(schema.TagIngester).(string)
		r := recs[ing]
		if r == nil {
			r = &MarkRecord{}
			recs[ing] = r
		}
		if rec.Measurement() != schema.MeasRollup {
			return nil
		}
		switch rec.Field() {
		case schema.FieldHoursUntil:
			r.Hours, _ = rec.Value().(int64)
		case schema.FieldDaysUntil:
			r.Days, _ = rec.Value().(int64)
		case schema.FieldFineBucket:
			r.FineBucket, _ = rec.Value().(string)
		}
		r.Marked = r.Hours != 0 && r.Days != 0
		return nil
	})
	if err != nil {
		return Marks{}, err
	}
	m, err := ResolveMarks(recs)
	if err != nil {
		return Marks{}, downstream("reading the consolidation watermarks", err)
	}
	s.marks, s.marksAt = m, now()
	return m, nil
}
