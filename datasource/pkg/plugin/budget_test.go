package plugin

import (
	"context"
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
		{"insights of the business: the history per store", "insights", `{}`, 7 * 24 * time.Hour, 50 * 25 * 500 * 2 * bytesPerCell},
		{"insights of one store", "insights", `{"filters":{"store":["s001"]}}`, 24 * time.Hour, 50 * 25 * 2 * bytesPerCell},
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
	d := &Datasource{memory: &memBudget{limit: 100}, process: &ProcessMemory{budget: memBudget{limit: 1000}}}
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
	require.Contains(t, err.Error(), "datasourceMemoryMB")
	require.Equal(t, int64(0), other.used, "a refused query keeps nothing of the request's budget")
	require.NoError(t, d.admit(other, 60))
	require.Equal(t, int64(100), d.memory.used)
	require.Equal(t, int64(100), d.process.budget.used)
	d.releaseRequest(req)
	d.releaseRequest(other)
	require.Equal(t, int64(0), d.memory.used)
	require.Equal(t, int64(0), d.process.budget.used)
	require.Equal(t, backend.ErrorSourcePlugin, errorResponse(err).ErrorSource)
}

// TestProcessMemorySharedByDatasources: two datasources of one plugin
// process share its budget. While a request of the first holds its
// reservation (its source blocks), the same query on the second, which fits
// its own request and datasource budgets, is refused naming the plugin's
// limit and where to set it; once the first is answered, the second is
// served, and nothing stays reserved.
func TestProcessMemorySharedByDatasources(t *testing.T) {
	q := backend.DataQuery{RefID: "A", JSON: json.RawMessage(`{"kpi":"gmv","interval":"1h","groupBy":["store"]}`),
		TimeRange: backend.TimeRange{From: ts("2026-11-10T16:00:00Z"), To: ts("2026-11-12T16:00:00Z")}}
	mq, err := models.ParseQuery(q.JSON)
	require.NoError(t, err)
	s := testSettings(t)
	need := estimateQueryBytes(q, mq, s.SeriesLimit)
	require.Positive(t, need)
	mem := &ProcessMemory{budget: memBudget{limit: need * 3 / 2}}

	slow := fixture()
	slow.block = make(chan struct{})
	d1, d2 := newTestDatasource(t, slow), newTestDatasource(t, fixture())
	d1.process, d2.process = mem, mem
	done := make(chan *backend.QueryDataResponse)
	go func() {
		r, _ := d1.QueryData(context.Background(), &backend.QueryDataRequest{Queries: []backend.DataQuery{q}})
		done <- r
	}()
	require.Eventually(t, func() bool {
		mem.budget.mu.Lock()
		defer mem.budget.mu.Unlock()
		return mem.budget.used == need
	}, 5*time.Second, time.Millisecond)

	r, err := d2.QueryData(context.Background(), &backend.QueryDataRequest{Queries: []backend.DataQuery{q}})
	require.NoError(t, err)
	var mle *MemoryLimitError
	require.True(t, errors.As(r.Responses["A"].Error, &mle), "%v", r.Responses["A"].Error)
	require.Equal(t, "process", mle.Scope)
	require.Contains(t, mle.Error(), "memory_mb in [plugin.storepulse-kpi-datasource] of grafana.ini")
	require.Equal(t, backend.ErrorSourcePlugin, r.Responses["A"].ErrorSource)
	require.Equal(t, int64(0), d2.memory.used, "the refused query keeps nothing of its datasource's budget")

	close(slow.block)
	first := <-done
	require.NoError(t, first.Responses["A"].Error)
	require.Equal(t, int64(0), mem.budget.used)
	r, err = d2.QueryData(context.Background(), &backend.QueryDataRequest{Queries: []backend.DataQuery{q}})
	require.NoError(t, err)
	require.NoError(t, r.Responses["A"].Error)
	require.NotEmpty(t, r.Responses["A"].Frames)
	require.Equal(t, int64(0), mem.budget.used)
}

func TestProcessMemoryFromEnv(t *testing.T) {
	env := func(v string) func(string) string {
		return func(k string) string {
			if k == ProcessMemoryEnv {
				return v
			}
			return ""
		}
	}
	m, err := ProcessMemoryFromEnv(env(""))
	require.NoError(t, err)
	require.Equal(t, int64(DefaultProcessMemoryMB)<<20, m.budget.limit)
	m, err = ProcessMemoryFromEnv(env(" 512 "))
	require.NoError(t, err)
	require.Equal(t, int64(512)<<20, m.budget.limit)
	for _, bad := range []string{"0", "-5", "1.5", "2GB", "99999999"} {
		_, err := ProcessMemoryFromEnv(env(bad))
		require.Error(t, err, bad)
		require.Contains(t, err.Error(), "GF_PLUGIN_MEMORY_MB", bad)
	}
}
