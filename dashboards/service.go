package dashboards

import (
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/piechart"
	"github.com/grafana/grafana-foundation-sdk/go/timeseries"

	"github.com/storepulse/storepulse/datasource/pkg/models"
)

// serviceDims are the service dashboard's filter variables.
func serviceDims() []string { return []string{"store", "channel"} }

func (g *gen) service() *dashboardBuilder {
	d := newDashboard(UIDService, "StorePulse service and after-sales",
		"Customer service and after-sales: consultations and their conversion, first response time by store, "+
			"after-sales tickets and resolution time, refund rate and refund reasons.").
		Time("now-7d/d", "now").
		Refresh("5m").
		Links(dashboardLinks(UIDService, serviceDims()...)).
		WithVariable(dimensionVariable("store", "Store")).
		WithVariable(dimensionVariable("channel", "Channel")).
		Annotation(campaignAnnotation(true)).
		Annotation(anomalyAnnotation("Refund rate anomalies", "refund_rate", []string{"store"}, serviceDims()...))

	f := filters(serviceDims()...)
	drill := func(id string, extra ...string) string {
		return drillURL(id, append(append([]string{"var-compare=1w"}, varParams(serviceDims()...)...), extra...)...)
	}

	// Row 1: consultations and their conversion; conversion by store.
	cons, conv := g.kpi("consultations"), g.kpi("consultation_conversion")
	d.WithPanel(timeseries.NewPanelBuilder().Title("Consultations and consultation conversion").
		Description("Consultations per day (bars) and the share followed by an order (line, right axis), against "+
			"the week before (dashed).").
		Datasource(Datasource()).
		WithTarget(query("A", models.Query{KPI: cons.ID, Filters: f, Interval: models.IntervalDay})).
		WithTarget(query("B", models.Query{KPI: conv.ID, Filters: f, Interval: models.IntervalDay,
			Compare: models.Compare1w, CompareOutputs: []string{models.OutputSeries}})).
		LineWidth(2).FillOpacity(0).ShowPoints(common.VisibilityModeAlways).PointSize(4).
		Legend(legend(common.LegendDisplayModeList, common.LegendPlacementBottom)).
		Tooltip(tooltip()).
		OverrideByName(cons.Name, props(prop("custom.drawStyle", "bars"), prop("custom.fillOpacity", 50))).
		OverrideByRegexp("/^"+conv.Name+"/", props(prop("custom.axisPlacement", "right"))).
		OverrideByRegexp(comparisonSeries, append(fixedColor(colorNeutral), dashed())).
		Links(links(link("Drill down: "+conv.Name, drill(conv.ID)))).
		Span(12).Height(8))
	d.WithPanel(g.contributionTableFixed(conv.ID, "store", f, models.Compare1w).
		Title(conv.Name + " by store against the week before").
		Links(links(link("Drill down: "+conv.Name, drill(conv.ID)))).
		Span(12).Height(8))

	// Row 2: first response time by store (series and over the range).
	frt := g.kpi("first_response_time")
	d.WithPanel(timeseries.NewPanelBuilder().Title(frt.Name + " by store").
		Description(frt.Description + " Per store and hour; lower is better.").
		Datasource(Datasource()).
		WithTarget(query("A", models.Query{KPI: frt.ID, Filters: f, GroupBy: []string{"store"}, Interval: "1h"})).
		LineWidth(1).FillOpacity(0).ShowPoints(common.VisibilityModeNever).
		Legend(legend(common.LegendDisplayModeTable, common.LegendPlacementRight)).
		Tooltip(tooltip()).
		DataLinks(links(link("Drill into ${__field.labels.store}", drill(frt.ID, "var-store=${__field.labels.store}")))).
		Span(12).Height(8))
	d.WithPanel(g.contributionTableFixed(frt.ID, "store", f, models.Compare1w).
		Title(frt.Name + " by store against the week before").
		Links(links(link("Drill down: "+frt.Name, drill(frt.ID)))).
		Span(12).Height(8))

	// Row 3: tickets opened and resolved; resolution time by store.
	opened, resolved, rt := g.kpi("after_sales_tickets"), g.kpi("tickets_resolved"), g.kpi("resolution_time")
	d.WithPanel(timeseries.NewPanelBuilder().Title("After-sales tickets").
		Description("Tickets opened and resolved per day.").
		Datasource(Datasource()).
		WithTarget(query("A", models.Query{KPI: opened.ID, Filters: f, Interval: models.IntervalDay})).
		WithTarget(query("B", models.Query{KPI: resolved.ID, Filters: f, Interval: models.IntervalDay})).
		DrawStyle(common.GraphDrawStyleBars).FillOpacity(60).LineWidth(1).
		Legend(legend(common.LegendDisplayModeList, common.LegendPlacementBottom)).
		Tooltip(tooltip()).
		OverrideByName(opened.Name, fixedColor(colorWarn)).
		OverrideByName(resolved.Name, fixedColor(colorGood)).
		Links(links(link("Drill down: "+opened.Name, drill(opened.ID)))).
		Span(12).Height(8))
	d.WithPanel(timeseries.NewPanelBuilder().Title(rt.Name + " by store").
		Description(rt.Description + " Per store and day; lower is better.").
		Datasource(Datasource()).
		WithTarget(query("A", models.Query{KPI: rt.ID, Filters: f, GroupBy: []string{"store"}, Interval: models.IntervalDay})).
		LineWidth(2).FillOpacity(0).ShowPoints(common.VisibilityModeAlways).PointSize(4).
		Legend(legend(common.LegendDisplayModeTable, common.LegendPlacementRight)).
		Tooltip(tooltip()).
		DataLinks(links(link("Drill into ${__field.labels.store}", drill(rt.ID, "var-store=${__field.labels.store}")))).
		Span(12).Height(8))

	// Row 4: refund rate, refund rate by store, refund reasons.
	rr, refunds := g.kpi("refund_rate"), g.kpi("refunds")
	d.WithPanel(timeseries.NewPanelBuilder().Title(rr.Name+" against the week before").
		Description(rr.Description+" Per day; lower is better.").
		Datasource(Datasource()).
		WithTarget(query("A", models.Query{KPI: rr.ID, Filters: f, Interval: models.IntervalDay,
			Compare: models.Compare1w, CompareOutputs: []string{models.OutputSeries}})).
		LineWidth(2).FillOpacity(0).ShowPoints(common.VisibilityModeAlways).PointSize(4).
		Legend(legend(common.LegendDisplayModeList, common.LegendPlacementBottom)).
		Tooltip(tooltip()).
		OverrideByRegexp(comparisonSeries, append(fixedColor(colorNeutral), dashed())).
		Links(links(link("Drill down: "+rr.Name, drill(rr.ID)))).
		Span(8).Height(8))
	d.WithPanel(g.contributionTableFixed(rr.ID, "store", f, models.Compare1w).
		Title(rr.Name + " by store against the week before").
		Links(links(link("Drill down: "+rr.Name, drill(rr.ID)))).
		Span(8).Height(8))
	d.WithPanel(piechart.NewPanelBuilder().Title("Refund reasons").
		Description("Refunds over the range by the reason given.").
		Datasource(Datasource()).
		// One value per reason for the whole range, computed by the plugin.
		WithTarget(query("A", models.Query{KPI: refunds.ID, Filters: f, GroupBy: []string{"reason"}, Interval: models.IntervalRange})).
		ReduceOptions(reduce("", "lastNotNull")).
		DisplayName("${__field.labels.reason}").
		PieType(piechart.PieChartTypeDonut).
		Tooltip(tooltip()).
		Orientation(common.VizOrientationAuto).
		DisplayLabels([]piechart.PieChartLabels{piechart.PieChartLabelsPercent}).
		Legend(piechart.NewPieChartLegendOptionsBuilder().DisplayMode(common.LegendDisplayModeTable).
			Placement(common.LegendPlacementRight).ShowLegend(true).Values([]piechart.PieChartLegendValues{piechart.PieChartLegendValuesValue})).
		Links(links(link("Drill down: "+refunds.Name, drill(refunds.ID)))).
		Span(8).Height(8))
	return d
}
