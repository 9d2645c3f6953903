// Command gen writes docs/kpis.md from the KPI catalog.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/storepulse/storepulse/internal/kpi"
)

func main() {
	out := flag.String("out", "docs/kpis.md", "file to write")
	flag.Parse()
	if err := os.WriteFile(*out, kpi.Markdown(kpi.Default()), 0o644); err != nil { // #nosec G306 -- documentation
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
