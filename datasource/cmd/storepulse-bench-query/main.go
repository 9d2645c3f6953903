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
	history := flag.Bool("history", false, "run the history benchmark instead: the same data stored as minutes (today's engine, Flux) and consolidated (the new path, InfluxQL), four screens side by side")
	shortDays := flag.Int("short-days", 90, "-history: the short history the wall screen is also measured at (0: none)")
	scale := flag.Float64("scale", 0.05, "-history: the simulator's traffic scale (1 is about 1,900 events per store and day)")
	index := flag.String("index", "", "-history: InfluxDB's series index, inmem (1.8's default) or tsi1")
	fineDays := flag.Int("fine-days", 30, "-history: the new path reads minutes from a database with only the last days of them, as an ingest with influx.fine_bucket and this many days of fine_retention leaves it (0: from today's engine's database of every minute)")
	end := flag.String("end", "2026-12-03T17:00:00+08:00", "-history: the screens' now and the data's end (RFC 3339)")
	flag.Parse()
	now, err := clock.FromEnv(os.Getenv)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(2)
	}
	o.Now = now
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if *history {
		e, err := time.Parse(time.RFC3339, *end)
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench: -end:", err)
			os.Exit(2)
		}
		h := bench.HistoryOptions{PluginBinary: o.PluginBinary, Dashboard: o.Dashboard, Stores: o.Stores, Days: o.Days, ShortDays: *shortDays,
			Scale: *scale, Seed: o.Seed, End: e, IndexVersion: *index, FineDays: *fineDays, Iterations: o.Iterations, DataDir: o.DataDir, Out: o.Out, Log: o.Log}
		if err := bench.RunHistory(ctx, h); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
		return
	}
	if err := bench.Run(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}
