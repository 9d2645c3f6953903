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

// Query types (the DataQuery's queryType; empty means QueryTypeKPI).
const (
	QueryTypeKPI        = "kpi"
	QueryTypeDimensions = "dimensions"
)

// Intervals besides a duration ("5m", "1h", "6h"): auto (from Grafana's
// interval and maxDataPoints) and calendar buckets in the store time zone.
const (
	IntervalAuto  = "auto"
	IntervalDay   = "day"
	IntervalWeek  = "week" // starting Monday
	IntervalMonth = "month"
)

// Comparisons.
const (
	CompareNone     = ""
	ComparePrevious = "previous_period"
	Compare1d       = "1d"
	Compare1w       = "1w"
	Compare4w       = "4w"
	Compare1y       = "1y" // 364 days: weekday-aligned
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
	// Interval: "auto" (default), a duration ("1m" to "12h"), "day", "week", "month".
	Interval string `json:"interval,omitempty"`
	// Compare with an earlier period (Compare* constants).
	Compare string `json:"compare,omitempty"`
	// CompareOutputs chooses what a comparison adds; default all three.
	CompareOutputs []string `json:"compareOutputs,omitempty"`

	// Dimension is the dimension listed by a QueryTypeDimensions query.
	Dimension string `json:"dimension,omitempty"`

	// Designed, not implemented yet (a query setting them is refused).
	Cumulative   string          `json:"cumulative,omitempty"` // running, mtd, ytd
	Target       bool            `json:"target,omitempty"`
	Anomaly      json.RawMessage `json:"anomaly,omitempty"`      // {"sensitivity": 3}
	Forecast     json.RawMessage `json:"forecast,omitempty"`     // {"horizon": "day"|"month"}
	TopN         json.RawMessage `json:"topN,omitempty"`         // {"n": 5, "by": "store"}
	Contribution json.RawMessage `json:"contribution,omitempty"` // {"dimension": "store"}
	Funnel       bool            `json:"funnel,omitempty"`
	Lifecycle    bool            `json:"lifecycle,omitempty"`
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
	case CompareNone, ComparePrevious, Compare1d, Compare1w, Compare4w, Compare1y:
	default:
		return q, fmt.Errorf("unknown compare %q (previous_period, 1d, 1w, 4w, 1y)", q.Compare)
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
		if v := ExpandValues(vals); len(v) > 0 {
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
	if err := q.refuseUnimplemented(); err != nil {
		return q, err
	}
	return q, nil
}

func (q Query) refuseUnimplemented() error {
	var names []string
	for name, set := range map[string]bool{
		"cumulative": q.Cumulative != "", "target": q.Target, "anomaly": len(q.Anomaly) > 0,
		"forecast": len(q.Forecast) > 0, "topN": len(q.TopN) > 0, "contribution": len(q.Contribution) > 0,
		"funnel": q.Funnel, "lifecycle": q.Lifecycle,
	} {
		if set {
			names = append(names, name)
		}
	}
	if len(names) == 0 {
		return nil
	}
	slices.Sort(names)
	return errors.New("not implemented yet in this version of the plugin: " + strings.Join(names, ", "))
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
