package dashboards

import (
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/stat"
	"github.com/grafana/grafana-foundation-sdk/go/table"
	"github.com/grafana/grafana-foundation-sdk/go/timeseries"

	"github.com/storepulse/storepulse/datasource/pkg/models"
)

// drillDims are the drill-down's filter variables (contract: store, channel,
// category, multi-value with All).
func drillDims() []string { return []string{"store", "channel", "category"} }

// drillVars carries the drill-down's own state into a link to itself.
func drillVars(except string) []string {
	out := []string{"var-kpi=${kpi}", "var-compare=${compare}"}
	for _, d := range drillDims() {
		if d != except {
			out = append(out, "${"+d+":queryparam}")
		}
	}
	return out
}

func (g *gen) drilldown() *dashboardBuilder {
	d := newDashboard(UIDDrilldown, "StorePulse drill-down",
		"The manager's drill-down: one KPI against an earlier period and its expected band, which store, channel or "+
			"category moved it (contribution), the top values, the funnel and the detected anomalies.").
		Time("now-7d", "now").
		Refresh("5m").
		Links(dashboardLinks(UIDDrilldown, drillDims()...)).
		WithVariable(g.kpiVariable(nil, "gmv")).
		WithVariable(compareVariable()).
		WithVariable(dimensionVariable("store", "Store")).
		WithVariable(dimensionVariable("channel", "Channel")).
		WithVariable(dimensionVariable("category", "Category")).
		Annotation(campaignAnnotation(true)).
		Annotation(anomalyAnnotation("Anomalies of the KPI", "${kpi}", []string{"store"}, drillDims()...))

	f := filters(drillDims()...)

	// Row 1: the KPI over the whole range (one number), the KPI against the
	// comparison, the KPI in its expected band.
	d.WithPanel(g.rangeStat(f).Span(4).Height(9))
	d.WithPanel(timeseries.NewPanelBuilder().Title("${kpi:text} against ${compare:text}").
		Description("The KPI (solid), the comparison period drawn on the same time axis (dashed) and the change "+
			"in percent (bars, right axis).").
		Datasource(Datasource()).
		WithTarget(query("A", models.Query{KPI: "${kpi}", Filters: f, Compare: "${compare}",
			CompareOutputs: []string{models.OutputSeries, models.OutputChange}})).
		LineWidth(2).FillOpacity(0).ShowPoints(common.VisibilityModeNever).
		Legend(legend(common.LegendDisplayModeList, common.LegendPlacementBottom)).
		Tooltip(tooltip()).
		OverrideByRegexp(comparisonSeries, append(fixedColor(colorNeutral), dashed())).
		OverrideByRegexp("/ % vs /", props(prop("custom.drawStyle", "bars"), prop("custom.fillOpacity", 40),
			prop("custom.axisPlacement", "right"), prop("unit", "percentunit"),
			prop("color", dashboard.FieldColor{Mode: dashboard.FieldColorModeIdFixed, FixedColor: ptr("purple")}))).
		Span(10).Height(9))
	d.WithPanel(timeseries.NewPanelBuilder().Title("${kpi:text} in its expected band").
		Description("Hourly values against the same hour of the past 6 weeks (their median, campaign hours left "+
			"out) with a band of 3 spreads fitted to the series' own noise. Needs a KPI with hourly buckets: not "+
			"stickiness nor distinct counts filtered by category.").
		Datasource(Datasource()).
		WithTarget(query("A", models.Query{KPI: "${kpi}", Filters: f, Interval: "1h", Anomaly: &models.Anomaly{}})).
		LineWidth(2).FillOpacity(0).ShowPoints(common.VisibilityModeNever).
		Legend(legend(common.LegendDisplayModeList, common.LegendPlacementBottom)).
		Tooltip(tooltip()).
		// The selected KPI's display names are not known here, so the band is
		// two dotted lines rather than a fill (fillBelowTo needs a name).
		OverrideByRegexp("/ expected$/", append(fixedColor(colorNeutral), dashed(), prop("custom.lineWidth", 1))).
		OverrideByRegexp("/ (lower|upper)$/", append(fixedColor(colorBand), prop("custom.lineWidth", 1),
			prop("custom.lineStyle", map[string]any{"fill": "dot"}))).
		OverrideByRegexp("/ anomaly( score)?$/", hidden()).
		Span(10).Height(9))

	// Row 2: contribution by store, channel, category.
	for _, dim := range drillDims() {
		d.WithPanel(g.contributionTable(dim, f).Span(8).Height(8))
	}
	// Row 3: top values.
	for _, dim := range drillDims() {
		d.WithPanel(timeseries.NewPanelBuilder().Title("Top 5 " + plural(dim) + " by ${kpi:text}").
			Description("The 5 " + plural(dim) + " with the largest KPI over the range, in rank order, and the rest " +
				"together as \"other\". Click a series to drill into it.").
			Datasource(Datasource()).
			WithTarget(query("A", models.Query{KPI: "${kpi}", Filters: f, TopN: &models.TopN{N: 5, By: dim}})).
			LineWidth(1).FillOpacity(10).ShowPoints(common.VisibilityModeNever).
			Legend(legend(common.LegendDisplayModeTable, common.LegendPlacementRight)).
			Tooltip(tooltip()).
			DataLinks(links(link("Drill into ${__field.labels."+dim+"}",
				dashURL(UIDDrilldown, append(drillVars(dim), "var-"+dim+"=${__field.labels."+dim+"}")...)))).
			Span(8).Height(8))
	}

	// Row 4: funnel and the anomalies as a table.
	d.WithPanel(table.NewPanelBuilder().Title("Funnel").
		Description("Sessions → add-to-cart → orders → paid orders over the range, with step and overall rates.").
		Datasource(Datasource()).
		WithTarget(query("A", models.Query{Funnel: true, Filters: f})).
		OverrideByName("value", props(prop("custom.cellOptions", map[string]any{"type": "gauge", "mode": "basic"}))).
		Links(links(link("Drill down: sessions", dashURL(UIDDrilldown,
			append([]string{"var-kpi=sessions", "var-compare=${compare}"}, varParams(drillDims()...)...)...)))).
		Span(8).Height(8))
	d.WithPanel(table.NewPanelBuilder().Title("Detected anomalies of ${kpi:text} by store").
		Description("Runs of hours where a store's KPI left its expected band (also shown as red annotations).").
		Datasource(Datasource()).
		WithTarget(Target{RefID: "A", QueryType: models.QueryTypeAnomalies,
			Model: models.Query{KPI: "${kpi}", Filters: f, GroupBy: []string{"store"}, Interval: "1h"}}).
		OverrideByName("timeEnd", props(prop("displayName", "until"))).
		OverrideByName("tags", hiddenColumn()).
		OverrideByName("store", props(prop("links", []dashboard.DashboardLink{{Title: "Drill into ${__data.fields.store}",
			Type: dashboard.DashboardLinkTypeLink, Url: ptr(dashURL(UIDDrilldown, append(drillVars("store"),
				"var-store=${__data.fields.store}")...))}}))).
		Span(16).Height(8))

	// Row 5: insights, the morning briefing's "what changed, why, what to do"
	// for the range's last whole local day.
	d.WithPanel(g.insightsTable().Span(24).Height(9))
	return d
}

// insightsTable is the briefing's "what changed, why, what to do" of the
// range's last whole day (queryType insights): the whole business, or the
// store chosen (several stores are refused: choose one or All).
func (g *gen) insightsTable() *table.PanelBuilder {
	return table.NewPanelBuilder().Title("Insights: what changed on the last day, why, what to do").
		Description("The morning briefing's changes (storepulse-digest, docs/briefing.md) for the last whole local day "+
			"of the range: each KPI that moved beyond its normal range (the day's band and forecast, or flagged hours), "+
			"ranked by its impact in currency, with the dimension value and funnel step that explain it and the "+
			"playbook's suggestion, its owner and rule. An empty table means nothing unusual. The store filter takes "+
			"one store or All. Click a KPI to drill into it against a week earlier.").
		Datasource(Datasource()).
		WithTarget(Target{RefID: "A", QueryType: models.QueryTypeInsights, Model: models.Query{Filters: filters("store")}}).
		OverrideByName("kpi", hiddenColumn()).
		OverrideByName("unit", hiddenColumn()).
		OverrideByName("impactValue", hiddenColumn()).
		OverrideByName("impactUnit", hiddenColumn()).
		OverrideByName("score", hiddenColumn()).
		OverrideByName("link", hiddenColumn()).
		// The row's KPI against a week earlier, the store filter kept (the
		// hidden link column holds the briefing's own link of the day).
		OverrideByName("name", props(prop("links", []dashboard.DashboardLink{{Title: "Drill into ${__data.fields.name}",
			Type: dashboard.DashboardLinkTypeLink, Url: ptr(dashURL(UIDDrilldown, "var-kpi=${__data.fields.kpi}", "var-compare=1w",
				"${store:queryparam}"))}})))
}

// rangeStat is the KPI over the whole time range as one number, computed by
// the plugin (interval range): distinct counts merged over the range, ratios
// as sum/sum. A reduction of daily or monthly buckets in Grafana would count
// a buyer of several months once per month, and average ratios.
func (g *gen) rangeStat(f map[string][]string) *stat.PanelBuilder {
	return stat.NewPanelBuilder().Title("${kpi:text} over the range").
		Description("The KPI over the whole time range, one number computed by the plugin: buyers and other distinct " +
			"counts count each person once however many days they came back, ratios are sums over sums.").
		Datasource(Datasource()).
		WithTarget(query("A", models.Query{KPI: "${kpi}", Filters: f, Interval: models.IntervalRange})).
		ReduceOptions(reduce("", "lastNotNull")).
		GraphMode(common.BigValueGraphModeNone).
		ColorMode(common.BigValueColorModeValue).
		TextMode(common.BigValueTextModeValue).
		JustifyMode(common.BigValueJustifyModeCenter).
		Orientation(common.VizOrientationAuto).
		ColorScheme(fixedScheme(colorNeutral)).
		Thresholds(steps(step(nil, colorNeutral)))
}

// contributionTable ranks the values of dim by their part of the KPI's
// change against the comparison period.
func (g *gen) contributionTable(dim string, f map[string][]string) *table.PanelBuilder {
	return table.NewPanelBuilder().Title("Contribution by "+dim).
		Description("Which "+plural(dim)+" explain the change of the KPI against ${compare:text}: each value's part "+
			"of the change (the parts add up), its share, and for ratios the split into its own rate and its mix. "+
			"Distinct counts and their ratios do not add up across "+plural(dim)+" and are refused.").
		Datasource(Datasource()).
		WithTarget(query("A", models.Query{KPI: "${kpi}", Filters: f, Compare: "${compare}",
			Contribution: &models.Contribution{Dimension: dim}})).
		OverrideByName("share", props(prop("unit", "percentunit"))).
		OverrideByName(dim, props(prop("links", []dashboard.DashboardLink{{Title: "Drill into ${__data.fields." + dim + "}",
			Type: dashboard.DashboardLinkTypeLink, Url: ptr(dashURL(UIDDrilldown, append(drillVars(dim),
				"var-"+dim+"=${__data.fields."+dim+"}")...))}}))).
		Links(links(link("Drill down by "+dim, dashURL(UIDDrilldown, drillVars("")...))))
}

func hiddenColumn() []dashboard.DynamicConfigValue {
	return props(prop("custom.hidden", true))
}

func plural(dim string) string {
	switch dim {
	case "category":
		return "categories"
	}
	return dim + "s"
}
