package dashboards

import (
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/stat"
	"github.com/grafana/grafana-foundation-sdk/go/table"
	"github.com/grafana/grafana-foundation-sdk/go/timeseries"

	"github.com/storepulse/storepulse/datasource/pkg/models"
)

// lifecycleFrom is the life-cycle panels' own range. The transform needs 8
// whole weeks besides the weeks of campaign pre-sales and peaks, which it
// leaves out (Double Eleven's take 4 to 5 weeks, 618's 4), and reads the
// trend of up to 16: 20 weeks keep enough in any season.
const lifecycleFrom = "now-20w/w"

// marketDims are the market dashboard's filter variables.
func marketDims() []string { return []string{"store", "category"} }

func (g *gen) market() *dashboardBuilder {
	d := newDashboard(UIDMarket, "StorePulse market and products",
		"Our prices against competitors' by category and competitor, and the life-cycle stage of each category "+
			"(introduction, growth, maturity, decline) from its sales trend.").
		Time("now-90d/d", "now").
		Refresh("15m").
		Links(dashboardLinks(UIDMarket, marketDims()...)).
		WithVariable(dimensionVariable("store", "Store")).
		WithVariable(dimensionVariable("category", "Category")).
		Annotation(campaignAnnotation(true))

	f := filters(marketDims()...)
	pi := g.kpi("price_index")
	drill := func(id string, extra ...string) string {
		return drillURL(id, append(append([]string{"var-compare=4w"}, varParams(marketDims()...)...), extra...)...)
	}
	// Price index: 1 means our price equals the competitor's; above is dearer
	// (lower is better), so the threshold line sits at 1.
	piThresholds := steps(step(nil, colorGood), step(ptr(1.0), colorBad))

	d.WithPanel(timeseries.NewPanelBuilder().Title(pi.Name + " by category").
		Description(pi.Description + " Above 1 we are dearer than the competitors observed.").
		Datasource(Datasource()).
		WithTarget(query("A", models.Query{KPI: pi.ID, Filters: f, GroupBy: []string{"category"}, Interval: models.IntervalDay})).
		LineWidth(1).FillOpacity(0).ShowPoints(common.VisibilityModeNever).
		Thresholds(piThresholds).
		ThresholdsStyle(common.NewGraphThresholdsStyleConfigBuilder().Mode(common.GraphThresholdsStyleModeDashed)).
		Legend(legend(common.LegendDisplayModeTable, common.LegendPlacementRight)).
		Tooltip(tooltip()).
		DataLinks(links(link("Drill into ${__field.labels.category}",
			drillURL(pi.ID, "var-compare=4w", "${store:queryparam}", "var-category=${__field.labels.category}")))).
		Span(16).Height(9))
	d.WithPanel(timeseries.NewPanelBuilder().Title(pi.Name + " by competitor").
		Description("Our price index against each competitor observed, per day.").
		Datasource(Datasource()).
		WithTarget(query("A", models.Query{KPI: pi.ID, Filters: f, GroupBy: []string{"competitor"}, Interval: models.IntervalDay})).
		LineWidth(2).FillOpacity(0).ShowPoints(common.VisibilityModeNever).
		Thresholds(piThresholds).
		ThresholdsStyle(common.NewGraphThresholdsStyleConfigBuilder().Mode(common.GraphThresholdsStyleModeDashed)).
		Legend(legend(common.LegendDisplayModeList, common.LegendPlacementBottom)).
		Tooltip(tooltip()).
		Links(links(link("Drill down: "+pi.Name, drill(pi.ID)))).
		Span(8).Height(9))

	d.WithPanel(g.contributionTableFixed(pi.ID, "category", f, models.Compare4w).
		Title(pi.Name+" by category against 4 weeks before").
		OverrideByName("current", props(prop("custom.cellOptions", map[string]any{"type": "color-text"}),
			prop("thresholds", dashboard.ThresholdsConfig{Mode: dashboard.ThresholdsModeAbsolute,
				Steps: []dashboard.Threshold{step(nil, colorGood), step(ptr(1.0), colorBad)}}),
			prop("color", dashboard.FieldColor{Mode: dashboard.FieldColorModeIdThresholds}))).
		OverrideByName("category", props(prop("links", []dashboard.DashboardLink{{Title: "Drill into ${__data.fields.category}",
			Type: dashboard.DashboardLinkTypeLink,
			Url:  ptr(drillURL(pi.ID, "var-compare=4w", "${store:queryparam}", "var-category=${__data.fields.category}"))}}))).
		Links(links(link("Drill down: "+pi.Name, drill(pi.ID)))).
		Span(12).Height(8))

	gmv := g.kpi("gmv")
	lc := Target{RefID: "A", QueryType: models.QueryTypeKPI,
		Model: models.Query{KPI: gmv.ID, Filters: filters("store"), GroupBy: []string{"category"}, Lifecycle: true}}
	d.WithPanel(table.NewPanelBuilder().Title("Life-cycle stage by category").
		Description("Each category's stage from the trend of its weekly GMV over the last 20 weeks (campaign pre-sale "+
			"and peak weeks left out): introduction, growth, maturity or decline; growth is the weekly trend, value "+
			"and share the last 4 weeks.").
		Datasource(Datasource()).WithTarget(lc).
		TimeFrom(lifecycleFrom).
		OverrideByName("stage", props(prop("mappings", lifecycleMappings()),
			prop("custom.cellOptions", map[string]any{"type": "color-background"}))).
		OverrideByName("stage_code", hiddenColumn()).
		OverrideByName("growth", props(prop("unit", "percentunit"))).
		OverrideByName("share", props(prop("unit", "percentunit"))).
		OverrideByName("category", props(prop("links", []dashboard.DashboardLink{{Title: "Drill into ${__data.fields.category}",
			Type: dashboard.DashboardLinkTypeLink,
			Url:  ptr(drillURL(gmv.ID, "var-compare=4w", "${store:queryparam}", "var-category=${__data.fields.category}"))}}))).
		Links(links(link("Drill down: GMV by category", drill(gmv.ID)))).
		Span(12).Height(8))

	d.WithPanel(stat.NewPanelBuilder().Title("Life-cycle stages").
		Orientation(common.VizOrientationAuto).
		Description("One tile per category, coloured by its stage.").
		Datasource(Datasource()).WithTarget(lc).
		TimeFrom(lifecycleFrom).HideTimeOverride(true).
		// Each row's tile is named after its other string fields: keep only
		// the category.
		WithTransformation(dashboard.DataTransformerConfig{Id: "organize", Options: map[string]any{
			"excludeByName": map[string]bool{"stage": true, "growth": true, "value": true, "share": true}}}).
		ReduceOptions(common.NewReduceDataOptionsBuilder().Values(true).Fields("/^stage_code$/").Calcs([]string{"lastNotNull"})).
		Mappings(lifecycleMappings()).
		ColorScheme(dashboard.NewFieldColorBuilder().Mode(dashboard.FieldColorModeIdThresholds)).
		Thresholds(steps(step(nil, colorNeutral))).
		GraphMode(common.BigValueGraphModeNone).
		ColorMode(common.BigValueColorModeBackground).
		TextMode(common.BigValueTextModeValueAndName).
		Links(links(link("Drill down: GMV by category", drill(gmv.ID)))).
		Span(12).Height(8))
	d.WithPanel(timeseries.NewPanelBuilder().Title("GMV by category per week").
		Description("Weekly GMV of each category: the sales trend the life-cycle stages come from.").
		Datasource(Datasource()).
		WithTarget(query("A", models.Query{KPI: gmv.ID, Filters: f, GroupBy: []string{"category"}, Interval: models.IntervalWeek})).
		LineWidth(2).FillOpacity(0).ShowPoints(common.VisibilityModeAlways).PointSize(4).
		Legend(legend(common.LegendDisplayModeTable, common.LegendPlacementRight)).
		Tooltip(tooltip()).
		DataLinks(links(link("Drill into ${__field.labels.category}",
			drillURL(gmv.ID, "var-compare=4w", "${store:queryparam}", "var-category=${__field.labels.category}")))).
		Span(12).Height(8))
	return d
}
