package rollup

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	influxdb2 "github.com/influxdata/influxdb-client-go/v2"
	"github.com/stretchr/testify/require"

	"github.com/storepulse/storepulse/ingest/event"
	"github.com/storepulse/storepulse/internal/influxql"
	"github.com/storepulse/storepulse/internal/influxtest"
)

// TestInfluxQLSketchesAgreeWithFlux: the sketch reload reads the same
// sketches with InfluxQL as with Flux, on a real InfluxDB 1.8 fed by the
// rollup (two ingesters, keys with and without channel and category, hourly
// and daily windows, a range whose last start is a stored point).
func TestInfluxQLSketchesAgreeWithFlux(t *testing.T) {
	srv := influxtest.Start(t)
	client := influxdb2.NewClient(srv.URL, srv.Token)
	defer client.Close()
	ctx := context.Background()
	sh, err := time.LoadLocation("Asia/Shanghai")
	require.NoError(t, err)
	from := time.Date(2026, 11, 20, 0, 0, 0, 0, sh).UnixNano()
	events := genEvents(rand.New(rand.NewPCG(3, 9)), 6000, from, 400)
	var all []string
	for i, ing := range []string{"i1", "i2"} {
		r, err := New(Options{Ingester: ing, Location: sh, CacheSize: 100000, Sketches: NewInfluxSketches(client.QueryAPI(srv.Org), srv.Bucket, ing)})
		require.NoError(t, err)
		seg := r.NewSegment(uint64(10 + i))
		seg.Add(&event.Batch{Events: events[i*3000 : (i+1)*3000]})
		lines, err := r.Lines(ctx, seg)
		require.NoError(t, err)
		all = append(all, lines...)
	}
	write(t, srv, all)

	// Every stored key of i1, from the lines themselves, plus keys that
	// are not stored.
	var keys []SketchKey
	seen := map[SketchKey]bool{}
	for _, l := range all {
		// sp_distinct[_store],tag=value,... fields time (no escapes in these tags)
		total := strings.HasPrefix(l, "sp_distinct_store,")
		if !total && !strings.HasPrefix(l, "sp_distinct,") || !strings.Contains(l, ",ingester=i1,") {
			continue
		}
		tags := map[string]string{}
		for _, kv := range strings.Split(l[:strings.IndexByte(l, ' ')], ",")[1:] {
			k, v, _ := strings.Cut(kv, "=")
			tags[k] = v
		}
		start, err := strconv.ParseInt(l[strings.LastIndexByte(l, ' ')+1:], 10, 64)
		require.NoError(t, err)
		k := SketchKey{Kind: tags["kind"], Window: tags["window"], Store: tags["store"], Channel: tags["channel"], Category: tags["category"], Start: start, Total: total}
		if !seen[k] {
			seen[k] = true
			keys = append(keys, k)
		}
	}
	require.Greater(t, len(keys), 100)
	require.True(t, slices.ContainsFunc(keys, func(k SketchKey) bool { return k.Total }), "store-level keys too")
	keys = append(keys, SketchKey{Kind: "buyer", Window: "1h", Store: "s0", Start: from + int64(7*time.Hour)},
		SketchKey{Kind: "active", Window: "1d", Store: "nowhere", Start: from})
	db, rp, err := influxql.SplitBucket(srv.Bucket)
	require.NoError(t, err)
	ql := NewInfluxQLSketches(&influxql.Client{URL: srv.URL, Token: srv.Token, Database: db, RetentionPolicy: rp}, "i1")
	flux := NewInfluxSketches(client.QueryAPI(srv.Org), srv.Bucket, "i1")

	for name, ks := range map[string][]SketchKey{"all": keys, "one store's hours": hoursOf(keys, "s1"),
		"keys without a store": withoutStore(keys), "store-level keys only": totalsOf(keys)} {
		t.Run(name, func(t *testing.T) {
			require.NotEmpty(t, ks)
			want, err := flux.Load(ctx, ks)
			require.NoError(t, err)
			got, err := ql.Load(ctx, ks)
			require.NoError(t, err)
			require.NotEmpty(t, got)
			require.Equal(t, len(want), len(got))
			if name == "store-level keys only" {
				require.Len(t, got, len(ks), "every stored store-level key found as such")
			}
			for k, sk := range want {
				g, ok := got[k]
				require.True(t, ok, "%+v", k)
				wb, err := sk.MarshalBinary()
				require.NoError(t, err)
				gb, err := g.MarshalBinary()
				require.NoError(t, err)
				require.Equal(t, wb, gb, "%+v", k)
			}
		})
	}

	t.Run("the latest stored start, detailed and store-level", func(t *testing.T) {
		var want, wantTotal int64
		for _, k := range keys[:len(keys)-2] { // the stored ones
			want = max(want, k.Start)
			if k.Total {
				wantTotal = max(wantTotal, k.Start)
			}
		}
		require.Equal(t, want, wantTotal, "the latest start has a store-level sketch too")
		got, found, err := ql.(LatestSketches).Latest(ctx, time.Unix(0, from))
		require.NoError(t, err)
		require.True(t, found)
		require.Equal(t, want, got)
		// A bound between two starts still finds the latest; one after it finds none.
		got, found, err = ql.(LatestSketches).Latest(ctx, time.Unix(0, want))
		require.NoError(t, err)
		require.True(t, found, "a sketch exactly at since counts")
		require.Equal(t, want, got)
		_, found, err = ql.(LatestSketches).Latest(ctx, time.Unix(0, want+1))
		require.NoError(t, err)
		require.False(t, found)
		// Another ingester's sketches are not this one's.
		_, found, err = NewInfluxQLSketches(&influxql.Client{URL: srv.URL, Database: db}, "i9").(LatestSketches).Latest(ctx, time.Unix(0, 0))
		require.NoError(t, err)
		require.False(t, found)
	})

	t.Run("an undecodable stored sketch is reported with the rest", func(t *testing.T) {
		at := from + int64(5*time.Hour)
		write(t, srv, []string{
			fmt.Sprintf(`sp_distinct,ingester=i4,kind=active,store=x,window=1h estimate=1,sketch="not base64!" %d`, at),
			fmt.Sprintf(`sp_distinct,ingester=i4,kind=active,store=y,window=1h estimate=1,sketch="%s" %d`, mustEncode(t, "u1"), at),
		})
		ks := []SketchKey{{Kind: "active", Window: "1h", Store: "x", Start: at}, {Kind: "active", Window: "1h", Store: "y", Start: at}}
		got, err := NewInfluxQLSketches(&influxql.Client{URL: srv.URL, Database: db}, "i4").Load(ctx, ks)
		var corrupt *CorruptSketchesError
		require.ErrorAs(t, err, &corrupt)
		require.Equal(t, ks[:1], corrupt.Keys)
		require.Equal(t, uint64(1), got[ks[1]].Estimate())
		_, err = NewInfluxQLSketches(&influxql.Client{URL: srv.URL, Database: "nodb"}, "i4").Load(ctx, ks)
		require.ErrorContains(t, err, "database not found")
	})
}

func totalsOf(keys []SketchKey) []SketchKey {
	var out []SketchKey
	for _, k := range keys {
		if k.Total {
			out = append(out, k)
		}
	}
	return out
}

func hoursOf(keys []SketchKey, store string) []SketchKey {
	var out []SketchKey
	for _, k := range keys {
		if k.Store == store && k.Window == "1h" {
			out = append(out, k)
		}
	}
	return out
}

func withoutStore(keys []SketchKey) []SketchKey {
	out := []SketchKey{{Kind: "active", Window: "1h", Start: keys[0].Start}}
	return append(out, keys[:20]...)
}
