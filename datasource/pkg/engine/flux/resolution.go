package flux

import (
	"context"
	"time"

	"github.com/influxdata/influxdb-client-go/v2/api/query"

	"github.com/storepulse/storepulse/datasource/pkg/engine"
	"github.com/storepulse/storepulse/internal/schema"
)

// readMarks returns the cached watermarks, reading them again after
// engine.MarksTTL.
func (s *Source) readMarks(ctx context.Context) (engine.Marks, error) {
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	s.marksMu.Lock()
	defer s.marksMu.Unlock()
	if !s.marksAt.IsZero() && now().Sub(s.marksAt) < engine.MarksTTL {
		return s.marks, nil
	}
	recs := map[string]*engine.MarkRecord{}
	err := s.run(ctx, "reading the consolidation watermarks", MarksQuery(s.Bucket), func(rec *query.FluxRecord) error {
		ing, _ := rec.ValueByKey(schema.TagIngester).(string)
		r := recs[ing]
		if r == nil {
			r = &engine.MarkRecord{}
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
		case schema.FieldStoreFrom:
			r.StoreFrom, r.HasStore = rec.Value().(int64)
		case schema.FieldSketchStoreFrom:
			r.SketchStoreFrom, r.HasSketchStore = rec.Value().(int64)
		case schema.FieldFineBucket:
			r.FineBucket, _ = rec.Value().(string)
		}
		r.Marked = r.Hours != 0 && r.Days != 0
		return nil
	})
	if err != nil {
		return engine.Marks{}, err
	}
	m, err := engine.ResolveMarks(recs)
	if err != nil {
		return engine.Marks{}, downstream("reading the consolidation watermarks", err)
	}
	s.marks, s.marksAt = m, now()
	return m, nil
}
