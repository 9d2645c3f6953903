package bench

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/storepulse/storepulse/internal/kpi"
)

// The aims of the issue.
const (
	AimColdRatio     = 1.3
	AimCachedScreen  = 20 * time.Millisecond
	AimPluginRSSByte = 100 << 20
)

type reportData struct {
	opts                      Options
	manifest                  manifest
	idleWait                  time.Duration
	screen                    *Screen
	comparable                []int
	results                   Results
	diffs                     []Diff // per comparable panel
	startRSS, endRSS, peakRSS int64
	dataBytes                 int64
}

func ms(d time.Duration) string {
	switch {
	case d >= 100*time.Millisecond:
		return fmt.Sprintf("%.0f ms", float64(d)/1e6)
	case d >= 10*time.Millisecond:
		return fmt.Sprintf("%.1f ms", float64(d)/1e6)
	}
	return fmt.Sprintf("%.2f ms", float64(d)/1e6)
}

func mb(b int64) string { return fmt.Sprintf("%.0f MB", float64(b)/(1<<20)) }

func ratio(a, b time.Duration) string {
	if b == 0 {
		return "—"
	}
	return fmt.Sprintf("%.2f", float64(a)/float64(b))
}

func pct(x float64) string {
	if math.IsInf(x, 0) || math.IsNaN(x) {
		return "—"
	}
	return fmt.Sprintf("%+.1f %%", 100*x)
}

func totals(rs []ScreenRun) (total []time.Duration, cpuI, cpuP, cpuS time.Duration) {
	for _, r := range rs {
		total = append(total, r.Total)
		cpuI += r.CPUInflux
		cpuP += r.CPUPlugin
		cpuS += r.CPUSelf
	}
	if n := time.Duration(len(rs)); n > 0 {
		cpuI, cpuP, cpuS = cpuI/n, cpuP/n, cpuS/n
	}
	return total, cpuI, cpuP, cpuS
}

func panelTimes(rs []ScreenRun, i int) []time.Duration {
	var out []time.Duration
	for _, r := range rs {
		if d, ok := r.Panels[i]; ok {
			out = append(out, d)
		}
	}
	return out
}

// machine describes the host: CPU model, cores, memory.
func machine() string {
	model := "unknown CPU"
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				model = strings.TrimSpace(v)
				break
			}
		}
		_ = f.Close()
	}
	mem := ""
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		var kb int64
		if _, err := fmt.Sscanf(string(b), "MemTotal: %d kB", &kb); err == nil {
			mem = fmt.Sprintf(", %.0f GiB", float64(kb)/(1<<20))
		}
	}
	return fmt.Sprintf("%s, %d cores%s, %s", model, runtime.NumCPU(), mem, runtime.Version())
}

func report(w io.Writer, d reportData) {
	o, m, sc := d.opts, d.manifest, d.screen
	loaded := fmt.Sprintf("loaded in %.0f s", m.LoadSeconds)
	if m.Reused {
		loaded = fmt.Sprintf("reused from -data (loaded earlier in %.0f s)", m.LoadSeconds)
	}
	panels, annotations := 0, 0
	for _, p := range sc.Panels {
		if p.Kind == "annotation" {
			annotations++
		} else {
			panels++
		}
	}
	fmt.Fprintf(w, "\n%s. Machine: %s.\n", time.Now().Format("2006-01-02 15:04 MST"), machine())
	fmt.Fprintf(w, "Data: %d stores × %d days (seed %d), %d simulated events as %d rolled-up lines, %s; InfluxDB %s on disk (shards snapshotted and compacted %s after their last write; waited %.0f s for that to settle).\n",
		m.Stores, m.Days, m.Seed, m.Events, m.Lines, loaded, mb(d.dataBytes), compactAfter, d.idleWait.Seconds())
	fmt.Fprintf(w, "Screen: %q at %s (%s): %d panels and %d annotations, %d requests; %d with a raw Flux equivalent. Datasource cacheTTL %s. %d iterations after %d warm-up; the three sides of the comparable panels interleaved (odd iterations plugin first), then the whole screen.\n\n",
		sc.Title, sc.Now.In(sc.Loc).Format("2006-01-02 15:04"), sc.Loc, panels, annotations, len(sc.Panels), len(d.comparable), o.CacheTTL, o.Iterations, o.Warmup)

	raw, cpuIR, _, cpuSR := totals(d.results[SideRaw])
	cold, cpuIC, cpuPC, cpuSC := totals(d.results[SideCold])
	cached, cpuICa, cpuPCa, cpuSCa := totals(d.results[SideCached])
	fcold, cpuIF, cpuPF, cpuSF := totals(d.results[SideFullCold])
	fcached, cpuIFa, cpuPFa, cpuSFa := totals(d.results[SideFullCached])
	sr, scold, sca, sfc, sfca := Summarize(raw), Summarize(cold), Summarize(cached), Summarize(fcold), Summarize(fcached)
	fmt.Fprintf(w, "The %d panels with a raw equivalent, requested at once, until the last answers:\n\n", len(d.comparable))
	fmt.Fprintln(w, "| side | p50 | p95 | p50 ratio to raw | p95 ratio to raw | median of per-iteration ratios | InfluxDB CPU per screen | plugin CPU | client CPU |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---:|---:|---:|")
	fmt.Fprintf(w, "| %s | %s | %s | 1.00 | 1.00 | 1.00 | %s | — | %s |\n", SideRaw, ms(sr.P50), ms(sr.P95), ms(cpuIR), ms(cpuSR))
	fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %.2f | %s | %s | %s |\n", SideCold, ms(scold.P50), ms(scold.P95), ratio(scold.P50, sr.P50), ratio(scold.P95, sr.P95),
		MedianRatio(cold, raw), ms(cpuIC), ms(cpuPC), ms(cpuSC))
	fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %.3f | %s | %s | %s |\n", SideCached, ms(sca.P50), ms(sca.P95), ratio(sca.P50, sr.P50), ratio(sca.P95, sr.P95),
		MedianRatio(cached, raw), ms(cpuICa), ms(cpuPCa), ms(cpuSCa))

	fmt.Fprintf(w, "\nThe whole screen through the plugin (%d requests at once):\n\n", len(sc.Panels))
	fmt.Fprintln(w, "| side | p50 | p95 | InfluxDB CPU per screen | plugin CPU | client CPU |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|")
	fmt.Fprintf(w, "| cold | %s | %s | %s | %s | %s |\n", ms(sfc.P50), ms(sfc.P95), ms(cpuIF), ms(cpuPF), ms(cpuSF))
	fmt.Fprintf(w, "| cached | %s | %s | %s | %s | %s |\n", ms(sfca.P50), ms(sfca.P95), ms(cpuIFa), ms(cpuPFa), ms(cpuSFa))

	fmt.Fprintln(w)
	fmt.Fprintln(w, "Per request (each panel's latency while its screen loads; \"screen\" columns: within the whole screen):")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| panel | raw Flux shape | raw p50 | raw p95 | cold p50 | cold p95 | cold/raw p50 | cached p50 | cached p95 | screen cold p50 | screen cold p95 | screen cached p50 | screen cached p95 |")
	fmt.Fprintln(w, "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	for i, p := range sc.Panels {
		fc, fca := Summarize(panelTimes(d.results[SideFullCold], i)), Summarize(panelTimes(d.results[SideFullCached], i))
		if p.Raw == "" {
			fmt.Fprintf(w, "| %s | none | — | — | — | — | — | — | — | %s | %s | %s | %s |\n", p.Title, ms(fc.P50), ms(fc.P95), ms(fca.P50), ms(fca.P95))
			continue
		}
		r, c, ca := Summarize(panelTimes(d.results[SideRaw], i)), Summarize(panelTimes(d.results[SideCold], i)), Summarize(panelTimes(d.results[SideCached], i))
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", p.Title, p.Shape,
			ms(r.P50), ms(r.P95), ms(c.P50), ms(c.P95), ratio(c.P50, r.P50), ms(ca.P50), ms(ca.P95), ms(fc.P50), ms(fc.P95), ms(fca.P50), ms(fca.P95))
	}

	failures := false
	for side := range numSides {
		for i := range sc.Panels {
			n, first := 0, error(nil)
			for _, r := range d.results[side] {
				if err, ok := r.Errors[i]; ok {
					n++
					if first == nil {
						first = err
					}
				}
			}
			if n == 0 {
				continue
			}
			if !failures {
				fmt.Fprintln(w, "\nFailed requests (counted in the times above with their time to fail):")
				fmt.Fprintln(w)
				failures = true
			}
			fmt.Fprintf(w, "- %s, %s: %d of %d, e.g. %v\n", side, sc.Panels[i].Title, n, len(d.results[side]), first)
		}
	}

	fmt.Fprintln(w)
	fmt.Fprintln(w, "Same numbers? Today (the partial last day), the same day a week earlier, the change the big number shows, today's target, and the largest difference on the six whole days before today (Δ = raw / plugin − 1):")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| panel | today plugin | today raw | Δ | week earlier plugin | week earlier raw (same time) | change plugin | change raw | target plugin / raw | other days Δ |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	for n, i := range d.comparable {
		p, df := sc.Panels[i], d.diffs[n]
		if p.Shape == ShapeFreshness {
			fmt.Fprintf(w, "| %s | %d stores | %d stores | largest age difference %s | | | | | | |\n", p.Title, df.PluginStores, df.RawStores, df.AgeDiff.Round(time.Second))
			continue
		}
		t := df.Today
		pc, rc := df.Plugin.at(SeriesCurrent, t), df.Raw.at(SeriesCurrent, t)
		pp, rp := df.Plugin.at(SeriesPrevious, t), df.Raw.at(SeriesPrevious, t)
		target := ""
		if _, ok := df.Plugin[SeriesTarget]; ok {
			target = num(df.Plugin.at(SeriesTarget, t)) + " / " + num(df.Raw.at(SeriesTarget, t))
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", p.Title, num(pc), num(rc), pct(RelDiff(pc, rc)), num(pp), num(rp),
			pct(df.Plugin.at(SeriesChange, t)), pct(rc/rp-1), target, pct(df.OtherDays))
	}

	fmt.Fprintln(w)
	fmt.Fprintf(w, "Plugin process RSS: %s after start, %s at the end, peak (VmHWM) %s.\n\n", mb(d.startRSS), mb(d.endRSS), mb(d.peakRSS))
	fmt.Fprintln(w, "| aim | result |")
	fmt.Fprintln(w, "|---|---|")
	coldRatio := float64(scold.P50) / float64(sr.P50)
	fmt.Fprintf(w, "| cold within %.1f× of raw Flux | %s: the comparable panels' screen p50 %.2f×, p95 %s×, per-iteration median %.2f× |\n", AimColdRatio,
		verdict(coldRatio <= AimColdRatio), coldRatio, ratio(scold.P95, sr.P95), MedianRatio(cold, raw))
	fmt.Fprintf(w, "| cached under %s for the whole screen | %s: whole screen p50 %s, p95 %s (comparable panels p95 %s) |\n", ms(AimCachedScreen),
		verdict(sfca.P95 < AimCachedScreen), ms(sfca.P50), ms(sfca.P95), ms(sca.P95))
	fmt.Fprintf(w, "| plugin RSS under %s | %s: peak %s |\n", mb(AimPluginRSSByte), verdict(d.peakRSS < AimPluginRSSByte), mb(d.peakRSS))
}

func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "**missed**"
}

func kindOf(k kpi.KPI) string {
	if len(k.DistinctKinds()) > 0 {
		if k.Kind == kpi.KindRatio {
			return "ratio with distinct"
		}
		return "distinct"
	}
	return string(k.Kind)
}

func num(x float64) string {
	switch a := math.Abs(x); {
	case math.IsNaN(x):
		return "—"
	case a == 0:
		return "0"
	case a < 10:
		return fmt.Sprintf("%.4f", x)
	case a < 1000:
		return fmt.Sprintf("%.1f", x)
	}
	return fmt.Sprintf("%.0f", x)
}
