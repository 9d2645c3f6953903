package plugin

import (
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/storepulse/storepulse/datasource/pkg/engine"
	"github.com/storepulse/storepulse/datasource/pkg/models"
	"github.com/storepulse/storepulse/internal/kpi"
)

// compareDisplay is what a comparison output adds to a series' display
// name: "(1w earlier)", "Δ 1w", "% vs 1w"; for compare campaign "(same
// campaign last year)", "Δ same campaign last year", "% vs same campaign
// last year".
func compareDisplay(compare, role string) string {
	what := compare
	if compare == models.CompareCampaign {
		what = "same campaign last year"
	}
	switch role {
	case engine.RoleCompare:
		if compare == models.CompareCampaign {
			return " (" + what + ")"
		}
		return " (" + what + " earlier)"
	case engine.RoleDelta:
		return " Δ " + what
	case engine.RoleChange:
		return " % vs " + what
	}
	return ""
}

// upliftFrame is a table of the campaigns of an uplift query: campaign,
// name, kind, start, end, one column per groupBy dimension, then during,
// baseline (the KPI per day, in its unit) and uplift (a fraction).
func upliftFrame(res *engine.UpliftResult, currency string) *data.Frame {
	n := len(res.Rows)
	ids, names, kinds := make([]string, n), make([]string, n), make([]string, n)
	starts, ends := make([]time.Time, n), make([]time.Time, n)
	during, baseline, uplift := make([]*float64, n), make([]*float64, n), make([]*float64, n)
	groups := make([][]string, len(res.GroupBy))
	for g := range groups {
		groups[g] = make([]string, n)
	}
	for i, r := range res.Rows {
		ids[i], names[i], kinds[i] = r.Campaign.ID, r.Campaign.Name, r.Campaign.Kind
		starts[i], ends[i] = r.Campaign.Start(), r.Campaign.End()
		during[i], baseline[i], uplift[i] = r.During, r.Baseline, r.Uplift
		for g := range res.GroupBy {
			groups[g][i] = withoutNone(r.Groups[g])
		}
	}
	unit := GrafanaUnit(res.KPI.Unit, currency)
	perDay := res.KPI.Name
	if res.KPI.Kind == kpi.KindSum {
		perDay += " per day"
	}
	f := data.NewFrame("uplift",
		data.NewField("campaign", nil, ids), data.NewField("name", nil, names), data.NewField("kind", nil, kinds),
		data.NewField("start", nil, starts), data.NewField("end", nil, ends))
	for g, dim := range res.GroupBy {
		f.Fields = append(f.Fields, data.NewField(dim, nil, groups[g]))
	}
	f.Fields = append(f.Fields,
		data.NewField("during", nil, during).SetConfig(&data.FieldConfig{DisplayNameFromDS: perDay + " during", Unit: unit}),
		data.NewField("baseline", nil, baseline).SetConfig(&data.FieldConfig{DisplayNameFromDS: perDay + " before (baseline)", Unit: unit}),
		data.NewField("uplift", nil, uplift).SetConfig(&data.FieldConfig{DisplayNameFromDS: "Uplift", Unit: "percentunit"}),
	)
	f.SetMeta(&data.FrameMeta{Type: data.FrameTypeTable, Custom: map[string]any{
		"kpi": res.KPI.ID, "kind": string(res.KPI.Kind), "baselineDays": res.BaselineDays,
	}})
	return f
}
