package influxql

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/storepulse/storepulse/datasource/pkg/engine"
	iql "github.com/storepulse/storepulse/internal/influxql"
	"github.com/storepulse/storepulse/internal/schema"
	"github.com/storepulse/storepulse/internal/storezone"
)

// Marks are the consolidation watermarks (engine.Marks).
type Marks = engine.Marks

// Piece is one part of a sum's range (engine.Piece).
type Piece = engine.Piece

// Plan splits a sum's range by resolution (engine.Plan).
func Plan(spec engine.SumSpec, m Marks) []Piece { return engine.Plan(spec, m) }

// marksQuery reads every ingester's recorded time zone (which every ingester
// since the time zone was recorded writes) and watermarks.
func marksQuery() string {
	at := storezone.RecordTime()
	where := "time >= " + iql.Time(at) + " AND time <= " + iql.Time(at)
	return fmt.Sprintf("SELECT %s FROM %s WHERE %s GROUP BY %s; SELECT %s, %s, %s, %s, %s FROM %s WHERE %s GROUP BY %s",
		iql.Ident(schema.FieldTimeZone), iql.Ident(schema.MeasMeta), where, iql.Ident(schema.TagIngester),
		iql.Ident(schema.FieldHoursUntil), iql.Ident(schema.FieldDaysUntil), iql.Ident(schema.FieldFineBucket),
		iql.Ident(schema.FieldStoreFrom), iql.Ident(schema.FieldSketchStoreFrom), iql.Ident(schema.MeasRollup), where,
		iql.Ident(schema.TagIngester))
}

// ReadMarks reads the watermarks. An ingester that recorded its time zone
// but no watermark (one that does not consolidate) leaves Marks zero, so
// that everything is read from the minute series.
func ReadMarks(ctx context.Context, c *iql.Client) (Marks, error) {
	recs := map[string]*engine.MarkRecord{}
	get := func(ing string) *engine.MarkRecord {
		if recs[ing] == nil {
			recs[ing] = &engine.MarkRecord{}
		}
		return recs[ing]
	}
	err := c.Query(ctx, marksQuery(), iql.Options{}, func(stmt int, sr *iql.Series) error {
		r := get(sr.Tags[schema.TagIngester])
		if stmt == 0 {
			return nil
		}
		hc, dc, fc := sr.Column(schema.FieldHoursUntil), sr.Column(schema.FieldDaysUntil), sr.Column(schema.FieldFineBucket)
		sc, kc := sr.Column(schema.FieldStoreFrom), sr.Column(schema.FieldSketchStoreFrom)
		for _, row := range sr.Values {
			if hc < 0 || dc < 0 {
				continue
			}
			h, hok := intValue(row[hc])
			d, dok := intValue(row[dc])
			if hok && dok {
				r.Hours, r.Days, r.Marked = h, d, true
			}
			if fc >= 0 {
				r.FineBucket, _ = row[fc].(string)
			}
			if sc >= 0 {
				r.StoreFrom, r.HasStore = intValue(row[sc])
			}
			if kc >= 0 {
				r.SketchStoreFrom, r.HasSketchStore = intValue(row[kc])
			}
		}
		return nil
	})
	if err != nil {
		return Marks{}, err
	}
	return engine.ResolveMarks(recs)
}

func intValue(v any) (int64, bool) {
	n, ok := v.(interface{ Int64() (int64, error) })
	if !ok {
		return 0, false
	}
	x, err := n.Int64()
	return x, err == nil
}

// marks returns the cached watermarks, reading them again after MarksTTL.
func (s *Source) marks(ctx context.Context) (Marks, *iql.Client, error) {
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.marksAt.IsZero() || now().Sub(s.marksAt) >= engine.MarksTTL {
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
