package provisioning

import (
	"bufio"
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/storepulse/storepulse/datasource/pkg/models"
)

// The parts of docker-compose.yml these tests read.
type composeFile struct {
	Services map[string]struct {
		Image       string         `yaml:"image"`
		Build       any            `yaml:"build"`
		Environment map[string]any `yaml:"environment"`
		Volumes     []string       `yaml:"volumes"`
		DependsOn   map[string]struct {
			Condition string `yaml:"condition"`
		} `yaml:"depends_on"`
		Command any `yaml:"command"`
	} `yaml:"services"`
}

func readCompose(t *testing.T) (composeFile, string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "docker-compose.yml"))
	require.NoError(t, err)
	var c composeFile
	require.NoError(t, yaml.Unmarshal(b, &c))
	return c, string(b)
}

// envExample reads .env.example plus what `make env` appends.
func envExample(t *testing.T) map[string]string {
	t.Helper()
	f, err := os.Open(filepath.Join("..", ".env.example"))
	require.NoError(t, err)
	defer f.Close()
	env := map[string]string{"STOREPULSE_TOKEN_SHA256": strings.Repeat("0", 64)}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		require.True(t, ok, "%q is not KEY=value", line)
		env[k] = v
	}
	require.NoError(t, sc.Err())
	return env
}

// composeVar matches docker compose's ${VAR}, ${VAR:-default}, ${VAR-default},
// ${VAR:?error} and ${VAR?error}.
var composeVar = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}`)

// interpolate resolves compose variables from env; ok is false when a
// required variable is missing.
func interpolate(s string, env map[string]string) (string, []string) {
	var missing []string
	out := composeVar.ReplaceAllStringFunc(s, func(m string) string {
		p := composeVar.FindStringSubmatch(m)
		v, set := env[p[1]]
		switch {
		case set && (v != "" || !strings.HasPrefix(p[2], ":")):
			return v
		case strings.HasSuffix(p[2], "-"):
			return p[3]
		case strings.HasSuffix(p[2], "?"):
			missing = append(missing, p[1])
			return ""
		}
		return v
	})
	return out, missing
}

func TestComposeAndEnvExampleAgree(t *testing.T) {
	c, raw := readCompose(t)
	env := envExample(t)
	used := map[string]bool{}
	for _, m := range composeVar.FindAllStringSubmatch(raw, -1) {
		used[m[1]] = true
	}
	_, missing := interpolate(raw, env)
	require.Empty(t, missing, "required variables missing from .env.example")
	for k := range env {
		require.True(t, used[k], ".env.example sets %s, which docker-compose.yml does not use", k)
	}
	for _, name := range []string{"influxdb", "ingest", "sim", "plugin", "grafana"} {
		require.Contains(t, c.Services, name)
	}
}

func TestComposeGrafana(t *testing.T) {
	c, _ := readCompose(t)
	g := c.Services["grafana"]
	m := regexp.MustCompile(`^grafana/grafana(-oss)?:(\d+)\.(\d+)\.(\d+)$`).FindStringSubmatch(g.Image)
	require.NotNil(t, m, "an exact Grafana version: %s", g.Image)
	major, _ := strconv.Atoi(m[2])
	minor, _ := strconv.Atoi(m[3])
	require.True(t, major == 13 && minor >= 2, "the current Grafana, 13.2 or a later 13.x (the plugin is tested on React 18 and 19): %s", g.Image)
	require.Contains(t, strings.Split(g.Environment["GF_PLUGINS_ALLOW_LOADING_UNSIGNED_PLUGINS"].(string), ","), datasourceType)
	require.Equal(t, "service_completed_successfully", g.DependsOn["plugin"].Condition, "Grafana starts once the plugin is in place")
	require.Contains(t, g.Volumes, "./provisioning:/etc/grafana/provisioning:ro")

	// The plugin lands in Grafana's plugins directory.
	var pluginVol string
	for _, v := range c.Services["plugin"].Volumes {
		if strings.HasSuffix(v, ":/plugins") {
			pluginVol = strings.TrimSuffix(v, ":/plugins")
		}
	}
	require.NotEmpty(t, pluginVol)
	require.Contains(t, g.Volumes, pluginVol+":/var/lib/grafana/plugins")

	// The dashboards are where the dashboard provider reads them.
	var prov struct {
		Providers []struct {
			Options struct {
				Path string `yaml:"path"`
			} `yaml:"options"`
		} `yaml:"providers"`
	}
	for _, f := range yamlFiles(t, "dashboards") {
		b, err := os.ReadFile(f) //nolint:gosec // a file of this repository
		require.NoError(t, err)
		require.NoError(t, yaml.Unmarshal(b, &prov))
		for _, p := range prov.Providers {
			require.Contains(t, g.Volumes, "./dashboards:"+p.Options.Path+":ro", "dashboards mounted at the provider's path")
		}
	}

	// Every variable the provisioning files read from the environment is
	// set for Grafana.
	for _, ref := range provisioningEnvRefs(t) {
		require.Contains(t, g.Environment, ref, "provisioning reads $%s; docker-compose.yml must set it for grafana", ref)
	}
}

// provisioningEnvRefs lists the $VAR references in the parts of the
// provisioning files Grafana interpolates: every value of datasources,
// contact points and policies; rule titles and labels (not queries and
// annotations, which Grafana leaves alone).
func provisioningEnvRefs(t *testing.T) []string {
	t.Helper()
	var texts []string
	for _, f := range yamlFiles(t, "datasources") {
		b, err := os.ReadFile(f) //nolint:gosec // a file of this repository
		require.NoError(t, err)
		texts = append(texts, string(b))
	}
	for _, f := range loadAlerting(t) {
		for _, cp := range f.ContactPoints {
			b, err := json.Marshal(cp)
			require.NoError(t, err)
			texts = append(texts, string(b))
		}
		for _, p := range f.Policies {
			b, err := json.Marshal(p)
			require.NoError(t, err)
			texts = append(texts, string(b))
		}
		for _, g := range f.Groups {
			for _, r := range g.Rules {
				b, err := json.Marshal(r.Labels)
				require.NoError(t, err)
				texts = append(texts, r.Title, string(b))
			}
		}
	}
	re := regexp.MustCompile(`\$\$|\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?`)
	var out []string
	for _, s := range texts {
		// Drop comment lines of the YAML files.
		var kept []string
		for _, l := range strings.Split(s, "\n") {
			if !strings.HasPrefix(strings.TrimSpace(l), "#") {
				kept = append(kept, l)
			}
		}
		for _, m := range re.FindAllStringSubmatch(strings.Join(kept, "\n"), -1) {
			if m[1] != "" && !slices.Contains(out, m[1]) {
				out = append(out, m[1])
			}
		}
	}
	require.NotEmpty(t, out)
	return out
}

func TestDatasourceProvisioning(t *testing.T) {
	files := yamlFiles(t, "datasources")
	require.Len(t, files, 1)
	var f datasourcesFile
	decodeStrict(t, files[0], &f)
	require.Equal(t, 1, f.APIVersion)
	require.Len(t, f.Datasources, 1)
	ds := f.Datasources[0]
	require.Equal(t, "StorePulse", ds.Name)
	require.Equal(t, datasourceUID, ds.UID)
	require.Equal(t, datasourceType, ds.Type)
	require.Equal(t, []string{"token"}, slices.Collect(maps.Keys(ds.SecureJSONData)), "the token is the only secret")

	// With the values docker compose gives Grafana (from .env.example), the
	// plugin accepts the settings, and they point at the compose InfluxDB 2.
	c, _ := readCompose(t)
	env := envExample(t)
	genv := map[string]string{}
	for k, v := range c.Services["grafana"].Environment {
		s, _ := interpolate(v.(string), env)
		genv[k] = s
	}
	expand := func(s string) string {
		return os.Expand(s, func(k string) string {
			v, ok := genv[k]
			require.True(t, ok, "$%s is not set for grafana", k)
			return v
		})
	}
	jd := map[string]any{}
	for k, v := range ds.JSONData {
		if s, ok := v.(string); ok {
			v = expand(s)
		}
		jd[k] = v
	}
	raw, err := json.Marshal(jd)
	require.NoError(t, err)
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.DisallowUnknownFields()
	var known models.Settings
	require.NoError(t, dec.Decode(&known), "jsonData keys are the plugin's settings")
	s, err := models.LoadSettings("", raw, map[string]string{"token": expand(ds.SecureJSONData["token"])})
	require.NoError(t, err)
	require.Equal(t, "http://influxdb:8086", s.URL)
	require.Equal(t, models.InfluxV2, s.Version)
	require.Equal(t, env["INFLUXDB_BUCKET"], s.Bucket)
	require.Equal(t, env["INFLUXDB_ORG"], s.Org)
	require.Equal(t, env["STOREPULSE_TIMEZONE"], s.TimeZone)
	require.Equal(t, env["INFLUXDB_ADMIN_TOKEN"], s.Token)
	require.NotEmpty(t, s.Currency)
}
