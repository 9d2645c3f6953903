// Package storezone is the store time zone as one fact shared by both sides:
// the ingest service, whose `timezone` setting is the source of truth, checks
// it at start-up and records it in InfluxDB (measurement schema.MeasMeta);
// the datasource reads it back and uses it for every bucket (docs/query.md,
// "Store time zone").
package storezone

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/storepulse/storepulse/internal/localday"
	"github.com/storepulse/storepulse/internal/schema"
)

// Check refuses a store time zone StorePulse cannot represent exactly:
// hourly sums and hourly distinct-count sketches are kept in UTC hours, so
// a zone whose UTC offset is not a whole hour at some time from 2000 to 2100
// (Asia/Kolkata, Asia/Kathmandu, Asia/Tehran, Australia/Adelaide,
// America/St_Johns ...) would have local days and hours that cut through
// them: distinct counts of partial days and hour buckets would be wrong.
func Check(loc *time.Location) error {
	if loc == nil {
		return errors.New("no store time zone")
	}
	from, to := time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)
	if err := localday.CheckWholeHours(loc, from, to); err != nil {
		return fmt.Errorf("%w; StorePulse keeps hourly series and sketches in UTC hours, so only zones whose offset is a whole number of hours (from 2000 to 2100) are supported", err)
	}
	return nil
}

// RecordTime is the time of every sp_meta point: fixed, so that writing it
// again replaces it (idempotent), far in the future, so that no retention
// policy drops it and no query of data ranges (which end at now) sees it.
func RecordTime() time.Time { return time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC) }

// Line is the line-protocol record of the store time zone zone written by
// ingester at (normally RecordTime).
func Line(ingester, zone string, at time.Time) (string, error) {
	if zone == "" || strings.ContainsAny(zone, "\"\\\n") {
		return "", fmt.Errorf("invalid time zone name %q", zone)
	}
	if ingester == "" || strings.ContainsAny(ingester, " ,=\\\n") {
		return "", fmt.Errorf("invalid ingester id %q", ingester)
	}
	return schema.MeasMeta + "," + schema.TagIngester + "=" + ingester + " " + schema.FieldTimeZone + "=" +
		strconv.Quote(zone) + " " + strconv.FormatInt(at.UnixNano(), 10), nil
}

// Recorded is one ingester's last recorded store time zone.
type Recorded struct {
	Ingester string
	Zone     string
	At       time.Time
}

// Resolve picks the store time zone from what the ingesters recorded: the
// most recent record. It fails when the ingesters disagree (each cuts its
// daily sketches by its own zone, so distinct counts would mix the two).
func Resolve(recs []Recorded) (Recorded, error) {
	if len(recs) == 0 {
		return Recorded{}, errors.New("no store time zone recorded")
	}
	best := recs[0]
	zones := map[string][]string{}
	for _, r := range recs {
		zones[r.Zone] = append(zones[r.Zone], r.Ingester)
		if r.At.After(best.At) {
			best = r
		}
	}
	if len(zones) > 1 {
		var parts []string
		for _, r := range recs {
			parts = append(parts, fmt.Sprintf("%s: %s", r.Ingester, r.Zone))
		}
		return best, fmt.Errorf("the ingesters record different store time zones (%s): give every storepulse-ingest the same timezone", strings.Join(parts, ", "))
	}
	return best, nil
}
