package dashboards

import (
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/table"
	"github.com/grafana/grafana-foundation-sdk/go/timeseries"

	"github.com/storepulse/storepulse/datasource/pkg/models"
	"github.com/storepulse/storepulse/internal/kpi"
)

// UpliftBaselineDays is the uplift baseline of the campaign dashboard: the
// 28 days before a campaign (other campaigns' days left out), the plugin's
// default written out so the dashboard says what it shows.
const UpliftBaselineDays = models.UpliftDefaultBaselineDays

// upliftKPI keeps the KPIs an uplift is computed for (sums and ratios of
// sums, contract item 4) where higher is better, so that a positive uplift
// can be coloured green.
func upliftKPI(k kpi.KPI) bool {
	return (k.Kind == kpi.KindSum || k.Kind == kpi.KindRatio) && len(k.DistinctKinds()) == 0 &&
		k.Direction == kpi.HigherIsBetter && k.Area != "operational"
}

// creatives are the marketing creatives of the simulator and the ingest API
// (banner, push, SMS); marketing KPIs are grouped by the creative dimension.
func marketingKPIs() []string { return []string{"ctr", "marketing_conversion_rate", "roas"} }

func (g *gen) campaigns() *dashboardBuilder {
	d := newDashboard(UIDCampaigns, "StorePulse campaign rhythm",
		"The promotion calendar as a Gantt chart, each campaign's uplift against its baseline, this campaign "+
			"against the same campaign last year, and how banners, pushes and SMS performed.").
		Time("now-45d", "now+15d").
		Refresh("5m").
		Links(dashboardLinks(UIDCampaigns, "store")).
		WithVariable(g.kpiVariable(upliftKPI, "gmv")).
		WithVariable(dimensionVariable("store", "Store")).
		WithVariable(dimensionVariable("campaign", "Campaign")).
		// compare campaign needs one campaign (or a range overlapping
		// campaigns of one kind): the campaign to hold against last year's.
		WithVariable(singleDimensionVariable("compared", "campaign", "Against last year",
			"The campaign compared with last year's campaign of the same kind")).
		Annotation(campaignAnnotation(true))

	drill := func(id string) string {
		return drillURL(id, append([]string{"var-compare=1w"}, varParams("store")...)...)
	}

	d.WithPanel(g.calendarPanel(true).Title("Campaign calendar").
		Description("Campaigns and their phases (warm-up, pre-sale, peak, after-sales; member-day activities) over the " +
			"range, planned ones included.").
		Links(links(link("Drill down: ${kpi:text}", drill("${kpi}")))).
		Span(24).Height(8))

	up := query("A", models.Query{KPI: "${kpi}", Filters: filters("store", "campaign"),
		Uplift: &models.Uplift{BaselineDays: UpliftBaselineDays}})
	d.WithPanel(table.NewPanelBuilder().Title("Uplift of ${kpi:text} by campaign").
		Description("Per campaign overlapping the range: the KPI per day during the campaign against the 28 days "+
			"before it (other campaigns' days left out), and the uplift = during / baseline − 1.").
		Datasource(Datasource()).WithTarget(up).
		OverrideByName("uplift", props(prop("unit", "percentunit"),
			prop("custom.cellOptions", map[string]any{"type": "color-text"}),
			prop("thresholds", changeThresholds(kpi.HigherIsBetter)),
			prop("color", dashboard.FieldColor{Mode: dashboard.FieldColorModeIdThresholds}))).
		OverrideByName("campaign", props(prop("links", []dashboard.DashboardLink{{
			Title: "This campaign", Type: dashboard.DashboardLinkTypeLink,
			Url: ptr(dashURL(UIDCampaigns, "var-kpi=${kpi}", "${store:queryparam}", "var-campaign=${__data.fields.campaign}")),
		}}))).
		Links(links(link("Drill down: ${kpi:text}", drill("${kpi}")))).
		Span(12).Height(8))

	d.WithPanel(timeseries.NewPanelBuilder().Title("${kpi:text}: ${compared} against the same campaign last year").
		Description("The KPI by day against last year's campaign of the same kind (e.g. this Double Eleven against "+
			"last year's), the earlier period moved by the difference of the campaigns' starts. Choose the campaign "+
			"with \"Against last year\".").
		Datasource(Datasource()).
		WithTarget(query("A", models.Query{KPI: "${kpi}", Interval: models.IntervalDay,
			Filters: map[string][]string{"store": {"$store"}, "campaign": {"$compared"}},
			Compare: models.CompareCampaign, CompareOutputs: []string{models.OutputSeries, models.OutputChange}})).
		LineWidth(2).FillOpacity(0).ShowPoints(common.VisibilityModeNever).
		Legend(legend(common.LegendDisplayModeList, common.LegendPlacementBottom)).
		Tooltip(tooltip()).
		OverrideByRegexp(comparisonSeries, append(fixedColor(colorNeutral), dashed())).
		OverrideByRegexp("/ % vs /", props(prop("custom.drawStyle", "bars"), prop("custom.fillOpacity", 40),
			prop("custom.axisPlacement", "right"), prop("unit", "percentunit"))).
		Links(links(link("Drill down: ${kpi:text} against the same campaign last year",
			drillURL("${kpi}", append([]string{"var-compare=campaign"}, varParams("store")...)...)))).
		Span(12).Height(8))

	for _, id := range marketingKPIs() {
		k := g.kpi(id)
		d.WithPanel(timeseries.NewPanelBuilder().Title(k.Name + " by creative").
			Description(k.Description + " Per creative (banner, push, SMS) and day.").
			Datasource(Datasource()).
			WithTarget(query("A", models.Query{KPI: id, Filters: filters("store", "campaign"),
				GroupBy: []string{"creative"}, Interval: models.IntervalDay})).
			LineWidth(2).FillOpacity(0).ShowPoints(common.VisibilityModeAlways).PointSize(4).
			Legend(legend(common.LegendDisplayModeList, common.LegendPlacementBottom)).
			Tooltip(tooltip()).
			Links(links(link("Drill down: "+k.Name, drill(id)))).
			Span(8).Height(8))
	}

	roas := g.kpi("roas")
	d.WithPanel(g.contributionTableFixed("roas", "creative", filters("store", "campaign"), models.ComparePrevious).
		Title(roas.Name + " by creative against the previous period").
		Links(links(link("Drill down: "+roas.Name, drill("roas")))).
		Span(12).Height(8))

	counts := timeseries.NewPanelBuilder().Title("Clicks and conversions by creative").
		Description("Clicks and attributed conversions of banners, pushes and SMS per day.").
		Datasource(Datasource()).
		LineWidth(1).FillOpacity(60).DrawStyle(common.GraphDrawStyleBars).
		Stacking(common.NewStackingConfigBuilder().Mode(common.StackingModeNormal).Group("A")).
		Legend(legend(common.LegendDisplayModeList, common.LegendPlacementBottom)).
		Tooltip(tooltip()).
		Links(links(link("Drill down: clicks", drill("clicks"))))
	for i, id := range []string{"clicks", "marketing_conversions"} {
		g.kpi(id)
		counts.WithTarget(query(string(rune('A'+i)), models.Query{KPI: id, Filters: filters("store", "campaign"),
			GroupBy: []string{"creative"}, Interval: models.IntervalDay}))
	}
	d.WithPanel(counts.Span(12).Height(8))
	return d
}

// contributionTableFixed is a contribution table of a fixed KPI and
// comparison: over the range, exact per value (sums added, ratios sum/sum),
// which a Grafana reduction of daily ratios would not be.
func (g *gen) contributionTableFixed(id, dim string, f map[string][]string, compare string) *table.PanelBuilder {
	k := g.kpi(id)
	return table.NewPanelBuilder().
		Description(k.Name+" per "+dim+" over the range (current) and the previous period, with each value's part "+
			"of the change.").
		Datasource(Datasource()).
		WithTarget(query("A", models.Query{KPI: id, Filters: f, Compare: compare,
			Contribution: &models.Contribution{Dimension: dim}})).
		OverrideByName("share", props(prop("unit", "percentunit"))).
		OverrideByName("change", props(prop("custom.cellOptions", map[string]any{"type": "color-text"}),
			prop("thresholds", dashboard.ThresholdsConfig{Mode: dashboard.ThresholdsModeAbsolute,
				Steps: directionSteps(k.Direction)}),
			prop("color", dashboard.FieldColor{Mode: dashboard.FieldColorModeIdThresholds})))
}

// directionSteps colour an absolute change by sign: growth is good for a
// higher-is-better KPI and bad for a lower-is-better one.
func directionSteps(d kpi.Direction) []dashboard.Threshold {
	if d == kpi.LowerIsBetter {
		return []dashboard.Threshold{step(nil, colorGood), step(ptr(0.0), colorBad)}
	}
	return []dashboard.Threshold{step(nil, colorBad), step(ptr(0.0), colorGood)}
}
