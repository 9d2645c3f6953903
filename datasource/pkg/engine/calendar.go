package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/influxdata/influxdb-client-go/v2/api/query"

	"github.com/storepulse/storepulse/internal/calendar"
	"github.com/storepulse/storepulse/internal/schema"
)

// TargetFlux reads the targets of a TargetSpec, one row per stored point
// with its fields pivoted into columns (value, deleted).
func TargetFlux(bucket string, spec TargetSpec) string {
	var b strings.Builder
	fmt.Fprintf(&b, "from(bucket: %s)\n", FluxString(bucket))
	fmt.Fprintf(&b, "  |> range(start: %s, stop: %s)\n", fluxTime(spec.Start), fluxTime(spec.Stop))
	fmt.Fprintf(&b, "  |> filter(fn: (r) => r._measurement == %s and r.%s == %s and r.%s == %s)\n",
		FluxString(schema.MeasTarget), schema.TagKPI, FluxString(spec.KPI), schema.TagPeriod, FluxString(spec.Period))
	if len(spec.Stores) > 0 {
		fmt.Fprintf(&b, "  |> filter(fn: (r) => %s)\n", oneOf("r."+schema.TagStore, spec.Stores))
	}
	b.WriteString("  |> pivot(rowKey: [\"_time\"], columnKey: [\"_field\"], valueColumn: \"_value\")\n")
	return b.String()
}

// CampaignFlux reads every stored campaign point (a campaign is stored at its
// first phase's start, so a range query could miss one that began earlier).
func CampaignFlux(bucket string) string {
	return fmt.Sprintf("from(bucket: %s)\n  |> range(start: 1970-01-01T00:00:00Z, stop: 2200-01-01T00:00:00Z)\n"+
		"  |> filter(fn: (r) => r._measurement == %s)\n"+
		"  |> pivot(rowKey: [\"_time\"], columnKey: [\"_field\"], valueColumn: \"_value\")\n",
		FluxString(bucket), FluxString(schema.MeasCampaign))
}

// Targets implements CalendarSource.
func (s *InfluxSource) Targets(ctx context.Context, spec TargetSpec) ([]TargetRow, error) {
	var out []TargetRow
	err := s.run(ctx, "reading targets", TargetFlux(s.Bucket, spec), func(rec *query.FluxRecord) error {
		v := rec.Values()
		if deleted, _ := v[schema.FieldDeleted].(bool); deleted {
			return nil
		}
		val, ok := number(v[schema.FieldValue])
		if !ok {
			return nil
		}
		store, _ := v[schema.TagStore].(string)
		out = append(out, TargetRow{Time: rec.Time().In(time.UTC), Store: store, Value: val})
		return nil
	})
	return out, err
}

// Campaigns implements CalendarSource: the live campaigns ordered by start, id.
func (s *InfluxSource) Campaigns(ctx context.Context) ([]calendar.Campaign, error) {
	var out []calendar.Campaign
	err := s.run(ctx, "reading campaigns", CampaignFlux(s.Bucket), func(rec *query.FluxRecord) error {
		v := rec.Values()
		if deleted, _ := v[schema.FieldDeleted].(bool); deleted {
			return nil
		}
		def, _ := v[schema.FieldDefinition].(string)
		var c calendar.Campaign
		if err := json.Unmarshal([]byte(def), &c); err != nil {
			return backend.DownstreamError(fmt.Errorf("InfluxDB: the stored definition of campaign %v is not valid JSON: %w", v[schema.TagCampaign], err))
		}
		out = append(out, c)
		return nil
	})
	SortCampaigns(out)
	return out, err
}

// SortCampaigns orders campaigns by start, then id.
func SortCampaigns(cs []calendar.Campaign) {
	slices.SortStableFunc(cs, func(a, b calendar.Campaign) int {
		if c := a.Start().Compare(b.Start()); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
}
