// Package models holds the plugin's wire types: the query model (JSON, versioned,
// docs/query.md) and the datasource settings. No domain logic lives here.
package models

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// QueryVersion is the current version of the query model.
const QueryVersion = 1

// MaxFilterValues caps the values of one filter (after expanding {a,b}
// multi-values): each is matched by InfluxDB against every row read.
const MaxFilterValues = 1000

// Query types (the DataQuery's queryType; empty means QueryTypeKPI).
const (
	QueryTypeKPI        = "kpi"
	QueryTypeDimensions = "dimensions"
	QueryTypeCampaigns  = "campaigns" // campaign phases as annotation regions
	QueryTypeCalendar   = "calendar"  // the campaign calendar for a state timeline
	QueryTypeAnomalies  = "anomalies" // flagged anomalies as annotation regions
	QueryTypeFreshness  = "freshness" // per store, the age of its newest data
	QueryTypeInsights   = "insights"  // the briefing's what changed, why, what to do (a table)
)

// Forecast horizons: the end of the local day or month.
const (
	HorizonDay   = "day"
	HorizonMonth = "month"
)

// Forecast asks for the expected value at the end of the current day or
// month (docs/query.md#forecast).
type Forecast struct {
	Horizon string `json:"horizon"`
}

// Cumulative modes.
const (
	CumulativeRunning = "running" // running total from the start of the range
	CumulativeMTD     = "mtd"     // month-to-date (store time zone)
	CumulativeYTD     = "ytd"     // year-to-date (store time zone)
)

// TopN is the top-N breakdown: the n values of dimension By with the largest
// KPI over the range, the rest combined as "other".
type TopN struct {
	N  int    `json:"n"`
	By string `json:"by"`
}

// Contribution asks which values of Dimension explain the KPI's change
// against the comparison period.
type Contribution struct {
	Dimension string `json:"dimension"`
}

// Anomaly detection settings: the band is expected ± k·spread over the same
// hour-of-week of the previous Weeks weeks.
type Anomaly struct {
	// Sensitivity: "low" (k = 4), "medium" (k = 3, the default), "high"
	// (k = 2), or k itself as a number (> 0).
	Sensitivity json.RawMessage `json:"sensitivity,omitempty"`
	// Weeks of history (4..8, default 6).
	Weeks int `json:"weeks,omitempty"`
	// Holidays are the markets whose public holidays are planned days
	// (["cn"], ["us", "de"]); absent: the datasource's holidayMarkets; []:
	// none.
	Holidays []string `json:"holidays,omitempty"`
	// FlagOnly returns, per series, only the anomaly flag (1 flagged, 0 not,
	// null without a score) instead of the KPI, expected value, band, score
	// and flag: an alert rule reduces it with max and fires on >= 1, on
	// exactly the buckets the panel flags.
	FlagOnly bool `json:"flagOnly,omitempty"`
	// K is the resolved band width in spreads (set by ParseQuery).
	K float64 `json:"-"`
}

// Anomaly defaults and bounds.
const (
	AnomalyDefaultWeeks = 6
	AnomalyMinWeeks     = 4
	AnomalyMaxWeeks     = 8
	AnomalyDefaultK     = 3
)

// DefaultAnomaly is the anomaly setting of a query that asks for anomalies
// without settings: medium sensitivity (k = 3), 6 weeks.
func DefaultAnomaly() *Anomaly {
	return &Anomaly{Weeks: AnomalyDefaultWeeks, K: AnomalyDefaultK}
}

// resolve checks the settings and sets K and the default Weeks.
func (a *Anomaly) resolve() error {
	if a.Weeks == 0 {
		a.Weeks = AnomalyDefaultWeeks
	}
	if a.Weeks < AnomalyMinWeeks || a.Weeks > AnomalyMaxWeeks {
		return fmt.Errorf("anomaly weeks must be %d..%d, got %d", AnomalyMinWeeks, AnomalyMaxWeeks, a.Weeks)
	}
	a.K = AnomalyDefaultK
	if len(a.Sensitivity) == 0 || string(a.Sensitivity) == "null" {
		return nil
	}
	var name string
	if err := json.Unmarshal(a.Sensitivity, &name); err == nil {
		switch name {
		case "low":
			a.K = 4
		case "medium", "":
			a.K = 3
		case "high":
			a.K = 2
		default:
			return fmt.Errorf("unknown anomaly sensitivity %q (low, medium, high, or a number of spreads)", name)
		}
		return nil
	}
	var k float64
	if err := json.Unmarshal(a.Sensitivity, &k); err != nil || k <= 0 || k > 100 {
		return fmt.Errorf("anomaly sensitivity must be low, medium, high or a number of spreads in (0, 100], got %s", a.Sensitivity)
	}
	a.K = k
	return nil
}

// Intervals besides a duration ("5m", "1h", "6h"): auto (from Grafana's
// interval and maxDataPoints), calendar buckets in the store time zone, and
// range: one bucket for the whole query range (docs/query.md).
const (
	IntervalAuto    = "auto"
	IntervalDay     = "day"
	IntervalWeek    = "week" // starting Monday
	IntervalMonth   = "month"
	IntervalQuarter = "quarter" // January, April, July, October
	IntervalYear    = "year"
	IntervalRange   = "range" // one value for the whole range
)

// Comparisons.
const (
	CompareNone     = ""
	ComparePrevious = "previous_period"
	Compare1d       = "1d"
	Compare1w       = "1w"
	Compare4w       = "4w"
	Compare1y       = "1y" // 364 days: weekday-aligned
	// CompareCampaign is the same campaign last year: the campaign of the
	// range matched to last year's campaign of its kind (docs/query.md#comparisons).
	CompareCampaign = "campaign"
)

// Uplift compares a KPI during each campaign overlapping the range with its
// baseline, the BaselineDays before the campaign (docs/query.md#uplift).
type Uplift struct {
	BaselineDays int `json:"baselineDays,omitempty"`
}

// Uplift defaults and bounds.
const (
	UpliftDefaultBaselineDays = 28
	UpliftMaxBaselineDays     = 366
)

// Compare outputs.
const (
	OutputSeries = "series" // the comparison period's values, on the current period's time axis
	OutputDelta  = "delta"  // current - comparison
	OutputChange = "change" // (current - comparison) / |comparison|, a fraction
)

// AllValue is Grafana's value of an "All" selection when the frontend did not
// expand it; it means no filter, as does an empty value.
const AllValue = "$__all"

// Query is one query of the datasource (the JSON of a DataQuery).
type Query struct {
	// Version of the model; 0 is read as QueryVersion.
	Version int `json:"version,omitempty"`
	// KPI is a catalog id (resource /kpis).
	KPI string `json:"kpi"`
	// Filters per dimension (store, channel, category, campaign, creative,
	// reason, competitor): the series must have one of the values.
	Filters map[string][]string `json:"filters,omitempty"`
	// GroupBy dimensions: one series per combination of values.
	GroupBy []string `json:"groupBy,omitempty"`
	// Interval: "auto" (default), a duration ("1m" to "12h"), "day", "week",
	// "month", "quarter", "year", or "range" (one bucket for the whole range).
	Interval string `json:"interval,omitempty"`
	// Compare with an earlier period (Compare* constants).
	Compare string `json:"compare,omitempty"`
	// CompareOutputs chooses what a comparison adds; default all three.
	CompareOutputs []string `json:"compareOutputs,omitempty"`

	// Dimension is the dimension listed by a QueryTypeDimensions query.
	Dimension string `json:"dimension,omitempty"`

	// Cumulative: running, mtd or ytd (Cumulative* constants); sums only.
	Cumulative string `json:"cumulative,omitempty"`
	// Target adds the stored target and the attainment (actual / target).
	Target bool `json:"target,omitempty"`
	// TopN keeps the top values of a dimension, the rest as "other".
	TopN *TopN `json:"topN,omitempty"`
	// Contribution ranks the values of a dimension by their share of the
	// change against Compare (a table instead of series).
	Contribution *Contribution `json:"contribution,omitempty"`
	// Funnel: sessions -> add-to-cart -> orders -> paid over the range (a
	// table); KPI is not needed.
	Funnel bool `json:"funnel,omitempty"`

	// Anomaly adds the expected value, band, score and flag from the same
	// hour-of-week of past weeks (docs/query.md#anomaly).
	Anomaly *Anomaly `json:"anomaly,omitempty"`

	// Forecast projects the KPI to the end of the day or month
	// (docs/query.md#forecast).
	Forecast *Forecast `json:"forecast,omitempty"`
	// Lifecycle classifies each value of the groupBy dimension (category
	// when empty) into a life-cycle stage (a table; docs/query.md#life-cycle).
	Lifecycle bool `json:"lifecycle,omitempty"`
	// Uplift: per campaign overlapping the range, the KPI during it against
	// its baseline (a table; docs/query.md#uplift).
	Uplift *Uplift `json:"uplift,omitempty"`
}

// ParseQuery reads and normalises a query's JSON: filters expanded (template
// variable forms "{a,b}", "$__all", empty), defaults applied, version checked.
func ParseQuery(raw []byte) (Query, error) {
	var q Query
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &q); err != nil {
			return q, fmt.Errorf("invalid query JSON: %w", err)
		}
	}
	if q.Version == 0 {
		q.Version = QueryVersion
	}
	if q.Version > QueryVersion {
		return q, fmt.Errorf("query version %d is newer than this plugin understands (%d): update the plugin", q.Version, QueryVersion)
	}
	if q.Interval == "" {
		q.Interval = IntervalAuto
	}
	switch q.Compare {
	case CompareNone, ComparePrevious, Compare1d, Compare1w, Compare4w, Compare1y, CompareCampaign:
	default:
		return q, fmt.Errorf("unknown compare %q (previous_period, 1d, 1w, 4w, 1y, campaign)", q.Compare)
	}
	if q.Compare != CompareNone && len(q.CompareOutputs) == 0 {
		q.CompareOutputs = []string{OutputSeries, OutputDelta, OutputChange}
	}
	for _, o := range q.CompareOutputs {
		if o != OutputSeries && o != OutputDelta && o != OutputChange {
			return q, fmt.Errorf("unknown compare output %q (series, delta, change)", o)
		}
	}
	filters := map[string][]string{}
	for dim, vals := range q.Filters {
		v := ExpandValues(vals)
		if len(v) > MaxFilterValues {
			return q, fmt.Errorf("filter %q has %d values, at most %d: select fewer, or give the variable's All option the custom value $__all (no filter)",
				dim, len(v), MaxFilterValues)
		}
		if len(v) > 0 {
			filters[dim] = v
		}
	}
	q.Filters = filters
	seen := map[string]bool{}
	for _, g := range q.GroupBy {
		if g == "" || seen[g] {
			return q, fmt.Errorf("groupBy %q is empty or repeated", g)
		}
		seen[g] = true
	}
	return q, q.checkTransforms()
}

// checkTransforms checks the transforms' own fields and the combinations
// this version computes.
func (q Query) checkTransforms() error {
	switch q.Cumulative {
	case "", CumulativeRunning, CumulativeMTD, CumulativeYTD:
	default:
		return fmt.Errorf("unknown cumulative %q (running, mtd, ytd)", q.Cumulative)
	}
	if q.TopN != nil {
		if q.TopN.N < 1 || q.TopN.By == "" {
			return errors.New("topN needs n >= 1 and a dimension in by")
		}
		if len(q.GroupBy) > 0 && !slices.Equal(q.GroupBy, []string{q.TopN.By}) {
			return fmt.Errorf("topN groups by %q: groupBy must be empty or just that dimension", q.TopN.By)
		}
	}
	if q.Anomaly != nil {
		if err := q.Anomaly.resolve(); err != nil {
			return err
		}
		if q.Compare != CompareNone {
			return errors.New("anomaly cannot be combined with compare (the band already comes from past weeks): use one query per transform")
		}
	}
	if q.Forecast != nil {
		if q.Forecast.Horizon != HorizonDay && q.Forecast.Horizon != HorizonMonth {
			return fmt.Errorf("forecast horizon must be day or month, got %q", q.Forecast.Horizon)
		}
		if q.Compare != CompareNone {
			return errors.New("forecast cannot be combined with compare: use one query per transform")
		}
	}
	if q.Uplift != nil {
		if q.Uplift.BaselineDays == 0 {
			q.Uplift.BaselineDays = UpliftDefaultBaselineDays
		}
		if q.Uplift.BaselineDays < 1 || q.Uplift.BaselineDays > UpliftMaxBaselineDays {
			return fmt.Errorf("uplift baselineDays must be 1..%d, got %d", UpliftMaxBaselineDays, q.Uplift.BaselineDays)
		}
		if q.Compare != CompareNone {
			return errors.New("uplift cannot be combined with compare (the baseline is its comparison): use one query per transform")
		}
	}
	if q.Lifecycle && q.Compare != CompareNone {
		return errors.New("lifecycle cannot be combined with compare (the stage comes from the range's own trend): use one query per transform")
	}
	if q.Contribution != nil {
		if q.Contribution.Dimension == "" {
			return errors.New("contribution needs a dimension")
		}
		if q.Compare == CompareNone {
			return errors.New("contribution needs a compare period (e.g. \"compare\": \"1w\")")
		}
	}
	var set []string
	for _, t := range []struct {
		name string
		on   bool
	}{{"cumulative", q.Cumulative != ""}, {"target", q.Target}, {"topN", q.TopN != nil},
		{"contribution", q.Contribution != nil}, {"funnel", q.Funnel}, {"anomaly", q.Anomaly != nil},
		{"forecast", q.Forecast != nil}, {"lifecycle", q.Lifecycle}, {"uplift", q.Uplift != nil}} {
		if t.on {
			set = append(set, t.name)
		}
	}
	if len(set) > 1 {
		return fmt.Errorf("%s cannot be combined in one query: use one query per transform", strings.Join(set, " and "))
	}
	return nil
}

// ExpandValues turns the filter values Grafana sends into plain values: a
// multi-value variable interpolated as "{a,b}" becomes a and b; "$__all" or
// an empty value anywhere means no filter (nil). Duplicates are removed and
// the order kept.
func ExpandValues(vals []string) []string {
	var out []string
	for _, v := range vals {
		v = strings.TrimSpace(v)
		if v == "" || v == AllValue {
			return nil
		}
		parts := []string{v}
		if len(v) >= 2 && v[0] == '{' && v[len(v)-1] == '}' {
			parts = strings.Split(v[1:len(v)-1], ",")
		}
		for _, p := range parts {
			p = strings.TrimSpace(p)
			if p == "" || p == AllValue {
				return nil
			}
			if !slices.Contains(out, p) {
				out = append(out, p)
			}
		}
	}
	return out
}
