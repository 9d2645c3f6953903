// Package nab scores anomaly detections with the Numenta Anomaly Benchmark's
// rules (github.com/numenta/NAB, nab/sweeper.py and nab/runner.py at commit
// ea702d7), so that StorePulse's detector can be compared with NAB's
// published detectors on NAB's labelled series. It reads NAB's data and
// label files from a NAB checkout; it ships none of them.
package nab

import (
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"time"
)

// Profile is an application profile's cost matrix (config/profiles.json).
type Profile struct {
	TP, FP, FN float64
}

// Standard is NAB's standard profile: A_TP = 1, A_FP = −0.11, A_FN = −1.
func Standard() Profile { return Profile{TP: 1, FP: 0.11, FN: 1} }

// ProbationPercent is the share of each file (at most 15 % of 5,000 rows)
// whose rows are not scored: a detector's learning period.
const ProbationPercent = 0.15

// ScaledSigmoid is NAB's scaledSigmoid: 2·sigmoid(−5x) − 1 for a relative
// position x in or past a window (−1: the window's left edge, 0.98661; 0:
// its right edge, 0; 1: one window width past it, −0.98661), and −1 beyond 3.
func ScaledSigmoid(x float64) float64 {
	if x > 3 {
		return -1
	}
	return 2/(1+math.Exp(5*x)) - 1
}

// Window is a labelled anomaly window: the timestamps of its first and last
// rows (both inside).
type Window struct {
	Start, End time.Time
}

// Point is one row's sweep: the weighted score a detection on it earns
// (positive in a window, a penalty outside), its window's index (−1 outside
// every window) and whether it lies in the probationary period (not scored).
type Point struct {
	Score        float64
	Window       int
	Probationary bool
}

// ProbationaryLength is the number of leading rows not scored:
// min(floor(0.15·n), 0.15·5000).
func ProbationaryLength(n int) int {
	return int(math.Min(math.Floor(ProbationPercent*float64(n)), ProbationPercent*5000))
}

// Sweep is NAB's Sweeper.calcSweepScore: per row, the score of a detection
// there. In a window of width w (rows) whose right edge is row r, row i
// earns A_TP·σ(−(r − i + 1)/w)/σ(−1) (σ = ScaledSigmoid); outside, before
// any window, A_FP·(−1), and after a window A_FP·σ(|r − i|/(w − 1)). A
// window's limits must be timestamps of rows, as in NAB's label files.
func Sweep(times []time.Time, windows []Window, p Profile) ([]Point, error) {
	index := make(map[int64]int, len(times))
	for i, t := range times {
		index[t.UnixNano()] = i
	}
	maxTP := ScaledSigmoid(-1)
	prob := ProbationaryLength(len(times))
	out := make([]Point, len(times))
	next, cur := 0, -1
	var right, prevRight int
	var width, prevWidth float64
	hasPrev := false
	for i, t := range times {
		if cur < 0 && next < len(windows) && t.Equal(windows[next].Start) {
			r, ok := index[windows[next].End.UnixNano()]
			if !ok {
				return nil, fmt.Errorf("window %d ends at %s, which is not a row's timestamp", next, windows[next].End)
			}
			cur, right, width = next, r, float64(r-i+1)
			next++
		}
		var s float64
		switch {
		case cur >= 0:
			s = ScaledSigmoid(-float64(right-i+1)/width) * p.TP / maxTP
		case !hasPrev:
			s = -1 * p.FP
		default:
			s = ScaledSigmoid(math.Abs(float64(prevRight-i))/(prevWidth-1)) * p.FP
		}
		out[i] = Point{Score: s, Window: cur, Probationary: i < prob}
		if cur >= 0 && t.Equal(windows[cur].End) {
			prevRight, prevWidth, hasPrev = i, width, true
			cur = -1
		}
	}
	if next < len(windows) {
		return nil, fmt.Errorf("window %d starts at %s, which is not a row's timestamp", next, windows[next].Start)
	}
	return out, nil
}

// Result is the score of one file (or, added up, a corpus).
type Result struct {
	Raw float64 // Σ over windows of the best detection's score (−A_FN if none) + Σ of false detections' scores
	// Windows scored (with a row past the probationary period), of them
	// detected; detections outside windows (false positives) and inside.
	Windows, Detected, FalsePos, TruePos int
}

// Add adds another file's result.
func (r *Result) Add(o Result) {
	r.Raw += o.Raw
	r.Windows += o.Windows
	r.Detected += o.Detected
	r.FalsePos += o.FalsePos
	r.TruePos += o.TruePos
}

// Score is NAB's Sweeper.calcScoreByThreshold at one threshold for a
// detector whose rows with detected[i] (anomaly score ≥ threshold) are
// detections: probationary rows are left out; each window scored starts at
// −A_FN and takes the largest score of its detections; every detection
// outside windows adds its (negative) score.
func Score(points []Point, detected []bool, p Profile) Result {
	var r Result
	best := map[int]float64{}
	for i, pt := range points {
		if pt.Probationary {
			continue
		}
		if pt.Window >= 0 {
			if _, ok := best[pt.Window]; !ok {
				best[pt.Window] = -p.FN
			}
		}
		if !detected[i] {
			continue
		}
		if pt.Window < 0 {
			r.Raw += pt.Score
			r.FalsePos++
			continue
		}
		r.TruePos++
		best[pt.Window] = math.Max(best[pt.Window], pt.Score)
	}
	for _, s := range best {
		r.Raw += s
		r.Windows++
		if s > -p.FN {
			r.Detected++
		}
	}
	return r
}

// Normalized is NAB's normalised score (runner.normalize):
// 100·(raw − null)/(perfect − null), null being the raw score of a detector
// that never fires (−A_FN per window) and perfect A_TP per labelled window
// (every window of the label file, probationary or not).
func Normalized(raw, null, perfect float64) float64 {
	return 100 * (raw - null) / (perfect - null)
}

// parseTime reads the timestamp forms of NAB's data and label files (UTC).
func parseTime(s string) (time.Time, error) {
	for _, l := range []string{"2006-01-02 15:04:05", "2006-01-02 15:04:05.000000"} {
		if t, err := time.Parse(l, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("timestamp %q is not in NAB's form 2006-01-02 15:04:05", s)
}

// ReadWindows reads a label file (labels/combined_windows.json): per data
// file ("realKnownCause/nyc_taxi.csv"), its windows.
func ReadWindows(path string) (map[string][]Window, error) {
	b, err := os.ReadFile(path) // #nosec G304 G703 -- a NAB checkout named by the caller
	if err != nil {
		return nil, fmt.Errorf("NAB labels: %w", err)
	}
	var raw map[string][][2]string
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, fmt.Errorf("NAB labels %s: %w", path, err)
	}
	out := make(map[string][]Window, len(raw))
	for file, ws := range raw {
		out[file] = []Window{}
		for _, w := range ws {
			s, err := parseTime(w[0])
			if err != nil {
				return nil, fmt.Errorf("NAB labels %s, %s: %w", path, file, err)
			}
			e, err := parseTime(w[1])
			if err != nil {
				return nil, fmt.Errorf("NAB labels %s, %s: %w", path, file, err)
			}
			out[file] = append(out[file], Window{Start: s, End: e})
		}
	}
	return out, nil
}

// Series is one data file: timestamps (UTC) and values, or any numeric
// column of a results file.
type Series struct {
	Times  []time.Time
	Values []float64
}

// ReadSeries reads the column named column ("value" for a data file,
// "anomaly_score" or "S(t)_standard" for a results file) of a NAB CSV file.
func ReadSeries(path, column string) (Series, error) {
	f, err := os.Open(path) // #nosec G304 G703 -- a NAB checkout named by the caller
	if err != nil {
		return Series{}, fmt.Errorf("NAB data: %w", err)
	}
	defer f.Close()
	r := csv.NewReader(f)
	head, err := r.Read()
	if err != nil {
		return Series{}, fmt.Errorf("NAB data %s: header: %w", path, err)
	}
	col := -1
	for i, h := range head {
		if h == column {
			col = i
		}
	}
	if col < 0 || head[0] != "timestamp" {
		return Series{}, fmt.Errorf("NAB data %s: no timestamp and %s columns in %v", path, column, head)
	}
	var s Series
	for line := 2; ; line++ {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			return s, nil
		}
		if err != nil {
			return Series{}, fmt.Errorf("NAB data %s: %w", path, err)
		}
		t, err := parseTime(rec[0])
		if err != nil {
			return Series{}, fmt.Errorf("NAB data %s line %d: %w", path, line, err)
		}
		v, err := strconv.ParseFloat(rec[col], 64)
		if err != nil {
			return Series{}, fmt.Errorf("NAB data %s line %d: %s: %w", path, line, column, err)
		}
		s.Times = append(s.Times, t)
		s.Values = append(s.Values, v)
	}
}
