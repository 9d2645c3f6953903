package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

const testID = "storepulse-kpi-datasource"

// write creates the files (path relative to dir: content) under dir.
func write(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o750))
		require.NoError(t, os.WriteFile(p, []byte(content), 0o600))
	}
}

func pngImage(t *testing.T) string {
	t.Helper()
	var b bytes.Buffer
	require.NoError(t, png.Encode(&b, image.NewRGBA(image.Rect(0, 0, 2, 2))))
	return b.String()
}

// requireProblems asserts the problems contain each wanted fragment, or are none.
func requireProblems(t *testing.T, problems []string, want ...string) {
	t.Helper()
	if len(want) == 0 {
		require.Empty(t, problems)
		return
	}
	all := strings.Join(problems, "\n")
	for _, w := range want {
		require.Contains(t, all, w)
	}
}

func TestCheckReadme(t *testing.T) {
	for _, tc := range []struct {
		name, readme string
		want         []string
	}{
		{"absolute links, anchors and mail", "# x\n[a](https://github.com/storepulse/storepulse/blob/main/docs/kpis.md) [b](#tests) [c](mailto:a@b.c) [d](http://x.y \"t\")\n", nil},
		{"the old relative docs link", "See [docs/schema.md](../docs/schema.md).\n", []string{"relative link ../docs/schema.md"}},
		{"a link into the repository", "[q](docs/query.md)\n", []string{"relative link docs/query.md"}},
		{"a comment", "# x\n<!-- todo -->\n", []string{"HTML comment"}},
		{"empty", "  \n", []string{"missing or empty"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			write(t, dir, map[string]string{"README.md": tc.readme})
			requireProblems(t, checkReadme(dir), tc.want...)
		})
	}
}

func TestCheckSourceMap(t *testing.T) {
	const moduleTS = "export const plugin = 1;\n"
	good := `{"version":3,"sources":["webpack://` + testID + `/./module.ts","webpack://` + testID + `/external amd \"react\"","webpack://` + testID + `/webpack/runtime/define","webpack://` + testID + `/../node_modules/grafana-public-path.js"],` +
		`"sourcesContent":["export const plugin = 1;\n","x","y","z"]}`
	for _, tc := range []struct {
		name   string
		dist   map[string]string
		source map[string]string
		want   []string
	}{
		{"map equal to the source", map[string]string{"module.js.map": good}, map[string]string{"src/module.ts": moduleTS}, nil},
		{"CRLF source is equal", map[string]string{"module.js.map": good}, map[string]string{"src/module.ts": strings.ReplaceAll(moduleTS, "\n", "\r\n")}, nil},
		{"map stripped from the package", map[string]string{}, map[string]string{"src/module.ts": moduleTS}, []string{"module.js.map: missing"}},
		{"source changed after the build", map[string]string{"module.js.map": good}, map[string]string{"src/module.ts": "export const plugin = 2;\n"}, []string{"module.ts differs"}},
		{"source missing from the source tree", map[string]string{"module.js.map": good}, map[string]string{"src/other.ts": ""}, []string{"module.ts is not in the source tree"}},
		{"no sourcesContent", map[string]string{"module.js.map": `{"version":3,"sources":["webpack://x/./module.ts"]}`}, nil, []string{"1 sources with 0 contents"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dist, source := t.TempDir(), t.TempDir()
			write(t, dist, tc.dist)
			write(t, source, tc.source)
			requireProblems(t, checkSourceMap(dist, testID, source), tc.want...)
		})
	}
}

func TestCheckModuleJS(t *testing.T) {
	shared, err := readShared(filepath.Join("..", "..", "datasource", ".config", "webpack", "grafana-shared-modules.json"))
	require.NoError(t, err)
	require.Contains(t, shared, "react/jsx-runtime", "shared from Grafana 12.3: the plugin must not bundle its own")
	require.NotContains(t, shared, "@grafana/i18n", "Grafana does not share @grafana/i18n with plugins")
	require.NotContains(t, shared, "angular", "Grafana 12 removed Angular")
	for _, tc := range []struct {
		name, module string
		want         []string
	}{
		{"shared modules only", `define(["module","@grafana/data","@grafana/ui","react","react/jsx-runtime","rxjs"],(e,t)=>{})`, nil},
		{"@grafana/i18n externalised", `define(["module","@grafana/i18n","react"],(e)=>{})`, []string{"requires @grafana/i18n, which Grafana does not share"}},
		{"angular externalised", `define(["angular"],(e)=>{})`, []string{"requires angular"}},
		{"jsx-runtime bundled", `define(["react"],(e)=>{var s=e.__SECRET_INTERNALS_DO_NOT_USE_OR_YOU_WILL_BE_FIRED})`, []string{"__SECRET_INTERNALS_DO_NOT_USE_OR_YOU_WILL_BE_FIRED, removed in React 19"}},
		{"defaultProps on a component", `define(["react"],(e)=>{function C(){}C.defaultProps={a:1}})`, []string{".defaultProps"}},
		{"findDOMNode", `define(["react-dom"],(e)=>{e.findDOMNode(this)})`, []string{"findDOMNode"}},
		{"not AMD", `console.log(1)`, []string{"no AMD define"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			write(t, dir, map[string]string{"module.js": tc.module})
			requireProblems(t, checkModuleJS(dir, shared), tc.want...)
		})
	}
}

func TestCheckImages(t *testing.T) {
	img := pngImage(t)
	type shot struct{ Name, Path string }
	for _, tc := range []struct {
		name  string
		shots []shot
		files map[string]string
		want  []string
	}{
		{"png screenshots", []shot{{"Query editor", "img/q.png"}}, map[string]string{"img/q.png": img}, nil},
		{"no screenshots", nil, nil, []string{"info.screenshots is empty"}},
		{"missing file", []shot{{"Q", "img/q.png"}}, nil, []string{"img/q.png: missing"}},
		{"leading ./", []shot{{"Q", "./img/q.png"}}, map[string]string{"img/q.png": img}, []string{"without a leading '.' or '/'"}},
		{"png named .jpg", []shot{{"Q", "img/q.jpg"}}, map[string]string{"img/q.jpg": img}, []string{"extension .jpg does not match its content image/png"}},
		{"not an image", []shot{{"Q", "img/q.png"}}, map[string]string{"img/q.png": "hello"}, []string{"not a PNG, JPEG, GIF or SVG"}},
		{"no name", []shot{{"", "img/q.png"}}, map[string]string{"img/q.png": img}, []string{"without a name"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			files := map[string]string{"img/logo.svg": `<svg xmlns="http://www.w3.org/2000/svg"></svg>`}
			for k, v := range tc.files {
				files[k] = v
			}
			write(t, dir, files)
			var p pluginJSON
			p.Info = &struct {
				Version string `json:"version"`
				Updated string `json:"updated"`
				Logos   struct {
					Small string `json:"small"`
					Large string `json:"large"`
				} `json:"logos"`
				Screenshots []struct {
					Name string `json:"name"`
					Path string `json:"path"`
				} `json:"screenshots"`
			}{}
			p.Info.Logos.Small, p.Info.Logos.Large = "img/logo.svg", "img/logo.svg"
			for _, s := range tc.shots {
				p.Info.Screenshots = append(p.Info.Screenshots, struct {
					Name string `json:"name"`
					Path string `json:"path"`
				}{s.Name, s.Path})
			}
			requireProblems(t, checkImages(dir, p), tc.want...)
		})
	}
	t.Run("svg logo with a script", func(t *testing.T) {
		dir := t.TempDir()
		write(t, dir, map[string]string{"img/logo.svg": `<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>`})
		require.ErrorContains(t, checkImage(filepath.Join(dir, "img", "logo.svg")), "SVG with script")
	})
}

func sha(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

func TestCheckGoManifest(t *testing.T) {
	source := map[string]string{
		"Magefile.go":                "package main\n",
		"datasource/pkg/main.go":     "package main\n\nfunc main() {}\n",
		"internal/kpi/kpi.go":        "package kpi\n",
		"node_modules/x/golang/x.go": "package x\n", // the validator skips node_modules
		"src/module.ts":              "",
	}
	manifest := sha(source["Magefile.go"]) + ":Magefile.go\n" +
		sha(source["datasource/pkg/main.go"]) + ":datasource/pkg/main.go\n" +
		sha(source["internal/kpi/kpi.go"]) + ":internal/kpi/kpi.go\n"
	for _, tc := range []struct {
		name, manifest string
		change         map[string]string
		want           []string
	}{
		{"every .go file with its sha256", manifest, nil, nil},
		{"windows path separators", strings.ReplaceAll(manifest, "internal/kpi/", `internal\kpi\`), nil, nil},
		{"no manifest", "", nil, []string{"go_plugin_build_manifest: missing or invalid"}},
		{"file changed after the build", manifest, map[string]string{"internal/kpi/kpi.go": "package kpi // changed\n"}, []string{"sha256 of internal/kpi/kpi.go does not match"}},
		{"file not in the manifest", manifest, map[string]string{"internal/kpi/new.go": "package kpi\n"}, []string{"internal/kpi/new.go is in the source code but not in the manifest"}},
		{"manifest lists a file the source lacks", manifest + sha("x") + ":internal/gone.go\n", nil, []string{"internal/gone.go is in the manifest but not in the source code"}},
		{"malformed line", "nocolon\n", nil, []string{"invalid line"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dist, src := t.TempDir(), t.TempDir()
			write(t, src, source)
			write(t, src, tc.change)
			if tc.manifest != "" {
				write(t, dist, map[string]string{"go_plugin_build_manifest": tc.manifest})
			}
			requireProblems(t, checkGoManifest(dist, src), tc.want...)
		})
	}
}

func TestCheckSourceTree(t *testing.T) {
	good := map[string]string{
		"package.json":                      `{"name":"x","version":"0.2.0"}`,
		"src/plugin.json":                   `{}`,
		".config/webpack/webpack.config.ts": "// the layout @grafana/create-plugin sets up\n",
		"go.mod":                            "module github.com/storepulse/storepulse\n\nrequire (\n\tgithub.com/grafana/grafana-plugin-sdk-go v0.298.0\n)\n",
		"Magefile.go":                       "//go:build mage\npackage main\nimport \"github.com/grafana/grafana-plugin-sdk-go/build\"\n",
	}
	for _, tc := range []struct {
		name   string
		change map[string]string
		drop   string
		want   []string
	}{
		{"the staged layout", nil, "", nil},
		{"go.mod not beside src (datasource/ of the repository)", nil, "go.mod", []string{"missing go.mod"}},
		{"no Magefile", nil, "Magefile.go", []string{"no Magefile.go next to go.mod"}},
		{"Magefile without the SDK's build package", map[string]string{"Magefile.go": "package main\n"}, "", []string{"does not use github.com/grafana/grafana-plugin-sdk-go/build"}},
		{"SDK replaced", map[string]string{"go.mod": good["go.mod"] + "replace github.com/grafana/grafana-plugin-sdk-go => ../sdk\n"}, "", []string{"replaces github.com/grafana/grafana-plugin-sdk-go"}},
		{"no SDK", map[string]string{"go.mod": "module x\n"}, "", []string{"does not require github.com/grafana/grafana-plugin-sdk-go"}},
		{"package.json of another version", map[string]string{"package.json": `{"version":"0.1.0"}`}, "", []string{"package.json version 0.1.0, plugin.json 0.2.0"}},
		{"a second package.json (datasource/react19)", map[string]string{"react19/package.json": `{"version":"0.0.0"}`}, "", []string{"a second package.json"}},
		{"hand-made webpack config", map[string]string{".config/webpack/webpack.config.ts": "export default {}\n"}, "", []string{"not create-plugin's layout"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			files := map[string]string{}
			for k, v := range good {
				if k != tc.drop {
					files[k] = v
				}
			}
			for k, v := range tc.change {
				files[k] = v
			}
			write(t, dir, files)
			var p pluginJSON
			require.NoError(t, jsonUnmarshal(`{"info":{"version":"0.2.0"}}`, &p))
			requireProblems(t, checkSourceTree(dir, p), tc.want...)
		})
	}
}

func TestCheckBackendBuild(t *testing.T) {
	if runtime.GOOS != "linux" || runtime.GOARCH != "amd64" {
		t.Skip("uses the test binary as the linux/amd64 backend") // CI runs linux/amd64
	}
	self, err := os.Executable()
	require.NoError(t, err)
	goBinary, err := os.ReadFile(self) // #nosec G304 -- the test binary
	require.NoError(t, err)
	var p pluginJSON
	p.Executable = "gpx_x"
	for _, tc := range []struct {
		name    string
		content string
		mode    os.FileMode
		extra   string
		want    []string
	}{
		{"linux/amd64 Go binary, 0755", string(goBinary), 0o755, "", nil},
		{"0775", string(goBinary), 0o775, "", []string{"permissions 0775, want exactly 0755"}},
		{"not a Go binary", "#!/bin/sh\n", 0o755, "", []string{"no Go build information"}},
		{"standalone debug file", string(goBinary), 0o755, "standalone.txt", []string{"standalone.txt: a standalone backend's debug file"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			exe := filepath.Join(dir, "gpx_x_linux_amd64")
			require.NoError(t, os.WriteFile(exe, []byte(tc.content), 0o600))
			require.NoError(t, os.Chmod(exe, tc.mode)) // #nosec G302 -- an executable's mode under test
			if tc.extra != "" {
				write(t, dir, map[string]string{tc.extra: "1"})
			}
			requireProblems(t, checkBackendBuild(dir, p), tc.want...)
		})
	}
}

func jsonUnmarshal(s string, v any) error { return json.Unmarshal([]byte(s), v) }

// The plugin's README as the repository has it (webpack copies it into the package unchanged apart from the
// version): its links work on the catalog page.
func TestPluginReadmeLinksAreAbsolute(t *testing.T) {
	requireProblems(t, checkReadme(filepath.Join("..", "..", "datasource")))
}

// plugin.json's screenshots and logos, as the source has them (webpack copies src/img into the package).
func TestPluginJSONImages(t *testing.T) {
	src := filepath.Join("..", "..", "datasource", "src")
	raw, err := os.ReadFile(filepath.Join(src, "plugin.json"))
	require.NoError(t, err)
	var p pluginJSON
	require.NoError(t, json.Unmarshal(raw, &p))
	require.NotEmpty(t, p.Info.Screenshots)
	requireProblems(t, checkImages(src, p))
}
