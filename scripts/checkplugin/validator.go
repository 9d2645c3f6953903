package main

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"debug/buildinfo"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"mime"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

// The rules of Grafana's plugin validator (github.com/grafana/plugin-validator, pkg/analysis/passes) that
// apply to this plugin and run offline, each named after its analyzer. The validator itself cannot run here:
// its npm wrapper downloads a release binary from GitHub and the Go module proxy does not serve it.

// mdLink is the validator's Markdown link pattern (brokenlinks).
var mdLink = regexp.MustCompile(`\[.+?\]\((.+?)\)`)

// checkReadme: README.md exists, is not empty, has no HTML comment (readme) and every link is absolute:
// the catalog page shows the README away from the repository, where a relative link is dead (brokenlinks).
func checkReadme(dist string) []string {
	raw, err := os.ReadFile(filepath.Join(dist, "README.md")) // #nosec G304 -- a path given by the caller
	if err != nil || len(bytes.TrimSpace(raw)) == 0 {
		return []string{"README.md: missing or empty"}
	}
	var problems []string
	if regexp.MustCompile(`(?s)<!--.*?-->`).Match(raw) {
		problems = append(problems, "README.md: contains an HTML comment")
	}
	for _, m := range mdLink.FindAllSubmatch(raw, -1) {
		link := string(m[1])
		if f := strings.Fields(link); len(f) > 0 {
			link = f[0]
		}
		if strings.HasPrefix(link, "#") || strings.HasPrefix(link, "mailto:") ||
			strings.HasPrefix(link, "https://") || strings.HasPrefix(link, "http://") {
			continue
		}
		problems = append(problems, "README.md: relative link "+link+" is dead on the plugin's catalog page; use an absolute https:// link")
	}
	return problems
}

// sourceMap is the part of module.js.map the validator reads.
type sourceMap struct {
	Sources        []string `json:"sources"`
	SourcesContent []string `json:"sourcesContent"`
}

// checkSourceMap: module.js.map is in the package, lists its sources with their content, and every source of
// the plugin's own code equals the file under the source tree's src/ (jssourcemap). Without -source only the
// map itself is checked.
func checkSourceMap(dist, id, source string) []string {
	raw, err := os.ReadFile(filepath.Join(dist, "module.js.map")) // #nosec G304 -- a path given by the caller
	if err != nil {
		return []string{"module.js.map: missing; the validator requires the source map in the package"}
	}
	var m sourceMap
	if err := json.Unmarshal(raw, &m); err != nil {
		return []string{"module.js.map: " + err.Error()}
	}
	if len(m.Sources) == 0 || len(m.Sources) != len(m.SourcesContent) {
		return []string{fmt.Sprintf("module.js.map: %d sources with %d contents, want the same number, at least one", len(m.Sources), len(m.SourcesContent))}
	}
	prefix := regexp.MustCompile("^webpack://" + regexp.QuoteMeta(id) + "/*|^webpack:/*")
	var problems []string
	own := 0
	for i, s := range m.Sources {
		name := prefix.ReplaceAllString(s, "")
		if ignoredSource(name) {
			continue
		}
		own++
		if source == "" {
			continue
		}
		file, err := os.ReadFile(filepath.Join(source, "src", filepath.FromSlash(name))) // #nosec G304 -- under the given source tree
		switch {
		case err != nil:
			problems = append(problems, "module.js.map: source "+name+" is not in the source tree's src/")
		case strings.ReplaceAll(string(file), "\r\n", "\n") != strings.ReplaceAll(m.SourcesContent[i], "\r\n", "\n"):
			problems = append(problems, "module.js.map: source "+name+" differs from the source tree's src/"+name)
		}
	}
	if own == 0 {
		problems = append(problems, "module.js.map: none of the plugin's own sources")
	}
	return problems
}

// ignoredSource mirrors the validator's pkg/sourcemap: webpack's runtime, externals, dependencies and
// styles, JSON and SVG are not compared.
func ignoredSource(name string) bool {
	if i := strings.Index(name, "?"); i >= 0 {
		name = name[:i]
	}
	if strings.Contains(name, "/node_modules/.pnpm/") {
		return true
	}
	for _, ext := range []string{".css", ".scss", ".sass", ".less", ".svg", ".json"} {
		if strings.HasSuffix(name, ext) {
			return true
		}
	}
	for _, p := range []string{"external ", "webpack/", "../node_modules", "./node_modules/"} {
		if len(name) > len(p) && strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

// amdDefine matches the dependency list of the AMD module webpack writes: define(["a","b"],function(...
var amdDefine = regexp.MustCompile(`define\(\s*(\[[^\]]*\])\s*,`)

// checkModuleJS: every module module.js asks Grafana's SystemJS for is one Grafana shares with plugins (the
// list the webpack externals are made of): any other fails the plugin's load. And module.js carries none of
// the React APIs React 19 removed or renamed, the patterns of @grafana/react-detect (reactcompat), which
// would break the plugin on Grafana >= 13.2: a bundled react/jsx-runtime shows as React's old internals.
func checkModuleJS(dist string, shared []string) []string {
	raw, err := os.ReadFile(filepath.Join(dist, "module.js")) // #nosec G304 -- a path given by the caller
	if err != nil {
		return []string{"module.js: " + err.Error()}
	}
	var problems []string
	m := amdDefine.FindSubmatch(raw)
	if m == nil {
		return []string{"module.js: no AMD define([...], ...) with the modules it needs from Grafana"}
	}
	var deps []string
	if err := json.Unmarshal(m[1], &deps); err != nil {
		return []string{"module.js: AMD dependencies " + string(m[1]) + ": " + err.Error()}
	}
	allowed := map[string]bool{"module": true} // SystemJS's module meta, for the public path
	for _, s := range shared {
		allowed[s] = true
	}
	for _, d := range deps {
		if !allowed[d] {
			problems = append(problems, "module.js: requires "+d+", which Grafana does not share with plugins: bundle it (remove it from the webpack externals)")
		}
	}
	for _, p := range []string{
		"__SECRET_INTERNALS_DO_NOT_USE_OR_YOU_WILL_BE_FIRED", "findDOMNode", "unmountComponentAtNode",
		"createFactory", "getChildContext", "contextTypes", ".defaultProps", "propTypes",
	} {
		if bytes.Contains(raw, []byte(p)) {
			problems = append(problems, "module.js: contains "+p+", removed in React 19 (Grafana >= 13.2 runs React 19)")
		}
	}
	return problems
}

// readShared reads the module names of grafana-shared-modules.json.
func readShared(path string) ([]string, error) {
	raw, err := os.ReadFile(path) // #nosec G304 -- a path given by the caller
	if err != nil {
		return nil, err
	}
	var f struct {
		Modules []string `json:"modules"`
	}
	if err := json.Unmarshal(raw, &f); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(f.Modules) == 0 {
		return nil, fmt.Errorf("%s: no modules", path)
	}
	return f.Modules, nil
}

// checkImages: info.screenshots is not empty (screenshots), and every screenshot and logo path is relative,
// written without a leading '.' or '/', exists, and is a PNG, JPEG, GIF or SVG whose extension matches its
// content (metadatapaths, screenshots, logos).
func checkImages(dist string, p pluginJSON) []string {
	if p.Info == nil {
		return nil
	}
	var problems []string
	if len(p.Info.Screenshots) == 0 {
		problems = append(problems, "plugin.json: info.screenshots is empty; the catalog page shows them")
	}
	paths := []string{p.Info.Logos.Small, p.Info.Logos.Large}
	for _, s := range p.Info.Screenshots {
		if strings.TrimSpace(s.Name) == "" {
			problems = append(problems, "plugin.json: a screenshot without a name")
		}
		paths = append(paths, s.Path)
	}
	for _, path := range paths {
		if path == "" || strings.HasPrefix(path, ".") || strings.HasPrefix(path, "/") || strings.Contains(path, "://") {
			problems = append(problems, fmt.Sprintf("plugin.json: image path %q must be relative to plugin.json, without a leading '.' or '/'", path))
			continue
		}
		if err := checkImage(filepath.Join(dist, filepath.FromSlash(path))); err != nil {
			problems = append(problems, path+": "+err.Error())
		}
	}
	return problems
}

func checkImage(path string) error {
	raw, err := os.ReadFile(path) // #nosec G304 -- under the given dist directory
	if err != nil {
		return fmt.Errorf("missing")
	}
	head := raw[:min(len(raw), 512)]
	kind := http.DetectContentType(head)
	if (strings.Contains(kind, "text/plain") || strings.Contains(kind, "text/xml")) && bytes.Contains(head, []byte("<svg")) {
		kind = "image/svg+xml"
	}
	switch kind {
	case "image/png", "image/jpeg", "image/gif", "image/svg+xml":
	default:
		return fmt.Errorf("content is %s, not a PNG, JPEG, GIF or SVG image", kind)
	}
	if want := mime.TypeByExtension(filepath.Ext(path)); want != kind {
		return fmt.Errorf("extension %s does not match its content %s", filepath.Ext(path), kind)
	}
	if kind == "image/svg+xml" && regexp.MustCompile(`(?i)<script|\son[a-z]+\s*=|javascript:`).Match(raw) {
		return fmt.Errorf("SVG with script") // unsafesvg
	}
	return nil
}

// checkBackendBuild: the executables are exactly 0755 (binarypermissions); the linux/amd64 one says so in
// its Go build information (backendbinary); no debug files of a standalone backend (backenddebug).
func checkBackendBuild(dist string, p pluginJSON) []string {
	var problems []string
	for _, t := range targets {
		name := executableName(p.Executable, t)
		st, err := os.Stat(filepath.Join(dist, name))
		if err != nil {
			continue // reported by check
		}
		if t.os != "windows" && st.Mode().Perm() != 0o755 {
			problems = append(problems, fmt.Sprintf("%s: permissions %04o, want exactly 0755", name, st.Mode().Perm()))
		}
		if t.os == "linux" && t.arch == "amd64" {
			info, err := buildinfo.ReadFile(filepath.Join(dist, name))
			if err != nil {
				problems = append(problems, name+": no Go build information: "+err.Error())
				continue
			}
			settings := map[string]string{}
			for _, s := range info.Settings {
				settings[s.Key] = s.Value
			}
			if settings["GOOS"] != "linux" || settings["GOARCH"] != "amd64" {
				problems = append(problems, fmt.Sprintf("%s: built for %s/%s, want linux/amd64", name, settings["GOOS"], settings["GOARCH"]))
			}
		}
	}
	for _, f := range []string{"standalone.txt", "pid.txt"} {
		if _, err := os.Stat(filepath.Join(dist, f)); err == nil {
			problems = append(problems, f+": a standalone backend's debug file must not be packaged")
		}
	}
	return problems
}

// readManifest parses go_plugin_build_manifest: "sha256:path" lines.
func readManifest(path string) (map[string]string, error) {
	f, err := os.Open(path) // #nosec G304 -- a path given by the caller
	if err != nil {
		return nil, err
	}
	defer func() { _ = f.Close() }()
	m := map[string]string{}
	s := bufio.NewScanner(f)
	for s.Scan() {
		line := s.Text()
		if line == "" {
			continue
		}
		parts := strings.Split(line, ":")
		if len(parts) != 2 {
			return nil, fmt.Errorf("invalid line %q", line)
		}
		m[strings.ReplaceAll(strings.TrimSpace(parts[1]), `\`, "/")] = strings.TrimSpace(parts[0])
	}
	return m, s.Err()
}

// checkGoManifest: dist/go_plugin_build_manifest exists and lists exactly the .go files of the source tree
// outside node_modules, each with its sha256 (gomanifest). Without -source only its presence and form.
func checkGoManifest(dist, source string) []string {
	manifest, err := readManifest(filepath.Join(dist, "go_plugin_build_manifest"))
	if err != nil {
		return []string{"go_plugin_build_manifest: missing or invalid (the plugin SDK's build tooling writes it): " + err.Error()}
	}
	if len(manifest) == 0 {
		return []string{"go_plugin_build_manifest: empty"}
	}
	if source == "" {
		return nil
	}
	root, err := os.OpenRoot(source)
	if err != nil {
		return []string{"source tree: " + err.Error()}
	}
	defer func() { _ = root.Close() }()
	var problems []string
	seen := map[string]bool{}
	err = fs.WalkDir(root.FS(), ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == "node_modules" {
			return fs.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") {
			return nil
		}
		rel := path // slash-separated, relative to the source tree
		seen[rel] = true
		raw, err := root.ReadFile(filepath.FromSlash(rel))
		if err != nil {
			return err
		}
		lf := strings.ReplaceAll(string(raw), "\r\n", "\n")
		sumLF := sha256.Sum256([]byte(lf))
		sumCRLF := sha256.Sum256([]byte(strings.ReplaceAll(lf, "\n", "\r\n")))
		switch want, ok := manifest[rel]; {
		case !ok:
			problems = append(problems, "go_plugin_build_manifest: "+rel+" is in the source code but not in the manifest")
		case want != hex.EncodeToString(sumLF[:]) && want != hex.EncodeToString(sumCRLF[:]):
			problems = append(problems, "go_plugin_build_manifest: sha256 of "+rel+" does not match")
		}
		return nil
	})
	if err != nil {
		return append(problems, "source tree: "+err.Error())
	}
	var extra []string
	for f := range manifest {
		if !seen[f] {
			extra = append(extra, f)
		}
	}
	sort.Strings(extra)
	for _, f := range extra {
		problems = append(problems, "go_plugin_build_manifest: "+f+" is in the manifest but not in the source code")
	}
	return problems
}

// sdkRequire finds the grafana-plugin-sdk-go requirement and replacement in go.mod.
var (
	sdkRequire = regexp.MustCompile(`(?m)^\s*(?:require\s+)?github\.com/grafana/grafana-plugin-sdk-go\s+v\S+`)
	sdkReplace = regexp.MustCompile(`(?m)^\s*(?:replace\s+)?github\.com/grafana/grafana-plugin-sdk-go(?:\s+v\S+)?\s+=>`)
)

// checkSourceTree: the layout the validator reads from the submitted source: package.json with the plugin's
// version (packagejson) and no other package.json one level down, src/plugin.json, the create-plugin webpack configuration and, next to go.mod, a
// Magefile using the SDK's build package (buildtools), and go.mod requiring an unreplaced Grafana plugin
// SDK (sdkusage; its age check needs GitHub and is not done here).
func checkSourceTree(source string, p pluginJSON) []string {
	var problems []string
	read := func(rel string) string {
		raw, err := os.ReadFile(filepath.Join(source, rel)) // #nosec G304 -- under the given source tree
		if err != nil {
			problems = append(problems, "source tree: missing "+rel)
			return ""
		}
		return string(raw)
	}
	if pkg := read("package.json"); pkg != "" {
		var v struct {
			Version string `json:"version"`
		}
		if err := json.Unmarshal([]byte(pkg), &v); err != nil {
			problems = append(problems, "source tree: package.json: "+err.Error())
		} else if p.Info != nil && v.Version != p.Info.Version {
			problems = append(problems, fmt.Sprintf("source tree: package.json version %s, plugin.json %s", v.Version, p.Info.Version))
		}
	}
	read(filepath.Join("src", "plugin.json"))
	if pkgs, _ := filepath.Glob(filepath.Join(source, "*", "package.json")); len(pkgs) > 0 {
		problems = append(problems, "source tree: a second package.json, "+pkgs[0]+": the validator may take it for the plugin's root")
	}
	if wp := read(filepath.Join(".config", "webpack", "webpack.config.ts")); wp != "" && !strings.Contains(wp, "@grafana/create-plugin") {
		problems = append(problems, "source tree: .config/webpack/webpack.config.ts is not create-plugin's layout")
	}
	gomod := read("go.mod")
	if gomod == "" {
		return problems
	}
	if !sdkRequire.MatchString(gomod) {
		problems = append(problems, "source tree: go.mod does not require github.com/grafana/grafana-plugin-sdk-go")
	}
	if sdkReplace.MatchString(gomod) {
		problems = append(problems, "source tree: go.mod replaces github.com/grafana/grafana-plugin-sdk-go")
	}
	mage, _ := filepath.Glob(filepath.Join(source, "[Mm]agefile.go"))
	if len(mage) == 0 {
		return append(problems, "source tree: no Magefile.go next to go.mod (the SDK's standard backend build tooling)")
	}
	if raw, err := os.ReadFile(mage[0]); err != nil || !bytes.Contains(raw, []byte("grafana-plugin-sdk-go/build")) { // #nosec G304 -- globbed under the source tree
		problems = append(problems, "source tree: "+filepath.Base(mage[0])+" does not use github.com/grafana/grafana-plugin-sdk-go/build")
	}
	return problems
}
