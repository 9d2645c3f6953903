package engine

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/storepulse/storepulse/datasource/pkg/models"
	"github.com/storepulse/storepulse/internal/holidays"
	"github.com/storepulse/storepulse/internal/kpi"
	"github.com/storepulse/storepulse/internal/nab"
	"github.com/storepulse/storepulse/internal/schema"
)

// nabCategories are the NAB series evaluated: real series with known causes
// and artificial series with anomalies (both MIT-licensed, NAB commit ea702d7).
func nabCategories() []string { return []string{"realKnownCause", "artificialWithAnomaly"} }

// nabBaselineHours is the rolling z-score baseline's window: two weeks.
const nabBaselineHours = 14 * 24

// nabDetectors are the detectors compared: StorePulse, and the rolling
// z-score from the first record (the window growing to two weeks, as NAB's
// windowedGaussian grows its window) and only once it has its two weeks.
func nabDetectors() []string {
	return []string{"StorePulse (k = 3, 6 weeks, US holidays)", "StorePulse without holidays", "rolling z-score beyond ±3, 2 weeks (growing from the first record)", "rolling z-score beyond ±3, 2 weeks (from the third week)"}
}

// nabDetector is one detector's outcome on one file.
type nabDetector struct {
	result           nab.Result
	regions, truePos int // flagged regions (runs of flagged hours) and those overlapping a window
}

// TestAnomalyNAB runs the detector on NAB's labelled series, fed in as a
// count KPI of hourly sums, and scores it with NAB's standard profile
// against a rolling z-score baseline under the same protocol. NAB's data is
// not in this repository (it is fetched from github.com/numenta/NAB, whose
// files we do not redistribute): point STOREPULSE_NAB_DIR at a checkout. With
// STOREPULSE_ANOMALY_EVAL=1 too, the NAB section of docs/anomaly.md is
// rewritten.
func TestAnomalyNAB(t *testing.T) {
	dir := os.Getenv("STOREPULSE_NAB_DIR")
	if dir == "" {
		t.Skip("set STOREPULSE_NAB_DIR to a NAB checkout (git clone https://github.com/numenta/NAB) to score the detector on NAB")
	}
	windows, err := nab.ReadWindows(filepath.Join(dir, "labels", "combined_windows.json"))
	require.NoError(t, err)
	var doc strings.Builder
	dets := nabDetectors()
	doc.WriteString("| category | file | hours spanned | windows |")
	for _, d := range []string{"StorePulse", "StorePulse without holidays", "z-score (growing)", "z-score (2 weeks)"} {
		fmt.Fprintf(&doc, " %s: NAB raw, windows found, regions (true) |", d)
	}
	doc.WriteString("\n|---|---|---|---|---|---|---|---|\n")
	type total struct {
		det            []nabDetector
		null, perfect  float64
		weeks          float64
		files, windows int
	}
	totals := map[string]*total{}
	for _, cat := range append(nabCategories(), "all") {
		totals[cat] = &total{det: make([]nabDetector, len(dets))}
	}
	for _, cat := range nabCategories() {
		names, err := filepath.Glob(filepath.Join(dir, "data", cat, "*.csv"))
		require.NoError(t, err)
		require.NotEmpty(t, names, cat)
		for _, path := range names {
			file := cat + "/" + filepath.Base(path)
			ws, ok := windows[file]
			require.True(t, ok, file)
			s, err := nab.ReadSeries(path, "value")
			require.NoError(t, err)
			res, hours := nabFile(t, s, ws)
			for _, c := range []string{cat, "all"} {
				tt := totals[c]
				for i := range res {
					tt.det[i].add(res[i])
				}
				tt.null -= float64(res[0].result.Windows) // a detector that never fires: −A_FN per scored window
				tt.perfect += float64(len(ws))
				tt.weeks += float64(hours) / (7 * 24)
				tt.files++
				tt.windows += len(ws)
			}
			fmt.Fprintf(&doc, "| %s | %s | %d | %d |", cat, filepath.Base(path), hours, len(ws))
			for _, d := range res {
				fmt.Fprintf(&doc, " %.2f, %d, %d (%d) |", d.result.Raw, d.result.Detected, d.regions, d.truePos)
			}
			doc.WriteString("\n")
		}
	}
	doc.WriteString("\n| series | detector | NAB score (standard) | precision (regions) | recall (windows) | false alarms per week |\n|---|---|---|---|---|---|\n")
	score := func(cat string, i int) float64 {
		tt := totals[cat]
		return nab.Normalized(tt.det[i].result.Raw, tt.null, tt.perfect)
	}
	for _, cat := range append(nabCategories(), "all") {
		tt := totals[cat]
		for i, d := range tt.det {
			fmt.Fprintf(&doc, "| %s (%d files, %d windows) | %s | %.1f | %s | %s | %.2f |\n", cat, tt.files, tt.windows, dets[i],
				score(cat, i), frac(d.truePos, d.regions), frac(d.result.Detected, d.result.Windows), float64(d.regions-d.truePos)/tt.weeks)
		}
	}
	ahead := "**ahead of it over all files**"
	if score("all", 0) <= score("all", 2) {
		ahead = "**not ahead of it over all files**"
	}
	fmt.Fprintf(&doc, "\n**Reading.** On the real series StorePulse scores %.1f (%.1f without holidays) against %.1f and %.1f for the z-scores. "+
		"Over all %d files it scores %.1f with the holiday market and %.1f without, against %.1f for the z-score growing from the first "+
		"record — %s — and %.1f for the z-score that waits for its two weeks. On the 14-day artificial series StorePulse is "+
		"in its daily phase (a new series' second week: only moves past a factor of 3 are flagged) and scores %.1f there, against %.1f for the "+
		"growing z-score, which fires from the series' third hour: a new store's ordinary weekend must not page on-call, and a daily "+
		"pattern alone cannot tell it from a moderate anomaly.\n",
		score("realKnownCause", 0), score("realKnownCause", 1), score("realKnownCause", 2), score("realKnownCause", 3),
		totals["all"].files, score("all", 0), score("all", 1), score("all", 2), ahead, score("all", 3),
		score("artificialWithAnomaly", 0), score("artificialWithAnomaly", 2))
	t.Log("\n" + doc.String())
	// StorePulse is ahead of both z-scores on the real series and over all
	// files (issue 13's acceptance), counted from the first record.
	for _, z := range []int{2, 3} {
		require.Greater(t, score("realKnownCause", 0), score("realKnownCause", z), "StorePulse scores above %s", dets[z])
		require.Greater(t, score("all", 0), score("all", z), "StorePulse scores above %s over all files", dets[z])
	}
	if os.Getenv("STOREPULSE_ANOMALY_EVAL") != "" {
		writeNABSection(t, doc.String())
	}
}

func (d *nabDetector) add(o nabDetector) {
	d.result.Add(o.result)
	d.regions += o.regions
	d.truePos += o.truePos
}

// nabFile runs both detectors on one series. The values become one count
// KPI (orders of one store) summed per hour; the detector runs as an alert
// rule evaluated every hour (the last 3 hours, the last complete hour's
// flag), which equals one panel query over the whole series (range
// independence, checked here on every 50th hour). A flagged hour is a
// detection at the last record of that hour, when its sum is complete.
func nabFile(t *testing.T, s nab.Series, ws []nab.Window) (out []nabDetector, hours int) {
	start := s.Times[0].Truncate(time.Hour)
	end := s.Times[len(s.Times)-1].Truncate(time.Hour).Add(time.Hour)
	hours = int(end.Sub(start) / time.Hour)
	sums := make([]float64, hours)
	last := make([]int, hours) // the last record of each hour (−1: none)
	for i := range last {
		last[i] = -1
	}
	for i, ts := range s.Times {
		h := int(ts.Sub(start) / time.Hour)
		sums[h] += s.Values[i]
		last[h] = i
	}
	src := &memSource{}
	for h, v := range sums {
		if last[h] >= 0 {
			src.points = append(src.points, memPoint{t: start.Add(time.Duration(h) * time.Hour), meas: schema.MeasOrders, field: schema.FieldOrders,
				tags: map[string]string{"store": "nab"}, v: v})
		}
	}
	hs, err := holidays.Shipped()
	require.NoError(t, err)
	e := &Engine{Catalog: kpi.Default(), Source: src, Location: time.UTC, SeriesLimit: 100, Now: func() time.Time { return end },
		Holidays: hs, HolidayMarkets: []string{"us"}}
	q := models.Query{KPI: "orders", Interval: "1h", Filters: map[string][]string{}, Anomaly: models.DefaultAnomaly()}
	res, err := e.Run(context.Background(), Request{Query: q, From: start, To: end})
	require.NoError(t, err)
	require.Len(t, res.Times, hours)
	spFlags := nabFlags(res)
	e.HolidayMarkets = nil
	plain, err := e.Run(context.Background(), Request{Query: q, From: start, To: end})
	require.NoError(t, err)
	e.HolidayMarkets = []string{"us"}
	for h := 3; h < hours; h += 50 { // the alert rule at the end of hour h
		at := start.Add(time.Duration(h+1) * time.Hour)
		ea := *e
		ea.Now = func() time.Time { return at }
		r, err := ea.Run(context.Background(), Request{Query: q, From: at.Add(-3 * time.Hour), To: at})
		require.NoError(t, err)
		f := r.Series[5].Values[len(r.Times)-1]
		require.Equal(t, spFlags[h], f != nil && *f == 1, "hour %d: the alert rule and the panel agree", h)
	}
	pts, err := nab.Sweep(s.Times, ws, nab.Standard())
	require.NoError(t, err)
	out = append(out, nabScore(pts, ws, start, spFlags, last), nabScore(pts, ws, start, nabFlags(plain), last))
	for _, need := range []int{2, nabBaselineHours} {
		out = append(out, nabScore(pts, ws, start, zScoreFlags(sums, need), last))
	}
	return out, hours
}

// nabFlags are the flags of a single-series anomaly result.
func nabFlags(res *Result) []bool {
	out := make([]bool, len(res.Times))
	for h, f := range res.Series[5].Values {
		out[h] = f != nil && *f == 1
	}
	return out
}

// zScoreFlags is the baseline: hour h is flagged when its sum lies more than
// 3 standard deviations from the mean of the previous two weeks' sums (of as
// many as there are, at least need).
func zScoreFlags(sums []float64, need int) []bool {
	zFlags := make([]bool, len(sums))
	for h := range sums {
		lo := max(0, h-nabBaselineHours)
		if h-lo < need {
			continue
		}
		var m, sq float64
		for _, v := range sums[lo:h] {
			m += v
		}
		m /= float64(h - lo)
		for _, v := range sums[lo:h] {
			sq += (v - m) * (v - m)
		}
		sd := math.Sqrt(sq / float64(h-lo))
		zFlags[h] = sd > 0 && math.Abs(sums[h]-m) > 3*sd
	}
	return zFlags
}

// nabScore scores hourly flags: NAB's score of their detections, and the
// flagged regions (runs of flagged hours) and how many overlap a window.
func nabScore(pts []nab.Point, ws []nab.Window, start time.Time, flags []bool, last []int) nabDetector {
	detected := make([]bool, len(pts))
	var d nabDetector
	for h := 0; h < len(flags); h++ {
		if !flags[h] {
			continue
		}
		if last[h] >= 0 {
			detected[last[h]] = true
		}
		if h > 0 && flags[h-1] {
			continue
		}
		e := h
		for e+1 < len(flags) && flags[e+1] {
			e++
		}
		rs, re := start.Add(time.Duration(h)*time.Hour), start.Add(time.Duration(e+1)*time.Hour)
		d.regions++
		if slices.ContainsFunc(ws, func(w nab.Window) bool { return w.Start.Before(re) && !w.End.Before(rs) }) {
			d.truePos++
		}
	}
	d.result = nab.Score(pts, detected, nab.Standard())
	return d
}

// The NAB section of docs/anomaly.md lies between these markers; the
// simulator evaluation keeps it when it rewrites the file.
const (
	nabBegin = "<!-- nab:begin -->"
	nabEnd   = "<!-- nab:end -->"
)

func writeNABSection(t *testing.T, tables string) {
	const path = "../../../docs/anomaly.md"
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	doc := string(b)
	i, j := strings.Index(doc, nabBegin), strings.Index(doc, nabEnd)
	require.True(t, i >= 0 && j > i, "docs/anomaly.md has the NAB markers")
	doc = doc[:i+len(nabBegin)] + "\n" + nabIntro + tables + "\n" + doc[j:]
	require.NoError(t, os.WriteFile(path, []byte(doc), 0o600))
}

// nabSection is the NAB section kept by the simulator evaluation.
func nabSection() string {
	b, err := os.ReadFile("../../../docs/anomaly.md")
	if err != nil {
		return nabBegin + "\n" + nabEnd + "\n"
	}
	doc := string(b)
	i, j := strings.Index(doc, nabBegin), strings.Index(doc, nabEnd)
	if i < 0 || j < i {
		return nabBegin + "\n" + nabEnd + "\n"
	}
	return doc[i:j+len(nabEnd)] + "\n"
}

const nabIntro = `## Evaluation on NAB (public labelled series)

Generated by ` + "`STOREPULSE_NAB_DIR=/path/to/NAB STOREPULSE_ANOMALY_EVAL=1 go test ./datasource/pkg/engine -run TestAnomalyNAB -count=1 -v`" + `
(datasource/pkg/engine/anomaly_nab_test.go). **The data is not in this repository**: NAB's series and labels
are third-party data, which this repository does not redistribute; clone https://github.com/numenta/NAB
(MIT licence; measured at commit ea702d7) and point ` + "`STOREPULSE_NAB_DIR`" + ` at it. Without it the test is
skipped. The scorer (internal/nab) is NAB's standard profile (A_TP = 1, A_FP = −0.11, A_FN = −1, scaled
sigmoid, NAB's label windows and 15 % probation, normalised between a detector that never fires and a
perfect one); with ` + "`STOREPULSE_NAB_DIR`" + ` set, ` + "`go test ./internal/nab -run TestPublishedScores`" + ` checks it against
NAB's published results: it reproduces the normalised scores of NAB's windowedGaussian (39.65) and numenta
HTM (70.10) detectors from their published anomaly scores.

**Protocol.** Each series of ` + "`realKnownCause`" + ` and ` + "`artificialWithAnomaly`" + ` is fed in as a count KPI (the orders of
one store), summed per hour (UTC). StorePulse runs with its defaults (k = 3, 6 weeks, interval ` + "`1h`" + `) and the ` + "`us`" + ` holiday
market (NAB's series come from US systems and New York; also shown without holidays) as an alert rule
evaluated every hour over the last 3 hours, firing on the last complete hour's flag — identical to one panel
query over the whole series, since a bucket's flag does not depend on the range (the test checks this on every 50th
hour). The baseline is a rolling z-score of the same hourly sums: flagged when more than 3 standard deviations
from the mean of the previous two weeks, either from the first record on (the window growing to two weeks, as
NAB's windowedGaussian grows its window) or only once two weeks of history exist. A flagged hour is a detection at that hour's last record, when its sum is
complete; everything is counted from the first record (NAB's own probation applies to the NAB score only).
Precision = flagged regions (runs of flagged hours) overlapping a label window / regions; recall = windows
detected / windows scored; false alarms per week = regions outside windows per week of data.
StorePulse learns a new series for 3 weeks (docs/query.md#anomaly): nothing in its first week (after its
first day), then until its third history week a band from the daily pattern beyond which only moves past a
factor of 3 count. The artificial series are 14 days long, so it scores them in that daily phase alone, as
the 14- and 18-day ` + "`ec2_request_latency_system_failure`" + ` and ` + "`rogue_agent_*`" + ` series and the first weeks of the others;
a z-score that waits for its two weeks never fires on the 14-day series. NAB labels Thanksgiving, Christmas and New Year in ` + "`nyc_taxi`" + ` as anomalies, which
the holiday market treats as planned: fewer of its regions count as true, and fewer false alarms remain
(the NAB score rises from the run without holidays).

Per file (NAB raw score, windows found, flagged regions and how many overlap a window):



`

func frac(a, b int) string {
	if b == 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.2f (%d/%d)", float64(a)/float64(b), a, b)
}
