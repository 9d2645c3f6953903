// Command storepulse-kpi-datasource is the backend of the StorePulse KPI
// datasource plugin for Grafana. It only wires: see package plugin.
package main

import (
	"os"

	"github.com/grafana/grafana-plugin-sdk-go/backend/datasource"
	"github.com/grafana/grafana-plugin-sdk-go/backend/log"

	"github.com/storepulse/storepulse/datasource/pkg/plugin"
	"github.com/storepulse/storepulse/internal/clock"
)

func main() {
	logger := log.DefaultLogger
	now, err := clock.FromEnv(os.Getenv)
	if err != nil {
		logger.Error("plugin stopped", "error", err.Error())
		os.Exit(1)
	}
	mem, err := plugin.ProcessMemoryFromEnv(os.Getenv)
	if err != nil {
		logger.Error("plugin stopped", "error", err.Error())
		os.Exit(1)
	}
	if err := datasource.Manage(plugin.PluginID, plugin.NewFactory(logger, now, mem), datasource.ManageOpts{}); err != nil {
		logger.Error("plugin stopped", "error", err.Error())
		os.Exit(1)
	}
}
