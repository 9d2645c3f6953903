package storezone

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	iql "github.com/storepulse/storepulse/internal/influxql"
	"github.com/storepulse/storepulse/internal/schema"
)

// maxRecords bounds the records read (one per ingester).
const maxRecords = 1000

// ReadInfluxQL reads the zones the ingesters recorded — the last sp_meta
// timezone per ingester — through the v1 /query API (InfluxDB 1.8, 2.x,
// 3.x), as the datasource plugin does. Nothing recorded (or, on 3.x, no
// sp_meta table yet) is no record and no error.
func ReadInfluxQL(ctx context.Context, c *iql.Client) ([]Recorded, error) {
	q := fmt.Sprintf("SELECT last(%s) FROM %s WHERE time >= %s AND time < %s GROUP BY %s",
		iql.Ident(schema.FieldTimeZone), iql.Ident(schema.MeasMeta), iql.Time(time.Unix(0, 0)),
		iql.Time(RecordTime().AddDate(100, 0, 0)), iql.Ident(schema.TagIngester))
	var out []Recorded
	err := c.Query(ctx, q, iql.Options{}, func(_ int, sr *iql.Series) error {
		ti, zi := sr.Column("time"), sr.Column("last")
		for _, row := range sr.Values {
			if len(out) >= maxRecords || zi < 0 || zi >= len(row) {
				break
			}
			zone, _ := row[zi].(string)
			rec := Recorded{Ingester: sr.Tags[schema.TagIngester], Zone: zone}
			if ti >= 0 && ti < len(row) {
				rec.At, _ = iql.TimeOf(row[ti])
			}
			out = append(out, rec)
		}
		return nil
	})
	if err != nil {
		var e *iql.Error
		if errors.As(err, &e) && e.NotFound() && strings.Contains(strings.ToLower(e.Message), "table") {
			return nil, nil
		}
		return nil, fmt.Errorf("read the store time zone recorded by storepulse-ingest: %w", err)
	}
	return out, nil
}
