// Package calendarstore keeps the campaign calendar and KPI targets in
// InfluxDB (see internal/calendar for the model). Writes go straight to
// InfluxDB: an operator editing the calendar wants to see the result at once,
// and an unreachable InfluxDB is reported rather than queued.
package calendarstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/influxdata/influxdb-client-go/v2/api"

	"github.com/storepulse/storepulse/internal/calendar"
	"github.com/storepulse/storepulse/internal/fluxq"
	"github.com/storepulse/storepulse/internal/influxql"
	"github.com/storepulse/storepulse/internal/schema"
)

// Influx is what the store needs of InfluxDB.
type Influx interface {
	Write(ctx context.Context, lines []string) error
	Query(ctx context.Context, flux string) (*api.QueryTableResult, error)
}

// Store reads and writes the calendar in one bucket.
type Store struct {
	db     Influx
	ql     *influxql.Client // reads with InfluxQL when set, else Flux through db
	bucket string
	loc    *time.Location
}

// New returns a Store over bucket reading with Flux; loc is the store time
// zone of targets.
func New(db Influx, bucket string, loc *time.Location) *Store {
	return &Store{db: db, bucket: bucket, loc: loc}
}

// NewInfluxQL returns a Store writing through db and reading with InfluxQL
// through ql (the v1 /query API: InfluxDB 1.8, 2.x and 3.x); ql names the
// database and retention policy of bucket.
func NewInfluxQL(db Influx, ql *influxql.Client, bucket string, loc *time.Location) *Store {
	return &Store{db: db, ql: ql, bucket: bucket, loc: loc}
}

// record is one stored point: its time and its tags and fields by name.
type record struct {
	at time.Time
	v  map[string]any
}

// read runs the Flux query, or the InfluxQL one when the store reads with
// InfluxQL, and calls fn per stored point (fields pivoted into columns;
// numbers as float64).
func (s *Store) read(ctx context.Context, flux, ql string, fn func(record) error) error {
	if s.ql != nil {
		return s.ql.Query(ctx, ql, influxql.Options{}, func(_ int, sr *influxql.Series) error {
			tc := sr.Column("time")
			for _, row := range sr.Values {
				if tc < 0 || tc >= len(row) {
					return errors.New("InfluxDB answered without a time column")
				}
				at, err := influxql.TimeOf(row[tc])
				if err != nil {
					return err
				}
				v := make(map[string]any, len(sr.Tags)+len(row))
				for k, tv := range sr.Tags {
					v[k] = tv
				}
				for i, c := range sr.Columns {
					if i == tc || i >= len(row) || row[i] == nil {
						continue
					}
					if f, ok, err := influxql.Float(row[i]); err == nil && ok {
						v[c] = f
					} else {
						v[c] = row[i]
					}
				}
				if err := fn(record{at: at, v: v}); err != nil {
					return err
				}
			}
			return nil
		})
	}
	res, err := s.db.Query(ctx, flux)
	if err != nil {
		return err
	}
	defer func() { _ = res.Close() }()
	for res.Next() {
		if err := fn(record{at: res.Record().Time(), v: res.Record().Values()}); err != nil {
			return err
		}
	}
	if err := res.Err(); err != nil {
		return fmt.Errorf("InfluxDB: %w", err)
	}
	return nil
}

// calendarFrom and calendarTo bound every calendar read.
func calendarFrom() time.Time { return time.Unix(0, 0).UTC() }
func calendarTo() time.Time   { return time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC) }

// timeRangeQL is the InfluxQL condition of [from, to).
func timeRangeQL(from, to time.Time) string {
	return "time >= " + influxql.Time(from) + " AND time < " + influxql.Time(to)
}

type storedCampaign struct {
	campaign calendar.Campaign
	at       time.Time
}

// Campaigns lists the live campaigns, ordered by start.
func (s *Store) Campaigns(ctx context.Context) ([]calendar.Campaign, error) {
	stored, err := s.campaigns(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]calendar.Campaign, 0, len(stored))
	for _, c := range stored {
		out = append(out, c.campaign)
	}
	return out, nil
}

func (s *Store) campaigns(ctx context.Context) ([]storedCampaign, error) {
	flux := fmt.Sprintf(`from(bucket: %s)
  |> range(start: 1970-01-01T00:00:00Z, stop: 2200-01-01T00:00:00Z)
  |> filter(fn: (r) => r._measurement == %q)
  |> pivot(rowKey: ["_time"], columnKey: ["_field"], valueColumn: "_value")`,
		fluxq.String(s.bucket), schema.MeasCampaign)
	ql := fmt.Sprintf("SELECT %s, %s FROM %s WHERE %s GROUP BY *", influxql.Ident(schema.FieldDefinition),
		influxql.Ident(schema.FieldDeleted), influxql.Ident(schema.MeasCampaign), timeRangeQL(calendarFrom(), calendarTo()))
	var out []storedCampaign
	err := s.read(ctx, flux, ql, func(r record) error {
		if deleted, _ := r.v[schema.FieldDeleted].(bool); deleted {
			return nil
		}
		def, _ := r.v[schema.FieldDefinition].(string)
		var c calendar.Campaign
		if err := json.Unmarshal([]byte(def), &c); err != nil {
			return fmt.Errorf("stored definition of %v is not valid JSON: %w", r.v[schema.TagCampaign], err)
		}
		out = append(out, storedCampaign{campaign: c, at: r.at})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list campaigns: %w", err)
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].at.Equal(out[j].at) {
			return out[i].at.Before(out[j].at)
		}
		return out[i].campaign.ID < out[j].campaign.ID
	})
	return out, nil
}

// PutCampaigns creates or replaces campaigns (validated by the caller). A
// campaign whose start moved leaves a tombstone at its old time, so readers
// see exactly one live version.
func (s *Store) PutCampaigns(ctx context.Context, cs []calendar.Campaign) error {
	existing, err := s.campaigns(ctx)
	if err != nil {
		return err
	}
	var lines []string
	for i := range cs {
		c := &cs[i]
		for _, old := range existing {
			if old.campaign.ID == c.ID && !old.at.Equal(c.Start()) {
				l, err := calendar.CampaignLine(&old.campaign, true)
				if err != nil {
					return err
				}
				lines = append(lines, l)
			}
		}
		l, err := calendar.CampaignLine(c, false)
		if err != nil {
			return err
		}
		lines = append(lines, l)
	}
	return s.db.Write(ctx, lines)
}

// DeleteCampaign removes a campaign; found is false when there was none.
func (s *Store) DeleteCampaign(ctx context.Context, id string) (found bool, err error) {
	existing, err := s.campaigns(ctx)
	if err != nil {
		return false, err
	}
	var lines []string
	for _, old := range existing {
		if old.campaign.ID == id {
			l, err := calendar.CampaignLine(&old.campaign, true)
			if err != nil {
				return false, err
			}
			lines = append(lines, l)
		}
	}
	if len(lines) == 0 {
		return false, nil
	}
	return true, s.db.Write(ctx, lines)
}

// TargetFilter narrows a target listing; empty fields match everything.
type TargetFilter struct {
	KPI, Store, Period string
	From, To           time.Time // period starts in [From, To); zero: unbounded
}

// Targets lists the live targets matching f, ordered by start, kpi, store.
func (s *Store) Targets(ctx context.Context, f TargetFilter) ([]calendar.Target, error) {
	from, to := f.From, f.To
	if from.IsZero() {
		from = time.Unix(0, 0)
	}
	if to.IsZero() {
		to = time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	pred := fmt.Sprintf(`r._measurement == %q`, schema.MeasTarget)
	for _, kv := range [][2]string{{schema.TagKPI, f.KPI}, {schema.TagStore, f.Store}, {schema.TagPeriod, f.Period}} {
		if kv[1] != "" {
			pred += fmt.Sprintf(` and r.%s == %s`, kv[0], fluxq.String(kv[1]))
		}
	}
	flux := fmt.Sprintf(`from(bucket: %s)
  |> range(start: %s, stop: %s)
  |> filter(fn: (r) => %s)
  |> pivot(rowKey: ["_time"], columnKey: ["_field"], valueColumn: "_value")`,
		fluxq.String(s.bucket), fluxq.Time(from), fluxq.Time(to), pred)
	var ql strings.Builder
	fmt.Fprintf(&ql, "SELECT %s, %s FROM %s WHERE %s", influxql.Ident(schema.FieldValue), influxql.Ident(schema.FieldDeleted),
		influxql.Ident(schema.MeasTarget), timeRangeQL(from, to))
	for _, kv := range [][2]string{{schema.TagKPI, f.KPI}, {schema.TagStore, f.Store}, {schema.TagPeriod, f.Period}} {
		if kv[1] != "" {
			fmt.Fprintf(&ql, " AND %s = %s", influxql.Ident(kv[0]), influxql.String(kv[1]))
		}
	}
	ql.WriteString(" GROUP BY *")
	var out []calendar.Target
	err := s.read(ctx, flux, ql.String(), func(r record) error {
		if deleted, _ := r.v[schema.FieldDeleted].(bool); deleted {
			return nil
		}
		val, _ := r.v[schema.FieldValue].(float64)
		t := calendar.Target{Value: val, Start: r.at.In(s.loc).Format("2006-01-02")}
		t.KPI, _ = r.v[schema.TagKPI].(string)
		t.Store, _ = r.v[schema.TagStore].(string)
		t.Period, _ = r.v[schema.TagPeriod].(string)
		out = append(out, t)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list targets: %w", err)
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Start != b.Start {
			return a.Start < b.Start
		}
		if a.KPI != b.KPI {
			return a.KPI < b.KPI
		}
		if a.Store != b.Store {
			return a.Store < b.Store
		}
		return a.Period < b.Period
	})
	return out, nil
}

// PutTargets creates or replaces targets (validated by the caller): a target
// is identified by kpi, store, period and start.
func (s *Store) PutTargets(ctx context.Context, ts []calendar.Target) error {
	lines := make([]string, 0, len(ts))
	for i := range ts {
		l, err := calendar.TargetLine(&ts[i], s.loc, false)
		if err != nil {
			return err
		}
		lines = append(lines, l)
	}
	return s.db.Write(ctx, lines)
}

// DeleteTarget removes the target identified by t's kpi, store, period and start.
func (s *Store) DeleteTarget(ctx context.Context, t calendar.Target) error {
	l, err := calendar.TargetLine(&t, s.loc, true)
	if err != nil {
		return err
	}
	return s.db.Write(ctx, []string{l})
}
