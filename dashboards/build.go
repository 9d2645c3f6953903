package dashboards

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"

	"github.com/storepulse/storepulse/datasource/pkg/models"
	"github.com/storepulse/storepulse/internal/calendar"
	"github.com/storepulse/storepulse/internal/kpi"
)

// Dashboard uids of the contract.
const (
	UIDWall      = "storepulse-wall"
	UIDDrilldown = "storepulse-drilldown"
	UIDCampaigns = "storepulse-campaigns"
	UIDService   = "storepulse-service"
	UIDMarket    = "storepulse-market"
)

// StoreTimeZone is the stores' time zone: the datasource's default timeZone
// setting and the simulator's. Dashboards show times in it so that "today"
// and the day buckets of the plugin mean the same day.
const StoreTimeZone = "Asia/Shanghai"

// Tag carried by every StorePulse dashboard.
const Tag = "storepulse"

// Colours (Grafana's named palette) used for meanings rather than series.
const (
	colorGood    = "green"
	colorWarn    = "orange"
	colorBad     = "red"
	colorNeutral = "text"
	colorInfo    = "blue"
	colorBand    = "blue"
)

// gen carries the KPI catalog through the builders and collects errors, so
// that a dashboard naming a KPI the catalog lacks fails generation.
type gen struct {
	cat  *kpi.Catalog
	errs []error
}

func newGen() *gen { return &gen{cat: kpi.Default()} }

// kpi looks a catalog entry up; an unknown id is an error of the generator.
func (g *gen) kpi(id string) kpi.KPI {
	k, ok := g.cat.Get(id)
	if !ok {
		g.errs = append(g.errs, fmt.Errorf("dashboards: unknown KPI %q", id))
		return kpi.KPI{ID: id, Name: id, Direction: kpi.HigherIsBetter}
	}
	return k
}

// seriesKPIs are the catalog ids a KPI time series can be asked for (all but
// the transform KPIs, which are transforms of other KPIs), in catalog order.
func (g *gen) seriesKPIs(keep func(kpi.KPI) bool) []kpi.KPI {
	var out []kpi.KPI
	for _, k := range g.cat.All() {
		if k.Kind != kpi.KindTransform && (keep == nil || keep(k)) {
			out = append(out, k)
		}
	}
	return out
}

// Display names of the plugin's series (datasource/pkg/plugin/frames.go):
// "<KPI name>" for the KPI, "<name> % vs 1w" for a change, "<name> target",
// "<name> expected", … The gRPC test checks every name used here against the
// frames the plugin really returns.
// comparisonSeries matches the earlier period's series of any comparison:
// "GMV (1w earlier)", "GMV (same campaign last year)".
const comparisonSeries = `/ \((\S+ earlier|same campaign last year)\)$/`

func changeName(k kpi.KPI, compare string) string { return k.Name + " % vs " + compare }
func outputName(k kpi.KPI, output string) string  { return k.Name + " " + output }

// jsRegex is a Grafana field-name regex ("/…/") matching exactly names.
func jsRegex(names ...string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = regexp.QuoteMeta(n)
	}
	return "/^(" + strings.Join(q, "|") + ")$/"
}

func ptr[T any](v T) *T { return &v }

// query is a KPI query of refId A.. with the plugin's model.
func query(refID string, m models.Query) Target {
	return Target{RefID: refID, QueryType: models.QueryTypeKPI, Model: m}
}

// filters maps each dimension to its template variable ("$store").
func filters(dims ...string) map[string][]string {
	if len(dims) == 0 {
		return nil
	}
	f := make(map[string][]string, len(dims))
	for _, d := range dims {
		f[d] = []string{"$" + d}
	}
	return f
}

// --- links -----------------------------------------------------------------

// drillURL is the drill-down of kpiID (a catalog id or "${kpi}") with the
// given extra query parameters, keeping the time range of the panel.
func drillURL(kpiID string, params ...string) string {
	return dashURL(UIDDrilldown, append([]string{"var-kpi=" + kpiID}, params...)...)
}

// dashURL links to a StorePulse dashboard with params and the time range.
func dashURL(uid string, params ...string) string {
	return "/d/" + uid + "?" + strings.Join(append(params, "${__url_time_range}"), "&")
}

// varParams carries the named multi-value variables into a link
// (var-store=a&var-store=b, or var-store=$__all for All).
func varParams(names ...string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = "${" + n + ":queryparam}"
	}
	return out
}

func link(title, url string) cog.Builder[dashboard.DashboardLink] {
	return dashboard.NewDashboardLinkBuilder(title).Type(dashboard.DashboardLinkTypeLink).Url(url)
}

func links(l ...cog.Builder[dashboard.DashboardLink]) []cog.Builder[dashboard.DashboardLink] {
	return l
}

// dashboardVariables are the template variables of each dashboard (the
// link test checks them against the generated JSON).
func dashboardVariables(uid string) []string {
	switch uid {
	case UIDDrilldown:
		return []string{"kpi", "compare", "store", "channel", "category"}
	case UIDCampaigns:
		return []string{"kpi", "store", "campaign", "compared"}
	case UIDService:
		return []string{"store", "channel"}
	case UIDMarket:
		return []string{"store", "category"}
	}
	return nil
}

// dashboardLinks are the links at the top of every dashboard to the others.
func dashboardLinks(self string, carry ...string) []cog.Builder[dashboard.DashboardLink] {
	var out []cog.Builder[dashboard.DashboardLink]
	for _, d := range []struct{ uid, title, icon string }{
		{UIDWall, "Wall screen", "dashboard"},
		{UIDDrilldown, "Drill-down", "dashboard"},
		{UIDCampaigns, "Campaigns", "dashboard"},
		{UIDService, "Service", "dashboard"},
		{UIDMarket, "Market", "dashboard"},
	} {
		if d.uid == self {
			continue
		}
		var carried []string
		for _, v := range carry {
			if slices.Contains(dashboardVariables(d.uid), v) {
				carried = append(carried, v)
			}
		}
		// keepTime adds the time range; the variables the dashboards share
		// are carried explicitly (includeVars would carry all of them).
		out = append(out, dashboard.NewDashboardLinkBuilder(d.title).Type(dashboard.DashboardLinkTypeLink).
			Icon(d.icon).KeepTime(true).Url(strings.TrimSuffix("/d/"+d.uid+"?"+strings.Join(varParams(carried...), "&"), "?")))
	}
	return out
}

// --- field config ----------------------------------------------------------

func steps(s ...dashboard.Threshold) *dashboard.ThresholdsConfigBuilder {
	return dashboard.NewThresholdsConfigBuilder().Mode(dashboard.ThresholdsModeAbsolute).Steps(s)
}

func step(v *float64, color string) dashboard.Threshold {
	return dashboard.Threshold{Value: v, Color: color}
}

// changeThresholds colours a change against an earlier period (a fraction)
// by the KPI's direction, from the catalog: for a higher-is-better KPI a fall
// of more than 2 % is amber and of more than 10 % red; for a lower-is-better
// one (refund rate, response time) the same rises are. Small moves stay
// green so that noise does not flash on the wall.
func changeThresholds(d kpi.Direction) dashboard.ThresholdsConfig {
	if d == kpi.LowerIsBetter {
		return dashboard.ThresholdsConfig{Mode: dashboard.ThresholdsModeAbsolute, Steps: []dashboard.Threshold{
			step(nil, colorGood), step(ptr(0.02), colorWarn), step(ptr(0.1), colorBad)}}
	}
	return dashboard.ThresholdsConfig{Mode: dashboard.ThresholdsModeAbsolute, Steps: []dashboard.Threshold{
		step(nil, colorBad), step(ptr(-0.1), colorWarn), step(ptr(-0.02), colorGood)}}
}

// byDirection colours a change field (override properties).
func byDirection(d kpi.Direction) []dashboard.DynamicConfigValue {
	return []dashboard.DynamicConfigValue{
		{Id: "thresholds", Value: changeThresholds(d)},
		{Id: "color", Value: dashboard.FieldColor{Mode: dashboard.FieldColorModeIdThresholds}},
		{Id: "unit", Value: "percentunit"},
	}
}

func fixedColor(c string) []dashboard.DynamicConfigValue {
	return []dashboard.DynamicConfigValue{{Id: "color", Value: dashboard.FieldColor{Mode: dashboard.FieldColorModeIdFixed, FixedColor: ptr(c)}}}
}

func fixedScheme(c string) *dashboard.FieldColorBuilder {
	return dashboard.NewFieldColorBuilder().Mode(dashboard.FieldColorModeIdFixed).FixedColor(c)
}

// hidden hides a series from the graph, legend and tooltip.
func hidden() []dashboard.DynamicConfigValue {
	return []dashboard.DynamicConfigValue{{Id: "custom.hideFrom", Value: map[string]bool{"viz": true, "legend": true, "tooltip": true}}}
}

func dashed() dashboard.DynamicConfigValue {
	return dashboard.DynamicConfigValue{Id: "custom.lineStyle", Value: map[string]any{"fill": "dash", "dash": []int{10, 10}}}
}

func props(p ...dashboard.DynamicConfigValue) []dashboard.DynamicConfigValue { return p }

func prop(id string, v any) dashboard.DynamicConfigValue {
	return dashboard.DynamicConfigValue{Id: id, Value: v}
}

// textMappings maps string values to a display text and colour.
func textMappings(colors map[string]string, order []string) []dashboard.ValueMapping {
	opts := map[string]dashboard.ValueMappingResult{}
	for i, v := range order {
		opts[v] = dashboard.ValueMappingResult{Color: ptr(colors[v]), Index: ptr(int32(i))}
	}
	return []dashboard.ValueMapping{{ValueMap: &dashboard.ValueMap{Type: dashboard.MappingTypeValueToText, Options: opts}}}
}

// phaseColors are the colours of the campaign phases in the calendar (the
// phase names of internal/calendar, which the calendar query returns).
func phaseMappings() []dashboard.ValueMapping {
	order := []string{calendar.PhaseWarmUp, calendar.PhasePreSale, calendar.PhasePeak, calendar.PhaseAfterSales, calendar.PhaseActivity}
	return textMappings(map[string]string{
		calendar.PhaseWarmUp:     "light-blue",
		calendar.PhasePreSale:    "purple",
		calendar.PhasePeak:       "red",
		calendar.PhaseAfterSales: "orange",
		calendar.PhaseActivity:   "green",
	}, order)
}

// lifecycleStages in stage_code order with their colours: introduction is
// new and watched, growth is good, maturity steady, decline needs action.
func lifecycleStages() (names []string, colors map[string]string) {
	return []string{"introduction", "growth", "maturity", "decline"}, map[string]string{
		"introduction": "light-blue", "growth": "green", "maturity": "yellow", "decline": "red",
	}
}

// lifecycleMappings maps both the stage text and its code 1..4.
func lifecycleMappings() []dashboard.ValueMapping {
	names, colors := lifecycleStages()
	opts := map[string]dashboard.ValueMappingResult{}
	for i, n := range names {
		opts[n] = dashboard.ValueMappingResult{Color: ptr(colors[n]), Index: ptr(int32(2 * i))}
		opts[fmt.Sprint(i+1)] = dashboard.ValueMappingResult{Text: ptr(n), Color: ptr(colors[n]), Index: ptr(int32(2*i + 1))}
	}
	return []dashboard.ValueMapping{{ValueMap: &dashboard.ValueMap{Type: dashboard.MappingTypeValueToText, Options: opts}}}
}

// --- variables ---------------------------------------------------------------

// dimensionVariable lists the values of a dimension through the plugin's
// dimensions query type (multi-value, with All meaning no filter).
func dimensionVariable(name, label string) cog.Builder[dashboard.VariableModel] {
	q := Target{RefID: "variable-" + name, QueryType: models.QueryTypeDimensions, Model: models.Query{Dimension: name}}
	raw, err := q.MarshalJSON()
	var m map[string]any
	if err == nil {
		err = json.Unmarshal(raw, &m)
	}
	b := dashboard.NewQueryVariableBuilder(name).Label(label).
		Datasource(Datasource()).
		Query(dashboard.StringOrMap{Map: m}).
		Definition("values of " + name).
		Multi(true).IncludeAll(true).
		Refresh(dashboard.VariableRefreshOnTimeRangeChanged).
		Sort(dashboard.VariableSortAlphabeticalAsc).
		Current(dashboard.VariableOption{Text: dashboard.StringOrArrayOfString{String: ptr("All")},
			Value: dashboard.StringOrArrayOfString{String: ptr("$__all")}})
	if err != nil {
		b.RecordError("query", err)
	}
	return b
}

// singleDimensionVariable lists the values of a dimension for a choice of
// exactly one (no All): Grafana starts on the first value in sort order.
func singleDimensionVariable(name, dimension, label, description string) cog.Builder[dashboard.VariableModel] {
	q := Target{RefID: "variable-" + name, QueryType: models.QueryTypeDimensions, Model: models.Query{Dimension: dimension}}
	raw, err := q.MarshalJSON()
	var m map[string]any
	if err == nil {
		err = json.Unmarshal(raw, &m)
	}
	b := dashboard.NewQueryVariableBuilder(name).Label(label).Description(description).
		Datasource(Datasource()).
		Query(dashboard.StringOrMap{Map: m}).
		Definition("values of " + dimension).
		Multi(false).IncludeAll(false).
		Refresh(dashboard.VariableRefreshOnTimeRangeChanged).
		Sort(dashboard.VariableSortAlphabeticalCaseInsensitiveAsc)
	if err != nil {
		b.RecordError("query", err)
	}
	return b
}

// option is one choice of a custom variable.
type option struct{ text, value string }

// customVariable is a single-value list of fixed choices; def is the
// default value.
func customVariable(name, label string, opts []option, def string) cog.Builder[dashboard.VariableModel] {
	parts := make([]string, len(opts))
	var options []dashboard.VariableOption
	var current dashboard.VariableOption
	for i, o := range opts {
		// Grafana's custom variable syntax: "text : value" pairs, comma separated.
		parts[i] = o.text + " : " + o.value
		vo := dashboard.VariableOption{Text: dashboard.StringOrArrayOfString{String: ptr(o.text)},
			Value: dashboard.StringOrArrayOfString{String: ptr(o.value)}, Selected: ptr(o.value == def)}
		options = append(options, vo)
		if o.value == def {
			current = vo
		}
	}
	return dashboard.NewCustomVariableBuilder(name).Label(label).
		Values(dashboard.StringOrMap{String: ptr(strings.Join(parts, ","))}).
		Multi(false).IncludeAll(false).AllowCustomValue(false).
		Options(options).Current(current)
}

// kpiVariable lists catalog KPIs, generated from internal/kpi so that the
// list cannot drift from what the plugin serves.
func (g *gen) kpiVariable(keep func(kpi.KPI) bool, def string) cog.Builder[dashboard.VariableModel] {
	var opts []option
	for _, k := range g.seriesKPIs(keep) {
		opts = append(opts, option{k.Name, k.ID})
	}
	g.kpi(def)
	return customVariable("kpi", "KPI", opts, def)
}

// CompareValues are the choices of the drill-down's compare variable (the
// contract's list, in its order).
func CompareValues() []string {
	return []string{models.Compare1d, models.Compare1w, models.Compare4w, models.Compare1y, models.CompareCampaign, models.ComparePrevious}
}

func compareVariable() cog.Builder[dashboard.VariableModel] {
	text := map[string]string{
		models.Compare1d: "Day before", models.Compare1w: "Week before", models.Compare4w: "4 weeks before",
		models.Compare1y: "Year before (364 days)", models.CompareCampaign: "Same campaign last year", models.ComparePrevious: "Previous period",
	}
	var opts []option
	for _, v := range CompareValues() {
		opts = append(opts, option{text[v], v})
	}
	return customVariable("compare", "Compare with", opts, models.Compare1w)
}

// --- annotations -----------------------------------------------------------

func campaignAnnotation(store bool) cog.Builder[dashboard.AnnotationQuery] {
	m := models.Query{}
	if store {
		m.Filters = filters("store")
	}
	return dashboard.NewAnnotationQueryBuilder().Name("Campaigns").Datasource(Datasource()).Enable(true).
		IconColor("purple").
		Target(Target{RefID: "campaigns", QueryType: models.QueryTypeCampaigns, Model: m})
}

func anomalyAnnotation(name, kpiID string, groupBy []string, dims ...string) cog.Builder[dashboard.AnnotationQuery] {
	m := models.Query{KPI: kpiID, Filters: filters(dims...), GroupBy: groupBy, Interval: "1h"}
	return dashboard.NewAnnotationQueryBuilder().Name(name).Datasource(Datasource()).Enable(true).
		IconColor(colorBad).
		Target(Target{RefID: "anomalies", QueryType: models.QueryTypeAnomalies, Model: m})
}

// --- dashboards --------------------------------------------------------------

// The classic dashboard model (schemaVersion 42) is what Grafana 12's file
// provisioning loads without feature toggles; the SDK marks it deprecated in
// favour of the v2 resource model, which 12.x provisions only behind the
// kubernetesDashboards/dashboardNewLayouts toggles.
type (
	dashboardBuilder = dashboard.DashboardBuilder //nolint:staticcheck // SA1019: see above
	classicDashboard = dashboard.Dashboard        //nolint:staticcheck // SA1019: see above
)

func newDashboard(uid, title, description string) *dashboardBuilder {
	b := dashboard.NewDashboardBuilder(title) //nolint:staticcheck // SA1019: the classic model, see dashboardBuilder
	return b.Uid(uid).Description(description).
		Tags([]string{Tag}).
		Timezone(StoreTimeZone).WeekStart("monday").
		Tooltip(dashboard.DashboardCursorSyncCrosshair).
		Readonly()
}

func reduce(fields string, calcs ...string) *common.ReduceDataOptionsBuilder {
	r := common.NewReduceDataOptionsBuilder().Values(false).Calcs(calcs)
	if fields != "" {
		r.Fields(fields)
	}
	return r
}

// tooltip is every graph's tooltip: all series at the hovered time, largest
// first (Grafana's own defaults are "single" and "none"; an empty mode or
// sort is not a value Grafana defines).
func tooltip() *common.VizTooltipOptionsBuilder {
	return common.NewVizTooltipOptionsBuilder().Mode(common.TooltipDisplayModeMulti).Sort(common.SortOrderDescending)
}

func legend(mode common.LegendDisplayMode, placement common.LegendPlacement) *common.VizLegendOptionsBuilder {
	return common.NewVizLegendOptionsBuilder().DisplayMode(mode).Placement(placement).ShowLegend(true)
}
