package parse

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/storepulse/storepulse/ingest/event"
	"github.com/storepulse/storepulse/internal/influxtest"
	"github.com/storepulse/storepulse/internal/lpcorpus"
	"github.com/storepulse/storepulse/internal/testclock"
)

var updateConformance = flag.Bool("update-conformance", false, "rewrite testdata/lpconformance/differences.json")

const conformanceDir = "testdata/lpconformance"

type conformanceCase = lpcorpus.Case

// conformanceReport is the committed outcome: totals by outcome and every
// case on which StorePulse and InfluxDB 1.8 differ, with StorePulse's reason.
type conformanceReport struct {
	Cases       int               `json:"cases"`
	Outcomes    map[string]int    `json:"outcomes"`
	Differences map[string]string `json:"differences"` // key -> outcome: reason
}

// TestLineProtocolConformance sends every public line-protocol case
// (testdata/lpconformance, see its README) to StorePulse's parser and to a
// real InfluxDB 1.8, one case per request, and compares the verdict and, for
// what both accept, the stored measurement, tags, field values and explicit
// timestamps. The time window is opened to ±250 years so that it compares
// syntax, not StorePulse's late-data horizon. The outcome must match
// differences.json (regenerate with -update-conformance after a deliberate
// change, and update docs/line-protocol.md).
func TestLineProtocolConformance(t *testing.T) {
	cases := loadConformanceCases(t)
	ifx := &conformanceInflux{t: t, client: &http.Client{Timeout: 30 * time.Second}}
	ifx.start()
	defer func() { ifx.db.Stop() }()

	t0 := testclock.Now()
	window := 250 * 365 * 24 * time.Hour
	lim := Limits{Now: func() time.Time { return t0 }, LateHorizon: window, FutureTolerance: window}
	rep := conformanceReport{Cases: len(cases), Outcomes: map[string]int{}, Differences: map[string]string{}}
	for _, c := range cases {
		body := c.Text
		b, rejected, err := LineProtocolPartial(bytes.NewReader(body), c.Precision, lim)
		if err != nil {
			// Whole-request refusals cannot happen for one small case.
			require.NoError(t, err, c.Key)
		}
		status, stored := ifx.write(body, c.Precision)
		ours := canonicalPoints(b.Points, t0.UnixNano())
		outcome, reason := "", ""
		switch {
		case status == influxCrashed:
			outcome = "InfluxDB crashes"
			if rejected == nil {
				outcome = "InfluxDB crashes, StorePulse accepts"
			}
		case rejected == nil && status == http.StatusNoContent:
			outcome = "both accept"
		case len(b.Points) == 0 && len(stored) == 0 && rejected != nil && status == http.StatusBadRequest:
			outcome = "both refuse"
		case rejected != nil && status == http.StatusBadRequest:
			outcome = "both refuse some lines"
		case rejected != nil:
			outcome, reason = "StorePulse refuses, InfluxDB accepts", rejected.Items[0].Reason
		default:
			outcome = "StorePulse accepts, InfluxDB refuses"
		}
		if strings.HasPrefix(outcome, "both") && !sameStored(ours, stored) {
			// InfluxDB's times of points without a timestamp are its clock's:
			// left out so that the report is reproducible.
			theirs := make([]string, 0, len(stored))
			for _, st := range stored {
				theirs = append(theirs, st.series)
			}
			sort.Strings(theirs)
			outcome, reason = "stored values differ", fmt.Sprintf("StorePulse %q, InfluxDB %q", ours, theirs)
		}
		rep.Outcomes[outcome]++
		if !strings.HasPrefix(outcome, "both") && outcome != "InfluxDB crashes" {
			rep.Differences[c.Key] = outcome + ": " + reason
		}
	}
	path := filepath.Join(conformanceDir, "differences.json")
	if *updateConformance {
		out, err := json.MarshalIndent(rep, "", "  ")
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(path, append(out, '\n'), 0o600))
	}
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	var want conformanceReport
	require.NoError(t, json.Unmarshal(raw, &want))
	t.Logf("%d cases: %v", rep.Cases, rep.Outcomes)
	require.Equal(t, want.Outcomes, rep.Outcomes)
	require.Equal(t, want.Differences, rep.Differences)
}

func loadConformanceCases(t *testing.T) []conformanceCase {
	path, err := lpcorpus.Path(context.Background(), "")
	require.NoError(t, err, "the public corpus comes from the Go module proxy (go.sum pins it)")
	cases, err := lpcorpus.Load(path)
	require.NoError(t, err)
	require.Greater(t, len(cases), 6000)
	return cases
}

// stored is one stored point: measurement, tags and fields (and its time
// when the case gave one) in a canonical string.
type stored struct {
	series string
	time   int64
}

// canonicalPoints renders points as InfluxDB stores them: points of one
// series and time are merged (later fields win).
func canonicalPoints(points []event.Point, defaultTime int64) []string {
	type key struct {
		series string
		time   int64
	}
	merged := map[key]map[string]string{}
	var order []key
	for _, p := range points {
		tags := make([]string, 0, len(p.Tags))
		for _, tg := range p.Tags {
			tags = append(tags, tg.Key+"="+tg.Value)
		}
		sort.Strings(tags)
		k := key{p.Measurement + "|" + strings.Join(tags, ","), p.Time}
		if merged[k] == nil {
			merged[k] = map[string]string{}
			order = append(order, k)
		}
		for _, f := range p.Fields {
			var v any
			switch f.Kind {
			case event.FieldInt:
				v = f.Int
			case event.FieldUint:
				v = f.Uint
			case event.FieldBool:
				v = f.Bool
			case event.FieldString:
				v = f.Str
			default:
				v = f.Float
			}
			j, _ := json.Marshal(v)
			merged[k][f.Key] = string(j)
		}
	}
	out := make([]string, 0, len(order))
	for _, k := range order {
		s := k.series + "|" + joinFields(merged[k])
		if k.time != defaultTime {
			s += fmt.Sprintf("|%d", k.time)
		}
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

func joinFields(m map[string]string) string {
	fs := make([]string, 0, len(m))
	for k, v := range m {
		fs = append(fs, k+"="+v)
	}
	sort.Strings(fs)
	return strings.Join(fs, ",")
}

// sameStored compares StorePulse's points with InfluxDB's rows; a time is
// compared only where the case gave one.
func sameStored(ours []string, theirs []stored) bool {
	if len(ours) != len(theirs) {
		return false
	}
	left := map[string]int{}
	for _, s := range theirs {
		left[s.series]++
		left[fmt.Sprintf("%s|%d", s.series, s.time)]++
	}
	for _, s := range ours {
		if left[s] == 0 {
			return false
		}
		left[s]--
	}
	return true
}

// influxCrashed is the status of a case that made InfluxDB 1.8 exit.
const influxCrashed = -1

type conformanceInflux struct {
	t      *testing.T
	db     *influxtest.Server
	url    string
	client *http.Client
	dirty  bool
}

func (c *conformanceInflux) do(method, path string, form url.Values, body []byte) (int, []byte) {
	c.t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	u := c.url + path
	if form != nil {
		u += "?" + form.Encode()
	}
	req, err := http.NewRequest(method, u, rd)
	require.NoError(c.t, err)
	resp, err := c.client.Do(req)
	if err != nil && strings.Contains(err.Error(), "malformed MIME header line: \"X-Influxdb-Error:") {
		// InfluxDB echoes the refused line, control characters included,
		// in a header that Go's client refuses: it is a 400.
		return http.StatusBadRequest, []byte("partial write?")
	}
	if err != nil && path == "/write" && !c.db.Healthy() {
		c.t.Logf("InfluxDB 1.8 crashed on %q (%v); restarting it", body, err)
		c.start()
		return influxCrashed, nil
	}
	require.NoError(c.t, err, "%q", body)
	defer func() { _ = resp.Body.Close() }()
	out, err := io.ReadAll(resp.Body)
	require.NoError(c.t, err)
	return resp.StatusCode, out
}

// start starts a fresh InfluxDB (again after a case crashed it).
func (c *conformanceInflux) start() {
	if c.db != nil {
		c.db.Stop()
	}
	db, err := influxtest.StartDir(c.t.TempDir())
	require.NoError(c.t, err)
	c.db, c.url = db, db.URL
	c.reset()
}

func (c *conformanceInflux) reset() {
	for _, q := range []string{"DROP DATABASE conf", "CREATE DATABASE conf"} {
		status, out := c.do("POST", "/query", url.Values{"q": {q}}, nil)
		require.Equal(c.t, http.StatusOK, status, string(out))
	}
	c.dirty = false
}

var influxPrecision = map[string]string{"ns": "n", "us": "u", "ms": "ms", "s": "s"}

// write sends one case and returns the status and what InfluxDB stored.
func (c *conformanceInflux) write(body []byte, precision string) (int, []stored) {
	if c.dirty {
		c.reset()
	}
	status, out := c.do("POST", "/write", url.Values{"db": {"conf"}, "precision": {influxPrecision[precision]}}, body)
	if status == influxCrashed {
		return status, nil
	}
	if status != http.StatusNoContent && !bytes.Contains(out, []byte("partial write")) {
		return status, nil
	}
	c.dirty = true
	qs, res := c.do("GET", "/query", url.Values{"db": {"conf"}, "epoch": {"ns"}, "q": {"SELECT * FROM /.*/ GROUP BY *"}}, nil)
	require.Equal(c.t, http.StatusOK, qs, string(res))
	var r struct {
		Results []struct {
			Series []struct {
				Name    string            `json:"name"`
				Tags    map[string]string `json:"tags"`
				Columns []string          `json:"columns"`
				Values  [][]json.RawMessage
			} `json:"series"`
		} `json:"results"`
	}
	require.NoError(c.t, json.Unmarshal(res, &r), string(res))
	var got []stored
	for _, res := range r.Results {
		for _, s := range res.Series {
			tags := make([]string, 0, len(s.Tags))
			for k, v := range s.Tags {
				if v != "" {
					tags = append(tags, k+"="+v)
				}
			}
			sort.Strings(tags)
			for _, row := range s.Values {
				fields := map[string]string{}
				var ts int64
				for i, col := range s.Columns {
					if col == "time" {
						_ = json.Unmarshal(row[i], &ts)
						continue
					}
					if string(row[i]) != "null" {
						fields[col] = string(row[i])
					}
				}
				got = append(got, stored{series: s.Name + "|" + strings.Join(tags, ",") + "|" + joinFields(fields), time: ts})
			}
		}
	}
	return status, got
}
