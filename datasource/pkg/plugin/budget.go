package plugin

import (
	"fmt"
	"sync"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"

	"github.com/storepulse/storepulse/datasource/pkg/engine"
	"github.com/storepulse/storepulse/datasource/pkg/models"
)

// bytesPerCell is the estimated working memory of one series value of one
// bucket while a query runs: the rows read from InfluxDB (time, value,
// tags), the engine's grid and the frame's cells.
const bytesPerCell = 128

// memBudget is a byte budget shared by concurrent users: reserve takes
// bytes or refuses at once (never waits, so a request never queues behind
// a stuck one), release returns them.
type memBudget struct {
	mu    sync.Mutex
	limit int64
	used  int64
}

func (b *memBudget) reserve(n int64) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.used+n > b.limit {
		return false
	}
	b.used += n
	return true
}

func (b *memBudget) release(n int64) {
	b.mu.Lock()
	b.used -= n
	b.mu.Unlock()
}

// estimateQueryBytes is an upper bound of the working memory of a KPI or
// anomalies query, computed before anything is read: buckets (at the finest
// step the interval allows, at most the engine's bucket limit) × series (1,
// or the series limit when grouped) × (1 + a compare period) × bytesPerCell.
// Other query types read little and estimate 0.
func estimateQueryBytes(dq backend.DataQuery, q models.Query, seriesLimit int) int64 {
	switch dq.QueryType {
	case "", models.QueryTypeKPI, models.QueryTypeAnomalies:
	default:
		return 0
	}
	from, to := dq.TimeRange.From, dq.TimeRange.To
	step, err := engine.ResolveStep(q.Interval, from, to, dq.Interval, dq.MaxDataPoints, time.Minute)
	if err != nil || !to.After(from) {
		return 0 // the engine refuses the query with its own error
	}
	width := step.Fixed
	switch step.Calendar {
	case models.IntervalDay:
		width = 24 * time.Hour
	case models.IntervalWeek:
		width = 7 * 24 * time.Hour
	case models.IntervalMonth:
		width = 28 * 24 * time.Hour
	}
	buckets := min(int64(to.Sub(from)/width)+2, engine.MaxBuckets)
	series := int64(1)
	if len(q.GroupBy) > 0 || q.TopN != nil {
		series = int64(max(seriesLimit, 1))
	}
	periods := int64(1)
	if q.Compare != "" && q.Compare != models.CompareNone {
		periods = 2
	}
	return buckets * series * periods * bytesPerCell
}

// MemoryLimitError is a query refused because its estimated working memory
// would exceed the request's or the datasource's memory budget.
type MemoryLimitError struct {
	Need, Limit int64
	Scope       string // "request" or "datasource"
}

func (e *MemoryLimitError) Error() string {
	mb := func(n int64) string { return fmt.Sprintf("%.0f MB", float64(n)/(1<<20)) }
	if e.Scope == "request" {
		return fmt.Sprintf("query needs about %s of memory, over what is left of the %s memory limit of one request (requestMemoryMB): "+
			"choose a larger interval, a shorter time range, fewer group-by series or fewer queries per panel", mb(e.Need), mb(e.Limit))
	}
	return fmt.Sprintf("query needs about %s of memory, over what is left of the datasource's %s memory limit for queries running at once (processMemoryMB): "+
		"retry later, or choose a larger interval, a shorter time range or fewer group-by series", mb(e.Need), mb(e.Limit))
}

// admit reserves a query's estimated memory in the request's and the
// datasource's budgets until the whole request is answered (its frames stay
// in memory until then): QueryData releases the request's total from the
// datasource's budget at the end. A refused query gets a MemoryLimitError as
// a plugin error.
func (d *Datasource) admit(reqBudget *memBudget, need int64) error {
	if need == 0 {
		return nil
	}
	if !reqBudget.reserve(need) {
		return backend.PluginError(&MemoryLimitError{Need: need, Limit: reqBudget.limit, Scope: "request"})
	}
	if !d.memory.reserve(need) {
		reqBudget.release(need)
		return backend.PluginError(&MemoryLimitError{Need: need, Limit: d.memory.limit, Scope: "datasource"})
	}
	return nil
}
