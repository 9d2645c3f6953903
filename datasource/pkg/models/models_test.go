package models

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestExpandValues(t *testing.T) {
	tests := []struct {
		name string
		in   []string
		want []string
	}{
		{"none", nil, nil},
		{"single", []string{"tmall"}, []string{"tmall"}},
		{"multi", []string{"tmall", "jd"}, []string{"tmall", "jd"}},
		{"grafana glob form", []string{"{tmall,jd}"}, []string{"tmall", "jd"}},
		{"glob plus value, deduplicated", []string{"{tmall,jd}", "jd", " pdd "}, []string{"tmall", "jd", "pdd"}},
		{"All unexpanded", []string{"$__all"}, nil},
		{"All inside a glob", []string{"{$__all}"}, nil},
		{"empty means all", []string{"tmall", ""}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, ExpandValues(tt.in))
		})
	}
}

func TestParseQuery(t *testing.T) {
	tests := []struct {
		name  string
		json  string
		check func(t *testing.T, q Query)
		err   string
	}{
		{"defaults", `{"kpi":"gmv"}`, func(t *testing.T, q Query) {
			require.Equal(t, QueryVersion, q.Version)
			require.Equal(t, IntervalAuto, q.Interval)
			require.Empty(t, q.CompareOutputs)
			require.Empty(t, q.Filters)
		}, ""},
		{"filters expanded, All dropped", `{"kpi":"gmv","filters":{"store":["{a,b}"],"channel":["$__all"],"category":[]}}`, func(t *testing.T, q Query) {
			require.Equal(t, map[string][]string{"store": {"a", "b"}}, q.Filters)
		}, ""},
		{"compare outputs default", `{"kpi":"gmv","compare":"1y"}`, func(t *testing.T, q Query) {
			require.Equal(t, []string{OutputSeries, OutputDelta, OutputChange}, q.CompareOutputs)
		}, ""},
		{"bad json", `{"kpi":`, nil, "invalid query JSON"},
		{"newer version", `{"version":2,"kpi":"gmv"}`, nil, "newer"},
		{"unknown compare", `{"kpi":"gmv","compare":"2y"}`, nil, "unknown compare"},
		{"unknown output", `{"kpi":"gmv","compare":"1d","compareOutputs":["ratio"]}`, nil, "unknown compare output"},
		{"repeated groupBy", `{"kpi":"gmv","groupBy":["store","store"]}`, nil, "repeated"},
		{"forecast day", `{"kpi":"gmv","forecast":{"horizon":"day"}}`, func(t *testing.T, q Query) {
			require.Equal(t, &Forecast{Horizon: HorizonDay}, q.Forecast)
		}, ""},
		{"forecast without horizon", `{"kpi":"gmv","forecast":{}}`, nil, "horizon must be day or month"},
		{"forecast with compare", `{"kpi":"gmv","forecast":{"horizon":"month"},"compare":"1d"}`, nil, "forecast cannot be combined with compare"},
		{"lifecycle with compare", `{"kpi":"gmv","lifecycle":true,"compare":"1w"}`, nil, "lifecycle cannot be combined with compare"},
		{"forecast and lifecycle", `{"kpi":"gmv","forecast":{"horizon":"day"},"lifecycle":true}`, nil, "forecast and lifecycle cannot be combined"},
		{"anomaly defaults", `{"kpi":"gmv","anomaly":{}}`, func(t *testing.T, q Query) {
			require.Equal(t, 6, q.Anomaly.Weeks)
			require.InDelta(t, 3.0, q.Anomaly.K, 0)
		}, ""},
		{"anomaly sensitivity number", `{"kpi":"gmv","anomaly":{"sensitivity":2.5,"weeks":4}}`, func(t *testing.T, q Query) {
			require.InDelta(t, 2.5, q.Anomaly.K, 0)
			require.Equal(t, 4, q.Anomaly.Weeks)
		}, ""},
		{"anomaly sensitivity high", `{"kpi":"gmv","anomaly":{"sensitivity":"high"}}`, func(t *testing.T, q Query) { require.InDelta(t, 2.0, q.Anomaly.K, 0) }, ""},
		{"anomaly sensitivity low", `{"kpi":"gmv","anomaly":{"sensitivity":"low"}}`, func(t *testing.T, q Query) { require.InDelta(t, 4.0, q.Anomaly.K, 0) }, ""},
		{"anomaly unknown sensitivity", `{"kpi":"gmv","anomaly":{"sensitivity":"extreme"}}`, nil, "unknown anomaly sensitivity"},
		{"anomaly negative sensitivity", `{"kpi":"gmv","anomaly":{"sensitivity":-1}}`, nil, "number of spreads"},
		{"anomaly weeks out of range", `{"kpi":"gmv","anomaly":{"weeks":12}}`, nil, "weeks must be 4..8"},
		{"anomaly with compare", `{"kpi":"gmv","anomaly":{},"compare":"1w"}`, nil, "cannot be combined with compare"},
		{"anomaly with target", `{"kpi":"gmv","anomaly":{},"target":true}`, nil, "target and anomaly cannot be combined"},
		{"anomaly flag only", `{"kpi":"gmv","anomaly":{"weeks":4,"flagOnly":true}}`, func(t *testing.T, q Query) {
			require.True(t, q.Anomaly.FlagOnly)
			require.Equal(t, 4, q.Anomaly.Weeks)
			require.InDelta(t, 3.0, q.Anomaly.K, 0)
		}, ""},
		{"anomaly flag only by default false", `{"kpi":"gmv","anomaly":{}}`, func(t *testing.T, q Query) { require.False(t, q.Anomaly.FlagOnly) }, ""},
		{"anomaly flag only not a bool", `{"kpi":"gmv","anomaly":{"flagOnly":"yes"}}`, nil, "invalid query JSON"},
		{"anomaly flag only with compare", `{"kpi":"gmv","anomaly":{"flagOnly":true},"compare":"1w"}`, nil, "cannot be combined with compare"},
		{"anomaly flag only with topN", `{"kpi":"gmv","anomaly":{"flagOnly":true},"topN":{"n":2,"by":"store"}}`, nil, "topN and anomaly cannot be combined"},
		{"transforms parsed", `{"kpi":"gmv","topN":{"n":3,"by":"store"},"groupBy":["store"]}`, func(t *testing.T, q Query) {
			require.Equal(t, &TopN{N: 3, By: "store"}, q.TopN)
		}, ""},
		{"cumulative mtd", `{"kpi":"gmv","cumulative":"mtd"}`, func(t *testing.T, q Query) { require.Equal(t, CumulativeMTD, q.Cumulative) }, ""},
		{"unknown cumulative", `{"kpi":"gmv","cumulative":"qtd"}`, nil, "unknown cumulative"},
		{"topN without n", `{"kpi":"gmv","topN":{"by":"store"}}`, nil, "n >= 1"},
		{"topN with another groupBy", `{"kpi":"gmv","topN":{"n":2,"by":"store"},"groupBy":["channel"]}`, nil, "groupBy must be empty or just"},
		{"contribution without compare", `{"kpi":"gmv","contribution":{"dimension":"store"}}`, nil, "needs a compare"},
		{"two transforms", `{"kpi":"gmv","target":true,"cumulative":"ytd"}`, nil, "cumulative and target cannot be combined"},
		{"compare campaign", `{"kpi":"gmv","compare":"campaign"}`, func(t *testing.T, q Query) {
			require.Equal(t, CompareCampaign, q.Compare)
			require.Equal(t, []string{OutputSeries, OutputDelta, OutputChange}, q.CompareOutputs)
		}, ""},
		{"uplift defaults", `{"kpi":"gmv","uplift":{}}`, func(t *testing.T, q Query) { require.Equal(t, 28, q.Uplift.BaselineDays) }, ""},
		{"uplift baseline days", `{"kpi":"gmv","uplift":{"baselineDays":14}}`, func(t *testing.T, q Query) { require.Equal(t, 14, q.Uplift.BaselineDays) }, ""},
		{"uplift baseline out of range", `{"kpi":"gmv","uplift":{"baselineDays":-3}}`, nil, "baselineDays must be 1..366"},
		{"uplift with compare", `{"kpi":"gmv","uplift":{},"compare":"campaign"}`, nil, "uplift cannot be combined with compare"},
		{"uplift with another transform", `{"kpi":"gmv","uplift":{},"target":true}`, nil, "target and uplift cannot be combined"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q, err := ParseQuery([]byte(tt.json))
			if tt.err != "" {
				require.ErrorContains(t, err, tt.err)
				return
			}
			require.NoError(t, err)
			tt.check(t, q)
		})
	}
}

func TestLoadSettings(t *testing.T) {
	s, err := LoadSettings("http://influx:8086", nil, map[string]string{"token": "t"})
	require.NoError(t, err)
	require.Equal(t, "Asia/Shanghai", s.Location.String())
	require.Equal(t, InfluxV2, s.Version)
	require.Equal(t, DefaultSeriesLimit, s.SeriesLimit)
	require.Equal(t, "t", s.Token)
	require.Equal(t, "CNY", s.Currency)
	require.Equal(t, DefaultCacheTTL, s.CacheTTL)
	require.Equal(t, QueryInfluxQL, s.QueryLanguage, "InfluxQL is the default")
	require.Equal(t, int64(DefaultRequestMemoryMB)<<20, s.RequestMemoryBytes())
	require.Equal(t, int64(DefaultDatasourceMemoryMB)<<20, s.DatasourceMemoryBytes())
	require.Equal(t, int64(DefaultDatasourceMemoryMB)<<20, Settings{}.DatasourceMemoryBytes(), "unset means the default")

	s, err = LoadSettings("", []byte(`{"url":"https://x","version":"1.8","bucket":"db/rp","timeZone":"Europe/Berlin","seriesLimit":7}`), nil)
	require.NoError(t, err)
	require.Equal(t, "db/rp", s.Bucket)
	require.Equal(t, 7, s.SeriesLimit)
	s, err = LoadSettings("http://x", []byte(`{"requestMemoryMB":64,"datasourceMemoryMB":128}`), nil)
	require.NoError(t, err)
	require.Equal(t, int64(64)<<20, s.RequestMemoryBytes())
	require.Equal(t, int64(128)<<20, s.DatasourceMemoryBytes())
	s, err = LoadSettings("http://x", []byte(`{"cacheTTL":"0s"}`), nil)
	require.NoError(t, err)
	require.Zero(t, s.CacheTTL)
	s, err = LoadSettings("http://x", []byte(`{"queryLanguage":"flux","version":"1.8"}`), nil)
	require.NoError(t, err)
	require.Equal(t, QueryFlux, s.QueryLanguage)
	s, err = LoadSettings("http://x", []byte(`{"version":"3.x","bucket":"storepulse"}`), nil)
	require.NoError(t, err)
	require.Equal(t, InfluxV3, s.Version)
	s, err = LoadSettings("http://x", []byte(`{"version":"3.x"}`), nil)
	require.NoError(t, err)
	require.Equal(t, "storepulse", s.Bucket, "on 3.x the default bucket is a database name, without /")

	for _, tt := range []struct{ url, json, err string }{
		{"", ``, "URL is not set"},
		{"ftp://x", ``, "not an http(s) URL"},
		{"http://x", `{"version":"3"}`, "unknown InfluxDB version"},
		{"http://x", `{"queryLanguage":"sql"}`, `unknown query language "sql"`},
		{"http://x", `{"queryLanguage":"flux","version":"3.x"}`, "InfluxDB 3.x has no Flux"},
		{"http://x", `{"version":"3.x","bucket":"storepulse/autogen"}`, `on InfluxDB 3.x the bucket is the database's name, without / (got "storepulse/autogen"): e.g. "storepulse"`},
		{"http://x", `{"timeZone":"Mars/Olympus"}`, "unknown store time zone"},
		{"http://x", `{`, "invalid datasource settings"},
		{"http://x", `{"cacheTTL":"soon"}`, "cacheTTL \"soon\" is not a duration"},
		{"http://x", `{"cacheTTL":"-1s"}`, "is not a duration"},
		{"http://x", `{"requestMemoryMB":2048}`, "requestMemoryMB 2048 is above datasourceMemoryMB 1024"},
	} {
		_, err := LoadSettings(tt.url, []byte(tt.json), nil)
		require.ErrorContains(t, err, tt.err)
	}
}

// TestFrontendDefaultsAgree: the settings page's placeholders
// (SETTINGS_DEFAULTS in src/types.ts) are the defaults LoadSettings applies.
func TestFrontendDefaultsAgree(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "src", "types.ts"))
	require.NoError(t, err)
	block := regexp.MustCompile(`(?s)export const SETTINGS_DEFAULTS = \{(.*?)\};`).FindSubmatch(b)
	require.NotNil(t, block, "SETTINGS_DEFAULTS in types.ts")
	ts := map[string]string{}
	for _, m := range regexp.MustCompile(`(\w+):\s*'?([^',\n]+)'?,`).FindAllSubmatch(block[1], -1) {
		ts[string(m[1])] = string(m[2])
	}
	s, err := LoadSettings("http://x", nil, nil)
	require.NoError(t, err)
	want := map[string]string{
		"version":            s.Version,
		"bucket":             s.Bucket,
		"timeZone":           s.TimeZone,
		"currency":           s.Currency,
		"seriesLimit":        strconv.Itoa(s.SeriesLimit),
		"cacheTTL":           s.CacheTTL.String(),
		"requestMemoryMB":    strconv.Itoa(s.RequestMemoryMB),
		"datasourceMemoryMB": strconv.Itoa(s.DatasourceMemoryMB),
		"database3":          DefaultDatabase3,
	}
	require.Equal(t, want, ts)
}

func TestInsightsStore(t *testing.T) {
	tests := []struct {
		name, raw, store, err string
	}{
		{"whole business", `{}`, "", ""},
		{"All", `{"filters":{"store":["$__all"]}}`, "", ""},
		{"one store", `{"filters":{"store":["s001"]}}`, "s001", ""},
		{"one store as a variable value", `{"filters":{"store":["{s001}"]}}`, "s001", ""},
		{"two stores", `{"filters":{"store":["{s001,s002}"]}}`, "", "one store or all"},
		{"another filter", `{"filters":{"channel":["app"],"store":["s001"]}}`, "", "store only, not by [channel]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q, err := ParseQuery([]byte(tt.raw))
			require.NoError(t, err)
			store, err := q.InsightsStore()
			if tt.err != "" {
				require.ErrorContains(t, err, tt.err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.store, store)
		})
	}
}
