//go:build mage

// Magefile of the Grafana plugin storepulse-kpi-datasource: the backend is built with the plugin SDK's
// standard build tooling (github.com/grafana/grafana-plugin-sdk-go/build), which also writes the Go build
// manifest (dist/go_plugin_build_manifest: the sha256 of every .go file of the plugin's source) that the plugin
// validator compares with the submitted source code.
//
// scripts/build-plugin.sh (make plugin) runs it with mage (github.com/magefile/mage) inside the plugin's
// source tree, which it stages as dist/<id>-<version>-source/: package.json, src/ and .config/ of datasource/
// beside this module's go.mod, go.sum, this file and the Go packages the backend is built from (the plugin
// layout the validator expects, with the repository's single Go module). It also runs in the repository
// itself, where the plugin's package.json and src/ are under datasource/.
package main

import (
	"os"
	"path/filepath"

	"github.com/magefile/mage/mg"

	"github.com/grafana/grafana-plugin-sdk-go/build"
)

// pluginDir is where package.json and src/plugin.json are: "." in the staged source tree, datasource/ in
// the repository.
func pluginDir() string {
	if _, err := os.Stat(filepath.Join("src", "plugin.json")); err == nil {
		return "."
	}
	return "datasource"
}

func init() {
	dir := pluginDir()
	_ = build.SetBeforeBuildCallback(func(cfg build.Config) (build.Config, error) {
		cfg.PluginJSONPath = filepath.Join(dir, "src")
		cfg.OutputBinaryPath = filepath.Join(dir, "dist")
		cfg.RootPackagePath = "./datasource/pkg"
		return cfg, nil
	})
}

// Plugin builds the backend for every platform the package ships (linux, darwin and windows amd64, linux
// and darwin arm64) and writes the Go build manifest.
func Plugin() {
	b := build.Build{}
	mg.Deps(b.Linux, b.LinuxARM64, b.Darwin, b.DarwinARM64, b.Windows)
	mg.Deps(b.GenerateManifestFile)
}

// Default is the target mage runs without arguments.
var Default = Plugin
