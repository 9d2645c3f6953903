// Command gen writes StorePulse's Grafana dashboards as JSON files
// (go generate ./dashboards).
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/storepulse/storepulse/dashboards"
)

func main() {
	dir := flag.String("dir", "dashboards", "directory to write <uid>.json into")
	flag.Parse()
	if err := run(*dir); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func run(dir string) error {
	files, err := dashboards.All()
	if err != nil {
		return err
	}
	for _, f := range files {
		if err := os.WriteFile(filepath.Join(dir, f.Name), f.JSON, 0o644); err != nil { //nolint:gosec // provisioned files are world-readable
			return fmt.Errorf("gen: %w", err)
		}
	}
	return nil
}
