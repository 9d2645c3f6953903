package provisioning

import (
	"bufio"
	"encoding/json"
	"fmt"
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
	Services map[string]composeService `yaml:"services"`
	Volumes  map[string]any            `yaml:"volumes"`
}

type composeService struct {
	Image       string         `yaml:"image"`
	Build       any            `yaml:"build"`
	Entrypoint  []string       `yaml:"entrypoint"`
	Environment map[string]any `yaml:"environment"`
	Volumes     []string       `yaml:"volumes"`
	DependsOn   map[string]struct {
		Condition string `yaml:"condition"`
	} `yaml:"depends_on"`
	Command     any `yaml:"command"`
	Healthcheck *struct {
		Test []string `yaml:"test"`
	} `yaml:"healthcheck"`
}

// The compose variants: docker-compose.yml alone (InfluxDB 2.7) and with
// docker-compose.influxdb3.yml (InfluxDB 3 Core).
var composeVariants = map[string][]string{
	"2.7": {"docker-compose.yml"},
	"3.x": {"docker-compose.yml", "docker-compose.influxdb3.yml"},
}

func readCompose(t *testing.T) (composeFile, string) {
	t.Helper()
	return readComposeFiles(t, composeVariants["2.7"]...)
}

// readComposeFiles reads compose files and merges each onto the previous as
// docker compose does for the keys these tests read: image, entrypoint,
// command and healthcheck are replaced, environment and depends_on merged by
// key, volumes by their container path. raw is the files' text together.
func readComposeFiles(t *testing.T, names ...string) (composeFile, string) {
	t.Helper()
	var c composeFile
	var raw strings.Builder
	for _, name := range names {
		b, err := os.ReadFile(filepath.Join("..", name)) //nolint:gosec // a file of this repository
		require.NoError(t, err)
		raw.Write(b)
		var o composeFile
		require.NoError(t, yaml.Unmarshal(b, &o), name)
		if c.Services == nil {
			c = o
			continue
		}
		for k, v := range o.Volumes {
			c.Volumes[k] = v
		}
		for name, ov := range o.Services {
			bs, ok := c.Services[name]
			if !ok {
				c.Services[name] = ov
				continue
			}
			if ov.Image != "" {
				bs.Image = ov.Image
			}
			if ov.Entrypoint != nil {
				bs.Entrypoint = ov.Entrypoint
			}
			if ov.Command != nil {
				bs.Command = ov.Command
			}
			if ov.Healthcheck != nil {
				bs.Healthcheck = ov.Healthcheck
			}
			bs.Environment = maps.Clone(bs.Environment)
			maps.Copy(bs.Environment, ov.Environment)
			deps := maps.Clone(bs.DependsOn)
			maps.Copy(deps, ov.DependsOn)
			bs.DependsOn = deps
			for _, v := range ov.Volumes {
				target := strings.Split(v, ":")[1]
				bs.Volumes = slices.DeleteFunc(bs.Volumes, func(b string) bool { return strings.Split(b, ":")[1] == target })
				bs.Volumes = append(bs.Volumes, v)
			}
			c.Services[name] = bs
		}
	}
	return c, raw.String()
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
	env := envExample(t)
	for variant, files := range composeVariants {
		t.Run(variant, func(t *testing.T) {
			c, raw := readComposeFiles(t, files...)
			_, missing := interpolate(raw, env)
			require.Empty(t, missing, "required variables missing from .env.example")
			for _, name := range []string{"influxdb", "ingest", "sim", "plugin", "grafana"} {
				require.Contains(t, c.Services, name)
			}
		})
	}
	_, raw := readCompose(t)
	used := map[string]bool{}
	for _, m := range composeVar.FindAllStringSubmatch(raw, -1) {
		used[m[1]] = true
	}
	for k := range env {
		require.True(t, used[k], ".env.example sets %s, which docker-compose.yml does not use", k)
	}
}

// The InfluxDB 3 variant: a pinned InfluxDB 3 Core serving on the port every
// service uses, a preconfigured admin token that the ingest and Grafana use
// too, its database created before they start, and a database name
// InfluxDB 3 takes (no "/").
func TestComposeInfluxDB3(t *testing.T) {
	c, _ := readComposeFiles(t, composeVariants["3.x"]...)
	env := envExample(t)
	val := func(service, key string) string {
		t.Helper()
		v, ok := c.Services[service].Environment[key]
		require.True(t, ok, "%s sets %s", service, key)
		s, missing := interpolate(fmt.Sprint(v), env)
		require.Empty(t, missing)
		return s
	}
	db := c.Services["influxdb"]
	require.Regexp(t, `^influxdb:3\.\d+\.\d+-core$`, db.Image, "an exact InfluxDB 3 Core version")
	script := fmt.Sprint(db.Command)
	for _, flag := range []string{"influxdb3 serve", "--node-id", "--object-store file", "--data-dir /var/lib/influxdb3/",
		"--http-bind 0.0.0.0:8086", "--admin-token-file", "--query-file-limit"} {
		require.Contains(t, script, flag)
	}
	require.Contains(t, db.Volumes, "influxdb3-data:/var/lib/influxdb3", "the image's data directory, owned by its user")
	require.Contains(t, c.Volumes, "influxdb3-data")
	require.Equal(t, []string{"CMD", "influxdb3", "show", "databases"}, db.Healthcheck.Test)

	token := val("influxdb", "INFLUXDB3_AUTH_TOKEN")
	require.Equal(t, "apiv3_"+env["INFLUXDB_ADMIN_TOKEN"], token, "InfluxDB 3 tokens start with apiv3_")
	require.Equal(t, token, val("influxdb-init", "INFLUXDB3_AUTH_TOKEN"))
	require.Equal(t, token, val("ingest", "STOREPULSE_INFLUX_TOKEN"))
	require.Equal(t, token, val("grafana", "STOREPULSE_INFLUX_TOKEN"))
	require.Equal(t, "http://influxdb:8086", val("ingest", "STOREPULSE_INFLUX_URL"))

	database := val("influxdb-init", "STOREPULSE_DATABASE")
	require.Equal(t, database, val("ingest", "STOREPULSE_INFLUX_BUCKET"), "the ingest writes the database influxdb-init creates")
	require.NotContains(t, database, "/", "an InfluxDB 3 database name has no /")
	require.Contains(t, fmt.Sprint(c.Services["influxdb-init"].Command), "influxdb3 create database")
	require.Equal(t, "service_healthy", c.Services["influxdb-init"].DependsOn["influxdb"].Condition)
	for _, s := range []string{"ingest", "grafana"} {
		require.Equal(t, "service_completed_successfully", c.Services[s].DependsOn["influxdb-init"].Condition, s)
		require.Equal(t, "service_healthy", c.Services[s].DependsOn["influxdb"].Condition, s)
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
	for variant, want := range map[string]struct{ version, tokenPrefix string }{
		"2.7": {models.InfluxV2, ""},
		"3.x": {models.InfluxV3, "apiv3_"},
	} {
		t.Run(variant, func(t *testing.T) {
			testDatasourceProvisioning(t, composeVariants[variant], want.version, want.tokenPrefix)
		})
	}
}

func testDatasourceProvisioning(t *testing.T, composeFiles []string, version, tokenPrefix string) {
	t.Helper()
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
	// plugin accepts the settings, and they point at the compose InfluxDB.
	c, _ := readComposeFiles(t, composeFiles...)
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
	require.Equal(t, version, s.Version)
	require.Equal(t, models.QueryInfluxQL, s.QueryLanguage)
	require.Equal(t, env["INFLUXDB_BUCKET"], s.Bucket)
	require.Equal(t, env["INFLUXDB_ORG"], s.Org)
	require.Equal(t, env["STOREPULSE_TIMEZONE"], s.TimeZone)
	require.Equal(t, tokenPrefix+env["INFLUXDB_ADMIN_TOKEN"], s.Token)
	// Grafana and the ingest read and write the same database.
	require.Equal(t, genv["STOREPULSE_INFLUX_BUCKET"], s.Bucket)
	ingestToken, _ := interpolate(fmt.Sprint(c.Services["ingest"].Environment["STOREPULSE_INFLUX_TOKEN"]), env)
	require.Equal(t, ingestToken, s.Token)
	require.NotEmpty(t, s.Currency)
}
