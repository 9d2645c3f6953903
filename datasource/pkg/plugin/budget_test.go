package plugin

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/stretchr/testify/require"

	"github.com/storepulse/storepulse/datasource/pkg/models"
)

func TestEstimateQueryBytes(t *testing.T) {
	from := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	cases := []struct {
		name, queryType, model string
		span                   time.Duration
		want                   int64
	}{
		{"1m over a day, one series", "", `{"kpi":"gmv","interval":"1m"}`, 24 * time.Hour, (1440 + 2) * bytesPerCell},
		{"1h over a day by store", "", `{"kpi":"gmv","interval":"1h","groupBy":["store"]}`, 24 * time.Hour, (24 + 2) * 500 * bytesPerCell},
		{"compare doubles", "anomalies", `{"kpi":"gmv","interval":"1h","compare":"1w"}`, 24 * time.Hour, 2 * (24 + 2) * bytesPerCell},
		{"capped at the bucket limit", "", `{"kpi":"gmv","interval":"1m"}`, 40 * 24 * time.Hour, 20000 * bytesPerCell},
		{"dimensions read little", "dimensions", `{"dimension":"store"}`, 24 * time.Hour, 0},
		{"a bad interval is the engine's to refuse", "", `{"kpi":"gmv","interval":"7m"}`, 24 * time.Hour, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			q, err := models.ParseQuery(json.RawMessage(c.model))
			require.NoError(t, err)
			dq := backend.DataQuery{QueryType: c.queryType, TimeRange: backend.TimeRange{From: from, To: from.Add(c.span)}}
			require.Equal(t, c.want, estimateQueryBytes(dq, q, 500))
		})
	}
}

func TestAdmit(t *testing.T) {
	d := &Datasource{memory: &memBudget{limit: 100}}
	req := &memBudget{limit: 60}
	require.NoError(t, d.admit(req, 40))
	var mle *MemoryLimitError
	err := d.admit(req, 30) // 70 > 60 of the request
	require.True(t, errors.As(err, &mle))
	require.Equal(t, "request", mle.Scope)
	require.Contains(t, err.Error(), "requestMemoryMB")
	require.Equal(t, int64(40), d.memory.used)

	other := &memBudget{limit: 80}
	err = d.admit(other, 70) // 40 + 70 > 100 of the datasource
	require.True(t, errors.As(err, &mle))
	require.Equal(t, "datasource", mle.Scope)
	require.Contains(t, err.Error(), "processMemoryMB")
	require.Equal(t, int64(0), other.used, "a refused query keeps nothing of the request's budget")
	require.NoError(t, d.admit(other, 60))
	require.Equal(t, int64(100), d.memory.used)
	d.memory.release(req.used)
	d.memory.release(other.used)
	require.Equal(t, int64(0), d.memory.used)
	require.Equal(t, backend.ErrorSourcePlugin, errorResponse(err).ErrorSource)
}
