package bench

import (
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strconv"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"

	"github.com/storepulse/storepulse/internal/kpi"
)

// Screen is what a dashboard sends when it opens (or refreshes): one
// QueryData request per panel and per annotation, each over the panel's own
// time range, as Grafana sends them.
type Screen struct {
	Title  string
	Loc    *time.Location // the dashboard's time zone
	Now    time.Time
	Panels []Panel
}

// Panel is one request of the screen.
type Panel struct {
	Title    string
	Kind     string // "panel" or "annotation"
	From, To time.Time
	// Now is the screen's now: when the panel is requested.
	Now     time.Time
	Queries []backend.DataQuery
	// Raw is the hand-written Flux of the same numbers, "" when there is
	// none (see RawFor).
	Raw string
	// Shape names the raw query's kind of work ("sum", "ratio", ...).
	Shape string
	KPI   *kpi.KPI
}

// AgeAt is when the panel's ages are measured: its range end, or now when
// the range ends later (the plugin's rule for freshness).
func (p *Panel) AgeAt() time.Time {
	if p.Now.IsZero() || p.To.Before(p.Now) {
		return p.To
	}
	return p.Now
}

// dashboardJSON is the part of a Grafana dashboard the screen needs.
type dashboardJSON struct {
	Title    string `json:"title"`
	Timezone string `json:"timezone"`
	Time     struct {
		From string `json:"from"`
		To   string `json:"to"`
	} `json:"time"`
	Panels      []panelJSON `json:"panels"`
	Annotations struct {
		List []struct {
			Name   string          `json:"name"`
			Enable *bool           `json:"enable"`
			Target json.RawMessage `json:"target"`
		} `json:"list"`
	} `json:"annotations"`
}

type panelJSON struct {
	Title         string            `json:"title"`
	Type          string            `json:"type"`
	TimeFrom      string            `json:"timeFrom"`
	MaxDataPoints int64             `json:"maxDataPoints"`
	GridPos       struct{ W int }   `json:"gridPos"`
	Targets       []json.RawMessage `json:"targets"`
	Panels        []panelJSON       `json:"panels"` // rows
}

// screenWidth is the wall's TV (1920 px, 24 grid columns): Grafana's
// maxDataPoints of a panel is its width in pixels.
const screenWidth = 1920

// LoadScreen reads a provisioned dashboard and builds the requests Grafana
// sends for it at now, with the raw Flux equivalents where one exists.
func LoadScreen(path string, now time.Time, bucket string) (*Screen, error) {
	b, err := os.ReadFile(path) // #nosec G304 -- the dashboard file the benchmark was given
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	var d dashboardJSON
	if err := json.Unmarshal(b, &d); err != nil {
		return nil, fmt.Errorf("bench: %s: %w", path, err)
	}
	tz := d.Timezone
	if tz == "" || tz == "browser" {
		tz = TimeZone
	}
	loc, err := time.LoadLocation(tz)
	if err != nil {
		return nil, fmt.Errorf("bench: %s: time zone: %w", path, err)
	}
	s := &Screen{Title: d.Title, Loc: loc, Now: now}
	from, err := grafanaTime(d.Time.From, now, loc, false)
	if err != nil {
		return nil, fmt.Errorf("bench: %s: %w", path, err)
	}
	to, err := grafanaTime(d.Time.To, now, loc, true)
	if err != nil {
		return nil, fmt.Errorf("bench: %s: %w", path, err)
	}
	cat := kpi.Default()
	var walk func(ps []panelJSON) error
	walk = func(ps []panelJSON) error {
		for _, p := range ps {
			if err := walk(p.Panels); err != nil {
				return err
			}
			if len(p.Targets) == 0 {
				continue
			}
			pf, pt := from, to
			if p.TimeFrom != "" {
				// A panel's relative time replaces the range: timeFrom until now.
				if pf, err = grafanaTime(p.TimeFrom, now, loc, false); err != nil {
					return fmt.Errorf("panel %q: %w", p.Title, err)
				}
				pt = now
			}
			mdp := p.MaxDataPoints
			if mdp == 0 {
				mdp = int64(max(p.GridPos.W, 1) * screenWidth / 24)
			}
			panel := Panel{Title: p.Title, Kind: "panel", From: pf, To: pt, Now: now}
			for _, t := range p.Targets {
				q, err := dataQuery(t, pf, pt, mdp)
				if err != nil {
					return fmt.Errorf("panel %q: %w", p.Title, err)
				}
				panel.Queries = append(panel.Queries, q)
			}
			if len(panel.Queries) == 1 {
				if panel.Raw, panel.Shape, panel.KPI, err = RawFor(panel.Queries[0], cat, bucket, loc); err != nil {
					return fmt.Errorf("panel %q: %w", p.Title, err)
				}
			}
			s.Panels = append(s.Panels, panel)
		}
		return nil
	}
	if err := walk(d.Panels); err != nil {
		return nil, fmt.Errorf("bench: %s: %w", path, err)
	}
	for _, a := range d.Annotations.List {
		if len(a.Target) == 0 || (a.Enable != nil && !*a.Enable) {
			continue
		}
		// Annotation requests carry no interval hint nor maxDataPoints.
		q, err := dataQuery(a.Target, from, to, 0)
		if err != nil {
			return nil, fmt.Errorf("bench: %s: annotation %q: %w", path, a.Name, err)
		}
		s.Panels = append(s.Panels, Panel{Title: "annotation: " + a.Name, Kind: "annotation", From: from, To: to, Queries: []backend.DataQuery{q}})
	}
	if len(s.Panels) == 0 {
		return nil, fmt.Errorf("bench: %s: no panel with a query", path)
	}
	return s, nil
}

// dataQuery is the DataQuery Grafana builds from a panel target: the target
// JSON as the model, its refId and queryType, the range, maxDataPoints and
// the interval Grafana derives from them.
func dataQuery(target json.RawMessage, from, to time.Time, maxDataPoints int64) (backend.DataQuery, error) {
	var t struct {
		RefID     string `json:"refId"`
		QueryType string `json:"queryType"`
	}
	if err := json.Unmarshal(target, &t); err != nil {
		return backend.DataQuery{}, err
	}
	q := backend.DataQuery{RefID: t.RefID, QueryType: t.QueryType, JSON: target,
		TimeRange: backend.TimeRange{From: from, To: to}, MaxDataPoints: maxDataPoints}
	if maxDataPoints > 0 {
		q.Interval = max(time.Second, (to.Sub(from) / time.Duration(maxDataPoints)).Round(time.Second))
	}
	return q, nil
}

var grafanaTimeRE = regexp.MustCompile(`^now(?:-(\d+)([smhdw]))?(?:/([dw]))?$`)

// grafanaTime evaluates the relative times dashboards use ("now", "now/d",
// "now-6d/d", "now-1h"): the rounded unit starts at local midnight (weeks on
// Monday) in the dashboard's time zone; roundUp (a range's "to") gives the
// last millisecond of the unit, as Grafana does.
func grafanaTime(expr string, now time.Time, loc *time.Location, roundUp bool) (time.Time, error) {
	m := grafanaTimeRE.FindStringSubmatch(expr)
	if m == nil {
		return time.Time{}, fmt.Errorf("relative time %q is not understood by the benchmark (now, now-<n><s|m|h|d|w>, optionally /d or /w)", expr)
	}
	t := now.In(loc)
	if m[1] != "" {
		n, _ := strconv.Atoi(m[1])
		switch m[2] {
		case "s":
			t = t.Add(-time.Duration(n) * time.Second)
		case "m":
			t = t.Add(-time.Duration(n) * time.Minute)
		case "h":
			t = t.Add(-time.Duration(n) * time.Hour)
		case "d":
			t = t.AddDate(0, 0, -n)
		case "w":
			t = t.AddDate(0, 0, -7*n)
		}
	}
	if m[3] == "" {
		return t, nil
	}
	start := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, loc)
	days := 1
	if m[3] == "w" {
		start = start.AddDate(0, 0, -((int(start.Weekday()) + 6) % 7))
		days = 7
	}
	if roundUp {
		return start.AddDate(0, 0, days).Add(-time.Millisecond), nil
	}
	return start, nil
}

// request is the panel's QueryData request for a datasource instance.
func (p *Panel) request(pc backend.PluginContext) *backend.QueryDataRequest {
	return &backend.QueryDataRequest{PluginContext: pc, Queries: slices.Clone(p.Queries)}
}
