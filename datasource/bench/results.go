package bench

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/data"
	influxdb2 "github.com/influxdata/influxdb-client-go/v2"
)

// Values are a panel's numbers from either side: series -> time -> value.
// Big numbers have the series current, previous (a week earlier, on this
// week's axis), target and (plugin) change; freshness has one series per
// store holding its age in seconds at the zero time.
type Values map[string]map[time.Time]float64

func (v Values) set(series string, t time.Time, x float64) {
	if v[series] == nil {
		v[series] = map[time.Time]float64{}
	}
	v[series][t.UTC()] = x
}

// Plugin series of a big number besides those of the raw side.
const (
	SeriesChange = "change"
)

// RawClient runs hand-written Flux straight against InfluxDB, the way
// Grafana's InfluxDB datasource does: influxdb-client-go, annotated CSV,
// every record read.
type RawClient struct {
	client influxdb2.Client
	org    string
}

// NewRawClient connects to InfluxDB's v2 API.
func NewRawClient(url, token, org string) *RawClient {
	return &RawClient{client: influxdb2.NewClientWithOptions(url, token, influxdb2.DefaultOptions().SetHTTPRequestTimeout(300)), org: org}
}

// Close releases the client's connections.
func (c *RawClient) Close() { c.client.Close() }

// Query runs a panel's raw Flux and reads its rows into Values (freshness
// ages are measured at Panel.AgeAt, as the plugin measures them).
func (c *RawClient) Query(ctx context.Context, p *Panel) (Values, error) {
	v := Values{}
	// A query API per query: influxdb-client-go's is not safe for concurrent use.
	res, err := c.client.QueryAPI(c.org).Query(ctx, p.Raw)
	if err != nil {
		return nil, fmt.Errorf("raw Flux: %w", err)
	}
	defer func() { _ = res.Close() }()
	for res.Next() {
		rec := res.Record()
		if p.Shape == ShapeFreshness {
			store, _ := rec.ValueByKey("store").(string)
			v.set(store, time.Time{}, p.AgeAt().Sub(rec.Time()).Seconds())
			continue
		}
		series, _ := rec.ValueByKey("series").(string)
		if x, ok := floatOf(rec.Value()); ok {
			v.set(series, rec.Time(), x)
		}
	}
	if err := res.Err(); err != nil {
		return nil, fmt.Errorf("raw Flux: %w", err)
	}
	return v, nil
}

func floatOf(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, !math.IsNaN(x) && !math.IsInf(x, 0)
	case int64:
		return float64(x), true
	case uint64:
		return float64(x), true
	}
	return 0, false
}

// PluginValues reads a panel's numbers from the plugin's response.
func PluginValues(p *Panel, resp *backend.QueryDataResponse) (Values, error) {
	v := Values{}
	for _, q := range p.Queries {
		r, ok := resp.Responses[q.RefID]
		if !ok {
			return nil, fmt.Errorf("plugin: no response for %s", q.RefID)
		}
		if r.Error != nil {
			return nil, fmt.Errorf("plugin: %s: %w", q.RefID, r.Error)
		}
		for _, f := range r.Frames {
			if len(f.Fields) != 2 {
				return nil, fmt.Errorf("plugin: %s: frame with %d fields", q.RefID, len(f.Fields))
			}
			labels := f.Fields[1].Labels
			series := SeriesCurrent
			switch {
			case p.Shape == ShapeFreshness:
				series = labels["store"]
			case labels["output"] == "series":
				series = SeriesPrevious
			case labels["output"] != "":
				series = labels["output"] // change, target, attainment
			}
			if err := addFrame(v, f, series, p.Shape == ShapeFreshness); err != nil {
				return nil, err
			}
		}
	}
	return v, nil
}

func addFrame(v Values, f *data.Frame, series string, atZero bool) error {
	for i := range f.Fields[0].Len() {
		t, ok := f.Fields[0].At(i).(time.Time)
		if !ok {
			return fmt.Errorf("plugin: frame %s: time field holds %T", f.Name, f.Fields[0].At(i))
		}
		x, ok := f.Fields[1].ConcreteAt(i)
		if !ok {
			continue // null
		}
		fx, ok := x.(float64)
		if !ok {
			return fmt.Errorf("plugin: frame %s: value field holds %T", f.Name, x)
		}
		if atZero {
			t = time.Time{}
		}
		v.set(series, t, fx)
	}
	return nil
}

// Diff compares the raw side's numbers of a panel with the plugin's
// (relative differences raw / plugin − 1).
type Diff struct {
	Plugin, Raw Values
	Today       time.Time // the last (partial) day
	// OtherDays is the largest difference of the current and previous
	// values on the whole days before today.
	OtherDays float64
	// Days counted on each side (current series).
	PluginDays, RawDays int
	// Freshness: stores on each side and the largest age difference.
	PluginStores, RawStores int
	AgeDiff                 time.Duration
}

// RelDiff is raw / plugin − 1 (0 when both are 0, +Inf when only the plugin's is).
func RelDiff(plugin, raw float64) float64 {
	if plugin == 0 {
		if raw == 0 {
			return 0
		}
		return math.Inf(1)
	}
	return raw/plugin - 1
}

// Compare lines up both sides' numbers of panel p.
func Compare(p *Panel, plugin, raw Values, today time.Time) Diff {
	d := Diff{Plugin: plugin, Raw: raw, Today: today.UTC()}
	if p.Shape == ShapeFreshness {
		d.PluginStores, d.RawStores = len(plugin), len(raw)
		for store, ages := range plugin {
			if r, ok := raw[store]; ok {
				diff := time.Duration(math.Abs(ages[time.Time{}]-r[time.Time{}]) * float64(time.Second))
				d.AgeDiff = max(d.AgeDiff, diff)
			}
		}
		return d
	}
	d.PluginDays, d.RawDays = len(plugin[SeriesCurrent]), len(raw[SeriesCurrent])
	for _, s := range []string{SeriesCurrent, SeriesPrevious} {
		for t, x := range plugin[s] {
			if t.Equal(d.Today) {
				continue
			}
			if y, ok := raw[s][t]; ok {
				d.OtherDays = max(d.OtherDays, math.Abs(RelDiff(x, y)))
			} else {
				d.OtherDays = math.Inf(1)
			}
		}
	}
	return d
}

// at is a series' value at t (NaN when absent).
func (v Values) at(series string, t time.Time) float64 {
	if x, ok := v[series][t]; ok {
		return x
	}
	return math.NaN()
}
