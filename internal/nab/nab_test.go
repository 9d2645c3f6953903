package nab

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestScaledSigmoid(t *testing.T) {
	// the values of sweeper.py's docstring
	for _, tt := range []struct{ x, want float64 }{
		{-1, 0.98661}, {-0.5, 0.84828}, {0, 0}, {1, -0.98661}, {3, 2/(1+math.Exp(15)) - 1}, {3.01, -1},
	} {
		require.InDelta(t, tt.want, ScaledSigmoid(tt.x), 1e-5, "x = %g", tt.x)
	}
}

func TestProbationaryLength(t *testing.T) {
	require.Equal(t, 150, ProbationaryLength(1000))
	require.Equal(t, 604, ProbationaryLength(4032)) // floor(0.15 · 4032)
	require.Equal(t, 750, ProbationaryLength(22695))
}

// minutes are n timestamps a minute apart from 2014-01-01 00:00 UTC.
func minutes(n int) []time.Time {
	out := make([]time.Time, n)
	for i := range out {
		out[i] = time.Date(2014, 1, 1, 0, i, 0, 0, time.UTC)
	}
	return out
}

func at(i int) time.Time { return time.Date(2014, 1, 1, 0, i, 0, 0, time.UTC) }

// TestSweepAndScore: 100 rows (probation: 15), one window of 10 rows (50..59).
func TestSweepAndScore(t *testing.T) {
	ts := minutes(100)
	p := Standard()
	pts, err := Sweep(ts, []Window{{at(50), at(59)}}, p)
	require.NoError(t, err)
	maxTP := ScaledSigmoid(-1)
	require.True(t, pts[14].Probationary)
	require.False(t, pts[15].Probationary)
	require.Equal(t, -1, pts[49].Window)
	require.Equal(t, 0, pts[50].Window)
	require.InDelta(t, -0.11, pts[20].Score, 1e-12, "before any window: A_FP·(−1)")
	require.InDelta(t, 1, pts[50].Score, 1e-12, "left edge: A_TP")
	// row 55: position −(59 − 55 + 1)/10 = −0.5
	require.InDelta(t, ScaledSigmoid(-0.5)/maxTP, pts[55].Score, 1e-12)
	require.InDelta(t, ScaledSigmoid(-0.1)/maxTP, pts[59].Score, 1e-12, "right edge: −1/10")
	// row 64: |59 − 64|/(10 − 1) past the window
	require.InDelta(t, 0.11*ScaledSigmoid(5.0/9), pts[64].Score, 1e-12)
	require.InDelta(t, -0.11, pts[99].Score, 1e-12, "more than 3 widths past: −A_FP")

	det := func(rows ...int) []bool {
		d := make([]bool, len(ts))
		for _, r := range rows {
			d[r] = true
		}
		return d
	}
	tests := []struct {
		name string
		rows []int
		want Result
	}{
		{"nothing detected: −A_FN", nil, Result{Raw: -1, Windows: 1}},
		{"early detection: A_TP", []int{50}, Result{Raw: 1, Windows: 1, Detected: 1, TruePos: 1}},
		{"only the best detection of a window counts", []int{50, 55, 59}, Result{Raw: 1, Windows: 1, Detected: 1, TruePos: 3}},
		{"a late detection earns less", []int{55}, Result{Raw: ScaledSigmoid(-0.5) / maxTP, Windows: 1, Detected: 1, TruePos: 1}},
		{"a false positive costs A_FP", []int{20}, Result{Raw: -1 - 0.11, Windows: 1, FalsePos: 1}},
		{"each false positive counts", []int{20, 21, 50}, Result{Raw: 1 - 0.22, Windows: 1, Detected: 1, FalsePos: 2, TruePos: 1}},
		{"detections in the probationary period are not scored", []int{3, 50}, Result{Raw: 1, Windows: 1, Detected: 1, TruePos: 1}},
		{"just after the window costs little", []int{61, 50}, Result{Raw: 1 + 0.11*ScaledSigmoid(2.0/9), Windows: 1, Detected: 1, FalsePos: 1, TruePos: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Score(pts, det(tt.rows...), p)
			require.InDelta(t, tt.want.Raw, got.Raw, 1e-12)
			got.Raw = tt.want.Raw
			require.Equal(t, tt.want, got)
		})
	}
}

func TestSweepWindowInProbation(t *testing.T) {
	ts := minutes(100)
	pts, err := Sweep(ts, []Window{{at(2), at(5)}, {at(60), at(69)}}, Standard())
	require.NoError(t, err)
	got := Score(pts, make([]bool, len(ts)), Standard())
	require.Equal(t, 1, got.Windows, "a window inside the probationary period is not scored")
	require.InDelta(t, -1.0, got.Raw, 0)
	_, err = Sweep(ts, []Window{{at(60), at(200)}}, Standard())
	require.ErrorContains(t, err, "not a row's timestamp")
}

func TestNormalized(t *testing.T) {
	require.InDelta(t, 0.0, Normalized(-10, -10, 10), 0)
	require.InDelta(t, 100.0, Normalized(10, -10, 10), 0)
	require.InDelta(t, 25.0, Normalized(-5, -10, 10), 0)
	require.InDelta(t, -50.0, Normalized(-20, -10, 10), 0)
}

// TestPublishedScores checks the scorer against NAB's published results:
// the anomaly scores of NAB's null, windowedGaussian and numenta detectors
// (results/<detector>/…), detected at their thresholds
// (config/thresholds.json), give the normalised scores of
// results/final_results.json. (The raw scores in thresholds.json are the
// optimiser's, not the final scoring's, and are not compared.) It needs a NAB checkout (git clone
// https://github.com/numenta/NAB) in STOREPULSE_NAB_DIR; NAB's files are not
// part of this repository.
func TestPublishedScores(t *testing.T) {
	dir := os.Getenv("STOREPULSE_NAB_DIR")
	if dir == "" {
		t.Skip("set STOREPULSE_NAB_DIR to a NAB checkout to check the scorer against NAB's published scores")
	}
	windows, err := ReadWindows(filepath.Join(dir, "labels", "combined_windows.json"))
	require.NoError(t, err)
	var thresholds map[string]map[string]struct{ Threshold float64 }
	readJSON(t, filepath.Join(dir, "config", "thresholds.json"), &thresholds)
	var final map[string]map[string]float64
	readJSON(t, filepath.Join(dir, "results", "final_results.json"), &final)
	files := make([]string, 0, len(windows))
	perfect := 0.0
	for f, ws := range windows {
		files = append(files, f)
		perfect += float64(len(ws))
	}
	slices.Sort(files)
	require.Len(t, files, 58)
	require.InDelta(t, 116.0, perfect, 0)
	p := Standard()
	var null Result
	for _, det := range []string{"null", "windowedGaussian", "numenta"} {
		var total Result
		for _, f := range files {
			cat, name := filepath.Split(f)
			path := filepath.Join(dir, "results", det, cat, det+"_"+name)
			scores, err := ReadSeries(path, "anomaly_score")
			require.NoError(t, err)
			pts, err := Sweep(scores.Times, windows[f], p)
			require.NoError(t, err)
			detected := make([]bool, len(pts))
			for i := range pts {
				detected[i] = scores.Values[i] >= thresholds[det]["standard"].Threshold
			}
			total.Add(Score(pts, detected, p))
		}
		if det == "null" {
			null = total
		}
		t.Logf("%s: raw %.4f, normalised %.4f (published %.4f)", det, total.Raw, Normalized(total.Raw, null.Raw, perfect*p.TP), final[det]["standard"])
		require.InDelta(t, final[det]["standard"], Normalized(total.Raw, null.Raw, perfect*p.TP), 1e-6, det)
	}
}

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	require.NoError(t, json.NewDecoder(strings.NewReader(string(b))).Decode(v))
}
