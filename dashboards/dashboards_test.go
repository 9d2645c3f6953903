package dashboards_test

import (
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/storepulse/storepulse/dashboards"
	"github.com/storepulse/storepulse/datasource/pkg/models"
	"github.com/storepulse/storepulse/internal/kpi"
)

// contractUIDs are the dashboard uids fixed by the session contract.
func contractUIDs() []string {
	return []string{"storepulse-wall", "storepulse-drilldown", "storepulse-campaigns", "storepulse-service", "storepulse-market"}
}

func TestCommittedJSONIsGenerated(t *testing.T) {
	files, err := dashboards.All()
	require.NoError(t, err)
	var names []string
	for _, f := range files {
		names = append(names, f.Name)
		raw, err := os.ReadFile(f.Name)
		require.NoError(t, err, "run go generate ./dashboards")
		require.Equal(t, string(f.JSON), string(raw), "%s is stale: run go generate ./dashboards", f.Name)
	}
	onDisk, err := filepath.Glob("*.json")
	require.NoError(t, err)
	slices.Sort(names)
	require.Equal(t, names, onDisk, "every JSON file here is generated (remove the others)")
}

func TestUIDsAreTheContracts(t *testing.T) {
	all := loadAll(t)
	var uids []string
	for uid, d := range all {
		uids = append(uids, uid)
		require.NotEmpty(t, d.Title, uid)
		require.Equal(t, dashboards.StoreTimeZone, d.Timezone, "%s shows the stores' time zone", uid)
		require.NotEmpty(t, d.Refresh, uid)
	}
	require.ElementsMatch(t, contractUIDs(), uids)
}

func TestEverythingUsesTheStorePulseDatasource(t *testing.T) {
	want := func(where string, ds *dsJSON) {
		require.NotNil(t, ds, where)
		require.Equal(t, dashboards.DatasourceUID, ds.UID, where)
		require.Equal(t, dashboards.DatasourceType, ds.Type, where)
	}
	for uid, d := range loadAll(t) {
		ids := map[int]bool{}
		for _, p := range allPanels(d) {
			require.False(t, ids[p.ID], "%s: panel id %d twice", uid, p.ID)
			ids[p.ID] = true
			if p.Type == "row" || p.Type == "text" {
				continue
			}
			want(fmt.Sprintf("%s panel %q", uid, p.Title), p.Datasource)
			require.NotEmpty(t, p.Targets, "%s panel %q has no query", uid, p.Title)
		}
		for _, v := range d.Templating.List {
			if v.Type == "query" {
				want(uid+" variable "+v.Name, v.Datasource)
			}
		}
		for _, a := range d.Annotations.List {
			want(uid+" annotation "+a.Name, a.Datasource)
		}
		for _, q := range queries(d) {
			var e envelope
			require.NoError(t, json.Unmarshal(q.raw, &e), q.where)
			want(q.where, e.Datasource)
			require.NotEmpty(t, e.RefID, q.where)
		}
	}
}

// substitutions lists the variable values a query is checked with: each
// variable's choices one at a time (the others at their defaults), and the
// multi-value forms Grafana sends (All, several values, one value).
func substitutions(d dashJSON) []map[string]string {
	base := map[string]string{}
	type choice struct{ name, value string }
	var choices []choice
	for _, v := range d.Templating.List {
		switch {
		case v.Type == "custom":
			base[v.Name] = v.currentValue()
			for _, o := range v.optionValues() {
				choices = append(choices, choice{v.Name, o})
			}
		case v.Multi:
			base[v.Name] = dollarAll
			choices = append(choices, choice{v.Name, "{a-1,b-2}"}, choice{v.Name, "a-1"})
		default:
			base[v.Name] = "a-1"
		}
	}
	out := []map[string]string{base}
	for _, c := range choices {
		m := map[string]string{}
		for k, v := range base {
			m[k] = v
		}
		m[c.name] = c.value
		out = append(out, m)
	}
	return out
}

// noKPI are the query types that name no KPI.
func noKPI(queryType string, q models.Query) bool {
	switch queryType {
	case models.QueryTypeDimensions, models.QueryTypeCampaigns, models.QueryTypeCalendar, models.QueryTypeFreshness, models.QueryTypeInsights:
		return true
	}
	return q.Funnel
}

func TestQueriesParseWithEveryVariableValue(t *testing.T) {
	cat := kpi.Default()
	for uid, d := range loadAll(t) {
		for _, q := range queries(d) {
			for _, vals := range substitutions(d) {
				raw, err := interpolate(q.raw, vals)
				require.NoError(t, err, q.where)
				require.Empty(t, unresolved(raw), "%s: variable left in %s with %v", q.where, raw, vals)
				var e envelope
				require.NoError(t, json.Unmarshal(raw, &e))
				if strings.Contains(q.where, " variable ") {
					// A variable's query is sent as queryType dimensions by the
					// frontend's variable support.
					require.Equal(t, models.QueryTypeDimensions, e.QueryType, q.where)
				}
				m, err := models.ParseQuery(raw)
				require.NoError(t, err, "%s: %s", q.where, raw)
				if noKPI(e.QueryType, m) {
					continue
				}
				_, ok := cat.Get(m.KPI)
				require.True(t, ok, "%s: KPI %q is not in the catalog (%s)", q.where, m.KPI, uid)
			}
		}
	}
}

func TestKPIVariableIsTheCatalog(t *testing.T) {
	cat := kpi.Default()
	all := loadAll(t)
	var want []string
	for _, k := range cat.All() {
		if k.Kind != kpi.KindTransform {
			want = append(want, k.ID)
		}
	}
	found := false
	for _, v := range all[dashboards.UIDDrilldown].Templating.List {
		if v.Name == "kpi" {
			found = true
			require.Equal(t, "custom", v.Type)
			require.Equal(t, want, v.optionValues(), "the drill-down lists every series KPI of the catalog")
		}
	}
	require.True(t, found)
	for uid, d := range all {
		for _, v := range d.Templating.List {
			if v.Name != "kpi" {
				continue
			}
			for _, id := range v.optionValues() {
				_, ok := cat.Get(id)
				require.True(t, ok, "%s: kpi option %s", uid, id)
			}
		}
	}
}

func TestDrilldownVariablesAreTheContracts(t *testing.T) {
	d := loadAll(t)[dashboards.UIDDrilldown]
	byName := map[string]varJSON{}
	for _, v := range d.Templating.List {
		byName[v.Name] = v
	}
	for _, dim := range []string{"store", "channel", "category"} {
		v, ok := byName[dim]
		require.True(t, ok, dim)
		require.Equal(t, "query", v.Type, dim)
		require.True(t, v.Multi && v.IncludeAll, "%s is multi-value with All", dim)
		var q struct {
			QueryType string `json:"queryType"`
			Dimension string `json:"dimension"`
		}
		require.NoError(t, json.Unmarshal(v.Query, &q))
		require.Equal(t, models.QueryTypeDimensions, q.QueryType)
		require.Equal(t, dim, q.Dimension)
	}
	require.Equal(t, []string{"1d", "1w", "4w", "1y", "campaign", "previous_period"}, byName["compare"].optionValues())
	require.Equal(t, "1w", byName["compare"].currentValue())
	require.Equal(t, "gmv", byName["kpi"].currentValue())
}

// linkVars are the template variables a link sets on its target: var-X
// parameters and ${X:queryparam} (Grafana writes var-X=… for it).
var queryParamRef = regexp.MustCompile(`^\$\{([a-zA-Z_][a-zA-Z0-9_]*):queryparam\}$`)

func checkLink(t *testing.T, all map[string]dashJSON, where string, l linkJSON) {
	t.Helper()
	require.Equal(t, "link", l.Type, "%s: link %q", where, l.Title)
	u, err := url.Parse(l.URL)
	require.NoError(t, err, "%s: %s", where, l.URL)
	require.Empty(t, u.Host, "%s: %s stays in Grafana", where, l.URL)
	parts := strings.Split(strings.TrimPrefix(u.Path, "/"), "/")
	require.True(t, len(parts) >= 2 && parts[0] == "d", "%s: %s is not a /d/<uid> link", where, l.URL)
	target, ok := all[parts[1]]
	require.True(t, ok, "%s: %s links to an unknown dashboard", where, l.URL)
	vars := map[string]bool{}
	for _, v := range target.Templating.List {
		vars[v.Name] = true
	}
	timeCarried := l.KeepTime
	for _, p := range strings.Split(u.RawQuery, "&") {
		if p == "" {
			continue
		}
		if p == "${__url_time_range}" {
			timeCarried = true
			continue
		}
		if m := queryParamRef.FindStringSubmatch(p); m != nil {
			require.True(t, vars[m[1]], "%s: %s sets %s, not a variable of %s", where, l.URL, m[1], target.UID)
			continue
		}
		key, _, _ := strings.Cut(p, "=")
		name, isVar := strings.CutPrefix(key, "var-")
		require.True(t, isVar, "%s: %s: unexpected parameter %q", where, l.URL, p)
		require.True(t, vars[name], "%s: %s sets var-%s, not a variable of %s", where, l.URL, name, target.UID)
	}
	require.True(t, timeCarried, "%s: %s does not carry the time range", where, l.URL)
}

func TestLinksPointAtDashboardsAndTheirVariables(t *testing.T) {
	all := loadAll(t)
	for uid, d := range all {
		for _, l := range d.Links {
			checkLink(t, all, uid+" dashboard links", l)
		}
		for _, p := range allPanels(d) {
			where := fmt.Sprintf("%s panel %q", uid, p.Title)
			for _, l := range p.Links {
				checkLink(t, all, where, l)
			}
			for _, l := range p.FieldConfig.Defaults.Links {
				checkLink(t, all, where+" data link", l)
			}
			for _, o := range p.FieldConfig.Overrides {
				for _, pr := range o.Properties {
					if pr.ID != "links" {
						continue
					}
					var ls []linkJSON
					require.NoError(t, json.Unmarshal(pr.Value, &ls))
					for _, l := range ls {
						checkLink(t, all, where+" column link", l)
					}
				}
			}
		}
	}
}

func TestWallEveryPanelOpensTheDrilldown(t *testing.T) {
	d := loadAll(t)[dashboards.UIDWall]
	for _, p := range allPanels(d) {
		var drill bool
		for _, l := range append(slices.Clone(p.Links), p.FieldConfig.Defaults.Links...) {
			if strings.HasPrefix(l.URL, "/d/"+dashboards.UIDDrilldown+"?var-kpi=") {
				drill = true
			}
		}
		require.True(t, drill, "wall panel %q links to the drill-down with its KPI", p.Title)
	}
}

// Grafana's grid: a row is 30 px high plus an 8 px margin between rows
// (GRID_CELL_HEIGHT, GRID_CELL_VMARGIN); kiosk mode hides the navigation and
// the controls, leaving the dashboard body's padding.
const (
	screenHeight = 1080
	gridRowPx    = 30
	gridMarginPx = 8
	kioskPadding = 2 * 24 // top and bottom padding of the dashboard body (generous)
	gridColumns  = 24
)

func TestWallFitsATVWithoutScrolling(t *testing.T) {
	d := loadAll(t)[dashboards.UIDWall]
	bottom := 0
	occupied := map[[2]int]string{}
	for _, p := range d.Panels {
		require.NotEqual(t, "row", p.Type, "no collapsible rows on the wall")
		g := p.GridPos
		require.True(t, g.W > 0 && g.H > 0 && g.X >= 0 && g.X+g.W <= gridColumns, "%q: %+v", p.Title, g)
		for x := g.X; x < g.X+g.W; x++ {
			for y := g.Y; y < g.Y+g.H; y++ {
				prev, taken := occupied[[2]int{x, y}]
				require.False(t, taken, "%q overlaps %q", p.Title, prev)
				occupied[[2]int{x, y}] = p.Title
			}
		}
		bottom = max(bottom, g.Y+g.H)
	}
	px := bottom*(gridRowPx+gridMarginPx) - gridMarginPx + kioskPadding
	require.LessOrEqual(t, px, screenHeight, "the wall is %d rows = %d px high in kiosk mode", bottom, px)
	// No empty bands either: the grid is filled to the bottom.
	require.Len(t, occupied, gridColumns*bottom, "the wall leaves holes in its grid")
	require.Equal(t, "/d/storepulse-wall?kiosk&theme=dark", dashboards.WallKioskURL)
}

func TestWallRefreshesAndShowsToday(t *testing.T) {
	d := loadAll(t)[dashboards.UIDWall]
	require.Contains(t, []string{"30s", "1m"}, d.Refresh)
	require.Equal(t, "now/d", d.Time.From)
}

// A stat's change against an earlier period is coloured by the KPI's
// direction in the catalog: green on the side where the KPI is better.
func TestStatColoursFollowTheKPIsDirection(t *testing.T) {
	cat := kpi.Default()
	checked := 0
	for uid, d := range loadAll(t) {
		for _, p := range allPanels(d) {
			if p.Type != "stat" {
				continue
			}
			for _, q := range p.Targets {
				m, err := models.ParseQuery(q)
				require.NoError(t, err)
				if m.Compare == "" {
					continue
				}
				k, ok := cat.Get(m.KPI)
				require.True(t, ok)
				name := k.Name + " % vs " + m.Compare
				var th *thresholdsJSON
				for _, o := range p.FieldConfig.Overrides {
					if o.Matcher.ID == "byName" && o.Matcher.Options == name {
						for _, pr := range o.Properties {
							if pr.ID == "thresholds" {
								require.NoError(t, json.Unmarshal(pr.Value, &th))
							}
						}
					}
				}
				require.NotNil(t, th, "%s %q: no thresholds on %q", uid, p.Title, name)
				first, last := th.Steps[0].Color, th.Steps[len(th.Steps)-1].Color
				if k.Direction == kpi.LowerIsBetter {
					require.Equal(t, []string{"green", "red"}, []string{first, last}, "%s %q: lower %s is better", uid, p.Title, k.Name)
				} else {
					require.Equal(t, []string{"red", "green"}, []string{first, last}, "%s %q: higher %s is better", uid, p.Title, k.Name)
				}
				checked++
			}
		}
	}
	require.GreaterOrEqual(t, checked, 9, "the wall's big numbers")
}

func TestProvisioningProviderPointsAtTheDashboards(t *testing.T) {
	raw, err := os.ReadFile("../provisioning/dashboards/storepulse.yaml")
	require.NoError(t, err)
	var cfg struct {
		APIVersion int `yaml:"apiVersion"`
		Providers  []struct {
			Name    string `yaml:"name"`
			Type    string `yaml:"type"`
			Folder  string `yaml:"folder"`
			Options struct {
				Path string `yaml:"path"`
			} `yaml:"options"`
			AllowUIUpdates bool `yaml:"allowUiUpdates"`
		} `yaml:"providers"`
	}
	require.NoError(t, yaml.Unmarshal(raw, &cfg))
	require.Equal(t, 1, cfg.APIVersion)
	require.Len(t, cfg.Providers, 1)
	p := cfg.Providers[0]
	require.Equal(t, "file", p.Type)
	require.Equal(t, dashboards.ProvisionedPath, p.Options.Path)
	require.False(t, p.AllowUIUpdates, "the dashboards are code")
}

// TestNoEmptyEnumValues: the generated dashboards carry real values for
// Grafana's option enums ("tooltip": {"mode": "", "sort": ""} or
// "orientation": "" are values Grafana does not define).
func TestNoEmptyEnumValues(t *testing.T) {
	enums := map[string]bool{"mode": true, "sort": true, "orientation": true, "displayMode": true, "placement": true,
		"graphMode": true, "colorMode": true, "justifyMode": true, "textMode": true, "pieType": true, "showValue": true,
		"alignValue": true, "cellHeight": true, "percentChangeColorMode": true, "drawStyle": true, "lineInterpolation": true,
		"stacking": true, "axisPlacement": true, "barAlignment": true, "gradientMode": true, "showPoints": true}
	files, err := dashboards.All()
	require.NoError(t, err)
	for _, f := range files {
		name := f.Name
		var v any
		require.NoError(t, json.Unmarshal(f.JSON, &v), name)
		var walk func(path string, v any)
		walk = func(path string, v any) {
			switch x := v.(type) {
			case map[string]any:
				for k, c := range x {
					if s, ok := c.(string); ok && s == "" && enums[k] {
						t.Errorf("%s: %s.%s is empty", name, path, k)
					}
					walk(path+"."+k, c)
				}
			case []any:
				for i, c := range x {
					walk(fmt.Sprintf("%s[%d]", path, i), c)
				}
			}
		}
		walk("", v)
	}
}
