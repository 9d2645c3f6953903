package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	iql "github.com/storepulse/storepulse/internal/influxql"
	"github.com/storepulse/storepulse/internal/storezone"
)

// defaultZone is the store time zone when neither the ingest recorded one
// nor timezone is set (the ingest's own default).
const defaultZone = "Asia/Shanghai"

// zoneRetry is how long serve waits before reading the recorded zone again
// when InfluxDB cannot be read at start.
const zoneRetry = 10 * time.Second

// zoneReader reads the zones the ingesters recorded.
type zoneReader func(ctx context.Context) ([]storezone.Recorded, error)

func influxZones(c *iql.Client) zoneReader {
	return func(ctx context.Context) ([]storezone.Recorded, error) { return storezone.ReadInfluxQL(ctx, c) }
}

// storeZone decides the store time zone, once at start, and says which and
// why in one log line:
//
//   - timezone, when set, wins (an override): a different recorded zone is
//     logged as a conflict;
//   - else the zone storepulse-ingest recorded in InfluxDB (sp_meta), as
//     the datasource plugin uses it;
//   - else Asia/Shanghai, the ingest's default.
//
// When InfluxDB cannot be read and timezone is not set, the one-shot
// command (retry 0) fails and serve tries again every retry until it can
// (or stops).
func storeZone(ctx context.Context, override *time.Location, read zoneReader, retry time.Duration, log *slog.Logger) (*time.Location, error) {
	recs, err := read(ctx)
	for err != nil && override == nil && retry > 0 {
		log.Warn("cannot read the store time zone recorded by storepulse-ingest yet; trying again", "err", err, "retry_in", retry)
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(retry):
		}
		recs, err = read(ctx)
	}
	if err != nil {
		if override == nil {
			return nil, fmt.Errorf("%w (set timezone to brief without it)", err)
		}
		log.Warn("cannot read the store time zone recorded by storepulse-ingest; using the timezone setting", "timezone", override.String(), "err", err)
		return override, nil
	}
	var recorded *time.Location
	var rec storezone.Recorded
	if len(recs) > 0 {
		var rerr error
		rec, rerr = storezone.Resolve(recs)
		if rerr != nil {
			log.Warn("store time zone", "err", rerr, "using", rec.Zone)
		}
		loc, lerr := time.LoadLocation(rec.Zone)
		if lerr == nil {
			lerr = storezone.Check(loc)
		}
		if lerr != nil {
			log.Warn("storepulse-ingest recorded a store time zone that cannot be used here", "recorded", rec.Zone, "err", lerr)
		} else {
			recorded = loc
		}
	}
	switch {
	case override != nil:
		if recorded != nil && recorded.String() != override.String() {
			log.Warn("store time zone conflict: the timezone setting overrides the zone storepulse-ingest recorded; the ingest cuts its daily distinct counts by its own zone, so unset timezone unless the ingest is wrong",
				"timezone", override.String(), "recorded", recorded.String(), "ingester", rec.Ingester)
		}
		log.Info("store time zone", "zone", override.String(), "source", "the timezone setting (an override: it wins over the recorded zone)")
		return override, nil
	case recorded != nil:
		log.Info("store time zone", "zone", recorded.String(), "source", "recorded by storepulse-ingest", "ingester", rec.Ingester)
		return recorded, nil
	}
	loc, err := time.LoadLocation(defaultZone)
	if err != nil {
		return nil, fmt.Errorf("store time zone %s: %w", defaultZone, err)
	}
	log.Info("store time zone", "zone", defaultZone, "source", "default: storepulse-ingest recorded none and timezone is not set")
	return loc, nil
}
