package plugin

import (
	"context"
	"strings"

	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/storepulse/storepulse/datasource/pkg/engine"
)

func (d *Datasource) forecastQuery(ctx context.Context, req engine.Request) (data.Frames, error) {
	res, err := d.engineFor(ctx).Forecast(ctx, req)
	if err != nil {
		return nil, err
	}
	return forecastFrames(res, d.settings.Currency), nil
}

// seriesName is the KPI's name followed by the series' dimension values.
func seriesName(kpiName string, groups []string) string {
	names := make([]string, 0, len(groups))
	for _, g := range groups {
		names = append(names, withoutNone(g))
	}
	if len(names) == 0 {
		return kpiName
	}
	return kpiName + " " + strings.Join(names, " / ")
}

// forecastFrames shapes a forecast as a multi-frame time series: one frame
// per output and series, each on its own time axis (actual up to now,
// forecast and band from now to the period's end, target at the period's
// start and end), labelled by the groupBy dimensions and output, so that a
// stat panel or alert rule reduces forecast with "last" to the expected
// end-of-period value.
func forecastFrames(res *engine.ForecastResult, currency string) data.Frames {
	unit := GrafanaUnit(res.KPI.Unit, currency)
	custom := map[string]any{"kpi": res.KPI.ID, "kind": string(res.KPI.Kind), "horizon": res.Horizon,
		"interval": res.Step.String(), "periodStart": res.PeriodStart.UTC(), "periodEnd": res.PeriodEnd.UTC(), "at": res.At.UTC()}
	frames := make(data.Frames, 0, len(res.Series))
	for _, s := range res.Series {
		labels := data.Labels{"output": s.Role}
		for i, g := range res.GroupBy {
			labels[g] = withoutNone(s.Groups[i])
		}
		display := seriesName(res.KPI.Name, s.Groups) + " " + s.Role
		if s.Role == engine.RoleLower || s.Role == engine.RoleUpper {
			display = seriesName(res.KPI.Name, s.Groups) + " forecast " + s.Role
		}
		value := data.NewField(res.KPI.ID, labels, s.Values).SetConfig(&data.FieldConfig{Unit: unit, DisplayNameFromDS: display})
		f := data.NewFrame(res.KPI.ID, data.NewField(data.TimeSeriesTimeFieldName, nil, s.Times), value)
		f.SetMeta(&data.FrameMeta{Type: data.FrameTypeTimeSeriesMulti, TypeVersion: data.FrameTypeVersion{0, 1}, Custom: custom})
		frames = append(frames, f)
	}
	return frames
}
