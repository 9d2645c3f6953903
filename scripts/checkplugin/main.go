// Command checkplugin checks the built Grafana plugin (make plugin): every file Grafana needs is in the
// dist directory, plugin.json has the fields Grafana requires, and every backend executable is present for
// every target and is a binary for its OS and architecture (ELF, Mach-O, PE headers). With -zip it checks
// the archive holds the same files under a top-level folder named by the plugin id.
//
// It also applies the rules of Grafana's plugin validator (github.com/grafana/plugin-validator) that fit
// this plugin and run offline; the validator itself cannot run here (its npm package downloads a binary
// from GitHub, and the Go module proxy does not serve it). By analyzer: archive and archivename (one
// top-level folder named by the id), modulejs, metadata, typesuffix, backendbinary (a linux/amd64 binary by
// its Go build information), binarypermissions (exactly 0755), backenddebug, readme and brokenlinks' relative
// links (README.md links are absolute), license (LICENSE packaged), jssourcemap (module.js.map packaged and,
// with -source, equal to the source tree's src/), gomanifest (go_plugin_build_manifest lists the sha256 of
// every .go file of the source tree), buildtools (create-plugin's webpack configuration, a Magefile using
// the SDK's build package next to go.mod), sdkusage (go.mod requires an unreplaced plugin SDK), packagejson
// (its version is the plugin's), screenshots, logos, metadatapaths and unsafesvg (images exist, relative,
// of their extension's type), grafanadependency (a version range) and reactcompat (module.js carries none of
// the React APIs React 19 removed: @grafana/react-detect's patterns). And module.js requests from Grafana
// only the modules Grafana shares with plugins (-shared, the list the webpack externals are made of).
// Not done, because they need the network or outside tools: broken-link requests, the SDK's age, signature
// and MANIFEST.txt, osv-scanner, gosec, govulncheck, semgrep code rules, virus scan, Web Risk, published
// versions, LLM review.
//
//	go run ./scripts/checkplugin -dist datasource/dist -zip dist/storepulse-kpi-datasource-<version>.zip \
//	  -source dist/storepulse-kpi-datasource-<version>-source \
//	  -shared datasource/.config/webpack/grafana-shared-modules.json
package main

import (
	"archive/zip"
	"debug/elf"
	"debug/macho"
	"debug/pe"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// target is one platform Grafana runs the backend on.
type target struct{ os, arch string }

var targets = []target{{"linux", "amd64"}, {"linux", "arm64"}, {"darwin", "amd64"}, {"darwin", "arm64"}, {"windows", "amd64"}}

type pluginJSON struct {
	ID          string `json:"id"`
	Type        string `json:"type"`
	Name        string `json:"name"`
	Backend     *bool  `json:"backend"`
	Executable  string `json:"executable"`
	Alerting    *bool  `json:"alerting"`
	Annotations *bool  `json:"annotations"`
	Info        *struct {
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
	} `json:"info"`
	Dependencies *struct {
		GrafanaDependency string `json:"grafanaDependency"`
	} `json:"dependencies"`
}

func main() {
	dist := flag.String("dist", "datasource/dist", "the plugin's dist directory")
	zipPath := flag.String("zip", "", "the plugin archive to check too")
	source := flag.String("source", "", "the plugin's source tree (make plugin stages it) to compare the source map and Go manifest with")
	sharedPath := flag.String("shared", "datasource/.config/webpack/grafana-shared-modules.json", "the modules Grafana shares with plugins")
	flag.Parse()
	shared, err := readShared(*sharedPath)
	if err != nil {
		fmt.Fprintln(os.Stderr, "plugin check:", err)
		os.Exit(1)
	}
	problems, files := check(*dist, *source, shared)
	if *zipPath != "" && len(problems) == 0 {
		problems = append(problems, checkZip(*zipPath, *dist, files)...)
	}
	if len(problems) > 0 {
		for _, p := range problems {
			fmt.Fprintln(os.Stderr, "plugin check:", p)
		}
		os.Exit(1)
	}
	fmt.Printf("plugin check: %s ok (%d files, %d executables)\n", *dist, len(files), len(targets))
}

// check returns the problems of the dist directory (and of the source tree, if given) and the files the
// dist directory must hold.
func check(dist, source string, shared []string) ([]string, []string) {
	var problems []string
	raw, err := os.ReadFile(filepath.Join(dist, "plugin.json")) // #nosec G304 -- a path given by the caller
	if err != nil {
		return []string{err.Error()}, nil
	}
	var p pluginJSON
	if err := json.Unmarshal(raw, &p); err != nil {
		return []string{"plugin.json: " + err.Error()}, nil
	}
	problems = append(problems, checkPluginJSON(p, string(raw))...)
	files := []string{"plugin.json", "module.js", "module.js.map", "README.md", "CHANGELOG.md", "LICENSE", "go_plugin_build_manifest"}
	if p.Info != nil {
		images := []string{p.Info.Logos.Small, p.Info.Logos.Large}
		for _, s := range p.Info.Screenshots {
			images = append(images, s.Path)
		}
		for _, img := range images {
			if img != "" && !contains(files, img) {
				files = append(files, img)
			}
		}
	}
	for _, f := range files {
		if st, err := os.Stat(filepath.Join(dist, f)); err != nil {
			problems = append(problems, "missing "+f)
		} else if st.Size() == 0 {
			problems = append(problems, f+" is empty")
		}
	}
	problems = append(problems, checkReadme(dist)...)
	problems = append(problems, checkSourceMap(dist, p.ID, source)...)
	problems = append(problems, checkModuleJS(dist, shared)...)
	problems = append(problems, checkImages(dist, p)...)
	problems = append(problems, checkGoManifest(dist, source)...)
	if source != "" {
		problems = append(problems, checkSourceTree(source, p)...)
	}
	if p.Executable == "" {
		return problems, files
	}
	problems = append(problems, checkBackendBuild(dist, p)...)
	for _, t := range targets {
		name := executableName(p.Executable, t)
		files = append(files, name)
		if err := checkBinary(filepath.Join(dist, name), t); err != nil {
			problems = append(problems, name+": "+err.Error())
		}
	}
	return problems, files
}

func checkPluginJSON(p pluginJSON, raw string) []string {
	var problems []string
	missing := func(field string, bad bool) {
		if bad {
			problems = append(problems, "plugin.json: missing or empty "+field)
		}
	}
	missing("id", p.ID == "")
	missing("type", p.Type == "")
	missing("name", p.Name == "")
	missing("info", p.Info == nil)
	missing("dependencies.grafanaDependency", p.Dependencies == nil || p.Dependencies.GrafanaDependency == "")
	missing("executable", p.Executable == "")
	missing("backend", p.Backend == nil)
	missing("alerting", p.Alerting == nil)
	missing("annotations", p.Annotations == nil)
	if p.Backend != nil && !*p.Backend {
		problems = append(problems, "plugin.json: backend must be true")
	}
	if p.Type != "" && p.Type != "datasource" {
		problems = append(problems, "plugin.json: type must be datasource, not "+p.Type)
	}
	if p.ID != "" && !regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*-datasource$`).MatchString(p.ID) {
		problems = append(problems, "plugin.json: id "+p.ID+" is not <org>-<name>-datasource")
	}
	if strings.Contains(raw, "%VERSION%") || strings.Contains(raw, "%TODAY%") {
		problems = append(problems, "plugin.json: %VERSION% or %TODAY% not filled in")
	}
	if p.Dependencies != nil && p.Dependencies.GrafanaDependency != "" &&
		!regexp.MustCompile(`^(\s*(>=|<=|>|<|=|~|\^)?\s*v?\d+(\.\d+){0,2}(-\S+)?\s*)+$`).MatchString(p.Dependencies.GrafanaDependency) {
		problems = append(problems, "plugin.json: dependencies.grafanaDependency "+p.Dependencies.GrafanaDependency+" is not a version range")
	}
	if p.Info != nil {
		if !regexp.MustCompile(`^\d+\.\d+\.\d+`).MatchString(p.Info.Version) {
			problems = append(problems, "plugin.json: info.version "+p.Info.Version+" is not a version")
		}
		if !regexp.MustCompile(`^\d{4}-\d{2}-\d{2}$`).MatchString(p.Info.Updated) {
			problems = append(problems, "plugin.json: info.updated "+p.Info.Updated+" is not a date")
		}
	}
	return problems
}

func executableName(exe string, t target) string {
	name := exe + "_" + t.os + "_" + t.arch
	if t.os == "windows" {
		name += ".exe"
	}
	return name
}

// checkBinary reads the executable's header and compares its format and machine with the target.
func checkBinary(path string, t target) error {
	st, err := os.Stat(path)
	if err != nil {
		return errors.New("missing")
	}
	if t.os != "windows" && st.Mode()&0o111 == 0 {
		return errors.New("not executable")
	}
	switch t.os {
	case "linux":
		f, err := elf.Open(path)
		if err != nil {
			return fmt.Errorf("not an ELF binary: %w", err)
		}
		defer func() { _ = f.Close() }()
		want := map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64}[t.arch]
		if f.Machine != want || f.Type != elf.ET_EXEC && f.Type != elf.ET_DYN {
			return fmt.Errorf("ELF %v %v, want %v executable", f.Machine, f.Type, want)
		}
	case "darwin":
		f, err := macho.Open(path)
		if err != nil {
			return fmt.Errorf("not a Mach-O binary: %w", err)
		}
		defer func() { _ = f.Close() }()
		want := map[string]macho.Cpu{"amd64": macho.CpuAmd64, "arm64": macho.CpuArm64}[t.arch]
		if f.Cpu != want || f.Type != macho.TypeExec {
			return fmt.Errorf("Mach-O %v type %v, want %v executable", f.Cpu, f.Type, want)
		}
	case "windows":
		f, err := pe.Open(path)
		if err != nil {
			return fmt.Errorf("not a PE binary: %w", err)
		}
		defer func() { _ = f.Close() }()
		if f.Machine != pe.IMAGE_FILE_MACHINE_AMD64 || f.Characteristics&pe.IMAGE_FILE_EXECUTABLE_IMAGE == 0 {
			return fmt.Errorf("PE machine %#x characteristics %#x, want an amd64 executable image", f.Machine, f.Characteristics)
		}
	}
	return nil
}

// checkZip: the archive has a single top-level folder named by the plugin id with every file of dist,
// executables with their executable bit.
func checkZip(path, dist string, files []string) []string {
	raw, err := os.ReadFile(filepath.Join(dist, "plugin.json")) // #nosec G304 -- a path given by the caller
	if err != nil {
		return []string{err.Error()}
	}
	var p pluginJSON
	if err := json.Unmarshal(raw, &p); err != nil {
		return []string{err.Error()}
	}
	r, err := zip.OpenReader(path)
	if err != nil {
		return []string{path + ": " + err.Error()}
	}
	defer func() { _ = r.Close() }()
	var problems []string
	in := map[string]*zip.File{}
	for _, f := range r.File {
		top, _, _ := strings.Cut(f.Name, "/")
		if top != p.ID {
			problems = append(problems, fmt.Sprintf("%s: %s is outside the top-level folder %s/", path, f.Name, p.ID))
		}
		in[f.Name] = f
	}
	for _, name := range files {
		f, ok := in[p.ID+"/"+name]
		switch {
		case !ok:
			problems = append(problems, fmt.Sprintf("%s: missing %s/%s", path, p.ID, name))
		case strings.HasPrefix(name, p.Executable+"_") && !strings.HasSuffix(name, ".exe") && f.Mode().Perm() != 0o755:
			problems = append(problems, fmt.Sprintf("%s: %s/%s has permissions %04o, want exactly 0755", path, p.ID, name, f.Mode().Perm()))
		}
	}
	return problems
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
