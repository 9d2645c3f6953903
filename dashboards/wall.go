package dashboards

import (
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/stat"
	"github.com/grafana/grafana-foundation-sdk/go/statetimeline"
	"github.com/grafana/grafana-foundation-sdk/go/timeseries"

	"github.com/storepulse/storepulse/datasource/pkg/models"
	"github.com/storepulse/storepulse/internal/kpi"
)

// Wall screen layout: a TV at 1920×1080 in kiosk mode shows WallRows grid
// rows without scrolling (see WallFits).
const (
	// WallKioskURL opens the wall screen as the director's TV shows it.
	WallKioskURL = "/d/" + UIDWall + "?kiosk&theme=dark"
	// sparkFrom is the big numbers' own time range: the last 7 local days
	// including today, so that the sparkline shows a week's trend and the
	// last value is today so far (daily buckets of the store time zone).
	sparkFrom = "now-6d/d"
	// calendarFrom shows the campaigns of the past week up to today.
	calendarFrom = "now-6d/d"
)

// Freshness thresholds in seconds (contract item 5; the alert rule fires
// above 900 s): green below 5 minutes, amber up to 15, red beyond.
const (
	FreshAmberSeconds = 300
	FreshRedSeconds   = 900
)

// wallTargetKPIs are the big numbers with daily targets (the simulator's
// targets, ingest/sim/targets.go; the calendar API accepts any KPI).
func wallTargetKPIs() []string { return []string{"gmv", "paid_revenue", "orders", "new_users"} }

// wallRatioKPIs are the other big numbers.
func wallRatioKPIs() []string {
	return []string{"conversion_rate", "aov", "active_users", "refund_rate", "consultation_conversion"}
}

func (g *gen) wall() *dashboardBuilder {
	d := newDashboard(UIDWall, "StorePulse wall screen",
		"The director's wall screen: today so far against the same time last week and today's target, the forecast "+
			"of the day, the trend in its expected band, the campaign calendar and data freshness. Made for a TV in "+
			"kiosk mode at 1920×1080: "+WallKioskURL+". Every panel opens the drill-down.").
		// The whole local day rather than "today so far": the forecast draws
		// its path to midnight, and every panel stops at now anyway (the
		// plugin leaves buckets after now out).
		Time("now/d", "now/d").
		Refresh("30s").
		Timepicker(dashboard.NewTimePickerBuilder().RefreshIntervals([]string{"30s", "1m", "5m"})).
		Links(dashboardLinks(UIDWall)).
		Annotation(campaignAnnotation(false)).
		Annotation(anomalyAnnotation("GMV anomalies", "gmv", nil))

	// Row 1: big numbers with targets (w 6 × 4), row 2: the others (w 5,5,5,5,4).
	for _, id := range wallTargetKPIs() {
		d.WithPanel(g.bigNumber(id, true).Span(6).Height(6))
	}
	for i, id := range wallRatioKPIs() {
		w := uint32(5)
		if i == len(wallRatioKPIs())-1 {
			w = 4
		}
		d.WithPanel(g.bigNumber(id, false).Span(w).Height(5))
	}
	// Row 3: the trend in its band, the day's forecast, expected end of day.
	d.WithPanel(g.anomalyTrend("gmv").Span(10).Height(9))
	d.WithPanel(g.forecastTrend("gmv").Span(9).Height(9))
	d.WithPanel(g.forecastStat("gmv").Span(5).Height(9))
	// Row 4: campaign calendar and data freshness.
	d.WithPanel(g.wallCalendar().Span(14).Height(7))
	d.WithPanel(g.freshness().Span(10).Height(7))
	return d
}

// bigNumber is a stat of one KPI: today so far (last daily bucket) with a
// sparkline of the week, the change against the same time last week
// coloured by the KPI's direction and, with targets, the share of today's
// target reached so far. One query: day buckets are exact for every kind of
// KPI (ratios sum/sum, distinct counts merged), which a reduction of hourly
// buckets in Grafana would not be.
func (g *gen) bigNumber(id string, withTarget bool) *stat.PanelBuilder {
	k := g.kpi(id)
	m := models.Query{KPI: id, Interval: models.IntervalDay, Compare: models.Compare1w,
		CompareOutputs: []string{models.OutputChange}, Target: withTarget}
	change := changeName(k, models.Compare1w)
	shown := []string{k.Name, change}
	desc := k.Description + " Big number: today so far; below it the change against the same time last week"
	if withTarget {
		shown = append(shown, outputName(k, "attainment"))
		desc += " and the share of today's target reached so far"
	}
	desc += ". Sparklines: the last 7 days. Click for the drill-down."
	p := stat.NewPanelBuilder().Title(k.Name).Description(desc).Datasource(Datasource()).
		WithTarget(query("A", m)).
		TimeFrom(sparkFrom).HideTimeOverride(true).
		// "last", not "lastNotNull": shortly after midnight today may have no
		// value yet, and yesterday's must not be shown as today's.
		ReduceOptions(reduce(jsRegex(shown...), "last")).
		GraphMode(common.BigValueGraphModeArea).
		ColorMode(common.BigValueColorModeValue).
		TextMode(common.BigValueTextModeValueAndName).
		JustifyMode(common.BigValueJustifyModeCenter).
		Orientation(common.VizOrientationHorizontal).
		ColorScheme(fixedScheme(colorNeutral)).
		Thresholds(steps(step(nil, colorNeutral))).
		OverrideByName(change, append(byDirection(k.Direction), prop("displayName", "vs last week"))).
		Links(links(link("Drill down: "+k.Name, drillURL(id, "var-compare=1w")))).
		DataLinks(links(link("Drill down: "+k.Name, drillURL(id, "var-compare=1w"))))
	if withTarget {
		p.OverrideByName(outputName(k, "attainment"), append(fixedColor(colorInfo), prop("displayName", "of today's target")))
	}
	return p
}

// anomalyTrend is the KPI by hour today in its expected band (the anomaly
// transform: median of the same hour of past weeks ± k spreads).
func (g *gen) anomalyTrend(id string) *timeseries.PanelBuilder {
	k := g.kpi(id)
	m := models.Query{KPI: id, Interval: "1h", Anomaly: &models.Anomaly{}}
	return g.bandPanel(k, query("A", m), drillURL(id, "var-compare=1w")).
		Title(k.Name + " by hour, in its expected band").
		Description("The hourly " + k.Name + " against what the same hour of the past 6 weeks leads to expect " +
			"(their median, campaign hours left out) and a band of 3 spreads fitted to the series' own noise. " +
			"Red marks: detected anomalies (two neighbouring hours beyond the band).")
}

// bandPanel draws a KPI with its anomaly outputs: expected dashed, lower and
// upper as a filled band, score and flag hidden (anomalies are annotations).
func (g *gen) bandPanel(k kpi.KPI, q Target, drill string) *timeseries.PanelBuilder {
	return timeseries.NewPanelBuilder().Datasource(Datasource()).WithTarget(q).
		LineWidth(2).FillOpacity(0).ShowPoints(common.VisibilityModeNever).
		Legend(legend(common.LegendDisplayModeList, common.LegendPlacementBottom)).
		Tooltip(tooltip()).
		OverrideByRegexp("/ expected$/", append(fixedColor(colorNeutral), dashed(), prop("custom.lineWidth", 1))).
		OverrideByRegexp("/ upper$/", append(fixedColor(colorBand),
			prop("custom.lineWidth", 0), prop("custom.fillOpacity", 15), prop("custom.fillBelowTo", outputName(k, "lower")))).
		OverrideByRegexp("/ lower$/", append(fixedColor(colorBand), prop("custom.lineWidth", 0),
			prop("custom.hideFrom", map[string]bool{"viz": false, "legend": true, "tooltip": false}))).
		OverrideByRegexp("/ anomaly( score)?$/", hidden()).
		Links(links(link("Drill down: "+k.Name, drill))).
		DataLinks(links(link("Drill down: "+k.Name, drill)))
}

// forecastQuery is contract item 1: the cumulative actual of today, the
// projected path to the end of the day with its 80 % band, and the target.
func forecastQuery(id string) Target {
	return query("A", models.Query{KPI: id, Forecast: &models.Forecast{Horizon: models.HorizonDay}})
}

// forecastTrend draws today's cumulative KPI and its projection over the
// whole local day (the wall's time range).
func (g *gen) forecastTrend(id string) *timeseries.PanelBuilder {
	k := g.kpi(id)
	drill := drillURL(id, "var-compare=1w")
	return timeseries.NewPanelBuilder().Title(k.Name+" today: forecast against target").
		Description("Cumulative "+k.Name+" since midnight, the projected path to the end of the day (Holt-Winters on "+
			"the store's own history) with its 80 % band, and today's target.").
		Datasource(Datasource()).WithTarget(forecastQuery(id)).
		LineWidth(2).FillOpacity(0).ShowPoints(common.VisibilityModeNever).
		Legend(legend(common.LegendDisplayModeList, common.LegendPlacementBottom)).
		Tooltip(tooltip()).
		OverrideByRegexp("/ actual$/", fixedColor(colorInfo)).
		OverrideByRegexp("/ forecast$/", append(fixedColor("yellow"), dashed())).
		OverrideByRegexp("/ forecast upper$/", append(fixedColor("yellow"),
			prop("custom.lineWidth", 0), prop("custom.fillOpacity", 15), prop("custom.fillBelowTo", outputName(k, "forecast lower")))).
		OverrideByRegexp("/ forecast lower$/", append(fixedColor("yellow"), prop("custom.lineWidth", 0),
			prop("custom.hideFrom", map[string]bool{"viz": false, "legend": true, "tooltip": false}))).
		OverrideByRegexp("/ target$/", append(fixedColor(colorGood), dashed())).
		Links(links(link("Drill down: "+k.Name, drill))).
		DataLinks(links(link("Drill down: "+k.Name, drill)))
}

// forecastStat is the expected end-of-day value next to today's target.
func (g *gen) forecastStat(id string) *stat.PanelBuilder {
	k := g.kpi(id)
	drill := drillURL(id, "var-compare=1w")
	return stat.NewPanelBuilder().Title(k.Name+": expected end of day").
		Description("The last point of the forecast (expected "+k.Name+" at midnight) and today's target.").
		Datasource(Datasource()).WithTarget(forecastQuery(id)).
		ReduceOptions(reduce(jsRegex(outputName(k, "forecast"), outputName(k, "target")), "lastNotNull")).
		GraphMode(common.BigValueGraphModeNone).
		ColorMode(common.BigValueColorModeValue).
		TextMode(common.BigValueTextModeValueAndName).
		Orientation(common.VizOrientationVertical).
		ColorScheme(fixedScheme("yellow")).
		Thresholds(steps(step(nil, "yellow"))).
		OverrideByName(outputName(k, "forecast"), props(prop("displayName", "Expected"))).
		OverrideByName(outputName(k, "target"), append(fixedColor(colorGood), prop("displayName", "Target"))).
		Links(links(link("Drill down: "+k.Name, drill))).
		DataLinks(links(link("Drill down: "+k.Name, drill)))
}

// wallCalendar is the campaign calendar of the past week and today.
func (g *gen) wallCalendar() *statetimeline.PanelBuilder {
	return g.calendarPanel(false).Title("Campaign calendar").
		Description("Campaign phases of the past week and today (warm-up, pre-sale, peak, after-sales, activity).").
		TimeFrom(calendarFrom).
		Links(links(
			link("Campaign rhythm", dashURL(UIDCampaigns)),
			link("Drill down: GMV against the same campaign last year", drillURL("gmv", "var-compare=campaign"))))
}

// calendarPanel is the Gantt-like state timeline of the calendar query type.
func (g *gen) calendarPanel(withVars bool) *statetimeline.PanelBuilder {
	m := models.Query{}
	if withVars {
		m.Filters = filters("store", "campaign")
	}
	return statetimeline.NewPanelBuilder().Datasource(Datasource()).
		WithTarget(Target{RefID: "A", QueryType: models.QueryTypeCalendar, Model: m}).
		Mappings(phaseMappings()).
		ColorScheme(dashboard.NewFieldColorBuilder().Mode(dashboard.FieldColorModeIdFixed).FixedColor("transparent")).
		ShowValue(common.VisibilityModeAuto).
		MergeValues(true).
		AlignValue(common.TimelineValueAlignmentLeft).
		RowHeight(0.8).
		FillOpacity(80).
		Legend(legend(common.LegendDisplayModeHidden, common.LegendPlacementBottom).ShowLegend(false)).
		Tooltip(tooltip())
}

// freshness shows per store how old its newest data is (contract item 5).
func (g *gen) freshness() *stat.PanelBuilder {
	drill := drillURL("events_received", "var-store=${__field.labels.store}", "var-compare=1d")
	return stat.NewPanelBuilder().Title("Data freshness by store").
		Description("Age of each store's newest data. Green below 5 minutes, amber up to 15, red beyond " +
			"(the alert rule fires after 15 minutes without data). A store without data for 7 days is not listed.").
		Datasource(Datasource()).
		WithTarget(Target{RefID: "A", QueryType: models.QueryTypeFreshness, Model: models.Query{}}).
		ReduceOptions(reduce("", "lastNotNull")).
		Unit("s").Decimals(0).
		DisplayName("${__field.labels.store}").
		Thresholds(steps(step(nil, colorGood), step(ptr(float64(FreshAmberSeconds)), colorWarn),
			step(ptr(float64(FreshRedSeconds)), colorBad))).
		ColorScheme(dashboard.NewFieldColorBuilder().Mode(dashboard.FieldColorModeIdThresholds)).
		GraphMode(common.BigValueGraphModeNone).
		ColorMode(common.BigValueColorModeBackground).
		TextMode(common.BigValueTextModeValueAndName).
		Orientation(common.VizOrientationAuto).
		Links(links(link("Drill down: events received", drillURL("events_received", "var-compare=1d")))).
		DataLinks(links(link("Drill down: events received by ${__field.labels.store}", drill)))
}
