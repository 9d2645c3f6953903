package dashboards_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The committed dashboard JSON as Grafana reads it, only the parts tested.
type dashJSON struct {
	UID        string      `json:"uid"`
	Title      string      `json:"title"`
	Timezone   string      `json:"timezone"`
	Refresh    string      `json:"refresh"`
	Time       timeJSON    `json:"time"`
	Panels     []panelJSON `json:"panels"`
	Templating struct {
		List []varJSON `json:"list"`
	} `json:"templating"`
	Annotations struct {
		List []annotationJSON `json:"list"`
	} `json:"annotations"`
	Links []linkJSON `json:"links"`
}

type timeJSON struct {
	From string `json:"from"`
	To   string `json:"to"`
}

type dsJSON struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

type linkJSON struct {
	Title    string `json:"title"`
	Type     string `json:"type"`
	URL      string `json:"url"`
	KeepTime bool   `json:"keepTime"`
}

type gridJSON struct {
	H, W, X, Y int
}

type overrideJSON struct {
	Matcher struct {
		ID      string `json:"id"`
		Options any    `json:"options"`
	} `json:"matcher"`
	Properties []struct {
		ID    string          `json:"id"`
		Value json.RawMessage `json:"value"`
	} `json:"properties"`
}

type thresholdsJSON struct {
	Mode  string `json:"mode"`
	Steps []struct {
		Value *float64 `json:"value"`
		Color string   `json:"color"`
	} `json:"steps"`
}

type panelJSON struct {
	ID          int               `json:"id"`
	Type        string            `json:"type"`
	Title       string            `json:"title"`
	GridPos     gridJSON          `json:"gridPos"`
	Datasource  *dsJSON           `json:"datasource"`
	Targets     []json.RawMessage `json:"targets"`
	TimeFrom    string            `json:"timeFrom"`
	Links       []linkJSON        `json:"links"`
	FieldConfig struct {
		Defaults struct {
			Links       []linkJSON      `json:"links"`
			Thresholds  *thresholdsJSON `json:"thresholds"`
			DisplayName string          `json:"displayName"`
		} `json:"defaults"`
		Overrides []overrideJSON `json:"overrides"`
	} `json:"fieldConfig"`
	Options struct {
		ReduceOptions *struct {
			Fields string `json:"fields"`
			Values bool   `json:"values"`
		} `json:"reduceOptions"`
	} `json:"options"`
	Panels []panelJSON `json:"panels"` // rows
}

type varJSON struct {
	Type       string          `json:"type"`
	Name       string          `json:"name"`
	Datasource *dsJSON         `json:"datasource"`
	Query      json.RawMessage `json:"query"`
	Multi      bool            `json:"multi"`
	IncludeAll bool            `json:"includeAll"`
	Options    []struct {
		Value string `json:"value"`
	} `json:"options"`
	Current struct {
		Value any `json:"value"`
	} `json:"current"`
}

type annotationJSON struct {
	Name       string          `json:"name"`
	Datasource *dsJSON         `json:"datasource"`
	Target     json.RawMessage `json:"target"`
}

// loadAll reads every committed dashboard of this directory, by uid.
func loadAll(t *testing.T) map[string]dashJSON {
	t.Helper()
	paths, err := filepath.Glob("*.json")
	require.NoError(t, err)
	require.NotEmpty(t, paths)
	out := map[string]dashJSON{}
	for _, p := range paths {
		raw, err := os.ReadFile(p)
		require.NoError(t, err)
		var d dashJSON
		require.NoError(t, json.Unmarshal(raw, &d), p)
		require.NotEmpty(t, d.UID, p)
		_, dup := out[d.UID]
		require.False(t, dup, "uid %s twice", d.UID)
		require.Equal(t, d.UID+".json", p, "file named after its uid")
		out[d.UID] = d
	}
	return out
}

// allPanels flattens rows.
func allPanels(d dashJSON) []panelJSON {
	var out []panelJSON
	for _, p := range d.Panels {
		out = append(out, p)
		out = append(out, p.Panels...)
	}
	return out
}

func (v varJSON) optionValues() []string {
	out := make([]string, len(v.Options))
	for i, o := range v.Options {
		out[i] = o.Value
	}
	return out
}

func (v varJSON) currentValue() string {
	if s, ok := v.Current.Value.(string); ok {
		return s
	}
	return ""
}

// query is one query of a dashboard: a panel target, an annotation or a
// variable query, with where it comes from.
type query struct {
	where string
	panel *panelJSON // nil for annotations and variables
	raw   json.RawMessage
}

func queries(d dashJSON) []query {
	var out []query
	for _, p := range allPanels(d) {
		for _, t := range p.Targets {
			out = append(out, query{where: fmt.Sprintf("%s panel %d %q", d.UID, p.ID, p.Title), panel: &p, raw: t})
		}
	}
	for _, a := range d.Annotations.List {
		out = append(out, query{where: fmt.Sprintf("%s annotation %q", d.UID, a.Name), raw: a.Target})
	}
	for _, v := range d.Templating.List {
		if v.Type == "query" {
			out = append(out, query{where: fmt.Sprintf("%s variable %s", d.UID, v.Name), raw: v.Query})
		}
	}
	return out
}

// envelope is the DataQuery part of a query (what Grafana sends besides the
// model).
type envelope struct {
	RefID      string  `json:"refId"`
	QueryType  string  `json:"queryType"`
	Datasource *dsJSON `json:"datasource"`
}

// interpolate replaces the dashboard's variables in a query as Grafana and
// the plugin frontend do before the query reaches the backend: vals maps a
// variable name to its interpolated value ("$__all" for All, "{a,b}" for
// several values, a value).
func interpolate(raw json.RawMessage, vals map[string]string) (json.RawMessage, error) {
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil, err
	}
	names := make([]string, 0, len(vals))
	for n := range vals {
		names = append(names, n)
	}
	// Longest first, so that $category is not read as $cat + "egory".
	sort.Slice(names, func(i, j int) bool { return len(names[i]) > len(names[j]) })
	var walk func(any) any
	walk = func(x any) any {
		switch x := x.(type) {
		case string:
			for _, n := range names {
				x = varPattern(n).ReplaceAllLiteralString(x, vals[n])
			}
			return x
		case []any:
			for i := range x {
				x[i] = walk(x[i])
			}
			return x
		case map[string]any:
			for k := range x {
				x[k] = walk(x[k])
			}
			return x
		}
		return x
	}
	return json.Marshal(walk(v))
}

// varPattern matches a reference to variable name: $name, ${name} or
// ${name:format}.
func varPattern(name string) *regexp.Regexp {
	q := regexp.QuoteMeta(name)
	return regexp.MustCompile(`\$\{` + q + `(:[a-z]+)?\}|\$` + q + `\b`)
}

// unresolved reports a variable reference left in a query.
var unresolvedRef = regexp.MustCompile(`\$\{?[a-zA-Z_][a-zA-Z0-9_]*`)

func unresolved(raw json.RawMessage) string {
	s := strings.ReplaceAll(string(raw), dollarAll, "")
	return unresolvedRef.FindString(s)
}

const dollarAll = "$__all"

// --- Grafana time ranges -----------------------------------------------------

var relTime = regexp.MustCompile(`^now((?:[+-]\d+[smhdwMy])*)(?:/([smhdwMy]))?$`)
var relStep = regexp.MustCompile(`([+-])(\d+)([smhdwMy])`)

// grafanaTime resolves a relative time of Grafana's date math at now in loc;
// roundUp rounds "/d" to the end of the unit (the "to" side of a range).
func grafanaTime(expr string, now time.Time, loc *time.Location, roundUp bool) (time.Time, error) {
	m := relTime.FindStringSubmatch(expr)
	if m == nil {
		return time.Time{}, fmt.Errorf("unsupported time %q", expr)
	}
	t := now.In(loc)
	for _, s := range relStep.FindAllStringSubmatch(m[1], -1) {
		n, _ := strconv.Atoi(s[2])
		if s[1] == "-" {
			n = -n
		}
		switch s[3] {
		case "s":
			t = t.Add(time.Duration(n) * time.Second)
		case "m":
			t = t.Add(time.Duration(n) * time.Minute)
		case "h":
			t = t.Add(time.Duration(n) * time.Hour)
		case "d":
			t = t.AddDate(0, 0, n)
		case "w":
			t = t.AddDate(0, 0, 7*n)
		case "M":
			t = t.AddDate(0, n, 0)
		case "y":
			t = t.AddDate(n, 0, 0)
		}
	}
	if m[2] == "" {
		return t, nil
	}
	start := func(t time.Time) time.Time { return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, loc) }
	var from, next time.Time
	switch m[2] {
	case "d":
		from = start(t)
		next = from.AddDate(0, 0, 1)
	case "w": // Grafana's week starts on the dashboard's weekStart: Monday here
		from = start(t).AddDate(0, 0, -((int(t.Weekday()) + 6) % 7))
		next = from.AddDate(0, 0, 7)
	case "M":
		from = time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, loc)
		next = from.AddDate(0, 1, 0)
	case "y":
		from = time.Date(t.Year(), 1, 1, 0, 0, 0, 0, loc)
		next = from.AddDate(1, 0, 0)
	default:
		return time.Time{}, fmt.Errorf("unsupported rounding in %q", expr)
	}
	if roundUp {
		return next.Add(-time.Millisecond), nil
	}
	return from, nil
}

// panelRange is the time range Grafana queries a panel with: the dashboard's,
// or the panel's relative time (Grafana's describeTextRange: "now-6d/d" and
// "6d" mean from then to now).
func panelRange(d dashJSON, p *panelJSON, now time.Time, loc *time.Location) (from, to time.Time, err error) {
	fromExpr, toExpr := d.Time.From, d.Time.To
	if p != nil && p.TimeFrom != "" {
		fromExpr, toExpr = p.TimeFrom, "now"
		if !strings.HasPrefix(fromExpr, "now") {
			fromExpr = "now-" + fromExpr
		}
	}
	if from, err = grafanaTime(fromExpr, now, loc, false); err != nil {
		return
	}
	to, err = grafanaTime(toExpr, now, loc, true)
	return
}

// jsRegexp turns a Grafana field regex ("/…/flags" or a plain pattern, which
// Grafana anchors) into Go's.
func jsRegexp(s string) (*regexp.Regexp, error) {
	if len(s) >= 2 && s[0] == '/' {
		if i := strings.LastIndex(s, "/"); i > 0 {
			return regexp.Compile(s[1:i])
		}
	}
	return regexp.Compile("^(?:" + s + ")$")
}
