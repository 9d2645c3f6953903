// Command storepulse-bench-query runs the query benchmark (package
// datasource/bench) and prints a Markdown report for docs/benchmarks.md.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"time"

	"github.com/storepulse/storepulse/datasource/bench"
	"github.com/storepulse/storepulse/internal/clock"
)

func main() {
	o := bench.Options{Out: os.Stdout, Log: os.Stderr}
	flag.StringVar(&o.PluginBinary, "plugin", "bin/storepulse-kpi-datasource", "the datasource's backend binary to measure (go build -o bin/storepulse-kpi-datasource ./datasource/pkg)")
	flag.StringVar(&o.Dashboard, "dashboard", "dashboards/storepulse-wall.json", "the provisioned dashboard whose requests are measured")
	flag.IntVar(&o.Stores, "stores", 50, "simulated stores")
	flag.IntVar(&o.Days, "days", 90, "simulated days of history, ending at the screen's now")
	flag.Uint64Var(&o.Seed, "seed", 1, "simulator seed")
	flag.IntVar(&o.Iterations, "iterations", 20, "measured screens per side")
	flag.IntVar(&o.Warmup, "warmup", 2, "unmeasured iterations first")
	flag.DurationVar(&o.TimeOfDay, "time-of-day", 17*time.Hour, "the screen's now as a local time of day ("+bench.TimeZone+"): the data ends at the latest such instant")
	flag.StringVar(&o.DataDir, "data", "", "keep the loaded InfluxDB in this directory and reuse it in later runs with the same -stores, -days and -seed (default: a temporary directory, loaded afresh)")
	flag.DurationVar(&o.CacheTTL, "cache-ttl", time.Minute, "the datasource's cacheTTL (the plugin's default is 10s; the cached screen needs the cold screen's reads still kept)")
	flag.BoolVar(&o.ShowQueries, "show-queries", false, "print every panel's plugin query models and raw Flux")
	flag.Parse()
	now, err := clock.FromEnv(os.Getenv)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(2)
	}
	o.Now = now
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := bench.Run(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}
