// Command storepulse-bench-ingest runs the ingest benchmark (package
// ingest/bench) and prints a Markdown report for docs/benchmarks.md.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"time"

	"github.com/storepulse/storepulse/ingest/bench"
)

func main() {
	o := bench.Options{Out: os.Stdout}
	flag.StringVar(&o.IngestBinary, "ingest", "bin/storepulse-ingest", "storepulse-ingest binary to measure")
	flag.IntVar(&o.Events, "events", 500_000, "simulated events per run")
	flag.IntVar(&o.BatchEvents, "batch", 1000, "events per /v1/events request")
	flag.IntVar(&o.Clients, "clients", 8, "concurrent clients")
	flag.IntVar(&o.Stores, "stores", 100, "simulated stores")
	flag.DurationVar(&o.Span, "span", 72*time.Hour, "simulated window the events are taken from, ending at -end (short: a live stream; long: a backfill)")
	end := flag.String("end", bench.DefaultEnd().Format(time.RFC3339), "end of the simulated window (RFC 3339): the same events whatever the day the benchmark runs; they are moved to end now")
	flag.Float64Var(&o.Scale, "scale", 1, "simulator volume multiplier")
	history := flag.Bool("history", false, "measure a history import instead: -stores stores' order exports over -days days through /v1/import/csv?history=true")
	h := bench.HistoryOptions{Out: os.Stdout}
	flag.IntVar(&h.Days, "days", 730, "history: days of exports, ending yesterday")
	flag.IntVar(&h.OrdersPerDay, "orders-per-day", 20, "history: average orders per store and day")
	flag.IntVar(&h.RowsPerRequest, "rows", 10000, "history: CSV rows per request (at most limits.max_items)")
	flag.Int64Var(&h.SegmentBytes, "segment-bytes", 16<<20, "history: the ingest's spool.segment_max_bytes")
	flag.Parse()
	var err error
	if o.End, err = time.Parse(time.RFC3339, *end); err != nil {
		fmt.Fprintln(os.Stderr, "bench: -end:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	run := func() error { return bench.Run(ctx, o) }
	if *history {
		h.IngestBinary, h.Stores, h.Clients = o.IngestBinary, o.Stores, o.Clients
		run = func() error { return bench.RunHistory(ctx, h) }
	}
	if err = run(); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}
