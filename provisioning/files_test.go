// Package provisioning holds no code: its tests check the Grafana
// provisioning files next to them (datasource, alert rules, contact points,
// notification policies, templates, mute timings) against Grafana's file
// formats, the plugin's query parser and KPI catalog, the dashboards' fixed
// names and docker-compose.yml, and run the alert rules against simulated
// incidents (rules_test.go).
package provisioning

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"text/template"
	"time"

	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/storepulse/storepulse/datasource/pkg/models"
	"github.com/storepulse/storepulse/internal/kpi"
)

// Fixed names of the session contract (docs: /d/<uid> links, variables).
const (
	datasourceUID  = "storepulse-kpi"
	datasourceType = "storepulse-kpi-datasource"
	exprUID        = "__expr__"
	drilldownUID   = "storepulse-drilldown"
)

func drilldownVars() []string { return []string{"store", "channel", "category", "kpi", "compare"} }

func compareValues() []string {
	return []string{"1d", "1w", "4w", "1y", "campaign", "previous_period"}
}

// Grafana's alerting file format, version 1 (pkg/services/provisioning/
// alerting: AlertingFileV1 and the types it holds). Decoded with unknown
// keys refused, so a misspelt key fails here instead of being ignored by
// Grafana.
type alertingFile struct {
	APIVersion          int                `yaml:"apiVersion"`
	Groups              []ruleGroup        `yaml:"groups"`
	DeleteRules         []orgUID           `yaml:"deleteRules"`
	ContactPoints       []contactPoint     `yaml:"contactPoints"`
	DeleteContactPoints []orgUID           `yaml:"deleteContactPoints"`
	Policies            []route            `yaml:"policies"`
	ResetPolicies       []int              `yaml:"resetPolicies"`
	MuteTimes           []muteTime         `yaml:"muteTimes"`
	DeleteMuteTimes     []orgName          `yaml:"deleteMuteTimes"`
	Templates           []notificationTmpl `yaml:"templates"`
	DeleteTemplates     []orgName          `yaml:"deleteTemplates"`
}

type orgUID struct {
	OrgID int    `yaml:"orgId"`
	UID   string `yaml:"uid"`
}

type orgName struct {
	OrgID int    `yaml:"orgId"`
	Name  string `yaml:"name"`
}

type ruleGroup struct {
	OrgID    int    `yaml:"orgId"`
	Name     string `yaml:"name"`
	Folder   string `yaml:"folder"`
	Interval string `yaml:"interval"`
	Rules    []rule `yaml:"rules"`
}

type rule struct {
	UID                         string            `yaml:"uid"`
	Title                       string            `yaml:"title"`
	Condition                   string            `yaml:"condition"`
	Data                        []ruleQuery       `yaml:"data"`
	DashboardUID                string            `yaml:"dashboardUid"`
	PanelID                     int               `yaml:"panelId"`
	NoDataState                 string            `yaml:"noDataState"`
	ExecErrState                string            `yaml:"execErrState"`
	For                         string            `yaml:"for"`
	KeepFiringFor               string            `yaml:"keepFiringFor"`
	MissingSeriesEvalsToResolve int               `yaml:"missing_series_evals_to_resolve"`
	Annotations                 map[string]string `yaml:"annotations"`
	Labels                      map[string]string `yaml:"labels"`
	IsPaused                    bool              `yaml:"isPaused"`
}

type relativeTimeRange struct {
	From int64 `yaml:"from"` // seconds before the evaluation
	To   int64 `yaml:"to"`
}

type ruleQuery struct {
	RefID             string            `yaml:"refId"`
	QueryType         string            `yaml:"queryType"`
	RelativeTimeRange relativeTimeRange `yaml:"relativeTimeRange"`
	DatasourceUID     string            `yaml:"datasourceUid"`
	Model             map[string]any    `yaml:"model"`
}

type contactPoint struct {
	OrgID     int        `yaml:"orgId"`
	Name      string     `yaml:"name"`
	Receivers []receiver `yaml:"receivers"`
}

type receiver struct {
	UID                   string         `yaml:"uid"`
	Type                  string         `yaml:"type"`
	Settings              map[string]any `yaml:"settings"`
	DisableResolveMessage bool           `yaml:"disableResolveMessage"`
}

// route is a notification policy (definitions.Route plus orgId at the top).
type route struct {
	OrgID               int        `yaml:"orgId"`
	Receiver            string     `yaml:"receiver"`
	GroupBy             []string   `yaml:"group_by"`
	ObjectMatchers      [][]string `yaml:"object_matchers"`
	Matchers            []string   `yaml:"matchers"`
	MuteTimeIntervals   []string   `yaml:"mute_time_intervals"`
	ActiveTimeIntervals []string   `yaml:"active_time_intervals"`
	Continue            bool       `yaml:"continue"`
	Routes              []route    `yaml:"routes"`
	GroupWait           string     `yaml:"group_wait"`
	GroupInterval       string     `yaml:"group_interval"`
	RepeatInterval      string     `yaml:"repeat_interval"`
}

type muteTime struct {
	OrgID         int            `yaml:"orgId"`
	Name          string         `yaml:"name"`
	TimeIntervals []timeInterval `yaml:"time_intervals"`
}

type timeInterval struct {
	Times []struct {
		StartTime string `yaml:"start_time"`
		EndTime   string `yaml:"end_time"`
	} `yaml:"times"`
	Weekdays    []string `yaml:"weekdays"`
	DaysOfMonth []string `yaml:"days_of_month"`
	Months      []string `yaml:"months"`
	Years       []string `yaml:"years"`
	Location    string   `yaml:"location"`
}

type notificationTmpl struct {
	OrgID    int    `yaml:"orgId"`
	Name     string `yaml:"name"`
	Template string `yaml:"template"`
}

// Grafana's datasource provisioning format (apiVersion 1).
type datasourcesFile struct {
	APIVersion        int          `yaml:"apiVersion"`
	Datasources       []datasource `yaml:"datasources"`
	DeleteDatasources []orgName    `yaml:"deleteDatasources"`
	Prune             bool         `yaml:"prune"`
}

type datasource struct {
	Name            string            `yaml:"name"`
	UID             string            `yaml:"uid"`
	Type            string            `yaml:"type"`
	OrgID           int               `yaml:"orgId"`
	Access          string            `yaml:"access"`
	URL             string            `yaml:"url"`
	IsDefault       bool              `yaml:"isDefault"`
	Editable        bool              `yaml:"editable"`
	Version         int               `yaml:"version"`
	JSONData        map[string]any    `yaml:"jsonData"`
	SecureJSONData  map[string]string `yaml:"secureJsonData"`
	BasicAuth       bool              `yaml:"basicAuth"`
	BasicAuthUser   string            `yaml:"basicAuthUser"`
	WithCredentials bool              `yaml:"withCredentials"`
}

// decodeStrict decodes one YAML document into v, refusing unknown keys.
func decodeStrict(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path) //nolint:gosec // a file of this repository
	require.NoError(t, err)
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	require.NoError(t, dec.Decode(v), "%s", path)
	var extra any
	require.ErrorIs(t, dec.Decode(&extra), io.EOF, "%s: one YAML document expected", path)
}

func yamlFiles(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	for _, ext := range []string{"*.yaml", "*.yml", "*.json"} {
		m, err := filepath.Glob(filepath.Join(dir, ext))
		require.NoError(t, err)
		out = append(out, m...)
	}
	slices.Sort(out)
	return out
}

// loadAlerting reads every file of provisioning/alerting, as Grafana does.
func loadAlerting(t *testing.T) []alertingFile {
	t.Helper()
	files := yamlFiles(t, "alerting")
	require.NotEmpty(t, files)
	var out []alertingFile
	for _, f := range files {
		var af alertingFile
		decodeStrict(t, f, &af)
		require.Equal(t, 1, af.APIVersion, "%s: apiVersion", f)
		out = append(out, af)
	}
	return out
}

func allRules(t *testing.T) []rule {
	t.Helper()
	var out []rule
	for _, f := range loadAlerting(t) {
		for _, g := range f.Groups {
			out = append(out, g.Rules...)
		}
	}
	require.NotEmpty(t, out)
	return out
}

func TestEveryProvisioningFileParses(t *testing.T) {
	var files []string
	err := filepath.WalkDir(".", func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if ext := filepath.Ext(path); !d.IsDir() && (ext == ".yaml" || ext == ".yml" || ext == ".json") {
			files = append(files, path)
		}
		return nil
	})
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, f := range files {
		t.Run(f, func(t *testing.T) {
			b, err := os.ReadFile(f) //nolint:gosec // a file of this repository
			require.NoError(t, err)
			var v map[string]any
			require.NoError(t, yaml.Unmarshal(b, &v))
			require.EqualValues(t, 1, v["apiVersion"], "every provisioning file declares apiVersion 1")
		})
	}
}

func TestAlertRules(t *testing.T) {
	seen := map[string]bool{}
	for _, f := range loadAlerting(t) {
		for _, g := range f.Groups {
			require.NotEmpty(t, g.Name)
			require.Equal(t, "StorePulse alerts", g.Folder, "a folder of its own: the dashboards' folder StorePulse is created by uid")
			iv := promDuration(t, g.Interval)
			require.Zero(t, iv%(10*time.Second), "group %s: the interval must be a multiple of Grafana's 10s base interval", g.Name)
			for _, r := range g.Rules {
				t.Run(r.UID, func(t *testing.T) {
					require.Regexp(t, `^storepulse-[a-z0-9-]{1,29}$`, r.UID)
					require.False(t, seen[r.UID], "duplicate uid")
					seen[r.UID] = true
					checkRule(t, r)
				})
			}
		}
	}
	require.Len(t, seen, 6)
}

func checkRule(t *testing.T, r rule) {
	t.Helper()
	require.NotEmpty(t, r.Title)
	require.Contains(t, []string{"NoData", "Alerting", "OK", "KeepLast"}, r.NoDataState)
	require.Contains(t, []string{"Error", "Alerting", "OK", "KeepLast"}, r.ExecErrState)
	promDuration(t, r.For)
	if r.KeepFiringFor != "" {
		promDuration(t, r.KeepFiringFor)
	}
	require.Empty(t, r.DashboardUID, "no panel link: the drilldown annotation links the dashboard")

	// Labels: severity and team fixed per rule, store from the series.
	require.Contains(t, []string{"critical", "warning"}, r.Labels["severity"])
	require.Contains(t, []string{"operations", "service"}, r.Labels["team"])
	require.NotContains(t, r.Labels, "store", "store comes from each series' label")
	for k, v := range r.Labels {
		require.NotContains(t, k+v, "$", "labels are interpolated from the environment by provisioning")
	}

	refs := map[string]ruleQuery{}
	for _, q := range r.Data {
		require.Regexp(t, `^[A-Z]$`, q.RefID)
		require.NotContains(t, refs, q.RefID, "duplicate refId")
		refs[q.RefID] = q
	}
	require.Contains(t, refs, r.Condition, "the condition names a refId of the rule")
	exprs, err := parseExpressions(r.Data)
	require.NoError(t, err)
	for _, q := range r.Data {
		switch q.DatasourceUID {
		case exprUID:
			e := exprs[q.RefID]
			for _, need := range e.needs() {
				require.Contains(t, refs, need, "%s uses an unknown refId", q.RefID)
			}
		case datasourceUID:
			checkPluginQuery(t, q)
		default:
			t.Fatalf("%s: datasourceUid %q (want %s or %s)", q.RefID, q.DatasourceUID, datasourceUID, exprUID)
		}
	}
	require.Equal(t, exprUID, refs[r.Condition].DatasourceUID, "the condition is a server-side expression")
	checkAnnotations(t, r, exprs)
}

func checkPluginQuery(t *testing.T, q ruleQuery) {
	t.Helper()
	require.Greater(t, q.RelativeTimeRange.From, q.RelativeTimeRange.To, "%s: relativeTimeRange", q.RefID)
	require.GreaterOrEqual(t, q.RelativeTimeRange.To, int64(0))
	require.Equal(t, q.RefID, q.Model["refId"])
	require.Equal(t, map[string]any{"type": datasourceType, "uid": datasourceUID}, q.Model["datasource"])
	if mt, ok := q.Model["queryType"]; ok || q.QueryType != "" {
		require.Equal(t, q.QueryType, mt, "%s: the query's and the model's queryType agree", q.RefID)
	}
	raw, err := json.Marshal(q.Model)
	require.NoError(t, err)
	pq, err := models.ParseQuery(raw)
	require.NoError(t, err, "%s: the plugin refuses the query", q.RefID)
	switch q.QueryType {
	case "freshness":
		// One frame per store without a KPI (docs/query.md).
	case "", models.QueryTypeKPI:
		k, ok := kpi.Default().Get(pq.KPI)
		require.True(t, ok, "%s: kpi %q is not in the catalog", q.RefID, pq.KPI)
		require.NotEmpty(t, pq.GroupBy, "%s: one series (alert instance) per store", q.RefID)
		require.Equal(t, "store", pq.GroupBy[0], "%s: one series (alert instance) per store, or per store and one more dimension", q.RefID)
		require.LessOrEqual(t, len(pq.GroupBy), 2, "%s: per store and at most one more dimension", q.RefID)
		require.Contains(t, k.Dimensions(), "store")
		require.NotEqual(t, models.IntervalAuto, pq.Interval, "%s: a fixed interval, so the rule means the same at any resolution", q.RefID)
		if pq.Compare != "" {
			// Only to keep stores without data in the current period (0
			// instead of no series); the earlier period comes from a query
			// shifted by its relativeTimeRange.
			require.Equal(t, []string{models.OutputSeries}, pq.CompareOutputs, "%s: compare adds only the earlier series", q.RefID)
		}
	default:
		t.Fatalf("%s: query type %q is not a series query", q.RefID, q.QueryType)
	}
}

// ruleTemplateFuncs are the functions of Grafana's annotation templates
// (Prometheus' template expander plus Grafana's own, ngalert/state/template),
// with the formatting ones real and the rest stubs.
func ruleTemplateFuncs() template.FuncMap {
	humanize := func(v float64) string { return fmt.Sprintf("%.4g", v) }
	return template.FuncMap{
		"humanize":           humanize,
		"humanize1024":       humanize,
		"humanizeDuration":   func(v float64) string { return (time.Duration(v) * time.Second).String() },
		"humanizePercentage": func(v float64) string { return fmt.Sprintf("%.4g%%", v*100) },
		"humanizeTimestamp":  func(v float64) string { return time.Unix(int64(v), 0).UTC().String() },
		"toTime":             func(v float64) time.Time { return time.Unix(int64(v), 0).UTC() },
		"title":              strings.ToTitle,
		"toUpper":            strings.ToUpper,
		"toLower":            strings.ToLower,
		"match":              regexp.MatchString,
		"reReplaceAll":       func(p, r, s string) string { return regexp.MustCompile(p).ReplaceAllString(s, r) },
		"externalURL":        func() string { return "http://grafana.example:3000/" },
		"pathPrefix":         func() string { return "/" },
		"args":               func(a ...any) map[string]any { return map[string]any{} },
		"safeHtml":           func(s string) string { return s },
		"parseDuration":      func(string) float64 { return 0 },
		"stripPort":          func(s string) string { return s },
		"stripDomain":        func(s string) string { return s },
		"graphLink":          func(string) string { return "" },
		"tableLink":          func(string) string { return "" },
		"filterLabels":       func(l map[string]string, _ string) map[string]string { return l },
		"filterLabelsRe":     func(l map[string]string, _ string) map[string]string { return l },
		"removeLabels":       func(l map[string]string, _ string) map[string]string { return l },
		"removeLabelslRe":    func(l map[string]string, _ string) map[string]string { return l },
	}
}

type templateValue struct {
	Labels map[string]string
	Value  float64
}

// instanceLabels are the labels of rule r's alert instance of store s001:
// store, and a value of each other dimension its queries group by (a rule
// per store and category has a label category).
func instanceLabels(r rule) map[string]string {
	labels := map[string]string{"store": "s001"}
	for _, q := range r.Data {
		g, _ := q.Model["groupBy"].([]any)
		for _, d := range g {
			if d, ok := d.(string); ok && d != "store" {
				labels[d] = d + "-1"
			}
		}
	}
	return labels
}

// expandAnnotation runs an annotation template as Grafana does (the $labels,
// $values and $value variables, missingkey=invalid) for the alert instance
// with the labels inst (instanceLabels).
func expandAnnotation(text string, exprs map[string]expression, inst map[string]string) (string, error) {
	tmpl, err := template.New("a").Funcs(ruleTemplateFuncs()).Option("missingkey=invalid").
		Parse("{{- $labels := .Labels -}}{{- $values := .Values -}}{{- $value := .Value -}}" + text)
	if err != nil {
		return "", fmt.Errorf("parse: %w", err)
	}
	labels := map[string]string{"severity": "critical", "team": "operations"}
	maps.Copy(labels, inst)
	values := map[string]templateValue{}
	for ref := range exprs {
		values[ref] = templateValue{Labels: inst, Value: 123.5}
	}
	var b strings.Builder
	if err := tmpl.Execute(&b, struct {
		Labels map[string]string
		Values map[string]templateValue
		Value  string
	}{labels, values, "[ var='C' labels={store=s001} value=123.5 ]"}); err != nil {
		return "", fmt.Errorf("execute: %w", err)
	}
	if strings.Contains(b.String(), "<no value>") {
		return "", errors.New("refers to a missing value: " + b.String())
	}
	return b.String(), nil
}

func checkAnnotations(t *testing.T, r rule, exprs map[string]expression) {
	t.Helper()
	for _, k := range []string{"summary", "description", "runbook", "drilldown"} {
		require.NotEmpty(t, r.Annotations[k], "annotation %s", k)
	}
	for k, v := range r.Annotations {
		out, err := expandAnnotation(v, exprs, instanceLabels(r))
		require.NoError(t, err, "annotation %s", k)
		if k == "summary" || k == "description" {
			require.Contains(t, out, "s001", "annotation %s names the store", k)
		}
	}
	link, err := expandAnnotation(r.Annotations["drilldown"], exprs, instanceLabels(r))
	require.NoError(t, err)
	checkDrilldownLink(t, link, false)
}

// checkDrilldownLink checks a link to the drill-down dashboard for store
// s001: its uid, variables of the contract (and of the dashboard when it is
// built), a catalog KPI, and a time range (absolute when the caller knows
// the time).
func checkDrilldownLink(t *testing.T, link string, absolute bool) {
	t.Helper()
	u, err := url.Parse(link)
	require.NoError(t, err)
	require.Equal(t, "/d/"+drilldownUID, u.Path, link)
	q := u.Query()
	require.Equal(t, []string{"s001"}, q["var-store"], link)
	vars := drilldownVars()
	if dv := dashboardVariables(t, drilldownUID); dv != nil {
		vars = dv
	}
	for k, v := range q {
		require.Len(t, v, 1, "%s repeated", k)
		switch {
		case k == "from" || k == "to":
			if absolute {
				require.Regexp(t, `^\d{13}$`, v[0], "%s: epoch milliseconds", k)
			} else {
				require.Regexp(t, `^now(-\d+[mhd])?$`, v[0], "%s: a relative time", k)
			}
		case strings.HasPrefix(k, "var-"):
			require.Contains(t, vars, strings.TrimPrefix(k, "var-"), "%s: not a variable of the drill-down", k)
		default:
			t.Fatalf("%s: unexpected parameter %s", link, k)
		}
	}
	require.Contains(t, q, "from")
	require.Contains(t, q, "to")
	if k := q.Get("var-kpi"); k != "" {
		_, ok := kpi.Default().Get(k)
		require.True(t, ok, "var-kpi=%s is not in the catalog", k)
	}
	if c := q.Get("var-compare"); c != "" {
		require.Contains(t, compareValues(), c)
	}
}

// dashboardVariables returns the template variable names of the dashboard
// with the uid among dashboards/**/*.json, or nil when it is not built.
func dashboardVariables(t *testing.T, uid string) []string {
	t.Helper()
	var names []string
	found := false
	_ = filepath.WalkDir(filepath.Join("..", "dashboards"), func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || filepath.Ext(path) != ".json" || found {
			return nil //nolint:nilerr // a missing dashboards folder means not built yet
		}
		b, err := os.ReadFile(path) //nolint:gosec // a file of this repository
		if err != nil {
			return nil //nolint:nilerr // unreadable files are another test's concern
		}
		var db struct {
			UID        string `json:"uid"`
			Templating struct {
				List []struct {
					Name string `json:"name"`
				} `json:"list"`
			} `json:"templating"`
		}
		if json.Unmarshal(b, &db) != nil || db.UID != uid {
			return nil
		}
		found = true
		for _, v := range db.Templating.List {
			names = append(names, v.Name)
		}
		return nil
	})
	if found {
		require.Contains(t, names, "store", "the %s dashboard has a store variable", uid)
	}
	return names
}

// promDuration parses a Prometheus-style duration ("1m", "0s", "1h30m").
func promDuration(t *testing.T, s string) time.Duration {
	t.Helper()
	require.Regexp(t, `^(\d+[smhdw])+$`, s)
	d, err := time.ParseDuration(strings.NewReplacer("d", "h", "w", "h").Replace(s))
	require.NoError(t, err, s)
	switch {
	case strings.HasSuffix(s, "d"):
		d *= 24
	case strings.HasSuffix(s, "w"):
		d *= 24 * 7
	}
	return d
}

// Contact point setting keys Grafana's webhook and e-mail integrations read.
func receiverSettings() map[string][]string {
	return map[string][]string{
		"webhook": {"url", "httpMethod", "username", "password", "authorization_scheme", "authorization_credentials",
			"maxAlerts", "title", "message", "tlsConfig", "hmacConfig", "http_config", "payload", "extraHeaders"},
		"email": {"addresses", "singleEmail", "message", "subject"},
	}
}

func TestContactPointsPoliciesTemplatesMuteTimings(t *testing.T) {
	files := loadAlerting(t)
	receivers := map[string]bool{}
	uids := map[string]bool{}
	mutes := map[string]bool{}
	var tmplText strings.Builder
	var policies []route
	for _, f := range files {
		for _, cp := range f.ContactPoints {
			require.False(t, receivers[cp.Name], "duplicate contact point %s", cp.Name)
			receivers[cp.Name] = true
			require.NotEmpty(t, cp.Receivers)
			for _, r := range cp.Receivers {
				require.False(t, uids[r.UID], "duplicate receiver uid %s", r.UID)
				uids[r.UID] = true
				keys, ok := receiverSettings()[r.Type]
				require.True(t, ok, "receiver type %s", r.Type)
				for k := range r.Settings {
					require.Contains(t, keys, k, "%s: unknown %s setting", cp.Name, r.Type)
				}
				switch r.Type {
				case "webhook":
					require.NotEmpty(t, r.Settings["url"])
				case "email":
					require.NotEmpty(t, r.Settings["addresses"])
				}
			}
		}
		for _, m := range f.MuteTimes {
			require.False(t, mutes[m.Name])
			mutes[m.Name] = true
			checkMuteTime(t, m)
		}
		for _, tp := range f.Templates {
			require.NotEmpty(t, tp.Name)
			tmplText.WriteString(tp.Template)
		}
		policies = append(policies, f.Policies...)
	}
	require.Len(t, policies, 1, "one policy tree for the organisation")
	root := policies[0]
	require.Contains(t, root.GroupBy, "store", "one notification group per store")
	require.Contains(t, root.GroupBy, "alertname")
	var walk func(r route, depth int)
	severities := map[string]bool{}
	walk = func(r route, depth int) {
		require.True(t, receivers[r.Receiver] || (depth > 0 && r.Receiver == ""), "policy receiver %q is not a contact point", r.Receiver)
		for _, m := range r.MuteTimeIntervals {
			require.True(t, mutes[m], "mute timing %q is not defined", m)
		}
		for _, d := range []string{r.GroupWait, r.GroupInterval, r.RepeatInterval} {
			if d != "" {
				promDuration(t, d)
			}
		}
		require.Empty(t, r.Matchers, "use object_matchers")
		for _, m := range r.ObjectMatchers {
			require.Len(t, m, 3)
			require.Contains(t, []string{"=", "!=", "=~", "!~"}, m[1])
			require.Contains(t, []string{"severity", "team", "store", "alertname", "grafana_folder"}, m[0])
			if m[0] == "severity" {
				re, err := regexp.Compile("^(?:" + m[2] + ")$")
				require.NoError(t, err)
				for _, s := range []string{"critical", "warning"} {
					if re.MatchString(s) && (m[1] == "=~" || m[1] == "=") {
						severities[s] = true
					}
				}
			}
		}
		for _, c := range r.Routes {
			walk(c, depth+1)
		}
	}
	walk(root, 0)
	require.True(t, severities["critical"] && severities["warning"], "policies route both severities")
	require.True(t, receivers["StorePulse on-call"])

	tmpls := parseNotificationTemplates(t, tmplText.String())
	for _, f := range files {
		for _, cp := range f.ContactPoints {
			for _, r := range cp.Receivers {
				for k, v := range r.Settings {
					s, ok := v.(string)
					if !ok || !strings.Contains(s, "{{") {
						continue
					}
					_, err := template.Must(tmpls.Clone()).New(k).Parse(s)
					require.NoError(t, err, "%s %s", cp.Name, k)
					for _, m := range regexp.MustCompile(`template "([^"]+)"`).FindAllStringSubmatch(s, -1) {
						require.NotNil(t, tmpls.Lookup(m[1]), "%s %s: template %q is not defined", cp.Name, k, m[1])
					}
				}
			}
		}
	}
}

func checkMuteTime(t *testing.T, m muteTime) {
	t.Helper()
	require.NotEmpty(t, m.TimeIntervals)
	days := []string{"sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"}
	for _, ti := range m.TimeIntervals {
		for _, tr := range ti.Times {
			s, err := time.Parse("15:04", tr.StartTime)
			require.NoError(t, err)
			e, err := time.Parse("15:04", tr.EndTime)
			if tr.EndTime != "24:00" {
				require.NoError(t, err)
				require.True(t, e.After(s))
			}
		}
		for _, wd := range ti.Weekdays {
			for _, d := range strings.Split(wd, ":") {
				require.Contains(t, days, d)
			}
		}
		if ti.Location != "" {
			_, err := time.LoadLocation(ti.Location)
			require.NoError(t, err)
		}
	}
}

// Notification template data (Grafana's template.ExtendedData) with the
// fields and methods the templates may use.
type notifyAlert struct {
	Status       string
	Labels       map[string]string
	Annotations  map[string]string
	StartsAt     time.Time
	EndsAt       time.Time
	GeneratorURL string
	SilenceURL   string
	DashboardURL string
	PanelURL     string
	Fingerprint  string
	ValueString  string
	Values       map[string]float64
}

type notifyAlerts []notifyAlert

func (as notifyAlerts) Firing() []notifyAlert { return as.with("firing") }

func (as notifyAlerts) Resolved() []notifyAlert { return as.with("resolved") }

func (as notifyAlerts) with(status string) []notifyAlert {
	var out []notifyAlert
	for _, a := range as {
		if a.Status == status {
			out = append(out, a)
		}
	}
	return out
}

type notifyData struct {
	Receiver          string
	Status            string
	Alerts            notifyAlerts
	GroupLabels       map[string]string
	CommonLabels      map[string]string
	CommonAnnotations map[string]string
	ExternalURL       string
}

// notifyFuncs are Alertmanager's template functions Grafana offers in
// notification templates (the ones that exist in every 12.x).
func notifyFuncs() template.FuncMap {
	return template.FuncMap{
		"toUpper":      strings.ToUpper,
		"toLower":      strings.ToLower,
		"title":        strings.ToTitle,
		"trimSpace":    strings.TrimSpace,
		"join":         func(sep string, s []string) string { return strings.Join(s, sep) },
		"match":        regexp.MatchString,
		"safeHtml":     func(s string) string { return s },
		"reReplaceAll": func(p, r, s string) string { return regexp.MustCompile(p).ReplaceAllString(s, r) },
		"stringSlice":  func(s ...string) []string { return s },
		"date":         func(f string, t time.Time) string { return t.Format(f) },
		"tz": func(name string, t time.Time) (time.Time, error) {
			l, err := time.LoadLocation(name)
			return t.In(l), err
		},
		"since":            time.Since,
		"humanizeDuration": func(v float64) string { return (time.Duration(v) * time.Second).String() },
	}
}

func parseNotificationTemplates(t *testing.T, text string) *template.Template {
	t.Helper()
	tmpls, err := template.New("").Funcs(notifyFuncs()).Option("missingkey=zero").Parse(text)
	require.NoError(t, err)
	for _, name := range []string{"storepulse.title", "storepulse.message"} {
		require.NotNil(t, tmpls.Lookup(name), "template %s", name)
	}
	return tmpls
}

func TestNotificationMessageLinksTheDrilldownAtTheAlertsTime(t *testing.T) {
	var text strings.Builder
	for _, f := range loadAlerting(t) {
		for _, tp := range f.Templates {
			text.WriteString(tp.Template)
		}
	}
	tmpls := parseNotificationTemplates(t, text.String())
	start := time.Date(2026, 8, 12, 14, 5, 0, 0, time.UTC)
	for _, r := range allRules(t) {
		t.Run(r.UID, func(t *testing.T) {
			exprs, err := parseExpressions(r.Data)
			require.NoError(t, err)
			ann := map[string]string{}
			for k, v := range r.Annotations {
				ann[k], err = expandAnnotation(v, exprs, instanceLabels(r))
				require.NoError(t, err)
			}
			labels := map[string]string{"alertname": r.Title, "store": "s001", "severity": r.Labels["severity"],
				"team": r.Labels["team"], "grafana_folder": "StorePulse alerts"}
			data := notifyData{
				Receiver: "StorePulse on-call", Status: "firing",
				Alerts: notifyAlerts{
					{Status: "firing", Labels: labels, Annotations: ann, StartsAt: start, GeneratorURL: "http://g/alerting/x", SilenceURL: "http://g/s"},
					{Status: "resolved", Labels: labels, Annotations: ann, StartsAt: start.Add(-time.Hour), EndsAt: start},
				},
				CommonLabels: labels, GroupLabels: map[string]string{"store": "s001"}, ExternalURL: "http://grafana.example:3000/",
			}
			var title, msg bytes.Buffer
			require.NoError(t, tmpls.ExecuteTemplate(&title, "storepulse.title", data))
			require.Equal(t, "[FIRING:1] "+r.Title+" · store s001", title.String())
			require.NoError(t, tmpls.ExecuteTemplate(&msg, "storepulse.message", data))
			require.Contains(t, msg.String(), ann["summary"])
			require.Contains(t, msg.String(), "Resolved:")
			m := regexp.MustCompile(`Drill-down: (\S+)`).FindStringSubmatch(msg.String())
			require.Len(t, m, 2, msg.String())
			require.True(t, strings.HasPrefix(m[1], "http://grafana.example:3000/d/"), m[1])
			u, err := url.Parse(m[1])
			require.NoError(t, err)
			checkDrilldownLink(t, strings.TrimPrefix(m[1], "http://grafana.example:3000"), true)
			from, to := u.Query().Get("from"), u.Query().Get("to")
			require.Equal(t, fmt.Sprint(start.Add(-6*time.Hour).UnixMilli()), from)
			require.Equal(t, fmt.Sprint(start.Add(2*time.Hour).UnixMilli()), to)
		})
	}
}
