package plugin

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/storepulse/storepulse/datasource/pkg/engine"
	"github.com/storepulse/storepulse/datasource/pkg/engine/flux"
	iql "github.com/storepulse/storepulse/internal/influxql"
	"github.com/storepulse/storepulse/internal/schema"
	"github.com/storepulse/storepulse/internal/storezone"
)

// Store time zone: storepulse-ingest records its zone in InfluxDB
// (schema.MeasMeta) and the datasource uses it; the datasource's own
// timeZone setting is only the fallback while nothing is recorded.
const (
	zoneTTL     = time.Minute      // how long a read zone is used before reading again
	zoneTimeout = 10 * time.Second // bound of one read
)

// zoneState is the store time zone as last read from InfluxDB.
type zoneState struct {
	loc *time.Location     // the zone queries use
	rec storezone.Recorded // the record it came from ("" Zone: the setting)
	err error              // why the recorded zone could not be used (nil: fine or none recorded)
	at  time.Time          // when it was read (zero: never)
}

// readStoreZone asks InfluxDB for the zones the ingesters recorded.
func (d *Datasource) readStoreZone(ctx context.Context) ([]storezone.Recorded, error) {
	ctx, cancel := context.WithTimeout(ctx, zoneTimeout)
	defer cancel()
	if d.ql != nil {
		return d.readStoreZoneInfluxQL(ctx)
	}
	query := fmt.Sprintf("from(bucket: %s)\n  |> range(start: 1970-01-01T00:00:00Z, stop: 2200-01-01T00:00:00Z)\n  |> filter(fn: (r) => r._measurement == %s and r._field == %s)\n  |> last()",
		flux.String(d.settings.Bucket), flux.String(schema.MeasMeta), flux.String(schema.FieldTimeZone))
	res, err := d.influx.QueryAPI(orgOf(d.settings.Org, d.settings.Version)).Query(ctx, query)
	if err != nil {
		return nil, fmt.Errorf("read the store time zone: %w", err)
	}
	defer func() { _ = res.Close() }()
	var out []storezone.Recorded
	for res.Next() && len(out) < 1000 {
		r := res.Record()
		zone, _ := r.Value().(string)
		ing, _ := r.ValueByKey(schema.TagIngester).(string)
		out = append(out, storezone.Recorded{Ingester: ing, Zone: zone, At: r.Time()})
	}
	if err := res.Err(); err != nil {
		return nil, fmt.Errorf("read the store time zone: %w", err)
	}
	return out, nil
}

// readStoreZoneInfluxQL reads the zones the ingesters recorded through the
// v1 /query API (InfluxDB 1.8, 2.x, 3.x): the last sp_meta timezone per
// ingester.
func (d *Datasource) readStoreZoneInfluxQL(ctx context.Context) ([]storezone.Recorded, error) {
	q := fmt.Sprintf("SELECT last(%s) FROM %s WHERE time >= %s AND time < %s GROUP BY %s",
		iql.Ident(schema.FieldTimeZone), iql.Ident(schema.MeasMeta), iql.Time(time.Unix(0, 0)),
		iql.Time(storezone.RecordTime().AddDate(100, 0, 0)), iql.Ident(schema.TagIngester))
	var out []storezone.Recorded
	err := d.ql.Query(ctx, q, iql.Options{}, func(_ int, sr *iql.Series) error {
		ti, zi := sr.Column("time"), sr.Column("last")
		for _, row := range sr.Values {
			if len(out) >= 1000 || zi < 0 || zi >= len(row) {
				break
			}
			zone, _ := row[zi].(string)
			rec := storezone.Recorded{Ingester: sr.Tags[schema.TagIngester], Zone: zone}
			if ti >= 0 && ti < len(row) {
				rec.At, _ = iql.TimeOf(row[ti])
			}
			out = append(out, rec)
		}
		return nil
	})
	if err != nil {
		var e *iql.Error
		if errors.As(err, &e) && tableNotFound(e.Message) {
			return nil, nil // 3.x before the first sp_meta point: nothing recorded
		}
		return nil, fmt.Errorf("read the store time zone: %w", err)
	}
	return out, nil
}

// storeZone is the zone queries use: the one storepulse-ingest recorded, or
// the datasource setting while none is (or it cannot be read or used).
func (d *Datasource) storeZone(ctx context.Context) zoneState {
	fallback := zoneState{loc: d.settings.Location}
	if d.influx == nil && d.ql == nil {
		return fallback
	}
	d.zoneMu.Lock()
	defer d.zoneMu.Unlock()
	now := d.now()
	if !d.zone.at.IsZero() && now.Sub(d.zone.at) < zoneTTL && now.Sub(d.zone.at) >= 0 {
		return d.zone
	}
	recs, err := d.readStoreZone(ctx)
	if err != nil {
		if !d.zone.at.IsZero() {
			return d.zone // keep the last good answer; read again next time
		}
		fallback.err = err
		return fallback
	}
	st := zoneState{loc: d.settings.Location, at: now}
	if len(recs) > 0 {
		rec, rerr := storezone.Resolve(recs)
		st.rec, st.err = rec, rerr
		loc, lerr := time.LoadLocation(rec.Zone)
		switch {
		case lerr != nil:
			st.err = fmt.Errorf("storepulse-ingest recorded the store time zone %q, which this Grafana host does not know (%w): using the datasource setting %s", rec.Zone, lerr, d.settings.TimeZone)
		default:
			if cerr := storezone.Check(loc); cerr != nil {
				st.err = fmt.Errorf("store time zone recorded by storepulse-ingest: %w", cerr)
			}
			st.loc = loc
		}
	}
	if st.err != nil && d.logger != nil {
		d.logger.Warn("store time zone", "err", st.err)
	}
	d.zone = st
	return st
}

// engineFor is the engine with the store time zone of this moment.
func (d *Datasource) engineFor(ctx context.Context) *engine.Engine {
	e := *d.engine
	e.Location = d.storeZone(ctx).loc
	return &e
}
