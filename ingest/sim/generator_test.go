package sim

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

func shanghai(t *testing.T) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation("Asia/Shanghai")
	require.NoError(t, err)
	return loc
}

func date(loc *time.Location, y int, m time.Month, d int) time.Time {
	return time.Date(y, m, d, 0, 0, 0, 0, loc)
}

func generate(t *testing.T, cfg Config) (*Generator, []Event) {
	t.Helper()
	g, err := New(cfg)
	require.NoError(t, err)
	var all []Event
	for {
		evs, ok := g.Next()
		if !ok {
			break
		}
		all = append(all, evs...)
	}
	return g, all
}

// output is everything file mode writes for a config, concatenated.
func output(t *testing.T, cfg Config) []byte {
	t.Helper()
	g, err := New(cfg)
	require.NoError(t, err)
	var buf bytes.Buffer
	_, err = g.WriteAll(context.Background(), &buf, nil)
	require.NoError(t, err)
	for _, v := range []any{g.Campaigns(), g.Targets(), g.Incidents()} {
		b, err := json.Marshal(v)
		require.NoError(t, err)
		buf.Write(b)
	}
	return buf.Bytes()
}

func goldenConfig(t *testing.T, seed uint64) Config {
	return Config{Seed: seed, NumStores: 3, Start: date(shanghai(t), 2026, 11, 8), Days: 7, Incidents: IncidentKinds()}
}

func TestGoldenOutput(t *testing.T) {
	out := output(t, goldenConfig(t, 42))
	sum := sha256.Sum256(out)
	got := hex.EncodeToString(sum[:]) + "\n"
	path := filepath.Join("testdata", "golden_3x7.sha256")
	if *update {
		require.NoError(t, os.MkdirAll("testdata", 0o750))
		require.NoError(t, os.WriteFile(path, []byte(got), 0o600))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, string(want), got, "output changed; if intended, run go test -run TestGoldenOutput -update")
}

func TestDeterminism(t *testing.T) {
	tests := []struct {
		name      string
		a, b      uint64
		wantEqual bool
	}{
		{"same seed, same bytes", 7, 7, true},
		{"different seeds differ", 7, 8, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := goldenConfig(t, tc.a)
			cfg.NumStores, cfg.Days = 2, 2
			a := output(t, cfg)
			cfg.Seed = tc.b
			b := output(t, cfg)
			require.Equal(t, tc.wantEqual, bytes.Equal(a, b))
		})
	}
}

// allowedFields lists, per type, the fields the strict API accepts and the
// ones it requires.
func allowedFields() map[string][2][]string {
	common := []string{"type", "id", "time", "store", "channel", "category"}
	req := []string{"type", "id", "time", "store"}
	f := func(opt []string, required ...string) [2][]string {
		return [2][]string{append(append(slices.Clone(common), opt...), required...), append(slices.Clone(req), required...)}
	}
	return map[string][2][]string{
		"signup":       f(nil, "user"),
		"session":      f([]string{"user"}, "visitor", "page_views", "duration_s", "added_to_cart"),
		"order":        f([]string{"campaign"}, "user", "amount", "items", "customer"),
		"payment":      f([]string{"user", "campaign"}, "order", "amount"),
		"refund":       f(nil, "order", "amount", "reason"),
		"consultation": f(nil, "user", "first_response_s", "converted"),
		"ticket":       f([]string{"resolution_s", "order", "reason"}, "status"),
		"impression":   f(nil, "campaign", "creative", "count"),
		"click":        f(nil, "campaign", "creative", "count"),
		"conversion":   f([]string{"amount"}, "campaign", "creative", "count"),
		"spend":        f([]string{"creative"}, "campaign", "amount"),
		"price":        f([]string{"sku"}, "category", "competitor", "own_price", "competitor_price"),
	}
}

func TestEventFormat(t *testing.T) {
	cfg := goldenConfig(t, 3)
	cfg.NumStores, cfg.Days = 2, 3
	out := output(t, cfg)
	allowed := allowedFields()
	seenTypes := map[string]bool{}
	var last time.Time
	lines := bytes.Split(bytes.TrimSpace(out[:bytes.LastIndexByte(out, '\n')]), []byte("\n"))
	require.Greater(t, len(lines), 1000)
	for _, line := range lines {
		var m map[string]any
		require.NoError(t, json.Unmarshal(line, &m), string(line))
		typ, _ := m["type"].(string)
		spec, ok := allowed[typ]
		require.True(t, ok, "unknown type in %s", line)
		seenTypes[typ] = true
		for k := range m {
			require.Contains(t, spec[0], k, "field %q not allowed for %s: %s", k, typ, line)
		}
		for _, k := range spec[1] {
			require.Contains(t, m, k, "field %q missing: %s", k, line)
		}
		ts, err := time.Parse(time.RFC3339, m["time"].(string))
		require.NoError(t, err)
		require.True(t, strings.HasSuffix(m["time"].(string), "+08:00"), "time in the stores' zone")
		require.False(t, ts.Before(last), "events in time order: %s", line)
		last = ts
		if typ == "ticket" {
			require.Equal(t, m["status"] == TicketResolved, m["resolution_s"] != nil, string(line))
		}
		if c, ok := m["creative"]; ok {
			require.Contains(t, []any{CreativeBanner, CreativePush, CreativeSMS}, c)
		}
	}
	require.Len(t, seenTypes, len(allowed), "every event type is generated: %v", seenTypes)
}

// A live feed started after a backfill must not repeat the backfill's ids:
// the ingest service would drop its events as duplicates.
func TestRunsStartingAtDifferentHoursShareNoIDs(t *testing.T) {
	start := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	ids := func(s time.Time) map[string]bool {
		g, err := New(Config{Seed: 3, NumStores: 2, Start: s, Days: 1})
		require.NoError(t, err)
		out := map[string]bool{}
		for {
			evs, ok := g.Next()
			if !ok {
				return out
			}
			for _, e := range evs {
				out[e.Type.String()+"/"+e.ID] = true
			}
		}
	}
	backfill, live := ids(start), ids(start.Add(24*time.Hour))
	require.NotEmpty(t, backfill)
	require.NotEmpty(t, live)
	for id := range live {
		require.False(t, backfill[id], "id %s repeats across runs", id)
	}
}
