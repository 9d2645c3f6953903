package plugin

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"

	"github.com/storepulse/storepulse/datasource/pkg/bucket"
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
// Insights estimate their history (insightsBytes); other query types read
// little and estimate 0.
func estimateQueryBytes(dq backend.DataQuery, q models.Query, seriesLimit int) int64 {
	switch dq.QueryType {
	case models.QueryTypeInsights:
		return insightsBytes(q, seriesLimit)
	case "", models.QueryTypeKPI, models.QueryTypeAnomalies:
	default:
		return 0
	}
	from, to := dq.TimeRange.From, dq.TimeRange.To
	step, err := bucket.ResolveStep(q.Interval, from, to, dq.Interval, dq.MaxDataPoints, time.Minute)
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
	case models.IntervalQuarter:
		width = 90 * 24 * time.Hour
	case models.IntervalYear:
		width = 365 * 24 * time.Hour
	case models.IntervalRange:
		width = to.Sub(from) // one bucket (+2 below: a safe bound)
	}
	buckets := min(int64(to.Sub(from)/width)+2, bucket.Max)
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

// ProcessMemory is the memory budget of the whole plugin process: every
// datasource instance it serves (one per datasource of every organisation)
// reserves its queries here too. main makes one and hands it to NewFactory.
type ProcessMemory struct{ budget memBudget }

// DefaultProcessMemoryMB is the process budget when Grafana's configuration
// sets none.
const DefaultProcessMemoryMB = 2048

// ProcessMemoryEnv is how Grafana hands the plugin its process budget: the
// setting memory_mb of the section [plugin.storepulse-kpi-datasource] of
// grafana.ini, or the environment variable
// GF_PLUGIN_STOREPULSE_KPI_DATASOURCE_MEMORY_MB of Grafana, reaches the
// plugin as GF_PLUGIN_MEMORY_MB.
const ProcessMemoryEnv = "GF_PLUGIN_MEMORY_MB"

// NewProcessMemory is a process budget of mb megabytes.
func NewProcessMemory(mb int) *ProcessMemory {
	return &ProcessMemory{budget: memBudget{limit: int64(mb) << 20}}
}

// ProcessMemoryFromEnv reads the process budget once at start: unset is
// DefaultProcessMemoryMB; anything but a whole number of megabytes above 0
// is an error, and the plugin does not start.
func ProcessMemoryFromEnv(getenv func(string) string) (*ProcessMemory, error) {
	v := strings.TrimSpace(getenv(ProcessMemoryEnv))
	if v == "" {
		return NewProcessMemory(DefaultProcessMemoryMB), nil
	}
	mb, err := strconv.Atoi(v)
	if err != nil || mb <= 0 || mb > 1<<20 {
		return nil, fmt.Errorf("%s=%q: the plugin's memory limit is a whole number of megabytes, 1 to %d (memory_mb in [plugin.%s] of grafana.ini)",
			ProcessMemoryEnv, v, 1<<20, PluginID)
	}
	return NewProcessMemory(mb), nil
}

// MemoryLimitError is a query refused because its estimated working memory
// would exceed the request's, the datasource's or the plugin process's
// memory budget.
type MemoryLimitError struct {
	Need, Limit int64
	Scope       string // "request", "datasource" or "process"
}

func (e *MemoryLimitError) Error() string {
	mb := func(n int64) string { return fmt.Sprintf("%.0f MB", float64(n)/(1<<20)) }
	switch e.Scope {
	case "request":
		return fmt.Sprintf("query needs about %s of memory, over what is left of the %s memory limit of one request (requestMemoryMB): "+
			"choose a larger interval, a shorter time range, fewer group-by series or fewer queries per panel", mb(e.Need), mb(e.Limit))
	case "datasource":
		return fmt.Sprintf("query needs about %s of memory, over what is left of the datasource's %s memory limit for queries running at once (datasourceMemoryMB): "+
			"retry later, or choose a larger interval, a shorter time range or fewer group-by series", mb(e.Need), mb(e.Limit))
	}
	return fmt.Sprintf("query needs about %s of memory, over what is left of the plugin's %s memory limit for all its datasources' queries running at once "+
		"(memory_mb in [plugin.%s] of grafana.ini): retry later, or choose a larger interval, a shorter time range or fewer group-by series",
		mb(e.Need), mb(e.Limit), PluginID)
}

// admit reserves a query's estimated memory in the request's, the
// datasource's and the process's budgets until the whole request is
// answered (its frames stay in memory until then): QueryData releases the
// request's total from the other two at the end. A refused query gets a
// MemoryLimitError as a plugin error and keeps nothing reserved.
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
	if !d.process.budget.reserve(need) {
		reqBudget.release(need)
		d.memory.release(need)
		return backend.PluginError(&MemoryLimitError{Need: need, Limit: d.process.budget.limit, Scope: "process"})
	}
	return nil
}

// releaseRequest returns what a request reserved to the datasource's and
// the process's budgets.
func (d *Datasource) releaseRequest(reqBudget *memBudget) {
	d.memory.release(reqBudget.used)
	d.process.budget.release(reqBudget.used)
}
