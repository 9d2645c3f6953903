package plugin

import (
	"context"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/storepulse/storepulse/datasource/pkg/engine"
	"github.com/storepulse/storepulse/datasource/pkg/models"
)

func (d *Datasource) freshnessQuery(ctx context.Context, q models.Query, to time.Time) (data.Frames, error) {
	res, err := d.engineFor(ctx).Freshness(ctx, to, q.Filters)
	if err != nil {
		return nil, err
	}
	return freshnessFrames(res), nil
}

// freshnessFrames: one frame per store (label store) with one point at
// min(to, now), the age of the store's newest data in seconds, so that an
// alert rule gets one instance per store (age > 900: silent for 15 minutes).
func freshnessFrames(res *engine.FreshnessResult) data.Frames {
	frames := make(data.Frames, 0, len(res.Rows))
	for _, r := range res.Rows {
		age := data.NewField("age", data.Labels{"store": r.Store}, []float64{r.Age}).
			SetConfig(&data.FieldConfig{Unit: "s", DisplayNameFromDS: "Data age " + r.Store})
		f := data.NewFrame("freshness", data.NewField(data.TimeSeriesTimeFieldName, nil, []time.Time{res.At}), age)
		f.SetMeta(&data.FrameMeta{Type: data.FrameTypeTimeSeriesMulti, TypeVersion: data.FrameTypeVersion{0, 1},
			Custom: map[string]any{"newest": r.Newest.UTC()}})
		frames = append(frames, f)
	}
	return frames
}
